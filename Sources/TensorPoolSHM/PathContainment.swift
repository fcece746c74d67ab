// Consumer path containment of wire spec v1.2 §15.21a.5, plus the hugepage check of §15.22.
//
// Before mapping an announced region a consumer: rejects relative paths and "." / ".." components; rejects a final
// component that is a symlink (lstat); canonicalises with realpath(); requires the canonical path to lie strictly
// inside one of the allowed base directories, which were canonicalised once when the policy was built; requires the
// canonical path to be a regular file (lstat). It then opens that path with O_NOFOLLOW (and O_NONBLOCK, so a FIFO
// swapped in cannot block the open), fstat()s the descriptor and requires the same (st_dev, st_ino) as the check saw,
// and, for `require_hugepages=true`, fstatfs()s the descriptor and requires hugetlbfs.
//
// Paths are compared as UTF-8 byte strings, never with `String ==` or `hasPrefix`, whose Unicode canonical
// equivalence could call two different kernel paths equal.
//
// Only Glibc is supported. Elsewhere every check and open fails closed with `.unsupportedPlatform` (WIRE-15.21-036,
// WIRE-15.22-004/009) until a platform layer with a no-follow open and an identity check is written for it.

import Synchronization

#if canImport(Glibc)
    import CLinuxVFS
    import Glibc
#endif

/// The allowed base directories of a consumer (§15.21a.5), canonicalised once when the policy is built
/// (WIRE-15.21-030), and the containment check and safe open built on them.
///
/// ```swift
/// let policy = try PathPolicy(allowedBaseDirectories: ["/dev/shm"])
/// let file = try policy.openForMapping(try RegionURI(parsing: announcedURI), writable: false)
/// defer { file.close() }
/// // mmap(nil, length, PROT_READ, MAP_SHARED, file.descriptor, 0)
/// ```
public struct PathPolicy: Sendable {
    /// The canonical (realpath) forms of the configured base directories, in configuration order, duplicates
    /// removed. Only these forms take part in containment checks (WIRE-15.21-030).
    public let allowedBaseDirectories: [String]

    /// Builds a policy, canonicalising every base directory once (WIRE-15.21-030).
    ///
    /// - Parameter allowedBaseDirectories: Absolute paths of existing directories (`shm_base_dir` /
    ///   `allowed_base_dirs`, WIRE-15.21-018/019).
    /// - Throws: ``PathContainmentError/noAllowedBaseDirectories`` for an empty list, or
    ///   ``PathContainmentError/invalidAllowedBaseDirectory(path:reason:)`` for an entry that is empty, relative,
    ///   cannot be resolved or is not a directory; ``PathContainmentError/unsupportedPlatform`` off Glibc.
    public init(allowedBaseDirectories: [String]) throws(PathContainmentError) {
        if allowedBaseDirectories.isEmpty { throw .noAllowedBaseDirectories }
        var canonical: [String] = []
        for base in allowedBaseDirectories {
            let resolved = try Self.canonicalBase(base)
            if !canonical.contains(where: { PathBytes.equal($0, resolved) }) { canonical.append(resolved) }
        }
        self.allowedBaseDirectories = canonical
    }

    /// Whether a canonical path lies strictly inside one of the allowed base directories, compared component-wise:
    /// `/dev/shmX/f` is not inside `/dev/shm`, and a base directory is not inside itself.
    ///
    /// - Parameter canonicalPath: A path already resolved by `realpath`.
    /// - Returns: `true` when some allowed base is a proper ancestor of `canonicalPath`.
    public func contains(canonicalPath: String) -> Bool {
        allowedBaseDirectories.contains { PathBytes.isStrictlyInside(canonicalPath, base: $0) }
    }

