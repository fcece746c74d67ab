import Aeron
import ConformanceSupport
import DriverClient
import Foundation
import SBE
import Synchronization
import TensorPoolSHM
import TensorPoolWire
import TestProcesses
import Testing

/// What a scripted driver saw of one attach request.
struct SeenAttach: Sendable {
    var correlationId: Int64
    var clientId: UInt32
    var streamId: UInt32
    var role: DriverSchema.Role
}

/// The fields of an attach response a script wants to send (nil fields are sent as null).
struct ScriptedAttachResponse: Sendable {
    var correlationId: Int64
    var code: DriverSchema.ResponseCode = .ok
    var leaseId: UInt64? = 1
    var streamId: UInt32? = 10_000
    var epoch: UInt64? = 5
    var layoutVersion: UInt32? = 1
    var headerNslots: UInt32? = 8
    var headerSlotBytes: UInt16? = 256
    var nodeId: UInt32? = 3
    var pools: [(UInt16, UInt32, UInt32, String)] = [(1, 8, 1024, "shm:file?path=/dev/shm/x/1.pool")]
    var headerURI = "shm:file?path=/dev/shm/x/header.ring"
    var errorMessage = ""
    var version: UInt16 = 1

    func encoded() -> [UInt8] {
        Requests.encode { buffer in
            var encoder = try DriverSchema.ShmAttachResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = correlationId
            encoder.code = code
            encoder.leaseId = leaseId
            encoder.leaseExpiryTimestampNs = nil
            encoder.streamId = streamId
            encoder.epoch = epoch
            encoder.layoutVersion = layoutVersion
            encoder.headerNslots = headerNslots
            encoder.headerSlotBytes = headerSlotBytes
            encoder.nodeId = nodeId
            try encoder.payloadPools(count: pools.count) { index, entry in
                entry.poolId = pools[index].0
                entry.poolNslots = pools[index].1
                entry.strideBytes = pools[index].2
                try entry.regionUri(pools[index].3)
            }
            try encoder.headerRegionUri(headerURI)
            try encoder.errorMessage(errorMessage)
            SBEBuffer.store(version, buffer.baseAddress!, 6)
            return 8 + encoder.encodedLength
        }
    }
}

/// A monotonic clock the test moves by hand, for ``DriverClient/Options/monotonicClock``: an attach attempt times out
/// when the test advances this clock past the attempt timeout, never because the machine was slow.
final class ManualClientClock: Sendable {
    let nanoseconds = Atomic<UInt64>(1_000_000_000)

    func now() -> UInt64 { nanoseconds.load(ordering: .relaxed) }

    func advance(ns: UInt64) { _ = nanoseconds.add(ns, ordering: .relaxed) }
}

/// A fake driver on a private control stream: a thread answers each attach request with whatever the script says.
///
/// Its clients run on a ``ManualClientClock`` with no backoff: a refused or failed attempt is retried at once, and an
/// unanswered one times out only when the test advances ``clock``. So the number of attempts a case sees is decided
/// by the script alone, however slowly the script's thread or the client runs.
final class ScriptedDriver: @unchecked Sendable {
    let controlStream: Int32
    let clock = ManualClientClock()
    let aeron: AeronClient
    let publication: Publication
    let subscription: Subscription
    let seen = Mutex<[SeenAttach]>([])
    let stop = Atomic<Bool>(false)
    let script: @Sendable (SeenAttach, Int) -> [[UInt8]]
    var thread: Thread?

    init(script: @escaping @Sendable (SeenAttach, Int) -> [[UInt8]]) throws {
        controlStream = TestMediaDriver.uniqueStreamId()
        aeron = try TestMediaDriver.client()
        publication = try aeron.addPublication(channel: "aeron:ipc", streamId: controlStream)
        subscription = try aeron.addSubscription(channel: "aeron:ipc", streamId: controlStream)
        self.script = script
        let thread = Thread { [self] in self.run() }
        self.thread = thread
        thread.start()
    }

    func run() {
        while !stop.load(ordering: .relaxed) {
            var requests: [SeenAttach] = []
            _ = subscription.poll(fragmentLimit: 16) { buffer, _ in
                guard let request = try? DriverSchema.ShmAttachRequestDecoder(decodingHeaderOf: buffer) else { return }
                requests.append(
                    SeenAttach(
                        correlationId: request.correlationId, clientId: request.clientId, streamId: request.streamId,
                        role: request.role))
            }
            for request in requests {
                let index = seen.withLock { seen in
                    seen.append(request)
                    return seen.count - 1
                }
                for message in script(request, index) { send(message) }
            }
            usleep(200)
        }
    }

