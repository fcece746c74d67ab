import Aeron
import ConformanceSupport
import Foundation
import SBE
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

@testable import TensorPoolClient

/// A 64 × 256 uint8 row-major frame (16 KiB, contiguous).
let progressTensor = try! TensorDescriptor(dtype: .uint8, shape: [64, 256])

/// Encodes a `FrameProgress`.
func encodeProgress(
    _ buffer: UnsafeMutableRawBufferPointer, epoch: UInt64, seq: UInt64, bytes: UInt64,
    state: WireSchema.FrameProgressState
) throws -> Int {
    let progress = try WireSchema.FrameProgressEncoder.wrapAndApplyHeader(buffer)
    progress.streamId = 10_000
    progress.epoch = epoch
    progress.seq = seq
    progress.payloadBytesFilled = bytes
    progress.state = state
    return MessageHeader.encodedLength + progress.encodedLength
}

/// Wire spec §10.2.2 and §5 (per-consumer control streams): `FrameProgress` between the clients.
@Suite("Clients §10.2.2: FrameProgress", .serialized)
struct ProgressConformance {
    @Test(
        "progress is sent only while a consumer supports it, with the smallest hints above the producer's floors",
        .verifies("WIRE-10.2.2-016", "WIRE-10.2.2-023", "WIRE-10.2.2-024", "WIRE-10.2.2-025"))
    func settings() throws {
        let scene = try ControlScene()  // a consumer without progress
        var handler = RecordingHandler()
        try scene.settle(&handler)
        let claim = try scene.producer.tryClaim(length: 16_384)
        #expect(try scene.producer.beginProgress(claim, tensor: progressTensor, timestampNs: 1) == false)
        #expect(scene.producer.reportProgress(claim, bytesFilled: 16_384) == false)
        _ = try scene.producer.commit(claim, tensor: progressTensor, timestampNs: 1)
        #expect(scene.producer.progressSent == 0 && !scene.producer.progressActive)
        // One progress consumer without hints: the defaults (250 µs, 64 KiB, no rows).
        var plain = ConsumerOptions()
        plain.supportsProgress = true
        let first = try scene.consumerSide.attachConsumer(streamId: 10_000, options: plain)
        #expect(scene.pump(&handler) { scene.producer.progressActive })
        #expect(
            scene.producer.progressSettings
                == ProgressSettings(intervalNs: 250_000, bytesDelta: 65_536, majorDeltaUnits: 0))
        // Hints: the smallest wins, never below the floors (100 µs, 4 KiB).
        var hinted = plain
        hinted.progressIntervalUs = 150
        hinted.progressBytesDelta = 8_192
        hinted.progressMajorDeltaUnits = 4
        _ = try scene.consumerSide.attachConsumer(streamId: 10_000, options: hinted)
        #expect(scene.pump(&handler) { scene.producer.progressSettings.intervalNs == 150_000 })
        #expect(
            scene.producer.progressSettings
                == ProgressSettings(intervalNs: 150_000, bytesDelta: 8_192, majorDeltaUnits: 4))
        var greedy = plain
        greedy.progressIntervalUs = 10
        greedy.progressBytesDelta = 100
        _ = try scene.consumerSide.attachConsumer(streamId: 10_000, options: greedy)
        #expect(scene.pump(&handler) { scene.producer.progressSettings.intervalNs == 100_000 })
        #expect(
            scene.producer.progressSettings
                == ProgressSettings(intervalNs: 100_000, bytesDelta: 4_096, majorDeltaUnits: 4))
        first.close()
    }

    @Test(
        "STARTED, throttled PROGRESS with growing prefixes, then the descriptor and COMPLETE; non-opted consumers see only frames",
        .verifies(
            "WIRE-10.2.2-001", "WIRE-10.2.2-002", "WIRE-10.2.2-003", "WIRE-10.2.2-004", "WIRE-10.2.2-005",
            "WIRE-10.2.2-006", "WIRE-10.2.2-007", "WIRE-10.2.2-008", "WIRE-10.2.2-012", "WIRE-10.2.2-014",
            "WIRE-10.2.2-015", "WIRE-10.2.2-017", "WIRE-10.2.2-018", "WIRE-10.2.2-019", "WIRE-10.2.2-020",
            "WIRE-10.2.2-021", "WIRE-10.2.2-022", "WIRE-15.18-004"))
    func progressFlow() throws {
        var options = ConsumerOptions()
        options.supportsProgress = true
        options.progressIntervalUs = 1_000  // at most one PROGRESS per ms
        options.progressBytesDelta = 4_096  // and only after 16 more rows
        let scene = try ControlScene(consumer: options)
        let bystander = try scene.consumerSide.attachConsumer(streamId: 10_000)  // did not opt in
        var handler = RecordingHandler()
        var bystanderHandler = RecordingHandler()
        try scene.settle(&handler)
        #expect(scene.pump(&handler) { scene.producer.progressSettings.intervalNs == 1_000_000 })
        for frame in 0..<2 {
            let claim = try scene.producer.tryClaim(length: 16_384)
            let pattern = UInt8(truncatingIfNeeded: claim.seq &* 31)
            #expect(try scene.producer.beginProgress(claim, tensor: progressTensor, timestampNs: claim.seq + 1_000))
            var sentNow = 0
            for row in 0..<64 {
                claim.payload.baseAddress!.advanced(by: row * 256).initializeMemory(
                    as: UInt8.self, repeating: pattern, count: 256)
                if scene.producer.reportProgress(claim, bytesFilled: (row + 1) * 256) { sentNow += 1 }
                #expect(scene.producer.reportProgress(claim, bytesFilled: row * 256) == false)  // backwards: ignored
                if row % 8 == 7 {
                    // Time passes (the 1 ms interval: the report due at row 15 is not held back by it; one held back
                    // goes out from doWork).
                    scene.pump(&handler, for: .milliseconds(2))
                    _ = bystander.poll(into: &bystanderHandler)
                }
            }
            #expect(sentNow < 64)  // throttled
            _ = try scene.producer.commit(claim, tensor: progressTensor, timestampNs: claim.seq + 1_000)
            #expect(scene.pump(&handler) { $0.progress.last?.state == .complete && $0.seqs.count == frame + 1 })
        }
        #expect(
            scene.pump(&handler) {
                _ = bystander.poll(into: &bystanderHandler)
                return bystanderHandler.seqs.count == 2
            })
        for seq in UInt64(0)..<2 {
            let hints = handler.progress.filter { $0.seq == seq }
            #expect(hints.first?.state == .started && hints.first?.bytes == 0)
            #expect(hints.last?.state == .complete && hints.last?.bytes == 16_384)
            let middle = hints.filter { $0.state == .progress }
            #expect(!middle.isEmpty && middle.count <= 4)  // 64 rows, ≥ 16 rows (4 KiB) between reports
            // Never backwards, each report at least the delta past the previous one, prefixes whole and intact.
            let bytes = hints.map(\.bytes)
            #expect(bytes == bytes.sorted())
            #expect(zip(middle.dropFirst(), middle).allSatisfy { $0.bytes - $1.bytes >= 4_096 })
            #expect(middle.allSatisfy { $0.prefix == $0.bytes && $0.prefixGood })
            let states = hints.map(\.state.rawValue)
            #expect(states == states.sorted())
        }
        #expect(handler.seqs == [0, 1])  // the descriptors still deliver the frames
        #expect(bystanderHandler.progress.isEmpty && bystanderHandler.seqs == [0, 1])
    }

    @Test(
        "a frame whose progress goes backwards is dropped when its descriptor arrives",
        .verifies("WIRE-10.2.2-013", "WIRE-10.2.2-011"))
    func regression() throws {
        var options = ConsumerOptions()
        options.supportsProgress = true
        let scene = try ControlScene(consumer: options)
        var handler = RecordingHandler()
        try scene.settle(&handler)
        let claim = try scene.producer.tryClaim(length: 16_384)
        try scene.producer.beginProgress(claim, tensor: progressTensor, timestampNs: 5)
        let epoch = scene.producer.epoch
        try scene.inject { try encodeProgress($0, epoch: epoch, seq: claim.seq, bytes: 9_000, state: .progress) }
        try scene.inject { try encodeProgress($0, epoch: epoch, seq: claim.seq, bytes: 20_000, state: .progress) }
        let end = try scene.inject {
            try encodeProgress($0, epoch: epoch, seq: claim.seq, bytes: 4_000, state: .progress)
        }
        // Until the consumer has read all three (the shared control stream up to the last one).
        #expect(
            scene.pump(&handler) {
                hasRead(scene.consumer.control, sessionId: scene.rawControl.sessionId, upTo: end)
            })
        #expect(handler.progress.contains { $0.bytes == 9_000 })
        #expect(!handler.progress.contains { $0.bytes == 20_000 })  // beyond values_len_bytes: not interpreted
        _ = try scene.producer.commit(claim, tensor: progressTensor, timestampNs: 5)
        _ = try publishPattern(scene.producer, count: 1, length: 100)
        #expect(scene.pump(&handler) { $0.seqs == [1] })
        #expect(scene.consumer.progressRegressions == 1)
    }

    @Test(
        "a per-consumer control stream carries only FrameProgress; the shared control stream stays subscribed",
        .verifies("WIRE-5-008", "WIRE-5-009", "WIRE-5-010", "WIRE-5-011", "WIRE-5-012", "WIRE-10.1.2-006"))
    func perConsumerControl() throws {
        let endpoint = StreamEndpoint(channel: "aeron:ipc", streamId: UInt32(TestMediaDriver.uniqueStreamId()))
        var options = ConsumerOptions()
        options.supportsProgress = true
        options.controlStream = endpoint
        let scene = try ControlScene(consumer: options)
        let tap = try scene.raw.addSubscription(channel: endpoint.channel, streamId: Int32(endpoint.streamId))
        var handler = RecordingHandler()
        try scene.settle(&handler)
        // The consumer reads the granted stream, and the producer's publication of it is added (progress sent before
        // that reaches nobody).
        #expect(
            scene.pump(&handler) {
                scene.consumer.controlStream == endpoint
                    && scene.producer.links[scene.consumer.consumerId]?.control?.publication != nil
            })
        #expect(scene.consumer.configuration?.controlStream == endpoint)
        #expect(scene.producer.consumers[scene.consumer.consumerId]?.controlStream == endpoint)
        _ = scene.allConfigs()
        try scene.publishPaced(&handler, count: 2, length: 100) { current, published in
            current.seqs.count == published
        }
        let claim = try scene.producer.tryClaim(length: 16_384)
        try scene.producer.beginProgress(claim, tensor: progressTensor, timestampNs: 9)
        _ = try scene.producer.commit(claim, tensor: progressTensor, timestampNs: 9)
        #expect(
            scene.pump(&handler) { $0.progress.filter { $0.seq == claim.seq }.map(\.state) == [.started, .complete] })
        // Exactly one STARTED and one COMPLETE reached the consumer (the shared stream carried none for it).
        var templates: [UInt16] = []
        #expect(
            scene.pump(&handler) {
                _ = tap.poll(fragmentLimit: 64) { buffer, _ in
                    if let header = try? MessageHeader(decoding: buffer, at: 0) { templates.append(header.templateId) }
                }
                return templates.count >= 2
            })
        #expect(templates.allSatisfy { $0 == WireSchema.FrameProgressDecoder.templateId }, "\(templates)")
        // Everything on the shared control stream up to now, read by the raw tap: no progress among it.
        let sharedEnd = try #require(scene.rawControl.position)
        var sharedProgress = 0
        #expect(
            scene.pump(&handler) {
                _ = scene.rawControlTap.poll(fragmentLimit: 256) { buffer, _ in
                    if let header = try? MessageHeader(decoding: buffer, at: 0), header.schemaId == WireSchema.id,
                        header.templateId == WireSchema.FrameProgressDecoder.templateId
                    {
                        sharedProgress += 1
                    }
                }
                return hasRead(scene.rawControlTap, sessionId: scene.rawControl.sessionId, upTo: sharedEnd)
            })
        #expect(sharedProgress == 0)
        // The shared control stream is still read: a configuration there still reaches the consumer.
        let id = scene.consumer.consumerId
        try scene.inject { try encodeConfig($0, consumerId: id, useShm: false, fallback: "bridge://1") }
        #expect(scene.pump(&handler) { scene.consumer.state == .fallback(.bridge(id: "1")) })
    }
}