    /// Steps 1–4 of §15.21a.5 on an announced path (WIRE-15.21-028..033), without opening it.
    ///
    /// In order: the path is non-empty and absolute and has no NUL; no component is `.` or `..` (traversal is
    /// rejected outright, not resolved); the final component is not a symlink (`lstat`); `realpath` resolves it; the
    /// canonical path lies strictly inside an allowed base; `lstat` of the canonical path shows a regular file with
    /// the same identity as the announced path. The identity is recorded for ``open(_:writable:)``.
    ///
    /// - Parameter uri: The announced region URI; only its path is examined here.
    /// - Returns: The canonical path and its (`st_dev`, `st_ino`).
    /// - Throws: The ``PathContainmentError`` of the first failed step.
    public func check(_ uri: RegionURI) throws(PathContainmentError) -> CheckedRegionPath {
        let path = uri.path
        if path.utf8.isEmpty { throw .emptyPath }
        if path.utf8.contains(0) { throw .embeddedNUL(path) }
        if path.utf8.first != UInt8(ascii: "/") { throw .relativePath(path) }
        if let component = PathBytes.traversalComponent(in: path) {
            throw .traversalComponent(path: path, component: component)
        }
        #if canImport(Glibc)
            let announced = try FileSystem.lstatInfo(path)
            if announced.kind == .symlink { throw .finalComponentIsSymlink(path) }
            let canonicalPath = try FileSystem.realpath(path)
            guard contains(canonicalPath: canonicalPath) else {
                throw .outsideAllowedBases(canonicalPath: canonicalPath)
            }
            let canonical = try FileSystem.lstatInfo(canonicalPath)
            guard canonical.kind == .regular else { throw .notRegularFile(path: canonicalPath, kind: canonical.kind) }
            // The announced path (final component not a symlink) and its canonical form name the same file unless
            // something moved between the two lstat calls.
            guard canonical.device == announced.device, canonical.inode == announced.inode else {
                throw .changedAfterCheck(canonicalPath)
            }
            return CheckedRegionPath(
                uri: uri, canonicalPath: canonicalPath, device: canonical.device, inode: canonical.inode)
        #else
            throw .unsupportedPlatform
        #endif
    }

    /// Opens a checked path safely and re-validates the descriptor before anything is mapped (WIRE-15.21-034/035).
    ///
    /// The canonical path is opened with `O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY`, plus `O_RDWR` when
    /// `writable` and `O_RDONLY` otherwise; `O_NONBLOCK` is cleared again once the descriptor is known to be a
    /// regular file. `fstat` on the descriptor must show a regular file with the (`st_dev`, `st_ino`) recorded by
    /// ``check(_:)``. When `uri.requireHugepages`, `fstatfs` on the descriptor must report hugetlbfs
    /// (WIRE-15.22-002/003/008). On any failure the descriptor is closed before the error is thrown.
    ///
    /// - Parameters:
    ///   - checked: The result of ``check(_:)``; its canonical path must still lie inside this policy's bases.
    ///   - writable: Whether to open read-write (producer side) rather than read-only.
    /// - Returns: The open, validated file; close it (or drop it) once the mapping exists or is abandoned.
    /// - Throws: ``PathContainmentError/finalComponentIsSymlink(_:)`` when a symlink was swapped in,
    ///   ``PathContainmentError/notRegularFile(path:kind:)``, ``PathContainmentError/changedAfterCheck(_:)``,
    ///   ``PathContainmentError/openFailed(path:errno:)``, ``PathContainmentError/notHugepageBacked(_:)`` or
    ///   ``PathContainmentError/outsideAllowedBases(canonicalPath:)``.
    public func open(_ checked: CheckedRegionPath, writable: Bool) throws(PathContainmentError) -> RegionFile {
        let path = checked.canonicalPath
        guard contains(canonicalPath: path), !path.utf8.contains(0) else {
            throw .outsideAllowedBases(canonicalPath: path)
        }
        #if canImport(Glibc)
            let flags = (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
            let descriptor = Glibc.open(path, flags)
            if descriptor < 0 {
                let error = errno
                // With O_NOFOLLOW, ELOOP means the final component is now a symlink.
                if error == ELOOP { throw .finalComponentIsSymlink(path) }
                throw .openFailed(path: path, errno: error)
            }
            do throws(PathContainmentError) {
                let info = try FileSystem.fstatInfo(descriptor, path: path)
                guard info.kind == .regular else { throw .notRegularFile(path: path, kind: info.kind) }
                guard info.device == checked.device, info.inode == checked.inode else {
                    throw .changedAfterCheck(path)
                }
                let status = fcntl(descriptor, F_GETFL)
                if status < 0 || fcntl(descriptor, F_SETFL, status & ~O_NONBLOCK) < 0 {
                    throw .openFailed(path: path, errno: errno)
                }
                let hugetlbfs = Hugepages.isHugetlbfs(descriptor: descriptor)
                if checked.uri.requireHugepages && !hugetlbfs { throw .notHugepageBacked(path) }
                return RegionFile(
                    path: path, uri: checked.uri, descriptor: descriptor, device: info.device, inode: info.inode,
                    size: info.size, isHugetlbfs: hugetlbfs)
            } catch {
                _ = Glibc.close(descriptor)
                throw error
            }
        #else
            throw .unsupportedPlatform
        #endif
    }

    /// Runs ``check(_:)`` and then ``open(_:writable:)``: the whole of §15.21a.5 and the hugepage rule of §15.22.
    ///
    /// - Parameters:
    ///   - uri: The announced region URI.
    ///   - writable: Whether to open read-write rather than read-only.
    /// - Returns: The open, validated file, ready to be mapped.
    /// - Throws: The ``PathContainmentError`` of the first failed step.
    public func openForMapping(_ uri: RegionURI, writable: Bool) throws(PathContainmentError) -> RegionFile {
        try open(check(uri), writable: writable)
    }

    /// Validates and canonicalises one configured base directory.
    private static func canonicalBase(_ base: String) throws(PathContainmentError) -> String {
        if base.utf8.isEmpty { throw .invalidAllowedBaseDirectory(path: base, reason: .empty) }
        if base.utf8.contains(0) { throw .invalidAllowedBaseDirectory(path: base, reason: .embeddedNUL) }
        if base.utf8.first != UInt8(ascii: "/") { throw .invalidAllowedBaseDirectory(path: base, reason: .notAbsolute) }
        #if canImport(Glibc)
            let canonical: String
            do throws(PathContainmentError) {
                canonical = try FileSystem.realpath(base)
            } catch {
                if case .cannotResolve(_, let code) = error {
                    throw .invalidAllowedBaseDirectory(path: base, reason: .cannotResolve(errno: code))
                }
                throw error
            }
            let info: FileSystem.Info
            do throws(PathContainmentError) {
                info = try FileSystem.lstatInfo(canonical)
            } catch {
                if case .cannotResolve(_, let code) = error {
                    throw .invalidAllowedBaseDirectory(path: base, reason: .cannotResolve(errno: code))
                }
                throw error
            }
            guard info.kind == .directory else {
                throw .invalidAllowedBaseDirectory(path: base, reason: .notADirectory(info.kind))
            }
            return canonical
        #else
            throw .unsupportedPlatform
        #endif
    }
}

/// An announced path that passed ``PathPolicy/check(_:)``: its canonical form and the identity the check saw.
///
/// Only ``PathPolicy/check(_:)`` makes one. It is a snapshot: ``PathPolicy/open(_:writable:)`` re-validates the
/// identity on the opened descriptor.
public struct CheckedRegionPath: Sendable, Hashable {
    /// The URI as announced.
    public let uri: RegionURI
    /// The `realpath` of the announced path, inside an allowed base directory.
    public let canonicalPath: String
    /// `st_dev` of the file at check time.
    public let device: UInt64
    /// `st_ino` of the file at check time.
    public let inode: UInt64

