public import SBE
public import TensorPoolWire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why the producer could not publish a frame. Each is also counted on the ``FrameWriter``.
public enum PublishError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No pool's stride holds `length` bytes: the frame is dropped rather than blocking (§9, WIRE-9-003).
    case noPoolFits(length: Int, largestStride: Int)
    /// The tensor header is invalid; the slot stays in progress, so no consumer accepts it.
    case invalidTensor(TensorHeaderError)
    /// `valuesLength` exceeds the claimed length.
    case lengthExceedsClaim(length: Int, claimed: Int)
    /// The sequence does not fit the 63 bits of `seq_commit`.
    case sequenceOutOfRange(UInt64)
    /// The regions were unmapped.
    case unmapped

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .noPoolFits(let length, let largest): "no pool holds \(length) bytes (largest stride \(largest))"
        case .invalidTensor(let error): "invalid tensor header: \(error)"
        case .lengthExceedsClaim(let length, let claimed): "values length \(length) exceeds the claimed \(claimed)"
        case .sequenceOutOfRange(let seq): "sequence \(seq) does not fit in 63 bits"
        case .unmapped: "the stream's regions are unmapped"
        }
    }
}

/// A payload slot handed to the producer for in-place writing (zero copy).
///
/// Between ``FrameWriter/claim(seq:length:)`` and ``FrameWriter/commit(_:tensor:timestampNs:metaVersion:valuesLength:)``
/// the slot's `seq_commit` holds the in-progress word, so consumers drop it. Write the payload into ``payload``.
public struct SlotClaim: @unchecked Sendable {
    /// Logical sequence of the frame.
    public let seq: UInt64
    /// Header (and payload) slot index: `seq & (nslots - 1)`.
    public let headerIndex: Int
    /// Pool holding the payload.
    public let poolId: UInt16
    /// The writable payload bytes: exactly the claimed length, inside the pool's slot.
    public let payload: UnsafeMutableRawBufferPointer
    @usableFromInline let slot: UnsafeMutableRawPointer

    @usableFromInline
    init(
        seq: UInt64, headerIndex: Int, poolId: UInt16, payload: UnsafeMutableRawBufferPointer,
        slot: UnsafeMutableRawPointer
    ) {
        self.seq = seq
        self.headerIndex = headerIndex
        self.poolId = poolId
        self.payload = payload
        self.slot = slot
    }
}

/// The producer's side of the data plane: claims slots, lets the payload be written in place, and commits header
/// and `seq_commit` in the order of §8.3 / §15.18.
///
/// Single writer: one thread (the producer agent) uses a writer. Nothing here allocates per frame.
public final class FrameWriter {
    /// The mapped, writable regions.
    public let regions: StreamRegions
    @usableFromInline let headerBase: UnsafeMutableRawPointer
    @usableFromInline let mask: UInt64
    @usableFromInline let poolCount: Int
    @usableFromInline let strides: UnsafeMutableBufferPointer<Int>
    @usableFromInline let poolIds: UnsafeMutableBufferPointer<UInt16>
    @usableFromInline let poolBases: UnsafeMutableBufferPointer<UnsafeMutableRawPointer>
    /// Frames committed, dropped for no pool, dropped for an invalid tensor, and whether ``lastTensor`` is set (out
    /// of line: no exclusivity checks).
    @usableFromInline let counts: UnsafeMutableBufferPointer<UInt64>
    /// The last tensor committed (validated) and its encoded `headerBytes` (embedded message header and
    /// `TensorHeader`, 192 bytes): a frame with the same tensor is neither validated nor encoded again, only copied.
    @usableFromInline let lastTensor: UnsafeMutablePointer<TensorDescriptor>
    @usableFromInline let tensorBytes: UnsafeMutableRawBufferPointer

    /// Frames committed.
    public var framesCommitted: UInt64 { counts[0] }
    /// Frames dropped because no pool was large enough.
    public var dropsNoPool: UInt64 { counts[1] }
    /// Frames refused for an invalid tensor header.
    public var dropsInvalidTensor: UInt64 { counts[2] }

