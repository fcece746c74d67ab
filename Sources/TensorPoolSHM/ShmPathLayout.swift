#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The canonical directory layout of SHM regions (§15.21a.3):
/// `<base>/tensorpool-<user>/<namespace>/<stream_id>/<epoch>/header.ring` and `<pool_id>.pool`.
///
/// Only producers and drivers use it to create files; consumers never derive paths and map only what an announce
/// names (§15.21a.4).
public struct ShmPathLayout: Hashable, Sendable {
    /// Root under which regions are created (`shm_base_dir`, default `/dev/shm`).
    public let baseDirectory: String
    /// Deployment namespace (default `default`).
    public let namespace: String
    /// Sanitised user component.
    public let user: String

    /// A layout under `baseDirectory` for `namespace` and `user` (the effective user when `nil`). Throws for a
    /// relative base or a namespace that is empty, `.`/`..`, or contains `/` or a NUL byte.
    public init(
        baseDirectory: String = "/dev/shm", namespace: String = "default", user: String? = nil
    )
        throws(RegionError)
    {
        guard baseDirectory.hasPrefix("/") else {
            throw .invalidGeometry("shm_base_dir \(baseDirectory) is not absolute")
        }
        guard !namespace.isEmpty, namespace != ".", namespace != "..",
            !namespace.contains("/"), !namespace.contains("\0")
        else { throw .invalidGeometry("namespace \(namespace) is not a single path component") }
        var base = baseDirectory
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        self.baseDirectory = base
        self.namespace = namespace
        self.user = Self.sanitizeUser(user ?? Self.effectiveUserName())
    }

    /// Replaces every character outside `[A-Za-z0-9._-]` with `_`, and a result that is empty or made only of dots
    /// with `_`-prefixed text, so the user component can never traverse (§15.21a.3, WIRE-15.21-022).
    public static func sanitizeUser(_ name: String) -> String {
        var sanitized = String(
            String.UnicodeScalarView(
                name.unicodeScalars.map { scalar in
                    switch scalar {
                    case "A"..."Z", "a"..."z", "0"..."9", ".", "_", "-": scalar
                    default: "_"
                    }
                }))
        if sanitized.isEmpty || sanitized.allSatisfy({ $0 == "." }) { sanitized = "_" + sanitized }
        return sanitized
    }

    /// The effective user's name from the password database, else `$USER`, else `uid<N>`.
    public static func effectiveUserName() -> String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            let text = String(cString: name)
            if !text.isEmpty { return text }
        }
        if let user = getenv("USER") { return String(cString: user) }
        return "uid\(geteuid())"
    }

    /// `<base>/tensorpool-<user>/<namespace>/<stream_id>`: the root holding a stream's epoch directories.
    public func streamDirectory(streamId: UInt32) -> String {
        "\(baseDirectory == "/" ? "" : baseDirectory)/tensorpool-\(user)/\(namespace)/\(streamId)"
    }

    /// `<stream directory>/<epoch>`.
    public func epochDirectory(streamId: UInt32, epoch: UInt64) -> String {
        "\(streamDirectory(streamId: streamId))/\(epoch)"
    }

    /// `<epoch directory>/header.ring`.
    public func headerRingPath(streamId: UInt32, epoch: UInt64) -> String {
        "\(epochDirectory(streamId: streamId, epoch: epoch))/header.ring"
    }

    /// `<epoch directory>/<pool_id>.pool`.
    public func payloadPoolPath(streamId: UInt32, epoch: UInt64, poolId: UInt16) -> String {
        "\(epochDirectory(streamId: streamId, epoch: epoch))/\(poolId).pool"
    }
}