    init(uri: RegionURI, canonicalPath: String, device: UInt64, inode: UInt64) {
        self.uri = uri
        self.canonicalPath = canonicalPath
        self.device = device
        self.inode = inode
    }
}

/// An open, validated backing file, ready to be mapped.
///
/// The descriptor is closed by ``close()`` (idempotent, safe from any thread) or, failing that, when the object is
/// deallocated. A mapping made from the descriptor stays valid after the descriptor is closed.
public final class RegionFile: Sendable {
    /// The canonical path that was opened.
    public let path: String
    /// The URI as announced.
    public let uri: RegionURI
    /// `st_dev` of the opened file.
    public let device: UInt64
    /// `st_ino` of the opened file.
    public let inode: UInt64
    /// `st_size` of the opened file at open time, in bytes.
    public let size: Int
    /// Whether the file lies on hugetlbfs (always `true` when `uri.requireHugepages`).
    public let isHugetlbfs: Bool

    private let storedDescriptor: Atomic<Int32>

    /// The open descriptor, or `-1` once ``close()`` has run.
    public var descriptor: Int32 { storedDescriptor.load(ordering: .acquiring) }

    /// Whether ``close()`` has run.
    public var isClosed: Bool { descriptor < 0 }

    init(
        path: String, uri: RegionURI, descriptor: Int32, device: UInt64, inode: UInt64, size: Int, isHugetlbfs: Bool
    ) {
        self.path = path
        self.uri = uri
        self.storedDescriptor = Atomic(descriptor)
        self.device = device
        self.inode = inode
        self.size = size
        self.isHugetlbfs = isHugetlbfs
    }

