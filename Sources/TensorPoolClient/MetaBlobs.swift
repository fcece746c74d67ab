import Aeron
import Agents
import CCRC32C
import Logging
import SBE
import TensorPoolWire

/// CRC32C (Castagnoli) of `bytes`, with the SSE4.2 instruction where the CPU has it (wire spec §15.9).
public enum CRC32C {
    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        return tp_crc32c_update(0, base, bytes.count)
    }

    /// Whether the hardware instruction is used.
    public static var isHardwareAccelerated: Bool { tp_crc32c_hardware() != 0 }
}

/// A metadata blob (wire spec §10.3.3, §15.9): large metadata, e.g. calibration data, tied to a `meta_version`.
public struct MetaBlob: Hashable, Sendable {
    /// The stream.
    public var streamId: UInt32
    /// The metadata version it belongs to.
    public var metaVersion: UInt32
    /// The application's kind of blob.
    public var blobType: UInt32
    /// The bytes.
    public var bytes: [UInt8]
}

/// Why a receiver discarded a blob (§10.3.3-004).
public enum MetaBlobDiscard: Hashable, Sendable, CustomStringConvertible {
    /// A chunk started after the bytes received so far.
    case gap
    /// A chunk started before the bytes received so far, or went past the announced length.
    case overlap
    /// `MetaBlobComplete` came before all announced bytes.
    case short
    /// The checksum of the bytes, or of the completion, differs from the announced one.
    case checksumMismatch
    /// The announced length exceeds the receiver's cap.
    case tooLarge
    /// No chunk arrived for the timeout.
    case timedOut
    /// A chunk larger than `CHUNK_MAX`.
    case chunkTooLarge
    /// A new announce for the stream replaced a transfer in progress.
    case superseded

    /// A short label.
    public var description: String {
        switch self {
        case .gap: "gap"
        case .overlap: "overlap"
        case .short: "short"
        case .checksumMismatch: "checksum mismatch"
        case .tooLarge: "too large"
        case .timedOut: "timed out"
        case .chunkTooLarge: "chunk too large"
        case .superseded: "superseded"
        }
    }
}

/// The sending side of meta blobs: announce, chunks of at most ``MetaBlobSender/chunkMax`` bytes in increasing,
/// non-overlapping offsets covering the blob, then complete (§10.3.3). Chunks go out from the duty cycle as the
/// publication takes them, so a large blob never blocks the producer.
final class MetaBlobSender {
    /// `CHUNK_MAX` (§15.9-001): 64 KiB.
    static let chunkMax = 65_536

    struct Transfer {
        var streamId: UInt32
        var metaVersion: UInt32
        var blobType: UInt32
        var bytes: [UInt8]
        var checksum: UInt64
        var offset = 0
        var announced = false
    }

    var queue: [Transfer] = []
    var scratch = [UInt8](repeating: 0, count: MetaBlobSender.chunkMax + 64)
    let publication: Publication
    var blobsSent: UInt64 = 0

    init(publication: Publication) { self.publication = publication }

    func enqueue(_ transfer: Transfer) { queue.append(transfer) }

    /// Sends what the publication takes now; returns the messages sent.
    func doWork() -> Int {
        var work = 0
        while var transfer = queue.first {
            if !transfer.announced {
                guard
                    send({ buffer throws(SBEEncodeError) in
                        let encoder = try WireSchema.MetaBlobAnnounceEncoder.wrapAndApplyHeader(buffer)
                        encoder.streamId = transfer.streamId
                        encoder.metaVersion = transfer.metaVersion
                        encoder.blobType = transfer.blobType
                        encoder.totalLen = UInt64(transfer.bytes.count)
                        encoder.checksum = transfer.checksum
                        return MessageHeader.encodedLength + encoder.encodedLength
                    })
                else { break }
                transfer.announced = true
                work += 1
            }
            while transfer.offset < transfer.bytes.count {
                let end = min(transfer.offset + Self.chunkMax, transfer.bytes.count)
                let offset = transfer.offset
                let sent = transfer.bytes.withUnsafeBytes { all in
                    send { buffer throws(SBEEncodeError) in
                        var encoder = try WireSchema.MetaBlobChunkEncoder.wrapAndApplyHeader(buffer)
                        encoder.streamId = transfer.streamId
                        encoder.metaVersion = transfer.metaVersion
                        encoder.chunkOffset = UInt64(offset)
                        try encoder.bytes(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                        return MessageHeader.encodedLength + encoder.encodedLength
                    }
                }
                guard sent else { break }
                transfer.offset = end
                work += 1
            }
            if transfer.offset < transfer.bytes.count {
                queue[0] = transfer  // back pressure: the rest next time
                break
            }
            guard
                send({ buffer throws(SBEEncodeError) in
                    let encoder = try WireSchema.MetaBlobCompleteEncoder.wrapAndApplyHeader(buffer)
                    encoder.streamId = transfer.streamId
                    encoder.metaVersion = transfer.metaVersion
                    encoder.checksum = transfer.checksum
                    return MessageHeader.encodedLength + encoder.encodedLength
                })
            else {
                queue[0] = transfer
                break
            }
            queue.removeFirst()
            blobsSent &+= 1
            work += 1
        }
        return work
    }

    func send(_ encode: (UnsafeMutableRawBufferPointer) throws(SBEEncodeError) -> Int) -> Bool {
        scratch.withUnsafeMutableBytes { buffer in
            guard let length = try? encode(buffer) else { return false }
            let message = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
            switch publication.offer(message) {
            case .success: return true
            case .adminAction: return publication.offer(message).isSuccess
            default: return false
            }
        }
    }
}

extension MetadataPublisher {
    /// Queues `bytes` as a meta blob of the current ``metaVersion`` (§10.3.3); it goes out in chunks of at most
    /// 64 KiB from the producer's duty cycle. `checksum` adds CRC32C over the whole blob (§15.9-005); without it the
    /// checksum field is 0 (§15.9-006). Returns the metadata version the blob belongs to.
    @discardableResult
    public func publishBlob(_ bytes: [UInt8], blobType: UInt32, checksum: Bool = true) -> UInt32 {
        // A CRC32C of 0 cannot be told from "no checksum"; such a blob travels without one (1 in 2³²).
        let crc = checksum ? UInt64(bytes.withUnsafeBytes { CRC32C.checksum($0) }) : 0
        blobSender.enqueue(
            MetaBlobSender.Transfer(
                streamId: streamId, metaVersion: metaVersion, blobType: blobType, bytes: bytes, checksum: crc))
        return metaVersion
    }

