public import SBE
public import TensorPoolWire

/// A frame that is still being filled, seen through a `FrameProgress` hint (wire spec §10.2.2): the slot header the
/// producer prepared before its first hint, and the part of the payload that may be read already.
///
/// Only ``prefix`` may be read, and only while ``FrameReader/isStillValid(_:)-(ProgressView)`` holds: the frame is not
/// committed, and `FrameDescriptor` stays the signal that it is complete (§10.2.2-015).
public struct ProgressView: @unchecked Sendable {
    /// Logical sequence of the frame being filled.
    public let seq: UInt64
    /// Header slot index (`seq & (header_nslots - 1)` of the mapped ring).
    public let headerIndex: Int
    /// Bytes the producer reports as filled.
    public let bytesFilled: Int
    /// Bytes the frame will hold (`values_len_bytes`).
    public let valuesLength: Int
    /// Type and shape, from the prepared slot header.
    public let tensor: TensorDescriptor
    /// The bytes that are safe to interpret now (§10.2.2-017): `[0, bytesFilled)` for an inferred-contiguous layout,
    /// the whole rows (or columns) within it when the header declares `progress_unit`, and `nil` otherwise, when the
    /// hint is for information only.
    public let prefix: UnsafeRawBufferPointer?

    @usableFromInline
    init(
        seq: UInt64, headerIndex: Int, bytesFilled: Int, valuesLength: Int, tensor: TensorDescriptor,
        prefix: UnsafeRawBufferPointer?
    ) {
        self.seq = seq
        self.headerIndex = headerIndex
        self.bytesFilled = bytesFilled
        self.valuesLength = valuesLength
        self.tensor = tensor
        self.prefix = prefix
    }
}

/// Why a progress hint could not be resolved against the mapped slot.
public enum ProgressIgnoreReason: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// Nothing is mapped.
    case unmapped
    /// The hint's epoch is not the mapped one.
    case epochMismatch
    /// The slot holds another sequence (not yet claimed, or already reused).
    case sequenceMismatch
    /// The slot changed while it was read.
    case changedDuringRead
    /// The embedded header's length, schema or template is wrong.
    case embeddedHeader
    /// Pool, slot index or offset outside the mapped regions.
    case slotHeader
    /// The tensor header fails validation (progress stride 0 or contradicting the strides included, §10.2.2-010).
    case tensorHeader
    /// `payload_bytes_filled` exceeds `values_len_bytes` (§10.2.2-011).
    case exceedsValues

    /// A short label.
    public var description: String {
        switch self {
        case .unmapped: "unmapped"
        case .epochMismatch: "epoch mismatch"
        case .sequenceMismatch: "sequence mismatch"
        case .changedDuringRead: "changed during read"
        case .embeddedHeader: "invalid embedded header"
        case .slotHeader: "invalid slot header"
        case .tensorHeader: "invalid tensor header"
        case .exceedsValues: "bytes filled exceed the values length"
        }
    }
}

/// The outcome of ``FrameReader/readProgress(seq:epoch:bytesFilled:)``.
public enum ProgressReadResult: Sendable {
    /// The hint resolves to this view of the slot.
    case progress(ProgressView)
    /// The hint cannot be used.
    case ignored(ProgressIgnoreReason)
}

