public import TensorPoolWire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Size class of a payload pool to create.
public struct PoolSpec: Hashable, Sendable {
    /// Pool id announced for the pool (and written into its superblock and slot headers).
    public var poolId: UInt16
    /// Payload slot stride: 64 bytes times a power of two.
    public var strideBytes: UInt32

    /// A pool of `strideBytes` per slot, identified by `poolId`.
    public init(poolId: UInt16, strideBytes: UInt32) {
        self.poolId = poolId
        self.strideBytes = strideBytes
    }
}

/// What a `ShmPoolAnnounce` says about a stream's regions (§10.1.1), with the URIs kept as announced.
public struct RegionAnnounce: Hashable, Sendable, Codable {
    /// One announced payload pool.
    public struct Pool: Hashable, Sendable, Codable {
        /// Pool id.
        public var poolId: UInt16
        /// Number of payload slots.
        public var nslots: UInt32
        /// Payload slot stride.
        public var strideBytes: UInt32
        /// Region URI of the pool file.
        public var regionURI: String

        /// An announced pool.
        public init(poolId: UInt16, nslots: UInt32, strideBytes: UInt32, regionURI: String) {
            self.poolId = poolId
            self.nslots = nslots
            self.strideBytes = strideBytes
            self.regionURI = regionURI
        }
    }

    /// Stream id.
    public var streamId: UInt32
    /// Producer id.
    public var producerId: UInt32
    /// Epoch of the regions.
    public var epoch: UInt64
    /// SHM layout version.
    public var layoutVersion: UInt32
    /// Header ring slot count.
    public var headerNslots: UInt32
    /// Header slot size (256).
    public var headerSlotBytes: UInt16
    /// Region URI of the header ring.
    public var headerRegionURI: String
    /// The payload pools.
    public var pools: [Pool]

    /// An announce with these values.
    public init(
        streamId: UInt32, producerId: UInt32 = 0, epoch: UInt64, layoutVersion: UInt32 = ShmLayout.layoutVersion,
        headerNslots: UInt32, headerSlotBytes: UInt16 = UInt16(ShmLayout.headerSlotBytes), headerRegionURI: String,
        pools: [Pool]
    ) {
        self.streamId = streamId
        self.producerId = producerId
        self.epoch = epoch
        self.layoutVersion = layoutVersion
        self.headerNslots = headerNslots
        self.headerSlotBytes = headerSlotBytes
        self.headerRegionURI = headerRegionURI
        self.pools = pools
    }

    /// Copies the region part of a decoded `ShmPoolAnnounce`.
    public init(_ decoder: WireSchema.ShmPoolAnnounceDecoder) {
        var pools: [Pool] = []
        var group = decoder.payloadPools
        while group.next() {
            pools.append(
                Pool(
                    poolId: group.poolId, nslots: group.poolNslots, strideBytes: group.strideBytes,
                    regionURI: group.regionUriString))
        }
        self.init(
            streamId: decoder.streamId, producerId: decoder.producerId, epoch: decoder.epoch,
            layoutVersion: decoder.layoutVersion, headerNslots: decoder.headerNslots,
            headerSlotBytes: decoder.headerSlotBytes, headerRegionURI: decoder.headerRegionUriString, pools: pools)
    }

    /// Checks the geometry rules that need no file: layout version, power-of-two header slots, 256-byte header
    /// slots, at least one pool, unique pool ids, every pool with the header's `nslots` (§9, §15.5) and a valid
    /// stride (§15.22).
    public func validateGeometry() throws(RegionError) {
        guard layoutVersion == ShmLayout.layoutVersion else {
            throw .superblock(
                path: headerRegionURI,
                .mismatch(.layoutVersion, expected: UInt64(ShmLayout.layoutVersion), actual: UInt64(layoutVersion)))
        }
        guard ShmLayout.isValidSlotCount(headerNslots) else {
            throw .invalidGeometry("header_nslots \(headerNslots) is not a power of two")
        }
        guard Int(headerSlotBytes) == ShmLayout.headerSlotBytes else {
            throw .invalidGeometry("header_slot_bytes \(headerSlotBytes) is not 256")
        }
        guard !pools.isEmpty else { throw .invalidGeometry("no payload pools announced") }
        var seen = Set<UInt16>()
        for pool in pools {
            guard seen.insert(pool.poolId).inserted else {
                throw .invalidGeometry("pool id \(pool.poolId) announced twice")
            }
            guard pool.nslots == headerNslots else {
                throw .invalidGeometry("pool \(pool.poolId) has \(pool.nslots) slots, the header ring \(headerNslots)")
            }
            guard ShmLayout.isValidStride(pool.strideBytes) else {
                throw .invalidGeometry("pool \(pool.poolId) stride \(pool.strideBytes) is not 64 × a power of two")
            }
        }
    }
}

