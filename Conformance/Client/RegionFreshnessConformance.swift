import Aeron
import Agents
import ConformanceSupport
import DriverConfig
import Foundation
import Logging
import TensorPoolClient
import TensorPoolDriver
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

/// A driver agent that refreshes nothing by itself while a case runs: its announce period (the cadence of its
/// announces, and of the activity refresh that goes with each) is an hour or more, so it announces, and stamps its
/// regions, only when a producer attaches. Its first duty cycle, which may announce, runs before the constructor
/// returns, so a case can then make the regions stale and know they stay so until a producer comes.
///
/// With `lateClock` the driver runs on ``LateDriverClock``: every region it creates is stale.
final class QuietDriver {
    let directory: String
    let context: TensorPoolContext
    let runner: AgentRunner<DriverAgent, BackoffIdleStrategy>
    static let streamId: UInt32 = 10_000

    init(lateClock: Bool = false) throws {
        let clock: any DriverClock = lateClock ? LateDriverClock() : SystemDriverClock()
        directory = "/dev/shm/tp-conf-fresh-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let control = TestMediaDriver.uniqueStreamId()
        let announce = TestMediaDriver.uniqueStreamId()
        // The driver announces when a period has passed since its last announce (none yet: time 0). With an hour of
        // uptime the first duty cycle announces and the next is an hour later; with less, the first is at two hours
        // of uptime, more than an hour away. Either way nothing is announced while a case runs but on an attach.
        let periodMs: UInt64 = clock.monotonicNs() / 1_000_000 >= 3_600_000 ? 3_600_000 : 7_200_000
        let configuration = try DriverConfiguration.parse(
            """
            [driver]
            instance_id = "fresh"
            control_stream_id = \(control)
            announce_stream_id = \(announce)
            [shm]
            base_dir = "\(directory)"
            [policies]
            announce_period_ms = \(periodMs)
            \(TestTiming.leasePolicies)
            [profiles.small]
            header_nslots = 16
            payload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]
            [streams.main]
            stream_id = \(Self.streamId)
            profile = "small"
            """)
        var logger = Logger(label: "conformance.quiet-driver")
        logger.logLevel = .critical
        let agent = try DriverAgent(
            configuration: configuration, client: try TestMediaDriver.client(), clock: clock, logger: logger)
        _ = try agent.doWork()  // the first duty cycle, on this thread, before any case touches the regions
        runner = AgentRunner(agent: agent, idleStrategy: BackoffIdleStrategy(), errorHandler: { _ in })
        runner.start()
        var context = TensorPoolContext()
        context.controlStreamId = control
        context.announceStreamId = announce
        context.announcePeriodNs = periodMs * 1_000_000
        context.descriptorStreamId = TestMediaDriver.uniqueStreamId()
        context.qosStreamId = TestMediaDriver.uniqueStreamId()
        context.metadataStreamId = TestMediaDriver.uniqueStreamId()
        context.allowedBaseDirectories = [directory]
        context.driverOptions.keepaliveIntervalNs = TestTiming.clientKeepaliveIntervalNs
        context.driverOptions.attemptTimeoutNs = TestTiming.attachAttemptTimeoutNs
        context.attachTimeout = TestTiming.hangGuard  // a hang guard: attaches end when the driver answers
        self.context = context
    }

    deinit {
        _ = runner.close(timeout: TestTiming.hangGuard)
        try? FileManager.default.removeItem(atPath: directory)
    }

    func client(_ context: TensorPoolContext? = nil) throws -> TensorPoolClient {
        try TensorPoolClient(context: context ?? self.context, aeron: try TestMediaDriver.client())
    }

