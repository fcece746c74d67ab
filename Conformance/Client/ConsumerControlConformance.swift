import Aeron
import Agents
import ConformanceSupport
import DriverClient
import Foundation
import SBE
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

@testable import TensorPoolClient

/// A producer, a consumer and raw Aeron endpoints on the pair's control and descriptor streams, for inspecting and
/// injecting wire messages.
final class ControlScene {
    let pair: ClientPair
    let consumerSide: TensorPoolClient
    let producerSide: TensorPoolClient
    let raw: AeronClient
    let rawControl: Publication
    let rawControlTap: Subscription
    let rawDescriptorTap: Subscription
    let consumer: Consumer
    let producer: Producer

    init(
        consumer consumerOptions: ConsumerOptions = ConsumerOptions(), producer producerOptions: ProducerOptions? = nil,
        configure: (ClientPair) -> Void = { _ in }
    )
        throws
    {
        pair = try ClientPair()
        configure(pair)
        consumerSide = try pair.client()
        producerSide = try pair.client()
        raw = try TestMediaDriver.client()
        rawControl = try raw.addPublication(
            channel: pair.context.controlChannel, streamId: pair.context.controlStreamId)
        rawControlTap = try raw.addSubscription(
            channel: pair.context.controlChannel, streamId: pair.context.controlStreamId)
        rawDescriptorTap = try raw.addSubscription(
            channel: pair.context.descriptorChannel, streamId: pair.context.descriptorStreamId)
        var options = producerOptions ?? ControlScene.openProducer()
        options.consumerLivenessIntervalNs = producerOptions?.consumerLivenessIntervalNs ?? 1_000_000_000
        producer = try producerSide.attachProducer(streamId: 10_000, options: options)
        consumer = try consumerSide.attachConsumer(streamId: 10_000, options: consumerOptions)
    }

    /// Producer options whose per-consumer ranges admit the unique stream ids of the shared test media driver.
    static func openProducer() -> ProducerOptions {
        var options = ProducerOptions()
        options.perConsumerDescriptorStreamIds = 1...0x7FFF_FFFF
        options.perConsumerControlStreamIds = 1...0x7FFF_FFFF
        return options
    }

    /// Pumps both clients and polls the consumer into `handler` until `condition` holds; false if the hang guard ran
    /// out first.
    @discardableResult
    func pump<H: FrameHandling>(_ handler: inout H, until condition: () -> Bool) -> Bool {
        pump(&handler) { (_: H) in condition() }
    }

    /// Pumps until `check` holds for the handler; false if the hang guard ran out first.
    @discardableResult
    func pump<H: FrameHandling>(_ handler: inout H, check: (H) -> Bool) -> Bool {
        let deadline = hangGuardDeadline()
        while !check(handler) {
            if ContinuousClock.now > deadline { return false }
            consumerSide.doWork()
            producerSide.doWork()
            _ = consumer.poll(into: &handler)
            usleep(100)
        }
        return true
    }

    /// Pumps for `duration` of real time: only where time itself has to pass (a rate cap's period, a throttle's
    /// interval), never to let something happen.
    func pump<H: FrameHandling>(_ handler: inout H, for duration: Duration) {
        let end = ContinuousClock.now + duration
        repeat {
            consumerSide.doWork()
            producerSide.doWork()
            _ = consumer.poll(into: &handler)
            usleep(100)
        } while ContinuousClock.now < end
    }

    /// Publishes `count` pattern frames one at a time (the test ring has 8 slots); after each, pumps until
    /// `settled(handler, published so far)` holds, i.e. the consumer dealt with what was sent to it.
    @discardableResult
    func publishPaced<H: FrameHandling>(
        _ handler: inout H, count: Int, length: Int = 100, settled: (H, Int) -> Bool
    ) throws -> [PublishOutcome] {
        var outcomes: [PublishOutcome] = []
        for index in 0..<count {
            outcomes += try publishPattern(producer, count: 1, length: length)
            pump(&handler) { (current: H) in settled(current, index + 1) }
        }
        return outcomes
    }