    /// Offers `message` until it is sent, under the hang guard (a message never sent shows as a case that never
    /// gets its answer).
    func send(_ message: [UInt8]) {
        _ = waitFor(timeout: TestTiming.hangGuard) {
            if case .success = message.withUnsafeBytes({ publication.offer($0) }) { return true }
            return false
        }
    }

    /// The attempt timeout of ``client(clientId:)``: how far ``clock`` must move for an unanswered attempt to lapse.
    static let attemptTimeoutNs: UInt64 = 300_000_000

    /// A client on ``clock``, without backoff.
    func client(clientId: UInt32 = 0) throws -> DriverClient {
        var options = DriverClient.Options()
        options.attemptTimeoutNs = Self.attemptTimeoutNs
        options.initialBackoffNs = 0
        let clock = self.clock
        options.monotonicClock = { clock.now() }
        return try DriverClient(
            aeron: try TestMediaDriver.client(), controlChannel: "aeron:ipc", controlStreamId: controlStream,
            clientId: clientId, options: options)
    }

    /// Attaches `client` to stream 10000 as a consumer, polling the attempt until it ends; `afterPoll` runs after each
    /// poll that did not end it (to move ``clock``). The client's own deadline is on ``clock`` and never passes: the
    /// real-time hang guard is the only limit.
    func attach(_ client: DriverClient, afterPoll: () -> Void = {}) throws -> LeaseGrant {
        let attempt = client.beginAttach(streamId: 10_000, role: .consumer, timeout: .seconds(3_600))
        let deadline = ContinuousClock.now + TestTiming.hangGuard
        while ContinuousClock.now < deadline {
            if let grant = try attempt.poll() { return grant }
            afterPoll()
            usleep(100)
        }
        attempt.cancel()
        throw DriverClientError.timeout(attempts: attempt.attempts)
    }

    /// A message of the driver schema with a template id the driver never sends: the client counts it as
    /// ``DriverProtocolError/unexpectedTemplate(_:)`` 9. Sent after the messages a case is about, it tells the case
    /// that the client has handled all of them (one publication: the client sees messages in order).
    static let marker: [UInt8] = {
        var bytes = ScriptedAttachResponse(correlationId: 0).encoded()
        bytes[2] = 9
        return bytes
    }()

    /// Runs `client`'s duty cycle until it has handled ``marker``; returns the events it reported meanwhile.
    static func drainUntilMarker(_ client: DriverClient) -> [DriverClientEvent] {
        var events: [DriverClientEvent] = []
        let handled = waitFor(timeout: TestTiming.hangGuard) {
            client.doWork()
            events += client.drainEvents()
            return client.protocolErrors.contains(.unexpectedTemplate(9))
        }
        #expect(handled, "the client handled the end marker")
        return events
    }

    deinit {
        stop.store(true, ordering: .relaxed)
        while thread?.isFinished == false { usleep(1_000) }
        aeron.close()
    }
}

/// Driver spec §4.2, §4.4a, §4.7a, §4.9 and Appendix B on the client side: a scripted driver sends good, bad,
/// duplicate and stale answers over real Aeron and the client must fail closed or ignore them.
@Suite("Driver §4/Appendix B: the driver client fails closed", .serialized)
struct DriverClientConformance {
    /// Each protocol error in an OK response, followed on the retry by a valid answer.
    static let protocolErrors: [(String, @Sendable (inout ScriptedAttachResponse) -> Void, DriverProtocolError)] = [
        ("null leaseId", { $0.leaseId = nil }, .nullRequiredField("leaseId")),
        ("null epoch", { $0.epoch = nil }, .nullRequiredField("epoch")),
        ("empty header URI", { $0.headerURI = "" }, .invalidURI("")),
        ("blank header URI", { $0.headerURI = "   " }, .invalidURI("   ")),
        ("bad pool URI", { $0.pools[0].3 = "file:/dev/shm/x" }, .invalidURI("file:/dev/shm/x")),
        ("slot bytes 128", { $0.headerSlotBytes = 128 }, .headerSlotBytes(128)),
        ("no pools", { $0.pools = [] }, .noPools),
        ("pool nslots 16", { $0.pools[0].1 = 16 }, .poolSlotCount(poolId: 1, nslots: 16, headerNslots: 8)),
    ]

