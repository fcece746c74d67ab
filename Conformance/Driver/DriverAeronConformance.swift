import Aeron
import Agents
import ConformanceSupport
import DriverClient
import DriverConfig
import Foundation
import Logging
import TensorPoolDriver
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

/// A driver agent on its own thread over the shared embedded media driver, on control stream `controlStream`.
final class RunningDriver {
    let harnessDirectory: String
    let controlStream: Int32
    let announceStream: Int32
    let aeron: AeronClient
    let runner: AgentRunner<DriverAgent, BackoffIdleStrategy>
    let configuration: DriverConfiguration

    /// A driver on unique streams; `oneStream` announces on its control stream (wire spec §15.11-005).
    init(extraPolicies: String = "", oneStream: Bool = false) throws {
        harnessDirectory = "/dev/shm/tp-conf-drv-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: harnessDirectory, withIntermediateDirectories: true)
        controlStream = TestMediaDriver.uniqueStreamId()
        announceStream = oneStream ? controlStream : TestMediaDriver.uniqueStreamId()
        var toml = DriverHarness.toml(
            directory: harnessDirectory, extra: extraPolicies, leasePolicies: TestTiming.leasePolicies)
        toml = toml.replacingOccurrences(
            of: "[driver]\n",
            with: "[driver]\ncontrol_stream_id = \(controlStream)\nannounce_stream_id = \(announceStream)\n")
        configuration = try DriverConfiguration.parse(toml)
        aeron = try TestMediaDriver.client()
        var logger = Logger(label: "conformance.driver")
        logger.logLevel = .critical
        let agent = try DriverAgent(configuration: configuration, client: aeron, logger: logger)
        runner = AgentRunner(agent: agent, idleStrategy: BackoffIdleStrategy(), errorHandler: { _ in })
        runner.start()
    }

    deinit {
        _ = runner.close(timeout: TestTiming.hangGuard)
        aeron.close()
        try? FileManager.default.removeItem(atPath: harnessDirectory)
    }

    /// A driver client on a client of its own.
    func client(clientId: UInt32 = 0, options: DriverClient.Options = .init()) throws -> DriverClient {
        try DriverClient(
            aeron: try TestMediaDriver.client(), controlChannel: configuration.driver.controlChannel,
            controlStreamId: controlStream, clientId: clientId, options: options)
    }

    /// Subscribes to the announce stream.
    func announceSubscription(on aeron: AeronClient) throws -> Subscription {
        try aeron.addSubscription(channel: configuration.driver.announceChannel, streamId: announceStream)
    }
}

/// Collects `ShmPoolAnnounce` messages.
func pollAnnounces(_ subscription: Subscription) -> [RegionAnnounce] {
    var announces: [RegionAnnounce] = []
    _ = subscription.poll(fragmentLimit: 100) { buffer, _ in
        if let decoder = try? WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer) {
            announces.append(RegionAnnounce(decoder))
        }
    }
    return announces
}

/// Polls the driver's control stream and returns the lease revocations on it, as (lease, reason).
func pollRevocations(_ subscription: Subscription) -> [(leaseId: UInt64, reason: DriverSchema.LeaseRevokeReason)] {
    var revocations: [(leaseId: UInt64, reason: DriverSchema.LeaseRevokeReason)] = []
    _ = subscription.poll(fragmentLimit: 100) { buffer, _ in
        if case .revoked(let leaseId, _, _, _, let reason) = decodeDriverMessage(Array(buffer)) {
            revocations.append((leaseId, reason))
        }
    }
    return revocations
}

/// Offers `message` on `publication` until it is accepted or the hang guard passes; returns whether it was sent.
func offerUntilSent(_ message: [UInt8], on publication: Publication) -> Bool {
    waitFor(timeout: TestTiming.hangGuard) {
        if case .success = message.withUnsafeBytes({ publication.offer($0) }) { return true }
        return false
    }
}

/// Driver spec §4 over real Aeron: the driver agent and the driver client, on an embedded media driver.
///
/// The driver runs on the real clock with 5 s leases (``TestTiming/leasePolicies``); every wait ends when what it
/// waits for happens, under the hang guard. Timing bounds (a lease lasts exactly its grace) are
/// DriverCoreConformance's, on a manual clock.
@Suite("Driver §4 over Aeron: driver agent and driver client", .serialized)
struct DriverAeronConformance {
    static let fastOptions: DriverClient.Options = {
        var options = DriverClient.Options()
        options.keepaliveIntervalNs = TestTiming.clientKeepaliveIntervalNs
        options.attemptTimeoutNs = TestTiming.attachAttemptTimeoutNs
        return options
    }()

