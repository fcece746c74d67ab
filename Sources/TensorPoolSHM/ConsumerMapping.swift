/// The mapping and epoch state machine of one consumer for one stream (§15.21): M0 UNMAPPED and M1 MAPPED(epoch).
///
/// - An announce in M0 maps the regions only if every check passes (paths, containment, superblocks, freshness).
/// - An announce in M1 with the same epoch changes nothing; with another epoch it drops everything in flight,
///   unmaps, and maps the new epoch (M1 → M0 → M1).
/// - A descriptor of another epoch, a sequence that goes backwards, a superblock that changes under the mapping
///   (magic, layout version, epoch or pid), or a stale activity timestamp unmaps (M1 → M0). After a change detected in
///   the superblock the consumer stays unmapped until an announce with a *new* epoch arrives (§15.14).
/// - In M0 every descriptor is dropped.
///
/// Single-threaded: one consumer agent drives it. Frames returned by ``read(seq:epoch:)`` are views into the current
/// mapping and must not be used after the next call that can unmap.
public final class ConsumerMapping {
    /// The two states of §15.21.
    public enum State: Hashable, Sendable {
        /// M0: nothing mapped.
        case unmapped
        /// M1: regions mapped and validated for this epoch.
        case mapped(epoch: UInt64)
    }

    /// What an announce did.
    public enum Transition: Equatable, Sendable {
        /// M0 → M1.
        case mapped(epoch: UInt64)
        /// M1(old) → M0 → M1(new).
        case remapped(from: UInt64, to: UInt64)
        /// M1 with the same epoch: nothing to do.
        case unchanged
        /// The announce's epoch is the one that was abandoned after a superblock change; waiting for a new one.
        case awaitingNewEpoch(UInt64)
        /// The announce was rejected; the consumer is in M0 and ``failure`` says why.
        case rejected(RegionError)
    }

    /// Why the consumer went back to M0.
    public enum UnmapReason: Hashable, Sendable {
        /// An announce brought another epoch.
        case epochChanged
        /// A descriptor carried another epoch.
        case descriptorEpochMismatch
        /// Descriptor sequences went backwards.
        case sequenceRegressed
        /// The header superblock changed under the mapping (magic, layout, epoch or pid).
        case superblockChanged(SuperblockMismatch)
        /// The activity timestamp went stale: the producer is presumed dead.
        case producerStale
        /// The owner asked.
        case requested
    }

    /// Containment policy for announced paths.
    public let policy: PathPolicy
    /// Freshness window for activity timestamps (compared with the CLOCK_MONOTONIC `nowNs` of ``handle(_:nowNs:)``
    /// and ``checkLiveness(nowNs:)``).
    public let freshnessWindowNs: UInt64
    /// Whether mappings are locked into memory.
    public let lockMemory: Bool
    /// Largest descriptor gap before a resync is recorded.
    public let maxOutstandingSeqGap: UInt64
    /// Whether mappings fault every page in when mapped (`MAP_POPULATE`).
    public let populate: Bool

    /// Current state.
    public private(set) var state: State = .unmapped
    /// The reader of the mapped epoch (nil in M0).
    @exclusivity(unchecked) public private(set) var reader: FrameReader?
    /// Why the last announce was rejected (the explicit diagnostic of §15.22), cleared by a successful mapping.
    public private(set) var failure: RegionError?
    /// Why the consumer last went back to M0.
    public private(set) var lastUnmapReason: UnmapReason?
    /// Frames dropped while unmapped or for an epoch mismatch, across mappings.
    public private(set) var dropsWhileUnmapped: UInt64 = 0
    /// Counters of earlier mappings, summed (the current reader's are added by ``counters``).
    public private(set) var retiredCounters = ConsumerCounters()
    private var blockedEpoch: UInt64?
    private var mappedPid: UInt64 = 0

    /// A consumer mapping with the given policy.
    public init(
        policy: PathPolicy, freshnessWindowNs: UInt64 = 3_000_000_000, lockMemory: Bool = false,
        maxOutstandingSeqGap: UInt64 = 256, populate: Bool = false
    ) {
        self.populate = populate
        self.policy = policy
        self.freshnessWindowNs = freshnessWindowNs
        self.lockMemory = lockMemory
        self.maxOutstandingSeqGap = maxOutstandingSeqGap
    }

    /// All counters: earlier mappings plus the current one.
    public var counters: ConsumerCounters {
        var total = retiredCounters
        if let current = reader?.counters { total += current }
        total.dropsEpoch += dropsWhileUnmapped
        return total
    }

