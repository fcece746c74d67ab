import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why creating, mapping or using an SHM region failed.
public enum RegionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed.
    case system(operation: String, path: String, errno: Int32)
    /// The region's URI is invalid.
    case uri(RegionURIError)
    /// The announced path failed containment validation (§15.21a.5).
    case containment(PathContainmentError)
    /// The backing file is smaller than the announced geometry requires.
    case fileTooSmall(path: String, size: Int, required: Int)
    /// The region was required to be hugepage-backed and is not (§15.22).
    case notHugepageBacked(path: String)
    /// Locking the mapping into memory was requested and failed.
    case lockFailed(path: String, errno: Int32)
    /// The requested or announced geometry is not allowed (slot count, stride, size or pool set).
    case invalidGeometry(String)
    /// The superblock does not match what was expected (§7.1, §15.1).
    case superblock(path: String, SuperblockMismatch)
    /// A directory on the way to a region belongs to another user or is writable by others (§15.21a.6).
    case unsafeDirectory(path: String, owner: UInt32, mode: UInt32)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .system(let operation, let path, let code):
            "\(operation) failed for \(path): \(String(cString: strerror(code))) (errno \(code))"
        case .uri(let error): "invalid region URI: \(error)"
        case .containment(let error): "region path rejected: \(error)"
        case .fileTooSmall(let path, let size, let required):
            "\(path) holds \(size) bytes, the announced geometry needs \(required)"
        case .notHugepageBacked(let path): "\(path) is not on hugetlbfs but hugepages are required"
        case .lockFailed(let path, let code):
            "mlock of \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .invalidGeometry(let reason): "invalid region geometry: \(reason)"
        case .superblock(let path, let mismatch): "superblock of \(path) rejected: \(mismatch)"
        case .unsafeDirectory(let path, let owner, let mode):
            "\(path) is owned by uid \(owner) with mode \(String(mode, radix: 8)): not a private directory of this user"
        }
    }
}

/// How the driver creates region files.
public struct RegionCreateOptions: Hashable, Sendable {
    /// Mode of the region files (default `0660`: owner and group, §15.14 and §15.21a.6).
    public var fileMode: UInt32 = 0o660
    /// Mode of directories created on the way (default `02770`: setgid, owner and group).
    public var directoryMode: UInt32 = 0o2770
    /// Reserve (`posix_fallocate`, so a full file system is an error now rather than a `SIGBUS` later) and touch every
    /// page at creation, so that the first frames do not fault.
    public var prefault: Bool = false
    /// Lock the mapping into memory; a failing `mlock` is an error.
    public var lockMemory: Bool = false
    /// Require the file to be on hugetlbfs (checked with `fstatfs`); the size is rounded up to the hugepage size.
    public var requireHugepages: Bool = false

    /// The defaults: `0660` files, `02770` directories, no prefault, no lock, no hugepages.
    public init() {}
}

/// A file-backed shared mapping of one SHM region.
///
/// Unmapping is explicit (``unmap()``) and safe to repeat; the deinitialiser unmaps what is still mapped. Views of
/// the mapped bytes (frames, slot claims) are valid only while the region is mapped: the single-writer agent that
/// owns the region must not unmap it while a view is in use. (Sendable: the mapping's address and length never change;
/// the mapped flag is an atomic, and only the first ``unmap()`` to clear it calls `munmap`.)
public final class MappedRegion: @unchecked Sendable {
    /// Path of the backing file (canonical for mapped regions).
    public let path: String
    /// Start of the mapping. Writable only when ``isWritable``.
    public let base: UnsafeMutableRawPointer
    /// Length of the mapping in bytes.
    public let length: Int
    /// Whether the mapping is read-write.
    public let isWritable: Bool
    /// Whether the backing file is on hugetlbfs.
    public let isHugetlbfs: Bool
    private let mapped = Atomic<Bool>(true)

    private init(path: String, base: UnsafeMutableRawPointer, length: Int, writable: Bool, hugetlbfs: Bool) {
        self.path = path
        self.base = base
        self.length = length
        self.isWritable = writable
        self.isHugetlbfs = hugetlbfs
    }

    /// Whether the region is still mapped.
    public var isMapped: Bool { mapped.load(ordering: .acquiring) }

    /// The mapped bytes.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: length) }

    /// The mapped bytes, for a writable region.
    public var mutableBytes: UnsafeMutableRawBufferPointer {
        precondition(isWritable, "region \(path) is mapped read-only")
        return UnsafeMutableRawBufferPointer(start: base, count: length)
    }