    /// The region files (header ring and pools) of `epoch`, or of every epoch on disk.
    func regionFiles(epoch: UInt64? = nil) -> [String] {
        let all = (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String]) ?? []
        return
            all
            .filter { $0.hasSuffix("/header.ring") || $0.hasSuffix(".pool") }
            .filter { path in epoch.map { path.contains("/\($0)/") } ?? true }
            .map { directory + "/" + $0 }
            .sorted()
    }

    /// Writes `activityNs` into the superblock of every region file of `epoch` (every epoch when nil): what a
    /// producer's refresh does, or, with an old value, what a driver that never refreshes leaves behind.
    @discardableResult
    func stamp(_ activityNs: UInt64, epoch: UInt64? = nil) -> Int {
        let files = regionFiles(epoch: epoch)
        for path in files { Self.writeActivity(activityNs, to: path) }
        return files.count
    }

    /// A timestamp ten freshness windows in the past (CLOCK_MONOTONIC), at least 1 (0 would mean "never refreshed").
    static func staleTimestamp(window: UInt64) -> UInt64 {
        let now = UInt64(MonotonicClock.now())
        return now > window &* 10 ? now - window &* 10 : 1
    }

    static func writeActivity(_ value: UInt64, to path: String) {
        let fd = open(path, O_RDWR)
        precondition(fd >= 0, "cannot open \(path)")
        defer { close(fd) }
        var little = value.littleEndian
        let written = withUnsafeBytes(of: &little) {
            pwrite(fd, $0.baseAddress, 8, off_t(ShmLayout.activityTimestampOffset))
        }
        precondition(written == 8, "cannot write \(path)")
    }

    /// The superblock of a region file as it is now.
    static func superblock(at path: String) throws -> Superblock {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CocoaError(.fileNoSuchFile) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: ShmLayout.superblockSize)
        let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, ShmLayout.superblockSize, 0) }
        guard count == ShmLayout.superblockSize else { throw CocoaError(.fileReadCorruptFile) }
        return try bytes.withUnsafeBytes { try Superblock(decoding: $0) }
    }
}

/// A driver clock a minute behind the system's monotonic clock: every superblock it stamps is stale on arrival (its
/// leases, announces and deadlines all run on the same late clock, so they work among themselves).
final class LateDriverClock: DriverClock {
    static let lagNs: UInt64 = 60_000_000_000
    func monotonicNs() -> UInt64 {
        let now = UInt64(MonotonicClock.now())
        return now > Self.lagNs ? now - Self.lagNs : 1
    }
    func epochClockNs() -> UInt64 { UInt64(EpochNanoClock.now()) }
}

/// Wire spec §15.1 and §15.14, driver spec §3: who keeps `activity_timestamp_ns` fresh, on which clock, and what a
/// client does with a region that is not.
@Suite("Clients §15.14: activity refresh and stale regions", .serialized)
struct RegionFreshnessConformance {
    /// Drives `clients` (and `consumer` into `handler`) until `condition` holds; false only on a hang.
    static func pump(
        _ clients: [TensorPoolClient], consumer: Consumer? = nil, handler: inout CheckingHandler,
        every step: () -> Void = {}, until condition: (_ handler: CheckingHandler) -> Bool
    ) -> Bool {
        let deadline = hangGuardDeadline()
        while !condition(handler) {
            if ContinuousClock.now >= deadline { return false }
            for client in clients { client.doWork() }
            if let consumer { _ = consumer.poll(into: &handler) }
            step()
            usleep(500)
        }
        return true
    }

