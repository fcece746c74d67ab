public import Aeron
import Agents
import SBE
public import TensorPoolSHM
public import TensorPoolWire

#if canImport(Glibc)
    import Glibc
#endif

/// What a successful attach grants (driver spec §4.2): the lease and the regions to map.
public struct LeaseGrant: Hashable, Sendable {
    /// Opaque lease id.
    public let leaseId: UInt64
    /// Stream the lease is bound to.
    public let streamId: UInt32
    /// Producer or consumer.
    public let role: DriverSchema.Role
    /// The client id the lease was granted to.
    public let clientId: UInt32
    /// Current epoch of the stream.
    public let epoch: UInt64
    /// SHM layout version.
    public let layoutVersion: UInt32
    /// TraceLink node id, when the driver assigned one.
    public let nodeId: UInt32?
    /// The lease's hard deadline at grant time, when the driver gave one; keepalives move it. CLOCK_MONOTONIC ns
    /// (the driver's clock, the same as this host's: both peer implementations use it too).
    public let leaseExpiryTimestampNs: UInt64?
    /// The regions, in the form `StreamRegions.map` takes.
    public let regions: RegionAnnounce
}

/// Why an attach or detach did not succeed.
public enum DriverClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The driver answered with a non-OK code.
    case refused(code: DriverSchema.ResponseCode, message: String)
    /// No valid answer arrived in time (after retries).
    case timeout(attempts: Int)
    /// The driver announced its shutdown.
    case driverShutdown
    /// The control publication could not send the request.
    case notConnected
    /// The client was closed.
    case closed

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .refused(let code, let message): "driver refused (\(code)): \(message)"
        case .timeout(let attempts): "no valid response from the driver after \(attempts) attempt(s)"
        case .driverShutdown: "the driver is shutting down"
        case .notConnected: "the driver's control stream has no subscriber"
        case .closed: "the driver client is closed"
        }
    }
}

/// Something the driver told this client outside a request/response exchange.
public enum DriverClientEvent: Hashable, Sendable, CustomStringConvertible {
    /// One of this client's leases ended (`ShmLeaseRevoked` for it): stop using its regions, drop frames in flight,
    /// attach again (§4.9).
    case leaseRevoked(LeaseGrant, reason: DriverSchema.LeaseRevokeReason)
    /// The producer lease of a stream this client consumes ended: wait for the announce with the new epoch (§4.9).
    case producerRevoked(streamId: UInt32, leaseId: UInt64, reason: DriverSchema.LeaseRevokeReason)
    /// The driver is going away: every lease is invalid at once (§4.13).
    case driverShutdown(reason: DriverSchema.ShutdownReason)
    /// A keepalive could not be sent: the lease is treated as lost (§4.4, DRV-4.4-012).
    case keepaliveFailed(LeaseGrant)

    /// A one-line summary.
    public var description: String {
        switch self {
        case .leaseRevoked(let grant, let reason):
            "leaseRevoked lease=\(grant.leaseId) stream=\(grant.streamId) role=\(grant.role) reason=\(reason)"
        case .producerRevoked(let stream, let lease, let reason):
            "producerRevoked stream=\(stream) lease=\(lease) reason=\(reason)"
        case .driverShutdown(let reason): "driverShutdown reason=\(reason)"
        case .keepaliveFailed(let grant): "keepaliveFailed lease=\(grant.leaseId) stream=\(grant.streamId)"
        }
    }
}

/// Why a response was rejected as a protocol error (fail closed, §4.7a).
public enum DriverProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A required field of an OK response holds its null value.
    case nullRequiredField(String)
    /// `headerSlotBytes` is not 256.
    case headerSlotBytes(UInt16)
    /// The `payloadPools` group is empty.
    case noPools
    /// A pool's `poolNslots` differs from `headerNslots`.
    case poolSlotCount(poolId: UInt16, nslots: UInt32, headerNslots: UInt32)
    /// A required URI is empty, blank or fails the wire spec's URI rules.
    case invalidURI(String)
    /// The granted stream is not the one asked for.
    case wrongStream(requested: UInt32, granted: UInt32)
    /// A message of the driver schema has a newer version than this client supports.
    case unsupportedVersion(UInt16)
    /// A message of the driver schema has a template id the driver never sends.
    case unexpectedTemplate(UInt16)
    /// A revocation carries an unknown reason or role.
    case unknownEnum(String)
    /// The message could not be decoded.
    case malformed(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .nullRequiredField(let name): "OK response without \(name)"
        case .headerSlotBytes(let value): "headerSlotBytes \(value) is not 256"
        case .noPools: "OK response without payload pools"
        case .poolSlotCount(let pool, let nslots, let header):
            "pool \(pool) has \(nslots) slots, the header ring \(header)"
        case .invalidURI(let text): "invalid region URI '\(text)'"
        case .wrongStream(let requested, let granted): "asked for stream \(requested), granted \(granted)"
        case .unsupportedVersion(let version): "driver schema version \(version) is newer than 1"
        case .unexpectedTemplate(let id): "unexpected driver template \(id)"
        case .unknownEnum(let what): "unknown \(what)"
        case .malformed(let why): "malformed message: \(why)"
        }
    }
}

