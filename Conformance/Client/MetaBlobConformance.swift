import Aeron
import ConformanceSupport
import Foundation
import SBE
import TensorPoolWire
import TestProcesses
import Testing

@testable import TensorPoolClient

/// A metadata cache and raw access to the pair's metadata stream.
final class BlobScene {
    let pair: ClientPair
    let producerSide: TensorPoolClient
    let producer: Producer
    let cache: MetadataCache
    lazy var raw: Publication = try! rawClient.addExclusivePublication(
        channel: pair.context.metadataChannel, streamId: pair.context.metadataStreamId)
    let rawClient: AeronClient
    let tap: Subscription
    let tapAssembler = try! FragmentAssembler()
    var blobs: [MetaBlob] = []
    var discarded: [MetaBlobDiscard] = []
    /// What the tap saw: announces (length, checksum) and, per announce, the chunks (offset, length).
    var announces: [(UInt64, UInt64)] = []
    var chunks: [Int: [(UInt64, Int)]] = [:]

    /// A scene whose cache refuses blobs above `maxBlobBytes` and times out a transfer after `blobTimeoutNs` without a
    /// chunk (30 s by default: longer than any stall of a busy test machine).
    init(maxBlobBytes: Int = 64 << 20, blobTimeoutNs: UInt64 = 30_000_000_000) throws {
        pair = try ClientPair()
        producerSide = try pair.client()
        let aeron = try TestMediaDriver.client()
        cache = try MetadataCache(
            aeron: aeron, channel: pair.context.metadataChannel, streamId: pair.context.metadataStreamId,
            maxBlobBytes: maxBlobBytes, blobTimeoutNs: blobTimeoutNs)
        rawClient = aeron
        tap = try aeron.addSubscription(
            channel: pair.context.metadataChannel,
            streamId: pair.context.metadataStreamId)
        producer = try producerSide.attachProducer(streamId: 10_000)
        cache.onBlob = { [unowned self] in self.blobs.append($0) }
        cache.onBlobDiscarded = { [unowned self] _, _, reason in self.discarded.append(reason) }
    }

    deinit { cache.close() }

    /// Pumps the producer, the cache and the tap until `condition` holds; false if the hang guard ran out first.
    func pump(until condition: () -> Bool) -> Bool {
        let deadline = hangGuardDeadline()
        while !condition() {
            if ContinuousClock.now > deadline { return false }
            producerSide.doWork()
            cache.poll()
            drainTap()
        }
        return true
    }

    /// Reads the raw tap (it must keep up, or it holds the publication back).
    func drainTap() {
        _ = tap.poll(assembler: tapAssembler, fragmentLimit: 256) { [unowned self] buffer, _ in
            guard let header = try? MessageHeader(decoding: buffer, at: 0), header.schemaId == WireSchema.id else {
                return
            }
            if header.templateId == WireSchema.MetaBlobAnnounceDecoder.templateId,
                let announce = try? WireSchema.MetaBlobAnnounceDecoder(decodingHeaderOf: buffer)
            {
                announces.append((announce.totalLen, announce.checksum))
            } else if header.templateId == WireSchema.MetaBlobChunkDecoder.templateId,
                let chunk = try? WireSchema.MetaBlobChunkDecoder(decodingHeaderOf: buffer)
            {
                chunks[announces.count - 1, default: []].append((chunk.chunkOffset, chunk.bytes.count))
            }
        }
    }

    func send(_ encode: (UnsafeMutableRawBufferPointer) throws -> Int) throws {
        var bytes = [UInt8](repeating: 0, count: 1024)
        try bytes.withUnsafeMutableBytes { buffer in
            let length = try encode(buffer)
            let deadline = hangGuardDeadline()
            while !raw.offer(UnsafeRawBufferPointer(rebasing: buffer[0..<length])).isSuccess {
                guard ContinuousClock.now < deadline else { throw BenchFailure() }
                usleep(100)
            }
        }
    }

    struct BenchFailure: Error {}

