import ConformanceSupport
import Foundation
import TensorPoolSHM
import Testing

#if canImport(Glibc)
    import Glibc

    // Wire spec §15.21a (filesystem layout and path containment) and §15.22 (SHM backend validation), exercised on
    // real files under /dev/shm: the producer side through `ShmPathLayout` and `StreamRegions.create`, the consumer
    // side through `RegionURI`, `PathPolicy`, `StreamRegions.map` and `ConsumerMapping`.

    /// A fresh directory per case (canonical, under /dev/shm when writable), holding `base` (the layout root and the
    /// consumer's only allowed base) and `outside` (a sibling that no policy allows). Removed by ``withSandbox(_:)``.
    private struct Sandbox {
        /// The canonical root of the sandbox.
        let root: String
        /// `<root>/base`: `shm_base_dir` and the consumer's allowed base.
        var base: String { root + "/base" }
        /// `<root>/outside`: a directory outside every allowed base.
        var outside: String { root + "/outside" }

        /// A consumer policy whose only allowed base is ``base``.
        func policy() throws -> PathPolicy { try PathPolicy(allowedBaseDirectories: [base]) }

        /// The canonical layout under `baseDirectory` (``base`` by default).
        func layout(
            baseDirectory: String? = nil, namespace: String = "conformance", user: String? = "tester"
        ) throws -> ShmPathLayout {
            try ShmPathLayout(baseDirectory: baseDirectory ?? base, namespace: namespace, user: user)
        }

        /// Creates the regions of one stream epoch under `layout` (header ring of 8 slots).
        func create(
            _ layout: ShmPathLayout, streamId: UInt32 = 1001, epoch: UInt64 = 7,
            pools: [PoolSpec] = [PoolSpec(poolId: 1, strideBytes: 256)], options: RegionCreateOptions = .init()
        ) throws -> StreamRegions {
            try StreamRegions.create(
                layout: layout, streamId: streamId, epoch: epoch, headerNslots: 8, pools: pools, nowNs: conformanceNow,
                options: options)
        }

        /// Creates a directory (not its parents).
        @discardableResult
        func directory(_ path: String) throws -> String {
            try #require(mkdir(path, 0o700) == 0, "mkdir \(path) failed: errno \(errno)")
            return path
        }

        /// Creates a regular file of `bytes` bytes.
        @discardableResult
        func file(_ path: String, bytes: Int = 4096) throws -> String {
            let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            try #require(descriptor >= 0, "create \(path) failed: errno \(errno)")
            defer { close(descriptor) }
            try #require(ftruncate(descriptor, off_t(bytes)) == 0, "ftruncate \(path) failed: errno \(errno)")
            return path
        }

        /// Creates a symlink at `path` pointing to `target`.
        @discardableResult
        func symlink(_ path: String, to target: String) throws -> String {
            try #require(Glibc.symlink(target, path) == 0, "symlink \(path) failed: errno \(errno)")
            return path
        }

        /// Atomically renames `from` over `to`.
        func rename(_ from: String, over to: String) throws {
            try #require(Glibc.rename(from, to) == 0, "rename \(from) failed: errno \(errno)")
        }
    }

    /// The `nowNs` regions are created with and consumers map at (their activity timestamps are then fresh).
    private let conformanceNow: UInt64 = 1_000_000_000_000

    /// Runs `body` in a fresh sandbox and removes the sandbox afterwards, whatever happens.
    private func withSandbox(_ body: (Sandbox) throws -> Void) throws {
        let parent = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : NSTemporaryDirectory()
        var template = Array((parent + "/tp-conformance-regions-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        try #require(made != nil, "mkdtemp failed: errno \(errno)")
        let created = String(cString: made!)
        defer { try? FileManager.default.removeItem(atPath: created) }
        let root = try #require(canonical(created))
        let box = Sandbox(root: root)
        try box.directory(box.base)
        try box.directory(box.outside)
        try body(box)
    }

    /// `realpath(path)`, or `nil` when it cannot be resolved.
    private func canonical(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `lstat(path)`, or `nil` (with `errno` set) when it fails.
    private func lstatus(_ path: String) -> stat? {
        var status = stat()
        return lstat(path, &status) == 0 ? status : nil
    }

    /// Whether nothing exists at `path` (`lstat` fails with `ENOENT`).
    private func isAbsent(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) != 0 && errno == ENOENT
    }

    /// The sorted entries of a directory.
    private func entries(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    /// The lines of /proc/self/maps that map a file under `directory`: evidence of what this process has mapped.
    private func mappings(under directory: String) throws -> [String] {
        // procfs reports a size of 0, so read until end of file rather than trusting stat.
        let descriptor = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        try #require(descriptor >= 0, "open /proc/self/maps failed: errno \(errno)")
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            try #require(count >= 0, "read /proc/self/maps failed: errno \(errno)")
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
        try #require(lines.contains { $0.contains("/") }, "/proc/self/maps lists no file mapping")
        return lines.filter { $0.contains(directory + "/") }
    }

    /// Binds an AF_UNIX stream socket to `path`; close the returned descriptor afterwards.
    private func bindUnixSocket(at path: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(descriptor >= 0, "socket failed: errno \(errno)")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        try #require(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        let bindErrno = errno
        if result != 0 { close(descriptor) }
        try #require(result == 0, "bind \(path) failed: errno \(bindErrno)")
        return descriptor
    }

    /// The canonical path of the first block device under /dev, if any.
    private func someBlockDevice() -> String? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/dev") else { return nil }
        for name in names.sorted() {
            if let status = lstatus("/dev/" + name), status.st_mode & S_IFMT == S_IFBLK { return "/dev/" + name }
        }
        return nil
    }

    /// Wire spec §15.21a (filesystem layout, path announcement, consumer path containment, permissions, cleanup) and
    /// §15.22 (region URI scheme, hugepages, stride, rejection of a region).
    @Suite("Wire §15.21a–§15.22: region paths, containment and SHM backend validation")
    struct RegionPathConformance {
        // MARK: §15.21a.2 Base directories

        @Test(
            "shm_base_dir is an absolute, configurable root: regions are created under it and a policy accepts it",
            .verifies("WIRE-15.21-018"))
        func baseDirectoryIsConfigurable() throws {
            try withSandbox { box in
                #expect(try ShmPathLayout().baseDirectory == "/dev/shm")
                let custom = try box.directory(box.base + "/custom")
                let layout = try box.layout(baseDirectory: custom + "/")
                #expect(layout.baseDirectory == custom)
                let regions = try box.create(layout)
                #expect(regions.header.path.hasPrefix(custom + "/tensorpool-tester/"))
                #expect(regions.pools.allSatisfy { $0.region.path.hasPrefix(custom + "/tensorpool-tester/") })
                // The same root, configured on the consumer side, accepts what was created under it.
                let consumer = try StreamRegions.map(
                    regions.announce, policy: PathPolicy(allowedBaseDirectories: [custom]))
                #expect(consumer.isMapped)
                consumer.unmap()
                // A relative root is refused on both sides.
                #expect(throws: RegionError.self) { try ShmPathLayout(baseDirectory: "dev/shm") }
                #expect(throws: PathContainmentError.invalidAllowedBaseDirectory(path: "dev/shm", reason: .notAbsolute))
                {
                    try PathPolicy(allowedBaseDirectories: ["dev/shm"])
                }
                regions.unmap()
            }
        }

        @Test(
            "several allowed base directories: regions under any of them map, regions under another are refused",
            .verifies("WIRE-15.21-019"))
        func severalAllowedBaseDirectories() throws {
            try withSandbox { box in
                let first = try box.directory(box.root + "/producer-a")
                let second = try box.directory(box.root + "/producer-b")
                let third = try box.directory(box.root + "/producer-c")
                let a = try box.create(box.layout(baseDirectory: first), streamId: 1)
                let b = try box.create(box.layout(baseDirectory: second), streamId: 2)
                let c = try box.create(box.layout(baseDirectory: third), streamId: 3)
                defer { [a, b, c].forEach { $0.unmap() } }
                let policy = try PathPolicy(allowedBaseDirectories: [first, second])
                #expect(policy.allowedBaseDirectories == [first, second])
                for regions in [a, b] {
                    let mapped = try StreamRegions.map(regions.announce, policy: policy)
                    #expect(mapped.isMapped && mapped.streamId == regions.streamId)
                    mapped.unmap()
                }
                #expect(throws: RegionError.containment(.outsideAllowedBases(canonicalPath: c.header.path))) {
                    try StreamRegions.map(c.announce, policy: policy)
                }
            }
        }

        // MARK: §15.21a.3 Canonical directory layout

        @Test(
            "created regions sit at <base>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/header.ring and <pool_id>.pool",
            .verifies("WIRE-15.21-020"))
        func canonicalLayoutOfCreatedRegions() throws {
            try withSandbox { box in
                let layout = try box.layout(namespace: "lab1", user: "alice")
                let regions = try box.create(
                    layout, streamId: 1001, epoch: 7,
                    pools: [PoolSpec(poolId: 1, strideBytes: 256), PoolSpec(poolId: 2, strideBytes: 4096)])
                defer { regions.unmap() }
                let epochDirectory = box.base + "/tensorpool-alice/lab1/1001/7"
                #expect(regions.header.path == epochDirectory + "/header.ring")
                #expect(regions.pool(id: 1)?.region.path == epochDirectory + "/1.pool")
                #expect(regions.pool(id: 2)?.region.path == epochDirectory + "/2.pool")
                #expect(layout.epochDirectory(streamId: 1001, epoch: 7) == epochDirectory)
                // Exactly that tree exists on disk, made of directories down to the epoch and regular files in it.
                #expect(try entries(box.base) == ["tensorpool-alice"])
                #expect(try entries(box.base + "/tensorpool-alice") == ["lab1"])
                #expect(try entries(box.base + "/tensorpool-alice/lab1") == ["1001"])
                #expect(try entries(box.base + "/tensorpool-alice/lab1/1001") == ["7"])
                #expect(try entries(epochDirectory) == ["1.pool", "2.pool", "header.ring"])
                for name in ["1.pool", "2.pool", "header.ring"] {
                    let status = try #require(lstatus(epochDirectory + "/" + name))
                    #expect(status.st_mode & S_IFMT == S_IFREG, "\(name) is not a regular file")
                }
            }
        }

        @Test(
            "${USER} is the effective user's name by default, or the identifier the deployment chose",
            .verifies("WIRE-15.21-021"))
        func userComponentIsEffectiveUser() throws {
            try withSandbox { box in
                let entry = try #require(getpwuid(geteuid()), "no password entry for the effective uid")
                let name = String(cString: try #require(entry.pointee.pw_name))
                #expect(ShmPathLayout.effectiveUserName() == name)
                let layout = try box.layout(user: nil)
                #expect(layout.user == ShmPathLayout.sanitizeUser(name))
                let regions = try box.create(layout)
                defer { regions.unmap() }
                #expect(regions.header.path.hasPrefix(box.base + "/tensorpool-\(ShmPathLayout.sanitizeUser(name))/"))
                // An identifier chosen by the deployment replaces it.
                let chosen = try box.layout(user: "svc-camera")
                #expect(chosen.streamDirectory(streamId: 5) == box.base + "/tensorpool-svc-camera/conformance/5")
            }
        }

        @Test("a hostile ${USER} is sanitised and cannot lead outside shm_base_dir", .verifies("WIRE-15.21-022"))
        func userComponentCannotTraverse() throws {
            try withSandbox { box in
                let hostile = ["../../../escape", "../x", "..", ".", "", "a/b", "/etc", "x\u{0}y", "...", "é/../.."]
                for (index, user) in hostile.enumerated() {
                    let sanitized = ShmPathLayout.sanitizeUser(user)
                    #expect(!sanitized.isEmpty && sanitized != "." && sanitized != "..", "\(user) → \(sanitized)")
                    #expect(!sanitized.contains("/") && !sanitized.contains("\u{0}"), "\(user) → \(sanitized)")
                    let layout = try box.layout(user: user)
                    #expect(layout.user == sanitized)
                    let regions = try box.create(layout, streamId: UInt32(index))
                    defer { regions.unmap() }
                    // The files exist, and their canonical paths are one user directory deep inside the base.
                    for path in [regions.header.path] + regions.pools.map(\.region.path) {
                        let resolved = try #require(canonical(path), "\(path) was not created")
                        #expect(resolved.hasPrefix(box.base + "/tensorpool-" + sanitized + "/conformance/"))
                    }
                }
                // Nothing was created outside the base.
                #expect(try entries(box.root) == ["base", "outside"])
                #expect(try entries(box.outside).isEmpty)
            }
        }

        @Test(
            "the namespace is configured per deployment and is a single path component",
            .verifies("WIRE-15.21-023"))
        func namespaceIsConfigured() throws {
            try withSandbox { box in
                for namespace in ["default", "lab1", "sim"] {
                    let regions = try box.create(box.layout(namespace: namespace))
                    defer { regions.unmap() }
                    #expect(regions.header.path == box.base + "/tensorpool-tester/\(namespace)/1001/7/header.ring")
                }
                #expect(try entries(box.base + "/tensorpool-tester") == ["default", "lab1", "sim"])
                #expect(try ShmPathLayout(baseDirectory: box.base).namespace == "default")
                for invalid in ["", ".", "..", "a/b", "../escape", "x\u{0}"] {
                    #expect(throws: RegionError.self, "namespace \(invalid.debugDescription) accepted") {
                        try ShmPathLayout(baseDirectory: box.base, namespace: invalid, user: "tester")
                    }
                }
            }
        }

        @Test(
            "file names are the same for every stream, epoch, user and namespace: header.ring and <pool_id>.pool",
            .verifies("WIRE-15.21-024"))
        func fileNamesAreStable() throws {
            try withSandbox { box in
                let layouts = [
                    try box.layout(namespace: "one", user: "alice"), try box.layout(namespace: "two", user: "bob"),
                ]
                for (index, layout) in layouts.enumerated() {
                    let epoch = UInt64(100 + index)
                    let regions = try box.create(
                        layout, streamId: UInt32(index), epoch: epoch,
                        pools: [PoolSpec(poolId: 3, strideBytes: 64), PoolSpec(poolId: 65535, strideBytes: 128)])
                    defer { regions.unmap() }
                    let directory = layout.epochDirectory(streamId: UInt32(index), epoch: epoch)
                    #expect(try entries(directory) == ["3.pool", "65535.pool", "header.ring"])
                    #expect(regions.header.path == layout.headerRingPath(streamId: UInt32(index), epoch: epoch))
                    #expect(
                        regions.pool(id: 3)?.region.path
                            == layout.payloadPoolPath(streamId: UInt32(index), epoch: epoch, poolId: 3))
                }
            }
        }

        // MARK: §15.21a.4 Path announcement rule

        @Test(
            "the announce of created regions carries an explicit absolute shm:file path for every region",
            .verifies("WIRE-15.21-025"))
        func announcedPathsAreExplicitAndAbsolute() throws {
            try withSandbox { box in
                let regions = try box.create(
                    box.layout(),
                    pools: [PoolSpec(poolId: 1, strideBytes: 256), PoolSpec(poolId: 2, strideBytes: 1024)])
                defer { regions.unmap() }
                let announce = regions.announce
                #expect(announce.pools.count == 2)
                let announced =
                    [(announce.headerRegionURI, regions.header.path)]
                    + announce.pools.map { ($0.regionURI, regions.pool(id: $0.poolId)?.region.path ?? "") }
                for (text, createdPath) in announced {
                    #expect(text.hasPrefix("shm:file?path=/"), "\(text)")
                    let uri = try RegionURI(parsing: text)
                    #expect(uri.path.hasPrefix("/"))
                    #expect(uri.path == createdPath)
                    #expect(canonical(uri.path) == uri.path, "announced path is not the file's canonical path")
                    #expect(lstatus(uri.path).map { $0.st_mode & S_IFMT == S_IFREG } == true)
                }
            }
        }

        @Test(
            "a consumer maps exactly the announced paths: renamed files map, canonical names that were not announced do not",
            .verifies("WIRE-15.21-017", "WIRE-15.21-026", "WIRE-15.21-027"))
        func consumerUsesOnlyAnnouncedPaths() throws {
            try withSandbox { box in
                // Regions moved to names and directories the canonical layout would never produce.
                let moved = try box.create(box.layout(), streamId: 1)
                defer { moved.unmap() }
                let ringDirectory = try box.directory(box.base + "/elsewhere")
                let poolDirectory = try box.directory(box.base + "/other")
                try box.rename(moved.header.path, over: ringDirectory + "/ring-A.bin")
                try box.rename(try #require(moved.pool(id: 1)).region.path, over: poolDirectory + "/data.x")
                var announce = moved.announce
                announce.headerRegionURI = "shm:file?path=\(ringDirectory)/ring-A.bin"
                announce.pools[0].regionURI = "shm:file?path=\(poolDirectory)/data.x"
                let consumer = ConsumerMapping(policy: try box.policy())
                #expect(consumer.handle(announce, nowNs: conformanceNow) == .mapped(epoch: 7))
                #expect(consumer.reader?.regions.header.path == ringDirectory + "/ring-A.bin")
                #expect(consumer.reader?.regions.pool(id: 1)?.region.path == poolDirectory + "/data.x")
                consumer.unmap()

                // A valid header.ring sits in the canonical place, but the announce names another file in that
                // directory: the consumer neither derives the canonical name nor looks around for a region.
                let canonicalRegions = try box.create(box.layout(), streamId: 2)
                defer { canonicalRegions.unmap() }
                let directory = try box.layout().epochDirectory(streamId: 2, epoch: 7)
                var misnamed = canonicalRegions.announce
                misnamed.headerRegionURI = "shm:file?path=\(directory)/announced.ring"
                let other = ConsumerMapping(policy: try box.policy())
                let expected = RegionError.containment(
                    .cannotResolve(path: directory + "/announced.ring", errno: ENOENT))
                #expect(other.handle(misnamed, nowNs: conformanceNow) == .rejected(expected))
                #expect(other.state == .unmapped && other.reader == nil)
            }
        }

        // MARK: §15.21a.5 Consumer path containment

        @Test(
            "a relative announced path is rejected, by the URI and by the containment check",
            .verifies("WIRE-15.21-028"))
        func relativePathRejected() throws {
            try withSandbox { box in
                let regions = try box.create(box.layout())
                regions.unmap()  // from here on, every mapping under the sandbox would be the consumer's
                // The same file named relatively (it would resolve if the working directory were /).
                let relative = String(regions.header.path.dropFirst())
                var announce = regions.announce
                announce.headerRegionURI = "shm:file?path=" + relative
                #expect(throws: RegionError.uri(.relativePath(relative))) {
                    try StreamRegions.map(announce, policy: box.policy())
                }
                #expect(throws: PathContainmentError.relativePath(relative)) {
                    try box.policy().openForMapping(RegionURI(path: relative), writable: false)
                }
                #expect(throws: PathContainmentError.emptyPath) {
                    try box.policy().openForMapping(RegionURI(path: ""), writable: false)
                }
                #expect(try mappings(under: box.root).isEmpty)
            }
        }

        @Test(
            "the announced path is canonicalised with realpath before containment: symlinked directories resolve",
            .verifies("WIRE-15.21-029"))
        func announcedPathIsCanonicalised() throws {
            try withSandbox { box in
                let regions = try box.create(box.layout())
                defer { regions.unmap() }
                let epochDirectory = try box.layout().epochDirectory(streamId: 1001, epoch: 7)
                // An alias inside the base: accepted, and what is mapped is the canonical file.
                try box.symlink(box.base + "/alias", to: epochDirectory)
                var aliased = regions.announce
                aliased.headerRegionURI = "shm:file?path=\(box.base)/alias/header.ring"
                aliased.pools[0].regionURI = "shm:file?path=\(box.base)/alias/1.pool"
                let checked = try box.policy().check(RegionURI(path: box.base + "/alias/header.ring"))
                #expect(checked.canonicalPath == regions.header.path)
                let mapped = try StreamRegions.map(aliased, policy: box.policy())
                #expect(mapped.header.path == regions.header.path)
                #expect(mapped.pool(id: 1)?.region.path == regions.pool(id: 1)?.region.path)
                mapped.unmap()
                // An alias whose text lies under the base but whose canonical form does not: refused.
                let secret = try box.file(box.outside + "/header.ring", bytes: 4096)
                try box.symlink(box.base + "/escape", to: box.outside)
                var escaping = regions.announce
                escaping.headerRegionURI = "shm:file?path=\(box.base)/escape/header.ring"
                #expect(throws: RegionError.containment(.outsideAllowedBases(canonicalPath: secret))) {
                    try StreamRegions.map(escaping, policy: box.policy())
                }
            }
        }

        @Test(
            "allowed base directories are canonicalised once, when the policy is built",
            .verifies("WIRE-15.21-030"))
        func allowedBasesCanonicalisedOnce() throws {
            try withSandbox { box in
                let real = try box.directory(box.root + "/real-base")
                let elsewhere = try box.directory(box.root + "/elsewhere")
                let link = try box.symlink(box.root + "/link-base", to: real)
                let policy = try PathPolicy(allowedBaseDirectories: [link, box.outside + "/../real-base", real + "/"])
                // Stored canonical: the symlink, the .. and the trailing slash all name the same directory.
                #expect(policy.allowedBaseDirectories == [real])
                let inside = try box.file(real + "/header.ring")
                let other = try box.file(elsewhere + "/header.ring")
                #expect(try policy.check(RegionURI(path: link + "/header.ring")).canonicalPath == inside)
                // Re-pointing the configured symlink later changes nothing: only the canonical form is used.
                #expect(unlink(link) == 0)
                try box.symlink(link, to: elsewhere)
                #expect(throws: PathContainmentError.outsideAllowedBases(canonicalPath: other)) {
                    try policy.check(RegionURI(path: other))
                }
                #expect(throws: PathContainmentError.outsideAllowedBases(canonicalPath: other)) {
                    try policy.check(RegionURI(path: link + "/header.ring"))
                }
                let file = try policy.openForMapping(RegionURI(path: inside), writable: false)
                #expect(file.path == inside)
                file.close()
            }
        }

        @Test(
            "the canonical path must lie strictly inside an allowed base, compared by whole components",
            .verifies("WIRE-15.21-031"))
        func pathMustLieInsideAllowedBase() throws {
            try withSandbox { box in
                // Regions a producer created under another root are refused by a consumer whose base is `base`.
                let foreign = try box.create(box.layout(baseDirectory: box.outside))
                foreign.unmap()
                #expect(throws: RegionError.containment(.outsideAllowedBases(canonicalPath: foreign.header.path))) {
                    try StreamRegions.map(foreign.announce, policy: box.policy())
                }
                #expect(try mappings(under: box.root).isEmpty)
                // A sibling whose name extends the base's name is outside it; so is the base itself.
                let sibling = try box.directory(box.root + "/base2")
                let file = try box.file(sibling + "/header.ring")
                #expect(throws: PathContainmentError.outsideAllowedBases(canonicalPath: file)) {
                    try box.policy().openForMapping(RegionURI(path: file), writable: false)
                }
                #expect(throws: PathContainmentError.outsideAllowedBases(canonicalPath: box.base)) {
                    try box.policy().check(RegionURI(path: box.base))
                }
                // The same file placed inside the base is accepted.
                let inside = try box.file(box.base + "/header.ring")
                #expect(try box.policy().check(RegionURI(path: inside)).canonicalPath == inside)
            }
        }

        @Test(
            "only a regular file is accepted: a directory named like a region is refused", .verifies("WIRE-15.21-032"))
        func onlyRegularFilesAccepted() throws {
            try withSandbox { box in
                let regions = try box.create(box.layout())
                defer { regions.unmap() }
                let file = try #require(regions.pool(id: 1)).region.path
                let accepted = try box.policy().openForMapping(RegionURI(path: file), writable: false)
                #expect(accepted.path == file)
                accepted.close()
                let directory = try box.directory(box.base + "/9.pool")
                var announce = regions.announce
                announce.pools[0].regionURI = "shm:file?path=" + directory
                #expect(throws: RegionError.containment(.notRegularFile(path: directory, kind: .directory))) {
                    try StreamRegions.map(announce, policy: box.policy())
                }
            }
        }

        @Test("block and character devices, FIFOs and sockets are rejected", .verifies("WIRE-15.21-033"))
        func specialFilesRejected() throws {
            try withSandbox { box in
                let policy = try box.policy()
                func expectRejected(_ path: String, as kind: PathContainmentError.FileKind, by policy: PathPolicy) {
                    for writable in [false, true] {
                        #expect(throws: PathContainmentError.notRegularFile(path: path, kind: kind)) {
                            try policy.openForMapping(RegionURI(path: path), writable: writable)
                        }
                    }
                }
                let fifo = box.base + "/fifo.pool"
                try #require(mkfifo(fifo, 0o600) == 0, "mkfifo failed: errno \(errno)")
                expectRejected(fifo, as: .fifo, by: policy)

                let socketPath = box.base + "/socket.pool"
                let socketDescriptor = try bindUnixSocket(at: socketPath)
                defer { close(socketDescriptor) }
                expectRejected(socketPath, as: .socket, by: policy)

                // Device nodes inside the base when this process may create them (1:3 is /dev/null, 7:0 loop0),
                // otherwise the system's own under a policy whose base is /dev.
                let character = box.base + "/char.pool"
                if mknod(character, S_IFCHR | 0o600, dev_t(0x103)) == 0 {
                    expectRejected(character, as: .characterDevice, by: policy)
                } else {
                    expectRejected(
                        "/dev/null", as: .characterDevice, by: try PathPolicy(allowedBaseDirectories: ["/dev"]))
                }
                let block = box.base + "/block.pool"
                if mknod(block, S_IFBLK | 0o600, dev_t(0x700)) == 0 {
                    expectRejected(block, as: .blockDevice, by: policy)
                } else if let device = someBlockDevice() {
                    expectRejected(device, as: .blockDevice, by: try PathPolicy(allowedBaseDirectories: ["/dev"]))
                } else {
                    Issue.record("no block device could be created or found")
                }
            }
        }

        @Test(
            "the file is opened without following symlinks: a final symlink, or one swapped in after the check, fails",
            .verifies("WIRE-15.21-034"))
        func symlinkSafeOpen() throws {
            try withSandbox { box in
                let secret = try box.file(box.outside + "/secret", bytes: 4096)
                let inside = try box.file(box.base + "/real.pool", bytes: 4096)
                // A final-component symlink is refused even when its target lies inside the base.
                let link = try box.symlink(box.base + "/link.pool", to: inside)
                #expect(throws: PathContainmentError.finalComponentIsSymlink(link)) {
                    try box.policy().openForMapping(RegionURI(path: link), writable: false)
                }
                // A file that passed the check and is then replaced by a symlink is not followed by the open.
                let path = try box.file(box.base + "/1.pool", bytes: 4096)
                let checked = try box.policy().check(RegionURI(path: path))
                try box.symlink(box.base + "/swap", to: secret)
                try box.rename(box.base + "/swap", over: path)
                for writable in [false, true] {
                    #expect(throws: PathContainmentError.finalComponentIsSymlink(path)) {
                        try box.policy().open(checked, writable: writable)
                    }
                }
            }
        }

        @Test(
            "the opened descriptor is re-validated with fstat: a different file or a FIFO swapped in is refused",
            .verifies("WIRE-15.21-035"))
        func descriptorRevalidated() throws {
            try withSandbox { box in
                let path = try box.file(box.base + "/1.pool", bytes: 4096)
                let checked = try box.policy().check(RegionURI(path: path))
                let opened = try box.policy().open(checked, writable: false)
                var status = stat()
                #expect(fstat(opened.descriptor, &status) == 0)
                #expect(opened.inode == UInt64(status.st_ino) && opened.device == UInt64(status.st_dev))
                opened.close()
                // A regular file of the same size renamed over it: same path, another identity.
                try box.rename(try box.file(box.base + "/replacement", bytes: 4096), over: path)
                #expect(throws: PathContainmentError.changedAfterCheck(path)) {
                    try box.policy().open(checked, writable: false)
                }
                // A FIFO renamed over it: the descriptor is not a regular file (and the open does not block).
                let rechecked = try box.policy().check(RegionURI(path: path))
                try #require(mkfifo(box.base + "/pipe", 0o600) == 0, "mkfifo failed: errno \(errno)")
                try box.rename(box.base + "/pipe", over: path)
                #expect(throws: PathContainmentError.notRegularFile(path: path, kind: .fifo)) {
                    try box.policy().open(rechecked, writable: false)
                }
            }
        }

        @Test(
            "a region failing any containment check is rejected and nothing of the stream stays mapped",
            .verifies("WIRE-15.21-037", "WIRE-15.21-038"))
        func containmentFailureMapsNothing() throws {
            try withSandbox { box in
                let regions = try box.create(box.layout())
                let pool = try #require(regions.pool(id: 1)).region.path
                regions.unmap()  // from here on, every mapping under the sandbox would be the consumer's
                let outsideCopy = box.outside + "/1.pool"
                #expect(link(pool, outsideCopy) == 0)
                let poolLink = try box.symlink(box.base + "/1.pool.link", to: pool)
                let fifo = box.base + "/fifo.pool"
                try #require(mkfifo(fifo, 0o600) == 0, "mkfifo failed: errno \(errno)")
                // The header passes every check each time; only the pool fails, after the header was mapped.
                let cases: [(String, RegionError)] = [
                    (outsideCopy, .containment(.outsideAllowedBases(canonicalPath: outsideCopy))),
                    (poolLink, .containment(.finalComponentIsSymlink(poolLink))),
                    (fifo, .containment(.notRegularFile(path: fifo, kind: .fifo))),
                    (
                        box.base + "/../outside/1.pool",
                        .containment(
                            .traversalComponent(
                                path: box.base + "/../outside/1.pool", component: ".."))
                    ),
                    (
                        box.base + "/missing.pool",
                        .containment(.cannotResolve(path: box.base + "/missing.pool", errno: ENOENT))
                    ),
                ]
                for (path, expected) in cases {
                    var announce = regions.announce
                    announce.pools[0].regionURI = "shm:file?path=" + path
                    #expect(throws: expected) { try StreamRegions.map(announce, policy: box.policy()) }
                    let consumer = ConsumerMapping(policy: try box.policy())
                    #expect(consumer.handle(announce, nowNs: conformanceNow) == .rejected(expected))
                    #expect(consumer.state == .unmapped)
                    #expect(consumer.reader == nil)
                    #expect(try mappings(under: box.root).isEmpty, "a rejected region left a mapping: \(path)")
                }
                // The unaltered announce maps (the rejections were due to the pool path alone).
                let consumer = ConsumerMapping(policy: try box.policy())
                #expect(consumer.handle(regions.announce, nowNs: conformanceNow) == .mapped(epoch: 7))
                let live = try mappings(under: box.root)
                #expect(live.count == 2, "\(live)")
                consumer.unmap()
                #expect(try mappings(under: box.root).isEmpty)
            }
        }

        // MARK: §15.21a.6 Permissions

        @Test(
            "region files are created 0660 and directories setgid 02770 by default, or with the configured modes",
            .verifies("WIRE-15.21-039"))
        func permissionsPreventAccessByOthers() throws {
            try withSandbox { box in
                func mode(_ path: String) throws -> UInt32 {
                    UInt32(try #require(lstatus(path), "lstat \(path) failed").st_mode) & 0o7777
                }
                let shared = try box.create(box.layout(namespace: "shared"))
                defer { shared.unmap() }
                for path in [shared.header.path] + shared.pools.map(\.region.path) {
                    #expect(try mode(path) == 0o660, "\(path)")
                }
                let sharedDirectories = [
                    box.base + "/tensorpool-tester", box.base + "/tensorpool-tester/shared",
                    box.base + "/tensorpool-tester/shared/1001", box.base + "/tensorpool-tester/shared/1001/7",
                ]
                for path in sharedDirectories {
                    #expect(try mode(path) == 0o2770, "\(path)")
                    #expect(try mode(path) & 0o007 == 0, "\(path) is open to other users")
                }

                var privateOptions = RegionCreateOptions()
                privateOptions.fileMode = 0o600
                privateOptions.directoryMode = 0o700
                let privateRegions = try box.create(box.layout(user: "private"), options: privateOptions)
                defer { privateRegions.unmap() }
                for path in [privateRegions.header.path] + privateRegions.pools.map(\.region.path) {
                    #expect(try mode(path) == 0o600, "\(path)")
                }
                for path in [
                    box.base + "/tensorpool-private", box.base + "/tensorpool-private/conformance",
                    box.base + "/tensorpool-private/conformance/1001",
                    box.base + "/tensorpool-private/conformance/1001/7",
                ] {
                    #expect(try mode(path) == 0o700, "\(path)")
                }
            }
        }

        // MARK: §15.21a.7 Cleanup

        @Test(
            "at clean shutdown the creator removes its region files and the empty epoch directory, repeatably",
            .verifies("WIRE-15.21-040"))
        func cleanShutdownRemovesEpochDirectory() throws {
            try withSandbox { box in
                let layout = try box.layout()
                let old = try box.create(layout, epoch: 7)
                let current = try box.create(layout, epoch: 8)
                defer { current.unmap() }
                let oldDirectory = layout.epochDirectory(streamId: 1001, epoch: 7)
                let files = [old.header.path] + old.pools.map(\.region.path)
                old.unmap()
                try old.unlinkFiles()
                #expect(files.allSatisfy(isAbsent))
                #expect(isAbsent(oldDirectory))
                try old.unlinkFiles()  // repeating it is harmless
                #expect(isAbsent(oldDirectory))
                // Only that epoch went: the stream directory and the other epoch stay.
                #expect(try entries(layout.streamDirectory(streamId: 1001)) == ["8"])
                #expect(lstatus(current.header.path) != nil)
            }
        }

        // MARK: §15.22 Region URI scheme

        @Test(
            "every scheme other than shm:file is rejected, at parse and before mapping",
            .verifies("WIRE-15.22-005", "WIRE-15.22-007"))
        func onlyShmFileScheme() throws {
            let others = [
                "file:///dev/shm/x", "shm:anon?path=/dev/shm/x", "SHM:FILE?path=/dev/shm/x", "Shm:file?path=/dev/shm/x",
                "shm:file:path=/dev/shm/x", "shm:/dev/shm/x", "shm:file", "shm:filex?path=/dev/shm/x",
                " shm:file?path=/dev/shm/x", "aeron:ipc", "hugetlbfs:file?path=/dev/hugepages/x", "/dev/shm/x",
                "shm:memfd?name=x", "aeron:udp?endpoint=localhost:40123",
            ]
            for text in others {
                #expect(throws: RegionURIError.unsupportedScheme(text)) { try RegionURI(parsing: text) }
            }
            #expect(try RegionURI(parsing: "shm:file?path=/dev/shm/x").path == "/dev/shm/x")
            try withSandbox { box in
                let regions = try box.create(box.layout())
                regions.unmap()
                for scheme in ["file://", "shm:anon?path="] {
                    var announce = regions.announce
                    announce.pools[0].regionURI = scheme + (try #require(regions.pool(id: 1))).region.path
                    let consumer = ConsumerMapping(policy: try box.policy())
                    #expect(
                        consumer.handle(announce, nowNs: conformanceNow)
                            == .rejected(.uri(.unsupportedScheme(announce.pools[0].regionURI))))
                    #expect(try mappings(under: box.root).isEmpty)
                }
            }
        }

        @Test(
            "parameters other than path and require_hugepages are rejected, wherever they appear",
            .verifies("WIRE-15.22-006", "WIRE-15.22-014"))
        func unknownParametersRejected() throws {
            let unknown: [(String, String)] = [
                ("shm:file?path=/dev/shm/x|size=4096", "size"),
                ("shm:file?path=/dev/shm/x|require_hugepage=true", "require_hugepage"),
                ("shm:file?path=/dev/shm/x|REQUIRE_HUGEPAGES=true", "REQUIRE_HUGEPAGES"),
                ("shm:file?Path=/dev/shm/x", "Path"),
                ("shm:file?mode=ro|path=/dev/shm/x", "mode"),
                ("shm:file?path=/dev/shm/x|require_hugepages=false|fallback=/tmp/x", "fallback"),
                ("shm:file?path=/dev/shm/x|prefault=", "prefault"),
            ]
            for (text, key) in unknown {
                #expect(throws: RegionURIError.unknownParameter(key)) { try RegionURI(parsing: text) }
            }
            try withSandbox { box in
                let regions = try box.create(box.layout())
                regions.unmap()
                var announce = regions.announce
                announce.headerRegionURI += "|stride_bytes=256"
                #expect(throws: RegionError.uri(.unknownParameter("stride_bytes"))) {
                    try StreamRegions.map(announce, policy: box.policy())
                }
                #expect(try mappings(under: box.root).isEmpty)
            }
        }

        @Test(
            "parameters are separated by |; & and ; belong to the path; explicit and omitted require_hugepages=false map",
            .verifies("WIRE-15.22-013"))
        func pipeSeparatesParameters() throws {
            #expect(
                try RegionURI(parsing: "shm:file?path=/dev/shm/a|require_hugepages=true")
                    == RegionURI(path: "/dev/shm/a", requireHugepages: true))
            #expect(
                try RegionURI(parsing: "shm:file?path=/dev/shm/a&require_hugepages=true")
                    == RegionURI(path: "/dev/shm/a&require_hugepages=true", requireHugepages: false))
            #expect(
                try RegionURI(parsing: "shm:file?path=/dev/shm/a;require_hugepages=true")
                    == RegionURI(path: "/dev/shm/a;require_hugepages=true", requireHugepages: false))
            #expect(throws: RegionURIError.emptyParameter("shm:file?path=/dev/shm/a||require_hugepages=true")) {
                try RegionURI(parsing: "shm:file?path=/dev/shm/a||require_hugepages=true")
            }
            try withSandbox { box in
                let regions = try box.create(box.layout())
                defer { regions.unmap() }
                let header = regions.header.path
                let pool = try #require(regions.pool(id: 1)).region.path
                // tensor_pool_c writes the explicit false, AeronTensorPool.jl omits it: both map.
                var explicit = regions.announce
                explicit.headerRegionURI = "shm:file?path=\(header)|require_hugepages=false"
                explicit.pools[0].regionURI = "shm:file?path=\(pool)|require_hugepages=false"
                var omitted = regions.announce
                omitted.headerRegionURI = "shm:file?path=\(header)"
                omitted.pools[0].regionURI = "shm:file?path=\(pool)"
                for announce in [explicit, omitted] {
                    let mapped = try StreamRegions.map(announce, policy: box.policy(), nowNs: conformanceNow)
                    #expect(mapped.header.path == header && mapped.pool(id: 1)?.region.path == pool)
                    mapped.unmap()
                }
                // With & instead of |, the whole rest is the path, which names no file.
                var ampersand = regions.announce
                ampersand.pools[0].regionURI = "shm:file?path=\(pool)&require_hugepages=false"
                #expect(
                    throws: RegionError.containment(
                        .cannotResolve(path: pool + "&require_hugepages=false", errno: ENOENT))
                ) {
                    try StreamRegions.map(ampersand, policy: box.policy())
                }
            }
        }

        // MARK: §15.22 Hugepages

        @Test(
            "require_hugepages=true: a region not on hugetlbfs is neither created nor mapped",
            .verifies("WIRE-15.22-002", "WIRE-15.22-003", "WIRE-15.22-008"))
        func hugepageRequirementEnforced() throws {
            try withSandbox { box in
                #expect(Hugepages.isHugetlbfs(path: box.base) == false)
                // Producer side: creating hugepage-required regions on tmpfs is refused.
                var hugepages = RegionCreateOptions()
                hugepages.requireHugepages = true
                let layout = try box.layout()
                #expect(throws: RegionError.notHugepageBacked(path: layout.headerRingPath(streamId: 1001, epoch: 7))) {
                    try box.create(layout, options: hugepages)
                }
                // Consumer side: an announce that claims hugepages for tmpfs files is refused after fstatfs.
                let regions = try box.create(box.layout(), streamId: 2)
                regions.unmap()
                let pool = try #require(regions.pool(id: 1)).region.path
                var lying = regions.announce
                lying.pools[0].regionURI = "shm:file?path=\(pool)|require_hugepages=true"
                #expect(throws: RegionError.containment(.notHugepageBacked(pool))) {
                    try StreamRegions.map(lying, policy: box.policy())
                }
                #expect(throws: PathContainmentError.notHugepageBacked(pool)) {
                    try box.policy().openForMapping(RegionURI(path: pool, requireHugepages: true), writable: false)
                }
                #expect(try mappings(under: box.root).isEmpty)
                // Without the requirement the same file maps, and is reported as not on hugetlbfs.
                let file = try box.policy().openForMapping(RegionURI(path: pool), writable: false)
                #expect(file.isHugetlbfs == false)
                file.close()
            }
            // Where a writable hugetlbfs mount exists, a hugepage-backed region is accepted.
            if let mount = Hugepages.defaultMount {
                let directory = mount + "/tp-conformance-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
                try #require(mkdir(directory, 0o700) == 0, "mkdir \(directory) failed: errno \(errno)")
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let base = try #require(canonical(directory))
                let path = base + "/1.pool"
                let descriptor = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
                try #require(descriptor >= 0, "create \(path) failed: errno \(errno)")
                close(descriptor)
                let file = try PathPolicy(allowedBaseDirectories: [base]).openForMapping(
                    RegionURI(path: path, requireHugepages: true), writable: false)
                #expect(file.isHugetlbfs)
                file.close()
            }
        }

        // MARK: §15.22 Stride

        @Test(
            "stride_bytes is taken from the announce, never from the page size",
            .verifies("WIRE-15.22-010"))
        func strideIsExplicit() throws {
            try withSandbox { box in
                let page = Int(sysconf(Int32(_SC_PAGESIZE)))
                let strides: [UInt32] = [64, UInt32(page * 2)]
                let regions = try box.create(
                    box.layout(),
                    pools: strides.enumerated().map { PoolSpec(poolId: UInt16($0.offset + 1), strideBytes: $0.element) }
                )
                defer { regions.unmap() }
                for (offset, stride) in strides.enumerated() {
                    let pool = try #require(regions.pool(id: UInt16(offset + 1)))
                    #expect(pool.strideBytes == Int(stride))
                    #expect(try Superblock(decoding: pool.region.bytes).strideBytes == stride)
                    let status = try #require(lstatus(pool.region.path))
                    #expect(Int(status.st_size) == ShmLayout.payloadPoolSize(nslots: 8, strideBytes: Int(stride)))
                }
                let mapped = try StreamRegions.map(regions.announce, policy: box.policy())
                #expect(mapped.pool(id: 1)?.strideBytes == 64)
                #expect(mapped.pool(id: 2)?.strideBytes == page * 2)
                #expect(mapped.pool(id: 1)?.region.length == ShmLayout.payloadPoolSize(nslots: 8, strideBytes: 64))
                mapped.unmap()
                // An announce whose stride disagrees with the pool's superblock is refused, even when the file is
                // large enough for the announced geometry.
                var wrong = regions.announce
                wrong.pools[1].strideBytes = UInt32(page)
                let path = try #require(regions.pool(id: 2)).region.path
                #expect(
                    throws: RegionError.superblock(
                        path: path, .mismatch(.strideBytes, expected: UInt64(page), actual: UInt64(page * 2)))
                ) {
                    try StreamRegions.map(wrong, policy: box.policy())
                }
            }
        }

        @Test(
            "stride_bytes must be 64 bytes times a power of two: 32, 96, 192 … are refused before any file exists",
            .verifies("WIRE-15.22-011"))
        func strideMustBe64TimesPowerOfTwo() throws {
            for shift in 0..<26 { #expect(ShmLayout.isValidStride(UInt32(64) << UInt32(shift)), "64 << \(shift)") }
            for stride: UInt32 in [
                0, 1, 2, 16, 32, 48, 63, 65, 96, 100, 127, 129, 192, 320, 1000, 4095, 4097, 6144, .max,
            ] {
                #expect(!ShmLayout.isValidStride(stride), "\(stride)")
            }
            try withSandbox { box in
                for stride: UInt32 in [32, 96, 192] {
                    let error = #expect(throws: RegionError.self) {
                        try box.create(box.layout(), pools: [PoolSpec(poolId: 1, strideBytes: stride)])
                    }
                    guard case .invalidGeometry(let reason) = error else {
                        Issue.record("stride \(stride): expected invalidGeometry, got \(String(describing: error))")
                        continue
                    }
                    #expect(reason.contains("stride"))
                }
                #expect(try entries(box.base).isEmpty, "a refused create left files behind")
                let regions = try box.create(
                    box.layout(),
                    pools: ([64, 128, 4096] as [UInt32]).map { PoolSpec(poolId: UInt16($0 / 64), strideBytes: $0) })
                defer { regions.unmap() }
                #expect(regions.pools.map(\.strideBytes) == [64, 128, 4096])
                try regions.announce.validateGeometry()
                // The consumer applies the same rule to an announce, before opening anything.
                var announce = regions.announce
                announce.pools[0].strideBytes = 96
                #expect(throws: RegionError.self) { try announce.validateGeometry() }
                let consumer = ConsumerMapping(policy: try box.policy())
                guard case .rejected(.invalidGeometry) = consumer.handle(announce, nowNs: conformanceNow) else {
                    Issue.record("an announce with stride 96 was not rejected for its geometry")
                    return
                }
                #expect(consumer.state == .unmapped && consumer.reader == nil)
            }
        }

        @Test(
            "page and hugepage alignment are not validated: a 64-byte stride pool whose size is not page-aligned maps",
            .verifies("WIRE-15.22-012"))
        func pageAlignmentNotValidated() throws {
            try withSandbox { box in
                let page = Int(sysconf(Int32(_SC_PAGESIZE)))
                let regions = try box.create(box.layout(), pools: [PoolSpec(poolId: 1, strideBytes: 64)])
                defer { regions.unmap() }
                let size = ShmLayout.payloadPoolSize(nslots: 8, strideBytes: 64)
                #expect(size % page != 0 && ShmLayout.headerRingSize(nslots: 8) % page != 0)
                let consumer = ConsumerMapping(policy: try box.policy())
                #expect(consumer.handle(regions.announce, nowNs: conformanceNow) == .mapped(epoch: 7))
                #expect(consumer.reader?.regions.pool(id: 1)?.region.length == size)
                consumer.unmap()
            }
        }

        // MARK: §15.22 Rejecting a region

        @Test(
            "a region breaking a §15.22 rule is rejected: the consumer stays unmapped, says why, and reads nothing",
            .verifies("WIRE-15.22-015", "WIRE-15.22-017", "WIRE-15.22-018"))
        func rejectedRegionIsNeverConsumed() throws {
            try withSandbox { box in
                let regions = try box.create(box.layout())
                regions.unmap()
                let pool = try #require(regions.pool(id: 1)).region.path
                var badScheme = regions.announce
                badScheme.pools[0].regionURI = "file://" + pool
                var unknownParameter = regions.announce
                unknownParameter.pools[0].regionURI = "shm:file?path=\(pool)|offset=64"
                var hugepageLie = regions.announce
                hugepageLie.pools[0].regionURI = "shm:file?path=\(pool)|require_hugepages=true"
                var badStride = regions.announce
                badStride.pools[0].strideBytes = 96
                // Each bad announce, whether it fails the error it must fail with, and what its diagnostic names.
                let cases: [(RegionAnnounce, (RegionError) -> Bool, String)] = [
                    (badScheme, { $0 == .uri(.unsupportedScheme("file://" + pool)) }, "file://"),
                    (unknownParameter, { $0 == .uri(.unknownParameter("offset")) }, "offset"),
                    (hugepageLie, { $0 == .containment(.notHugepageBacked(pool)) }, pool),
                    (
                        badStride,
                        {
                            if case .invalidGeometry(let reason) = $0 { return reason.contains("stride") }
                            return false
                        }, "96"
                    ),
                ]
                for (announce, isExpected, mention) in cases {
                    let consumer = ConsumerMapping(policy: try box.policy())
                    guard case .rejected(let error) = consumer.handle(announce, nowNs: conformanceNow) else {
                        Issue.record("an announce breaking a §15.22 rule was not rejected: \(mention)")
                        continue
                    }
                    #expect(isExpected(error), "rejected for the wrong reason: \(error)")
                    // Failed state with an explicit diagnostic.
                    #expect(consumer.state == .unmapped)
                    #expect(consumer.failure == error)
                    let diagnostic = try #require(consumer.failure).description
                    #expect(diagnostic.contains(mention), "diagnostic \(diagnostic) does not name \(mention)")
                    // Nothing of it is consumed: no reader, no mapping, every descriptor dropped.
                    #expect(consumer.reader == nil)
                    #expect(try mappings(under: box.root).isEmpty, "a rejected region left a mapping")
                    guard case .dropped(.unmapped) = consumer.read(seq: 0, epoch: 7) else {
                        Issue.record("a descriptor was not dropped after the region was rejected")
                        continue
                    }
                    #expect(consumer.counters.framesAccepted == 0)
                    // A repeated announce of the same rejected region is rejected again.
                    #expect(consumer.handle(announce, nowNs: conformanceNow) == .rejected(error))
                    #expect(consumer.state == .unmapped && consumer.reader == nil)
                }
            }
        }
    }
#endif