    @Test(
        "a producer stores CLOCK_MONOTONIC in activity_timestamp_ns of its header ring and every pool at its refresh interval, while its driver refreshes nothing",
        .verifies("WIRE-15.14-001", "DRV-3-011"))
    func producerRefreshesActivity() throws {
        let driver = try QuietDriver()
        let client = try driver.client()
        var options = ProducerOptions()
        options.activityRefreshIntervalNs = 100_000_000
        let before = UInt64(MonotonicClock.now())
        let producer = try client.attachProducer(streamId: QuietDriver.streamId, options: options)
        let files = driver.regionFiles(epoch: producer.epoch)
        #expect(files.count == 2, "\(files)")  // the header ring and pool 1
        // Every distinct value each region shows, until each showed four: at most one of them can be the driver's
        // (it stamps on the attach's announce only), so three at least are the producer's periodic refreshes.
        var seen: [String: [UInt64]] = [:]
        var handler = CheckingHandler()
        let done = Self.pump([client], handler: &handler) {
            for path in files {
                guard let value = try? QuietDriver.superblock(at: path).activityTimestampNs else { continue }
                if seen[path]?.last != value { seen[path, default: []].append(value) }
            }
        } until: { _ in
            files.allSatisfy { (seen[$0]?.count ?? 0) >= 4 }
        }
        let after = UInt64(MonotonicClock.now())
        #expect(done, "activity timestamps seen: \(seen)")
        for path in files {
            let values = seen[path] ?? []
            // On the monotonic clock: between the readings taken before the attach and after the last sample (a
            // realtime stamp would be about 1.8 × 10^18, far above `after`).
            #expect(
                values.allSatisfy { $0 >= before && $0 <= after }, "\(path): \(values) not in [\(before), \(after)]")
            #expect(values.last! > values.first!, "\(path): \(values)")
        }
        #expect(producer.activityRefreshes >= 4)
        producer.close()
        client.close()
    }

    @Test(
        "a producer maps the stale regions its driver granted (a driver that leaves the refresh to it) and makes them fresh",
        .verifies("DRV-3-011", "WIRE-15.14-001"))
    func producerMapsItsOwnStaleRegion() throws {
        // The driver's clock is a minute late: every region it creates, and every stamp it writes, is stale.
        let driver = try QuietDriver(lateClock: true)
        let window = driver.context.freshnessWindowNs
        let client = try driver.client()
        let producer = try client.attachProducer(streamId: QuietDriver.streamId)
        #expect(producer.isActive)
        let files = driver.regionFiles(epoch: producer.epoch)
        #expect(files.count == 2, "\(files)")
        // Created stale, so only the producer's refreshes (at attach, then every second) can make them fresh.
        let superblocks = try files.map { try QuietDriver.superblock(at: $0) }
        #expect(superblocks.allSatisfy { $0.startTimestampNs < UInt64(MonotonicClock.now()) - window })
        var handler = CheckingHandler()
        let fresh = Self.pump([client], handler: &handler) { _ in
            let now = UInt64(MonotonicClock.now())
            return files.allSatisfy { path in
                guard let activity = try? QuietDriver.superblock(at: path).activityTimestampNs else { return false }
                return !Superblock.isStale(activityTimestampNs: activity, nowNs: now, windowNs: window)
            }
        }
        #expect(fresh)
        // Frames go into the regions as usual.
        let outcomes = try publishPattern(producer, count: 4)
        #expect(outcomes.count == 4 && producer.sequence == 4)
        producer.close()
        client.close()
    }

    @Test(
        "a consumer granted stale regions does not map them and does not fail: it waits, and maps the epoch a producer's arrival announces, then receives every frame",
        .verifies("WIRE-15.1-005"))
    func consumerWaitsThenMapsAnnouncedEpoch() throws {
        let driver = try QuietDriver()
        let window = driver.context.freshnessWindowNs
        let stale = QuietDriver.staleTimestamp(window: window)
        #expect(driver.stamp(stale) == 2)
        let consumerSide = try driver.client()
        let consumer = try consumerSide.attachConsumer(streamId: QuietDriver.streamId)  // the blocking attach
        #expect(consumer.state == .awaitingFreshRegion && consumer.isActive && consumer.failure == nil)
        #expect(consumer.mapping.reader == nil)
        let found = try #require(consumer.staleRegion)
        #expect(found.field == "activity_timestamp_ns" && found.activityTimestampNs == stale)
        #expect(found.windowNs == window && found.nowNs > stale && found.nowNs - stale > window)
        #expect(found.path.hasPrefix(driver.directory))
        // A producer arrives: the driver provisions a new epoch for it and announces it.
        let producerSide = try driver.client()
        let producer = try producerSide.attachProducer(streamId: QuietDriver.streamId)
        var handler = CheckingHandler()
        try #require(
            Self.pump([producerSide, consumerSide], consumer: consumer, handler: &handler) { _ in
                consumer.state == .mapped(epoch: producer.epoch) && producer.hasSubscribers
            })
        #expect(handler.states.last == .mapped(epoch: producer.epoch), "\(handler.states)")
        #expect(consumer.staleRegion == nil && consumer.failure == nil)
        // Each frame goes out once the one before arrived: none can be overwritten unread, so every one arrives.
        for seq in UInt64(0)..<20 {
            let outcome = try publishPattern(producer, count: 1)
            #expect(outcome == [.published(seq: seq)])
            try #require(
                Self.pump([producerSide, consumerSide], consumer: consumer, handler: &handler) {
                    $0.seqs.last == seq
                }, "frame \(seq) never arrived")
        }
        #expect(handler.seqs == Array(0..<20) && handler.corrupt == 0 && handler.overwritten == 0)
        consumer.close()
        producer.close()
        consumerSide.close()
        producerSide.close()
    }

    @Test(
        "a consumer waiting on stale regions checks the same regions again on a backoff timer and maps them once a refresh makes them fresh",
        .verifies("WIRE-15.1-005"))
    func consumerMapsRegionRefreshedInPlace() throws {
        let driver = try QuietDriver()
        let window = driver.context.freshnessWindowNs
        #expect(driver.stamp(QuietDriver.staleTimestamp(window: window)) == 2)
        let consumerSide = try driver.client()
        let pending = consumerSide.beginAttachConsumer(streamId: QuietDriver.streamId)  // the non-blocking attach
        var handler = CheckingHandler()
        try #require(
            Self.pump([consumerSide], handler: &handler) { _ in
                _ = try? pending.poll()  // the non-blocking attach advances only when polled
                return pending.handle != nil || pending.failure != nil
            })
        let waiting = try #require(try pending.poll())
        #expect(waiting.state == .awaitingFreshRegion)
        let epoch = waiting.grant.epoch
        // Nothing announces (no producer, a quiet driver): the refresh, as a peer's producer would do it, is all.
        let mapped = Self.pump([consumerSide], consumer: waiting, handler: &handler) {
            driver.stamp(UInt64(MonotonicClock.now()), epoch: epoch)
        } until: { _ in
            waiting.state == .mapped(epoch: epoch)
        }
        #expect(mapped, "state \(waiting.state), stale \(String(describing: waiting.staleRegion))")
        #expect(handler.states.last == .mapped(epoch: epoch), "\(handler.states)")
        #expect(waiting.freshnessChecks >= 1 && waiting.staleRegion == nil && waiting.isActive)
        waiting.close()
        consumerSide.close()
    }

    @Test(
        "a consumer whose regions never become fresh fails after its timeout with a typed error naming the field and both values, and detaches its lease",
        .verifies("WIRE-15.1-005"))
    func consumerFailsAfterStaleTimeout() throws {
        let driver = try QuietDriver()
        var context = driver.context
        context.staleRegionTimeoutNs = 300_000_000
        let window = context.freshnessWindowNs
        let stale = QuietDriver.staleTimestamp(window: window)
        #expect(driver.stamp(stale) == 2)
        let tapClient = try TestMediaDriver.client()
        let controlTap = try tapClient.addSubscription(
            channel: context.controlChannel, streamId: context.controlStreamId)
        let consumerSide = try driver.client(context)
        let pending = consumerSide.beginAttachConsumer(streamId: QuietDriver.streamId)
        var handler = CheckingHandler()
        try #require(
            Self.pump([consumerSide], handler: &handler) { _ in
                _ = try? pending.poll()  // the non-blocking attach advances only when polled
                return pending.handle != nil || pending.failure != nil
            })
        let consumer = try #require(try pending.poll())
        #expect(consumer.state == .awaitingFreshRegion)
        try #require(
            Self.pump([consumerSide], consumer: consumer, handler: &handler) { $0.states.contains(.failed) })
        #expect(consumer.state == .failed && !consumer.isActive && consumer.mapping.reader == nil)
        let failure = try #require(consumer.failure)
        guard case .staleRegion(let field, let activity, let now, let failedWindow) = failure else {
            Issue.record("expected .staleRegion, got \(failure)")
            return
        }
        #expect(field == "activity_timestamp_ns" && activity == stale && failedWindow == window)
        #expect(now > activity && now - activity > window)
        let text = "\(failure)"
        #expect(
            text.contains("activity_timestamp_ns") && text.contains("\(stale)") && text.contains("\(now)"), "\(text)")
        // Not before its timeout (a lower bound, true however slow the machine).
        #expect((consumer.staleRegion?.waitedNs ?? 0) >= context.staleRegionTimeoutNs)
        // It stops trying: its lease is detached.
        var detached = false
        #expect(
            waitFor(timeout: TestTiming.hangGuard) {
                _ = controlTap.poll(fragmentLimit: 16) { buffer, _ in
                    if let request = try? DriverSchema.ShmDetachRequestDecoder(decodingHeaderOf: buffer),
                        request.leaseId == consumer.grant.leaseId
                    {
                        detached = true
                    }
                }
                return detached
            })
        let checksAtFailure = consumer.freshnessChecks
        for _ in 0..<10 { consumerSide.doWork() }
        #expect(consumer.freshnessChecks == checksAtFailure)
        // A timeout of 0 gives up at once: the blocking attach throws the same error.
        context.staleRegionTimeoutNs = 0
        let impatient = try driver.client(context)
        do {
            _ = try impatient.attachConsumer(streamId: QuietDriver.streamId)
            Issue.record("an attach to stale regions with a timeout of 0 returned")
        } catch {
            guard case .staleRegion(let field, let activity, _, _) = error else {
                Issue.record("expected .staleRegion, got \(error)")
                return
            }
            #expect(field == "activity_timestamp_ns" && activity == stale)
        }
        consumer.close()
        consumerSide.close()
        impatient.close()
    }
}
