import CAeron

/// Settings for connecting an ``AeronClient`` to a media driver, in the spirit of the Java client's `Aeron.Context`.
///
/// A value type: build it, then pass it to ``AeronClient/init(context:)``, which copies what it needs into the C
/// context it owns. Settings left `nil` keep the C client's defaults (which also honour `AERON_*` environment
/// variables such as `AERON_DIR`).
public struct AeronContext: Sendable {
    /// The media driver's directory; `nil` uses `AERON_DIR` or Aeron's default (`/dev/shm/aeron-<user>` on Linux).
    public var directory: String?
    /// How long to wait for the media driver to respond before the client gives up on it.
    public var driverTimeout: Duration?
    /// Interval between client keepalives to the driver.
    public var keepaliveInterval: Duration?
    /// How long the client lingers resources (e.g. images) after they are released.
    public var resourceLingerDuration: Duration?
    /// How long the client conductor sleeps when idle (its `sleep-ns` idle strategy).
    public var idleSleepDuration: Duration?
    /// A name for this client, shown in the driver's counters.
    public var clientName: String?
    /// When `true`, the client starts no conductor thread: the caller must drive it with ``AeronClient/doWork()``.
    public var useConductorAgentInvoker: Bool = false
    /// Whether to pre-touch mapped log buffers when publications and images are created.
    public var preTouchMappedMemory: Bool?
    /// Receives asynchronous errors from the client conductor (e.g. driver timeout). Called on the conductor thread.
    ///
    /// The C client's own default handler prints and then exits the process; this wrapper always installs a handler,
    /// and when this property is `nil` it writes the error to standard error and carries on.
    public var errorHandler: (@Sendable (AeronError) -> Void)?

    /// Creates a context with every setting at its default.
    public init(directory: String? = nil) {
        self.directory = directory
    }

    /// Aeron's default directory for this user and platform (ignoring `AERON_DIR`).
    public static var defaultDirectory: String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { buffer in
            guard aeron_default_path(buffer.baseAddress, buffer.count) >= 0 else { return "/dev/shm/aeron" }
            return String(cString: buffer.baseAddress!)
        }
    }

    /// Whether a media driver is active in `directory`: its CnC file exists and its conductor's heartbeat is no older
    /// than `timeout`. The default is Aeron's default driver timeout (10 s), the age at which a client gives up on its
    /// driver: a busy machine can delay a live driver's heartbeat by far more than a fraction of a second.
    public static func isDriverActive(directory: String, timeout: Duration = .seconds(10)) -> Bool {
        // The C function calls its log function unconditionally, so it needs one.
        aeron_is_driver_active(directory, timeout.wholeMilliseconds, { _ in })
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `Int64.max`.
    @usableFromInline
    var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }

    /// The duration in whole milliseconds.
    var wholeMilliseconds: Int64 { wholeNanoseconds / 1_000_000 }

    /// The duration in nanoseconds as the C library's unsigned type, clamped at zero.
    var unsignedNanoseconds: UInt64 { UInt64(max(0, wholeNanoseconds)) }
}