    @Test(
        "an OK response with a null field, a bad URI, wrong slot bytes, no pools or mismatching nslots is a protocol error",
        .verifies(
            "DRV-4.2-028", "DRV-4.2-030", "DRV-4.2-031", "DRV-4.2-032", "DRV-4.2-034", "DRV-4.2-039", "DRV-4.7-003",
            "DRV-4.2-010", "DRV-4.2-011", "DRV-9-006"),
        arguments: protocolErrors.indices)
    func failsClosed(_ index: Int) throws {
        let (name, corrupt, expected) = Self.protocolErrors[index]
        let driver = try ScriptedDriver { request, attempt in
            var response = ScriptedAttachResponse(correlationId: request.correlationId)
            if attempt == 0 { corrupt(&response) } else { response.leaseId = 2 }
            return [response.encoded()]
        }
        let client = try driver.client()
        let grant = try driver.attach(client)
        #expect(grant.leaseId == 2, "\(name): the corrupt grant was dropped and the attach retried")
        #expect(client.protocolErrors == [expected], "\(name)")
        #expect(client.leases.keys.sorted() == [2])
        #expect(driver.seen.withLock { $0.count } == 2)
    }

    @Test(
        "the first OK answer wins: a later duplicate, OK or not, changes nothing; stale answers are ignored",
        .verifies("DRV-B.1-001", "DRV-B.1-004", "DRV-B.1-005"))
    func firstOkWins() throws {
        let driver = try ScriptedDriver { request, _ in
            var stale = ScriptedAttachResponse(correlationId: request.correlationId &- 1_000)  // an earlier run's
            stale.leaseId = 66
            var ok = ScriptedAttachResponse(correlationId: request.correlationId)
            ok.leaseId = 7
            var late = ScriptedAttachResponse(correlationId: request.correlationId, code: .rejected)
            late.leaseId = nil
            return [stale.encoded(), ok.encoded(), late.encoded(), ScriptedDriver.marker]
        }
        let client = try driver.client()
        let grant = try driver.attach(client)
        #expect(grant.leaseId == 7)
        #expect(ScriptedDriver.drainUntilMarker(client).isEmpty)  // the late duplicate has been handled by now
        #expect(client.leases.keys.sorted() == [7] && client.protocolErrors == [.unexpectedTemplate(9)])
        #expect(driver.seen.withLock { $0.count } == 1, "one attempt: the first answer was OK")
    }

    @Test(
        "correlation ids start at a random point per client and are never reused while outstanding",
        .verifies("DRV-B.1-002", "DRV-B.1-003", "DRV-4.8-006"))
    func correlationIds() throws {
        let driver = try ScriptedDriver { request, attempt in
            attempt % 2 == 0 ? [] : [ScriptedAttachResponse(correlationId: request.correlationId).encoded()]
        }
        let first = try driver.client(clientId: 11)
        let second = try driver.client(clientId: 12)
        // Each client's first attempt goes unanswered; once the driver has seen it, the clock moves past its timeout
        // and the client retires it and asks again, with another id.
        for (client, unanswered) in [(first, 0), (second, 2)] {
            var lapsed = false
            _ = try driver.attach(client) {
                if !lapsed && driver.seen.withLock({ $0.count }) > unanswered {
                    driver.clock.advance(ns: ScriptedDriver.attemptTimeoutNs + 1)
                    lapsed = true
                }
            }
        }
        let seen = driver.seen.withLock { $0 }
        let firstIds = seen.filter { $0.clientId == 11 }.map(\.correlationId)
        let secondIds = seen.filter { $0.clientId == 12 }.map(\.correlationId)
        #expect(firstIds.count == 2 && Set(firstIds).count == 2 && firstIds[1] > firstIds[0])
        #expect(secondIds.count == 2 && Set(secondIds).count == 2 && secondIds[1] > secondIds[0])
        #expect(abs(Int128(firstIds[0]) - Int128(secondIds[0])) > 1_000, "two clients start far apart")
    }

