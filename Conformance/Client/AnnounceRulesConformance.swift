import Aeron
import Agents
import ConformanceSupport
import Foundation
import SBE
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

@testable import TensorPoolClient

/// Wire spec §10.1.1 on the consumer side: announces are soft state, checked for freshness, replay and epoch order.
@Suite("Clients §10.1.1: ShmPoolAnnounce handling", .serialized)
struct AnnounceRulesConformance {
    /// Encodes an announce of `regions` with the given epoch, timestamp and clock domain.
    static func announce(
        _ regions: RegionAnnounce, epoch: UInt64, timestampNs: UInt64, domain: WireSchema.ClockDomain
    ) -> [UInt8] {
        Requests.encode { buffer in
            var encoder = try WireSchema.ShmPoolAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = regions.streamId
            encoder.producerId = 0
            encoder.epoch = epoch
            encoder.announceTimestampNs = timestampNs
            encoder.announceClockDomain = domain
            encoder.layoutVersion = regions.layoutVersion
            encoder.headerNslots = regions.headerNslots
            encoder.headerSlotBytes = regions.headerSlotBytes
            try encoder.payloadPools(count: regions.pools.count) { index, entry in
                entry.poolId = regions.pools[index].poolId
                entry.poolNslots = regions.pools[index].nslots
                entry.strideBytes = regions.pools[index].strideBytes
                try entry.regionUri(regions.pools[index].regionURI)
            }
            try encoder.headerRegionUri(regions.headerRegionURI)
            return 8 + encoder.encodedLength
        }
    }

    @Test(
        "stale, replayed, unknown-domain and lower-epoch announces are discarded; a fresh higher epoch remaps",
        .verifies(
            "WIRE-10.1.1-003", "WIRE-10.1.1-004", "WIRE-10.1.1-005", "WIRE-10.1.1-006", "WIRE-10.1.1-008",
            "WIRE-10.1.1-009", "WIRE-10.1.1-010", "WIRE-15.1-006"))
    func announceRules() throws {
        let pair = try ClientPair()
        // A window no stall of the test reaches: the regions below are created once, and each announce is fresh when
        // sent; the stale ones are stamped outside the window whatever its length.
        pair.freshnessWindow(10_000_000_000)
        let side = try pair.client()
        let consumer = try side.attachConsumer(streamId: 10_000)
        let mapped = consumer.grant.epoch
        // Regions of two later epochs, created where the driver's are, as the driver would.
        let layout = try ShmPathLayout(baseDirectory: pair.driver.harnessDirectory, namespace: "default")
        let now = UInt64(MonotonicClock.now())  // superblock times are CLOCK_MONOTONIC
        let later = try StreamRegions.create(
            layout: layout, streamId: 10_000, epoch: mapped + 10, headerNslots: 8,
            pools: [PoolSpec(poolId: 1, strideBytes: 1024), PoolSpec(poolId: 2, strideBytes: 65_536)], nowNs: now)
        let latest = try StreamRegions.create(
            layout: layout, streamId: 10_000, epoch: mapped + 20, headerNslots: 8,
            pools: [PoolSpec(poolId: 1, strideBytes: 1024), PoolSpec(poolId: 2, strideBytes: 65_536)], nowNs: now)
        defer {
            later.unmap()
            latest.unmap()
        }
        let aeron = try TestMediaDriver.client()
        defer { aeron.close() }
        let publication = try aeron.addPublication(
            channel: pair.context.announceChannel, streamId: pair.context.announceStreamId)
        var ignore = CheckingHandler()
        let announces = try #require(consumer.announces)
        let deadline = hangGuardDeadline()
        /// Sends `message` and pumps until the consumer has read it (and everything before it on the stream).
        func send(_ message: [UInt8]) {
            var position: Int64?
            while position == nil && ContinuousClock.now < deadline {
                if case .success(let end) = message.withUnsafeBytes({ publication.offer($0) }) {
                    position = end
                } else {
                    usleep(100)
                }
            }
            guard let position else {
                Issue.record("the announce could not be sent")
                return
            }
            while !hasRead(announces, sessionId: publication.sessionId, upTo: position)
                && ContinuousClock.now < deadline
            {
                side.doWork()
                _ = consumer.poll(into: &ignore)
                usleep(100)
            }
        }
        let monotonic = { UInt64(MonotonicClock.now()) }
        let window = pair.context.freshnessWindowNs
        var discarded = consumer.staleAnnounces
        // Older than the freshness window.
        send(
            Self.announce(
                later.announce, epoch: mapped + 10, timestampNs: monotonic() - window - 1_000_000_000,
                domain: .monotonic))
        #expect(consumer.staleAnnounces == discarded + 1 && consumer.mapping.state == .mapped(epoch: mapped))
        discarded = consumer.staleAnnounces
        // Stamped before the consumer joined: a replay of the log, although inside the window.
        send(
            Self.announce(later.announce, epoch: mapped + 10, timestampNs: consumer.joinTimeNs - 1, domain: .monotonic))
        #expect(consumer.staleAnnounces == discarded + 1 && consumer.mapping.state == .mapped(epoch: mapped))
        discarded = consumer.staleAnnounces
        // An unknown clock domain is not trusted.
        send(
            Self.announce(
                later.announce, epoch: mapped + 10, timestampNs: monotonic(),
                domain: WireSchema.ClockDomain(rawValue: 7)))
        #expect(consumer.staleAnnounces == discarded + 1 && consumer.mapping.state == .mapped(epoch: mapped))
        // REALTIME_SYNCED: no join-time rule, the window against the realtime clock; a fresh one remaps.
        send(
            Self.announce(
                later.announce, epoch: mapped + 10, timestampNs: UInt64(EpochNanoClock.now()), domain: .realtimeSynced))
        #expect(consumer.mapping.state == .mapped(epoch: mapped + 10) && consumer.highestEpoch == mapped + 10)
        discarded = consumer.staleAnnounces
        // A lower epoch than the highest seen is discarded, even fresh.
        send(Self.announce(later.announce, epoch: mapped + 5, timestampNs: monotonic(), domain: .monotonic))
        #expect(consumer.staleAnnounces > discarded && consumer.mapping.state == .mapped(epoch: mapped + 10))
        // A fresh, higher MONOTONIC announce remaps again and resets state.
        send(Self.announce(latest.announce, epoch: mapped + 20, timestampNs: monotonic(), domain: .monotonic))
        #expect(consumer.mapping.state == .mapped(epoch: mapped + 20))
        consumer.close()
    }
}