    /// Blobs sent completely.
    public var blobsSent: UInt64 { blobSender.blobsSent }

    /// Blobs queued or in transfer.
    public var blobsPending: Int { blobSender.queue.count }
}

/// Reassembles meta blobs on the receiving side: one transfer per stream at a time; discards a blob on a gap, an
/// overlap, a short total, a checksum mismatch, a size beyond the cap or a timeout (§10.3.3-004).
final class MetaBlobAssembler {
    struct Transfer {
        var metaVersion: UInt32
        var blobType: UInt32
        var totalLength: Int
        var checksum: UInt64
        var bytes: [UInt8]
        var received = 0
        var lastProgressNs: UInt64
    }

    let maxBlobBytes: Int
    let timeoutNs: UInt64
    var transfers: [UInt32: Transfer] = [:]
    var discards: [MetaBlobDiscard: UInt64] = [:]
    var onDiscard: ((UInt32, UInt32, MetaBlobDiscard) -> Void)?
    var logger: Logger?

    init(maxBlobBytes: Int, timeoutNs: UInt64) {
        self.maxBlobBytes = maxBlobBytes
        self.timeoutNs = timeoutNs
    }

    func discard(_ stream: UInt32, _ reason: MetaBlobDiscard) {
        let version = transfers[stream]?.metaVersion ?? 0
        transfers[stream] = nil
        discards[reason, default: 0] += 1
        logger?.warning(
            "meta blob discarded", metadata: ["stream": "\(stream)", "version": "\(version)", "reason": "\(reason)"])
        onDiscard?(stream, version, reason)
    }

    func onAnnounce(_ decoder: WireSchema.MetaBlobAnnounceDecoder, now: UInt64) {
        let stream = decoder.streamId
        if transfers[stream] != nil { discard(stream, .superseded) }
        guard decoder.totalLen <= UInt64(maxBlobBytes) else {
            discards[.tooLarge, default: 0] += 1
            logger?.warning(
                "meta blob refused: too large", metadata: ["stream": "\(stream)", "bytes": "\(decoder.totalLen)"])
            onDiscard?(stream, decoder.metaVersion, .tooLarge)
            return
        }
        transfers[stream] = Transfer(
            metaVersion: decoder.metaVersion, blobType: decoder.blobType, totalLength: Int(decoder.totalLen),
            checksum: decoder.checksum, bytes: [UInt8](repeating: 0, count: Int(decoder.totalLen)),
            lastProgressNs: now)
    }

    func onChunk(_ decoder: WireSchema.MetaBlobChunkDecoder, now: UInt64) {
        let stream = decoder.streamId
        guard var transfer = transfers[stream], transfer.metaVersion == decoder.metaVersion else { return }
        let chunk = decoder.bytes
        guard chunk.count <= MetaBlobSender.chunkMax else { return discard(stream, .chunkTooLarge) }
        let offset = decoder.chunkOffset
        guard offset <= UInt64(transfer.received) else { return discard(stream, .gap) }
        guard offset == UInt64(transfer.received), transfer.received + chunk.count <= transfer.totalLength else {
            return discard(stream, .overlap)
        }
        transfers[stream] = nil  // unique buffer while it is written
        transfer.bytes.withUnsafeMutableBytes { target in
            if let base = chunk.baseAddress, !chunk.isEmpty {
                (target.baseAddress! + transfer.received).copyMemory(from: base, byteCount: chunk.count)
            }
        }
        transfer.received += chunk.count
        transfer.lastProgressNs = now
        transfers[stream] = transfer
    }

    func onComplete(_ decoder: WireSchema.MetaBlobCompleteDecoder) -> MetaBlob? {
        let stream = decoder.streamId
        guard let transfer = transfers[stream], transfer.metaVersion == decoder.metaVersion else { return nil }
        guard transfer.received == transfer.totalLength else {
            discard(stream, .short)
            return nil
        }
        guard decoder.checksum == transfer.checksum else {
            discard(stream, .checksumMismatch)
            return nil
        }
        if transfer.checksum != 0 {
            let crc = UInt64(transfer.bytes.withUnsafeBytes { CRC32C.checksum($0) })
            guard crc == transfer.checksum else {
                discard(stream, .checksumMismatch)
                return nil
            }
        }
        transfers[stream] = nil
        return MetaBlob(
            streamId: stream, metaVersion: transfer.metaVersion, blobType: transfer.blobType, bytes: transfer.bytes)
    }

    func expire(now: UInt64) {
        for (stream, transfer) in transfers
        where now > transfer.lastProgressNs
            && now - transfer.lastProgressNs > timeoutNs
        {
            discard(stream, .timedOut)
        }
    }
}
