import Foundation
import Testing

@testable import TensorPoolSHM

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(Glibc)

    /// A fresh directory per test, under /dev/shm when it is writable (else the temporary directory), holding an
    /// `allowed` base directory and an `outside` sibling. Removed by ``withSandbox(_:)``.
    private struct Sandbox {
        /// The canonical root of the sandbox.
        let root: String
        /// `<root>/allowed`, the policy's only base.
        var allowed: String { root + "/allowed" }
        /// `<root>/outside`, a sibling outside the base.
        var outside: String { root + "/outside" }
        /// A policy whose only base is ``allowed``.
        let policy: PathPolicy

        /// Creates a regular file holding `bytes` and returns its path.
        @discardableResult
        func file(_ path: String, bytes: Int = 0) throws -> String {
            let created = FileManager.default.createFile(
                atPath: path, contents: Data(repeating: 0xA5, count: bytes), attributes: [.posixPermissions: 0o600])
            try #require(created, "cannot create \(path)")
            return path
        }

        /// Creates a directory (and its parents).
        @discardableResult
        func directory(_ path: String) throws -> String {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }

        /// Creates a symlink at `path` pointing to `target`.
        @discardableResult
        func symlink(_ path: String, to target: String) throws -> String {
            try #require(Glibc.symlink(target, path) == 0, "symlink failed: errno \(errno)")
            return path
        }

        /// Creates a FIFO.
        @discardableResult
        func fifo(_ path: String) throws -> String {
            try #require(mkfifo(path, 0o600) == 0, "mkfifo failed: errno \(errno)")
            return path
        }

        /// Atomically renames `from` over `to`.
        func rename(_ from: String, over to: String) throws {
            try #require(Glibc.rename(from, to) == 0, "rename failed: errno \(errno)")
        }

        /// The announced URI of `path`.
        func uri(_ path: String, requireHugepages: Bool = false) -> RegionURI {
            RegionURI(path: path, requireHugepages: requireHugepages)
        }
    }

    /// The directory sandboxes are made in.
    private func sandboxParent() -> String {
        if access("/dev/shm", W_OK | X_OK) == 0 { return "/dev/shm" }
        return NSTemporaryDirectory()
    }

    /// Runs `body` in a fresh sandbox and removes it afterwards, whatever happens.
    private func withSandbox(under parent: String? = nil, _ body: (Sandbox) throws -> Void) throws {
        var template = Array(((parent ?? sandboxParent()) + "/tp-shm-paths-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        try #require(made != nil, "mkdtemp failed: errno \(errno)")
        let created = String(cString: made!)
        defer { try? FileManager.default.removeItem(atPath: created) }
        let root = try #require(realpathString(created))
        try FileManager.default.createDirectory(atPath: root + "/allowed", withIntermediateDirectories: false)
        try FileManager.default.createDirectory(atPath: root + "/outside", withIntermediateDirectories: false)
        let policy = try PathPolicy(allowedBaseDirectories: [root + "/allowed"])
        try body(Sandbox(root: root, policy: policy))
    }

    private func realpathString(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `lstat` identity of a path.
    private func identity(_ path: String) throws -> (device: UInt64, inode: UInt64) {
        var status = stat()
        try #require(lstat(path, &status) == 0, "lstat failed: errno \(errno)")
        return (UInt64(status.st_dev), UInt64(status.st_ino))
    }

    /// Binds a listening-less AF_UNIX stream socket to `path`, returning its descriptor (close it afterwards).
    private func bindUnixSocket(at path: String) throws -> Int32 {
        let socketDescriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(socketDescriptor >= 0, "socket failed: errno \(errno)")
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        try #require(pathBytes.count < capacity, "socket path too long: \(path)")
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result != 0 {
            let error = errno
            close(socketDescriptor)
            Issue.record("bind failed: errno \(error)")
        }
        return socketDescriptor
    }

    /// Consumer path containment, §15.21a.5 (WIRE-15.21-028..038), and the hugepage rule of §15.22.
    @Suite("Path containment")
    struct PathContainmentTests {
        // MARK: Accepted

        @Test("a regular file inside the base is checked and opened with its identity and size")
        func acceptsRegularFile() throws {
            try withSandbox { box in
                let path = try box.file(box.allowed + "/header.ring", bytes: 4096)
                let (device, inode) = try identity(path)
                let checked = try box.policy.check(box.uri(path))
                #expect(checked.canonicalPath == path)
                #expect(checked.device == device && checked.inode == inode)
                let file = try box.policy.open(checked, writable: false)
                #expect(file.path == path)
                #expect(file.size == 4096)
                #expect(file.inode == inode && file.device == device)
                #expect(file.uri == box.uri(path))
                #expect(file.descriptor >= 0)
                #expect(file.isHugetlbfs == false)
                let flags = fcntl(file.descriptor, F_GETFL)
                #expect(flags & O_ACCMODE == O_RDONLY)
                #expect(flags & O_NONBLOCK == 0)
                #expect(fcntl(file.descriptor, F_GETFD) & FD_CLOEXEC != 0)
                file.close()
            }
        }

        @Test("the canonical layout under the base, opened writable through openForMapping")
        func acceptsCanonicalLayoutWritable() throws {
            try withSandbox { box in
                let epoch = try box.directory(box.allowed + "/tensorpool-alice/default/1001/7")
                let path = try box.file(epoch + "/1.pool", bytes: 100)
                let file = try box.policy.openForMapping(box.uri(path), writable: true)
                defer { file.close() }
                #expect(file.size == 100)
                #expect(fcntl(file.descriptor, F_GETFL) & O_ACCMODE == O_RDWR)
                var byte: UInt8 = 0x5A
                #expect(pwrite(file.descriptor, &byte, 1, 0) == 1)
            }
        }

        @Test("close() is idempotent and leaves descriptor at -1")
        func closeIsIdempotent() throws {
            try withSandbox { box in
                let path = try box.file(box.allowed + "/f", bytes: 1)
                let file = try box.policy.openForMapping(box.uri(path), writable: false)
                let descriptor = file.descriptor
                #expect(descriptor >= 0 && file.isClosed == false)
                file.close()
                #expect(file.descriptor == -1 && file.isClosed)
                #expect(fcntl(descriptor, F_GETFD) == -1)  // really closed
                file.close()
                #expect(file.descriptor == -1)
            }
        }

        @Test(
            "a symlinked directory in the middle that stays inside the base is accepted (only the canonical path counts)"
        )
        func acceptsIntermediateSymlinkInside() throws {
            try withSandbox { box in
                try box.directory(box.allowed + "/real")
                let path = try box.file(box.allowed + "/real/f", bytes: 8)
                try box.symlink(box.allowed + "/alias", to: box.allowed + "/real")
                let checked = try box.policy.check(box.uri(box.allowed + "/alias/f"))
                #expect(checked.canonicalPath == path)
            }
        }

        @Test("base directories are canonicalised once, deduplicated, and symlinked bases resolve to their targets")
        func canonicalisesBases() throws {
            try withSandbox { box in
                try box.symlink(box.root + "/link-to-allowed", to: box.allowed)
                let policy = try PathPolicy(allowedBaseDirectories: [
                    box.root + "/link-to-allowed", box.allowed + "/", box.root + "/outside/../allowed", box.outside,
                ])
                #expect(policy.allowedBaseDirectories == [box.allowed, box.outside])
                let path = try box.file(box.outside + "/f")
                #expect(try policy.check(box.uri(path)).canonicalPath == path)
            }
        }

        // MARK: Symlinks

        @Test("a final-component symlink pointing inside the base is rejected")
        func rejectsFinalSymlinkInside() throws {
            try withSandbox { box in
                let target = try box.file(box.allowed + "/real")
                let link = try box.symlink(box.allowed + "/link", to: target)
                #expect(throws: PathContainmentError.finalComponentIsSymlink(link)) {
                    try box.policy.check(box.uri(link))
                }
            }
        }

        @Test("a final-component symlink pointing outside the base is rejected")
        func rejectsFinalSymlinkOutside() throws {
            try withSandbox { box in
                let target = try box.file(box.outside + "/secret")
                let link = try box.symlink(box.allowed + "/link", to: target)
                #expect(throws: PathContainmentError.finalComponentIsSymlink(link)) {
                    try box.policy.openForMapping(box.uri(link), writable: false)
                }
            }
        }

        @Test("a symlinked directory in the middle that leads outside the base is rejected")
        func rejectsIntermediateSymlinkOutside() throws {
            try withSandbox { box in
                let target = try box.file(box.outside + "/secret")
                try box.symlink(box.allowed + "/escape", to: box.outside)
                #expect(throws: PathContainmentError.outsideAllowedBases(canonicalPath: target)) {
                    try box.policy.check(box.uri(box.allowed + "/escape/secret"))
                }
            }
        }

        @Test("a symlink renamed over the file between check and open fails closed (O_NOFOLLOW)")
        func rejectsSymlinkSwappedInAfterCheck() throws {
            try withSandbox { box in
                let path = try box.file(box.allowed + "/f", bytes: 16)
                let checked = try box.policy.check(box.uri(path))
                let secret = try box.file(box.outside + "/secret", bytes: 16)
                try box.symlink(box.allowed + "/swap", to: secret)
                try box.rename(box.allowed + "/swap", over: path)
                for writable in [false, true] {
                    #expect(throws: PathContainmentError.finalComponentIsSymlink(path)) {
                        try box.policy.open(checked, writable: writable)
                    }
                }
            }
        }

        // MARK: Swaps

        @Test("a different regular file renamed over the file between check and open is detected by fstat identity")
        func rejectsRegularFileSwappedInAfterCheck() throws {
            try withSandbox { box in
                let path = try box.file(box.allowed + "/f", bytes: 16)
                let checked = try box.policy.check(box.uri(path))
                let replacement = try box.file(box.allowed + "/replacement", bytes: 16)
                try box.rename(replacement, over: path)
                #expect(throws: PathContainmentError.changedAfterCheck(path)) {
                    try box.policy.open(checked, writable: false)
                }
            }
        }

        @Test("a FIFO renamed over the file between check and open neither hangs nor passes")
        func rejectsFIFOSwappedInAfterCheck() throws {
            try withSandbox { box in
                let path = try box.file(box.allowed + "/f", bytes: 16)
                let checked = try box.policy.check(box.uri(path))
                try box.fifo(box.allowed + "/pipe")
                try box.rename(box.allowed + "/pipe", over: path)
                for writable in [false, true] {
                    #expect(throws: PathContainmentError.notRegularFile(path: path, kind: .fifo)) {
                        try box.policy.open(checked, writable: writable)
                    }
                }
            }
        }

        @Test("a checked path handed to a policy whose bases do not contain it is refused")
        func rejectsCheckedPathFromAnotherPolicy() throws {
            try withSandbox { box in
                let path = try box.file(box.outside + "/f")
                let other = try PathPolicy(allowedBaseDirectories: [box.outside])
                let checked = try other.check(box.uri(path))
                #expect(throws: PathContainmentError.outsideAllowedBases(canonicalPath: path)) {
                    try box.policy.open(checked, writable: false)
                }
            }
        }

        // MARK: Traversal and shape of the path

        @Test("a .. component is rejected outright, even when it would resolve inside")
        func rejectsDotDot() throws {
            try withSandbox { box in
                try box.file(box.outside + "/f")
                try box.file(box.allowed + "/g")
                let escaping = box.allowed + "/../outside/f"
                #expect(throws: PathContainmentError.traversalComponent(path: escaping, component: "..")) {
                    try box.policy.check(box.uri(escaping))
                }
                let staying = box.allowed + "/../allowed/g"
                #expect(throws: PathContainmentError.traversalComponent(path: staying, component: "..")) {
                    try box.policy.check(box.uri(staying))
                }
            }
        }

        @Test("a . component is rejected")
        func rejectsDot() throws {
            try withSandbox { box in
                try box.file(box.allowed + "/f")
                let path = box.allowed + "/./f"
                #expect(throws: PathContainmentError.traversalComponent(path: path, component: ".")) {
                    try box.policy.check(box.uri(path))
                }
            }
        }

        @Test("relative and empty paths are rejected (WIRE-15.21-028)")
        func rejectsRelativeAndEmpty() throws {
            try withSandbox { box in
                #expect(throws: PathContainmentError.relativePath("allowed/f")) {
                    try box.policy.check(box.uri("allowed/f"))
                }
                #expect(throws: PathContainmentError.emptyPath) { try box.policy.check(box.uri("")) }
            }
        }

        @Test("a NUL inside the path is rejected rather than truncated by the kernel")
        func rejectsEmbeddedNUL() throws {
            try withSandbox { box in
                let path = try box.file(box.allowed + "/f")
                let sneaky = path + "\u{0}/../../etc/passwd"
                #expect(throws: PathContainmentError.embeddedNUL(sneaky)) { try box.policy.check(box.uri(sneaky)) }
            }
        }

        @Test("a nonexistent file cannot be resolved (ENOENT)")
        func rejectsNonexistent() throws {
            try withSandbox { box in
                let path = box.allowed + "/missing"
                #expect(throws: PathContainmentError.cannotResolve(path: path, errno: ENOENT)) {
                    try box.policy.check(box.uri(path))
                }
                let deeper = box.allowed + "/missing-dir/f"
                #expect(throws: PathContainmentError.cannotResolve(path: deeper, errno: ENOENT)) {
                    try box.policy.check(box.uri(deeper))
                }
            }
        }

        // MARK: Outside the base

        @Test("a regular file outside the base is rejected (WIRE-15.21-031)")
        func rejectsOutside() throws {
            try withSandbox { box in
                let path = try box.file(box.outside + "/f")
                #expect(throws: PathContainmentError.outsideAllowedBases(canonicalPath: path)) {
                    try box.policy.check(box.uri(path))
                }
            }
        }

        @Test("a sibling whose name extends the base's name is outside it (component-wise containment)")
        func rejectsSiblingPrefix() throws {
            try withSandbox { box in
                try box.directory(box.root + "/allowed2")
                let path = try box.file(box.root + "/allowed2/f")
                #expect(throws: PathContainmentError.outsideAllowedBases(canonicalPath: path)) {
                    try box.policy.check(box.uri(path))
                }
            }
        }

        @Test("the base directory itself is not a file inside it")
        func rejectsBaseItself() throws {
            try withSandbox { box in
                #expect(throws: PathContainmentError.outsideAllowedBases(canonicalPath: box.allowed)) {
                    try box.policy.check(box.uri(box.allowed))
                }
                #expect(throws: PathContainmentError.outsideAllowedBases(canonicalPath: box.allowed)) {
                    try box.policy.check(box.uri(box.allowed + "/"))
                }
            }
        }

        // MARK: Not a regular file (WIRE-15.21-032/033)

        @Test("a directory is rejected")
        func rejectsDirectory() throws {
            try withSandbox { box in
                let path = try box.directory(box.allowed + "/sub")
                #expect(throws: PathContainmentError.notRegularFile(path: path, kind: .directory)) {
                    try box.policy.check(box.uri(path))
                }
            }
        }

        @Test("a FIFO is rejected without opening it, so nothing hangs")
        func rejectsFIFO() throws {
            try withSandbox { box in
                let path = try box.fifo(box.allowed + "/pipe")
                #expect(throws: PathContainmentError.notRegularFile(path: path, kind: .fifo)) {
                    try box.policy.openForMapping(box.uri(path), writable: false)
                }
            }
        }

        @Test("a Unix domain socket is rejected")
        func rejectsSocket() throws {
            try withSandbox { box in
                let path = box.allowed + "/sock"
                let descriptor = try bindUnixSocket(at: path)
                defer { close(descriptor) }
                #expect(throws: PathContainmentError.notRegularFile(path: path, kind: .socket)) {
                    try box.policy.openForMapping(box.uri(path), writable: false)
                }
            }
        }

        @Test("a character device is rejected (/dev/null under the base /dev)")
        func rejectsCharacterDevice() throws {
            let policy = try PathPolicy(allowedBaseDirectories: ["/dev"])
            #expect(throws: PathContainmentError.notRegularFile(path: "/dev/null", kind: .characterDevice)) {
                try policy.openForMapping(RegionURI(path: "/dev/null"), writable: true)
            }
        }

        // MARK: Hugepages (§15.22)

        @Test("require_hugepages=true on a tmpfs file is refused (WIRE-15.22-003)")
        func rejectsHugepageLie() throws {
            try withSandbox { box in
                let path = try box.file(box.allowed + "/1.pool", bytes: 4096)
                #expect(Hugepages.isHugetlbfs(path: path) == false)
                #expect(throws: PathContainmentError.notHugepageBacked(path)) {
                    try box.policy.openForMapping(box.uri(path, requireHugepages: true), writable: false)
                }
                // The same file without the requirement opens, and says it is not on hugetlbfs.
                let file = try box.policy.openForMapping(box.uri(path), writable: false)
                #expect(file.isHugetlbfs == false)
                #expect(Hugepages.isHugetlbfs(descriptor: file.descriptor) == false)
            }
        }

        @Test("statfs helpers answer false for bad input")
        func hugepageHelpersOnBadInput() {
            #expect(Hugepages.isHugetlbfs(descriptor: -1) == false)
            #expect(Hugepages.isHugetlbfs(path: "/nonexistent/definitely/not/here") == false)
            #expect(Hugepages.isHugetlbfs(path: "/dev/shm\u{0}x") == false)
            if let mount = Hugepages.defaultMount {
                #expect(Hugepages.isHugetlbfs(path: mount))
            } else {
                #expect(Hugepages.defaultMount == nil)
            }
        }

        @Test("statfs and fstatfs really read f_type: procfs and the sandbox's filesystem are recognised")
        func statfsReadsFileSystemType() throws {
            #expect(Hugepages.fileSystemType(path: "/proc") == 0x9FA0)  // PROC_SUPER_MAGIC
            try withSandbox { box in
                let expected = try #require(Hugepages.fileSystemType(path: box.allowed))
                #expect(expected != 0)
                if box.root.hasPrefix("/dev/shm/") { #expect(expected == 0x0102_1994) }  // TMPFS_MAGIC
                let path = try box.file(box.allowed + "/f")
                let file = try box.policy.openForMapping(box.uri(path), writable: false)
                defer { file.close() }
                #expect(Hugepages.fileSystemType(descriptor: file.descriptor) == expected)
                if expected == 0x0102_1994 {  // tmpfs reports the page size as its block size
                    #expect(
                        Hugepages.fileSystemBlockSize(descriptor: file.descriptor) == Int(sysconf(Int32(_SC_PAGESIZE))))
                } else {
                    #expect((Hugepages.fileSystemBlockSize(descriptor: file.descriptor) ?? 0) > 0)
                }
                #expect(Hugepages.fileSystemType(descriptor: -1) == nil)
                #expect(Hugepages.fileSystemBlockSize(descriptor: -1) == nil)
            }
        }

        @Test(
            "a file on the hugetlbfs mount opens with require_hugepages=true",
            .enabled(if: Hugepages.defaultMount != nil, "needs a writable hugetlbfs mount at /dev/hugepages"))
        func acceptsHugetlbfsFile() throws {
            let mount = try #require(Hugepages.defaultMount)
            try withSandbox(under: mount) { box in
                let path = box.allowed + "/1.pool"
                // hugetlbfs does not support write(2): create the file empty.
                let descriptor = Glibc.open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0o600)
                try #require(descriptor >= 0, "open failed: errno \(errno)")
                close(descriptor)
                let file = try box.policy.openForMapping(box.uri(path, requireHugepages: true), writable: true)
                defer { file.close() }
                #expect(file.isHugetlbfs)
                #expect(Hugepages.isHugetlbfs(descriptor: file.descriptor))
                let hugepageSize = try #require(Hugepages.fileSystemBlockSize(descriptor: file.descriptor))
                #expect(hugepageSize > Int(sysconf(Int32(_SC_PAGESIZE))))
            }
        }

        // MARK: Policy construction

        @Test("an empty list of base directories is refused")
        func rejectsNoBases() {
            #expect(throws: PathContainmentError.noAllowedBaseDirectories) {
                try PathPolicy(allowedBaseDirectories: [])
            }
        }

        @Test("relative, empty, missing and non-directory base directories are refused")
        func rejectsInvalidBases() throws {
            try withSandbox { box in
                #expect(throws: PathContainmentError.invalidAllowedBaseDirectory(path: "dev/shm", reason: .notAbsolute))
                {
                    try PathPolicy(allowedBaseDirectories: ["dev/shm"])
                }
                #expect(throws: PathContainmentError.invalidAllowedBaseDirectory(path: "", reason: .empty)) {
                    try PathPolicy(allowedBaseDirectories: [box.allowed, ""])
                }
                let missing = box.root + "/missing"
                #expect(
                    throws: PathContainmentError.invalidAllowedBaseDirectory(
                        path: missing, reason: .cannotResolve(errno: ENOENT))
                ) {
                    try PathPolicy(allowedBaseDirectories: [missing])
                }
                let file = try box.file(box.root + "/plain")
                #expect(
                    throws: PathContainmentError.invalidAllowedBaseDirectory(
                        path: file, reason: .notADirectory(.regular))
                ) {
                    try PathPolicy(allowedBaseDirectories: [box.allowed, file])
                }
            }
        }

        @Test("the root directory as a base contains every other absolute path but not itself")
        func rootBase() throws {
            let policy = try PathPolicy(allowedBaseDirectories: ["/"])
            #expect(policy.allowedBaseDirectories == ["/"])
            #expect(policy.contains(canonicalPath: "/dev/shm/x"))
            #expect(policy.contains(canonicalPath: "/") == false)
        }

        @Test("every error has a distinct one-line diagnostic")
        func diagnostics() {
            let errors: [PathContainmentError] = [
                .emptyPath, .relativePath("a"), .embeddedNUL("/a\u{0}b"),
                .traversalComponent(path: "/a/..", component: ".."),
                .finalComponentIsSymlink("/a"), .cannotResolve(path: "/a", errno: ENOENT),
                .outsideAllowedBases(canonicalPath: "/a"), .notRegularFile(path: "/a", kind: .fifo),
                .changedAfterCheck("/a"), .openFailed(path: "/a", errno: EACCES), .notHugepageBacked("/a"),
                .invalidAllowedBaseDirectory(path: "a", reason: .notAbsolute), .noAllowedBaseDirectories,
                .unsupportedPlatform,
            ]
            let descriptions = errors.map(\.description)
            #expect(Set(descriptions).count == errors.count)
            #expect(descriptions.allSatisfy { !$0.contains("\n") && !$0.contains("\u{0}") })
            #expect(
                PathContainmentError.cannotResolve(path: "/a", errno: ENOENT).description.contains("errno \(ENOENT)"))
        }
    }

#endif