    deinit { close() }

    /// Closes the descriptor. Later calls, from any thread, do nothing.
    public func close() {
        let old = storedDescriptor.exchange(-1, ordering: .acquiringAndReleasing)
        guard old >= 0 else { return }
        #if canImport(Glibc)
            _ = Glibc.close(old)
        #endif
    }
}

/// Why an announced region path, a configured base directory or an open was refused (§15.21a.5, §15.22).
public enum PathContainmentError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of filesystem object a path names.
    public enum FileKind: String, Equatable, Hashable, Sendable, CustomStringConvertible {
        /// A regular file: the only kind a region may live in.
        case regular
        /// A directory.
        case directory
        /// A FIFO (named pipe).
        case fifo
        /// A Unix domain socket.
        case socket
        /// A character device.
        case characterDevice
        /// A block device.
        case blockDevice
        /// A symbolic link.
        case symlink
        /// Anything else `st_mode` can report.
        case other

        /// A short human-readable name.
        public var description: String {
            switch self {
            case .regular: "regular file"
            case .directory: "directory"
            case .fifo: "FIFO"
            case .socket: "socket"
            case .characterDevice: "character device"
            case .blockDevice: "block device"
            case .symlink: "symbolic link"
            case .other: "special file"
            }
        }
    }

    /// Why a configured base directory was refused.
    public enum InvalidBaseDirectoryReason: Equatable, Hashable, Sendable, CustomStringConvertible {
        /// The configured path is empty.
        case empty
        /// The configured path does not start with `/`.
        case notAbsolute
        /// The configured path contains a NUL character.
        case embeddedNUL
        /// `realpath` or `lstat` failed with this `errno` (e.g. `ENOENT`).
        case cannotResolve(errno: Int32)
        /// The configured path resolves to something other than a directory.
        case notADirectory(FileKind)

        /// A short human-readable reason.
        public var description: String {
            switch self {
            case .empty: "it is empty"
            case .notAbsolute: "it is not absolute"
            case .embeddedNUL: "it contains a NUL character"
            case .cannotResolve(let code): "it cannot be resolved (\(PathContainmentError.errnoText(code)))"
            case .notADirectory(let kind): "it is a \(kind), not a directory"
            }
        }
    }

    /// The announced path is empty.
    case emptyPath
    /// The announced path does not start with `/` (WIRE-15.21-028); carries the path.
    case relativePath(String)
    /// The announced path contains a NUL character, which the kernel would silently truncate at; carries the path.
    case embeddedNUL(String)
    /// The announced path has a `.` or `..` component; carries the path and the component.
    case traversalComponent(path: String, component: String)
    /// The final component of the path is a symbolic link (at check time, or swapped in before the open).
    case finalComponentIsSymlink(String)
    /// `lstat` or `realpath` failed (e.g. `ENOENT`, `ENOTDIR`, `ELOOP`, `EACCES`); carries the path and `errno`.
    case cannotResolve(path: String, errno: Int32)
    /// The canonical path is not strictly inside any allowed base directory (WIRE-15.21-031).
    case outsideAllowedBases(canonicalPath: String)
    /// The path names something other than a regular file (WIRE-15.21-032/033); carries the path and its kind.
    case notRegularFile(path: String, kind: FileKind)
    /// The file's identity (`st_dev`, `st_ino`) differs between the checks, or between the check and the opened
    /// descriptor: the file was replaced (WIRE-15.21-035); carries the canonical path.
    case changedAfterCheck(String)
    /// `open` (or `fcntl` on the new descriptor) failed; carries the path and `errno`.
    case openFailed(path: String, errno: Int32)
    /// `require_hugepages=true` but the file is not on hugetlbfs (WIRE-15.22-003); carries the canonical path.
    case notHugepageBacked(String)
    /// A configured allowed base directory is unusable; carries the path as configured and why.
    case invalidAllowedBaseDirectory(path: String, reason: InvalidBaseDirectoryReason)
    /// The policy was given no allowed base directories.
    case noAllowedBaseDirectories
    /// This platform offers no safe no-follow open with an identity check, so every mapping is refused
    /// (WIRE-15.21-036, WIRE-15.22-004/009).
    case unsupportedPlatform