extension FrameReader {
    /// Resolves a `FrameProgress` hint of frame `seq` against the mapped slot (§10.2.2): the slot is derived from the
    /// mapped ring (`seq & (header_nslots - 1)`), its `seq_commit` must hold `seq` (in progress or committed), and the
    /// prepared header must validate, `progress_unit`/`progress_stride_bytes` included. Neither counters nor sequence
    /// tracking change. Nothing is allocated.
    @inlinable
    public func readProgress(seq: UInt64, epoch: UInt64, bytesFilled: UInt64) -> ProgressReadResult {
        guard header.isMapped else { return .ignored(.unmapped) }
        guard epoch == regions.epoch else { return .ignored(.epochMismatch) }
        let index = Int(truncatingIfNeeded: seq & mask)
        let slot = headerBase + ShmLayout.headerSlotOffset(index)
        let word = SeqCommitWord(at: UnsafeMutableRawPointer(mutating: slot))
        let first = word.readBegin()
        guard SeqCommit.sequence(first) == seq else { return .ignored(.sequenceMismatch) }
        let valuesLength = Int(SBEBuffer.load(slot, 8, as: UInt32.self))
        let payloadSlot = Int(SBEBuffer.load(slot, 12, as: UInt32.self))
        let poolId = SBEBuffer.load(slot, 16, as: UInt16.self)
        let payloadOffset = SBEBuffer.load(slot, 18, as: UInt32.self)
        let headerBytesLength = Int(SBEBuffer.load(slot, ShmLayout.slotHeaderBlockLength, as: UInt32.self))
        let embedded = ShmLayout.embeddedHeaderOffset
        let blockLength = Int(SBEBuffer.load(slot, embedded, as: UInt16.self))
        let templateId = SBEBuffer.load(slot, embedded + 2, as: UInt16.self)
        let schemaId = SBEBuffer.load(slot, embedded + 4, as: UInt16.self)
        let tensor = Self.loadTensor(slot)
        guard SeqCommit.sequence(word.readEnd()) == seq else { return .ignored(.changedDuringRead) }
        guard headerBytesLength == ShmLayout.embeddedHeaderLength,
            blockLength == WireSchema.TensorHeaderDecoder.blockLength,
            templateId == WireSchema.TensorHeaderDecoder.templateId, schemaId == WireSchema.id
        else { return .ignored(.embeddedHeader) }
        let pool = poolIndex(of: poolId)
        guard pool >= 0, payloadSlot == index, valuesLength <= strides[pool] else { return .ignored(.slotHeader) }
        guard let resolved = try? tensor.resolvedStrides() else { return .ignored(.tensorHeader) }
        guard bytesFilled <= UInt64(valuesLength) else { return .ignored(.exceedsValues) }
        let filled = Int(bytesFilled)
        // §10.2.2-017: a prefix is interpretable for an inferred-contiguous layout at offset 0, or in whole rows
        // (columns) when the header declares the progress unit; otherwise the hint is information only.
        var safe: Int?
        if payloadOffset == 0 && Self.isContiguous(tensor, resolved: resolved) {
            safe = filled
        } else if tensor.progressUnit != .noneValue, tensor.progressStrideBytes > 0 {
            let stride = Int(tensor.progressStrideBytes)
            safe = filled / stride * stride
        }
        let base = poolBases[pool] + ShmLayout.payloadSlotOffset(index, strideBytes: strides[pool])
        return .progress(
            ProgressView(
                seq: seq, headerIndex: index, bytesFilled: filled, valuesLength: valuesLength, tensor: tensor,
                prefix: safe.map { UnsafeRawBufferPointer(start: $0 > 0 ? base : nil, count: $0) }))
    }

    /// Whether the slot of a progress view still holds its frame (in progress or committed): read the prefix, then
    /// check this, and discard what was computed from it when false.
    @inlinable
    public func isStillValid(_ progress: ProgressView) -> Bool {
        let word = SeqCommitWord(
            at: UnsafeMutableRawPointer(mutating: headerBase + ShmLayout.headerSlotOffset(progress.headerIndex)))
        return SeqCommit.sequence(word.readEnd()) == progress.seq
    }

    /// Whether `resolved` are the contiguous strides of `tensor`'s shape in its major order.
    @inlinable
    static func isContiguous(_ tensor: TensorDescriptor, resolved: DimensionArray64) -> Bool {
        var inferred = tensor
        inferred.strides = DimensionArray()
        guard let contiguous = try? inferred.resolvedStrides() else { return false }
        for index in 0..<tensor.ndims where contiguous[index] != resolved[index] { return false }
        return true
    }
}