    /// Waits until the consumer mapped the producer's epoch, the producer heard its hello, and the producer's
    /// descriptor publication is connected (before that, descriptors are not sent: a case publishing earlier would
    /// wait for frames that never come).
    func settle<H: FrameHandling>(_ handler: inout H) throws {
        let ready = pump(&handler) {
            consumer.state == .mapped(epoch: producer.epoch) && producer.consumers[consumer.consumerId] != nil
                && producer.hasSubscribers
        }
        try #require(ready)
    }

    /// Sends a wire message built by `encode` on the control stream; returns the stream position after it (see
    /// ``hasRead(_:sessionId:upTo:)``).
    @discardableResult
    func inject(_ encode: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> Int64 {
        var bytes = [UInt8](repeating: 0, count: 512)
        return try bytes.withUnsafeMutableBytes { buffer in
            let length = try encode(buffer)
            let deadline = hangGuardDeadline()
            var result = rawControl.offer(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
            while !result.isSuccess && ContinuousClock.now < deadline {
                usleep(100)
                result = rawControl.offer(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
            }
            let position: Int64? = if case .success(let end) = result { end } else { nil }
            return try #require(position, "not sent: \(result)")
        }
    }

    /// Every `ConsumerConfig` seen on the control stream so far, by consumer id.
    func allConfigs() -> [UInt32: [(descriptorChannel: String, descriptorStreamId: UInt32, mode: WireSchema.Mode)]] {
        var found: [UInt32: [(String, UInt32, WireSchema.Mode)]] = [:]
        while rawControlTap.poll(
            fragmentLimit: 64,
            { buffer, _ in
                guard let header = try? MessageHeader(decoding: buffer, at: 0), header.schemaId == WireSchema.id,
                    header.templateId == WireSchema.ConsumerConfigDecoder.templateId,
                    let config = try? WireSchema.ConsumerConfigDecoder(decodingHeaderOf: buffer)
                else { return }
                found[config.consumerId, default: []].append(
                    (config.descriptorChannelString, config.descriptorStreamId, config.mode))
            }) > 0
        {}
        return found
    }

    /// The `ConsumerConfig` messages for `consumerId` seen on the control stream so far (others are consumed).
    func configs(
        for consumerId: UInt32
    ) -> [(descriptorChannel: String, descriptorStreamId: UInt32, mode: WireSchema.Mode)] {
        allConfigs()[consumerId] ?? []
    }
}

/// Records frames, progress hints and state changes.
struct RecordingHandler: FrameHandling {
    var seqs: [UInt64] = []
    var progress: [(seq: UInt64, state: WireSchema.FrameProgressState, bytes: Int, prefix: Int?, prefixGood: Bool)] = []
    var states: [ConsumerState] = []

    mutating func onFrame(_ frame: FrameView, consumer: Consumer) {
        if consumer.isStillValid(frame) { seqs.append(frame.seq) }
    }

    mutating func onProgress(_ progress: ProgressView, state: WireSchema.FrameProgressState, consumer: Consumer) {
        let expected = UInt8(truncatingIfNeeded: progress.seq &* 31)
        let good = progress.prefix.map { $0.allSatisfy { $0 == expected } } ?? true
        guard consumer.isStillValid(progress) else { return }
        self.progress.append((progress.seq, state, progress.bytesFilled, progress.prefix?.count, good))
    }

    mutating func onStateChange(_ state: ConsumerState, consumer: Consumer) { states.append(state) }
}

/// Encodes a `ConsumerHello` the way a (possibly misbehaving) consumer would.
func encodeHello(
    _ buffer: UnsafeMutableRawBufferPointer, consumerId: UInt32, descriptorChannel: String = "",
    descriptorStreamId: UInt32 = 0, controlChannel: String = "", controlStreamId: UInt32 = 0
) throws -> Int {
    var hello = try WireSchema.ConsumerHelloEncoder.wrapAndApplyHeader(buffer)
    hello.streamId = 10_000
    hello.consumerId = consumerId
    hello.supportsShm = .true
    hello.supportsProgress = .false
    hello.mode = .stream
    hello.maxRateHz = 0
    hello.expectedLayoutVersion = 1
    hello.progressIntervalUs = nil
    hello.progressBytesDelta = nil
    hello.progressMajorDeltaUnits = nil
    hello.descriptorStreamId = descriptorStreamId
    hello.controlStreamId = controlStreamId
    try hello.descriptorChannel(descriptorChannel)
    try hello.controlChannel(controlChannel)
    return MessageHeader.encodedLength + hello.encodedLength
}

/// Encodes a `ConsumerConfig` as a supervisor would send it.
func encodeConfig(
    _ buffer: UnsafeMutableRawBufferPointer, consumerId: UInt32, useShm: Bool, fallback: String
) throws -> Int {
    var config = try WireSchema.ConsumerConfigEncoder.wrapAndApplyHeader(buffer)
    config.streamId = 10_000
    config.consumerId = consumerId
    config.useShm = useShm ? .true : .false
    config.mode = .stream
    config.descriptorStreamId = 0
    config.controlStreamId = 0
    try config.payloadFallbackUri(fallback)
    try config.descriptorChannel("")
    try config.controlChannel("")
    return MessageHeader.encodedLength + config.encodedLength
}

/// Wire spec §5, §10.1.2, §10.1.3, §11: hellos, configurations, per-consumer streams and rate limiting.
@Suite("Clients §5/§10.1.2/§10.1.3/§11: hello, config, per-consumer streams, rate limiting", .serialized)
struct ConsumerControlConformance {
    @Test(
        "a consumer says hello at attach and again every interval, under a random non-zero id unless given one",
        .verifies("WIRE-10.1.2-001", "WIRE-10.1.2-002", "WIRE-10.1.2-010"))
    func hello() throws {
        var options = ConsumerOptions()
        options.helloIntervalNs = 50_000_000
        let scene = try ControlScene(consumer: options)
        var handler = RecordingHandler()
        try scene.settle(&handler)
        #expect(scene.consumer.consumerId != 0 && scene.consumer.hellosSent >= 1)
        let first = scene.producer.hellosReceived
        #expect(scene.pump(&handler) { scene.producer.hellosReceived >= first + 3 })
        let snapshot = try #require(scene.producer.consumers[scene.consumer.consumerId])
        #expect(snapshot.grantedMode == .stream && snapshot.descriptorStream == nil)
        // Two consumers without an explicit id draw different ones.
        let other = try scene.consumerSide.attachConsumer(streamId: 10_000)
        #expect(other.consumerId != 0 && other.consumerId != scene.consumer.consumerId)
        var fixed = ConsumerOptions()
        fixed.consumerId = 4242
        #expect(try scene.consumerSide.attachConsumer(streamId: 10_000, options: fixed).consumerId == 4242)
    }

    @Test(
        "a per-consumer descriptor stream asked for with channel and id is granted in ConsumerConfig and read in place of the shared one",
        .verifies(
            "WIRE-5-001", "WIRE-5-002", "WIRE-5-003", "WIRE-10.1.2-003", "WIRE-10.1.3-003", "WIRE-10.1.3-004"))
    func perConsumerDescriptorStream() throws {
        let endpoint = StreamEndpoint(channel: "aeron:ipc", streamId: UInt32(TestMediaDriver.uniqueStreamId()))
        var options = ConsumerOptions()
        options.descriptorStream = endpoint
        let scene = try ControlScene(consumer: options)
        var handler = RecordingHandler()
        try scene.settle(&handler)
        #expect(
            scene.pump(&handler) {
                scene.consumer.descriptorStream == endpoint
                    && scene.producer.consumers[scene.consumer.consumerId]?.descriptorStreamConnected == true
            })
        #expect(scene.consumer.configuration?.descriptorStream == endpoint)
        #expect(scene.consumer.configuration?.controlStream == nil)  // not asked: empty channel, id 0
        #expect(scene.producer.consumers[scene.consumer.consumerId]?.descriptorStream == endpoint)
        // The shared descriptor stream lost its only subscriber (the consumer closed it) except the raw tap.
        scene.rawDescriptorTap.close()
        let probe = try scene.raw.addPublication(
            channel: scene.pair.context.descriptorChannel, streamId: scene.pair.context.descriptorStreamId)
        #expect(scene.pump(&handler) { !probe.isConnected })
        try scene.publishPaced(&handler, count: 20, length: 300) { current, published in
            current.seqs.count == published
        }
        #expect(handler.seqs == Array(0..<20))
        #expect(scene.producer.consumers[scene.consumer.consumerId]?.descriptorsSent == 20)
    }

    @Test(
        "RATE_LIMITED with a per-consumer stream is granted and capped by the producer at max_rate_hz",
        .verifies("WIRE-5-006", "WIRE-11-004"))
    func rateLimitedGranted() throws {
        var options = ConsumerOptions()
        options.mode = .rateLimited
        options.maxRateHz = 2  // one descriptor per 500 ms
        options.descriptorStream = StreamEndpoint(
            channel: "aeron:ipc", streamId: UInt32(TestMediaDriver.uniqueStreamId()))
        let scene = try ControlScene(consumer: options)
        var handler = RecordingHandler()
        try scene.settle(&handler)
        #expect(
            scene.pump(&handler) {
                scene.consumer.descriptorStream != nil
                    && scene.producer.consumers[scene.consumer.consumerId]?.descriptorStreamConnected == true
            })
        #expect(scene.consumer.configuration?.mode == .rateLimited)
        #expect(scene.producer.consumers[scene.consumer.consumerId]?.grantedMode == .rateLimited)
        // The producer sends this consumer the first frame, then at most one per 500 ms of its clock. Each batch of
        // 10 is published one frame at a time, each sent frame read before the next is published.
        let id = scene.consumer.consumerId
        func sent() -> Int { Int(scene.producer.consumers[id]?.descriptorsSent ?? 0) }
        /// Publishes a batch; returns how long it took (monotonic ns) and when its last sent frame went out.
        func batch() throws -> (span: UInt64, lastSentNs: UInt64) {
            let start = UInt64(MonotonicClock.now())
            var lastSent = start
            for _ in 0..<10 {
                let before = sent()
                _ = try publishPattern(scene.producer, count: 1, length: 100)
                if sent() > before { lastSent = UInt64(MonotonicClock.now()) }
                scene.pump(&handler) { (current: RecordingHandler) in current.seqs.count == sent() }
            }
            return (UInt64(MonotonicClock.now()) - start, lastSent)
        }
        let first = try batch()
        let firstCount = handler.seqs.count
        #expect(handler.seqs.first == 0 && firstCount <= Int(first.span / 500_000_000) + 1, "\(handler.seqs)")
        // A full period after the last descriptor sent, the next frame passes the cap again.
        while UInt64(MonotonicClock.now()) - first.lastSentNs < 600_000_000 {
            scene.pump(&handler, for: .milliseconds(10))
        }
        let second = try batch()
        #expect(handler.seqs.dropFirst(firstCount).first == 10, "\(handler.seqs)")
        #expect(handler.seqs.count - firstCount <= Int(second.span / 500_000_000) + 1, "\(handler.seqs)")
        #expect(handler.seqs.count == sent(), "every descriptor sent was read")
        #expect(scene.consumer.rateLimited == 0)  // the producer capped; the consumer did not gate
    }

    @Test(
        "a declined request is answered with an empty channel and 0; the consumer stays on the shared stream and gates locally",
        .verifies(
            "WIRE-5-007", "WIRE-10.1.3-006", "WIRE-10.1.3-007", "WIRE-11-001", "WIRE-11-002", "WIRE-11-005"))
    func declined() throws {
        var producerOptions = ControlScene.openProducer()
        producerOptions.perConsumerStreams = false
        producerOptions.descriptorTimestamps = true
        var options = ConsumerOptions()
        options.mode = .rateLimited
        options.maxRateHz = 1
        options.descriptorStream = StreamEndpoint(
            channel: "aeron:ipc", streamId: UInt32(TestMediaDriver.uniqueStreamId()))
        let scene = try ControlScene(consumer: options, producer: producerOptions)
        var handler = RecordingHandler()
        try scene.settle(&handler)
        #expect(scene.pump(&handler) { scene.consumer.configsReceived >= 1 })
        let config = try #require(scene.consumer.configuration)
        #expect(config.mode == .stream && config.descriptorStream == nil && scene.consumer.descriptorStream == nil)
        #expect(scene.configs(for: scene.consumer.consumerId).contains { $0.0 == "" && $0.1 == 0 && $0.2 == .stream })
        // Every descriptor goes out on the shared stream (max_rate_hz is ignored there); the consumer lets the first
        // through, then at most one per second, gated on the descriptors' publish timestamps (slot timestamps are
        // 1000 + seq).
        let start = UInt64(MonotonicClock.now())
        // Settled once the consumer dealt with each frame: passed, gated, or dropped with a counted reason (a drop
        // fails the assertions below at once instead of waiting out the hang guard).
        let outcomes = try scene.publishPaced(&handler, count: 10) { current, published in
            let counters = scene.consumer.counters
            let dropped = counters.dropsLate + counters.dropsInvalid + counters.dropsEpoch + counters.dropsGap
            return current.seqs.count + Int(scene.consumer.rateLimited) + Int(dropped) >= published
                || !scene.consumer.isActive
        }
        let span = UInt64(MonotonicClock.now()) - start
        #expect(outcomes.allSatisfy { if case .published = $0 { true } else { false } })
        #expect(handler.seqs.first == 0 && handler.seqs.count <= Int(span / 1_000_000_000) + 1, "\(handler.seqs)")
        #expect(
            handler.seqs.count + Int(scene.consumer.rateLimited) == 10,
            """
            every frame passed or was gated: \(scene.consumer.counters), active \(scene.consumer.isActive), \
            state \(scene.consumer.state), not sent \(scene.producer.descriptorsNotSent)
            """)
    }