    func announce(version: UInt32, length: UInt64, checksum: UInt64) throws {
        try send { buffer in
            let encoder = try WireSchema.MetaBlobAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 20_000
            encoder.metaVersion = version
            encoder.blobType = 1
            encoder.totalLen = length
            encoder.checksum = checksum
            return MessageHeader.encodedLength + encoder.encodedLength
        }
    }

    func chunk(version: UInt32, offset: UInt64, _ bytes: [UInt8]) throws {
        try send { buffer in
            var encoder = try WireSchema.MetaBlobChunkEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 20_000
            encoder.metaVersion = version
            encoder.chunkOffset = offset
            try bytes.withUnsafeBytes { try encoder.bytes($0) }
            return MessageHeader.encodedLength + encoder.encodedLength
        }
    }

    func complete(version: UInt32, checksum: UInt64) throws {
        try send { buffer in
            let encoder = try WireSchema.MetaBlobCompleteEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 20_000
            encoder.metaVersion = version
            encoder.checksum = checksum
            return MessageHeader.encodedLength + encoder.encodedLength
        }
    }
}

/// A deterministic pseudo-random blob.
func blobBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

/// Wire spec §10.3.3 and §15.9: meta blobs between a producer's metadata publisher and a metadata cache.
@Suite("Clients §10.3.3/§15.9: meta blobs", .serialized)
struct MetaBlobConformance {
    @Test(
        "blobs of 0 B, 1 B, 64 KiB, 64 KiB + 1 and 10 MiB arrive intact, in increasing non-overlapping chunks of at most 64 KiB",
        .verifies(
            "WIRE-10.3.3-001", "WIRE-10.3.3-002", "WIRE-10.3.3-003", "WIRE-15.9-001", "WIRE-15.9-002",
            "WIRE-15.9-003", "WIRE-15.9-004", "WIRE-15.9-005", "WIRE-15.9-006"))
    func transfers() throws {
        let sizes = [0, 1, 65_536, 65_537, 10 << 20]
        // Made before the producer attaches (nothing keeps its lease alive while they are made).
        let expected = sizes.enumerated().map { index, size in blobBytes(size, seed: UInt64(index + 1)) }
        let scene = try BlobScene()
        let metadata = scene.producer.metadata
        metadata.set(MetadataAttribute(key: "calibration", text: "flat field v1"))
        for (index, bytes) in expected.enumerated() {
            #expect(metadata.publishBlob(bytes, blobType: UInt32(index), checksum: index != 1) == metadata.metaVersion)
        }
        #expect(scene.pump { scene.blobs.count == sizes.count }, "received \(scene.blobs.count) of \(sizes.count)")
        for (index, blob) in scene.blobs.enumerated() {
            #expect(blob.bytes == expected[index] && blob.blobType == UInt32(index) && blob.metaVersion == 1)
        }
        #expect(scene.discarded.isEmpty && metadata.blobsSent == 5 && metadata.blobsPending == 0)
        #expect(scene.cache.blobs(streamId: 10_000, metaVersion: 1).count == 5)
        // On the wire: the checksum is CRC32C of the whole blob, 0 when left out; chunks increase, never overlap,
        // are at most CHUNK_MAX, and cover the blob.
        scene.drainTap()
        let announces = scene.announces
        let chunks = scene.chunks
        #expect(announces.count == 5)
        for (index, announce) in announces.enumerated() {
            let crc = expected[index].withUnsafeBytes { UInt64(CRC32C.checksum($0)) }
            #expect(announce.0 == UInt64(sizes[index]) && announce.1 == (index == 1 ? 0 : crc))
            var next: UInt64 = 0
            for (offset, length) in chunks[index] ?? [] {
                #expect(offset == next && length <= 65_536)
                next = offset + UInt64(length)
            }
            #expect(next == UInt64(sizes[index]))
        }
        #expect((chunks[4]?.count ?? 0) == 160)  // 10 MiB in 64 KiB chunks
    }

