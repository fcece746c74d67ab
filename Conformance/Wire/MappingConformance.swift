import ConformanceSupport
import Foundation
import SBE
import TensorPoolSHM
import TensorPoolWire
import Testing

/// §7.1, §15.1, §15.2, §15.13, §15.14, §15.18 (epoch remap) and §15.21 (mapping state machine): superblocks and the
/// consumer's mapping and epoch handling.
@Suite("Wire §7.1/§15.1–15.2/§15.13–15.14/§15.21: superblocks and the mapping state machine")
struct MappingConformance {
    @Test(
        "regions are created (or truncated), given their superblock once, and synced before the announce exists",
        .verifies("WIRE-7.1-001", "WIRE-7.1-006", "WIRE-7.1-009", "WIRE-7.1-010", "WIRE-15.14-005"))
    func createdSuperblocks() throws {
        let directory = "/dev/shm/tp-conf-create-\(getpid())-\(UUID().uuidString.prefix(8))"
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "conformance")
        // A stale, larger file already sits where the header ring goes: it must be truncated and rewritten.
        let headerPath = layout.headerRingPath(streamId: 10_000, epoch: 1_000)
        try FileManager.default.createDirectory(
            atPath: (headerPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(repeating: 0xCC, count: 100_000).write(to: URL(fileURLWithPath: headerPath))
        let fixture = try ShmFixture(directory: directory)
        let header = try Superblock(decoding: fixture.regions.header.bytes)
        #expect(Array(fixture.regions.header.bytes[0..<8]) == Array("1MHSLPOT".utf8), "magic as the LE u64 value")
        #expect(header.magic == 0x544F_504C_5348_4D31 && header.layoutVersion == 1 && header.epoch == 1_000)
        #expect(header.regionType == .headerRing && header.poolId == 0 && header.nslots == 8)
        #expect(header.slotBytes == 256 && header.strideBytes == 0 && header.pid == UInt64(getpid()))
        var status = stat()
        #expect(stat(headerPath, &status) == 0 && Int(status.st_size) == 64 + 8 * 256)
        for pool in fixture.regions.pools {
            let superblock = try Superblock(decoding: pool.region.bytes)
            #expect(superblock.regionType == .payloadPool && superblock.poolId == pool.poolId)
            #expect(superblock.strideBytes == UInt32(pool.strideBytes) && superblock.nslots == 8)
            #expect(fixture.announce.pools.contains { $0.poolId == superblock.poolId })
        }
        // Written once: publishing frames and refreshing activity leave the first 56 bytes untouched.
        let before = Array(fixture.regions.header.bytes[0..<56])
        for seq: UInt64 in 0..<20 { try fixture.publish(seq) }
        fixture.writer.refreshActivity(nowNs: ShmFixture.now())
        #expect(Array(fixture.regions.header.bytes[0..<56]) == before)
    }

    /// Each superblock field a consumer compares with the announce, at its offset, with a wrong value.
    static let tamperedFields: [(name: String, offset: Int, width: Int, value: UInt64)] = [
        ("magic", 0, 8, 0x544F_504C_5348_4D32),
        ("layout_version", 8, 4, 2),
        ("epoch", 12, 8, 999),
        ("stream_id", 20, 4, 10_001),
        ("region_type", 24, 2, 2),
        ("pool_id", 26, 2, 1),
        ("nslots", 28, 4, 16),
        ("slot_bytes", 32, 4, 128),
    ]

    @Test(
        "a header superblock that disagrees with the announce in any checked field is rejected and nothing is mapped",
        .verifies(
            "WIRE-7.1-002", "WIRE-7.1-007", "WIRE-7.1-009", "WIRE-15.1-001", "WIRE-15.1-002", "WIRE-15.1-003",
            "WIRE-15.13-001", "WIRE-15.14-012", "WIRE-15.21-010"),
        arguments: tamperedFields.indices)
    func headerSuperblockMismatch(_ index: Int) throws {
        let field = Self.tamperedFields[index]
        let fixture = try ShmFixture()
        let base = fixture.regions.header.base
        switch field.width {
        case 8: SBEBuffer.store(field.value, base, field.offset)
        case 4: SBEBuffer.store(UInt32(field.value), base, field.offset)
        default: SBEBuffer.store(UInt16(field.value), base, field.offset)
        }
        #expect(throws: RegionError.self, "\(field.name)") { try fixture.mapConsumer() }
        let mapping = fixture.consumerMapping()
        guard case .rejected(.superblock(_, .mismatch)) = mapping.handle(fixture.announce, nowNs: ShmFixture.now())
        else {
            Issue.record("\(field.name): expected a superblock mismatch")
            return
        }
        #expect(mapping.state == .unmapped && mapping.reader == nil && mapping.failure != nil)
    }

    @Test(
        "a pool superblock with another pool_id, stride or nslots than announced is rejected",
        .verifies("WIRE-7.1-010", "WIRE-15.1-001"), arguments: [(26, 9), (36, 2048), (28, 4)])
    func poolSuperblockMismatch(_ offset: Int, _ value: Int) throws {
        let fixture = try ShmFixture()
        let pool = fixture.regions.pools[0].region
        if offset == 26 {
            fixture.tamper(superblockOf: pool, at: offset, UInt16(value))
        } else {
            fixture.tamper(superblockOf: pool, at: offset, UInt32(value))
        }
        #expect(throws: RegionError.self) { try fixture.mapConsumer() }
    }

    @Test(
        "an announce whose layout version is not ours is incompatible",
        .verifies("WIRE-15.14-012", "WIRE-15.1-001"))
    func layoutVersionMismatch() throws {
        let fixture = try ShmFixture()
        var announce = fixture.announce
        announce.layoutVersion = 2
        #expect(throws: RegionError.self) { try fixture.mapConsumer(announce) }
    }

    @Test(
        "pid is informational: a different pid alone does not make a consumer refuse an announced region",
        .verifies("WIRE-15.1-004"))
    func pidIsInformational() throws {
        let fixture = try ShmFixture()
        fixture.tamper(superblockOf: fixture.regions.header, at: 40, UInt64(1))
        let mapping = fixture.consumerMapping()
        #expect(mapping.handle(fixture.announce, nowNs: ShmFixture.now()) == .mapped(epoch: fixture.epoch))
    }

    @Test(
        "a stale activity timestamp refuses the mapping, and unmaps a mapped consumer until a new epoch",
        .verifies("WIRE-7.1-004", "WIRE-15.1-005", "WIRE-15.14-007", "WIRE-15.14-010"))
    func staleActivity() throws {
        let fixture = try ShmFixture()
        let mapping = ConsumerMapping(policy: fixture.policy, freshnessWindowNs: 1_000_000_000)
        let now = ShmFixture.now()
        guard case .rejected(.superblock(_, .stale)) = mapping.handle(fixture.announce, nowNs: now + 5_000_000_000)
        else {
            Issue.record("a region idle for 5 s must be refused with a 1 s window")
            return
        }
        #expect(mapping.handle(fixture.announce, nowNs: now) == .mapped(epoch: fixture.epoch))
        #expect(mapping.checkLiveness(nowNs: now + 500_000_000) == nil)
        #expect(mapping.checkLiveness(nowNs: now + 5_000_000_000) == .producerStale)
        #expect(mapping.state == .unmapped)
        #expect(mapping.handle(fixture.announce, nowNs: now) == .awaitingNewEpoch(fixture.epoch))
        // Activity is read on CLOCK_MONOTONIC, the peers' clock and ours: a region stamped on CLOCK_REALTIME (about
        // 1.8 × 10^18 ns, far ahead of any monotonic reading) proves no liveness and is refused too.
        let realtimeStamped = try ShmFixture()
        realtimeStamped.writer.refreshActivity(nowNs: 1_800_000_000_000_000_000)
        let fresh = ConsumerMapping(policy: realtimeStamped.policy)
        guard case .rejected(.superblock(_, .stale)) = fresh.handle(realtimeStamped.announce, nowNs: now) else {
            Issue.record("a realtime-stamped region must be refused as stale on the monotonic clock")
            return
        }
        #expect(fresh.state == .unmapped && fresh.reader == nil)
    }

    @Test(
        "a new epoch drops in-flight frames, unmaps every region, maps the new ones and restarts sequence tracking",
        .verifies(
            "WIRE-15.2-004", "WIRE-15.13-003", "WIRE-15.18-009", "WIRE-15.18-010", "WIRE-15.18-012",
            "WIRE-15.21-011", "WIRE-15.21-012", "WIRE-15.21-013", "WIRE-15.21-014"))
    func epochRollover() throws {
        let first = try ShmFixture(epoch: 1_000)
        for seq: UInt64 in 0...100 { try first.publish(seq) }
        let mapping = first.consumerMapping()
        #expect(mapping.handle(first.announce, nowNs: ShmFixture.now()) == .mapped(epoch: 1_000))
        #expect(mapping.state == .mapped(epoch: 1_000))
        let inFlight = try #require(mapping.read(seq: 100, epoch: 1_000).frame)
        let oldRegions = try #require(mapping.reader?.regions)

        let second = try ShmFixture(epoch: 2_000, directory: first.directory + "-2")
        try second.publish(0)
        let policy = try PathPolicy(allowedBaseDirectories: [first.directory, second.directory])
        let shared = ConsumerMapping(policy: policy)
        #expect(shared.handle(first.announce, nowNs: ShmFixture.now()) == .mapped(epoch: 1_000))
        _ = try #require(shared.read(seq: 100, epoch: 1_000).frame)
        #expect(shared.handle(second.announce, nowNs: ShmFixture.now()) == .remapped(from: 1_000, to: 2_000))
        #expect(shared.lastUnmapReason == .epochChanged)
        #expect(shared.read(seq: 100, epoch: 1_000).dropReason == .epochMismatch, "old-epoch frames are dropped")
        #expect(shared.state == .unmapped, "an epoch mismatch is a hard boundary")
        #expect(shared.handle(second.announce, nowNs: ShmFixture.now()) == .mapped(epoch: 2_000))
        let frame = try #require(shared.read(seq: 0, epoch: 2_000).frame, "tracking restarted: seq 0 accepted")
        #expect(frame.seq == 0)
        // The first consumer's view is of regions that the remap of its own mapping would unmap.
        mapping.unmap()
        #expect(!oldRegions.isMapped && oldRegions.pools.allSatisfy { !$0.region.isMapped })
        #expect(inFlight.seq == 100)
        try? FileManager.default.removeItem(atPath: second.directory)
    }

    @Test(
        "after an epoch mismatch nothing is accepted until the next announce maps the new epoch; M0 drops all",
        .verifies("WIRE-15.18-011", "WIRE-15.21-015", "WIRE-15.21-016"))
    func unmappedDropsEverything() throws {
        let fixture = try ShmFixture()
        try fixture.publish(1)
        try fixture.publish(2)
        let mapping = fixture.consumerMapping()
        #expect(mapping.read(seq: 1, epoch: fixture.epoch).dropReason == .unmapped)
        mapping.handle(fixture.announce, nowNs: ShmFixture.now())
        #expect(mapping.read(seq: 1, epoch: fixture.epoch + 1).dropReason == .epochMismatch)
        #expect(mapping.read(seq: 2, epoch: fixture.epoch).dropReason == .unmapped)
        #expect(mapping.handle(fixture.announce, nowNs: ShmFixture.now()) == .mapped(epoch: fixture.epoch))
        #expect(mapping.read(seq: 2, epoch: fixture.epoch).frame != nil)
        #expect(mapping.counters.dropsEpoch == 3)
    }

    @Test(
        "a sequence or epoch that goes backwards forces a remap",
        .verifies("WIRE-15.2-005"))
    func decreasesRemap() throws {
        let fixture = try ShmFixture()
        for seq: UInt64 in 0...9 { try fixture.publish(seq) }
        let mapping = fixture.consumerMapping()
        mapping.handle(fixture.announce, nowNs: ShmFixture.now())
        #expect(mapping.read(seq: 9, epoch: fixture.epoch).frame != nil)
        #expect(mapping.read(seq: 8, epoch: fixture.epoch).dropReason == .sequenceRegressed)
        #expect(mapping.state == .unmapped && mapping.lastUnmapReason == .sequenceRegressed)
        // A lower epoch than the mapped one is also a change of epoch: unmap, then map what is announced.
        let older = try ShmFixture(epoch: 500, directory: fixture.directory + "-old")
        defer { try? FileManager.default.removeItem(atPath: older.directory) }
        let both = ConsumerMapping(
            policy: try PathPolicy(allowedBaseDirectories: [fixture.directory, older.directory]))
        both.handle(fixture.announce, nowNs: ShmFixture.now())
        #expect(both.handle(older.announce, nowNs: ShmFixture.now()) == .remapped(from: fixture.epoch, to: 500))
    }

    @Test(
        "a superblock rewritten under the mapping (magic, epoch, pid) unmaps and waits for a new epoch",
        .verifies("WIRE-15.14-004", "WIRE-15.14-011", "WIRE-15.13-004"), arguments: [0, 12, 40])
    func superblockChangedUnderMapping(_ offset: Int) throws {
        let fixture = try ShmFixture()
        let mapping = fixture.consumerMapping()
        mapping.handle(fixture.announce, nowNs: ShmFixture.now())
        fixture.tamper(superblockOf: fixture.regions.header, at: offset, UInt64(0xDEAD))
        guard case .superblockChanged = mapping.checkLiveness(nowNs: ShmFixture.now()) else {
            Issue.record("a rewritten superblock must be detected (offset \(offset))")
            return
        }
        #expect(mapping.state == .unmapped)
        #expect(mapping.handle(fixture.announce, nowNs: ShmFixture.now()) == .awaitingNewEpoch(fixture.epoch))
    }

    @Test(
        "after unlink and re-creation the consumer recovers through the new epoch and magic",
        .verifies("WIRE-15.13-004", "WIRE-15.14-006"))
    func unlinkAndRecreate() throws {
        let first = try ShmFixture(epoch: 10)
        try first.publish(0)
        let mapping = first.consumerMapping()
        mapping.handle(first.announce, nowNs: ShmFixture.now())
        #expect(mapping.read(seq: 0, epoch: 10).frame != nil)
        try first.regions.unlinkFiles()
        try first.regions.unlinkFiles()  // safe to repeat
        #expect(access(first.regions.header.path, F_OK) != 0)
        let layout = first.layout
        let recreated = try StreamRegions.create(
            layout: layout, streamId: 10_000, epoch: 11, headerNslots: 8, pools: ShmFixture.pools,
            nowNs: ShmFixture.now())
        defer { recreated.unmap() }
        let writer = FrameWriter(regions: recreated)
        try writer.publish(
            seq: 0, payload: UnsafeRawBufferPointer(start: nil, count: 0),
            tensor: try TensorDescriptor(dtype: .uint8, shape: [0]), timestampNs: 1)
        #expect(mapping.handle(recreated.announce, nowNs: ShmFixture.now()) == .remapped(from: 10, to: 11))
        #expect(mapping.read(seq: 0, epoch: 11).frame != nil)
    }

    @Test(
        "consumers map read-only: the producer is the only writer of its regions",
        .verifies("WIRE-15.14-003"))
    func consumersMapReadOnly() throws {
        let fixture = try ShmFixture()
        let consumer = try fixture.mapConsumer()
        #expect(!consumer.isWritable && !consumer.header.isWritable)
        #expect(consumer.pools.allSatisfy { !$0.region.isWritable })
        #expect(fixture.regions.isWritable)
    }

    @Test(
        "region files are created 0660 and their directories 02770 (configurable, umask ignored)",
        .verifies("WIRE-15.14-008"))
    func permissions() throws {
        let saved = umask(0o077)
        defer { umask(saved) }
        let fixture = try ShmFixture()
        var status = stat()
        #expect(stat(fixture.regions.header.path, &status) == 0 && status.st_mode & 0o7777 == 0o660)
        let directory = (fixture.regions.header.path as NSString).deletingLastPathComponent
        #expect(stat(directory, &status) == 0 && status.st_mode & 0o7777 == 0o2770)
        var options = RegionCreateOptions()
        options.fileMode = 0o600
        options.directoryMode = 0o700
        let privateFixture = try ShmFixture(options: options)
        #expect(stat(privateFixture.regions.header.path, &status) == 0 && status.st_mode & 0o7777 == 0o600)
    }
}
