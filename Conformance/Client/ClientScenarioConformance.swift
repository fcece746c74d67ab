import Agents
import ConformanceSupport
import DriverClient
import Foundation
import TensorPoolSHM
import TestProcesses
import Testing

@testable import TensorPoolClient

/// Pumps `clients` and polls `consumers` into their handlers until `condition` holds (or the hang guard runs out).
func pump(
    _ clients: [TensorPoolClient], _ consumers: [Consumer], _ handlers: inout [CheckingHandler],
    until condition: ([CheckingHandler]) -> Bool
) {
    let deadline = hangGuardDeadline()
    while !condition(handlers) && ContinuousClock.now < deadline {
        for client in clients { client.doWork() }
        for index in consumers.indices { _ = consumers[index].poll(into: &handlers[index]) }
        usleep(200)
    }
}

/// Attaches a producer on `side` while `clients` keep working (their keepalives and driver events do not wait for the
/// attach). Ends with the producer, or with the attach's own timeout (the context's `attachTimeout`).
func attachProducer(_ side: TensorPoolClient, streamId: UInt32, pumping clients: [TensorPoolClient]) throws -> Producer
{
    let pending = side.beginAttachProducer(streamId: streamId)
    while true {
        if let producer = try pending.poll() { return producer }
        for client in clients { client.doWork() }
        usleep(200)
    }
}

/// Publishes one frame of the test pattern with a chosen slot timestamp.
func publishOne(_ producer: Producer, timestampNs: UInt64, length: Int = 256) throws {
    let claim = try producer.tryClaim(length: length)
    claim.payload.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: claim.seq &* 31))
    _ = try producer.commit(
        claim, tensor: try TensorDescriptor(dtype: .uint8, shape: [length]), timestampNs: timestampNs)
}

/// Client scenarios of issue 7: several consumers, late joiners, a producer that dies, local rate limiting.
@Suite("Clients: consumers, late joiners, producer restart, rate limiting", .serialized)
struct ClientScenarioConformance {
    @Test("four consumers on one stream each receive every frame", .verifies("DRV-5-003"))
    func fourConsumers() throws {
        let pair = try ClientPair()
        let sides = try (0..<5).map { _ in try pair.client() }
        // Attached without blocking, all at once, while every client keeps its leases alive.
        let pending = sides[0..<4].map { $0.beginAttachConsumer(streamId: 10_000) }
        let pendingProducer = sides[4].beginAttachProducer(streamId: 10_000)
        var consumers: [Consumer] = []
        var attachedProducer: Producer?
        let deadline = hangGuardDeadline()
        while (consumers.count < 4 || attachedProducer == nil) && ContinuousClock.now < deadline {
            for side in sides { side.doWork() }
            consumers = try pending.compactMap { try $0.poll() }
            attachedProducer = try pendingProducer.poll()
        }
        let producer = try #require(attachedProducer)
        try #require(consumers.count == 4)
        var handlers = Array(repeating: CheckingHandler(), count: 4)
        pump(sides, consumers, &handlers) { _ in
            consumers.allSatisfy { $0.mapping.state == .mapped(epoch: producer.epoch) }
        }
        pump(sides, consumers, &handlers) { _ in producer.hasSubscribers }
        for _ in 0..<25 {
            _ = try publishPattern(producer, count: 4, length: 512)
            pump(sides, consumers, &handlers) { handlers in
                handlers.allSatisfy { $0.seqs.count == Int(producer.sequence) }
            }
        }
        for handler in handlers {
            #expect(handler.seqs == Array(0..<100) && handler.corrupt == 0)
        }
    }