    /// Applies an announce (M0 → M1, M1 → M1, or M1 → M0 → M1).
    @discardableResult
    public func handle(_ announce: RegionAnnounce, nowNs: UInt64) -> Transition {
        if case .mapped(let epoch) = state {
            if announce.epoch == epoch { return .unchanged }
            unmap(.epochChanged)
            return map(announce, nowNs: nowNs, previous: epoch)
        }
        if let blocked = blockedEpoch, announce.epoch == blocked { return .awaitingNewEpoch(blocked) }
        return map(announce, nowNs: nowNs, previous: nil)
    }

    private func map(_ announce: RegionAnnounce, nowNs: UInt64, previous: UInt64?) -> Transition {
        do {
            let regions = try StreamRegions.map(
                announce, policy: policy, writable: false, nowNs: nowNs, freshnessWindowNs: freshnessWindowNs,
                lockMemory: lockMemory, populate: populate)
            mappedPid = (try? regions.currentHeaderSuperblock().pid) ?? 0
            reader = FrameReader(regions: regions, maxOutstandingSeqGap: maxOutstandingSeqGap)
            state = .mapped(epoch: announce.epoch)
            failure = nil
            blockedEpoch = nil
            if let previous { return .remapped(from: previous, to: announce.epoch) }
            return .mapped(epoch: announce.epoch)
        } catch {
            failure = error
            return .rejected(error)
        }
    }

    /// Reads frame `seq` of `epoch`: dropped in M0; a descriptor of another epoch drops every frame in flight and
    /// unmaps (§15.21: no frame is accepted until the new epoch is mapped).
    @inlinable
    public func read(seq: UInt64, epoch: UInt64) -> ReadResult {
        if let reader, epoch == reader.epoch {
            let result = reader.read(seq: seq, epoch: epoch)
            if reader.remapRequired { unmap(.sequenceRegressed) }
            return result
        }
        return dropUnmatched(epoch: epoch)
    }

    /// ``read(seq:epoch:)`` into `view` (no copies of the view): nil when accepted, else the drop reason.
    @inlinable
    public func read(seq: UInt64, epoch: UInt64, into view: inout FrameView) -> FrameDropReason? {
        if let reader, epoch == reader.epochValue {
            let reason = reader.read(seq: seq, epoch: epoch, into: &view)
            if reader.remapRequired { unmap(.sequenceRegressed) }
            return reason
        }
        if case .dropped(let reason) = dropUnmatched(epoch: epoch) { return reason }
        return .unmapped
    }

    /// The slow path of ``read(seq:epoch:)``: nothing mapped, or another epoch.
    @usableFromInline
    func dropUnmatched(epoch: UInt64) -> ReadResult {
        dropsWhileUnmapped &+= 1
        guard reader != nil else { return .dropped(.unmapped) }
        unmap(.descriptorEpochMismatch)
        return .dropped(.epochMismatch)
    }

    /// Liveness check (at the announce cadence): re-reads the header superblock and unmaps when it changed under
    /// the mapping (then waits for a new epoch) or when its activity timestamp is stale (§15.14).
    @discardableResult
    public func checkLiveness(nowNs: UInt64) -> UnmapReason? {
        guard let reader else { return nil }
        let regions = reader.regions
        let epoch = regions.epoch
        do throws(SuperblockMismatch) {
            let current = try regions.currentHeaderSuperblock()
            var expected = Superblock.headerRing(
                streamId: regions.streamId, epoch: epoch, nslots: UInt32(regions.headerNslots), pid: mappedPid,
                nowNs: 0)
            expected.layoutVersion = regions.announce.layoutVersion
            try current.validate(against: expected)
            if current.pid != mappedPid {
                throw SuperblockMismatch.mismatch(.pid, expected: mappedPid, actual: current.pid)
            }
            try current.requireFresh(nowNs: nowNs, windowNs: freshnessWindowNs)
        } catch .stale {
            unmap(.producerStale)
            blockedEpoch = epoch
            return .producerStale
        } catch {
            unmap(.superblockChanged(error))
            blockedEpoch = epoch
            return .superblockChanged(error)
        }
        return nil
    }

    /// Drops everything in flight and unmaps (M1 → M0). Repeating it does nothing.
    public func unmap(_ reason: UnmapReason = .requested) {
        guard let reader else { return }
        retiredCounters += reader.counters
        reader.regions.unmap()
        self.reader = nil
        state = .unmapped
        lastUnmapReason = reason
    }
}
