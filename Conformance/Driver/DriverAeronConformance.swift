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
        var toml = DriverHarness.toml(directory: harnessDirectory, extra: extraPolicies)
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
        _ = runner.close(timeout: .seconds(5))
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

/// Driver spec §4 over real Aeron: the driver agent and the driver client, on an embedded media driver.
@Suite("Driver §4 over Aeron: driver agent and driver client", .serialized)
struct DriverAeronConformance {
    static let fastOptions: DriverClient.Options = {
        var options = DriverClient.Options()
        options.keepaliveIntervalNs = 50_000_000
        options.attemptTimeoutNs = 500_000_000
        return options
    }()

    @Test(
        "a client attaches over Aeron, maps the regions it was given, keeps the lease alive, and detaches",
        .verifies(
            "DRV-4.5-001", "DRV-4.2-036", "DRV-4.4-002", "DRV-4.2-039", "DRV-2.2-001", "DRV-3-007", "DRV-3-008",
            "DRV-2.3-003", "DRV-2.3-004", "DRV-2.3-005", "DRV-2.2-003", "DRV-2.2-004", "DRV-2.2-005"))
    func attachKeepaliveDetach() throws {
        let driver = try RunningDriver()
        let client = try driver.client(options: Self.fastOptions)
        let grant = try client.attach(streamId: 10_000, role: .consumer)
        #expect(grant.streamId == 10_000 && grant.clientId == client.clientId && grant.clientId != 0)
        // The client maps read-only what it was given; it creates, truncates and unlinks nothing.
        let before = try FileManager.default.subpathsOfDirectory(atPath: driver.harnessDirectory).sorted()
        let regions = try StreamRegions.map(
            grant.regions, policy: try PathPolicy(allowedBaseDirectories: [driver.harnessDirectory]))
        #expect(!regions.isWritable)
        // Keepalives every 50 ms outlive a 300 ms grace for a second.
        let end = ContinuousClock.now + .seconds(1)
        while ContinuousClock.now < end {
            client.doWork()
            usleep(5_000)
        }
        #expect(client.drainEvents().isEmpty && client.leases[grant.leaseId] != nil)
        #expect(try client.detach(grant) == .ok)
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
        let announces = try driver.announceSubscription(on: try TestMediaDriver.client())
        let producer = try driver.client(options: Self.fastOptions)
        let consumerGrant = try consumer.attach(streamId: 10_000, role: .consumer)
        let producerGrant = try producer.attach(streamId: 10_000, role: .producer)
        #expect(try producer.detach(producerGrant) == .ok)
        var events: [DriverClientEvent] = []
        var seen: [RegionAnnounce] = []
        let deadline = ContinuousClock.now + .seconds(5)
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
        "a lease whose keepalives stop expires; its holder is told and must attach again",
        .verifies("DRV-4.9-009", "DRV-4.9-011", "DRV-4.7-002", "DRV-4.2-035", "DRV-4.2-037", "DRV-4.4-012"))
    func ownLeaseRevoked() throws {
        let driver = try RunningDriver()
        let client = try driver.client(options: Self.fastOptions)
        let grant = try client.attach(streamId: 10_000, role: .consumer)
        #expect(grant.leaseExpiryTimestampNs != nil)
        usleep(700_000)  // the client stalls: no keepalive within the 300 ms grace
        var events: [DriverClientEvent] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline && events.isEmpty {
            client.doWork()
            events += client.drainEvents()
            usleep(5_000)
        }
        #expect(events == [.leaseRevoked(grant, reason: .expired)])
        #expect(client.leases.isEmpty, "the lease is gone locally: its regions must not be used")
        let again = try client.attach(streamId: 10_000, role: .consumer)
        #expect(again.leaseId != grant.leaseId)
    }

    @Test(
        "ShmDriverShutdown invalidates every lease of the client at once",
        .verifies("DRV-4.13-012", "DRV-4.13-013"))
    func shutdownNotice() throws {
        let driver = try RunningDriver()
        let client = try driver.client(options: Self.fastOptions)
        _ = try client.attach(streamId: 10_000, role: .consumer)
        // An administrator's request with the configured token, on the control stream.
        let admin = try TestMediaDriver.client()
        defer { admin.close() }
        let publication = try admin.addPublication(
            channel: driver.configuration.driver.controlChannel, streamId: driver.controlStream)
        let request = Requests.shutdown(token: "secret", reason: .normal)
        var sent = false
        for _ in 0..<10_000 where !sent {
            if case .success = request.withUnsafeBytes({ publication.offer($0) }) { sent = true } else { usleep(100) }
        }
        #expect(sent)
        var events: [DriverClientEvent] = []
        let deadline = ContinuousClock.now + .seconds(5)
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
        let connected = ContinuousClock.now + .seconds(5)
        while !(publication.isConnected && subscription.isConnected) && ContinuousClock.now < connected {
            usleep(1_000)
        }
        for index in 0..<64 {
            let request = Requests.attach(
                correlation: 10_000 + Int64(index), stream: 10_000, client: 500 + UInt32(index),
                role: index % 8 == 0 ? .producer : .consumer)
            var sent = false
            for _ in 0..<10_000 where !sent {
                if case .success = request.withUnsafeBytes({ publication.offer($0) }) {
                    sent = true
                } else {
                    usleep(100)
                }
            }
            #expect(sent)
        }
        var answers: [Int64: AttachResponse] = [:]
        var duplicates = 0
        let deadline = ContinuousClock.now + .seconds(10)
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
