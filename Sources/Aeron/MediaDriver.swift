import CAeron
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An Aeron C media driver embedded in this process.
///
/// Starts the driver's agents on their own threads in a given directory or in a fresh temporary one, and stops them
/// on ``close()``. Tests use one embedded driver per process; applications may instead point their clients at an
/// external `aeronmd` through ``AeronContext/directory``.
public final class MediaDriver: @unchecked Sendable {
    /// How the driver spreads its conductor, sender and receiver agents over threads.
    public enum ThreadingMode: Sendable {
        /// One thread each for the conductor, sender and receiver.
        case dedicated
        /// One thread for the conductor and one shared by sender and receiver.
        case sharedNetwork
        /// One thread for all three agents: the lightest mode, used by tests.
        case shared

        var cValue: aeron_threading_mode_t {
            switch self {
            case .dedicated: return AERON_THREADING_MODE_DEDICATED
            case .sharedNetwork: return AERON_THREADING_MODE_SHARED_NETWORK
            case .shared: return AERON_THREADING_MODE_SHARED
            }
        }
    }

    /// An idle strategy of the C driver's agents.
    public enum IdleStrategy: Sendable, Equatable {
        /// Spin without pausing (`spin`): lowest latency, burns a core.
        case busySpin
        /// Return immediately (`noop`).
        case noOp
        /// `sched_yield` when idle (`yield`).
        case yielding
        /// Sleep for a fixed period when idle (`sleep-ns`).
        case sleeping(Duration)
        /// Spin, then yield, then park with exponential back-off (`backoff`), with Aeron's default parameters or
        /// the given ones.
        case backoff(
            maxSpins: Int = 10, maxYields: Int = 20, minPark: Duration = .microseconds(1),
            maxPark: Duration = .milliseconds(1))

        /// The strategy's name and init-args string in the C driver's configuration syntax.
        var configuration: (name: String, arguments: String?) {
            switch self {
            case .busySpin: return ("spin", nil)
            case .noOp: return ("noop", nil)
            case .yielding: return ("yield", nil)
            case .sleeping(let period): return ("sleep-ns", "\(max(1, period.wholeNanoseconds))ns")
            case .backoff(let spins, let yields, let minPark, let maxPark):
                return (
                    "backoff",
                    "\(spins)-\(yields)-\(max(1, minPark.wholeNanoseconds / 1000))us-"
                        + "\(max(1, maxPark.wholeNanoseconds / 1000))us"
                )
            }
        }
    }

    /// How to start the driver. Settings left `nil` keep the C driver's defaults (and its `AERON_*` environment).
    public struct Configuration: Sendable {
        /// The driver directory; `nil` creates a unique one under `/dev/shm` (or `$TMPDIR`).
        public var directory: String?
        /// Agent threading; ``ThreadingMode/shared`` by default to leave cores to the application.
        public var threadingMode: ThreadingMode = .shared
        /// Idle strategy of the shared agent in ``ThreadingMode/shared`` mode.
        public var sharedIdleStrategy: IdleStrategy = .backoff()
        /// Idle strategy of the conductor in the other modes.
        public var conductorIdleStrategy: IdleStrategy?
        /// Idle strategy of the sender in ``ThreadingMode/dedicated`` mode.
        public var senderIdleStrategy: IdleStrategy?
        /// Idle strategy of the receiver in ``ThreadingMode/dedicated`` mode.
        public var receiverIdleStrategy: IdleStrategy?
        /// Idle strategy of the shared sender/receiver in ``ThreadingMode/sharedNetwork`` mode.
        public var sharedNetworkIdleStrategy: IdleStrategy?
        /// Delete an existing directory unconditionally when starting.
        ///
        /// Off by default: the driver then refuses a directory whose driver is still active (an ``AeronError`` with
        /// code `EBUSY`) and clears only a stale one. Turn it on only for directories no live driver can own.
        public var deleteDirectoryOnStart: Bool = false
        /// Delete the directory when the driver closes.
        public var deleteDirectoryOnShutdown: Bool = true
        /// Term length of network publications (default 16 MiB); a power of two from 64 KiB to 1 GiB.
        public var termBufferLength: Int?
        /// Term length of IPC publications (default 64 MiB).
        public var ipcTermBufferLength: Int?
        /// MTU of network publications (default 1408).
        public var mtuLength: Int?
        /// MTU of IPC publications.
        public var ipcMtuLength: Int?
        /// How long a closed publication's log lingers so late subscribers can drain it (default 5 s).
        public var publicationLingerTimeout: Duration?
        /// How long an image without data or heartbeat stays alive (default 10 s).
        public var imageLivenessTimeout: Duration?
        /// How long a client may go silent before the driver releases its resources (default 10 s).
        public var clientLivenessTimeout: Duration?
        /// How long a network publication waits for a status message before reporting not connected (default 5 s).
        public var publicationConnectionTimeout: Duration?
        /// The driver's internal timer interval (default 1 ms).
        public var timerInterval: Duration?
        /// Whether spy subscriptions count as connected subscribers.
        public var spiesSimulateConnection: Bool?
        /// Whether to make term buffer files sparse (faster to start, may fault later).
        public var termBufferSparseFile: Bool?
        /// Whether the driver prints its configuration when starting.
        public var printConfiguration: Bool = false

