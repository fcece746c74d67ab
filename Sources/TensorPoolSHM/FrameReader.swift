public import SBE
public import TensorPoolWire

/// Why the consumer dropped a frame. Dropping is not an error (§15.21): the frame was overwritten, still in flight,
/// or invalid, and the consumer carries on.
public enum FrameDropReason: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    /// No regions are mapped (state M0).
    case unmapped
    /// The descriptor's epoch is not the mapped epoch.
    case epochMismatch
    /// The first load of `seq_commit` had the LSB clear: the slot is being written.
    case notCommitted
    /// `seq_commit` changed between the two loads: the slot was overwritten while being read.
    case changedDuringRead
    /// `seq_commit` holds another sequence than the descriptor's: overwritten (newer) or not yet written (older).
    case sequenceMismatch
    /// `seq_commit` went backwards for this slot (§15.3): stale.
    case staleCommit
    /// The descriptor's sequence is lower than one already seen: the producer restarted; remap.
    case sequenceRegressed
    /// The descriptor repeats the last sequence seen.
    case duplicate
    /// `headerBytes` has the wrong length, or the embedded header the wrong schema, template or version (§8.3).
    case embeddedHeader
    /// The slot header is invalid: non-zero `payload_offset`, `payload_slot` not the header index, unknown pool, or
    /// `values_len_bytes` beyond the stride.
    case slotHeader
    /// The tensor header fails validation (rank, enums, strides, progress stride).
    case tensorHeader
    /// The payload buffer given for a copy is smaller than the frame.
    case destinationTooSmall

    /// Whether the drop counts as `drops_late` (the frame was there but changed or is not the expected one).
    @inlinable
    public var isLate: Bool {
        switch self {
        case .notCommitted, .changedDuringRead, .sequenceMismatch, .staleCommit: true
        default: false
        }
    }

    /// The reason's name.
    public var description: String {
        switch self {
        case .unmapped: "unmapped"
        case .epochMismatch: "epoch mismatch"
        case .notCommitted: "not committed"
        case .changedDuringRead: "changed during read"
        case .sequenceMismatch: "sequence mismatch"
        case .staleCommit: "stale commit"
        case .sequenceRegressed: "sequence regressed"
        case .duplicate: "duplicate"
        case .embeddedHeader: "invalid embedded header"
        case .slotHeader: "invalid slot header"
        case .tensorHeader: "invalid tensor header"
        case .destinationTooSmall: "destination too small"
        }
    }
}

/// A frame accepted by the seqlock check: its metadata, and its payload in place in the pool.
///
/// For a frame from ``FrameReader/read(seq:epoch:)`` the payload is read in place (zero copy) and may be overwritten
/// by the producer at any time: check ``FrameReader/isStillValid(_:)`` after using the bytes and discard the result
/// when it is false. A frame from ``FrameReader/readCopy(seq:epoch:into:)`` was copied inside the seqlock window and
/// is final.
public struct FrameView: @unchecked Sendable {
    /// Logical sequence (`seq_commit >> 1`, equal to the descriptor's `seq`).
    public let seq: UInt64
    /// Header slot index.
    public let headerIndex: Int
    /// Pool holding the payload.
    public let poolId: UInt16
    /// Type and shape.
    public let tensor: TensorDescriptor
    /// Capture or source time.
    public let timestampNs: UInt64
    /// Metadata version in force for this frame.
    public let metaVersion: UInt32
    /// The payload, `values_len_bytes` long, in the pool (empty for a zero-length frame).
    public let payload: UnsafeRawBufferPointer
    /// The committed `seq_commit` word the frame was accepted with.
    public let commitWord: UInt64

    /// A placeholder to read into (``FrameReader/read(seq:epoch:into:)``).
    @inlinable
    public static var empty: FrameView {
        FrameView(
            seq: 0, headerIndex: 0, poolId: 0, tensor: .zero, timestampNs: 0, metaVersion: 0,
            payload: UnsafeRawBufferPointer(start: nil, count: 0), commitWord: 0)
    }