/// One mapped payload pool.
public struct PayloadPool: Sendable {
    /// Pool id.
    public let poolId: UInt16
    /// Payload slot stride in bytes.
    public let strideBytes: Int
    /// Number of slots.
    public let nslots: Int
    /// The mapping.
    public let region: MappedRegion

    /// Start of payload slot `slot`.
    @inlinable
    public func slotPointer(_ slot: Int) -> UnsafeMutableRawPointer {
        region.base + ShmLayout.payloadSlotOffset(slot, strideBytes: strideBytes)
    }
}

/// The header ring and payload pools of one stream epoch, mapped together.
///
/// Drivers ``create(layout:streamId:epoch:headerNslots:pools:nowNs:options:)`` them (writing each superblock once and
/// syncing before the announce can go out, §15.14); producers map them writable and consumers read-only with
/// ``map(_:policy:writable:nowNs:freshnessWindowNs:lockMemory:)``, which applies every check of §15.1, §15.21a and
/// §15.22 before anything is used.
public final class StreamRegions: Sendable {
    /// Stream id.
    public let streamId: UInt32
    /// Epoch of the regions.
    public let epoch: UInt64
    /// Header ring slot count (a power of two).
    public let headerNslots: Int
    /// The header ring mapping.
    public let header: MappedRegion
    /// Payload pools, smallest stride first.
    public let pools: [PayloadPool]
    /// The announce describing these regions (URIs as created or as announced).
    public let announce: RegionAnnounce

    init(announce: RegionAnnounce, header: MappedRegion, pools: [PayloadPool]) {
        self.streamId = announce.streamId
        self.epoch = announce.epoch
        self.headerNslots = Int(announce.headerNslots)
        self.header = header
        self.pools = pools.sorted { $0.strideBytes < $1.strideBytes }
        self.announce = announce
    }

    /// Whether the regions are mapped read-write.
    public var isWritable: Bool { header.isWritable }

    /// Whether every region is still mapped.
    public var isMapped: Bool { header.isMapped && pools.allSatisfy { $0.region.isMapped } }

    /// The pool with id `poolId`, if announced.
    @inlinable
    public func pool(id poolId: UInt16) -> PayloadPool? {
        for pool in pools where pool.poolId == poolId { return pool }
        return nil
    }

    /// Creates the files of a new epoch under `layout`: `header.ring` and one `<pool_id>.pool` per pool, each sized,
    /// given its superblock (written once, `nowNs` — CLOCK_MONOTONIC — as start and activity timestamp) and synced. Returns the mapped, writable regions; their ``announce``
    /// carries the URIs to publish.
    public static func create(
        layout: ShmPathLayout, streamId: UInt32, epoch: UInt64, headerNslots: UInt32, pools: [PoolSpec],
        producerId: UInt32 = 0, nowNs: UInt64, options: RegionCreateOptions = .init()
    ) throws(RegionError) -> StreamRegions {
        let headerPath = layout.headerRingPath(streamId: streamId, epoch: epoch)
        let announce = RegionAnnounce(
            streamId: streamId, producerId: producerId, epoch: epoch, headerNslots: headerNslots,
            headerRegionURI: RegionURI(path: headerPath, requireHugepages: options.requireHugepages).description,
            pools: pools.map { spec in
                RegionAnnounce.Pool(
                    poolId: spec.poolId, nslots: headerNslots, strideBytes: spec.strideBytes,
                    regionURI: RegionURI(
                        path: layout.payloadPoolPath(streamId: streamId, epoch: epoch, poolId: spec.poolId),
                        requireHugepages: options.requireHugepages
                    ).description)
            })
        try announce.validateGeometry()
        let pid = UInt64(getpid())
        var created: [String] = []
        do {
            let header = try MappedRegion.create(
                path: headerPath, size: ShmLayout.headerRingSize(nslots: Int(headerNslots)), options: options,
                privateRoot: layout.baseDirectory)
            created.append(headerPath)
            try write(
                .headerRing(streamId: streamId, epoch: epoch, nslots: headerNslots, pid: pid, nowNs: nowNs), to: header)
            var mapped: [PayloadPool] = []
            for spec in pools {
                let path = layout.payloadPoolPath(streamId: streamId, epoch: epoch, poolId: spec.poolId)
                let size = ShmLayout.payloadPoolSize(nslots: Int(headerNslots), strideBytes: Int(spec.strideBytes))
                let region = try MappedRegion.create(
                    path: path, size: size, options: options, privateRoot: layout.baseDirectory)
                created.append(path)
                try write(
                    .payloadPool(
                        streamId: streamId, epoch: epoch, poolId: spec.poolId, nslots: headerNslots,
                        strideBytes: spec.strideBytes, pid: pid, nowNs: nowNs), to: region)
                mapped.append(
                    PayloadPool(
                        poolId: spec.poolId, strideBytes: Int(spec.strideBytes), nslots: Int(headerNslots),
                        region: region))
            }
            return StreamRegions(announce: announce, header: header, pools: mapped)
        } catch {
            for path in created { try? MappedRegion.unlink(path: path) }
            _ = rmdir(layout.epochDirectory(streamId: streamId, epoch: epoch))
            throw error
        }
    }

