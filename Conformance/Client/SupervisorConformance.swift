import Aeron
import Agents
import ConformanceSupport
import Foundation
import TensorPoolSHM
import TensorPoolSupervisor
import TensorPoolWire
import TestProcesses
import Testing

@testable import TensorPoolClient

/// A ``ControlScene`` watched by a supervisor: QoS every 50 ms, hellos every 100 ms, directives repeated at most every
/// 100 ms; liveness in seconds (the supervisor drops a member after 3 s unheard, the producer a consumer after 5 s), so
/// that a stalled test process loses nobody.
final class SupervisedScene {
    let scene: ControlScene
    let supervisor: Supervisor
    var events: [SupervisorEvent] = []

    init(consumer: ConsumerOptions = ConsumerOptions(), producer: ProducerOptions? = nil) throws {
        var consumerOptions = consumer
        consumerOptions.helloIntervalNs = 100_000_000
        var producerOptions = producer ?? ControlScene.openProducer()
        producerOptions.consumerLivenessIntervalNs = 1_000_000_000
        var options = SupervisorOptions()
        options.livenessIntervalNs = 1_000_000_000
        options.enforceIntervalNs = 100_000_000
        // The supervisor's Aeron endpoints are added before the clients attach, so that nothing has to keep their
        // leases alive meanwhile.
        var made: Result<Supervisor, any Error>?
        scene = try ControlScene(consumer: consumerOptions, producer: producerOptions) { pair in
            pair.qosInterval(50_000_000)
            made = Result {
                try Supervisor(aeron: try TestMediaDriver.client(), context: pair.context, options: options)
            }
        }
        supervisor = try #require(made).get()
        supervisor.onEvent = { [unowned self] event in events.append(event) }
    }

    deinit { supervisor.close() }

    var consumer: Consumer { scene.consumer }
    var producer: Producer { scene.producer }

    /// Pumps the clients and the supervisor until `condition` holds; false if the hang guard ran out first.
    @discardableResult
    func pump<H: FrameHandling>(_ handler: inout H, until condition: () -> Bool) -> Bool {
        scene.pump(&handler) {
            _ = try? supervisor.doWork()
            return condition()
        }
    }

    /// Pumps the clients and the supervisor until `check` holds for the handler; false if the hang guard ran out first.
    @discardableResult
    func pump<H: FrameHandling>(_ handler: inout H, check: (H) -> Bool) -> Bool {
        scene.pump(&handler) { (handler: H) in
            _ = try? supervisor.doWork()
            return check(handler)
        }
    }

    /// The supervisor's view of the scene's consumer.
    var supervised: SupervisedConsumer? {
        supervisor.snapshot().consumers.first { $0.streamId == 10_000 && $0.consumerId == consumer.consumerId }
    }

    /// Publishes `count` frames at least 2 ms apart, each stamped with the monotonic time it was committed (what a
    /// rate gate reads). After each, pumps until `settled(handler, frames published so far)` holds (the consumer dealt
    /// with what was sent to it: the ring has 8 slots) and 2 ms passed. Returns the span of the stamps in nanoseconds.
    func publishTimed<H: FrameHandling>(
        _ handler: inout H, count: Int, settled: (H, Int) -> Bool
    ) throws -> UInt64 {
        var first: UInt64?
        var last: UInt64 = 0
        for index in 0..<count {
            let claim = try producer.tryClaim(length: 100)
            claim.payload.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: claim.seq &* 31))
            last = UInt64(MonotonicClock.now())
            if first == nil { first = last }
            _ = try producer.commit(claim, tensor: try TensorDescriptor(dtype: .uint8, shape: [100]), timestampNs: last)
            let stamp = last
            pump(&handler) { (current: H) in
                settled(current, index + 1) && UInt64(MonotonicClock.now()) - stamp >= 2_000_000
            }
        }
        return last - (first ?? last)
    }
}