    @Test(
        "a client attaches over Aeron, maps the regions it was given read-only, changes no file, and detaches",
        .verifies(
            "DRV-4.5-001", "DRV-2.2-001", "DRV-3-007", "DRV-3-008", "DRV-2.3-003", "DRV-2.3-004", "DRV-2.3-005",
            "DRV-2.2-003", "DRV-2.2-004", "DRV-2.2-005", "DRV-4.2-039"))
    func attachMapDetach() throws {
        let driver = try RunningDriver()
        let client = try driver.client(options: Self.fastOptions)
        let grant = try client.attach(streamId: 10_000, role: .consumer, timeout: TestTiming.hangGuard)
        #expect(grant.streamId == 10_000 && grant.clientId == client.clientId && grant.clientId != 0)
        // The client maps read-only what it was given; it creates, truncates and unlinks nothing.
        let before = try FileManager.default.subpathsOfDirectory(atPath: driver.harnessDirectory).sorted()
        let regions = try StreamRegions.map(
            grant.regions, policy: try PathPolicy(allowedBaseDirectories: [driver.harnessDirectory]))
        #expect(!regions.isWritable)
        client.doWork()  // a duty cycle while the regions are mapped: nothing to report
        #expect(client.drainEvents().isEmpty && client.leases[grant.leaseId] != nil)
        #expect(try client.detach(grant, timeout: TestTiming.hangGuard) == .ok)
        #expect(client.leases.isEmpty)
        regions.unmap()
        let after = try FileManager.default.subpathsOfDirectory(atPath: driver.harnessDirectory).sorted()
        #expect(before == after, "the client changed no file")
    }

    @Test(
        "when the producer detaches, its consumers are told and a higher epoch is announced",
        .verifies("DRV-4.9-012", "DRV-4.9-013", "DRV-4.9-014", "DRV-4.9-015", "DRV-4.9-021", "DRV-4.9-022", "DRV-6-007")
    )
    func producerRevocationReachesConsumers() throws {
        let driver = try RunningDriver()
        let consumer = try driver.client(options: Self.fastOptions)
        let aeron = try TestMediaDriver.client()
        defer { aeron.close() }
        let announces = try driver.announceSubscription(on: aeron)
        let producer = try driver.client(options: Self.fastOptions)
        let consumerGrant = try consumer.attach(streamId: 10_000, role: .consumer, timeout: TestTiming.hangGuard)
        let producerGrant = try producer.attach(streamId: 10_000, role: .producer, timeout: TestTiming.hangGuard)
        #expect(try producer.detach(producerGrant, timeout: TestTiming.hangGuard) == .ok)
        var events: [DriverClientEvent] = []
        var seen: [RegionAnnounce] = []
        let deadline = ContinuousClock.now + TestTiming.hangGuard
        while ContinuousClock.now < deadline && (events.isEmpty || !seen.contains { $0.epoch > producerGrant.epoch }) {
            consumer.doWork()
            events += consumer.drainEvents()
            seen += pollAnnounces(announces)
            usleep(2_000)
        }
        #expect(events == [.producerRevoked(streamId: 10_000, leaseId: producerGrant.leaseId, reason: .detached)])
        let fresh = try #require(seen.last { $0.streamId == 10_000 })
        #expect(fresh.epoch > producerGrant.epoch, "the announce after the revocation has a higher epoch")
        #expect(consumer.leases[consumerGrant.leaseId] != nil, "the consumer's own lease is untouched")
    }