    private static func write(_ superblock: Superblock, to region: MappedRegion) throws(RegionError) {
        do {
            try superblock.write(to: region.mutableBytes)
        } catch {
            throw .superblock(path: region.path, error)
        }
        try region.sync()
    }

    /// Maps the regions an announce names, after validating everything the spec requires before mapping: the
    /// announced geometry, each URI (§15.22), each path's containment (§15.21a.5), the file size, hugepage backing
    /// when required, each superblock against the announce (§15.1) and, when `nowNs` (CLOCK_MONOTONIC) is given, the
    /// freshness of each activity timestamp. Nothing is mapped when any check fails. `populate` faults every page in when mapping.
    public static func map(
        _ announce: RegionAnnounce, policy: PathPolicy, writable: Bool = false, nowNs: UInt64? = nil,
        freshnessWindowNs: UInt64 = 3_000_000_000, lockMemory: Bool = false, populate: Bool = false
    ) throws(RegionError) -> StreamRegions {
        try announce.validateGeometry()
        let nslots = Int(announce.headerNslots)
        let header = try mapOne(
            uri: announce.headerRegionURI, policy: policy, writable: writable, lockMemory: lockMemory,
            populate: populate, length: ShmLayout.headerRingSize(nslots: nslots),
            expected: .headerRing(
                streamId: announce.streamId, epoch: announce.epoch, nslots: announce.headerNslots, pid: 0, nowNs: 0),
            layoutVersion: announce.layoutVersion, nowNs: nowNs, windowNs: freshnessWindowNs)
        var pools: [PayloadPool] = []
        for pool in announce.pools {
            let region = try mapOne(
                uri: pool.regionURI, policy: policy, writable: writable, lockMemory: lockMemory,
                populate: populate,
                length: ShmLayout.payloadPoolSize(nslots: Int(pool.nslots), strideBytes: Int(pool.strideBytes)),
                expected: .payloadPool(
                    streamId: announce.streamId, epoch: announce.epoch, poolId: pool.poolId, nslots: pool.nslots,
                    strideBytes: pool.strideBytes, pid: 0, nowNs: 0),
                layoutVersion: announce.layoutVersion, nowNs: nowNs, windowNs: freshnessWindowNs)
            pools.append(
                PayloadPool(
                    poolId: pool.poolId, strideBytes: Int(pool.strideBytes), nslots: Int(pool.nslots), region: region))
        }
        return StreamRegions(announce: announce, header: header, pools: pools)
    }

    private static func mapOne(
        uri text: String, policy: PathPolicy, writable: Bool, lockMemory: Bool, populate: Bool, length: Int,
        expected: Superblock,
        layoutVersion: UInt32, nowNs: UInt64?, windowNs: UInt64
    ) throws(RegionError) -> MappedRegion {
        let uri: RegionURI
        do { uri = try RegionURI(parsing: text) } catch { throw .uri(error) }
        let file: RegionFile
        do { file = try policy.openForMapping(uri, writable: writable) } catch { throw .containment(error) }
        defer { file.close() }
        let region = try MappedRegion.map(
            file, length: length, writable: writable, lockMemory: lockMemory, populate: populate)
        do {
            var want = expected
            want.layoutVersion = layoutVersion
            let found = try Superblock(decoding: region.bytes)
            try found.validate(against: want)
            if let nowNs { try found.requireFresh(nowNs: nowNs, windowNs: windowNs) }
        } catch {
            region.unmap()
            throw .superblock(path: file.path, error)
        }
        return region
    }

    /// Stores `nowNs` (CLOCK_MONOTONIC) as the activity timestamp of every region (the producer's periodic refresh).
    public func refreshActivity(nowNs: UInt64) {
        Superblock.refreshActivity(in: header, nowNs: nowNs)
        for pool in pools { Superblock.refreshActivity(in: pool.region, nowNs: nowNs) }
    }

    /// Re-reads the header ring's superblock as it is now.
    public func currentHeaderSuperblock() throws(SuperblockMismatch) -> Superblock {
        try Superblock(decoding: header.bytes)
    }

    /// Unmaps every region. Repeating it does nothing.
    public func unmap() {
        header.unmap()
        for pool in pools { pool.region.unmap() }
    }

    /// Unlinks the region files and then the epoch directory if it is empty (the creator's clean shutdown,
    /// §15.14). Safe to repeat.
    public func unlinkFiles() throws(RegionError) {
        var paths = [header.path]
        paths.append(contentsOf: pools.map(\.region.path))
        for path in paths { try MappedRegion.unlink(path: path) }
        let directory = String(header.path[..<(header.path.lastIndex(of: "/") ?? header.path.endIndex)])
        if !directory.isEmpty { _ = rmdir(directory) }
    }
}
