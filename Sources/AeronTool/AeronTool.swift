import Aeron
import AeronPerf
import Agents
import ArgumentParser

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `tp-aeron`: tools over the Swift Aeron wrapper — an embedded media driver, ping-pong latency, throughput, a
/// sender and a receiver for multi-process checks, and a counters dump.
@main
struct AeronTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tp-aeron",
        abstract: "Aeron tools of AeronTensorPool for Swift.",
        subcommands: [
            PingPongCommand.self, ThroughputCommand.self, DriverCommand.self, SendCommand.self,
            ReceiveCommand.self, CountersCommand.self,
        ]
    )
}

/// Where to find a media driver: an external one (`--aeron-dir`, or `AERON_DIR`) or an embedded one.
struct DriverOptions: ParsableArguments {
    @Option(name: .customLong("aeron-dir"), help: "Directory of a running media driver (aeronmd); default: embedded.")
    var aeronDirectory: String?

    @Flag(name: .customLong("external"), help: "Use the driver in AERON_DIR or Aeron's default directory.")
    var external = false

    /// Connects a client: to the external driver that was asked for, or to an embedded one started here.
    func connect() throws -> Connection {
        if aeronDirectory != nil || external {
            return Connection(driver: nil, client: try AeronClient(context: AeronContext(directory: aeronDirectory)))
        }
        var configuration = MediaDriver.Configuration()
        configuration.termBufferLength = 4 << 20
        configuration.ipcTermBufferLength = 4 << 20
        let driver = try MediaDriver(configuration)
        do {
            return Connection(
                driver: driver, client: try AeronClient(context: AeronContext(directory: driver.directory)))
        } catch {
            driver.close()
            throw error
        }
    }
}

/// A client and, when embedded, the driver it runs on; closed in that order.
struct Connection {
    let driver: MediaDriver?
    let client: AeronClient

    /// `embedded driver in DIR` or `external driver in DIR`.
    var location: String { "\(driver == nil ? "external" : "embedded") driver in \(client.directory)" }

    func close() {
        client.close()
        driver?.close()
    }
}

struct PingPongCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pingpong", abstract: "Measure round-trip latency (p50/p90/p99/p99.9) through Aeron.")

    @OptionGroup var driverOptions: DriverOptions
    @Option(help: "Channel for pings and pongs (aeron:ipc or an aeron:udp URI).") var channel = "aeron:ipc"
    @Option(help: "Channel for pongs when different from --channel.") var pongChannel: String?
    @Option(help: "Measured round trips.") var messages = 100_000
    @Option(help: "Warm-up round trips.") var warmup = 10_000
    @Option(help: "Message length in bytes (≥ 8).") var length = 32

    func validate() throws {
        guard length >= 8 else { throw ValidationError("--length must be at least 8") }
        guard messages > 0, warmup >= 0 else { throw ValidationError("--messages must be > 0, --warmup ≥ 0") }
    }

    func run() throws {
        let connection = try driverOptions.connect()
        defer { connection.close() }
        let client = connection.client
        var options = PingPong.Options()
        options.pingChannel = channel
        options.pongChannel = pongChannel ?? channel
        options.messages = messages
        options.warmupMessages = warmup
        options.messageLength = length
        print("Aeron \(MediaDriver.aeronVersion) ping-pong over \(channel), \(connection.location)")
        let result = try PingPong.run(client: client, options: options)
        print(result.summary)
    }
}

struct ThroughputCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput", abstract: "Measure offer+poll throughput on one thread.")

    @OptionGroup var driverOptions: DriverOptions
    @Option(help: "Channel.") var channel = "aeron:ipc"
    @Option(help: "Stream id.") var stream: Int32 = 1010
    @Option(help: "Messages per run.") var messages = 1_000_000
    @Option(help: "Message lengths in bytes, comma-separated.") var lengths = "32,256,1024"

    func run() throws {
        let connection = try driverOptions.connect()
        defer { connection.close() }
        let client = connection.client
        let publication = try client.addExclusivePublication(channel: channel, streamId: stream)
        let subscription = try client.addSubscription(channel: channel, streamId: stream)
        for length in lengths.split(separator: ",").compactMap({ Int($0) }) {
            let result = try Throughput.run(
                publication: publication, subscription: subscription, messageLength: length, messages: messages)
            let rate = (result.messagesPerSecond / 1e4).rounded() / 100
            print("\(length) B: \(rate) M msg/s (\(result.messages) messages, \(result.backPressured) back-pressured)")
        }
    }
}

func sleepMillis(_ millis: Int) {
    var pause = timespec(tv_sec: millis / 1000, tv_nsec: (millis % 1000) * 1_000_000)
    nanosleep(&pause, nil)
}

struct DriverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "driver", abstract: "Run an embedded media driver until SIGINT or SIGTERM.")

    @Option(help: "Driver directory (default: Aeron's default directory).") var dir: String?
    @Option(help: "Threading mode: shared, shared-network or dedicated.") var threading = "shared"

    func run() throws {
        var configuration = MediaDriver.Configuration(directory: dir ?? AeronContext.defaultDirectory)
        switch threading {
        case "shared": configuration.threadingMode = .shared
        case "shared-network": configuration.threadingMode = .sharedNetwork
        case "dedicated": configuration.threadingMode = .dedicated
        default: throw ValidationError("unknown threading mode '\(threading)'")
        }
        ShutdownSignal.install()
        let driver = try MediaDriver(configuration)
        print("media driver running in \(driver.directory) (Ctrl-C to stop)")
        while !ShutdownSignal.isRequested { sleepMillis(50) }
        driver.close()
        print("media driver stopped")
    }
}