        /// Creates a configuration with the embedded-driver defaults above.
        public init(directory: String? = nil) {
            self.directory = directory
        }

        /// Settings that keep tests light on a small machine: shared threading with back-off, 4 MiB terms, and a
        /// short publication linger so closed streams disappear quickly.
        ///
        /// The network liveness timeouts stay at Aeron's defaults (image liveness 10 s, publication connection 5 s):
        /// tests run on busy machines, and a driver descheduled for a second or two must not drop a live UDP image or
        /// a publication's connection (IPC streams use neither timeout).
        public static func forTesting(directory: String? = nil) -> Configuration {
            var configuration = Configuration(directory: directory)
            configuration.termBufferLength = 4 << 20
            configuration.ipcTermBufferLength = 4 << 20
            configuration.termBufferSparseFile = true
            configuration.publicationLingerTimeout = .milliseconds(200)
            configuration.imageLivenessTimeout = .seconds(10)
            configuration.publicationConnectionTimeout = .seconds(5)
            return configuration
        }
    }

    private let contextHandle: OpaquePointer
    private let driverHandle: OpaquePointer
    private let closedFlag = Atomic<Bool>(false)
    /// The directory the driver runs in; point clients at it with ``AeronContext/directory``.
    public let directory: String

    /// Starts an embedded media driver.
    ///
    /// - Throws: ``AeronError`` when the configuration is rejected or the driver fails to start (for example because
    ///   another active driver owns the directory and ``Configuration/deleteDirectoryOnStart`` is off).
    public init(_ configuration: Configuration = Configuration()) throws(AeronError) {
        clearAeronError()
        var contextPointer: OpaquePointer?
        try check(aeron_driver_context_init(&contextPointer), "aeron_driver_context_init")
        let context = contextPointer!
        let directory = configuration.directory ?? Self.makeTemporaryDirectoryName()
        do {
            try Self.apply(configuration, directory: directory, to: context)
        } catch {
            Self.closeUnstarted(context)
            throw error
        }
        var driverPointer: OpaquePointer?
        if aeron_driver_init(&driverPointer, context) < 0 || driverPointer == nil {
            // aeron_driver_init frees its driver on failure; the directory may belong to another, active driver.
            let error = AeronError.lastError("aeron_driver_init(\(directory))")
            Self.closeUnstarted(context)
            throw error
        }
        if aeron_driver_start(driverPointer!, false) < 0 {
            let error = AeronError.lastError("aeron_driver_start(\(directory))")
            aeron_driver_close(driverPointer!)
            aeron_driver_context_close(context)
            throw error
        }
        self.contextHandle = context
        self.driverHandle = driverPointer!
        self.directory = aeron_driver_context_get_dir(context).map { String(cString: $0) } ?? directory
    }

    deinit { close() }

    /// Stops the driver's agents and, when configured, deletes its directory. Safe to call more than once.
    ///
    /// Close every client of this driver first; a client whose driver disappears reports a driver timeout.
    public func close() {
        guard closedFlag.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        aeron_driver_close(driverHandle)
        aeron_driver_context_close(contextHandle)
    }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { closedFlag.load(ordering: .acquiring) }

    /// The version of the bundled Aeron C library, e.g. `1.53.0-SNAPSHOT`.
    public static var aeronVersion: String { String(cString: aeron_version_text()) }

    /// Closes the context of a driver that never started without deleting its directory, which is then not ours:
    /// it may be another, active driver's.
    private static func closeUnstarted(_ context: OpaquePointer) {
        _ = aeron_driver_context_set_dir_delete_on_shutdown(context, false)
        aeron_driver_context_close(context)
    }