    @usableFromInline
    init(
        seq: UInt64, headerIndex: Int, poolId: UInt16, tensor: TensorDescriptor, timestampNs: UInt64,
        metaVersion: UInt32, payload: UnsafeRawBufferPointer, commitWord: UInt64
    ) {
        self.seq = seq
        self.headerIndex = headerIndex
        self.poolId = poolId
        self.tensor = tensor
        self.timestampNs = timestampNs
        self.metaVersion = metaVersion
        self.payload = payload
        self.commitWord = commitWord
    }
}

/// The result of reading one frame: the frame, or why it was dropped.
public enum ReadResult: Sendable {
    /// The frame passed every check.
    case frame(FrameView)
    /// The frame was dropped.
    case dropped(FrameDropReason)

    /// The frame, if accepted.
    @inlinable
    public var frame: FrameView? {
        if case .frame(let frame) = self { return frame }
        return nil
    }
}

/// Consumer-side counters (§15.4, §15.13): gaps in `seq` and late frames are kept apart.
public struct ConsumerCounters: Hashable, Sendable {
    /// Frames accepted.
    public var framesAccepted: UInt64 = 0
    /// Sequences never offered to the reader (gaps between successive descriptors).
    public var dropsGap: UInt64 = 0
    /// Frames that were offered but had been overwritten, were being written, or changed while read.
    public var dropsLate: UInt64 = 0
    /// Frames dropped for an invalid slot, embedded or tensor header.
    public var dropsInvalid: UInt64 = 0
    /// Frames dropped for an epoch mismatch or because nothing was mapped.
    public var dropsEpoch: UInt64 = 0
    /// Times a gap larger than `max_outstanding_seq_gap` made the reader resynchronise (§15.4).
    public var resyncs: UInt64 = 0
    /// Zero-copy frames found overwritten by ``FrameReader/isStillValid(_:)`` after use (also in `dropsLate`).
    public var overwrittenAfterAccept: UInt64 = 0

    /// All zero.
    public init() {}

    /// Adds every counter of `other` to `total`.
    public static func += (total: inout ConsumerCounters, other: ConsumerCounters) {
        total.framesAccepted &+= other.framesAccepted
        total.dropsGap &+= other.dropsGap
        total.dropsLate &+= other.dropsLate
        total.dropsInvalid &+= other.dropsInvalid
        total.dropsEpoch &+= other.dropsEpoch
        total.resyncs &+= other.resyncs
        total.overwrittenAfterAccept &+= other.overwrittenAfterAccept
    }
}

/// The consumer's side of the data plane: validates a slot for a descriptor's `seq` with the seqlock protocol of
/// §8.3 / §15.18 and returns a frame view or a typed drop reason.
///
/// Single reader per instance (one consumer agent). Nothing here allocates per frame.
public final class FrameReader {
    /// The mapped regions.
    public let regions: StreamRegions
    /// Largest gap tolerated before a resync is recorded (§15.4, default 256).
    public let maxOutstandingSeqGap: UInt64
    /// Counters.
    public var counters: ConsumerCounters { mutable.pointee.counters }
    @usableFromInline let reasonCounts: UnsafeMutableBufferPointer<UInt64>
    /// The last descriptor sequence this reader was offered (nil before the first).
    public var lastSequence: UInt64? { mutable.pointee.seenAny ? mutable.pointee.lastSeq : nil }
    /// Set when a descriptor sequence went backwards: the stream must be remapped (§15.2).
    public var remapRequired: Bool { mutable.pointee.regressed }

    @usableFromInline let header: MappedRegion
    @usableFromInline let headerBase: UnsafeRawPointer
    @usableFromInline let mask: UInt64
    @usableFromInline let nslots: Int
    @usableFromInline let lastCommit: UnsafeMutableBufferPointer<UInt64>
    @usableFromInline let poolCount: Int
    @usableFromInline let poolIds: UnsafeMutableBufferPointer<UInt16>
    @usableFromInline let strides: UnsafeMutableBufferPointer<Int>
    @usableFromInline let poolBases: UnsafeMutableBufferPointer<UnsafeRawPointer>
    /// The reader's mutable state, out of line so the hot path pays no dynamic exclusivity checks (one reader, one
    /// thread).
    @usableFromInline let mutable: UnsafeMutablePointer<ReaderState>

