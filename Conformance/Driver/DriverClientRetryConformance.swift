import ConformanceSupport
import DriverClient
import Synchronization
import TensorPoolWire
import Testing

/// The correlation id of a scripted driver's first attach request, for scripts that answer it later.
final class FirstRequest: Sendable {
    let correlationId = Atomic<Int64>(0)
}

/// Driver spec §4.8, §4.12.1 and Appendix B on the client side, when the driver answers after the attempt timeout:
/// on a busy machine an answer can come after the client has retired the attempt and asked again.
@Suite("Driver §4.8/Appendix B: late answers to retired attach attempts", .serialized)
struct DriverClientRetryConformance {
    /// A `REJECTED` answer with `message`.
    static func refusal(_ correlationId: Int64, _ message: String) -> [UInt8] {
        var refused = ScriptedAttachResponse(correlationId: correlationId, code: .rejected)
        refused.leaseId = nil
        refused.errorMessage = message
        return refused.encoded()
    }

    /// Attaches `client`, moving the clock past the attempt timeout once the driver has seen the first request, so
    /// exactly the first attempt lapses.
    static func attachLapsingFirst(_ driver: ScriptedDriver, _ client: DriverClient) throws -> LeaseGrant {
        var lapsed = false
        return try driver.attach(client) {
            if !lapsed && driver.seen.withLock({ $0.count }) > 0 {
                driver.clock.advance(ns: ScriptedDriver.attemptTimeoutNs + 1)
                lapsed = true
            }
        }
    }

    @Test(
        "a lease granted to a retired attempt is given back, and the refusal it caused is not final: the next attempt gets the stream",
        .verifies("DRV-B.1-004", "DRV-4.8-006"))
    func lateGrantGivenBack() throws {
        let first = FirstRequest()
        let driver = try ScriptedDriver { request, attempt in
            switch attempt {
            case 0:  // no answer in time
                first.correlationId.store(request.correlationId, ordering: .relaxed)
                return []
            case 1:  // the first attempt's answer, late, then the refusal it causes
                var late = ScriptedAttachResponse(correlationId: first.correlationId.load(ordering: .relaxed))
                late.leaseId = 41
                return [late.encoded(), Self.refusal(request.correlationId, "producer already attached")]
            default:  // the late lease was given back
                var ok = ScriptedAttachResponse(correlationId: request.correlationId)
                ok.leaseId = 42
                return [ok.encoded(), ScriptedDriver.marker]
            }
        }
        let client = try driver.client()
        let grant = try Self.attachLapsingFirst(driver, client)
        #expect(grant.leaseId == 42)
        _ = ScriptedDriver.drainUntilMarker(client)
        #expect(client.leases.keys.sorted() == [42], "the late lease is not kept")
        #expect(client.lateLeasesReturned == 1)
        #expect(driver.seen.withLock { $0.count } == 3)
    }

    @Test(
        "a late grant after another attempt was granted is given back; the attach keeps the answer it took",
        .verifies("DRV-B.1-004", "DRV-B.1-005"))
    func lateGrantAfterSuccess() throws {
        let first = FirstRequest()
        let driver = try ScriptedDriver { request, attempt in
            if attempt == 0 {
                first.correlationId.store(request.correlationId, ordering: .relaxed)
                return []
            }
            var ok = ScriptedAttachResponse(correlationId: request.correlationId)
            ok.leaseId = 52
            var late = ScriptedAttachResponse(correlationId: first.correlationId.load(ordering: .relaxed))
            late.leaseId = 51
            return [ok.encoded(), late.encoded(), ScriptedDriver.marker]
        }
        let client = try driver.client()
        let grant = try Self.attachLapsingFirst(driver, client)
        #expect(grant.leaseId == 52)
        _ = ScriptedDriver.drainUntilMarker(client)
        #expect(client.leases.keys.sorted() == [52] && client.lateLeasesReturned == 1)
    }

    @Test(
        "when the retired attempt's answer is lost, refusals go on until the driver lets the stream go; a refusal with nothing unanswered stays final",
        .verifies("DRV-4.8-006"))
    func lostGrantOutlived() throws {
        let driver = try ScriptedDriver { request, attempt in
            switch attempt {
            case 0: return []  // granted by the driver, answer lost
            case 1, 2: return [Self.refusal(request.correlationId, "producer already attached")]
            default:  // the unclaimed lease expired
                var ok = ScriptedAttachResponse(correlationId: request.correlationId)
                ok.leaseId = 63
                return [ok.encoded()]
            }
        }
        let client = try driver.client()
        let grant = try Self.attachLapsingFirst(driver, client)
        #expect(grant.leaseId == 63 && client.lateLeasesReturned == 0)
        #expect(driver.seen.withLock { $0.count } == 4)
        // Without an unanswered attempt before it, the same refusal ends the attach at once.
        let refusing = try ScriptedDriver { request, _ in
            [Self.refusal(request.correlationId, "producer already attached")]
        }
        let other = try refusing.client(clientId: 7)
        #expect(throws: DriverClientError.refused(code: .rejected, message: "producer already attached")) {
            _ = try refusing.attach(other)
        }
        #expect(refusing.seen.withLock { $0.count } == 1)
    }
}