    /// A writer over writable `regions`.
    public init(regions: StreamRegions) {
        precondition(regions.isWritable, "a FrameWriter needs writable regions")
        self.regions = regions
        headerBase = regions.header.base
        mask = UInt64(regions.headerNslots - 1)
        poolCount = regions.pools.count
        strides = .allocate(capacity: poolCount)
        poolIds = .allocate(capacity: poolCount)
        poolBases = .allocate(capacity: poolCount)
        counts = .allocate(capacity: 4)
        counts.initialize(repeating: 0)
        lastTensor = .allocate(capacity: 1)
        lastTensor.initialize(
            to: TensorDescriptor(
                unvalidated: .uint8, majorOrder: .row, ndims: 0, dims: DimensionArray(), strides: DimensionArray(),
                progressUnit: .noneValue, progressStrideBytes: 0))
        tensorBytes = .allocate(byteCount: ShmLayout.embeddedHeaderLength, alignment: 8)
        tensorBytes.initializeMemory(as: UInt8.self, repeating: 0)
        for (index, pool) in regions.pools.enumerated() {
            strides[index] = pool.strideBytes
            poolIds[index] = pool.poolId
            poolBases[index] = pool.region.base
        }
    }

    deinit {
        counts.deallocate()
        lastTensor.deinitialize(count: 1)
        lastTensor.deallocate()
        tensorBytes.deallocate()
        strides.deallocate()
        poolIds.deallocate()
        poolBases.deallocate()
    }

    /// The index of the smallest pool whose stride holds `length` bytes (§9), or `nil`.
    @inlinable
    public func poolIndex(forLength length: Int) -> Int? {
        for index in 0..<poolCount where strides[index] >= length { return index }
        return nil
    }

    /// Claims the slot of `seq` for a payload of `length` bytes: picks the smallest fitting pool, computes
    /// `header_index = seq & (nslots - 1)` (the payload slot is the same index), and marks the slot in progress.
    @inlinable
    public func claim(seq: UInt64, length: Int) throws(PublishError) -> SlotClaim {
        guard seq <= SeqCommit.maxSequence else { throw .sequenceOutOfRange(seq) }
        guard length >= 0, let pool = poolIndex(forLength: length) else {
            counts[1] &+= 1
            throw .noPoolFits(length: length, largestStride: poolCount > 0 ? strides[poolCount - 1] : 0)
        }
        let index = Int(truncatingIfNeeded: seq & mask)
        let slot = headerBase + ShmLayout.headerSlotOffset(index)
        SeqCommitWord(at: slot).beginWrite(seq)
        let payload = poolBases[pool] + ShmLayout.payloadSlotOffset(index, strideBytes: strides[pool])
        return SlotClaim(
            seq: seq, headerIndex: index, poolId: poolIds[pool],
            payload: UnsafeMutableRawBufferPointer(start: payload, count: length), slot: slot)
    }

    /// Writes every header field of the claimed slot (the whole slot is overwritten, §8.3 step 3) and then
    /// release-stores the committed `seq_commit`. `valuesLength` defaults to the claimed length.
    @inlinable
    public func commit(
        _ claim: SlotClaim, tensor: TensorDescriptor, timestampNs: UInt64, metaVersion: UInt32,
        valuesLength: Int? = nil
    ) throws(PublishError) {
        let length = valuesLength ?? claim.payload.count
        guard length >= 0, length <= claim.payload.count else {
            throw .lengthExceedsClaim(length: length, claimed: claim.payload.count)
        }
        if counts[3] == 0 || lastTensor.pointee != tensor {
            do {
                try tensor.validate()
            } catch {
                counts[2] &+= 1
                throw .invalidTensor(error)
            }
            cacheTensor(tensor)
        }
        Self.writeSlot(
            claim.slot, valuesLength: UInt32(length), payloadSlot: UInt32(claim.headerIndex), poolId: claim.poolId,
            timestampNs: timestampNs, metaVersion: metaVersion, headerBytes: UnsafeRawPointer(tensorBytes.baseAddress!))
        SeqCommitWord(at: claim.slot).commit(claim.seq)
        counts[0] &+= 1
    }

    /// Writes the slot header of a claimed slot ahead of the commit, leaving `seq_commit` in progress, so that
    /// consumers following `FrameProgress` hints can read the shape and progress unit while the payload is filled
    /// (§10.2.2). ``commit(_:tensor:timestampNs:metaVersion:valuesLength:)`` still writes the whole header again.
    @inlinable
    public func prepare(
        _ claim: SlotClaim, tensor: TensorDescriptor, timestampNs: UInt64, metaVersion: UInt32,
        valuesLength: Int? = nil
    ) throws(PublishError) {
        let length = valuesLength ?? claim.payload.count
        guard length >= 0, length <= claim.payload.count else {
            throw .lengthExceedsClaim(length: length, claimed: claim.payload.count)
        }
        do {
            try tensor.validate()
        } catch {
            throw .invalidTensor(error)
        }
        Self.writeSlotHeader(
            claim.slot, seq: claim.seq, valuesLength: UInt32(length), payloadSlot: UInt32(claim.headerIndex),
            poolId: claim.poolId, timestampNs: timestampNs, metaVersion: metaVersion, tensor: tensor)
    }

