import Aeron
import ConformanceSupport
import DriverClient
import Foundation
import TensorPoolClient
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

/// Collects the frames a consumer accepts, checking each payload against the producer's pattern.
struct CheckingHandler: FrameHandling {
    var seqs: [UInt64] = []
    var corrupt = 0
    var overwritten = 0

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
        context.driverOptions.keepaliveIntervalNs = 50_000_000
        self.context = context
    }

    /// Sets the QoS reporting interval of the clients made afterwards.
    func qosInterval(_ nanoseconds: UInt64) { context.qosIntervalNs = nanoseconds }

    /// Sets the metadata channel of the clients made afterwards.
    func metadataChannel(_ channel: String) { context.metadataChannel = channel }

    /// Sets the metadata repetition interval of the clients made afterwards.
    func metadataInterval(_ nanoseconds: UInt64) { context.metadataIntervalNs = nanoseconds }

    func client() throws -> TensorPoolClient {
        try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
    }
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
        // The producer's epoch is the one the consumer must follow: wait for its announce.
        var handler = CheckingHandler()
        let remapDeadline = ContinuousClock.now + .seconds(5)
        while consumer.mapping.state != .mapped(epoch: producer.epoch) && ContinuousClock.now < remapDeadline {
            consumerSide.doWork()
            _ = consumer.poll(into: &handler)
            usleep(1_000)
        }
        #expect(consumer.mapping.state == .mapped(epoch: producer.epoch))
        // Wait until the descriptor subscription is connected, then publish in small batches the ring can hold.
        let connectDeadline = ContinuousClock.now + .seconds(5)
        var published = 0
        while published < 200 && ContinuousClock.now < connectDeadline + .seconds(5) {
            let outcomes = try publishPattern(producer, count: 4)
            published += outcomes.filter { if case .published = $0 { true } else { false } }.count
            for _ in 0..<20 {
                producerSide.doWork()
                consumerSide.doWork()
                _ = consumer.poll(into: &handler)
            }
        }
        let drainDeadline = ContinuousClock.now + .seconds(2)
        while handler.seqs.count < published && ContinuousClock.now < drainDeadline {
            _ = consumer.poll(into: &handler)
        }
        #expect(published >= 200)
        #expect(handler.corrupt == 0 && handler.overwritten == 0)
        #expect(handler.seqs.count == published, "every published frame was accepted: \(consumer.counters)")
        #expect(handler.seqs == handler.seqs.sorted() && Set(handler.seqs).count == handler.seqs.count)
        #expect(producer.framesPublished == UInt64(published))
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
        func pump(until condition: () -> Bool) {
            let deadline = ContinuousClock.now + .seconds(5)
            while !condition() && ContinuousClock.now < deadline {
                consumerSide.doWork()
                _ = consumer.poll(into: &handler)
                usleep(500)
            }
        }
        let firstSide = try pair.client()
        let first = try firstSide.attachProducer(streamId: 10_000)
        pump { consumer.mapping.state == .mapped(epoch: first.epoch) }
        _ = try publishPattern(first, count: 5)
        pump { handler.seqs.count == 5 }
        #expect(handler.seqs == [0, 1, 2, 3, 4])
        first.close()  // detach: the driver bumps the epoch
        let secondSide = try pair.client()
        let second = try secondSide.attachProducer(streamId: 10_000)
        #expect(second.epoch > first.epoch && second.sequence == 0)
        pump { consumer.mapping.state == .mapped(epoch: second.epoch) }
        #expect(consumer.mapping.state == .mapped(epoch: second.epoch))
        _ = try publishPattern(second, count: 3)
        pump { handler.seqs.count == 8 }
        #expect(handler.seqs == [0, 1, 2, 3, 4, 0, 1, 2], "sequence tracking restarted with the new epoch")
        #expect(consumer.remaps >= 2 && handler.corrupt == 0)
        consumer.close()
        second.close()
    }
}
