import Aeron
import ConformanceSupport
import DriverClient
import Foundation
import TensorPoolClient
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

/// Collects the frames a consumer accepts, checking each payload against the producer's pattern, and the state
/// changes it reports.
struct CheckingHandler: FrameHandling {
    var seqs: [UInt64] = []
    var corrupt = 0
    var overwritten = 0
    var states: [ConsumerState] = []

    mutating func onFrame(_ frame: FrameView, consumer: Consumer) {
        let expected = UInt8(truncatingIfNeeded: frame.seq &* 31)
        let good = frame.payload.allSatisfy { $0 == expected } && frame.timestampNs == frame.seq + 1_000
        guard consumer.isStillValid(frame) else {
            overwritten += 1
            return
        }
        if !good { corrupt += 1 }
        seqs.append(frame.seq)
    }

    mutating func onStateChange(_ state: ConsumerState, consumer: Consumer) { states.append(state) }
}

/// A producer and a consumer client in this process, over a driver agent and the shared embedded media driver.
final class ClientPair {
    let driver: RunningDriver
    private(set) var context: TensorPoolContext

    /// A driver and clients on unique streams; with `oneStream`, control, announces, QoS and metadata all share the
    /// driver's control stream (wire spec §15.11-005), only descriptors have their own.
    init(oneStream: Bool = false) throws {
        driver = try RunningDriver(oneStream: oneStream)
        var context = TensorPoolContext()
        context.controlStreamId = driver.controlStream
        context.announceStreamId = driver.announceStream
        context.descriptorStreamId = TestMediaDriver.uniqueStreamId()
        context.qosStreamId = oneStream ? driver.controlStream : TestMediaDriver.uniqueStreamId()
        context.metadataStreamId = oneStream ? driver.controlStream : TestMediaDriver.uniqueStreamId()
        context.allowedBaseDirectories = [driver.harnessDirectory]
        context.driverOptions.keepaliveIntervalNs = TestTiming.clientKeepaliveIntervalNs
        context.driverOptions.attemptTimeoutNs = TestTiming.attachAttemptTimeoutNs
        self.context = context
    }

    /// Sets the QoS reporting interval of the clients made afterwards.
    func qosInterval(_ nanoseconds: UInt64) { context.qosIntervalNs = nanoseconds }

    /// Sets the metadata channel of the clients made afterwards.
    func metadataChannel(_ channel: String) { context.metadataChannel = channel }

    /// Sets the metadata repetition interval of the clients made afterwards.
    func metadataInterval(_ nanoseconds: UInt64) { context.metadataIntervalNs = nanoseconds }

    /// Sets the freshness window (announces and region activity) of the clients made afterwards.
    func freshnessWindow(_ nanoseconds: UInt64) { context.freshnessWindowNs = nanoseconds }

    func client() throws -> TensorPoolClient {
        try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
    }
}

/// A deadline that only guards against a hang: a wait that ends when its condition holds never reaches it on a
/// working system, however busy.
func hangGuardDeadline() -> ContinuousClock.Instant { ContinuousClock.now + TestTiming.hangGuard }

/// Whether `subscription` has read the stream of publisher session `sessionId` up to `position` (an offer's
/// `.success(position:)`, or a publication's `position`): everything appended before it was handed to the poller.
/// A subscription whose image of that session is not there yet has read nothing of it.
func hasRead(_ subscription: Subscription, sessionId: Int32, upTo position: Int64) -> Bool {
    subscription.images.contains { $0.sessionId == sessionId && $0.position >= position }
}

/// Publishes `count` frames of `length` bytes whose bytes are `seq * 31` and whose slot timestamp is `seq + 1000`.
func publishPattern(_ producer: Producer, count: Int, length: Int = 1000) throws -> [PublishOutcome] {
    var outcomes: [PublishOutcome] = []
    for _ in 0..<count {
        let claim = try producer.tryClaim(length: length)
        claim.payload.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: claim.seq &* 31))
        outcomes.append(
            try producer.commit(
                claim, tensor: try TensorDescriptor(dtype: .uint8, shape: [length]), timestampNs: claim.seq + 1_000))
    }
    return outcomes
}