/// The client side of the driver control plane, used by every producer, consumer, bridge and rate limiter.
///
/// It attaches (with per-process random correlation ids, retries with backoff, first OK wins, automatic client-id
/// reassignment), validates every response and fails closed on protocol errors, sends keepalives for its leases,
/// and reports revocations and the driver's shutdown as ``DriverClientEvent``s. Single-threaded: drive it from one
/// agent; ``attach(streamId:role:publishMode:hugepages:desiredNodeId:expectedLayoutVersion:timeout:)`` polls until
/// it has an answer.
public final class DriverClient {
    /// Timing of attaches and keepalives.
    public struct Options: Sendable {
        /// Keepalive interval (the spec's baseline is 1 s).
        public var keepaliveIntervalNs: UInt64 = 1_000_000_000
        /// How long one attach attempt waits for its response.
        public var attemptTimeoutNs: UInt64 = 1_000_000_000
        /// First backoff between attempts; doubled up to ``maxBackoffNs``.
        public var initialBackoffNs: UInt64 = 50_000_000
        /// Largest backoff between attempts.
        public var maxBackoffNs: UInt64 = 1_000_000_000
        /// The monotonic clock (ns) that times attempts, backoffs, attach and detach deadlines and keepalives, stamps
        /// `clientTimestampNs` and is compared with `leaseExpiryTimestampNs` (which drivers stamp on CLOCK_MONOTONIC):
        /// the system's CLOCK_MONOTONIC by default. A test may inject a clock it moves by hand, so that an attempt times out exactly when
        /// the test says and never because the machine was slow. Called once per duty cycle; must not allocate.
        public var monotonicClock: @Sendable () -> UInt64 = DriverClient.systemMonotonicNs

        /// The defaults.
        public init() {}
    }

    /// The client id every request carries (non-zero; chosen at random when 0 was given).
    public internal(set) var clientId: UInt32
    /// Live leases by id.
    public internal(set) var leases: [UInt64: LeaseGrant] = [:]
    /// Protocol errors seen (each one failed closed).
    public private(set) var protocolErrors: [DriverProtocolError] = []
    /// Whether `ShmDriverShutdown` was received.
    public private(set) var driverShutDown = false
    /// Leases granted to attach attempts that had been given up on (an answer later than the attempt timeout, after
    /// another attempt was answered), detached at once so the driver does not keep them.
    public internal(set) var lateLeasesReturned: UInt64 = 0

    let aeron: AeronClient
    let subscription: Subscription
    let publication: Publication
    let assembler: FragmentAssembler
    let options: Options
    let autoClientId: Bool
    var nextCorrelation: Int64
    var events: [DriverClientEvent] = []
    var pending: [Int64: PendingRequest] = [:]
    var lastKeepaliveNs: UInt64 = 0
    /// Keepalive interval in force: the configured one, shortened to a third of the shortest lease window a driver
    /// granted, so keepalives always arrive before the deadline (DRV-4.4-002).
    var keepaliveIntervalNs: UInt64
    var consumedStreams: [UInt32: Int] = [:]
    var producerRevocationsSeen: Set<UInt64> = []
    var scratch = [UInt8](repeating: 0, count: 4096)

    enum PendingRequest {
        case attach(streamId: UInt32, role: DriverSchema.Role)
        /// An attach request its ``PendingAttach`` no longer waits for (it took another attempt's answer, failed or
        /// was cancelled): a lease the driver grants it anyway is given back at once, never used.
        case abandonedAttach(streamId: UInt32, role: DriverSchema.Role)
        case detach
        case answeredAttach(Result<LeaseGrant, DriverClientError>)
        case answeredDetach(DriverSchema.ResponseCode)
        case protocolError(leaseId: UInt64?)
    }

