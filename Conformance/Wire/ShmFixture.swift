import Foundation
import SBE
import TensorPoolSHM
import TensorPoolWire

/// A stream's regions created in a private directory under /dev/shm, a writer over them, and helpers to map them
/// read-only as a consumer would and to tamper with the mapped bytes.
final class ShmFixture {
    let directory: String
    let layout: ShmPathLayout
    let regions: StreamRegions
    let writer: FrameWriter
    let policy: PathPolicy
    let epoch: UInt64

    static let pools = [PoolSpec(poolId: 1, strideBytes: 1024), PoolSpec(poolId: 2, strideBytes: 65_536)]

    init(
        nslots: UInt32 = 8, pools: [PoolSpec] = ShmFixture.pools, epoch: UInt64 = 1_000, streamId: UInt32 = 10_000,
        options: RegionCreateOptions = .init(), directory: String? = nil
    ) throws {
        let directory = directory ?? "/dev/shm/tp-conf-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.epoch = epoch
        do {
            layout = try ShmPathLayout(baseDirectory: directory, namespace: "conformance")
            regions = try StreamRegions.create(
                layout: layout, streamId: streamId, epoch: epoch, headerNslots: nslots, pools: pools,
                nowNs: Self.now(), options: options)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)  // deinit does not run for a failed init
            throw error
        }
        writer = FrameWriter(regions: regions)
        policy = try PathPolicy(allowedBaseDirectories: [directory])
    }

    deinit {
        regions.unmap()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The fixtures' clock: one fixed CLOCK_MONOTONIC instant (an hour after boot), the clock of every superblock
    /// timestamp, not the machine's clock. Regions are created with it as their start and activity timestamp and
    /// consumers check freshness at it or at explicit offsets from it, so no freshness window can lapse because the
    /// machine was slow between creating and mapping.
    static func now() -> UInt64 { 3_600_000_000_000 }

    /// The announce a producer would publish.
    var announce: RegionAnnounce { regions.announce }

    /// Maps the regions read-only through the announce, as a consumer does.
    func mapConsumer(_ announce: RegionAnnounce? = nil) throws -> StreamRegions {
        try StreamRegions.map(announce ?? self.announce, policy: policy, writable: false, nowNs: Self.now())
    }

    /// A reader over a fresh read-only mapping.
    func reader(maxOutstandingSeqGap: UInt64 = 256) throws -> FrameReader {
        FrameReader(regions: try mapConsumer(), maxOutstandingSeqGap: maxOutstandingSeqGap)
    }

    /// A consumer mapping state machine with this fixture's policy.
    func consumerMapping() -> ConsumerMapping { ConsumerMapping(policy: policy) }

    /// Publishes `seq` with a payload of `length` bytes, each byte `UInt8(truncatingIfNeeded: seq &+ index)`.
    @discardableResult
    func publish(_ seq: UInt64, length: Int = 256, tensor: TensorDescriptor? = nil) throws -> SlotClaim {
        let claim = try writer.claim(seq: seq, length: length)
        for index in 0..<length { claim.payload[index] = UInt8(truncatingIfNeeded: seq &+ UInt64(index)) }
        try writer.commit(
            claim, tensor: tensor ?? (try TensorDescriptor(dtype: .uint8, shape: [length])), timestampNs: seq + 7,
            metaVersion: UInt32(seq % 100))
        return claim
    }

    /// The writable bytes of header slot `index`.
    func slot(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(
            start: regions.header.base + ShmLayout.headerSlotOffset(index), count: ShmLayout.headerSlotBytes)
    }

    /// Stores `value` little-endian at `offset` of slot `index` (the slot stays committed).
    func tamper<T: FixedWidthInteger>(slot index: Int, at offset: Int, _ value: T) {
        SBEBuffer.store(value, regions.header.base + ShmLayout.headerSlotOffset(index), offset)
    }

    /// Stores `value` little-endian at `offset` of the superblock of `region`.
    func tamper<T: FixedWidthInteger>(superblockOf region: MappedRegion, at offset: Int, _ value: T) {
        SBEBuffer.store(value, region.base, offset)
    }

    /// Offset of a `TensorHeader` block field inside a slot (after the embedded message header).
    static func tensorField(_ blockOffset: Int) -> Int { ShmLayout.embeddedHeaderOffset + 8 + blockOffset }
}

extension ReadResult {
    /// The drop reason, if dropped.
    var dropReason: FrameDropReason? {
        if case .dropped(let reason) = self { return reason }
        return nil
    }
}