    @Test(
        "a gap, an overlap, a short total, a checksum mismatch, an oversized blob or a stalled transfer is discarded",
        .verifies("WIRE-10.3.3-004"))
    func corruption() throws {
        // A timeout the real clock does not reach during the case (a stalled test process cannot time a transfer
        // out); the stalled transfer below is timed out through the cache's own check at chosen times.
        let timeout: UInt64 = 30_000_000_000
        let scene = try BlobScene(maxBlobBytes: 1 << 20, blobTimeoutNs: timeout)
        let bytes = blobBytes(200, seed: 9)
        let crc = bytes.withUnsafeBytes { UInt64(CRC32C.checksum($0)) }
        func expectDiscard(_ reason: MetaBlobDiscard, _ steps: () throws -> Void) throws {
            let before = scene.discarded.count
            try steps()
            #expect(scene.pump { scene.discarded.count > before }, "\(reason)")
            #expect(scene.discarded.last == reason)
        }
        try expectDiscard(.gap) {
            try scene.announce(version: 1, length: 200, checksum: crc)
            try scene.chunk(version: 1, offset: 0, Array(bytes[0..<100]))
            try scene.chunk(version: 1, offset: 150, Array(bytes[150..<200]))
        }
        try expectDiscard(.overlap) {
            try scene.announce(version: 2, length: 200, checksum: crc)
            try scene.chunk(version: 2, offset: 0, Array(bytes[0..<100]))
            try scene.chunk(version: 2, offset: 50, Array(bytes[50..<150]))
        }
        try expectDiscard(.short) {
            try scene.announce(version: 3, length: 200, checksum: crc)
            try scene.chunk(version: 3, offset: 0, Array(bytes[0..<100]))
            try scene.complete(version: 3, checksum: crc)
        }
        var corrupted = bytes
        corrupted[77] ^= 0x40
        try expectDiscard(.checksumMismatch) {
            try scene.announce(version: 4, length: 200, checksum: crc)
            try scene.chunk(version: 4, offset: 0, corrupted)
            try scene.complete(version: 4, checksum: crc)
        }
        try expectDiscard(.checksumMismatch) {  // the completion disagrees with the announce
            try scene.announce(version: 5, length: 200, checksum: crc)
            try scene.chunk(version: 5, offset: 0, bytes)
            try scene.complete(version: 5, checksum: crc ^ 1)
        }
        try expectDiscard(.tooLarge) {
            try scene.announce(version: 6, length: 2 << 20, checksum: 0)
        }
        // A transfer that stalls: discarded once no chunk came for more than the timeout, not before.
        try scene.announce(version: 7, length: 200, checksum: crc)
        try scene.chunk(version: 7, offset: 0, Array(bytes[0..<100]))
        #expect(scene.pump { scene.cache.assembler.transfers[20_000]?.received == 100 })
        let lastChunk = try #require(scene.cache.assembler.transfers[20_000]?.lastProgressNs)
        let discardedBefore = scene.discarded.count
        scene.cache.assembler.expire(now: lastChunk + timeout)
        #expect(scene.discarded.count == discardedBefore && scene.cache.assembler.transfers[20_000] != nil)
        scene.cache.assembler.expire(now: lastChunk + timeout + 1)
        #expect(scene.discarded.count == discardedBefore + 1 && scene.discarded.last == .timedOut)
        #expect(scene.cache.assembler.transfers[20_000] == nil)
        #expect(scene.blobs.isEmpty)
        // And the intact one still passes.
        try scene.announce(version: 8, length: 200, checksum: crc)
        try scene.chunk(version: 8, offset: 0, Array(bytes[0..<100]))
        try scene.chunk(version: 8, offset: 100, Array(bytes[100..<200]))
        try scene.complete(version: 8, checksum: crc)
        #expect(scene.pump { scene.blobs.count == 1 })
        #expect(scene.blobs.first?.bytes == bytes && scene.blobs.first?.metaVersion == 8)
    }
}