    /// A client of the driver whose control plane is `controlChannel`/`controlStreamId`. `clientId` 0 picks a random
    /// non-zero id (§B.2).
    public init(
        aeron: AeronClient, controlChannel: String, controlStreamId: Int32, clientId: UInt32 = 0,
        options: Options = Options()
    ) throws {
        self.aeron = aeron
        self.options = options
        autoClientId = clientId == 0
        self.clientId = clientId == 0 ? Self.randomClientId() : clientId
        subscription = try aeron.addSubscription(channel: controlChannel, streamId: controlStreamId)
        publication = try aeron.addPublication(channel: controlChannel, streamId: controlStreamId)
        assembler = try FragmentAssembler()
        keepaliveIntervalNs = options.keepaliveIntervalNs
        // A random per-process start, so responses left from an earlier run cannot match (§B.1).
        nextCorrelation = Int64.random(in: 1...(Int64.max >> 2))
    }

    static func randomClientId() -> UInt32 { UInt32.random(in: 1...UInt32.max) }

    /// The system's monotonic clock in ns, ``Options/monotonicClock``'s default.
    @Sendable static func systemMonotonicNs() -> UInt64 { UInt64(MonotonicClock.now()) }

    /// Now on ``Options/monotonicClock``.
    func monotonicNs() -> UInt64 { options.monotonicClock() }