    @Test(
        "a consumer attached after the producer maps the producer's epoch and receives what follows",
        .verifies("DRV-2.3-001", "DRV-3-009"))
    func lateConsumer() throws {
        let pair = try ClientPair()
        let producerSide = try pair.client()
        let producer = try producerSide.attachProducer(streamId: 10_000)
        _ = try publishPattern(producer, count: 10)  // nobody listens yet
        let consumerSide = try pair.client()
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        #expect(consumer.grant.epoch == producer.epoch && consumer.mapping.state == .mapped(epoch: producer.epoch))
        var handlers = [CheckingHandler()]
        pump([producerSide, consumerSide], [consumer], &handlers) { _ in producer.hasSubscribers }
        _ = try publishPattern(producer, count: 5)
        pump([producerSide, consumerSide], [consumer], &handlers) { $0[0].seqs.count == 5 }
        #expect(handlers[0].seqs == [10, 11, 12, 13, 14] && handlers[0].corrupt == 0)
    }

    @Test(
        "a producer that stops keeping its lease alive: consumers drop it, wait for the new epoch and follow the next producer",
        .verifies("WIRE-15.2-004", "DRV-4.9-012", "DRV-7-002"))
    func producerRestart() throws {
        let pair = try ClientPair()
        let consumerSide = try pair.client()
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        let deadSide = try pair.client()
        // Made now: adding an Aeron client later would stall the consumer's keepalives.
        let nextSide = try pair.client()
        let dead = try deadSide.attachProducer(streamId: 10_000)
        var handlers = [CheckingHandler()]
        pump([consumerSide, deadSide], [consumer], &handlers) { _ in
            consumer.mapping.state == .mapped(epoch: dead.epoch) && dead.hasSubscribers
        }
        _ = try publishPattern(dead, count: 3)
        pump([consumerSide, deadSide], [consumer], &handlers) { $0[0].seqs.count == 3 }
        // The dead producer's client is never pumped again: no keepalives, the lease expires (after
        // TestTiming.leaseExpiry, 5 s: the one real lease expiry of these scenarios). The revocation unmaps the
        // consumer; the announce of the bumped epoch may remap it right after.
        pump([consumerSide], [consumer], &handlers) { _ in consumer.mapping.state != .mapped(epoch: dead.epoch) }
        #expect(consumer.mapping.state != .mapped(epoch: dead.epoch), "the dead producer's epoch was dropped")
        let next = try attachProducer(nextSide, streamId: 10_000, pumping: [consumerSide])
        #expect(next.epoch > dead.epoch)
        pump([consumerSide, nextSide], [consumer], &handlers) { _ in
            consumer.mapping.state == .mapped(epoch: next.epoch) && next.hasSubscribers
        }
        _ = try publishPattern(next, count: 3)
        pump([consumerSide, nextSide], [consumer], &handlers) { $0[0].seqs.count == 6 }
        #expect(handlers[0].seqs == [0, 1, 2, 0, 1, 2] && handlers[0].corrupt == 0)
    }