/// Wire spec §10.2 and driver spec §2.2–§2.3 end to end: producer and consumer clients over the driver.
@Suite("Clients §10.2: producer and consumer end to end", .serialized)
struct ClientEndToEndConformance {
    @Test(
        "each committed frame gets one descriptor whose seq is the slot's; the consumer reads shape and payload from SHM",
        .verifies(
            "WIRE-10.2.1-001", "WIRE-10.2.1-002", "WIRE-10.2.1-007", "WIRE-10.2.1-009", "WIRE-10.2.1-010",
            "DRV-2.2-002", "DRV-2.3-002"))
    func endToEnd() throws {
        let pair = try ClientPair()
        let consumerSide = try pair.client()
        let producerSide = try pair.client()
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        let producer = try producerSide.attachProducer(streamId: 10_000)
        var handler = CheckingHandler()
        let deadline = hangGuardDeadline()
        func pump(until condition: () -> Bool) {
            while !condition() && ContinuousClock.now < deadline {
                producerSide.doWork()
                consumerSide.doWork()
                _ = consumer.poll(into: &handler)
            }
        }
        // The producer's epoch is the one the consumer must follow (its announce), and its descriptors reach the
        // consumer once the descriptor subscription is connected.
        pump { consumer.mapping.state == .mapped(epoch: producer.epoch) && producer.hasSubscribers }
        #expect(consumer.mapping.state == .mapped(epoch: producer.epoch))
        try #require(producer.hasSubscribers)
        // 200 frames in batches the ring (8 slots) holds, each batch read before the next: every frame is accounted
        // for, as accepted, overwritten or dropped by the consumer; the assertions below say it was accepted.
        var outcomes: [PublishOutcome] = []
        for _ in 0..<50 {
            outcomes += try publishPattern(producer, count: 4)
            pump {
                let counters = consumer.counters
                return handler.seqs.count + handler.overwritten + Int(counters.dropsLate + counters.dropsInvalid)
                    >= outcomes.count
            }
        }
        let published = outcomes.filter { if case .published = $0 { true } else { false } }.count
        let unsent = outcomes.filter { if case .published = $0 { false } else { true } }
        #expect(published == 200, "every descriptor was sent: \(unsent.prefix(3))")
        #expect(handler.corrupt == 0 && handler.overwritten == 0)
        #expect(handler.seqs.count == published, "every published frame was accepted: \(consumer.counters)")
        #expect(handler.seqs == Array(0..<200), "in order, none twice")
        #expect(producer.framesPublished == UInt64(published) && producer.descriptorsNotSent == 0)
        consumer.close()
        producer.close()
    }

    @Test(
        "a new producer epoch mid-stream: the consumer drops the old epoch, remaps on the announce, and follows seq from 0",
        .verifies("WIRE-15.2-003", "WIRE-10.2.1-008", "DRV-4.9-012", "DRV-6-007"))
    func epochChange() throws {
        let pair = try ClientPair()
        let consumerSide = try pair.client()
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        var handler = CheckingHandler()
        var sides = [consumerSide]
        let deadline = hangGuardDeadline()
        func pump(until condition: () -> Bool) {
            while !condition() && ContinuousClock.now < deadline {
                for side in sides { side.doWork() }
                _ = consumer.poll(into: &handler)
                usleep(500)
            }
        }
        let firstSide = try pair.client()
        sides.append(firstSide)
        let first = try attachProducer(firstSide, streamId: 10_000, pumping: [consumerSide])
        pump { consumer.mapping.state == .mapped(epoch: first.epoch) && first.hasSubscribers }
        _ = try publishPattern(first, count: 5)
        pump { handler.seqs.count == 5 }
        #expect(handler.seqs == [0, 1, 2, 3, 4])
        first.close()  // detach: the driver bumps the epoch
        let secondSide = try pair.client()
        sides = [consumerSide, secondSide]
        let second = try attachProducer(secondSide, streamId: 10_000, pumping: [consumerSide])
        #expect(second.epoch > first.epoch && second.sequence == 0)
        pump { consumer.mapping.state == .mapped(epoch: second.epoch) && second.hasSubscribers }
        #expect(consumer.mapping.state == .mapped(epoch: second.epoch))
        _ = try publishPattern(second, count: 3)
        pump { handler.seqs.count == 8 }
        #expect(handler.seqs == [0, 1, 2, 3, 4, 0, 1, 2], "sequence tracking restarted with the new epoch")
        #expect(consumer.remaps >= 2 && handler.corrupt == 0)
        consumer.close()
        second.close()
    }
}