    /// Unmaps the region. Repeating it does nothing.
    public func unmap() {
        if mapped.exchange(false, ordering: .acquiringAndReleasing) { munmap(base, length) }
    }

    deinit { unmap() }

    /// Creates the file at `path` (replacing any file already there), sizes it to `size` bytes and maps it
    /// read-write.
    ///
    /// A file already at `path` is unlinked and a new one created with `O_EXCL | O_NOFOLLOW`: a process that still
    /// maps the old file keeps its pages (no `SIGBUS` from truncation), and a symlink planted at `path` is removed, never
    /// followed. Missing parent directories are created with `options.directoryMode`; the file gets
    /// `options.fileMode` regardless of the umask. Directories strictly below `privateRoot` (the shared base such as
    /// `/dev/shm`) must be real directories owned by this user and not writable by others, whether created here or
    /// found, so another user cannot pre-create them. On any failure the new file is removed. The caller writes the
    /// superblock and then calls ``sync()`` before announcing the region (§15.14).
    public static func create(
        path: String, size: Int, options: RegionCreateOptions = .init(), privateRoot: String? = nil
    ) throws(RegionError) -> MappedRegion {
        guard path.hasPrefix("/") else { throw .invalidGeometry("region path \(path) is not absolute") }
        guard size > 0 else { throw .invalidGeometry("region size \(size) is not positive") }
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        try makeDirectories(parent.isEmpty ? "/" : parent, mode: options.directoryMode, privateRoot: privateRoot)
        if Glibc.unlink(path) != 0 && errno != ENOENT { throw .system(operation: "unlink", path: path, errno: errno) }
        let descriptor = Glibc.open(
            path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(options.fileMode))
        guard descriptor >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        defer { close(descriptor) }
        do throws(RegionError) {
            guard fchmod(descriptor, mode_t(options.fileMode)) == 0 else {
                throw .system(operation: "fchmod", path: path, errno: errno)
            }
            let hugetlbfs = Hugepages.isHugetlbfs(descriptor: descriptor)
            if options.requireHugepages && !hugetlbfs { throw .notHugepageBacked(path: path) }
            var fileSize = size
            if hugetlbfs {
                let page = Hugepages.pageSize(descriptor: descriptor)
                if page > 0 { fileSize = (size + page - 1) / page * page }
            }
            guard ftruncate(descriptor, off_t(fileSize)) == 0 else {
                throw .system(operation: "ftruncate", path: path, errno: errno)
            }
            if options.prefault {
                // Reserve the pages now: on a full tmpfs this fails with ENOSPC here, instead of a SIGBUS later
                // when a page is first touched.
                let result = posix_fallocate(descriptor, 0, off_t(fileSize))
                guard result == 0 else { throw .system(operation: "posix_fallocate", path: path, errno: result) }
            }
            let region = try mapDescriptor(
                descriptor, path: path, length: size, writable: true, hugetlbfs: hugetlbfs)
            if options.prefault { region.prefault() }
            if options.lockMemory { try region.lock() }
            return region
        } catch {
            _ = Glibc.unlink(path)
            throw error
        }
    }

    /// Maps a file that passed containment validation (``PathPolicy/open(_:writable:)``), after checking it holds at
    /// least `length` bytes and, when its URI requires it, that it is on hugetlbfs. `populate` faults every page in
    /// at mapping time (`MAP_POPULATE`), so the first lap over the ring takes no page faults.
    public static func map(
        _ file: RegionFile, length: Int, writable: Bool, lockMemory: Bool = false, populate: Bool = false
    ) throws(RegionError)
        -> MappedRegion
    {
        guard length > 0 else { throw .invalidGeometry("mapping length \(length) is not positive") }
        let descriptor = file.descriptor
        guard descriptor >= 0 else { throw .system(operation: "map", path: file.path, errno: EBADF) }
        if file.uri.requireHugepages && !file.isHugetlbfs { throw .notHugepageBacked(path: file.path) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system(operation: "fstat", path: file.path, errno: errno) }
        guard Int(status.st_size) >= length else {
            throw .fileTooSmall(path: file.path, size: Int(status.st_size), required: length)
        }
        let region = try mapDescriptor(
            descriptor, path: file.path, length: length, writable: writable, hugetlbfs: file.isHugetlbfs,
            populate: populate)
        if lockMemory { try region.lock() }
        return region
    }