    @Test(
        "client id 0 is replaced before the first request; 'client_id already attached' makes it draw another",
        .verifies("DRV-B.2-001", "DRV-B.2-002", "DRV-4.8-004"))
    func clientIdAssignment() throws {
        let driver = try ScriptedDriver { request, attempt in
            if attempt == 0 || request.clientId == 99 {
                var refused = ScriptedAttachResponse(correlationId: request.correlationId, code: .rejected)
                refused.leaseId = nil
                refused.errorMessage = "client_id already attached"
                return [refused.encoded()]
            }
            return [ScriptedAttachResponse(correlationId: request.correlationId).encoded()]
        }
        let client = try driver.client(clientId: 0)
        let grant = try driver.attach(client)
        let ids = driver.seen.withLock { $0.map(\.clientId) }
        #expect(ids.count == 2 && !ids.contains(0) && ids[0] != ids[1])
        #expect(grant.clientId == ids[1] && client.clientId == ids[1])
        // A fixed client id is kept, and the refusal is final.
        let fixed = try driver.client(clientId: 99)
        #expect(throws: DriverClientError.refused(code: .rejected, message: "client_id already attached")) {
            _ = try driver.attach(fixed)
        }
        #expect(driver.seen.withLock { $0.count } == 3, "the refusal of a fixed id is final: no retry")
    }

    @Test(
        "messages of a newer driver schema version or an unknown driver template are rejected; schema 900 is skipped",
        .verifies("DRV-4.4-013", "DRV-4.4-016", "DRV-4.4-017"))
    func schemaGating() throws {
        let driver = try ScriptedDriver { request, _ in
            var newer = ScriptedAttachResponse(correlationId: request.correlationId)
            newer.version = 2
            newer.leaseId = 50
            var unknown = ScriptedAttachResponse(correlationId: request.correlationId).encoded()
            unknown[2] = 9  // template 9
            var foreign = ScriptedAttachResponse(correlationId: request.correlationId).encoded()
            foreign[4] = 0x84  // schema 900: template 2 there is not an attach response
            foreign[5] = 0x03
            var good = ScriptedAttachResponse(correlationId: request.correlationId)
            good.leaseId = 51
            return [newer.encoded(), unknown, foreign, good.encoded()]
        }
        let client = try driver.client()
        let grant = try driver.attach(client)
        #expect(grant.leaseId == 51)
        #expect(driver.seen.withLock { $0.count } == 1, "the bad answers before the good one cost no retry")
        #expect(client.protocolErrors == [.unsupportedVersion(2), .unexpectedTemplate(9)])
    }

    static func revoked(lease: UInt64, role: DriverSchema.Role, reason: UInt8) -> [UInt8] {
        Requests.encode { buffer in
            var encoder = try DriverSchema.ShmLeaseRevokedEncoder.wrapAndApplyHeader(buffer)
            encoder.timestampNs = 1
            encoder.leaseId = lease
            encoder.streamId = 10_000
            encoder.clientId = 0
            encoder.role = role
            encoder.reason = DriverSchema.LeaseRevokeReason(rawValue: reason)
            try encoder.errorMessage("")
            return 8 + encoder.encodedLength
        }
    }

    @Test(
        "a revocation with an unknown reason or role is rejected; a repeated one is handled once",
        .verifies("DRV-4.9-016", "DRV-4.9-017", "DRV-4.9-024", "DRV-4.9-010"))
    func revocations() throws {
        let driver = try ScriptedDriver { request, _ in
            var ok = ScriptedAttachResponse(correlationId: request.correlationId)
            ok.leaseId = 8
            return [ok.encoded()]
        }
        let client = try driver.client()
        let grant = try driver.attach(client)
        var badRole = Self.revoked(lease: 8, role: .consumer, reason: 2)
        badRole[8 + 24] = 9  // role byte
        driver.send(Self.revoked(lease: 8, role: .consumer, reason: 9))
        driver.send(badRole)
        driver.send(Self.revoked(lease: 8, role: .consumer, reason: 2))
        driver.send(Self.revoked(lease: 8, role: .consumer, reason: 2))
        driver.send(ScriptedDriver.marker)
        let events = ScriptedDriver.drainUntilMarker(client)
        #expect(
            client.protocolErrors == [
                .unknownEnum("LeaseRevokeReason 9"), .unknownEnum("Role 9"), .unexpectedTemplate(9),
            ])
        #expect(events == [.leaseRevoked(grant, reason: .expired)], "handled once, the repeat found nothing")
        #expect(client.leases.isEmpty)
    }
}
