import Aeron
import Agents
import ConformanceSupport
import DriverConfig
import Foundation
import SBE
import TensorPoolClient
import TensorPoolSHM
import TensorPoolSupervisor
import TensorPoolWire
import TestProcesses
import Testing

/// Wire spec §15.11: stream ids per kind of traffic, the 1 Hz cadences, and everything on one stream.
@Suite("Wire §15.11: stream mapping and cadence", .serialized)
struct StreamMappingConformance {
    /// A driver configuration that sets only what has no default.
    static let minimalDriver = """
        [driver]
        instance_id = "x"
        [profiles.p]
        header_nslots = 8
        payload_pools = [ { pool_id = 1, stride_bytes = 1024 } ]
        [streams.s]
        stream_id = 10000
        profile = "p"
        """

    @Test(
        "each kind of traffic has its own default stream: control 1000, announces 1001, descriptors 1100, QoS 1200, metadata 1300; per-consumer streams come from fixed ranges",
        .verifies("WIRE-15.11-001"))
    func defaultStreams() throws {
        let context = TensorPoolContext()
        #expect(context.controlStreamId == 1000 && context.announceStreamId == 1001)
        #expect(context.descriptorStreamId == 1100 && context.qosStreamId == 1200 && context.metadataStreamId == 1300)
        let producer = ProducerOptions()
        #expect(producer.perConsumerDescriptorStreamIds == 31_000...31_999)
        #expect(producer.perConsumerControlStreamIds == 32_000...32_999)
        // The driver's defaults agree, and its configuration keeps those streams out of its stream-id ranges.
        let driver = try DriverConfiguration.parse(Self.minimalDriver)
        #expect(driver.driver.controlStreamId == 1000 && driver.driver.qosStreamId == 1200)
        #expect(driver.driver.announceStreamId == context.announceStreamId)
    }

