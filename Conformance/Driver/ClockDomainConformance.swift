import Aeron
import Agents
import ConformanceSupport
import DriverConfig
import Foundation
import SBE
import TensorPoolDriver
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

@testable import DriverClient
@testable import TensorPoolClient

/// The clock of every timestamp field this implementation writes: CLOCK_MONOTONIC, as both peer implementations use
/// for superblock times and lease expiries (interop notes in wire spec §7.1 and driver spec §3 and §4.2). Epochs are
/// not timestamps: they stay seeded from the realtime clock, so a restarted driver never reuses one.
///
/// Fields the driver writes are checked exactly, on a ``ManualDriverClock`` whose monotonic time (about 17 minutes
/// after boot) and realtime (2027) are 1.8 × 10^18 ns apart, so any field stamped from the wrong clock differs by
/// that much. Fields a client writes are checked on the real clocks by bracketing: each must lie between two readings
/// of `MonotonicClock` taken around the write, which a realtime value never does. Those brackets hold on any machine
/// speed; nothing here measures how long something took.
@Suite("Clock domains: every timestamp field on CLOCK_MONOTONIC")
struct ClockDomainConformance {
    /// The manual clock's monotonic start: 10^12 ns, about 17 minutes after boot.
    static let monotonicStart: UInt64 = 1_000_000_000_000
    /// The manual clock's realtime start: 1.8 × 10^18 ns since 1970 (2027).
    static let realtimeStart: UInt64 = 1_800_000_000_000_000_000

    @Test(
        "superblock start and activity (header ring and every pool), lease expiry, keepalive, revocation, shutdown, announce and DataSourceMeta timestamps are CLOCK_MONOTONIC; epochs stay realtime-seeded",
        .verifies("WIRE-10.1.1-011", "DRV-3-011", "DRV-4.4-002"))
    func everyTimestampField() throws {
        try driverFieldsOnManualClock()
        try driverAndClientFieldsOnRealClocks()
        try dataSourceMetaTimestamp()
    }

    /// Driver-written fields, exactly, with a manual clock.
    func driverFieldsOnManualClock() throws {
        let clock = ManualDriverClock()
        clock.monotonic = Self.monotonicStart
        clock.realtime = Self.realtimeStart
        let harness = try DriverHarness(clock: clock)  // lease: 100 ms keepalive × 3 = 300 ms
        clock.monotonic += 5_000_000  // the producer attaches later than the driver started
        let attachedAt = clock.monotonic
        let response = harness.attach(client: 7, role: .producer)  // provisions a new epoch now
        #expect(response.code == .ok)
        let epoch = try #require(response.epoch)
        #expect(epoch >= Self.realtimeStart, "epochs stay seeded from the realtime clock: \(epoch)")
        #expect(
            response.leaseExpiryTimestampNs == attachedAt + 300_000_000,
            "leaseExpiryTimestampNs is the driver's monotonic deadline")

        let regions = try StreamRegions.map(
            response.announce, policy: try PathPolicy(allowedBaseDirectories: [harness.directory]))
        defer { regions.unmap() }
        let mapped = [("header.ring", regions.header)] + regions.pools.map { ("\($0.poolId).pool", $0.region) }
        #expect(mapped.count == 3)
        for (name, region) in mapped {
            let superblock = try Superblock(decoding: region.bytes)
            #expect(superblock.epoch == epoch, "\(name)")
            #expect(superblock.startTimestampNs == attachedAt, "\(name): start_timestamp_ns")
            #expect(superblock.activityTimestampNs == attachedAt, "\(name): activity_timestamp_ns")
        }
        #expect(try Self.lastAnnounce(harness) == .init(timestampNs: attachedAt, domain: .monotonic, epoch: epoch))

        // The next announce refreshes every region's activity with the same monotonic reading; start stays.
        clock.advance(ms: 150)
        harness.core.doWork()
        let refreshedAt = clock.monotonic
        for (name, region) in mapped {
            let superblock = try Superblock(decoding: region.bytes)
            #expect(superblock.startTimestampNs == attachedAt, "\(name): start_timestamp_ns is written once")
            #expect(superblock.activityTimestampNs == refreshedAt, "\(name): refreshed activity_timestamp_ns")
        }
        #expect(try Self.lastAnnounce(harness) == .init(timestampNs: refreshedAt, domain: .monotonic, epoch: epoch))