    /// A reader over mapped `regions`.
    public init(regions: StreamRegions, maxOutstandingSeqGap: UInt64 = 256) {
        self.regions = regions
        epochValue = regions.epoch
        self.maxOutstandingSeqGap = maxOutstandingSeqGap
        header = regions.header
        headerBase = UnsafeRawPointer(regions.header.base)
        nslots = regions.headerNslots
        mask = UInt64(nslots - 1)
        mutable = .allocate(capacity: 1)
        mutable.initialize(to: ReaderState())
        reasonCounts = .allocate(capacity: FrameDropReason.allCases.count)
        reasonCounts.initialize(repeating: 0)
        lastCommit = .allocate(capacity: nslots)
        lastCommit.initialize(repeating: 0)
        poolCount = regions.pools.count
        poolIds = .allocate(capacity: poolCount)
        strides = .allocate(capacity: poolCount)
        poolBases = .allocate(capacity: poolCount)
        for (index, pool) in regions.pools.enumerated() {
            poolIds[index] = pool.poolId
            strides[index] = pool.strideBytes
            poolBases[index] = UnsafeRawPointer(pool.region.base)
        }
    }

    deinit {
        mutable.deinitialize(count: 1)
        mutable.deallocate()
        reasonCounts.deallocate()
        lastCommit.deallocate()
        poolIds.deallocate()
        strides.deallocate()
        poolBases.deallocate()
    }

    /// How many frames were dropped for `reason`.
    public func drops(_ reason: FrameDropReason) -> UInt64 { reasonCounts[Int(reason.rawValue)] }

    /// The epoch of the mapped regions.
    public var epoch: UInt64 { epochValue }
    /// The mapped epoch, read per frame without going through `regions`.
    @usableFromInline let epochValue: UInt64

    /// Reads the frame `seq` of `epoch` in place (zero copy). The header is validated inside the seqlock window; the
    /// payload is returned in place, so call ``isStillValid(_:)`` after using it.
    @inlinable
    public func read(seq: UInt64, epoch: UInt64) -> ReadResult {
        readFrame(seq: seq, epoch: epoch, copyInto: nil)
    }

    /// Reads the frame `seq` of `epoch` in place (zero copy) into `view`; returns nil when accepted, else the drop
    /// reason. The form without copies of the view, for hot loops.
    @inlinable
    public func read(seq: UInt64, epoch: UInt64, into view: inout FrameView) -> FrameDropReason? {
        readFrame(seq: seq, epoch: epoch, copyInto: nil, into: &view)
    }

    /// Reads the frame `seq` of `epoch` and copies its payload into `destination` inside the seqlock window, so the
    /// copy is accepted only if no byte of it can be torn. The returned view's payload points into `destination`.
    @inlinable
    public func readCopy(seq: UInt64, epoch: UInt64, into destination: UnsafeMutableRawBufferPointer) -> ReadResult {
        readFrame(seq: seq, epoch: epoch, copyInto: destination)
    }

    /// Whether a zero-copy frame is still the committed content of its slot: an acquire fence and load of
    /// `seq_commit`. When false the producer has started overwriting the slot; the frame is counted late and every
    /// result computed from its payload must be discarded.
    @inlinable
    public func isStillValid(_ frame: FrameView) -> Bool {
        let word = SeqCommitWord(
            at: UnsafeMutableRawPointer(mutating: headerBase + ShmLayout.headerSlotOffset(frame.headerIndex)))
        if word.readEnd() == frame.commitWord { return true }
        mutable.pointee.counters.dropsLate &+= 1
        mutable.pointee.counters.overwrittenAfterAccept &+= 1
        return false
    }

    @inlinable
    func drop(_ reason: FrameDropReason) -> ReadResult { .dropped(dropped(reason)) }

    /// Counts a drop and returns its reason.
    @inlinable
    func dropped(_ reason: FrameDropReason) -> FrameDropReason {
        reasonCounts[Int(reason.rawValue)] &+= 1
        switch reason {
        case .notCommitted, .changedDuringRead, .sequenceMismatch, .staleCommit:
            mutable.pointee.counters.dropsLate &+= 1
        case .embeddedHeader, .slotHeader, .tensorHeader, .destinationTooSmall:
            mutable.pointee.counters.dropsInvalid &+= 1
        case .unmapped, .epochMismatch: mutable.pointee.counters.dropsEpoch &+= 1
        case .sequenceRegressed, .duplicate: break
        }
        return reason
    }

