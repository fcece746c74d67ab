import Logging
public import TensorPoolSHM

/// A region whose liveness field was too old to map: which region, which field, and the values compared.
///
/// Every value is CLOCK_MONOTONIC nanoseconds (since boot), the clock both peer implementations stamp superblocks
/// with. A timestamp on another clock (CLOCK_REALTIME, about 1.8 × 10^18) shows here as it is, so a region stamped on
/// the wrong clock can be recognised from the message.
public struct StaleRegion: Hashable, Sendable, CustomStringConvertible {
    /// The region file.
    public var path: String
    /// The superblock field found stale: `activity_timestamp_ns`.
    public var field: String
    /// The value of ``field`` in the superblock.
    public var activityTimestampNs: UInt64
    /// The local time it was compared with.
    public var nowNs: UInt64
    /// The freshness window (``TensorPoolContext/freshnessWindowNs``).
    public var windowNs: UInt64
    /// How long the consumer had been waiting for a fresh region when it gave up (0 before).
    public var waitedNs: UInt64

    /// A stale region of the given values.
    public init(
        path: String, field: String = "activity_timestamp_ns", activityTimestampNs: UInt64, nowNs: UInt64,
        windowNs: UInt64, waitedNs: UInt64 = 0
    ) {
        self.path = path
        self.field = field
        self.activityTimestampNs = activityTimestampNs
        self.nowNs = nowNs
        self.windowNs = windowNs
        self.waitedNs = waitedNs
    }

    /// The stale region a mapping failure reports, if it failed for staleness.
    init?(_ error: RegionError) {
        guard case .superblock(let path, .stale(let activity, let now, let window)) = error else { return nil }
        self.init(path: path, activityTimestampNs: activity, nowNs: now, windowNs: window)
    }

    /// The error a consumer fails with.
    public var error: TensorPoolClientError {
        .staleRegion(field: field, activityTimestampNs: activityTimestampNs, nowNs: nowNs, windowNs: windowNs)
    }

    /// One line naming the region, the field and both values.
    public var description: String {
        let age =
            nowNs >= activityTimestampNs
            ? "\(nowNs - activityTimestampNs) ns old"
            : "\(activityTimestampNs - nowNs) ns ahead: not this host's monotonic clock"
        var text =
            "\(field) \(activityTimestampNs) of \(path) is stale at \(nowNs) (CLOCK_MONOTONIC ns; \(age), "
            + "freshness window \(windowNs) ns)"
        if waitedNs > 0 { text += "; waited \(waitedNs) ns for it to become fresh" }
        return text
    }
}

extension Consumer {
    /// The first backoff of the stale-region check, doubled after each stale finding up to ``lastFreshCheckNs``.
    static let firstFreshCheckNs: UInt64 = 50_000_000
    /// The longest backoff of the stale-region check.
    static let lastFreshCheckNs: UInt64 = 1_000_000_000

    /// A mapping attempt failed: stale regions start or continue the wait (the backoff doubles); anything else ends
    /// it (the consumer is simply unmapped, ``ConsumerMapping/failure`` says why).
    func noteRejected(_ error: RegionError, now: UInt64) {
        guard let stale = StaleRegion(error) else {
            endFreshWait()
            return
        }
        if awaitingFreshSinceNs == nil {
            awaitingFreshSinceNs = now
            freshCheckBackoffNs = Self.firstFreshCheckNs
            logger.warning("regions stale: waiting for a fresh one", metadata: ["stale": "\(stale)"])
        } else {
            freshCheckBackoffNs = min(max(freshCheckBackoffNs &* 2, Self.firstFreshCheckNs), Self.lastFreshCheckNs)
        }
        staleRegion = stale
        nextFreshCheckNs = now &+ freshCheckBackoffNs
    }

    /// The wait ended (mapped, other regions, fallback, lease ended).
    func endFreshWait() {
        awaitingFreshSinceNs = nil
        staleRegion = nil
    }

    /// From the duty cycle, while waiting for a fresh region: fails after the timeout, else checks the same regions
    /// again when the backoff timer is due. Allocates nothing while nothing is due.
    func checkFreshRegion(now: UInt64) -> Int {
        guard let since = awaitingFreshSinceNs else { return 0 }
        if fallback != nil || mapping.reader != nil {
            endFreshWait()  // told not to use SHM, or mapped meanwhile: the wait is over
            return 0
        }
        if now > since, now - since >= client.context.staleRegionTimeoutNs {
            failStale(now: now, waitedNs: now - since)
            return 1
        }
        guard now >= nextFreshCheckNs, !remapPending, reattach == nil else { return 0 }
        freshnessChecks &+= 1
        if mapLastAnnounce() != nil { stateReportPending = true }
        return 1
    }

    /// Gives up on a region that stayed stale for ``TensorPoolContext/staleRegionTimeoutNs``: the consumer fails
    /// with ``TensorPoolClientError/staleRegion(field:activityTimestampNs:nowNs:windowNs:)``, detaches its lease
    /// without waiting, and stops.
    func failStale(now: UInt64, waitedNs: UInt64) {
        var stale =
            staleRegion
            ?? StaleRegion(path: lastAnnounce.headerRegionURI, activityTimestampNs: 0, nowNs: now, windowNs: 0)
        stale.waitedNs = waitedNs
        staleRegion = stale
        failure = stale.error
        awaitingFreshSinceNs = nil
        logger.error("regions stayed stale: giving up", metadata: ["stale": "\(stale)"])
        reattach?.cancel()
        reattach = nil
        if isActive { _ = client.driver.detachWithoutWaiting(grant) }
        isActive = false
        stateReportPending = true
    }
}
