import Aeron
import ConformanceSupport
import Foundation
import TensorPoolClient
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

/// Records the frames with their `meta_version`.
struct VersionHandler: FrameHandling {
    var versions: [UInt64: UInt32] = [:]
    mutating func onFrame(_ frame: FrameView, consumer: Consumer) {
        if consumer.isStillValid(frame) { versions[frame.seq] = frame.metaVersion }
    }
}

/// Wire spec §10.3: per-source metadata between a producer and a consumer's metadata cache.
@Suite("Clients §10.3: metadata", .serialized)
struct MetadataConformance {
    @Test(
        "every change makes a new meta_version, sent at once and repeated; frames carry it and resolve to their attributes",
        .verifies("WIRE-10.3.1-001", "WIRE-10.3.2-001", "WIRE-10.3.2-002", "WIRE-10.3.2-003", "WIRE-10.3.2-004"))
    func metadata() throws {
        let pair = try ClientPair()
        pair.metadataInterval(50_000_000)
        let producerSide = try pair.client()
        let consumerSide = try pair.client()
        let cache = try MetadataCache(
            aeron: try TestMediaDriver.client(), channel: pair.context.metadataChannel,
            streamId: pair.context.metadataStreamId)
        defer { cache.close() }
        var delivered: [SourceMetadata] = []
        cache.onMetadata = { delivered.append($0) }
        let producer = try producerSide.attachProducer(streamId: 10_000)
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        var handler = VersionHandler()
        let deadline = hangGuardDeadline()
        func pumpAll(until condition: () -> Bool) {
            while !condition() && ContinuousClock.now < deadline {
                producerSide.doWork()
                consumerSide.doWork()
                _ = consumer.poll(into: &handler)
                cache.poll()
                usleep(200)
            }
        }
        pumpAll { producer.hasSubscribers }
        let metadata = producer.metadata
        #expect(metadata.metaVersion == 0)
        metadata.describe(name: "cam0", summary: "uint8 16x16")
        metadata.set(MetadataAttribute(key: "camera_serial", text: "A123"))
        metadata.set(MetadataAttribute(key: "x-vendor-blob", format: "application/x-unknown", value: [1, 2, 3]))
        #expect(metadata.metaVersion == 3)
        metadata.set(MetadataAttribute(key: "camera_serial", text: "A123"))  // the same value: no new version
        #expect(metadata.metaVersion == 3)
        _ = try publishPattern(producer, count: 1, length: 256)  // seq 0 carries version 3
        pumpAll { cache.metadata(streamId: 10_000, metaVersion: 3) != nil && handler.versions[0] != nil }
        #expect(handler.versions[0] == 3)
        let v3 = try #require(cache.metadata(streamId: 10_000, metaVersion: 3))
        #expect(v3.attributes["camera_serial"]?.text == "A123" && v3.attributes.count == 2)
        #expect(v3.attributes["x-vendor-blob"]?.format == "application/x-unknown")  // kept; a reader may ignore it
        metadata.set(MetadataAttribute(key: "camera_serial", text: "B456"))  // replaced: version 4
        metadata.remove(key: "x-vendor-blob")  // removed: version 5
        metadata.remove(key: "absent")  // nothing removed: no new version
        #expect(metadata.metaVersion == 5)
        _ = try publishPattern(producer, count: 1, length: 256)  // seq 1 carries version 5
        pumpAll { cache.metadata(streamId: 10_000, metaVersion: 5) != nil && handler.versions[1] != nil }
        #expect(handler.versions[1] == 5)
        let v5 = try #require(cache.metadata(streamId: 10_000, metaVersion: 5))
        #expect(v5.attributes.keys.sorted() == ["camera_serial"] && v5.attributes["camera_serial"]?.text == "B456")
        #expect(delivered.map(\.metaVersion).contains(5) && delivered.first { $0.metaVersion == 5 } == v5)
        // Repeated periodically (every 50 ms here), with the announce naming the source and its current version.
        let sent = metadata.metaSent
        pumpAll { metadata.metaSent >= sent + 3 }
        #expect(metadata.metaSent >= sent + 3 && metadata.announcesSent >= 3)
        pumpAll { cache.announce(streamId: 10_000)?.metaVersion == 5 }
        let announce = try #require(cache.announce(streamId: 10_000))
        #expect(
            announce.name == "cam0" && announce.summary == "uint8 16x16"
                && announce.producerId == producer.grant.clientId)
        #expect(cache.latest(streamId: 10_000)?.name == "cam0")
    }
}