/// Wire spec §10.5 (supervisor), §10.1.2-009 (assigned consumer ids) and §15.4-005 (throttling from QoS reports).
@Suite("Supervisor §10.5: watching and steering", .serialized)
struct SupervisorConformance {
    @Test(
        "a supervisor sees the producer (announce, QoS, metadata) and the consumer (hello, QoS) with the right values, and drops each when it leaves",
        .verifies("WIRE-10.5-001"))
    func watches() throws {
        let watched = try SupervisedScene()
        var handler = RecordingHandler()
        try watched.scene.settle(&handler)
        watched.producer.metadata.describe(name: "camera-0", summary: "uint8[100]")
        watched.producer.metadata.set(MetadataAttribute(key: "serial", text: "SN-42"))
        for _ in 0..<10 {
            _ = try publishPattern(watched.producer, count: 1, length: 100)
            watched.pump(&handler) { (seen: RecordingHandler) in
                seen.seqs.count + Int(watched.consumer.counters.dropsLate) >= Int(watched.producer.sequence)
            }
        }
        let consumerId = watched.consumer.consumerId
        #expect(
            watched.pump(&handler) {
                let snapshot = watched.supervisor.snapshot()
                return snapshot.producer(streamId: 10_000)?.currentSeq == 9
                    && snapshot.producer(streamId: 10_000)?.metadata?.attributes["serial"] != nil
                    && snapshot.producer(streamId: 10_000)?.name == "camera-0"
                    && watched.supervised?.lastSeqSeen == 9
            })
        let snapshot = watched.supervisor.snapshot()
        let producer = try #require(snapshot.producer(streamId: 10_000))
        #expect(producer.producerId == watched.producer.grant.clientId)
        #expect(producer.epoch == watched.producer.epoch)
        #expect(producer.headerSlots == watched.producer.grant.regions.headerNslots)
        #expect(producer.payloadPools == watched.producer.grant.regions.pools.count)
        #expect(producer.summary == "uint8[100]" && producer.metadata?.attributes["serial"]?.text == "SN-42")
        #expect(producer.metadata?.metaVersion == watched.producer.metadata.metaVersion)
        #expect(producer.lastAnnounceNs > 0 && producer.lastQosNs > 0)
        let consumer = try #require(watched.supervised)
        #expect(consumer.helloMode == .stream && consumer.reportedMode == .stream && consumer.maxRateHz == 0)
        #expect(consumer.epoch == watched.producer.epoch && consumer.dropsGap == watched.consumer.counters.dropsGap)
        #expect(consumer.lastHelloNs > 0 && consumer.lastQosNs > 0 && consumer.directive == nil)
        #expect(watched.supervisor.hellosSeen > 0 && watched.supervisor.announcesSeen > 0)
        // The events came as they happened: each member joined once, the metadata arrived.
        let joinedProducers = watched.events.filter { if case .producerJoined = $0 { true } else { false } }
        let joinedConsumers = watched.events.compactMap { event -> UInt32? in
            if case .consumerJoined(let joined) = event { joined.consumerId } else { nil }
        }
        #expect(joinedProducers.count == 1 && joinedConsumers == [consumerId])
        #expect(
            watched.events.contains { event in
                if case .metadata(let source) = event { source.attributes["serial"]?.text == "SN-42" } else { false }
            })
        // Liveness: a consumer that closes goes stale (3 × 1 s unheard: the one real-time expiry waited for here); a
        // producer that closes is announced without.
        watched.consumer.close()
        #expect(
            watched.pump(&handler) {
                watched.events.contains { event in
                    if case .consumerLeft(10_000, consumerId) = event { true } else { false }
                }
            })
        #expect(watched.supervisor.snapshot().consumers.isEmpty)
        let producerId = watched.producer.grant.clientId
        watched.producer.close()
        #expect(
            watched.pump(&handler) {
                watched.events.contains { event in
                    if case .producerLeft(10_000, producerId) = event { true } else { false }
                }
            })
        #expect(watched.supervisor.snapshot().producers.isEmpty)
    }

    @Test(
        "a supervisor forces a consumer into RATE_LIMITED, which then gates at its rate, and lifts it again; the producer repeats the directive",
        .verifies("WIRE-10.5-002"))
    func forcesRateLimited() throws {
        var options = ConsumerOptions()
        options.rateLimitedDefaultHz = 20
        let watched = try SupervisedScene(consumer: options)
        var handler = RecordingHandler()
        try watched.scene.settle(&handler)
        #expect(watched.pump(&handler) { watched.supervised != nil })
        #expect(watched.consumer.gateRateHz == 0)
        watched.supervisor.policy = { $0.streamId == 10_000 ? .rateLimited : nil }
        #expect(
            watched.pump(&handler) {
                watched.consumer.mode == .rateLimited && watched.supervised?.reportedMode == .rateLimited
                    && watched.producer.consumers[watched.consumer.consumerId]?.directive == .rateLimited
            })
        #expect(watched.consumer.gateRateHz == 20 && watched.consumer.modeChanges == 1)
        // The consumer's hello now asks for RATE_LIMITED at the rate in force.
        #expect(watched.pump(&handler) { watched.supervised?.helloMode == .rateLimited })
        #expect(watched.supervised?.maxRateHz == 20 && watched.producer.directivesReceived >= 1)
        #expect(
            watched.events.contains { event in
                if case .directiveSent(10_000, watched.consumer.consumerId, .rateLimited) = event {
                    true
                } else {
                    false
                }
            })
        // 150 frames at least 2 ms apart (their stamps span 298 ms or more): at most one per 50 ms of their stamps
        // gets through, so at least two; the rest are gated locally. Every frame is one or the other.
        handler.seqs.removeAll()
        let limitedBefore = watched.consumer.rateLimited
        let span = try watched.publishTimed(&handler, count: 150) { seen, published in
            Int(watched.consumer.rateLimited - limitedBefore) + seen.seqs.count == published
        }
        let ceiling = Int(span / 50_000_000) + 1
        #expect(
            handler.seqs.count >= 2 && handler.seqs.count <= ceiling, "\(handler.seqs.count) of 150 over \(span) ns")
        #expect(Int(watched.consumer.rateLimited - limitedBefore) == 150 - handler.seqs.count)
        // Still RATE_LIMITED after several hellos and QoS reports, and the producer's answers to those hellos: nothing
        // undoes the directive.
        let hellos = watched.consumer.hellosSent
        let reports = watched.consumer.qosSent
        let answers = watched.consumer.configsReceived
        #expect(
            watched.pump(&handler) {
                watched.consumer.hellosSent >= hellos + 3 && watched.consumer.qosSent >= reports + 3
                    && watched.consumer.configsReceived >= answers + 3
            })
        #expect(watched.consumer.mode == .rateLimited && watched.consumer.modeChanges == 1)
        // An operator lifts it (outranking the policy): every frame again.
        watched.supervisor.direct(.stream, streamId: 10_000, consumerId: watched.consumer.consumerId)
        #expect(
            watched.pump(&handler) { watched.consumer.mode == .stream && watched.supervised?.reportedMode == .stream })
        #expect(watched.consumer.gateRateHz == 0)
        handler.seqs.removeAll()
        let limitedAfter = watched.consumer.rateLimited
        _ = try watched.publishTimed(&handler, count: 20) { seen, published in
            seen.seqs.count + Int(watched.consumer.rateLimited - limitedAfter) == published
        }
        #expect(handler.seqs.count == 20 && watched.consumer.rateLimited == limitedAfter)
    }

    @Test(
        "a supervisor reading QoS drops throttles what the producer sends a consumer: the per-consumer descriptor stream is capped at the producer, and the stream stays granted",
        .verifies("WIRE-15.4-005"))
    func throttlesFromQos() throws {
        let endpoint = StreamEndpoint(channel: "aeron:ipc", streamId: UInt32(TestMediaDriver.uniqueStreamId()))
        var options = ConsumerOptions()
        options.descriptorStream = endpoint
        options.rateLimitedDefaultHz = 20
        let watched = try SupervisedScene(consumer: options)
        var handler = RecordingHandler()
        try watched.scene.settle(&handler)
        #expect(
            watched.pump(&handler) {
                watched.consumer.descriptorStream == endpoint
                    && watched.producer.consumers[watched.consumer.consumerId]?.descriptorStreamConnected == true
            })
        // A consumer that reports drops is rate-limited.
        watched.supervisor.policy = { $0.dropsGap + $0.dropsLate > 0 ? .rateLimited : nil }
        #expect(watched.pump(&handler) { watched.supervised?.grantedDescriptorStream == endpoint })
        // 40 frames into the 8-slot ring while the consumer does not read: it loses most of them.
        _ = try publishPattern(watched.producer, count: 40, length: 100)
        let id = watched.consumer.consumerId
        #expect(
            watched.pump(&handler) {
                watched.consumer.mode == .rateLimited
                    && watched.producer.consumers[id]?.grantedMode == .rateLimited
                    && watched.producer.consumers[id]?.maxRateHz == 20  // the consumer's hello with the rate in force
            })
        let throttled = try #require(watched.supervised)
        #expect(throttled.dropsLate > 0 && throttled.directive == .rateLimited)
        #expect(watched.consumer.descriptorStream == endpoint, "the supervisor's configuration kept the granted stream")
        // Whatever the burst left on the per-consumer stream is read first.
        let perConsumer = try #require(watched.producer.links[id]?.descriptor?.publication)
        let burstEnd = try #require(perConsumer.position)
        #expect(
            watched.pump(&handler) {
                hasRead(watched.consumer.descriptors, sessionId: perConsumer.sessionId, upTo: burstEnd)
            })
        // The producer now sends this consumer at most one descriptor per 50 ms (150 frames at least 2 ms apart: at
        // least two); each one sent is read, and nothing is gated locally.
        handler.seqs.removeAll()
        func sent() -> UInt64 { watched.producer.consumers[id]?.descriptorsSent ?? 0 }
        let sentBefore = sent()
        let started = UInt64(MonotonicClock.now())
        let limitedBefore = watched.consumer.rateLimited
        _ = try watched.publishTimed(&handler, count: 150) { seen, _ in seen.seqs.count == Int(sent() - sentBefore) }
        let elapsed = UInt64(MonotonicClock.now()) - started
        let sentNow = sent() - sentBefore
        let ceiling = elapsed / 50_000_000 + 1
        #expect(sentNow >= 2 && sentNow <= ceiling, "\(sentNow) descriptors in \(elapsed) ns")
        #expect(handler.seqs.count == Int(sentNow) && watched.consumer.rateLimited == limitedBefore)
    }

    @Test(
        "a supervisor sends a consumer to a fallback URI; the producer's own answers keep it there; STREAM brings it back to SHM",
        .verifies("WIRE-10.5-002"))
    func redirectsToFallback() throws {
        var options = ConsumerOptions()
        options.descriptorStream = StreamEndpoint(
            channel: "aeron:ipc", streamId: UInt32(TestMediaDriver.uniqueStreamId()))  // so the producer answers
        let watched = try SupervisedScene(consumer: options)
        var handler = RecordingHandler()
        try watched.scene.settle(&handler)
        #expect(watched.pump(&handler) { watched.supervised != nil })
        let uri = "aeron:udp?endpoint=127.0.0.1:40999"
        watched.supervisor.direct(.fallback(uri), streamId: 10_000, consumerId: watched.consumer.consumerId)
        #expect(watched.pump(&handler) { watched.consumer.state == .fallback(.aeron(uri)) })
        // Three hellos later, each answered by the producer, and the answers read by the consumer: still in FALLBACK.
        let answersBefore = watched.producer.configsSent
        let receivedBefore = watched.consumer.configsReceived
        #expect(
            watched.pump(&handler) {
                watched.producer.configsSent >= answersBefore + 3
                    && watched.consumer.configsReceived >= receivedBefore + 3
            })
        #expect(watched.consumer.state == .fallback(.aeron(uri)))
        #expect(watched.producer.consumers[watched.consumer.consumerId]?.directive == .fallback(uri))
        watched.supervisor.direct(.stream, streamId: 10_000, consumerId: watched.consumer.consumerId)
        #expect(watched.pump(&handler) { watched.consumer.state == .mapped(epoch: watched.producer.epoch) })
    }

    @Test(
        "consumer ids assigned by the supervisor are unique per stream and kept by the consumers given them",
        .verifies("WIRE-10.1.2-009"))
    func assignsConsumerIds() throws {
        let watched = try SupervisedScene()
        var handler = RecordingHandler()
        try watched.scene.settle(&handler)
        #expect(watched.pump(&handler) { watched.supervised != nil })
        var ids: Set<UInt32> = [watched.consumer.consumerId]
        for _ in 0..<200 {
            let id = watched.supervisor.assignConsumerId(streamId: 10_000)
            #expect(id != 0 && !ids.contains(id))
            ids.insert(id)
        }
        var options = ConsumerOptions()
        options.consumerId = watched.supervisor.assignConsumerId(streamId: 10_000)
        let assigned = try watched.scene.consumerSide.attachConsumer(streamId: 10_000, options: options)
        defer { assigned.close() }
        #expect(
            watched.pump(&handler) {
                watched.supervisor.snapshot().consumers.contains { $0.consumerId == options.consumerId }
            })
        #expect(assigned.consumerId == options.consumerId)
    }
}
