import Aeron
import ConformanceSupport
import Foundation
import SBE
import TensorPoolClient
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

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
        func pumpAll(until condition: () -> Bool) {
            let deadline = ContinuousClock.now + .seconds(5)
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
        // At the configured cadence: about one report per 50 ms per member, not one per duty cycle.
        let before = (seenProducer.count, seenConsumer.count, producer.qosSent, consumer.qosSent)
        let started = ContinuousClock.now
        pumpAll { ContinuousClock.now - started > .milliseconds(500) }
        let sent = (producer.qosSent - before.2, consumer.qosSent - before.3)
        #expect(sent.0 >= 6 && sent.0 <= 12 && sent.1 >= 6 && sent.1 <= 12, "\(sent)")
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
        let deadline = ContinuousClock.now + .seconds(5)
        while monitor.consumers[.init(streamId: 10_000, id: original)] == nil && ContinuousClock.now < deadline {
            scene.pump(&handler, milliseconds: 20)
            monitor.poll()
        }
        var sent = false
        while !sent && ContinuousClock.now < deadline {
            sent = bytes.withUnsafeBytes { rawQos.offer(UnsafeRawBufferPointer(rebasing: $0[0..<length])).isSuccess }
        }
        #expect(scene.pump(&handler) { scene.consumer.consumerId != original })
        #expect(scene.consumer.idCollisions == 1)
        while monitor.collisions.isEmpty && ContinuousClock.now < deadline + .seconds(5) { monitor.poll() }
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
        _ = bytes.withUnsafeBytes { rawQos.offer(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
        scene.pump(&handler, milliseconds: 100)
        #expect(assigned.consumerId == 777 && assigned.idCollisions == 0)
    }
}
