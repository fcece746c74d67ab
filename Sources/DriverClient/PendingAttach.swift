import Agents
public import TensorPoolWire

/// An attach in progress (``DriverClient/beginAttach(streamId:role:publishMode:hugepages:desiredNodeId:expectedLayoutVersion:timeout:)``),
/// the non-blocking form of ``DriverClient/attach(streamId:role:publishMode:hugepages:desiredNodeId:expectedLayoutVersion:timeout:)``.
///
/// Each ``poll()`` runs the driver client's duty cycle once and advances the attempt: it sends a request when one is
/// due, accepts the first valid answer, and on a missing answer, a protocol error or a client-id collision backs off
/// and tries again, until the deadline. Like the client, it belongs to one thread.
///
/// On a busy machine the driver's answer can come after the attempt timeout, when the attempt is retired and the
/// next one is out: a lease granted that late is given back at once (detached, never used), so the driver does not
/// keep a lease nobody holds. Until it is, a driver that allows one producer per stream refuses the next attempt with
/// `REJECTED`; so after an attempt went unanswered a `REJECTED` is not final: the attach backs off and asks again
/// until its deadline, by which time the late lease has been given back, or, if its answer was lost, has expired.
public final class PendingAttach {
    struct Request {
        var streamId: UInt32
        var role: DriverSchema.Role
        var publishMode: DriverSchema.PublishMode?
        var hugepages: DriverSchema.HugepagesPolicy
        var desiredNodeId: UInt32?
        var expectedLayoutVersion: UInt32
    }

    /// The stream asked for.
    public var streamId: UInt32 { request.streamId }
    /// The role asked for.
    public var role: DriverSchema.Role { request.role }
    /// Requests sent so far.
    public private(set) var attempts = 0
    /// The outcome, once there is one.
    public private(set) var result: Result<LeaseGrant, DriverClientError>?

    unowned let client: DriverClient
    let request: Request
    let deadlineNs: UInt64
    var backoffNs: UInt64
    var correlation: Int64?
    /// Whether an earlier attempt went unanswered (the driver may have granted it a lease that is given back late).
    var earlierUnanswered = false
    /// A `REJECTED` answer not taken as final because an earlier attempt went unanswered: the failure reported if
    /// the deadline passes first.
    var deferredRefusal: DriverClientError?
    var attemptDeadlineNs: UInt64 = 0
    /// Monotonic time before which no new request is sent (the backoff).
    var nextAttemptNs: UInt64 = 0

    init(client: DriverClient, request: Request, deadlineNs: UInt64) {
        self.client = client
        self.request = request
        self.deadlineNs = deadlineNs
        backoffNs = client.options.initialBackoffNs
    }

    /// Whether the attempt is waiting out a backoff (no request outstanding).
    func isBackingOff(now: UInt64) -> Bool { result == nil && correlation == nil && now < nextAttemptNs }

    /// Advances the attach: returns the grant once it is granted, nil while it is in progress, and throws the
    /// failure (refused, timed out, driver shut down, not connected) once it failed. Polling again after the outcome
    /// returns or throws the same outcome.
    public func poll() throws(DriverClientError) -> LeaseGrant? {
        if let result { return try result.get() }
        client.doWork()
        step(now: client.monotonicNs())
        guard let result else { return nil }
        return try result.get()
    }

    /// Gives up: an answer that arrives later is ignored, and a lease already granted but not yet collected is
    /// detached (without waiting for the driver's answer).
    public func cancel() {
        if let correlation {
            if case .answeredAttach(.success(let grant)) = client.pending[correlation] {
                client.leases[grant.leaseId] = nil
                if grant.role == .consumer { client.releaseConsumed(grant.streamId) }
                _ = client.sendDetach(leaseId: grant.leaseId, streamId: grant.streamId, role: grant.role)
            }
            client.pending[correlation] = nil
            self.correlation = nil
        }
        if result == nil { result = .failure(.closed) }
    }

    func step(now: UInt64) {
        if client.driverShutDown {
            retire()
            result = .failure(.driverShutdown)
            return
        }
        if let correlation {
            switch client.pending[correlation] {
            case .answeredAttach(.success(let grant)):
                client.pending[correlation] = nil
                self.correlation = nil
                result = .success(grant)
                return
            case .answeredAttach(.failure(.refused(let code, let message))):
                retire()
                if client.autoClientId && code == .rejected && message == "client_id already attached" {
                    client.clientId = DriverClient.randomClientId()  // §B.2: another id, after the backoff
                    scheduleBackoff(now: now)
                } else if code == .rejected && earlierUnanswered {
                    // Perhaps refused for the lease of an earlier attempt whose answer is late or was lost.
                    deferredRefusal = .refused(code: code, message: message)
                    scheduleBackoff(now: now)
                } else {
                    result = .failure(.refused(code: code, message: message))
                    return
                }
            case .answeredAttach(.failure(let error)):
                retire()
                result = .failure(error)
                return
            case .protocolError(let leaseId):
                retire()
                if let leaseId {
                    _ = client.sendDetach(leaseId: leaseId, streamId: request.streamId, role: request.role)
                }
                scheduleBackoff(now: now)
            default:
                guard now >= attemptDeadlineNs else { return }
                // No (valid) answer in time: the attempt is retired; a lease granted to it later is given back.
                if case .attach(let streamId, let role) = client.pending[correlation] {
                    client.pending[correlation] = .abandonedAttach(streamId: streamId, role: role)
                }
                self.correlation = nil
                earlierUnanswered = true
                scheduleBackoff(now: now)
            }
        }
        guard correlation == nil else { return }
        guard now < deadlineNs else {
            result = .failure(deferredRefusal ?? (client.sentAny ? .timeout(attempts: attempts) : .notConnected))
            return
        }
        guard now >= nextAttemptNs else { return }
        attempts += 1
        if let sent = client.sendAttach(request) {
            correlation = sent
            attemptDeadlineNs = min(deadlineNs, now &+ client.options.attemptTimeoutNs)
        } else {
            scheduleBackoff(now: now)
        }
    }

    func retire() {
        if let correlation { client.pending[correlation] = nil }
        correlation = nil
    }

    func scheduleBackoff(now: UInt64) {
        nextAttemptNs = now &+ min(backoffNs, client.options.maxBackoffNs)
        backoffNs = min(backoffNs &* 2, client.options.maxBackoffNs)
    }
}