    @Test(
        "malformed or invalid requests are rejected: a channel without id (or the reverse), an id out of range, a bad channel",
        .verifies(
            "WIRE-10.1.2-004", "WIRE-10.1.2-005", "WIRE-10.1.2-006", "WIRE-10.1.2-007", "WIRE-10.1.2-008",
            "WIRE-10.1.3-005", "WIRE-5-013", "WIRE-5-014"))
    func malformedRequests() throws {
        // Our consumer refuses to send such a hello at all.
        let scene = try ControlScene(producer: ProducerOptions())  // default ranges 31000–31999 / 32000–32999
        var bad = ConsumerOptions()
        bad.descriptorStream = StreamEndpoint(channel: "aeron:ipc", streamId: 0)
        #expect(throws: TensorPoolClientError.self) {
            try scene.consumerSide.attachConsumer(streamId: 10_000, options: bad)
        }
        bad.descriptorStream = nil
        bad.controlStream = StreamEndpoint(channel: "", streamId: 32_001)
        #expect(throws: TensorPoolClientError.self) {
            try scene.consumerSide.attachConsumer(streamId: 10_000, options: bad)
        }
        // Hellos from misbehaving consumers: each gets a declining ConsumerConfig (empty channel, id 0).
        var handler = RecordingHandler()
        try scene.settle(&handler)
        _ = scene.configs(for: 0)
        let cases: [(UInt32, String, UInt32, String, UInt32, Bool)] = [
            (501, "aeron:ipc", 0, "", 0, true),  // descriptor channel without id
            (502, "", 31_005, "", 0, false),  // id without channel: not a request, and rejected
            (503, "", 0, "aeron:ipc", 0, true),  // control channel without id
            (504, "aeron:ipc", 5, "", 0, false),  // id outside 31000–31999
            (505, "bogus:channel", 31_006, "", 0, false),  // not an Aeron channel
            (506, "aeron-spy:aeron:ipc", 31_007, "", 0, false),  // a spy is not a stream
        ]
        let rejectedBefore = scene.producer.hellosRejected
        for (id, channel, stream, controlChannel, controlStream, _) in cases {
            try scene.inject { buffer in
                try encodeHello(
                    buffer, consumerId: id, descriptorChannel: channel, descriptorStreamId: stream,
                    controlChannel: controlChannel, controlStreamId: controlStream)
            }
        }
        #expect(scene.pump(&handler) { cases.allSatisfy { scene.producer.consumers[$0.0] != nil } })
        // The answers, as the control stream carries them to anyone.
        var all: [UInt32: [(descriptorChannel: String, descriptorStreamId: UInt32, mode: WireSchema.Mode)]] = [:]
        let answered = scene.pump(&handler) {
            all.merge(scene.allConfigs()) { $0 + $1 }
            return cases.allSatisfy { $0.0 == 502 || all[$0.0] != nil }
        }
        #expect(answered, "answers to \(all.keys.sorted())")
        for (id, _, _, _, _, _) in cases where id != 502 {
            let replies = all[id] ?? []
            #expect(!replies.isEmpty && replies.allSatisfy { $0.0 == "" && $0.1 == 0 }, "consumer \(id)")
            #expect(scene.producer.consumers[id]?.descriptorStream == nil)
        }
        #expect(scene.producer.hellosRejected == rejectedBefore + 3)  // 501, 502 and 503 are malformed
    }

    @Test(
        "per-consumer streams close when the consumer goes stale (3–5 intervals without hello or QoS) or disconnects",
        .verifies("WIRE-5-004", "WIRE-5-005", "WIRE-10.1.3-008"))
    func staleConsumers() throws {
        // Liveness timed by the producer's clock, driven below through its own check (the one its duty cycle runs
        // with the monotonic clock) at chosen times; on the real clock the stale period is out of the case's reach.
        let interval: UInt64 = 10_000_000_000
        var producerOptions = ControlScene.openProducer()
        producerOptions.consumerLivenessIntervalNs = interval
        producerOptions.staleIntervals = 3
        let staleAfter = 3 * interval
        var options = ConsumerOptions()
        options.helloIntervalNs = 0  // one hello at attach, then silence
        options.descriptorStream = StreamEndpoint(
            channel: "aeron:ipc", streamId: UInt32(TestMediaDriver.uniqueStreamId()))
        let scene = try ControlScene(consumer: options, producer: producerOptions)
        var handler = RecordingHandler()
        try scene.settle(&handler)
        let id = scene.consumer.consumerId
        #expect(scene.pump(&handler) { scene.producer.consumers[id]?.descriptorStreamConnected == true })
        let link = try #require(scene.producer.links[id])
        // Three intervals after it was last heard from it is still there; a nanosecond more and it is stale.
        let heard = link.lastSeenNs
        #expect(scene.producer.expireConsumers(now: heard + staleAfter) == 0)
        #expect(scene.producer.consumers[id] != nil && scene.producer.consumersExpired == 0)
        // QoS-style liveness keeps it: heard from again, the deadline moves.
        scene.producer.noteConsumerAlive(id)
        #expect(link.lastSeenNs > heard)
        #expect(scene.producer.expireConsumers(now: heard + staleAfter + 1) == 0 && scene.producer.consumers[id] != nil)
        // Silence since: stale one nanosecond past three intervals, its per-consumer stream closed.
        let again = link.lastSeenNs
        #expect(scene.producer.expireConsumers(now: again + staleAfter) == 0)
        #expect(scene.producer.expireConsumers(now: again + staleAfter + 1) == 1)
        #expect(scene.producer.consumers[id] == nil && scene.producer.consumersExpired == 1)
        #expect(link.descriptor == nil)
        // An explicit disconnect: the withdrawing hello at close releases the per-consumer stream at once (the stale
        // period is far off: nothing expires meanwhile).
        var another = ConsumerOptions()
        another.descriptorStream = StreamEndpoint(
            channel: "aeron:ipc", streamId: UInt32(TestMediaDriver.uniqueStreamId()))
        let second = try scene.consumerSide.attachConsumer(streamId: 10_000, options: another)
        #expect(scene.pump(&handler) { scene.producer.consumers[second.consumerId]?.descriptorStream != nil })
        second.close()
        #expect(scene.pump(&handler) { scene.producer.consumers[second.consumerId]?.descriptorStream == nil })
        #expect(scene.producer.consumersExpired == 1)
    }

    @Test(
        "under the driver model only the driver announces: the producer client emits no ShmPoolAnnounce anywhere",
        .verifies("WIRE-10.1-007", "DRV-8-002"))
    func onlyTheDriverAnnounces() throws {
        let scene = try ControlScene()
        let announceTap = try scene.raw.addSubscription(
            channel: scene.pair.context.announceChannel, streamId: scene.pair.context.announceStreamId)
        var handler = RecordingHandler()
        try scene.settle(&handler)
        var announceSessions = Set<Int32>()
        var announcesElsewhere = 0
        var announces = 0
        let isAnnounce = { (buffer: UnsafeRawBufferPointer) -> Bool in
            guard let header = try? MessageHeader(decoding: buffer, at: 0) else { return false }
            return header.schemaId == WireSchema.id && header.templateId == WireSchema.ShmPoolAnnounceDecoder.templateId
        }
        // Frames flow while the driver announces (every 100 ms): watched until three of its announces went by.
        let deadline = hangGuardDeadline()
        while announces < 3 && ContinuousClock.now < deadline {
            _ = try publishPattern(scene.producer, count: 5, length: 100)
            _ = announceTap.poll(fragmentLimit: 64) { buffer, header in
                if isAnnounce(buffer) {
                    announces += 1
                    announceSessions.insert(header.sessionId)
                }
            }
            _ = scene.rawControlTap.poll(fragmentLimit: 256) { buffer, _ in
                if isAnnounce(buffer) { announcesElsewhere += 1 }
            }
            _ = scene.rawDescriptorTap.poll(fragmentLimit: 256) { buffer, _ in
                if isAnnounce(buffer) { announcesElsewhere += 1 }
            }
            scene.pump(&handler, for: .milliseconds(10))
        }
        #expect(announces >= 3 && announceSessions.count == 1)  // the driver's and nobody else's
        #expect(announcesElsewhere == 0)
    }

    @Test(
        "with no subscriber frames are committed but their descriptors reach nobody; an aborted claim leaves no gap",
        .verifies("WIRE-15.4-001", "WIRE-15.4-004"))
    func noSubscriberAndAbort() throws {
        let pair = try ClientPair()
        let producerSide = try pair.client()
        let producer = try producerSide.attachProducer(streamId: 10_000)
        #expect(!producer.hasSubscribers)
        let outcomes = try publishPattern(producer, count: 3, length: 100)
        #expect(outcomes == (0..<3).map { PublishOutcome.descriptorNotSent(seq: UInt64($0), .notConnected) })
        #expect(producer.descriptorsNotSent == 3 && producer.framesPublished == 0 && producer.sequence == 3)
        let consumerSide = try pair.client()
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        var handler = CheckingHandler()
        let deadline = hangGuardDeadline()
        while !producer.hasSubscribers && ContinuousClock.now < deadline {
            producerSide.doWork()
            consumerSide.doWork()
            _ = consumer.poll(into: &handler)
        }
        // An aborted claim: the next claim gets the same sequence, and the consumer sees no gap.
        let aborted = try producer.tryClaim(length: 100)
        producer.abort(aborted)
        #expect(producer.sequence == 3 && producer.claimsAborted == 1)
        _ = try publishPattern(producer, count: 2, length: 100)
        while handler.seqs.count < 2 && ContinuousClock.now < deadline {
            producerSide.doWork()
            consumerSide.doWork()
            _ = consumer.poll(into: &handler)
        }
        #expect(handler.seqs == [3, 4] && handler.corrupt == 0 && consumer.counters.dropsGap == 0)
    }

    @Test(
        "use_shm = false sends the consumer to FALLBACK (unsupported schemes flagged); use_shm = true maps again",
        .verifies("WIRE-10.1.3-001", "WIRE-10.1.3-002", "WIRE-10.1-003", "WIRE-10.1-004"))
    func fallback() throws {
        let scene = try ControlScene()
        var handler = RecordingHandler()
        try scene.settle(&handler)
        let id = scene.consumer.consumerId
        try scene.inject {
            try encodeConfig($0, consumerId: id, useShm: false, fallback: "aeron:udp?endpoint=localhost:40123")
        }
        #expect(scene.pump(&handler) { if case .fallback = scene.consumer.state { true } else { false } })
        #expect(scene.consumer.state == .fallback(.aeron("aeron:udp?endpoint=localhost:40123")))
        _ = try publishPattern(scene.producer, count: 5, length: 100)
        #expect(scene.pump(&handler) { scene.consumer.fallbackSkipped == 5 })
        #expect(handler.seqs.isEmpty)
        try scene.inject { try encodeConfig($0, consumerId: id, useShm: false, fallback: "carrier-pigeon://loft") }
        #expect(scene.pump(&handler) { scene.consumer.state == .fallback(.unsupported("carrier-pigeon://loft")) })
        #expect(!FallbackURI("carrier-pigeon://loft").isSupported && FallbackURI("bridge://7") == .bridge(id: "7"))
        // An empty (length 0) fallback URI is "not provided".
        try scene.inject { try encodeConfig($0, consumerId: id, useShm: false, fallback: "") }
        #expect(scene.pump(&handler) { scene.consumer.state == .fallback(nil) })
        #expect(scene.consumer.configuration?.fallbackURI == nil)
        try scene.inject { try encodeConfig($0, consumerId: id, useShm: true, fallback: "") }
        #expect(scene.pump(&handler) { scene.consumer.state == .mapped(epoch: scene.producer.epoch) })
        _ = try publishPattern(scene.producer, count: 3, length: 100)
        #expect(scene.pump(&handler) { $0.seqs == [5, 6, 7] })
        #expect(handler.states.contains(.fallback(.aeron("aeron:udp?endpoint=localhost:40123"))))
    }

    @Test(
        "descriptor timestamps are null unless asked for, the slot carries the capture time; trace id 0 means none",
        .verifies(
            "WIRE-10.2.1-003", "WIRE-10.2.1-004", "WIRE-10.2.1-005", "WIRE-10.2.1-006", "WIRE-10.2.1-015",
            "WIRE-10.2.1-017", "WIRE-10.1-001"))
    func descriptorFields() throws {
        let scene = try ControlScene()
        var handler = RecordingHandler()
        try scene.settle(&handler)
        _ = try publishPattern(scene.producer, count: 1, length: 64)
        let claim = try scene.producer.tryClaim(length: 64)
        _ = try scene.producer.commit(
            claim, tensor: try TensorDescriptor(dtype: .uint8, shape: [64]), timestampNs: 77, traceId: 0xABC)
        var seen: [(UInt64?, UInt64?)] = []
        #expect(
            scene.pump(&handler) {
                _ = scene.rawDescriptorTap.poll(fragmentLimit: 16) { buffer, _ in
                    if let descriptor = try? WireSchema.FrameDescriptorDecoder(decodingHeaderOf: buffer) {
                        seen.append((descriptor.timestampNs, descriptor.traceId))
                    }
                }
                return seen.count == 2
            })
        #expect(seen[0].0 == nil && seen[0].1 == nil && seen[1].1 == 0xABC)
        // With publish timestamps on, the descriptor's (CLOCK_MONOTONIC at send) differs from the slot's (77).
        var options = ControlScene.openProducer()
        options.descriptorTimestamps = true
        let stamped = try ControlScene(producer: options)
        var stampedHandler = RecordingHandler()
        try stamped.settle(&stampedHandler)
        let stampedClaim = try stamped.producer.tryClaim(length: 64)
        _ = try stamped.producer.commit(
            stampedClaim, tensor: try TensorDescriptor(dtype: .uint8, shape: [64]), timestampNs: 77)
        var stamps: [UInt64?] = []
        #expect(
            stamped.pump(&stampedHandler) { current in
                _ = stamped.rawDescriptorTap.poll(fragmentLimit: 16) { buffer, _ in
                    if let descriptor = try? WireSchema.FrameDescriptorDecoder(decodingHeaderOf: buffer) {
                        stamps.append(descriptor.timestampNs)
                    }
                }
                return !stamps.isEmpty && current.seqs == [0]
            })
        #expect(stamps[0] != nil && stamps[0] != 77)
    }
}