/// Fills message `sequence` of `length` bytes: the sequence number, then a byte pattern derived from it.
func fillMessage(_ buffer: UnsafeMutableRawBufferPointer, sequence: Int64) {
    buffer.storeBytes(of: sequence.littleEndian, toByteOffset: 0, as: Int64.self)
    for offset in 8..<buffer.count {
        buffer[offset] = UInt8(truncatingIfNeeded: Int64(offset) &+ sequence)
    }
}

/// Checks message bytes against ``fillMessage(_:sequence:)``; returns the sequence number or `nil` if corrupt.
func checkMessage(_ buffer: UnsafeRawBufferPointer, expectedLength: Int) -> Int64? {
    guard buffer.count == expectedLength, buffer.count >= 8 else { return nil }
    let sequence = Int64(littleEndian: buffer.loadUnaligned(fromByteOffset: 0, as: Int64.self))
    for offset in 8..<buffer.count where buffer[offset] != UInt8(truncatingIfNeeded: Int64(offset) &+ sequence) {
        return nil
    }
    return sequence
}

struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send", abstract: "Send numbered, patterned messages (for multi-process checks).")

    @OptionGroup var driverOptions: DriverOptions
    @Option(help: "Channel.") var channel = "aeron:ipc"
    @Option(help: "Stream id.") var stream: Int32 = 1020
    @Option(help: "Number of messages.") var count = 1000
    @Option(help: "Message length in bytes (≥ 8; larger than the MTU is fragmented).") var length = 64
    @Option(help: "Seconds to wait for a subscriber.") var timeout = 20

    func run() throws {
        guard length >= 8 else { throw ValidationError("--length must be at least 8") }
        let connection = try driverOptions.connect()
        defer { connection.close() }
        let client = connection.client
        let publication = try client.addExclusivePublication(channel: channel, streamId: stream)
        var waited = 0
        while !publication.isConnected {
            guard waited < timeout * 1000 else { throw AeronToolError("no subscriber connected within \(timeout) s") }
            sleepMillis(5)
            waited += 5
        }
        let message = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 8)
        defer { message.deallocate() }
        for sequence in 0..<Int64(count) {
            fillMessage(message, sequence: sequence)
            var result = publication.offer(UnsafeRawBufferPointer(message))
            while !result.isSuccess {
                guard result.isRetryable else { throw AeronToolError("offer failed: \(result)") }
                sleepMillis(0)
                result = publication.offer(UnsafeRawBufferPointer(message))
            }
        }
        print("sent \(count) messages of \(length) B on \(channel) stream \(stream)")
    }
}

struct ReceiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive", abstract: "Receive and verify messages from `tp-aeron send`.")

    @OptionGroup var driverOptions: DriverOptions
    @Option(help: "Channel.") var channel = "aeron:ipc"
    @Option(help: "Stream id.") var stream: Int32 = 1020
    @Option(help: "Number of messages expected.") var count = 1000
    @Option(help: "Expected message length in bytes.") var length = 64
    @Option(help: "Seconds to wait for all messages.") var timeout = 20

    func run() throws {
        let connection = try driverOptions.connect()
        defer { connection.close() }
        let client = connection.client
        let subscription = try client.addSubscription(channel: channel, streamId: stream)
        print("ready: subscribed to \(channel) stream \(stream)")
        let assembler = try FragmentAssembler()
        var next: Int64 = 0
        var failure: String?
        var waited = 0
        while next < Int64(count) && failure == nil {
            let fragments = subscription.poll(assembler: assembler, fragmentLimit: 64) { buffer, _ in
                guard failure == nil else { return }
                guard let sequence = checkMessage(buffer, expectedLength: length) else {
                    failure = "message \(next) is corrupt (\(buffer.count) B)"
                    return
                }
                guard sequence == next else {
                    failure = "expected message \(next), got \(sequence)"
                    return
                }
                next += 1
            }
            if fragments == 0 {
                guard waited < timeout * 1000 else { break }
                sleepMillis(1)
                waited += 1
            }
        }
        if let failure { throw AeronToolError(failure) }
        guard next == Int64(count) else {
            throw AeronToolError("received \(next) of \(count) messages in \(timeout) s")
        }
        print("received \(count) messages of \(length) B in order")
    }
}

struct CountersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "counters", abstract: "Print the counters of a running media driver.")

    @Option(name: .customLong("aeron-dir"), help: "Driver directory (default: AERON_DIR or Aeron's default).")
    var aeronDirectory: String?
    @Option(help: "Only counters whose label contains this text.") var filter: String?

    func run() throws {
        let client = try AeronClient(context: AeronContext(directory: aeronDirectory))
        defer { client.close() }
        for counter in client.counters.all where filter.map({ counter.label.contains($0) }) ?? true {
            let id = String(counter.id)
            let padded = String(repeating: " ", count: max(0, 4 - id.count)) + id
            print("\(padded): \(counter.value) - \(counter.label) (type \(counter.typeId))")
        }
    }
}

struct AeronToolError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