    /// Gap accounting on the descriptor sequence (§15.4): a jump of more than one counts the skipped sequences.
    @inlinable
    func track(seq: UInt64) -> FrameDropReason? {
        let state = mutable
        if state.pointee.seenAny {
            let lastSeq = state.pointee.lastSeq
            if seq == lastSeq { return .duplicate }
            if seq < lastSeq {
                state.pointee.regressed = true
                return .sequenceRegressed
            }
            let gap = seq - lastSeq - 1
            if gap > 0 {
                mutable.pointee.counters.dropsGap &+= gap
                if gap > maxOutstandingSeqGap { mutable.pointee.counters.resyncs &+= 1 }
            }
        }
        state.pointee.seenAny = true
        state.pointee.lastSeq = seq
        return nil
    }

    @inlinable
    func readFrame(seq: UInt64, epoch: UInt64, copyInto destination: UnsafeMutableRawBufferPointer?) -> ReadResult {
        var view = FrameView.empty
        if let reason = readFrame(seq: seq, epoch: epoch, copyInto: destination, into: &view) {
            return .dropped(reason)
        }
        return .frame(view)
    }

    /// The read itself: on success `view` holds the frame and the result is nil; otherwise the drop reason (already
    /// counted). Writing the view in place spares the copies of returning it.
    @inlinable
    func readFrame(
        seq: UInt64, epoch: UInt64, copyInto destination: UnsafeMutableRawBufferPointer?, into view: inout FrameView
    ) -> FrameDropReason? {
        guard header.isMapped else { return dropped(.unmapped) }
        guard epoch == epochValue else { return dropped(.epochMismatch) }
        if let reason = track(seq: seq) { return dropped(reason) }
        let index = Int(truncatingIfNeeded: seq & mask)
        let slot = headerBase + ShmLayout.headerSlotOffset(index)
        let word = SeqCommitWord(at: UnsafeMutableRawPointer(mutating: slot))
        let first = word.readBegin()
        guard SeqCommit.isCommitted(first) else { return dropped(.notCommitted) }
        guard first >= lastCommit[index] else { return dropped(.staleCommit) }
        guard SeqCommit.sequence(first) == seq else { return dropped(.sequenceMismatch) }

        // Read the slot (values may be torn until the second load confirms them).
        let valuesLength = Int(SBEBuffer.load(slot, 8, as: UInt32.self))
        let payloadSlot = Int(SBEBuffer.load(slot, 12, as: UInt32.self))
        let poolId = SBEBuffer.load(slot, 16, as: UInt16.self)
        let payloadOffset = SBEBuffer.load(slot, 18, as: UInt32.self)
        let timestampNs = SBEBuffer.load(slot, 22, as: UInt64.self)
        let metaVersion = SBEBuffer.load(slot, 30, as: UInt32.self)
        let headerBytesLength = Int(SBEBuffer.load(slot, ShmLayout.slotHeaderBlockLength, as: UInt32.self))
        let embedded = ShmLayout.embeddedHeaderOffset
        let blockLength = Int(SBEBuffer.load(slot, embedded, as: UInt16.self))
        let templateId = SBEBuffer.load(slot, embedded + 2, as: UInt16.self)
        let schemaId = SBEBuffer.load(slot, embedded + 4, as: UInt16.self)
        let version = SBEBuffer.load(slot, embedded + 6, as: UInt16.self)
        let tensor = Self.loadTensor(slot)

        // Bounds the payload with the (possibly torn) values before touching it; decide late vs invalid afterwards.
        let pool = poolIndex(of: poolId)
        let slotValid =
            pool >= 0 && payloadOffset == 0 && payloadSlot == index && valuesLength <= strides[max(pool, 0)]
        var payload = UnsafeRawBufferPointer(start: nil, count: 0)
        var copyFits = true
        if slotValid && valuesLength > 0 {
            let source = poolBases[pool] + ShmLayout.payloadSlotOffset(index, strideBytes: strides[pool])
            if let destination {
                if destination.count >= valuesLength, let target = destination.baseAddress {
                    target.copyMemory(from: source, byteCount: valuesLength)
                    payload = UnsafeRawBufferPointer(start: target, count: valuesLength)
                } else {
                    copyFits = false
                }
            } else {
                payload = UnsafeRawBufferPointer(start: source, count: valuesLength)
            }
        }

        let second = word.readEnd()
        guard second == first else { return dropped(.changedDuringRead) }
        // The values read above are now known to be the committed frame's: validate them.
        guard headerBytesLength == ShmLayout.embeddedHeaderLength,
            blockLength == WireSchema.TensorHeaderDecoder.blockLength,
            templateId == WireSchema.TensorHeaderDecoder.templateId, schemaId == WireSchema.id,
            version == WireSchema.version
        else { return dropped(.embeddedHeader) }
        guard slotValid else { return dropped(.slotHeader) }
        guard copyFits else { return dropped(.destinationTooSmall) }
        // The same tensor as the last accepted frame's needs no validation again (the usual case).
        if !mutable.pointee.hasValidTensor || mutable.pointee.validTensor != tensor {
            do { try tensor.validate() } catch { return dropped(.tensorHeader) }
            mutable.pointee.validTensor = tensor
            mutable.pointee.hasValidTensor = true
        }

        lastCommit[index] = second
        mutable.pointee.counters.framesAccepted &+= 1
        view = FrameView(
            seq: seq, headerIndex: index, poolId: poolId, tensor: tensor, timestampNs: timestampNs,
            metaVersion: metaVersion, payload: payload, commitWord: second)
        return nil
    }

