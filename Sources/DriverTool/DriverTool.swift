import Aeron
import Agents
import ArgumentParser
import DriverClient
import DriverConfig
import Foundation
import Logging
import TensorPoolDriver
import TensorPoolWire

#if canImport(Glibc)
    import Glibc
#endif

/// `tp-driver`: the SHM driver, and small clients of it.
@main
struct DriverTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tp-driver",
        abstract: "The SHM Tensor Pool driver: owns SHM files, epochs and leases; clients attach over Aeron.",
        subcommands: [Run.self, Attach.self, Shutdown.self],
        defaultSubcommand: Run.self)
}

/// Options naming the Aeron media driver to use.
struct MediaDriverOptions: ParsableArguments {
    @Option(
        help:
            "Aeron directory of an external media driver (default: the configuration's driver.aeron_dir, else Aeron's default)."
    )
    var aeronDir: String?

    @Flag(help: "Run an embedded Aeron media driver in a private directory (for demos and tests).")
    var embeddedMediaDriver = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func bootstrapLogging() {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Runs the driver until SIGINT/SIGTERM, a valid shutdown request, or a fatal error.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the driver from a TOML configuration.")

    @Option(help: "The driver's TOML configuration (see Tools/config/driver-example.toml).")
    var config: String

    @OptionGroup var media: MediaDriverOptions

    @Flag(help: "Unlink the current epochs' SHM files when the driver exits.")
    var cleanupOnExit = false

    @Option(help: "Drain time on SIGINT/SIGTERM in milliseconds (default: policies.shutdown_timeout_ms).")
    var drainMs: UInt64?

    func run() throws {
        media.bootstrapLogging()
        let logger = Logger(label: "tp-driver")
        let configuration: DriverConfiguration
        do {
            configuration = try DriverConfiguration.load(path: config)
        } catch {
            logger.critical("bad configuration: \(error)")
            throw ExitCode(2)
        }
        var embedded: MediaDriver?
        var context = AeronContext(directory: media.aeronDir ?? configuration.driver.aeronDir)
        if media.embeddedMediaDriver {
            let driver = try MediaDriver(.init(directory: nil))
            context.directory = driver.directory
            embedded = driver
            logger.info("embedded media driver in \(driver.directory)")
            print("aeron-dir: \(driver.directory)")
        }
        let client = try AeronClient(context: context)
        let agent = try DriverAgent(configuration: configuration, client: client, logger: logger)
        ShutdownSignal.install()  // SIGINT/SIGTERM: the run loop turns it into an orderly shutdown
        print(
            "tp-driver \(configuration.driver.instanceId) running: control \(configuration.driver.controlChannel) stream \(configuration.driver.controlStreamId)"
        )
        fflush(nil)
        var idle = BackoffIdleStrategy()
        var stopping = false
        while true {
            if !stopping, ShutdownSignal.isRequested {
                stopping = true
                agent.core.beginShutdown(reason: .normal, drainNs: drainMs.map { $0 * 1_000_000 })
            }
            do {
                idle.idle(workCount: try agent.doWork())
            } catch is AgentTermination {
                break
            }
        }
        agent.onClose()
        agent.core.close(unlinkFiles: cleanupOnExit || configuration.policies.cleanupShmOnExit)
        client.close()
        embedded?.close()
        logger.notice("tp-driver stopped")
    }
}

/// Where a client command finds the driver: the media driver's directory and the driver's control endpoint.
struct ControlEndpoint: ParsableArguments {
    @Option(help: "Aeron directory of the media driver the driver uses.")
    var aeronDir: String?

    @Option(help: "Control channel.")
    var controlChannel = "aeron:ipc?term-length=4m"

    @Option(help: "Control stream id.")
    var controlStreamId: Int32 = 1000
}

/// Attaches to a stream and keeps the lease alive: a stand-in client for tests and operations.
struct Attach: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach to a stream and hold the lease (keepalives) until killed.")

    @OptionGroup var control: ControlEndpoint

    @Option(help: "Stream to attach to.")
    var stream: UInt32

    @Option(help: "producer or consumer.")
    var role: String = "consumer"

    @Option(help: "Client id (0 = random).")
    var clientId: UInt32 = 0

    @Option(help: "Hold the lease this many seconds, then detach (default: until killed).")
    var seconds: Double?

    /// The client's keepalive interval (`DriverClient.Options.keepaliveIntervalNs`), for tests that set it.
    @Option(help: "Keepalive interval in ms (default: the client's, 1000).")
    var keepaliveIntervalMs: UInt64?

    /// How long one attach attempt waits for its answer (`DriverClient.Options.attemptTimeoutNs`).
    @Option(help: "How long one attach attempt waits for the driver's answer, in ms (default: the client's, 1000).")
    var attemptTimeoutMs: UInt64?

    @Option(help: "Give up attaching after this many seconds.")
    var attachTimeout: Double = 10

    func run() throws {
        let client = try AeronClient(context: AeronContext(directory: control.aeronDir))
        var options = DriverClient.Options()
        if let keepaliveIntervalMs { options.keepaliveIntervalNs = keepaliveIntervalMs * 1_000_000 }
        if let attemptTimeoutMs { options.attemptTimeoutNs = attemptTimeoutMs * 1_000_000 }
        let driver = try DriverClient(
            aeron: client, controlChannel: control.controlChannel, controlStreamId: control.controlStreamId,
            clientId: clientId, options: options)
        let grant = try driver.attach(
            streamId: stream, role: role == "producer" ? .producer : .consumer,
            timeout: .milliseconds(Int64(attachTimeout * 1_000)))
        print(
            "attached lease=\(grant.leaseId) stream=\(grant.streamId) epoch=\(grant.epoch) client=\(grant.clientId) header=\(grant.regions.headerRegionURI)"
        )
        fflush(nil)
        let end = seconds.map { ContinuousClock.now + .milliseconds(Int64($0 * 1_000)) }  // monotonic, not wall time
        while end.map({ ContinuousClock.now < $0 }) ?? true {
            driver.doWork()
            for event in driver.drainEvents() {
                print("event \(event)")
                fflush(nil)
            }
            usleep(1_000)
        }
        let code = try driver.detach(grant)
        print("detached \(code)")
    }
}

/// Asks a driver to shut down (token-gated, §4.13).
struct Shutdown: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a ShmDriverShutdownRequest with a token.")

    @OptionGroup var control: ControlEndpoint

    @Option(help: "The driver's policies.shutdown_token.")
    var token: String

    func run() throws {
        let client = try AeronClient(context: AeronContext(directory: control.aeronDir))
        let publication = try client.addPublication(channel: control.controlChannel, streamId: control.controlStreamId)
        var bytes = [UInt8](repeating: 0, count: 2048)
        let length = try bytes.withUnsafeMutableBytes { buffer in
            var encoder = try DriverSchema.ShmDriverShutdownRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = Int64.random(in: 1...Int64.max)
            encoder.reason = .admin
            try encoder.token(token)
            try encoder.errorMessage("")
            return 8 + encoder.encodedLength
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if case .success = bytes.withUnsafeBytes({
                publication.offer(UnsafeRawBufferPointer(rebasing: $0[0..<length]))
            }) {
                print("shutdown requested")
                return
            }
            usleep(10_000)
        }
        throw ValidationError("the driver's control stream has no subscriber")
    }
}