    private static func apply(
        _ configuration: Configuration, directory: String, to context: OpaquePointer
    )
        throws(AeronError)
    {
        try check(aeron_driver_context_set_dir(context, directory), "aeron_driver_context_set_dir")
        try check(
            aeron_driver_context_set_threading_mode(context, configuration.threadingMode.cValue),
            "aeron_driver_context_set_threading_mode")
        try check(
            aeron_driver_context_set_dir_delete_on_start(context, configuration.deleteDirectoryOnStart),
            "aeron_driver_context_set_dir_delete_on_start")
        try check(
            aeron_driver_context_set_dir_delete_on_shutdown(context, configuration.deleteDirectoryOnShutdown),
            "aeron_driver_context_set_dir_delete_on_shutdown")
        try check(
            aeron_driver_context_set_print_configuration(context, configuration.printConfiguration),
            "aeron_driver_context_set_print_configuration")

        // Init args must be set before the strategy itself, or the strategy is built with default arguments.
        typealias Setter = (OpaquePointer?, UnsafePointer<CChar>?) -> Int32
        func setIdle(
            _ strategy: IdleStrategy?, _ name: String, _ setArgs: Setter, _ setName: Setter
        )
            throws(AeronError)
        {
            guard let strategy else { return }
            let (strategyName, arguments) = strategy.configuration
            if let arguments {
                try check(setArgs(context, arguments), "aeron_driver_context_set_\(name)_idle_strategy_init_args")
            }
            try check(setName(context, strategyName), "aeron_driver_context_set_\(name)_idle_strategy")
        }
        try setIdle(
            configuration.sharedIdleStrategy, "shared",
            aeron_driver_context_set_shared_idle_strategy_init_args, aeron_driver_context_set_shared_idle_strategy)
        try setIdle(
            configuration.conductorIdleStrategy, "conductor",
            aeron_driver_context_set_conductor_idle_strategy_init_args,
            aeron_driver_context_set_conductor_idle_strategy)
        try setIdle(
            configuration.senderIdleStrategy, "sender",
            aeron_driver_context_set_sender_idle_strategy_init_args, aeron_driver_context_set_sender_idle_strategy)
        try setIdle(
            configuration.receiverIdleStrategy, "receiver",
            aeron_driver_context_set_receiver_idle_strategy_init_args,
            aeron_driver_context_set_receiver_idle_strategy)
        try setIdle(
            configuration.sharedNetworkIdleStrategy, "sharednetwork",
            aeron_driver_context_set_sharednetwork_idle_strategy_init_args,
            aeron_driver_context_set_sharednetwork_idle_strategy)

        if let length = configuration.termBufferLength {
            try check(
                aeron_driver_context_set_term_buffer_length(context, length),
                "aeron_driver_context_set_term_buffer_length")
        }
        if let length = configuration.ipcTermBufferLength {
            try check(
                aeron_driver_context_set_ipc_term_buffer_length(context, length),
                "aeron_driver_context_set_ipc_term_buffer_length")
        }
        if let mtu = configuration.mtuLength {
            try check(aeron_driver_context_set_mtu_length(context, mtu), "aeron_driver_context_set_mtu_length")
        }
        if let mtu = configuration.ipcMtuLength {
            try check(aeron_driver_context_set_ipc_mtu_length(context, mtu), "aeron_driver_context_set_ipc_mtu_length")
        }
        if let sparse = configuration.termBufferSparseFile {
            try check(
                aeron_driver_context_set_term_buffer_sparse_file(context, sparse),
                "aeron_driver_context_set_term_buffer_sparse_file")
        }
        if let spies = configuration.spiesSimulateConnection {
            try check(
                aeron_driver_context_set_spies_simulate_connection(context, spies),
                "aeron_driver_context_set_spies_simulate_connection")
        }
        typealias NanosSetter = (OpaquePointer?, UInt64) -> Int32
        let timeouts: [(Duration?, NanosSetter, String)] = [
            (
                configuration.publicationLingerTimeout, aeron_driver_context_set_publication_linger_timeout_ns,
                "publication_linger_timeout_ns"
            ),
            (
                configuration.imageLivenessTimeout, aeron_driver_context_set_image_liveness_timeout_ns,
                "image_liveness_timeout_ns"
            ),
            (
                configuration.clientLivenessTimeout, aeron_driver_context_set_client_liveness_timeout_ns,
                "client_liveness_timeout_ns"
            ),
            (
                configuration.publicationConnectionTimeout, aeron_driver_context_set_publication_connection_timeout_ns,
                "publication_connection_timeout_ns"
            ),
            (configuration.timerInterval, aeron_driver_context_set_timer_interval_ns, "timer_interval_ns"),
        ]
        for (value, setter, name) in timeouts {
            guard let value else { continue }
            try check(setter(context, value.unsignedNanoseconds), "aeron_driver_context_set_\(name)")
        }
    }

    private static let temporaryCounter = Atomic<Int>(0)

    /// A directory name no other process uses: `<base>/aeron-tp-<pid>-<n>-<random>`, base `/dev/shm` when present.
    static func makeTemporaryDirectoryName() -> String {
        var base = "/dev/shm"
        if access(base, W_OK) != 0 {
            base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        }
        let sequence = temporaryCounter.wrappingAdd(1, ordering: .relaxed).newValue
        let random = UInt32.random(in: 0...UInt32.max)
        let hex = String(random, radix: 16)
        return "\(base)/aeron-tp-\(getpid())-\(sequence)-\(hex)"
    }
}