    /// The embedded `TensorHeader` of a slot, unvalidated. Only the first `ndims` dims and strides are read (entries
    /// beyond are ignored, §8.2): for up to three dimensions the reader touches two of the slot's four cache lines.
    @inlinable
    static func loadTensor(_ slot: UnsafeRawPointer) -> TensorDescriptor {
        let block = ShmLayout.embeddedHeaderOffset + 8
        let ndims = Int(SBEBuffer.load(slot, block + 4, as: UInt8.self))
        return TensorDescriptor(
            unvalidated: WireSchema.Dtype(rawValue: SBEBuffer.load(slot, block, as: Int16.self)),
            majorOrder: WireSchema.MajorOrder(rawValue: SBEBuffer.load(slot, block + 2, as: Int16.self)),
            ndims: ndims,
            dims: loadDimensions(slot + block + 11, count: ndims),
            strides: loadDimensions(slot + block + 43, count: ndims),
            progressUnit: WireSchema.ProgressUnit(rawValue: SBEBuffer.load(slot, block + 6, as: UInt8.self)),
            progressStrideBytes: SBEBuffer.load(slot, block + 7, as: UInt32.self))
    }

    /// The index of the mapped pool `poolId`, or -1.
    @inlinable
    func poolIndex(of poolId: UInt16) -> Int {
        for candidate in 0..<poolCount where poolIds[candidate] == poolId { return candidate }
        return -1
    }

    @inlinable
    static func loadDimensions(_ pointer: UnsafeRawPointer, count: Int = ShmLayout.maxDims) -> DimensionArray {
        var values = DimensionArray()
        for index in 0..<min(max(count, 0), ShmLayout.maxDims) {
            values[index] = Int32(littleEndian: pointer.loadUnaligned(fromByteOffset: index * 4, as: Int32.self))
        }
        return values
    }

    /// Forgets sequence tracking (after a remap, §15.18): the next descriptor starts a new run.
    public func resetTracking() {
        mutable.pointee.seenAny = false
        mutable.pointee.lastSeq = 0
        mutable.pointee.regressed = false
        lastCommit.update(repeating: 0)
    }
}

/// The mutable state of a ``FrameReader``: counters and sequence tracking.
@usableFromInline
struct ReaderState: Sendable {
    @usableFromInline var counters = ConsumerCounters()
    @usableFromInline var lastSeq: UInt64 = 0
    @usableFromInline var seenAny = false
    @usableFromInline var regressed = false
    /// The tensor of the last accepted frame, known valid.
    @usableFromInline var validTensor = TensorDescriptor.zero
    @usableFromInline var hasValidTensor = false

    @usableFromInline init() {}
}