    @Test(
        "a consumer that hears no announce of the new epoch within three announce periods attaches again, with backoff",
        .verifies("DRV-4.9-019", "DRV-4.9-020"))
    func announceTimeout() throws {
        let pair = try ClientPair()
        var context = pair.context
        context.announceStreamId = TestMediaDriver.uniqueStreamId()  // announces never reach this consumer
        // An announce period the real clock does not reach during the case: the timeout is driven below through the
        // consumer's own check (the one its duty cycle runs with the monotonic clock), at chosen times.
        let period: UInt64 = 20_000_000_000
        context.announcePeriodNs = period
        let consumerSide = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let deadSide = try pair.client()
        let nextSide = try pair.client()
        let dead = try deadSide.attachProducer(streamId: 10_000)
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        var handlers = [CheckingHandler()]
        pump([consumerSide, deadSide], [consumer], &handlers) { _ in dead.hasSubscribers }
        #expect(consumer.mapping.state == .mapped(epoch: dead.epoch))
        // The producer goes: the revocation unmaps the consumer, and no announce follows.
        dead.close()
        pump([consumerSide], [consumer], &handlers) { _ in consumer.state != .mapped(epoch: dead.epoch) }
        try #require(consumer.state == .unmapped)
        // It waits three announce periods from when it was last mapped, and not a nanosecond less; then it unmaps
        // (nothing stays mapped) and attaches again.
        let revoked = consumer.lastMappedNs
        #expect(consumer.checkAnnounceTimeout(now: revoked + 3 * period - 1) == 0 && consumer.announceTimeouts == 0)
        #expect(consumer.checkAnnounceTimeout(now: revoked + 3 * period) == 1 && consumer.announceTimeouts == 1)
        #expect(consumer.reattach != nil && consumer.mapping.reader == nil)
        pump([consumerSide], [consumer], &handlers) { _ in
            if case .mapped(let epoch) = consumer.state { epoch > dead.epoch } else { false }
        }
        guard case .mapped(let bumped) = consumer.state else {
            Issue.record("not remapped after the re-attach")
            return
        }
        #expect(bumped > dead.epoch && consumer.grant.epoch == bumped)
        // A new producer: its descriptors' epoch unmaps the consumer, which times out and attaches again.
        let next = try attachProducer(nextSide, streamId: 10_000, pumping: [consumerSide])
        pump([consumerSide, nextSide], [consumer], &handlers) { _ in next.hasSubscribers }
        _ = try publishPattern(next, count: 1)
        pump([consumerSide, nextSide], [consumer], &handlers) { _ in consumer.state == .unmapped }
        try #require(consumer.state == .unmapped)
        let lost = consumer.lastMappedNs
        #expect(consumer.checkAnnounceTimeout(now: lost + 3 * period - 1) == 0 && consumer.announceTimeouts == 1)
        #expect(consumer.checkAnnounceTimeout(now: lost + 3 * period) == 1 && consumer.announceTimeouts == 2)
        pump([consumerSide, nextSide], [consumer], &handlers) { _ in
            consumer.state == .mapped(epoch: next.epoch)
        }
        #expect(consumer.state == .mapped(epoch: next.epoch) && consumer.announceTimeouts == 2)
        _ = try publishPattern(next, count: 3)
        pump([consumerSide, nextSide], [consumer], &handlers) { $0[0].seqs.count == 3 }
        #expect(handlers[0].seqs == [1, 2, 3] && handlers[0].corrupt == 0)
    }