    /// A one-line diagnostic naming the failed rule and the offending path.
    public var description: String {
        let q = RegionDiagnostics.quoted
        switch self {
        case .emptyPath:
            return "region path is empty"
        case .relativePath(let path):
            return "region path is not absolute: \(q(path))"
        case .embeddedNUL(let path):
            return "region path contains a NUL character: \(q(path))"
        case .traversalComponent(let path, let component):
            return "region path has a traversal component \(q(component)): \(q(path))"
        case .finalComponentIsSymlink(let path):
            return "region path's final component is a symbolic link: \(q(path))"
        case .cannotResolve(let path, let code):
            return "cannot resolve region path \(q(path)): \(Self.errnoText(code))"
        case .outsideAllowedBases(let path):
            return "region path is outside every allowed base directory: \(q(path))"
        case .notRegularFile(let path, let kind):
            return "region path is a \(kind), not a regular file: \(q(path))"
        case .changedAfterCheck(let path):
            return "region file was replaced after it was checked: \(q(path))"
        case .openFailed(let path, let code):
            return "cannot open region file \(q(path)): \(Self.errnoText(code))"
        case .notHugepageBacked(let path):
            return "region requires hugepages but is not on hugetlbfs: \(q(path))"
        case .invalidAllowedBaseDirectory(let path, let reason):
            return "invalid allowed base directory \(q(path)): \(reason)"
        case .noAllowedBaseDirectories:
            return "no allowed base directories are configured"
        case .unsupportedPlatform:
            return "SHM regions are refused on this platform: no safe no-follow open with an identity check"
        }
    }

    /// `strerror` text and number of an `errno` value.
    static func errnoText(_ code: Int32) -> String {
        #if canImport(Glibc)
            if let text = strerror(code) { return "\(String(cString: text)) (errno \(code))" }
        #endif
        return "errno \(code)"
    }
}

/// Whether files lie on hugetlbfs (`statfs` `f_type == HUGETLBFS_MAGIC`, 0x958458f6), and the default mount.
public enum Hugepages {
    /// `HUGETLBFS_MAGIC` from `<linux/magic.h>`.
    public static let hugetlbfsMagic: UInt32 = 0x9584_58F6

    /// The conventional hugetlbfs mount point.
    public static let conventionalMount = "/dev/hugepages"

    /// Whether an open descriptor lies on hugetlbfs (`fstatfs`); `false` when `fstatfs` fails or off Linux.
    ///
    /// - Parameter descriptor: An open file descriptor.
    /// - Returns: `true` only when the kernel reports hugetlbfs.
    public static func isHugetlbfs(descriptor: Int32) -> Bool {
        #if canImport(Glibc)
            return fileSystemType(descriptor: descriptor) == hugetlbfsMagic
        #else
            return false
        #endif
    }

    /// Whether a path lies on hugetlbfs (`statfs`, which follows symlinks); `false` when `statfs` fails or off Linux.
    ///
    /// - Parameter path: Any path; a mount point such as `/dev/hugepages` counts as lying on its filesystem.
    /// - Returns: `true` only when the kernel reports hugetlbfs.
    public static func isHugetlbfs(path: String) -> Bool {
        #if canImport(Glibc)
            return fileSystemType(path: path) == hugetlbfsMagic
        #else
            return false
        #endif
    }

    /// `/dev/hugepages` when it is a hugetlbfs directory this process can create files in, else `nil`.
    public static var defaultMount: String? {
        #if canImport(Glibc)
            let mount = conventionalMount
            guard isHugetlbfs(path: mount), access(mount, W_OK | X_OK) == 0 else { return nil }
            return mount
        #else
            return nil
        #endif
    }

    #if canImport(Glibc)
        /// The low 32 bits of `fstatfs(descriptor).f_type`, or `nil` when the call fails.
        static func fileSystemType(descriptor: Int32) -> UInt32? {
            FileSystemStatistics.of(descriptor: descriptor)?.type
        }

        /// The low 32 bits of `statfs(path).f_type`, or `nil` when the call fails.
        static func fileSystemType(path: String) -> UInt32? {
            FileSystemStatistics.of(path: path)?.type
        }

        /// `fstatfs(descriptor).f_bsize` (the hugepage size on hugetlbfs, the page size on tmpfs), or `nil` when the
        /// call fails. The Glibc module does not import `statfs`; use this instead of calling it.
        static func fileSystemBlockSize(descriptor: Int32) -> Int? {
            FileSystemStatistics.of(descriptor: descriptor)?.blockSize
        }
    #endif
}

