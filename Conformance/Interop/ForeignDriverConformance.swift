import Aeron
import Agents
import ConformanceSupport
import Foundation
import TensorPoolClient
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

/// Our producer and consumer clients on a driver that behaves as the peers' drivers do (``ForeignDriver``): monotonic
/// superblock timestamps that the driver never refreshes, pools with `slot_bytes` = 0xFFFFFFFF, URIs with
/// `|require_hugepages=false`, lease ids of its own, regions provisioned before any producer.
@Suite("Interop: our clients on a driver that behaves as the peers' drivers do", .serialized)
struct ForeignDriverConformance {
    /// Clients of `driver` whose freshness window is `freshness` (1 s: short, so the cases need not wait long for
    /// regions to go stale; a stall only delays what the cases wait for, it cannot make them pass wrongly).
    static func context(_ driver: ForeignDriver, freshness: UInt64 = 1_000_000_000) -> TensorPoolContext {
        var context = TensorPoolContext()
        context.controlStreamId = driver.controlStream
        context.announceStreamId = driver.announceStream
        context.descriptorStreamId = TestMediaDriver.uniqueStreamId()
        context.qosStreamId = TestMediaDriver.uniqueStreamId()
        context.metadataStreamId = TestMediaDriver.uniqueStreamId()
        context.allowedBaseDirectories = [driver.baseDirectory]
        context.freshnessWindowNs = freshness
        context.driverOptions.keepaliveIntervalNs = TestTiming.clientKeepaliveIntervalNs
        context.driverOptions.attemptTimeoutNs = TestTiming.attachAttemptTimeoutNs
        return context
    }

    /// A producer that refreshes its regions every 50 ms, well inside the 1 s window.
    static var producerOptions: ProducerOptions {
        var options = ProducerOptions()
        options.activityRefreshIntervalNs = 50_000_000
        return options
    }

    /// The time on the clock both sides stamp superblocks with.
    static func now() -> UInt64 { UInt64(MonotonicClock.now()) }