    /// Removes the file at `path`; a file that is already gone is not an error.
    public static func unlink(path: String) throws(RegionError) {
        if Glibc.unlink(path) != 0 && errno != ENOENT { throw .system(operation: "unlink", path: path, errno: errno) }
    }

    /// Flushes the mapping and the file to the backing store (`msync` + `fsync` semantics for tmpfs are cheap).
    public func sync() throws(RegionError) {
        guard isMapped else { return }
        guard msync(base, length, MS_SYNC) == 0 else { throw .system(operation: "msync", path: path, errno: errno) }
    }

    /// Writes one byte per page (of the mapping's page size) so every page is resident.
    public func prefault() {
        guard isWritable, isMapped else { return }
        let page = max(Int(sysconf(Int32(_SC_PAGESIZE))), 4096)
        var offset = 0
        while offset < length {
            let pointer = base.advanced(by: offset).assumingMemoryBound(to: UInt8.self)
            pointer.pointee = pointer.pointee
            offset += page
        }
    }

    /// Locks the mapping into memory.
    public func lock() throws(RegionError) {
        guard mlock(base, length) == 0 else { throw .lockFailed(path: path, errno: errno) }
    }

    private static func mapDescriptor(
        _ descriptor: Int32, path: String, length: Int, writable: Bool, hugetlbfs: Bool, populate: Bool = false
    ) throws(RegionError) -> MappedRegion {
        let protection = writable ? (PROT_READ | PROT_WRITE) : PROT_READ
        let address = mmap(nil, length, protection, MAP_SHARED | (populate ? MAP_POPULATE : 0), descriptor, 0)
        guard let address, address != MAP_FAILED else { throw .system(operation: "mmap", path: path, errno: errno) }
        return MappedRegion(path: path, base: address, length: length, writable: writable, hugetlbfs: hugetlbfs)
    }

    /// Creates `directory` and its missing parents with `mode`. Directories strictly below `privateRoot` must be
    /// real directories (not symlinks) owned by the effective user and not writable by others.
    private static func makeDirectories(_ directory: String, mode: UInt32, privateRoot: String?) throws(RegionError) {
        let isPrivate =
            privateRoot.map { root in
                directory.utf8.count > root.utf8.count && directory.hasPrefix(root.hasSuffix("/") ? root : root + "/")
            } ?? false
        var status = stat()
        if lstat(directory, &status) != 0 {
            let parent = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
            if !parent.isEmpty { try makeDirectories(parent, mode: mode, privateRoot: privateRoot) }
            if mkdir(directory, mode_t(mode)) != 0 && errno != EEXIST {
                throw .system(operation: "mkdir", path: directory, errno: errno)
            }
            guard lstat(directory, &status) == 0 else {
                throw .system(operation: "lstat", path: directory, errno: errno)
            }
            // mkdir applies the umask; set the requested mode (setgid included) explicitly, on a directory we own.
            if status.st_mode & S_IFMT == S_IFDIR && status.st_uid == geteuid() {
                guard chmod(directory, mode_t(mode)) == 0 else {
                    throw .system(operation: "chmod", path: directory, errno: errno)
                }
                status.st_mode = (status.st_mode & S_IFMT) | mode_t(mode)
            }
        }
        if isPrivate {
            guard status.st_mode & S_IFMT == S_IFDIR else {
                throw .system(
                    operation: "mkdir", path: directory, errno: status.st_mode & S_IFMT == S_IFLNK ? ELOOP : ENOTDIR)
            }
            guard status.st_uid == geteuid(), status.st_mode & mode_t(S_IWOTH) == 0 else {
                throw .unsafeDirectory(path: directory, owner: status.st_uid, mode: UInt32(status.st_mode & 0o7777))
            }
        } else {
            // Outside the private part (the shared base and above) only "is a directory" matters; follow symlinks.
            guard stat(directory, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
                throw .system(operation: "mkdir", path: directory, errno: ENOTDIR)
            }
        }
    }
}

extension Hugepages {
    /// The block size `fstatfs` reports for the file system of `descriptor` (the hugepage size on hugetlbfs), or 0.
    public static func pageSize(descriptor: Int32) -> Int {
        #if canImport(Glibc)
            return FileSystemStatistics.of(descriptor: descriptor)?.blockSize ?? 0
        #else
            return 0
        #endif
    }
}
