public import Atomics

/// Encoding of the `seq_commit` word of a header slot (wire spec v1.2 §8.3): the frame's logical sequence in the
/// upper 63 bits and the commit flag in the least significant bit.
public enum SeqCommit {
    /// The in-progress word for sequence `seq`: `seq << 1`, LSB clear.
    @inlinable
    public static func inProgress(_ seq: UInt64) -> UInt64 { seq &<< 1 }

    /// The committed word for sequence `seq`: `(seq << 1) | 1`.
    @inlinable
    public static func committed(_ seq: UInt64) -> UInt64 { (seq &<< 1) | 1 }

    /// Whether `word` is committed (LSB set).
    @inlinable
    public static func isCommitted(_ word: UInt64) -> Bool { word & 1 == 1 }

    /// The logical sequence a word holds: `word >> 1`.
    @inlinable
    public static func sequence(_ word: UInt64) -> UInt64 { word &>> 1 }

    /// Largest sequence the word can carry (63 bits).
    public static let maxSequence: UInt64 = UInt64.max >> 1
}

/// The `seq_commit` word of one mapped header slot, accessed only through real atomics.
///
/// The producer side follows §8.3 as a seqlock writer: ``beginWrite(_:)`` stores the in-progress word and then issues
/// a release fence, so no payload or header store can become visible before the slot is marked in progress;
/// ``commit(_:)`` is a release store, so every store before it is visible to a reader that acquires the committed
/// word. The consumer side loads with acquire (``readBegin()``), reads the slot, then ``readEnd()`` issues an acquire
/// fence before the second acquire load, so none of the reads of the slot can move past the re-check.
public struct SeqCommitWord: @unchecked Sendable {
    @usableFromInline let atomic: UnsafeAtomic<UInt64>

    /// Wraps the word at `pointer`, which must be 8-byte aligned and stay mapped while the word is used.
    @inlinable
    public init(at pointer: UnsafeMutableRawPointer) {
        precondition(UInt(bitPattern: pointer) & 7 == 0, "seq_commit must be 8-byte aligned")
        atomic = UnsafeAtomic(at: pointer.assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }

    /// Marks the slot in progress for `seq` (store with release, then a release fence before any slot write).
    @inlinable @inline(__always)
    public func beginWrite(_ seq: UInt64) {
        atomic.store(SeqCommit.inProgress(seq), ordering: .releasing)
        atomicMemoryFence(ordering: .releasing)
    }

    /// Publishes the slot as committed for `seq` (release store, after every payload and header write).
    @inlinable @inline(__always)
    public func commit(_ seq: UInt64) {
        atomic.store(SeqCommit.committed(seq), ordering: .releasing)
    }

    /// First acquire load of a read.
    @inlinable @inline(__always)
    public func readBegin() -> UInt64 {
        atomic.load(ordering: .acquiring)
    }

    /// Second load of a read: an acquire fence orders every read of the slot before it, then an acquire load.
    @inlinable @inline(__always)
    public func readEnd() -> UInt64 {
        atomicMemoryFence(ordering: .acquiring)
        return atomic.load(ordering: .acquiring)
    }
}