    @Test(
        "on a driver that never refreshes activity, our producer keeps its regions fresh: frames flow past three announce periods and the freshness window, and a late consumer maps the regions",
        .verifies("WIRE-15.14-001", "DRV-3-011"))
    func producerKeepsRegionsFresh() throws {
        let driver = try ForeignDriver(announcePeriod: .milliseconds(200))
        let context = Self.context(driver)
        let consumerSide = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let producerSide = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let consumer = try consumerSide.attachConsumer(streamId: driver.streamId)
        let producer = try producerSide.attachProducer(streamId: driver.streamId, options: Self.producerOptions)
        // The driver's own lease ids, and the first producer of a provisioned stream keeps its epoch.
        #expect(
            producer.grant.leaseId >= ForeignDriver.leaseIdBase && consumer.grant.leaseId >= ForeignDriver.leaseIdBase)
        #expect(Set(driver.snapshot.leaseIds) == [producer.grant.leaseId, consumer.grant.leaseId])
        #expect(producer.epoch == driver.snapshot.epoch && consumer.grant.epoch == producer.epoch)
        let stamped = driver.snapshot.regionsStampedNs
        var handler = CheckingHandler()
        let deadline = hangGuardDeadline()
        func pump(until condition: () -> Bool) {
            while !condition() && ContinuousClock.now < deadline {
                producerSide.doWork()
                consumerSide.doWork()
                _ = consumer.poll(into: &handler)
            }
        }
        pump { consumer.mapping.state == .mapped(epoch: producer.epoch) && producer.hasSubscribers }
        try #require(consumer.mapping.state == .mapped(epoch: producer.epoch) && producer.hasSubscribers)
        // Stream in batches the 16-slot ring holds, each read before the next, until the regions are older than
        // three announce periods and the freshness window (a lower bound on time: a slow machine streams longer).
        let window = context.freshnessWindowNs
        let streamUntil = stamped + max(3 * driver.announcePeriodNs, window) + 200_000_000
        var outcomes: [PublishOutcome] = []
        while Self.now() < streamUntil && ContinuousClock.now < deadline {
            outcomes += try publishPattern(producer, count: 4)
            pump { handler.seqs.count + handler.overwritten >= outcomes.count }
        }
        let published = outcomes.filter { if case .published = $0 { true } else { false } }.count
        #expect(published == outcomes.count && published > 0)
        #expect(handler.corrupt == 0 && handler.overwritten == 0)
        #expect(handler.seqs == Array(0..<UInt64(published)), "every frame, in order: \(consumer.counters)")
        #expect(consumer.mapping.state == .mapped(epoch: producer.epoch))
        // The driver stamped the regions once, at creation; what the files hold now is the producer's refresh.
        let header = try driver.headerSuperblock()
        #expect(header.activityTimestampNs > stamped + window, "header activity \(header.activityTimestampNs)")
        for path in driver.snapshot.poolPaths {
            let pool = try ForeignDriver.superblock(at: path)
            #expect(pool.activityTimestampNs > stamped + window && pool.slotBytes == 0xFFFF_FFFF, "\(path)")
        }
        // A consumer joining now maps the regions: they are fresh only because the producer refreshed them.
        let late = try consumerSide.attachConsumer(streamId: driver.streamId)
        var lateHandler = CheckingHandler()
        pump {
            _ = late.poll(into: &lateHandler)
            return late.mapping.state == .mapped(epoch: producer.epoch)
        }
        #expect(late.mapping.state == .mapped(epoch: producer.epoch))
        late.close()
        consumer.close()
        producer.close()
    }

    @Test(
        "our consumer joins a stream whose regions went stale before any producer came: it waits instead of failing, and receives once a producer appears",
        .verifies("WIRE-15.1-005"))
    func joinsIdleStream() throws {
        let driver = try ForeignDriver(announcePeriod: .milliseconds(200))
        let context = Self.context(driver)
        // Let the idle stream's regions go stale: older than the window (a lower bound on time).
        let staleAt = driver.snapshot.regionsStampedNs + context.freshnessWindowNs + 100_000_000
        while Self.now() < staleAt { usleep(10_000) }
        let consumerSide = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let consumer = try consumerSide.attachConsumer(streamId: driver.streamId)
        // Granted stale regions: the attach succeeded, nothing is mapped, the consumer is still trying.
        #expect(consumer.mapping.state == .unmapped && consumer.isActive)
        var handler = CheckingHandler()
        // Announces of the same stale epoch keep coming; the consumer maps nothing while no one refreshes.
        let announcesBefore = driver.snapshot.announces
        let deadline = hangGuardDeadline()
        while driver.snapshot.announces < announcesBefore + 3 && ContinuousClock.now < deadline {
            consumerSide.doWork()
            _ = consumer.poll(into: &handler)
        }
        #expect(consumer.mapping.state == .unmapped && consumer.isActive)
        #expect(consumer.failure == nil)
        // A producer appears (it gets the stream's current epoch) and refreshes the regions: the consumer maps.
        let producerSide = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let producer = try producerSide.attachProducer(streamId: driver.streamId, options: Self.producerOptions)
        #expect(producer.epoch == consumer.grant.epoch)
        func pump(until condition: () -> Bool) {
            while !condition() && ContinuousClock.now < deadline {
                producerSide.doWork()
                consumerSide.doWork()
                _ = consumer.poll(into: &handler)
            }
        }
        pump { consumer.mapping.state == .mapped(epoch: producer.epoch) && producer.hasSubscribers }
        try #require(consumer.mapping.state == .mapped(epoch: producer.epoch) && producer.hasSubscribers)
        let outcomes = try publishPattern(producer, count: 8)
        pump { handler.seqs.count + handler.overwritten >= outcomes.count }
        #expect(handler.seqs == Array(0..<8) && handler.corrupt == 0)
        consumer.close()
        producer.close()
    }

    @Test(
        "regions stamped on the realtime clock look stale to a monotonic reader: the consumer waits, then fails with a typed error naming the field and both values",
        .verifies("WIRE-15.1-005"))
    func realtimeStampsRefused() throws {
        let driver = try ForeignDriver(announcePeriod: .milliseconds(200), superblockClock: .realtime)
        var context = Self.context(driver)
        context.staleRegionTimeoutNs = 300_000_000
        let stamped = driver.snapshot.regionsStampedNs
        let consumerSide = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let consumer = try consumerSide.attachConsumer(streamId: driver.streamId)
        var handler = CheckingHandler()
        let deadline = hangGuardDeadline()
        while consumer.failure == nil && ContinuousClock.now < deadline {
            consumerSide.doWork()
            _ = consumer.poll(into: &handler)
        }
        #expect(consumer.mapping.state == .unmapped && !consumer.isActive)
        let failure = try #require(consumer.failure)
        let text = "\(failure)"
        #expect(text.contains("activity_timestamp_ns") && text.contains("\(stamped)"), "\(text)")
        guard case .staleRegion(let field, let activity, let now, _) = failure else {
            Issue.record("expected .staleRegion, got \(failure)")
            return
        }
        #expect(field == "activity_timestamp_ns" && activity == stamped && text.contains("\(now)"))
        #expect(handler.seqs.isEmpty)
    }
}
