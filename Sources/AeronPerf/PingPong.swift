public import Aeron
import Agents
public import Histogram

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Round-trip latency through Aeron: a ping thread sends timestamped messages, a pong agent echoes them back, and
/// the ping side records each round trip in an HdrHistogram.
///
/// This is the baseline every frame-path latency figure of the project is compared with.
public enum PingPong {
    /// What to measure.
    public struct Options: Sendable {
        /// The channel for both directions, e.g. `aeron:ipc` or `aeron:udp?endpoint=localhost:20121`.
        public var pingChannel: String = "aeron:ipc"
        /// The channel the pong side answers on.
        public var pongChannel: String = "aeron:ipc"
        /// Stream id of pings.
        public var pingStreamId: Int32 = 1002
        /// Stream id of pongs.
        public var pongStreamId: Int32 = 1003
        /// Measured round trips.
        public var messages: Int = 100_000
        /// Round trips before measuring, to warm caches and branch predictors.
        public var warmupMessages: Int = 10_000
        /// Message length in bytes (at least 8: the send timestamp).
        public var messageLength: Int = 32

        /// Creates the default options: 100,000 round trips of 32 bytes over IPC after 10,000 warm-up trips.
        public init() {}
    }

    /// The measured round trips.
    public struct Result: Sendable {
        /// Round-trip times in nanoseconds.
        public let histogram: Histogram<UInt64>
        /// Measured round trips.
        public let messages: Int
        /// Message length in bytes.
        public let messageLength: Int

        /// Round-trip time at `percentile` (0–100), in nanoseconds.
        public func nanoseconds(atPercentile percentile: Double) -> UInt64 {
            histogram.valueAtPercentile(percentile)
        }

        /// `p50 … p99 … p99.9 … max` in microseconds, one line.
        public var summary: String {
            func micros(_ nanos: UInt64) -> String {
                let hundredths = (nanos + 5) / 10
                let fraction = hundredths % 100
                return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) µs"
            }
            return "\(messages) round trips of \(messageLength) B: p50 \(micros(nanoseconds(atPercentile: 50))), "
                + "p90 \(micros(nanoseconds(atPercentile: 90))), p99 \(micros(nanoseconds(atPercentile: 99))), "
                + "p99.9 \(micros(nanoseconds(atPercentile: 99.9))), max \(micros(histogram.max))"
        }
    }

    /// Runs the ping-pong on `client`: the pong side on its own ``AgentRunner`` thread, the ping side on the caller.
    ///
    /// - Throws: ``AeronError`` when a publication or subscription cannot be added, or when the two sides do not
    ///   connect within 10 s.
    public static func run(client: AeronClient, options: Options = Options()) throws -> Result {
        precondition(options.messageLength >= 8, "a ping carries an 8-byte timestamp")
        let pingPublication = try client.addExclusivePublication(
            channel: options.pingChannel, streamId: options.pingStreamId)
        let pongSubscription = try client.addSubscription(
            channel: options.pongChannel, streamId: options.pongStreamId)
        let pong = try PongAgent(client: client, options: options)
        let runner = AgentRunner(agent: pong, idleStrategy: BusySpinIdleStrategy())
        runner.start()
        defer {
            runner.close()
            pingPublication.close()
            pongSubscription.close()
        }
        try awaitConnected(pingPublication, pongSubscription)

        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        let message = UnsafeMutableRawBufferPointer.allocate(byteCount: options.messageLength, alignment: 8)
        defer { message.deallocate() }
        message.initializeMemory(as: UInt8.self, repeating: 0)

        var echo = EchoTimestamp()
        for index in 0..<(options.warmupMessages + options.messages) {
            let sent = monotonicNow()
            message.storeBytes(of: sent, toByteOffset: 0, as: Int64.self)
            while !pingPublication.offer(UnsafeRawBufferPointer(message)).isSuccess {}
            while pongSubscription.poll(into: &echo, fragmentLimit: 1) == 0 {}
            let roundTrip = monotonicNow() - echo.timestamp
            if index >= options.warmupMessages {
                _ = histogram.record(UInt64(max(0, roundTrip)))
            }
        }
        return Result(histogram: histogram, messages: options.messages, messageLength: options.messageLength)
    }

    static func awaitConnected(_ publication: Publication, _ subscription: Subscription) throws(AeronError) {
        let deadline = monotonicNow() + 10_000_000_000
        while !(publication.isConnected && subscription.isConnected) {
            if monotonicNow() > deadline {
                throw AeronError(
                    kind: .timedOut, operation: "ping-pong connect",
                    message: "ping and pong streams did not connect within 10 s")
            }
            var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&pause, nil)
        }
    }
}

/// Reads the timestamp a pong carries back.
struct EchoTimestamp: FragmentHandling {
    var timestamp: Int64 = 0

    mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
        timestamp = buffer.loadUnaligned(fromByteOffset: 0, as: Int64.self)
    }
}

/// Offers every fragment it receives to a publication, retrying while back-pressured.
struct Echo: FragmentHandling {
    let publication: ExclusivePublication

    func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
        var result = publication.offer(buffer)
        while result.isRetryable {
            result = publication.offer(buffer)
        }
    }
}

/// Echoes every ping back on the pong stream.
final class PongAgent: Agent {
    let roleName = "pong"
    private let subscription: Subscription
    private let publication: ExclusivePublication
    private var echo: Echo

    init(client: AeronClient, options: PingPong.Options) throws {
        subscription = try client.addSubscription(channel: options.pingChannel, streamId: options.pingStreamId)
        publication = try client.addExclusivePublication(channel: options.pongChannel, streamId: options.pongStreamId)
        echo = Echo(publication: publication)
    }

    func doWork() throws -> Int {
        subscription.poll(into: &echo, fragmentLimit: 16)
    }

    func onClose() {
        subscription.close()
        publication.close()
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds.
@inline(__always)
func monotonicNow() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec)
}