    @Test(
        "a local rate cap drops frames closer than 1/max_rate_hz, gating on the slot timestamp, else the local clock",
        .verifies("WIRE-11-003", "WIRE-11-006", "WIRE-11-007", "WIRE-10.1-002"))
    func rateLimited() throws {
        let pair = try ClientPair()
        let consumerSide = try pair.client()
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        let producerSide = try pair.client()
        let producer = try producerSide.attachProducer(streamId: 10_000)
        var handlers = [CheckingHandler()]
        pump([consumerSide, producerSide], [consumer], &handlers) { _ in
            consumer.mapping.state == .mapped(epoch: producer.epoch) && producer.hasSubscribers
        }
        consumer.maxRateHz = 100  // one frame per 10 ms
        // 50 frames whose capture timestamps are 1 ms apart (each read before the next, the ring holds 8): 5 pass.
        for index in 0..<50 {
            try publishOne(producer, timestampNs: 5_000_000_000 + UInt64(index) * 1_000_000)
            pump([consumerSide, producerSide], [consumer], &handlers) { current in
                consumer.rateLimited + UInt64(current[0].seqs.count) >= UInt64(index + 1)
            }
        }
        #expect(handlers[0].seqs == [0, 10, 20, 30, 40] && consumer.rateLimited == 45)
        // Without a usable timestamp the local clock gates: at 1 Hz, a burst of 20 lets the first frame through and
        // then at most one per second of the local clock while it lasts (one, unless the machine stalls the burst).
        consumer.maxRateHz = 1
        let before = handlers[0].seqs.count
        let burstStart = UInt64(MonotonicClock.now())
        for index in 0..<20 {
            try publishOne(producer, timestampNs: 0)
            pump([consumerSide, producerSide], [consumer], &handlers) { current in
                consumer.rateLimited + UInt64(current[0].seqs.count) >= UInt64(50 + index + 1)
            }
        }
        let burst = UInt64(MonotonicClock.now()) - burstStart
        let passed = handlers[0].seqs.count - before
        #expect(
            handlers[0].seqs.count > before && handlers[0].seqs[before] == 50, "the first frame of the burst passes")
        #expect(passed <= Int(burst / 1_000_000_000) + 1, "\(passed) frames passed in \(burst) ns")
        #expect(consumer.rateLimited == 45 + UInt64(20 - passed), "every frame passed or was rate-limited")
    }

    @Test(
        "frames and drops are published as Aeron counters that another client can read",
        .verifies("WIRE-15.13-005"))
    func aeronCounters() throws {
        let pair = try ClientPair()
        let consumerSide = try pair.client()
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        let producerSide = try pair.client()
        let producer = try producerSide.attachProducer(streamId: 10_000)
        var handlers = [CheckingHandler()]
        pump([consumerSide, producerSide], [consumer], &handlers) { _ in
            consumer.mapping.state == .mapped(epoch: producer.epoch) && producer.hasSubscribers
        }
        _ = try publishPattern(producer, count: 6)
        pump([consumerSide, producerSide], [consumer], &handlers) { $0[0].seqs.count == 6 }
        let observer = try TestMediaDriver.client()
        defer { observer.close() }
        func value(_ type: Int32, lease: UInt64, client: UInt32) -> Int64? {
            var key = [UInt8]()
            withUnsafeBytes(of: UInt32(10_000).littleEndian) { key.append(contentsOf: $0) }
            withUnsafeBytes(of: lease.littleEndian) { key.append(contentsOf: $0) }
            withUnsafeBytes(of: client.littleEndian) { key.append(contentsOf: $0) }
            return observer.counters.all.first { $0.typeId == type && Array($0.key.prefix(16)) == key }?.value
        }
        // The counters are added asynchronously; the duty cycle fills them in once they exist.
        let p = (producer.grant.leaseId, producer.grant.clientId)
        let c = (consumer.grant.leaseId, consumer.grant.clientId)
        let deadline = hangGuardDeadline()
        // Every counter asserted below exists (each is added on its own) and those that count something are filled in.
        let checked = [
            (TensorPoolCounterType.descriptorsNotSent, p), (TensorPoolCounterType.dropsGap, c),
            (TensorPoolCounterType.dropsLate, c),
        ]
        while (value(TensorPoolCounterType.framesPublished, lease: p.0, client: p.1) != 6
            || value(TensorPoolCounterType.framesAccepted, lease: c.0, client: c.1) != 6
            || (value(TensorPoolCounterType.remaps, lease: c.0, client: c.1) ?? 0) < 1
            || checked.contains { value($0.0, lease: $0.1.0, client: $0.1.1) == nil })
            && ContinuousClock.now < deadline
        {
            consumerSide.refreshCounters()
            producerSide.refreshCounters()
            usleep(1_000)
        }
        consumerSide.refreshCounters()
        #expect(value(TensorPoolCounterType.framesPublished, lease: p.0, client: p.1) == 6)
        #expect(value(TensorPoolCounterType.descriptorsNotSent, lease: p.0, client: p.1) == 0)
        #expect(value(TensorPoolCounterType.framesAccepted, lease: c.0, client: c.1) == 6)
        #expect(value(TensorPoolCounterType.dropsGap, lease: c.0, client: c.1) == 0)
        #expect(value(TensorPoolCounterType.dropsLate, lease: c.0, client: c.1) == 0)
        #expect((value(TensorPoolCounterType.remaps, lease: c.0, client: c.1) ?? 0) >= 1)
    }
}
