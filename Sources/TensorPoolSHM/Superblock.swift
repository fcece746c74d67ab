import Atomics
public import TensorPoolWire

/// A superblock field, named in mismatch reports.
public enum SuperblockField: String, Hashable, Sendable {
    /// `magic`.
    case magic
    /// `layout_version`.
    case layoutVersion = "layout_version"
    /// `epoch`.
    case epoch
    /// `stream_id`.
    case streamId = "stream_id"
    /// `region_type`.
    case regionType = "region_type"
    /// `pool_id`.
    case poolId = "pool_id"
    /// `nslots`.
    case nslots
    /// `slot_bytes`.
    case slotBytes = "slot_bytes"
    /// `stride_bytes`.
    case strideBytes = "stride_bytes"
    /// `pid` (compared only while mapped, to detect a second writer, §15.14).
    case pid
}

/// Why a superblock was rejected (§7.1, §15.1, §15.14). Every case fails closed: the region is not used.
public enum SuperblockMismatch: Error, Hashable, Sendable, CustomStringConvertible {
    /// The region is shorter than a superblock.
    case truncated(length: Int)
    /// A field differs from the expected value.
    case mismatch(SuperblockField, expected: UInt64, actual: UInt64)
    /// `activity_timestamp_ns` is zero, or further than the freshness window from `nowNs` (CLOCK_MONOTONIC): older,
    /// so the producer is presumed dead, or ahead, so it was not stamped on this host's monotonic clock.
    case stale(activityTimestampNs: UInt64, nowNs: UInt64, windowNs: UInt64)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .truncated(let length): "region of \(length) bytes is shorter than the 64-byte superblock"
        case .mismatch(.magic, let expected, let actual):
            "magic 0x\(String(actual, radix: 16)) is not 0x\(String(expected, radix: 16)) (TPOLSHM1)"
        case .mismatch(let field, let expected, let actual): "\(field.rawValue) is \(actual), expected \(expected)"
        case .stale(0, let now, _):
            "activity_timestamp_ns is 0 (never refreshed) at CLOCK_MONOTONIC \(now)"
        case .stale(let activity, let now, let window) where activity > now:
            "activity_timestamp_ns \(activity) is stale at CLOCK_MONOTONIC \(now): more than the \(window) ns window "
                + "ahead, so not stamped on this host's monotonic clock (a realtime stamp, or an earlier boot's)"
        case .stale(let activity, let now, let window):
            "activity_timestamp_ns \(activity) is stale at CLOCK_MONOTONIC \(now) (window \(window) ns)"
        }
    }
}

/// The fields of an `ShmRegionSuperblock` (§7.1), read from or written to the first 64 bytes of a region.
public struct Superblock: Hashable, Sendable {
    /// The marker, ``ShmLayout/magic`` when valid.
    public var magic: UInt64 = ShmLayout.magic
    /// SHM layout version.
    public var layoutVersion: UInt32 = ShmLayout.layoutVersion
    /// Layout generation the region belongs to.
    public var epoch: UInt64
    /// Stream owning the region.
    public var streamId: UInt32
    /// Header ring or payload pool.
    public var regionType: WireSchema.RegionType
    /// Pool id (0 for the header ring).
    public var poolId: UInt16
    /// Number of slots.
    public var nslots: UInt32
    /// Slot size: 256 for the header ring, the stride for a pool (as AeronTensorPool.jl writes it).
    public var slotBytes: UInt32
    /// Stride: 0 for the header ring, the payload slot stride for a pool.
    public var strideBytes: UInt32
    /// Creator's process id (informational only, §15.1).
    public var pid: UInt64
    /// Creation time: CLOCK_MONOTONIC nanoseconds, as both peer implementations write it.
    public var startTimestampNs: UInt64
    /// Last liveness refresh: CLOCK_MONOTONIC nanoseconds, as both peer implementations write it.
    public var activityTimestampNs: UInt64