#if canImport(Glibc)
    /// `statfs` and `fstatfs` through the `CLinuxVFS` shim (the Swift Glibc module does not import `<sys/vfs.h>`).
    enum FileSystemStatistics {
        /// The fields of `struct statfs` this module uses.
        struct Values: Hashable, Sendable {
            /// The low 32 bits of `f_type` (magic numbers are 32-bit, whatever the width and sign of the field).
            var type: UInt32
            /// `f_bsize`.
            var blockSize: Int
        }

        /// `fstatfs(descriptor)`, or `nil` when it fails.
        static func of(descriptor: Int32) -> Values? {
            guard descriptor >= 0 else { return nil }
            var info = statfs()
            guard fstatfs(descriptor, &info) == 0 else { return nil }
            return Values(type: UInt32(truncatingIfNeeded: info.f_type), blockSize: Int(info.f_bsize))
        }

        /// `statfs(path)` (following symlinks), or `nil` when it fails.
        static func of(path: String) -> Values? {
            guard !path.utf8.isEmpty, !path.utf8.contains(0) else { return nil }
            var info = statfs()
            guard statfs(path, &info) == 0 else { return nil }
            return Values(type: UInt32(truncatingIfNeeded: info.f_type), blockSize: Int(info.f_bsize))
        }
    }
#endif

/// Byte-wise path comparisons: UTF-8 bytes, never `String ==` (whose Unicode equivalence could equate two different
/// kernel paths).
enum PathBytes {
    /// Whether two paths are the same byte string.
    static func equal(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.elementsEqual(rhs.utf8)
    }

    /// Whether `path` is a proper descendant of `base` (component-wise): `base` + `/` is a prefix of `path` and
    /// something follows it. The root `/` contains every absolute path but itself.
    static func isStrictlyInside(_ path: String, base: String) -> Bool {
        let slash = UInt8(ascii: "/")
        let pathBytes = Array(path.utf8)
        var baseBytes = Array(base.utf8)
        while baseBytes.count > 1 && baseBytes.last == slash { baseBytes.removeLast() }
        if baseBytes == [slash] { return pathBytes.count > 1 && pathBytes.first == slash }
        guard pathBytes.count > baseBytes.count + 1 else { return false }
        return pathBytes.starts(with: baseBytes) && pathBytes[baseBytes.count] == slash
    }

    /// The first `.` or `..` component of `path`, if any.
    static func traversalComponent(in path: String) -> String? {
        for component in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if component.elementsEqual(".".utf8) { return "." }
            if component.elementsEqual("..".utf8) { return ".." }
        }
        return nil
    }
}

#if canImport(Glibc)
    /// Thin typed wrappers over `lstat`, `fstat` and `realpath`.
    enum FileSystem {
        /// What containment needs from a `stat` result.
        struct Info: Hashable, Sendable {
            /// File type.
            var kind: PathContainmentError.FileKind
            /// `st_dev`.
            var device: UInt64
            /// `st_ino`.
            var inode: UInt64
            /// `st_size`.
            var size: Int
        }

        /// `lstat(path)`: the final component is not followed.
        static func lstatInfo(_ path: String) throws(PathContainmentError) -> Info {
            var status = stat()
            guard lstat(path, &status) == 0 else { throw .cannotResolve(path: path, errno: errno) }
            return info(status)
        }

        /// `fstat(descriptor)`.
        static func fstatInfo(_ descriptor: Int32, path: String) throws(PathContainmentError) -> Info {
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { throw .openFailed(path: path, errno: errno) }
            return info(status)
        }

        /// `realpath(path)`: the canonical absolute path, every symlink and `.`/`..` resolved.
        static func realpath(_ path: String) throws(PathContainmentError) -> String {
            guard let resolved = Glibc.realpath(path, nil) else { throw .cannotResolve(path: path, errno: errno) }
            defer { free(resolved) }
            return String(cString: resolved)
        }

        private static func info(_ status: stat) -> Info {
            let kind: PathContainmentError.FileKind =
                switch status.st_mode & S_IFMT {
                case S_IFREG: .regular
                case S_IFDIR: .directory
                case S_IFIFO: .fifo
                case S_IFSOCK: .socket
                case S_IFCHR: .characterDevice
                case S_IFBLK: .blockDevice
                case S_IFLNK: .symlink
                default: .other
                }
            return Info(
                kind: kind, device: UInt64(status.st_dev), inode: UInt64(status.st_ino), size: Int(status.st_size))
        }
    }
#endif