    /// Validated `tensor` becomes the cached one: its `headerBytes` are encoded once.
    @usableFromInline
    func cacheTensor(_ tensor: TensorDescriptor) {
        do {
            let embedded = try WireSchema.TensorHeaderEncoder.wrapAndApplyHeader(tensorBytes)
            tensor.encode(into: embedded)
        } catch {
            preconditionFailure("slot layout invariant broken: \(error)")  // 8 + 184 bytes always fit in 192
        }
        lastTensor.pointee = tensor
        counts[3] = 1
    }

    /// Writes a whole slot but its `seq_commit` word: the fixed fields, the zeroed pad, the `headerBytes` length and
    /// the 192 encoded bytes (every byte of the header is written, §15.18-003).
    @inlinable
    static func writeSlot(
        _ slot: UnsafeMutableRawPointer, valuesLength: UInt32, payloadSlot: UInt32, poolId: UInt16,
        timestampNs: UInt64, metaVersion: UInt32, headerBytes: UnsafeRawPointer
    ) {
        SBEBuffer.store(valuesLength, slot, 8)
        SBEBuffer.store(payloadSlot, slot, 12)
        SBEBuffer.store(poolId, slot, 16)
        SBEBuffer.store(UInt32(0), slot, 18)  // payload_offset
        SBEBuffer.store(timestampNs, slot, 22)
        SBEBuffer.store(metaVersion, slot, 30)
        (slot + 34).initializeMemory(as: UInt8.self, repeating: 0, count: ShmLayout.slotHeaderBlockLength - 34)
        SBEBuffer.store(UInt32(ShmLayout.embeddedHeaderLength), slot, ShmLayout.slotHeaderBlockLength)
        (slot + ShmLayout.embeddedHeaderOffset).copyMemory(from: headerBytes, byteCount: ShmLayout.embeddedHeaderLength)
    }

    /// Copy path: claims, copies `payload` into the slot and commits.
    @inlinable
    public func publish(
        seq: UInt64, payload: UnsafeRawBufferPointer, tensor: TensorDescriptor, timestampNs: UInt64,
        metaVersion: UInt32 = 0
    ) throws(PublishError) {
        let claim = try claim(seq: seq, length: payload.count)
        if let source = payload.baseAddress, payload.count > 0 {
            claim.payload.baseAddress!.copyMemory(from: source, byteCount: payload.count)
        }
        try commit(claim, tensor: tensor, timestampNs: timestampNs, metaVersion: metaVersion)
    }

    /// Encodes a whole slot (fixed block, zeroed pad, `headerBytes` with the embedded `TensorHeader`) except the
    /// `seq_commit` word, which only the seqlock stores touch.
    @inlinable
    static func writeSlotHeader(
        _ slot: UnsafeMutableRawPointer, seq: UInt64, valuesLength: UInt32, payloadSlot: UInt32, poolId: UInt16,
        timestampNs: UInt64, metaVersion: UInt32, tensor: TensorDescriptor
    ) {
        let bytes = UnsafeMutableRawBufferPointer(start: slot, count: ShmLayout.headerSlotBytes)
        do {
            let header = try WireSchema.SlotHeaderEncoder(bytes)
            header.valuesLenBytes = valuesLength
            header.payloadSlot = payloadSlot
            header.poolId = poolId
            header.payloadOffset = 0
            header.timestampNs = timestampNs
            header.metaVersion = metaVersion
            header.padBytes.initializeMemory(as: UInt8.self, repeating: 0)
            // headerBytes: u32 length, then the embedded TensorHeader with its own message header.
            SBEBuffer.store(UInt32(ShmLayout.embeddedHeaderLength), slot, ShmLayout.slotHeaderBlockLength)
            let embedded = try WireSchema.TensorHeaderEncoder.wrapAndApplyHeader(
                bytes, offset: ShmLayout.embeddedHeaderOffset)
            tensor.encode(into: embedded)
            _ = header
        } catch {
            // A 256-byte slot always holds the 60 + 4 + 192 bytes written here.
            preconditionFailure("slot layout invariant broken: \(error)")
        }
    }

    /// Refreshes the activity timestamp of every region with `nowNs`, a CLOCK_MONOTONIC reading (call at the announce
    /// cadence, §7.1).
    public func refreshActivity(nowNs: UInt64) { regions.refreshActivity(nowNs: nowNs) }
}