    @Test(
        "a lease whose keepalives stop expires and its holder is told and attaches again; one kept alive outlives it",
        .verifies(
            "DRV-4.9-009", "DRV-4.9-011", "DRV-4.7-002", "DRV-4.2-035", "DRV-4.2-037", "DRV-4.4-012", "DRV-4.4-002",
            "DRV-4.2-036"))
    func ownLeaseRevoked() throws {
        // One real 5 s expiry, awaited under the hang guard, proves both halves without any timing margin: `kept`
        // attached before `stalled`, so when the driver expires `stalled`'s lease the deadline `kept`'s attach gave
        // it has passed too, and `kept` still holds its lease only because its keepalives pushed that deadline back.
        let driver = try RunningDriver()
        let aeron = try TestMediaDriver.client()
        defer { aeron.close() }
        let control = try aeron.addSubscription(
            channel: driver.configuration.driver.controlChannel, streamId: driver.controlStream)
        let kept = try driver.client(options: Self.fastOptions)
        let stalled = try driver.client(options: Self.fastOptions)
        let keptGrant = try kept.attach(streamId: 10_000, role: .consumer, timeout: TestTiming.hangGuard)
        let grant = try stalled.attach(streamId: 10_000, role: .consumer, timeout: TestTiming.hangGuard)
        #expect(grant.leaseExpiryTimestampNs != nil)
        // `stalled` stops its duty cycle: no keepalive from here on. `kept` runs its own throughout.
        var revoked: [(leaseId: UInt64, reason: DriverSchema.LeaseRevokeReason)] = []
        let deadline = ContinuousClock.now + TestTiming.leaseExpiry + TestTiming.hangGuard
        while ContinuousClock.now < deadline && !revoked.contains(where: { $0.leaseId == grant.leaseId }) {
            kept.doWork()
            revoked += pollRevocations(control)
            usleep(2_000)
        }
        #expect(revoked.map(\.leaseId) == [grant.leaseId] && revoked.map(\.reason) == [.expired])
        #expect(kept.drainEvents().isEmpty && kept.leases[keptGrant.leaseId] != nil, "keepalives kept the lease")
        // The stalled client runs again and learns its lease is gone (it may first send a keepalive the driver
        // ignores: the lease had already ended).
        var events: [DriverClientEvent] = []
        #expect(
            waitFor(timeout: TestTiming.hangGuard) {
                stalled.doWork()
                events += stalled.drainEvents()
                return !events.isEmpty
            })
        #expect(events == [.leaseRevoked(grant, reason: .expired)])
        #expect(stalled.leases.isEmpty, "the lease is gone locally: its regions must not be used")
        let again = try stalled.attach(streamId: 10_000, role: .consumer, timeout: TestTiming.hangGuard)
        #expect(again.leaseId != grant.leaseId)
        #expect(try kept.detach(keptGrant, timeout: TestTiming.hangGuard) == .ok, "the driver still held it")
    }

    @Test(
        "ShmDriverShutdown invalidates every lease of the client at once",
        .verifies("DRV-4.13-012", "DRV-4.13-013"))
    func shutdownNotice() throws {
        let driver = try RunningDriver()
        let client = try driver.client(options: Self.fastOptions)
        _ = try client.attach(streamId: 10_000, role: .consumer, timeout: TestTiming.hangGuard)
        // An administrator's request with the configured token, on the control stream.
        let admin = try TestMediaDriver.client()
        defer { admin.close() }
        let publication = try admin.addPublication(
            channel: driver.configuration.driver.controlChannel, streamId: driver.controlStream)
        #expect(offerUntilSent(Requests.shutdown(token: "secret", reason: .normal), on: publication))
        var events: [DriverClientEvent] = []
        let deadline = ContinuousClock.now + TestTiming.hangGuard
        while ContinuousClock.now < deadline && events.isEmpty {
            client.doWork()
            events += client.drainEvents()
            usleep(2_000)
        }
        #expect(events == [.driverShutdown(reason: .normal)])
        #expect(client.leases.isEmpty && client.driverShutDown)
        #expect(throws: DriverClientError.driverShutdown) { try client.attach(streamId: 10_000, role: .consumer) }
    }

    @Test(
        "a burst of 64 attach requests sent at once is answered once each: one producer wins, every consumer is granted",
        .verifies("DRV-5-001", "DRV-5-002", "DRV-5-003", "DRV-4.2-012"))
    func burst() throws {
        let driver = try RunningDriver()
        let aeron = try TestMediaDriver.client()
        defer { aeron.close() }
        let subscription = try aeron.addSubscription(
            channel: driver.configuration.driver.controlChannel, streamId: driver.controlStream)
        let publication = try aeron.addPublication(
            channel: driver.configuration.driver.controlChannel, streamId: driver.controlStream)
        try #require(
            waitFor(timeout: TestTiming.hangGuard) { publication.isConnected && subscription.isConnected },
            "the control stream connects")
        for index in 0..<64 {
            let request = Requests.attach(
                correlation: 10_000 + Int64(index), stream: 10_000, client: 500 + UInt32(index),
                role: index % 8 == 0 ? .producer : .consumer)
            #expect(offerUntilSent(request, on: publication))
        }
        var answers: [Int64: AttachResponse] = [:]
        var duplicates = 0
        let deadline = ContinuousClock.now + TestTiming.hangGuard
        while answers.count < 64 && ContinuousClock.now < deadline {
            _ = subscription.poll(fragmentLimit: 64) { buffer, _ in
                if case .attach(let response) = decodeDriverMessage(Array(buffer)) {
                    if answers.updateValue(response, forKey: response.correlationId) != nil { duplicates += 1 }
                }
            }
            usleep(500)
        }
        #expect(answers.count == 64 && duplicates == 0)
        let producers = (0..<64).filter { $0 % 8 == 0 }.compactMap { answers[10_000 + Int64($0)] }
        #expect(producers.filter { $0.code == .ok }.count == 1)
        #expect(producers.filter { $0.code == .rejected }.count == 7)
        let consumers = (0..<64).filter { $0 % 8 != 0 }.compactMap { answers[10_000 + Int64($0)] }
        #expect(consumers.count == 56 && consumers.allSatisfy { $0.code == .ok })
        #expect(Set(answers.values.compactMap(\.leaseId)).count == 57)
    }
}