    /// The superblock of a header ring; `nowNs` (CLOCK_MONOTONIC) is its start and activity timestamp.
    public static func headerRing(
        streamId: UInt32, epoch: UInt64, nslots: UInt32, pid: UInt64, nowNs: UInt64
    ) -> Superblock {
        Superblock(
            epoch: epoch, streamId: streamId, regionType: .headerRing, poolId: 0, nslots: nslots,
            slotBytes: UInt32(ShmLayout.headerSlotBytes), strideBytes: 0, pid: pid, startTimestampNs: nowNs,
            activityTimestampNs: nowNs)
    }

    /// The superblock of a payload pool; `nowNs` (CLOCK_MONOTONIC) is its start and activity timestamp.
    public static func payloadPool(
        streamId: UInt32, epoch: UInt64, poolId: UInt16, nslots: UInt32, strideBytes: UInt32, pid: UInt64,
        nowNs: UInt64
    ) -> Superblock {
        Superblock(
            epoch: epoch, streamId: streamId, regionType: .payloadPool, poolId: poolId, nslots: nslots,
            slotBytes: strideBytes, strideBytes: strideBytes, pid: pid, startTimestampNs: nowNs,
            activityTimestampNs: nowNs)
    }

    /// Decodes the superblock at the start of `bytes` with the generated codec.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(SuperblockMismatch) {
        guard let decoder = try? WireSchema.ShmRegionSuperblockDecoder(bytes) else {
            throw .truncated(length: bytes.count)
        }
        magic = decoder.magic
        layoutVersion = decoder.layoutVersion
        epoch = decoder.epoch
        streamId = decoder.streamId
        regionType = decoder.regionType
        poolId = decoder.poolId
        nslots = decoder.nslots
        slotBytes = decoder.slotBytes
        strideBytes = decoder.strideBytes
        pid = decoder.pid
        startTimestampNs = decoder.startTimestampNs
        activityTimestampNs = Self.activityTimestamp(in: bytes)
    }

    /// A superblock with exactly these values.
    public init(
        magic: UInt64 = ShmLayout.magic, layoutVersion: UInt32 = ShmLayout.layoutVersion, epoch: UInt64,
        streamId: UInt32, regionType: WireSchema.RegionType, poolId: UInt16, nslots: UInt32, slotBytes: UInt32,
        strideBytes: UInt32, pid: UInt64, startTimestampNs: UInt64, activityTimestampNs: UInt64
    ) {
        self.magic = magic
        self.layoutVersion = layoutVersion
        self.epoch = epoch
        self.streamId = streamId
        self.regionType = regionType
        self.poolId = poolId
        self.nslots = nslots
        self.slotBytes = slotBytes
        self.strideBytes = strideBytes
        self.pid = pid
        self.startTimestampNs = startTimestampNs
        self.activityTimestampNs = activityTimestampNs
    }

    /// Encodes every field into the first 64 bytes of `bytes` through the generated codec.
    public func write(to bytes: UnsafeMutableRawBufferPointer) throws(SuperblockMismatch) {
        guard let encoder = try? WireSchema.ShmRegionSuperblockEncoder(bytes) else {
            throw .truncated(length: bytes.count)
        }
        encoder.magic = magic
        encoder.layoutVersion = layoutVersion
        encoder.epoch = epoch
        encoder.streamId = streamId
        encoder.regionType = regionType
        encoder.poolId = poolId
        encoder.nslots = nslots
        encoder.slotBytes = slotBytes
        encoder.strideBytes = strideBytes
        encoder.pid = pid
        encoder.startTimestampNs = startTimestampNs
        encoder.activityTimestampNs = activityTimestampNs
    }

    /// Checks the fields a region must agree on with its announce (§7.1, §15.1): `magic`, `layout_version`, `epoch`,
    /// `stream_id`, `region_type`, `pool_id`, `nslots`, and `stride_bytes` (pools) or `slot_bytes = 256` (header
    /// rings). A pool's `slot_bytes` is not compared: the announce carries no pool slot size and the peers write
    /// different values there (see the interop note of §7.1).
    public func validate(against expected: Superblock) throws(SuperblockMismatch) {
        func check(
            _ field: SuperblockField, _ want: some FixedWidthInteger, _ have: some FixedWidthInteger
        )
            throws(SuperblockMismatch)
        {
            if UInt64(truncatingIfNeeded: want) != UInt64(truncatingIfNeeded: have) {
                throw .mismatch(
                    field, expected: UInt64(truncatingIfNeeded: want), actual: UInt64(truncatingIfNeeded: have))
            }
        }
        try check(.magic, ShmLayout.magic, magic)
        try check(.layoutVersion, expected.layoutVersion, layoutVersion)
        try check(.epoch, expected.epoch, epoch)
        try check(.streamId, expected.streamId, streamId)
        try check(
            .regionType, UInt16(bitPattern: expected.regionType.rawValue), UInt16(bitPattern: regionType.rawValue))
        try check(.poolId, expected.poolId, poolId)
        try check(.nslots, expected.nslots, nslots)
        if expected.regionType == .headerRing {
            try check(.slotBytes, UInt32(ShmLayout.headerSlotBytes), slotBytes)
        } else {
            try check(.strideBytes, expected.strideBytes, strideBytes)
        }
    }

    /// Throws ``SuperblockMismatch/stale(activityTimestampNs:nowNs:windowNs:)`` unless the activity timestamp is
    /// non-zero and within `windowNs` of `nowNs`, a CLOCK_MONOTONIC reading (§15.1, §15.14; see
    /// ``isStale(activityTimestampNs:nowNs:windowNs:)``).
    public func requireFresh(nowNs: UInt64, windowNs: UInt64) throws(SuperblockMismatch) {
        if Self.isStale(activityTimestampNs: activityTimestampNs, nowNs: nowNs, windowNs: windowNs) {
            throw .stale(activityTimestampNs: activityTimestampNs, nowNs: nowNs, windowNs: windowNs)
        }
    }

    /// Whether an activity timestamp is zero or further than `windowNs` from `nowNs`. Both are CLOCK_MONOTONIC
    /// readings of this host (the peers' clock of every superblock time): a timestamp older than the window means the
    /// producer stopped refreshing it; one more than the window ahead was not written on this clock in this boot (a
    /// CLOCK_REALTIME stamp is about 1.8 × 10^18 ns ahead), so it proves no liveness either. A timestamp slightly
    /// ahead, from a refresh racing the reading of the clock, is fresh.
    @inlinable
    public static func isStale(activityTimestampNs: UInt64, nowNs: UInt64, windowNs: UInt64) -> Bool {
        guard activityTimestampNs != 0 else { return true }
        return nowNs >= activityTimestampNs
            ? nowNs - activityTimestampNs > windowNs : activityTimestampNs - nowNs > windowNs
    }

    /// Atomically stores `nowNs` (CLOCK_MONOTONIC) as the region's `activity_timestamp_ns` (the periodic refresh,
    /// §7.1).
    public static func refreshActivity(in region: MappedRegion, nowNs: UInt64) {
        precondition(region.isWritable && region.length >= ShmLayout.superblockSize, "refresh needs a writable region")
        let word = UnsafeAtomic<UInt64>(
            at: (region.base + ShmLayout.activityTimestampOffset)
                .assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
        word.store(nowNs.littleEndian, ordering: .releasing)
    }

    /// Atomically loads `activity_timestamp_ns` from a mapped region.
    public static func activityTimestamp(in region: MappedRegion) -> UInt64 {
        activityTimestamp(in: region.bytes)
    }

    static func activityTimestamp(in bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard let base = bytes.baseAddress, bytes.count >= ShmLayout.superblockSize,
            UInt(bitPattern: base) & 7 == 0
        else {
            return bytes.count >= ShmLayout.superblockSize
                ? bytes.loadUnaligned(fromByteOffset: ShmLayout.activityTimestampOffset, as: UInt64.self).littleEndian
                : 0
        }
        let word = UnsafeAtomic<UInt64>(
            at: UnsafeMutableRawPointer(mutating: base + ShmLayout.activityTimestampOffset)
                .assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
        return UInt64(littleEndian: word.load(ordering: .acquiring))
    }
}