    /// The monotonic time `timeout` from now.
    func deadline(after timeout: Duration) -> UInt64 {
        let (seconds, attoseconds) = timeout.components
        return monotonicNs() &+ UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    func takeCorrelationId() -> Int64 {
        defer { nextCorrelation &+= 1 }
        return nextCorrelation
    }

    /// Events received since the last call.
    public func drainEvents() -> [DriverClientEvent] {
        guard !events.isEmpty else { return [] }  // the common case allocates nothing
        defer { events = [] }
        return events
    }

    /// Closes the subscription and publication (leases are not detached: call ``detach(_:timeout:)`` first).
    public func close() {
        subscription.close()
        publication.close()
    }

    // MARK: Requests

    /// Attaches to `streamId` as `role`, retrying with backoff until `timeout`: a missing response, a protocol error
    /// in an OK response (the lease is detached again) or, with an automatic client id, `client_id already
    /// attached` (a new id is drawn) lead to another attempt. A refusal with any other code ends the attempt.
    ///
    /// Blocks the calling thread; keepalives of the leases already held go on while it waits. See
    /// ``beginAttach(streamId:role:publishMode:hugepages:desiredNodeId:expectedLayoutVersion:timeout:)`` for the
    /// variant that never blocks.
    public func attach(
        streamId: UInt32, role: DriverSchema.Role, publishMode: DriverSchema.PublishMode? = nil,
        hugepages: DriverSchema.HugepagesPolicy = .unspecified, desiredNodeId: UInt32? = nil,
        expectedLayoutVersion: UInt32 = 0, timeout: Duration = .seconds(10)
    ) throws(DriverClientError) -> LeaseGrant {
        let attempt = beginAttach(
            streamId: streamId, role: role, publishMode: publishMode, hugepages: hugepages,
            desiredNodeId: desiredNodeId, expectedLayoutVersion: expectedLayoutVersion, timeout: timeout)
        while true {
            if let grant = try attempt.poll() { return grant }
            let now = monotonicNs()
            if attempt.isBackingOff(now: now) {
                usleep(useconds_t(min(attempt.nextAttemptNs &- now, 1_000_000) / 1_000))  // at most 1 ms, then poll
            } else {
                sched_yield()  // a sleep would cost more than the driver's round trip
            }
        }
    }

    /// Starts an attach without waiting: advance it with ``PendingAttach/poll()`` from the duty cycle until it
    /// returns the grant or throws. It retries exactly as ``attach(streamId:role:publishMode:hugepages:desiredNodeId:expectedLayoutVersion:timeout:)``
    /// does, and the first attempt is sent by the first poll.
    public func beginAttach(
        streamId: UInt32, role: DriverSchema.Role, publishMode: DriverSchema.PublishMode? = nil,
        hugepages: DriverSchema.HugepagesPolicy = .unspecified, desiredNodeId: UInt32? = nil,
        expectedLayoutVersion: UInt32 = 0, timeout: Duration = .seconds(10)
    ) -> PendingAttach {
        PendingAttach(
            client: self,
            request: .init(
                streamId: streamId, role: role, publishMode: publishMode, hugepages: hugepages,
                desiredNodeId: desiredNodeId, expectedLayoutVersion: expectedLayoutVersion),
            deadlineNs: deadline(after: timeout))
    }

    /// Sends one attach request; returns its correlation id, or nil when it could not be sent.
    func sendAttach(_ request: PendingAttach.Request) -> Int64? {
        let correlation = takeCorrelationId()
        pending[correlation] = .attach(streamId: request.streamId, role: request.role)
        let sent = send { buffer in
            let encoder = try DriverSchema.ShmAttachRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = correlation
            encoder.streamId = request.streamId
            encoder.clientId = clientId
            encoder.role = request.role
            encoder.expectedLayoutVersion = request.expectedLayoutVersion
            encoder.publishMode = request.publishMode
            encoder.requireHugepages = request.hugepages
            encoder.desiredNodeId = request.desiredNodeId
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        if !sent { pending[correlation] = nil }
        return sent ? correlation : nil
    }

    var sentAny = false

    /// Detaches `grant`'s lease and waits for the answer (best effort: the lease is forgotten locally either way).
    @discardableResult
    public func detach(
        _ grant: LeaseGrant, timeout: Duration = .seconds(5)
    ) throws(DriverClientError)
        -> DriverSchema.ResponseCode
    {
        leases[grant.leaseId] = nil
        if grant.role == .consumer { releaseConsumed(grant.streamId) }
        guard let correlation = sendDetach(leaseId: grant.leaseId, streamId: grant.streamId, role: grant.role) else {
            throw .notConnected
        }
        let end = deadline(after: timeout)
        while monotonicNs() < end {
            doWork()
            if case .answeredDetach(let code) = pending[correlation] {
                pending[correlation] = nil
                return code
            }
            sched_yield()
        }
        pending[correlation] = nil
        throw .timeout(attempts: 1)
    }

    /// Sends the detach of `grant`'s lease without waiting for the answer (the lease is forgotten locally). Returns
    /// whether the request was sent.
    @discardableResult
    public func detachWithoutWaiting(_ grant: LeaseGrant) -> Bool {
        leases[grant.leaseId] = nil
        if grant.role == .consumer { releaseConsumed(grant.streamId) }
        guard let correlation = sendDetach(leaseId: grant.leaseId, streamId: grant.streamId, role: grant.role) else {
            return false
        }
        pending[correlation] = nil  // the answer is not awaited
        return true
    }

    func sendDetach(leaseId: UInt64, streamId: UInt32, role: DriverSchema.Role) -> Int64? {
        let correlation = takeCorrelationId()
        pending[correlation] = .detach
        let sent = send { buffer in
            let encoder = try DriverSchema.ShmDetachRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = correlation
            encoder.leaseId = leaseId
            encoder.streamId = streamId
            encoder.clientId = clientId
            encoder.role = role
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        if !sent { pending[correlation] = nil }
        return sent ? correlation : nil
    }

    func send(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) -> Bool {
        let sent: Bool = scratch.withUnsafeMutableBytes { buffer in
            guard let length = try? body(buffer) else { return false }
            let message = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
            for _ in 0..<1_000 {
                switch publication.offer(message) {
                case .success: return true
                case .backPressured, .adminAction: continue
                default: return false
                }
            }
            return false
        }
        if sent { sentAny = true }
        return sent
    }

    // MARK: Duty cycle

    /// Polls the control stream and sends keepalives when due. Returns the work done.
    @discardableResult
    public func doWork() -> Int {
        var handler = Handler(client: self)
        var work = subscription.poll(assembler: assembler, into: &handler, fragmentLimit: 16)
        let now = monotonicNs()
        if !leases.isEmpty && now &- lastKeepaliveNs >= keepaliveIntervalNs {
            lastKeepaliveNs = now
            work += sendKeepalives()
        }
        return work
    }

    /// Sends one keepalive per live lease now; a lease whose keepalive cannot be sent is dropped and reported.
    @discardableResult
    public func sendKeepalives() -> Int {
        var sent = 0
        let stamp = monotonicNs()  // clientTimestampNs: CLOCK_MONOTONIC, like every other timestamp
        for grant in leases.values {
            let ok = send { buffer in
                let encoder = try DriverSchema.ShmLeaseKeepaliveEncoder.wrapAndApplyHeader(buffer)
                encoder.leaseId = grant.leaseId
                encoder.streamId = grant.streamId
                encoder.clientId = grant.clientId
                encoder.role = grant.role
                encoder.clientTimestampNs = stamp
                return MessageHeader.encodedLength + encoder.encodedLength
            }
            if ok {
                sent += 1
            } else {
                leases[grant.leaseId] = nil
                if grant.role == .consumer { releaseConsumed(grant.streamId) }
                events.append(.keepaliveFailed(grant))
            }
        }
        return sent
    }

    func releaseConsumed(_ streamId: UInt32) {
        let count = (consumedStreams[streamId] ?? 1) - 1
        consumedStreams[streamId] = count > 0 ? count : nil
    }

    struct Handler: FragmentHandling {
        let client: DriverClient
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            client.onControlMessage(buffer)
        }
    }

    /// Handles one message of the control stream: schema 901 only (schema 900 shares template ids, §4.4a); driver
    /// requests of other clients are skipped; unknown versions and templates are protocol errors.
    func onControlMessage(_ buffer: UnsafeRawBufferPointer) {
        guard let header = try? MessageHeader(decoding: buffer, at: 0) else { return }
        guard header.schemaId == DriverSchema.id else { return }
        switch header.templateId {
        case 1, 3, 5, 8: return  // requests, ours or other clients'
        default: break
        }
        guard header.version <= DriverSchema.version else {
            protocolErrors.append(.unsupportedVersion(header.version))
            return
        }
        switch header.templateId {
        case DriverSchema.ShmAttachResponseDecoder.templateId: onAttachResponse(buffer)
        case DriverSchema.ShmDetachResponseDecoder.templateId:
            guard let response = try? DriverSchema.ShmDetachResponseDecoder(decodingHeaderOf: buffer) else { return }
            if case .detach = pending[response.correlationId] {
                pending[response.correlationId] = .answeredDetach(response.code)
            }
        case DriverSchema.ShmLeaseRevokedDecoder.templateId: onRevoked(buffer)
        case DriverSchema.ShmDriverShutdownDecoder.templateId:
            guard let notice = try? DriverSchema.ShmDriverShutdownDecoder(decodingHeaderOf: buffer) else { return }
            driverShutDown = true
            leases.removeAll()
            consumedStreams.removeAll()
            events.append(.driverShutdown(reason: notice.reason))
        default:
            protocolErrors.append(.unexpectedTemplate(header.templateId))
        }
    }

    func onAttachResponse(_ buffer: UnsafeRawBufferPointer) {
        guard let response = try? DriverSchema.ShmAttachResponseDecoder(decodingHeaderOf: buffer) else {
            protocolErrors.append(.malformed("ShmAttachResponse"))
            return
        }
        if case .abandonedAttach(let requestedStream, let role) = pending[response.correlationId] {
            pending[response.correlationId] = nil
            if response.code == .ok, let leaseId = response.leaseId {
                lateLeasesReturned &+= 1
                if let correlation = sendDetach(leaseId: leaseId, streamId: requestedStream, role: role) {
                    pending[correlation] = nil  // the answer is not awaited
                }
            }
            return
        }
        // Only the first answer to an outstanding attach counts (§B.1): others, and other clients', are ignored.
        guard case .attach(let requestedStream, let role) = pending[response.correlationId] else { return }
        guard response.code == .ok else {
            pending[response.correlationId] = .answeredAttach(
                .failure(.refused(code: response.code, message: response.errorMessageString)))
            return
        }
        switch Self.validate(response, requestedStream: requestedStream, role: role, clientId: clientId) {
        case .success(let grant):
            leases[grant.leaseId] = grant
            if let expiry = grant.leaseExpiryTimestampNs {
                let now = monotonicNs()  // the expiry is on the driver's CLOCK_MONOTONIC
                if expiry > now { keepaliveIntervalNs = min(keepaliveIntervalNs, max((expiry - now) / 3, 1_000_000)) }
            }
            if role == .consumer { consumedStreams[grant.streamId, default: 0] += 1 }
            pending[response.correlationId] = .answeredAttach(.success(grant))
        case .failure(let error):
            protocolErrors.append(error)
            pending[response.correlationId] = .protocolError(leaseId: response.leaseId)
        }
    }

    /// Every check an OK attach response must pass before anything is used (§4.2, fail closed).
    static func validate(
        _ response: DriverSchema.ShmAttachResponseDecoder, requestedStream: UInt32, role: DriverSchema.Role,
        clientId: UInt32
    ) -> Result<LeaseGrant, DriverProtocolError> {
        guard let leaseId = response.leaseId else { return .failure(.nullRequiredField("leaseId")) }
        guard let streamId = response.streamId else { return .failure(.nullRequiredField("streamId")) }
        guard let epoch = response.epoch else { return .failure(.nullRequiredField("epoch")) }
        guard let layoutVersion = response.layoutVersion else { return .failure(.nullRequiredField("layoutVersion")) }
        guard let headerNslots = response.headerNslots else { return .failure(.nullRequiredField("headerNslots")) }
        guard let slotBytes = response.headerSlotBytes else { return .failure(.nullRequiredField("headerSlotBytes")) }
        guard Int(slotBytes) == ShmLayout.headerSlotBytes else { return .failure(.headerSlotBytes(slotBytes)) }
        guard requestedStream == 0 || streamId == requestedStream else {
            return .failure(.wrongStream(requested: requestedStream, granted: streamId))
        }
        var pools: [RegionAnnounce.Pool] = []
        var group = response.payloadPools
        while group.next() {
            let uri = group.regionUriString
            guard Self.isValidURI(uri) else { return .failure(.invalidURI(uri)) }
            guard group.poolNslots == headerNslots else {
                return .failure(
                    .poolSlotCount(poolId: group.poolId, nslots: group.poolNslots, headerNslots: headerNslots))
            }
            pools.append(
                RegionAnnounce.Pool(
                    poolId: group.poolId, nslots: group.poolNslots, strideBytes: group.strideBytes, regionURI: uri))
        }
        guard !pools.isEmpty else { return .failure(.noPools) }
        let headerURI = response.headerRegionUriString
        guard Self.isValidURI(headerURI) else { return .failure(.invalidURI(headerURI)) }
        let regions = RegionAnnounce(
            streamId: streamId, producerId: role == .producer ? clientId : 0, epoch: epoch,
            layoutVersion: layoutVersion, headerNslots: headerNslots, headerSlotBytes: slotBytes,
            headerRegionURI: headerURI, pools: pools)
        return .success(
            LeaseGrant(
                leaseId: leaseId, streamId: streamId, role: role, clientId: clientId, epoch: epoch,
                layoutVersion: layoutVersion, nodeId: response.nodeId,
                leaseExpiryTimestampNs: response.leaseExpiryTimestampNs, regions: regions))
    }

    static func isValidURI(_ text: String) -> Bool {
        guard !text.allSatisfy({ $0.isWhitespace }) else { return false }
        return (try? RegionURI(parsing: text)) != nil
    }

    func onRevoked(_ buffer: UnsafeRawBufferPointer) {
        guard let notice = try? DriverSchema.ShmLeaseRevokedDecoder(decodingHeaderOf: buffer) else {
            protocolErrors.append(.malformed("ShmLeaseRevoked"))
            return
        }
        guard notice.reason.isKnown else {
            protocolErrors.append(.unknownEnum("LeaseRevokeReason \(notice.reason.rawValue)"))
            return
        }
        guard notice.role.isKnown else {
            protocolErrors.append(.unknownEnum("Role \(notice.role.rawValue)"))
            return
        }
        if let grant = leases[notice.leaseId], grant.streamId == notice.streamId, grant.role == notice.role {
            leases[notice.leaseId] = nil  // a repeat finds nothing: idempotent (§4.9)
            if grant.role == .consumer { releaseConsumed(grant.streamId) }
            events.append(.leaseRevoked(grant, reason: notice.reason))
        } else if notice.role == .producer, consumedStreams[notice.streamId] != nil,
            producerRevocationsSeen.insert(notice.leaseId).inserted
        {
            events.append(.producerRevoked(streamId: notice.streamId, leaseId: notice.leaseId, reason: notice.reason))
        }
        // Anything else concerns neither our leases nor a stream we consume (§4.9, may be disregarded).
    }
}