    @Test(
        "unless configured otherwise, QosProducer, QosConsumer, DataSourceAnnounce and the driver's ShmPoolAnnounce go out at 1 Hz",
        .verifies("WIRE-15.11-003"))
    func oneHertz() throws {
        #expect(TensorPoolContext().qosIntervalNs == 1_000_000_000)
        #expect(TensorPoolContext().metadataIntervalNs == 1_000_000_000)
        #expect(TensorPoolContext().announcePeriodNs == 1_000_000_000)
        #expect(try DriverConfiguration.parse(Self.minimalDriver).policies.announcePeriodMs == 1000)
        // Measured with the clients' defaults: each member reports at once, then once per second. Watched until every
        // kind went out twice; n reports of a kind span at least n - 1 seconds.
        let started = UInt64(MonotonicClock.now())
        let pair = try ClientPair()
        pair.qosInterval(1_000_000_000)
        pair.metadataInterval(1_000_000_000)
        let tapClient = try TestMediaDriver.client()
        let qosTap = try tapClient.addSubscription(
            channel: pair.context.qosChannel, streamId: pair.context.qosStreamId)
        let metadataTap = try tapClient.addSubscription(
            channel: pair.context.metadataChannel, streamId: pair.context.metadataStreamId)
        let consumerSide = try pair.client()
        let producerSide = try pair.client()
        let producer = try producerSide.attachProducer(streamId: 10_000)
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        var counter = TemplateCounter()
        var handler = CheckingHandler()
        let templates = [
            WireSchema.QosProducerDecoder.templateId, WireSchema.QosConsumerDecoder.templateId,
            WireSchema.DataSourceAnnounceDecoder.templateId,
        ]
        let deadline = hangGuardDeadline()
        while !templates.allSatisfy({ counter.counts[$0, default: 0] >= 2 }) && ContinuousClock.now < deadline {
            producerSide.doWork()
            consumerSide.doWork()
            _ = consumer.poll(into: &handler)
            _ = qosTap.poll(into: &counter, fragmentLimit: 16)
            _ = metadataTap.poll(into: &counter, fragmentLimit: 16)
            usleep(1_000)
        }
        _ = producer
        let elapsed = UInt64(MonotonicClock.now()) - started
        let counts = counter.counts
        for template in templates {
            let count = counts[template, default: 0]
            #expect(
                count >= 2 && count <= Int(elapsed / 1_000_000_000) + 1,
                "template \(template): \(counts) in \(elapsed) ns")
        }
    }

    @Test(
        "the driver refreshes activity_timestamp when it announces, at the announce cadence, and not in between",
        .verifies("WIRE-15.11-004"))
    func activityAtAnnounceCadence() throws {
        let harness = try DriverHarness()  // announce_period_ms = 100
        let response = harness.attach(client: 5, role: .producer)
        let regions = try StreamRegions.map(
            response.announce, policy: try PathPolicy(allowedBaseDirectories: [harness.directory]))
        harness.core.doWork()
        let first = Superblock.activityTimestamp(in: regions.header)
        let announces = harness.output.announces.count
        harness.clock.advance(ms: 40)
        harness.core.doWork()
        #expect(Superblock.activityTimestamp(in: regions.header) == first)
        #expect(harness.output.announces.count == announces)
        harness.clock.advance(ms: 70)
        harness.core.doWork()
        #expect(harness.output.announces.count == announces + 1)
        #expect(Superblock.activityTimestamp(in: regions.header) == harness.clock.monotonic)  // CLOCK_MONOTONIC
        #expect(Superblock.activityTimestamp(in: regions.header) > first)
    }

    @Test(
        "control, announces, QoS and metadata on one IPC stream, told apart by template id: attach, frames, hello and config, QoS, metadata and the supervisor all work",
        .verifies("WIRE-15.11-002", "WIRE-15.11-005"))
    func oneStreamForEverything() throws {
        let pair = try ClientPair(oneStream: true)
        pair.qosInterval(50_000_000)
        pair.metadataInterval(100_000_000)
        #expect(
            Set([
                pair.context.controlStreamId, pair.context.announceStreamId, pair.context.qosStreamId,
                pair.context.metadataStreamId,
            ]).count == 1)
        var options = SupervisorOptions()
        options.livenessIntervalNs = 1_000_000_000  // stale after 3 s: a stalled test process does not lose anyone
        let supervisor = try Supervisor(aeron: try TestMediaDriver.client(), context: pair.context, options: options)
        defer { supervisor.close() }
        let consumerSide = try pair.client()
        let producerSide = try pair.client()
        let producer = try producerSide.attachProducer(streamId: 10_000, options: ControlScene.openProducer())
        var consumerOptions = ConsumerOptions()
        let endpoint = StreamEndpoint(channel: "aeron:ipc", streamId: UInt32(TestMediaDriver.uniqueStreamId()))
        consumerOptions.descriptorStream = endpoint
        consumerOptions.helloIntervalNs = 100_000_000
        let consumer = try consumerSide.attachConsumer(streamId: 10_000, options: consumerOptions)
        producer.metadata.describe(name: "one-stream", summary: "uint8[100]")
        producer.metadata.set(MetadataAttribute(key: "k", text: "v"))
        var handler = CheckingHandler()
        let deadline = hangGuardDeadline()
        func pump(until condition: () -> Bool) -> Bool {
            while !condition() {
                if ContinuousClock.now > deadline { return false }
                producerSide.doWork()
                consumerSide.doWork()
                _ = consumer.poll(into: &handler)
                _ = try? supervisor.doWork()
                usleep(200)
            }
            return true
        }
        #expect(
            pump {
                consumer.state == .mapped(epoch: producer.epoch) && consumer.descriptorStream == endpoint
                    && producer.consumers[consumer.consumerId]?.descriptorStreamConnected == true
            })
        for _ in 0..<20 {
            _ = try publishPattern(producer, count: 1, length: 100)
            _ = pump { handler.seqs.count + Int(consumer.counters.dropsLate) >= Int(producer.sequence) }
        }
        #expect(handler.seqs == Array(0..<20) && handler.corrupt == 0)
        #expect(
            pump {
                let snapshot = supervisor.snapshot()
                return snapshot.producer(streamId: 10_000)?.metadata?.attributes["k"]?.text == "v"
                    && snapshot.producer(streamId: 10_000)?.currentSeq == 19
                    && snapshot.consumers(streamId: 10_000).first?.lastSeqSeen == 19
                    && snapshot.consumers(streamId: 10_000).first?.grantedDescriptorStream == endpoint
            })
        supervisor.direct(.rateLimited, streamId: 10_000, consumerId: consumer.consumerId)
        #expect(pump { consumer.mode == .rateLimited })
        #expect(supervisor.snapshot().producer(streamId: 10_000)?.name == "one-stream")
    }
}

/// Counts the schema-900 messages of each template.
struct TemplateCounter: FragmentHandling {
    var counts: [UInt16: Int] = [:]
    mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
        guard let decoded = try? MessageHeader(decoding: buffer, at: 0), decoded.schemaId == WireSchema.id else {
            return
        }
        counts[decoded.templateId, default: 0] += 1
    }
}
