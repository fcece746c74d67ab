import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT and SIGTERM turned into a flag that a duty cycle polls: the non-blocking form of Agrona's
/// `ShutdownSignalBarrier`, for command-line roles that stop in order when asked.
///
/// The handler only stores the signal number (async-signal-safe); the role checks ``isRequested`` between duty
/// cycles, finishes what is in flight and exits.
public enum ShutdownSignal {
    private static let received = Atomic<Int32>(0)

    /// Installs the handlers for SIGINT and SIGTERM. Calling it again changes nothing.
    public static func install() {
        let handler: @convention(c) (Int32) -> Void = { number in
            ShutdownSignal.received.store(number, ordering: .relaxed)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
    }

    /// The last signal received (SIGINT or SIGTERM), or 0 when none was.
    public static var receivedSignal: Int32 { received.load(ordering: .relaxed) }

    /// Whether SIGINT or SIGTERM was received since ``install()``.
    public static var isRequested: Bool { receivedSignal != 0 }
}
