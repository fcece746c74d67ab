import Aeron
import Agents
import ConformanceSupport
import Foundation
import SBE
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

@testable import TensorPoolClient

/// Wire spec §10.4 and §10.1.2-011: QoS reports between the clients, a monitor, and consumer-id collisions.
@Suite("Clients §10.4: QoS", .serialized)
struct QosConformance {
    @Test(
        "producers and consumers report QoS at the configured interval; a monitor sees the right values",
        .verifies("WIRE-10.4.1-001"))
    func reports() throws {
        let pair = try ClientPair()
        pair.qosInterval(50_000_000)
        let consumerSide = try pair.client()
        let producerSide = try pair.client()
        let monitor = try QosMonitor(
            aeron: try TestMediaDriver.client(), channel: pair.context.qosChannel, streamId: pair.context.qosStreamId)
        defer { monitor.close() }
        var seenProducer: [ProducerQos] = []
        var seenConsumer: [ConsumerQos] = []
        monitor.onProducer = { seenProducer.append($0) }
        monitor.onConsumer = { seenConsumer.append($0) }
        let producer = try producerSide.attachProducer(streamId: 10_000)
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        var handler = CheckingHandler()
        let deadline = hangGuardDeadline()
        func pumpAll(until condition: () -> Bool) {
            while !condition() && ContinuousClock.now < deadline {
                consumerSide.doWork()
                producerSide.doWork()
                _ = consumer.poll(into: &handler)
                monitor.poll()
                usleep(200)
            }
        }
        pumpAll { producer.hasSubscribers }
        for _ in 0..<10 {
            _ = try publishPattern(producer, count: 1, length: 100)
            pumpAll { handler.seqs.count + Int(consumer.counters.dropsLate) >= Int(producer.sequence) }
        }
        let key = QosMonitor.StreamMember(streamId: 10_000, id: consumer.consumerId)
        pumpAll { monitor.consumers[key]?.lastSeqSeen == 9 }
        let consumerReport = try #require(monitor.consumers[key])
        #expect(consumerReport.epoch == producer.epoch && consumerReport.mode == .stream)
        #expect(consumerReport.dropsGap == consumer.counters.dropsGap)
        let producerKey = QosMonitor.StreamMember(streamId: 10_000, id: producer.grant.clientId)
        pumpAll { monitor.producers[producerKey]?.currentSeq == 9 }
        let producerReport = try #require(monitor.producers[producerKey])
        #expect(producerReport.epoch == producer.epoch && producerReport.watermark == nil)
        // At the configured cadence, not once per duty cycle: reports keep coming (six more from each member, and the
        // monitor hears them), never two within 50 ms, so n of them span at least (n - 1) × 50 ms.
        let before = (seenProducer.count, seenConsumer.count, producer.qosSent, consumer.qosSent)
        let started = UInt64(MonotonicClock.now())
        pumpAll {
            producer.qosSent >= before.2 + 6 && consumer.qosSent >= before.3 + 6
                && seenProducer.count > before.0 && seenConsumer.count > before.1
        }
        let elapsed = UInt64(MonotonicClock.now()) - started
        let sent = (producer.qosSent - before.2, consumer.qosSent - before.3)
        let ceiling = elapsed / 50_000_000 + 1
        #expect(sent.0 >= 6 && sent.0 <= ceiling && sent.1 >= 6 && sent.1 <= ceiling, "\(sent) in \(elapsed) ns")
        #expect(seenProducer.count > before.0 && seenConsumer.count > before.1)
        // A consumer that stops reporting is dropped from the monitor after its stale period.
        #expect(monitor.collisions.isEmpty)
    }

    @Test(
        "a self-assigned consumer id reported by another client is replaced; the monitor reports the collision",
        .verifies("WIRE-10.1.2-011"))
    func collisions() throws {
        let scene = try ControlScene()
        var handler = RecordingHandler()
        try scene.settle(&handler)
        let monitor = try QosMonitor(
            aeron: try TestMediaDriver.client(), channel: scene.pair.context.qosChannel,
            streamId: scene.pair.context.qosStreamId)
        defer { monitor.close() }
        let original = scene.consumer.consumerId
        let rawQos = try scene.raw.addExclusivePublication(  // another client's session, as any other client's
            channel: scene.pair.context.qosChannel, streamId: scene.pair.context.qosStreamId)
        var bytes = [UInt8](repeating: 0, count: 128)
        let length = try bytes.withUnsafeMutableBytes { buffer in
            let encoder = try WireSchema.QosConsumerEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 10_000
            encoder.consumerId = original
            encoder.epoch = scene.producer.epoch
            encoder.lastSeqSeen = 0
            encoder.dropsGap = 0
            encoder.dropsLate = 0
            encoder.mode = .stream
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        // The consumer's own report first (the monitor knows the id), then the impostor's.
        let deadline = hangGuardDeadline()
        while monitor.consumers[.init(streamId: 10_000, id: original)] == nil && ContinuousClock.now < deadline {
            scene.pump(&handler, for: .milliseconds(20))
            monitor.poll()
        }
        var sent = false
        while !sent && ContinuousClock.now < deadline {
            sent = bytes.withUnsafeBytes { rawQos.offer(UnsafeRawBufferPointer(rebasing: $0[0..<length])).isSuccess }
        }
        #expect(scene.pump(&handler) { scene.consumer.consumerId != original })
        #expect(scene.consumer.idCollisions == 1)
        while monitor.collisions.isEmpty && ContinuousClock.now < deadline { monitor.poll() }
        #expect(monitor.collisions.first?.consumerId == original)
        // The producer hears the new id in the repeated hello.
        #expect(scene.pump(&handler) { scene.producer.consumers[scene.consumer.consumerId] != nil })
        // An id given in the options (assigned by an authority) is kept.
        var fixed = ConsumerOptions()
        fixed.consumerId = 777
        let assigned = try scene.consumerSide.attachConsumer(streamId: 10_000, options: fixed)
        bytes.withUnsafeMutableBytes { buffer in
            buffer.storeBytes(
                of: UInt32(777).littleEndian, toByteOffset: MessageHeader.encodedLength + 4, as: UInt32.self)
        }
        var end: Int64?
        while end == nil && ContinuousClock.now < deadline {
            let result = bytes.withUnsafeBytes { rawQos.offer(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
            if case .success(let position) = result { end = position }
        }
        // Once the consumer has read the impostor's report (its QoS subscription, up to that report).
        let impostorEnd = try #require(end)
        #expect(
            scene.pump(&handler) { hasRead(assigned.qos, sessionId: rawQos.sessionId, upTo: impostorEnd) })
        #expect(assigned.consumerId == 777 && assigned.idCollisions == 0)
    }
}