        // No keepalive: the lease expires, and the revocation is stamped on the monotonic clock.
        clock.advance(ms: 200)
        let sent = harness.output.control.count
        harness.core.doWork()
        let revokedAt = clock.monotonic
        let revocations = harness.output.control[sent...].compactMap { bytes in
            bytes.withUnsafeBytes { try? DriverSchema.ShmLeaseRevokedDecoder(decodingHeaderOf: $0) }
        }
        #expect(revocations.map(\.leaseId) == [response.leaseId].compactMap { $0 })
        #expect(revocations.map(\.timestampNs) == [revokedAt], "ShmLeaseRevoked.timestampNs")

        // An orderly shutdown: ShmDriverShutdown goes out after the 200 ms drain, stamped when it is sent.
        harness.send(Requests.shutdown(token: "secret", reason: .normal))
        clock.advance(ms: 250)
        let before = harness.output.control.count
        harness.core.doWork()
        let shutdownAt = clock.monotonic
        let notices = harness.output.control[before...].compactMap { bytes in
            bytes.withUnsafeBytes { try? DriverSchema.ShmDriverShutdownDecoder(decodingHeaderOf: $0) }
        }
        #expect(notices.map(\.timestampNs) == [shutdownAt], "ShmDriverShutdown.timestampNs")
    }

    /// A running driver on the system clocks and a `DriverClient`: the driver's fields and the client's keepalive
    /// stamp and expiry comparison, bracketed by monotonic readings.
    func driverAndClientFieldsOnRealClocks() throws {
        let before = Self.monotonicNow()  // before the driver provisions anything
        let driver = try RunningDriver()
        let aeron = try TestMediaDriver.client()
        defer { aeron.close() }
        let control = try aeron.addSubscription(
            channel: driver.configuration.driver.controlChannel, streamId: driver.controlStream)
        let announces = try driver.announceSubscription(on: aeron)
        var options = DriverClient.Options()
        options.keepaliveIntervalNs = 3_600_000_000_000  // an hour: only the lease window can shorten it
        options.attemptTimeoutNs = TestTiming.attachAttemptTimeoutNs
        let client = try driver.client(options: options)
        let grant = try client.attach(streamId: 10_000, role: .producer, timeout: TestTiming.hangGuard)
        let attached = Self.monotonicNow()

        // Lease expiry: the driver's monotonic deadline, and the client compares it with its monotonic clock (a
        // realtime comparison would find the deadline long past and never shorten the keepalive interval).
        let policies = driver.configuration.policies
        let grace = UInt64(policies.leaseKeepaliveIntervalMs) * UInt64(policies.leaseExpiryGraceIntervals) * 1_000_000
        let expiry = try #require(grant.leaseExpiryTimestampNs)
        #expect(expiry >= before + grace && expiry <= attached + grace, "leaseExpiryTimestampNs \(expiry)")
        #expect(
            client.keepaliveIntervalNs >= (expiry - attached) / 3
                && client.keepaliveIntervalNs <= (expiry - before) / 3,
            "keepalives every third of the lease window: \(client.keepaliveIntervalNs) ns")

        // Superblocks of the producer's new epoch.
        let regions = try StreamRegions.map(
            grant.regions, policy: try PathPolicy(allowedBaseDirectories: [driver.harnessDirectory]))
        defer { regions.unmap() }
        let superblocks = try ([regions.header] + regions.pools.map(\.region)).map {
            try Superblock(decoding: $0.bytes)
        }
        let readBy = Self.monotonicNow()  // after the reads: the driver may refresh activity meanwhile
        #expect(superblocks.count == 3)
        for superblock in superblocks {
            #expect(superblock.epoch == grant.epoch)
            #expect((before...attached).contains(superblock.startTimestampNs), "start_timestamp_ns")
            #expect((before...readBy).contains(superblock.activityTimestampNs), "activity_timestamp_ns")
        }

        // The announce of that epoch.
        var announce: AnnounceStamp?
        #expect(
            waitFor(timeout: TestTiming.hangGuard) {
                _ = announces.poll(fragmentLimit: 100) { buffer, _ in
                    guard let stamp = Self.announceStamp(buffer), stamp.epoch == grant.epoch else { return }
                    announce = stamp
                }
                return announce != nil
            }, "an announce of the producer's epoch")
        let announcedBy = Self.monotonicNow()
        #expect(announce?.domain == .monotonic)
        #expect(announce.map { (before...announcedBy).contains($0.timestampNs) } == true, "announce_timestamp_ns")

        // The client's keepalive (the first may go out as the grant arrives): clientTimestampNs on the monotonic clock.
        var stamp: UInt64?
        #expect(
            waitFor(timeout: TestTiming.hangGuard) {
                client.sendKeepalives()
                _ = control.poll(fragmentLimit: 100) { buffer, _ in
                    guard let header = try? MessageHeader(decoding: buffer, at: 0), header.schemaId == DriverSchema.id,
                        header.templateId == DriverSchema.ShmLeaseKeepaliveDecoder.templateId,
                        let keepalive = try? DriverSchema.ShmLeaseKeepaliveDecoder(decodingHeaderOf: buffer),
                        keepalive.leaseId == grant.leaseId
                    else { return }
                    stamp = keepalive.clientTimestampNs
                }
                return stamp != nil
            }, "a keepalive of the lease on the control stream")
        let sent = Self.monotonicNow()
        #expect(stamp.map { (before...sent).contains($0) } == true, "clientTimestampNs \(stamp ?? 0)")
        _ = try? client.detach(grant, timeout: TestTiming.hangGuard)
        client.close()
    }

    /// A producer's `DataSourceMeta`: `timestampNs` between the readings around the send.
    func dataSourceMetaTimestamp() throws {
        let aeron = try TestMediaDriver.client()
        defer { aeron.close() }
        let streamId = TestMediaDriver.uniqueStreamId()
        let publication = try aeron.addPublication(channel: "aeron:ipc", streamId: streamId)
        let tap = try aeron.addSubscription(channel: "aeron:ipc", streamId: streamId)
        let metadata = MetadataPublisher(
            streamId: 10_000, producerId: 7, epoch: 1, publication: publication, intervalNs: 0)
        defer { metadata.close() }
        metadata.set(MetadataAttribute(key: "camera", text: "left"))
        let sending = Self.monotonicNow()
        var stamp: UInt64?
        #expect(
            waitFor(timeout: TestTiming.hangGuard) {
                _ = metadata.doWork(now: 0)  // sends DataSourceMeta while the change is unsent
                _ = tap.poll(fragmentLimit: 100) { buffer, _ in
                    guard let header = try? MessageHeader(decoding: buffer, at: 0), header.schemaId == WireSchema.id,
                        header.templateId == WireSchema.DataSourceMetaDecoder.templateId,
                        let meta = try? WireSchema.DataSourceMetaDecoder(decodingHeaderOf: buffer)
                    else { return }
                    stamp = meta.timestampNs
                }
                return stamp != nil
            }, "DataSourceMeta on the metadata stream")
        let sent = Self.monotonicNow()
        #expect(stamp.map { (sending...sent).contains($0) } == true, "DataSourceMeta.timestampNs \(stamp ?? 0)")
    }

    // MARK: Helpers

    /// The clock of every timestamp: CLOCK_MONOTONIC.
    static func monotonicNow() -> UInt64 { UInt64(MonotonicClock.now()) }

    /// The time fields of one `ShmPoolAnnounce`.
    struct AnnounceStamp: Equatable {
        var timestampNs: UInt64
        var domain: WireSchema.ClockDomain
        var epoch: UInt64
    }

    static func announceStamp(_ buffer: UnsafeRawBufferPointer) -> AnnounceStamp? {
        guard let header = try? MessageHeader(decoding: buffer, at: 0), header.schemaId == WireSchema.id,
            header.templateId == WireSchema.ShmPoolAnnounceDecoder.templateId,
            let decoder = try? WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer)
        else { return nil }
        return AnnounceStamp(
            timestampNs: decoder.announceTimestampNs, domain: decoder.announceClockDomain, epoch: decoder.epoch)
    }

    /// The time fields of the last announce `harness` sent.
    static func lastAnnounce(_ harness: DriverHarness) throws -> AnnounceStamp {
        let bytes = try #require(harness.output.announces.last)
        return try #require(bytes.withUnsafeBytes { announceStamp($0) })
    }
}
