public import DriverConfig
import Foundation
public import Logging
import SBE
public import TensorPoolLogging
public import TensorPoolSHM
public import TensorPoolWire

#if canImport(Glibc)
    import Glibc
#endif

/// The state of one stream the driver manages.
public struct StreamState: Sendable {
    /// Stream id.
    public let streamId: UInt32
    /// Profile the stream was provisioned from.
    public let profile: DriverConfiguration.Profile
    /// Whether it was created on demand (`EXISTING_OR_CREATE`) rather than configured.
    public let isDynamic: Bool
    /// Current epoch (0 until first provisioned).
    public internal(set) var epoch: UInt64 = 0
    /// The current epoch's regions, once provisioned.
    public internal(set) var regions: StreamRegions?
    /// The producer lease, if any.
    public internal(set) var producerLeaseId: UInt64?
    /// Live consumer leases.
    public internal(set) var consumerLeaseIds: Set<UInt64> = []
    /// Monotonic time of the last announce.
    var lastAnnounceNs: UInt64 = 0
}

/// The SHM driver's logic (driver spec v1.0), free of Aeron: it takes decoded control-plane messages and time, and
/// writes responses, revocations, announces and the shutdown notice to a ``DriverOutput``.
///
/// Single-threaded: the ``DriverAgent`` (or a test) drives it from one thread.
public final class DriverCore {
    /// The configuration it runs with.
    public let configuration: DriverConfiguration
    /// Counters.
    public internal(set) var counters = DriverCounters()
    /// Lifecycle state.
    public internal(set) var runState: DriverRunState = .running
    /// Streams by id.
    public internal(set) var streams: [UInt32: StreamState] = [:]
    /// Live leases by id.
    public internal(set) var leases: [UInt64: Lease] = [:]
    /// The terminal state of the most recent leases that ended (at most ``endedLeaseHistory``; ids are never reused
    /// whether or not they are still listed).
    public internal(set) var endedLeases: [UInt64: LeaseState] = [:]
    /// How many ended leases ``endedLeases`` remembers.
    public static let endedLeaseHistory = 4096
    var endedOrder: [UInt64] = []
    var endedHead = 0

    let output: any DriverOutput
    let clock: any DriverClock
    let logger: Logger
    let layout: ShmPathLayout
    let createOptions: RegionCreateOptions
    let leaseGraceNs: UInt64
    let announcePeriodNs: UInt64
    var nextLeaseId: UInt64 = 1
    var nextNodeId: UInt32 = 1
    var nodeIdsInUse: [UInt32: UInt64] = [:]
    var epochFloor: [UInt32: UInt64] = [:]
    var lastGcNs: UInt64 = 0
    /// Epochs this driver retired and has not removed yet, per stream, oldest first, for the epoch GC.
    var retired: [UInt32: [(epoch: UInt64, retiredNs: UInt64)]] = [:]
    var descriptorStreams: StreamIdAllocator
    var controlStreams: StreamIdAllocator
    var perConsumerStreams: [UInt64: [(PerConsumerStreamKind, UInt32)]] = [:]
    var scratch = [UInt8](repeating: 0, count: 64 * 1024)

    /// A driver for `configuration`. Canonicalises and creates the SHM base directory, and learns the largest epoch
    /// already on disk for every configured stream, so that a restart never reuses an epoch (§10).
    public init(
        configuration: DriverConfiguration, output: any DriverOutput, clock: any DriverClock = SystemDriverClock(),
        logger: Logger = TensorPoolLog.logger(.driver)
    ) throws(DriverError) {
        do {
            try configuration.validate()
        } catch {
            throw DriverError("invalid configuration: \(error)")
        }
        self.configuration = configuration
        self.output = output
        self.clock = clock
        self.logger = logger
        do {
            layout = try ShmPathLayout(
                baseDirectory: configuration.shm.baseDirectory, namespace: configuration.shm.namespace)
        } catch {
            throw DriverError("shm.base_dir: \(error)")
        }
        var options = RegionCreateOptions()
        options.fileMode = configuration.shm.permissionsMode
        options.directoryMode = configuration.shm.permissionsMode & 0o070 != 0 ? 0o2770 : 0o700
        options.prefault = configuration.policies.prefaultShm
        options.lockMemory = configuration.policies.mlockShm
        options.requireHugepages = configuration.shm.requireHugepages
        createOptions = options
        leaseGraceNs =
            UInt64(configuration.policies.leaseKeepaliveIntervalMs) * 1_000_000
            * UInt64(configuration.policies.leaseExpiryGraceIntervals)
        announcePeriodNs = UInt64(configuration.policies.announcePeriodMs) * 1_000_000
        descriptorStreams = StreamIdAllocator(range: configuration.driver.descriptorStreamIdRange)
        controlStreams = StreamIdAllocator(range: configuration.driver.controlStreamIdRange)
        for stream in configuration.streams {
            guard let profile = configuration.profile(named: stream.profile) else { continue }
            streams[stream.streamId] = StreamState(streamId: stream.streamId, profile: profile, isDynamic: false)
            epochFloor[stream.streamId] = EpochDirectories.largestEpoch(
                in: layout.streamDirectory(streamId: stream.streamId))
        }
        if configuration.policies.epochGcEnabled && configuration.policies.epochGcOnStartup {
            collectEpochDirectories(force: true)
        }
        // Configured streams are provisioned at once, in a fresh epoch, so announces start (and reveal a restart).
        for id in streams.keys.sorted() {
            guard var stream = streams[id] else { continue }
            if let failure = provision(&stream) { throw DriverError("stream \(id): \(failure)") }
            streams[id] = stream
        }
    }

    // MARK: Incoming messages

    /// Handles one message from the control stream: driver requests (schema 901, templates 1, 3, 5 and 8) are
    /// served; everything else on the shared stream (other schemas, the driver's own responses) is skipped.
    public func onControlMessage(_ buffer: UnsafeRawBufferPointer) {
        guard let header = try? MessageHeader(decoding: buffer, at: 0) else {
            counters.malformedMessages &+= 1
            return
        }
        guard header.schemaId == DriverSchema.id else { return }  // schema first: 900 shares template ids
        switch header.templateId {
        case DriverSchema.ShmAttachRequestDecoder.templateId: handleAttach(buffer, version: header.version)
        case DriverSchema.ShmDetachRequestDecoder.templateId: handleDetach(buffer)
        case DriverSchema.ShmLeaseKeepaliveDecoder.templateId: handleKeepalive(buffer)
        case DriverSchema.ShmDriverShutdownRequestDecoder.templateId: handleShutdownRequest(buffer)
        case 2, 4, 6, 7: return  // responses and notices, including the driver's own on a shared stream
        default: counters.malformedMessages &+= 1
        }
    }

    // MARK: Attach

    func handleAttach(_ buffer: UnsafeRawBufferPointer, version: UInt16) {
        counters.attachRequests &+= 1
        let request: DriverSchema.ShmAttachRequestDecoder
        do {
            request = try DriverSchema.ShmAttachRequestDecoder(decodingHeaderOf: buffer)
        } catch {
            counters.malformedMessages &+= 1
            // Answer if at least the correlation id is readable: it follows the 8-byte header.
            if buffer.count >= MessageHeader.encodedLength + 8 {
                let correlation = SBEBuffer.load(buffer.baseAddress!, MessageHeader.encodedLength, as: Int64.self)
                refuse(correlation, .invalidParams, "malformed ShmAttachRequest: \(error)")
            }
            return
        }
        let correlation = request.correlationId
        if version == 0 {
            refuse(correlation, .unsupported, "schema version 0 is not supported; this driver speaks version 1")
            return
        }
        if case .draining = runState {
            refuse(correlation, .rejected, "driver is shutting down")
            return
        }
        if runState == .stopped {
            refuse(correlation, .rejected, "driver is stopped")
            return
        }
        let role = request.role
        guard role == .producer || role == .consumer else {
            refuse(correlation, .invalidParams, "unknown role \(role.rawValue)")
            return
        }
        guard request.clientId != 0 else {
            refuse(correlation, .invalidParams, "client_id 0 is reserved for auto-assignment by the client")
            return
        }
        let publishMode = request.publishMode ?? .requireExisting
        guard publishMode == .requireExisting || publishMode == .existingOrCreate else {
            refuse(correlation, .unsupported, "unsupported publish_mode \(publishMode.rawValue)")
            return
        }
        switch request.requireHugepages {
        case .unspecified: break
        case .hugepages where !configuration.shm.requireHugepages:
            refuse(correlation, .rejected, "hugepages required but this driver provisions standard pages")
            return
        case .standard where configuration.shm.requireHugepages:
            refuse(correlation, .rejected, "standard pages required but this driver provisions hugepages")
            return
        case .hugepages, .standard: break
        default:
            refuse(correlation, .invalidParams, "unknown hugepages policy \(request.requireHugepages.rawValue)")
            return
        }
        let expected = request.expectedLayoutVersion
        if expected != 0 && expected != ShmLayout.layoutVersion {
            refuse(
                correlation, .rejected,
                "layout_version mismatch: expected \(expected), driver has \(ShmLayout.layoutVersion)")
            return
        }
        // A retry of an attach already granted (same correlation id, client, stream, role) gets the same answer.
        if let existing = leases.values.first(where: {
            $0.clientId == request.clientId && $0.streamId == request.streamId && $0.role == role
        }) {
            if existing.attachCorrelationId == correlation, let stream = streams[existing.streamId] {
                sendAttachOK(correlation, lease: existing, stream: stream)
            } else {
                refuse(correlation, .rejected, "client_id already attached")
            }
            return
        }
        var streamId = request.streamId
        if streams[streamId] == nil {
            switch createDynamicStream(streamId, publishMode: publishMode) {
            case .success(let id): streamId = id
            case .failure(let refusal):
                refuse(correlation, refusal.code, refusal.message)
                return
            }
        }
        guard var stream = streams[streamId] else { return }
        guard !stream.profile.payloadPools.isEmpty else {
            refuse(correlation, .invalidParams, "stream \(streamId) has no payload pools")
            return
        }
        if role == .producer, stream.producerLeaseId != nil {
            refuse(correlation, .rejected, "producer already attached to stream \(streamId)")
            return
        }
        let nodeId: UInt32
        switch reserveNodeId(desired: request.desiredNodeId) {
        case .some(let id): nodeId = id
        case .none:
            refuse(correlation, .rejected, "node_id \(request.desiredNodeId ?? 0) is not available")
            return
        }
        // A producer taking a stream without one always starts a new epoch (§6); a consumer needs regions to exist.
        if role == .producer || stream.regions == nil {
            if let failure = provision(&stream) {
                nodeIdsInUse[nodeId] = nil
                refuse(correlation, .internalError, "failed to provision SHM: \(failure)")
                return
            }
        }
        let now = clock.monotonicNs()
        let lease = Lease(
            id: nextLeaseId, streamId: streamId, clientId: request.clientId, role: role, nodeId: nodeId,
            attachCorrelationId: correlation, expiresAtNs: now &+ leaseGraceNs, state: .attached)
        nextLeaseId &+= 1
        nodeIdsInUse[nodeId] = lease.id
        leases[lease.id] = lease
        if role == .producer { stream.producerLeaseId = lease.id }
        streams[streamId] = stream
        if role == .consumer { streams[streamId]?.consumerLeaseIds.insert(lease.id) }  // in place: no set copy
        counters.attachesGranted &+= 1
        logger.info(
            "lease attached",
            metadata: [
                "lease": "\(lease.id)", "stream": "\(streamId)", "client": "\(lease.clientId)",
                "role": "\(role)", "epoch": "\(stream.epoch)",
            ])
        sendAttachOK(correlation, lease: lease, stream: stream)
        if role == .producer { announce(streamId) }  // the new epoch and producer id, promptly
    }

    struct Refusal: Error {
        var code: DriverSchema.ResponseCode
        var message: String
    }

    /// Creates a stream on demand (§4.2, §11): only with `EXISTING_OR_CREATE`, dynamic streams allowed, and an id in
    /// `driver.stream_id_range` (0 asks the driver to pick one).
    func createDynamicStream(_ requested: UInt32, publishMode: DriverSchema.PublishMode) -> Result<UInt32, Refusal> {
        guard publishMode == .existingOrCreate else {
            return .failure(Refusal(code: .rejected, message: "stream \(requested) is not provisioned"))
        }
        guard configuration.policies.allowDynamicStreams else {
            return .failure(
                Refusal(code: .rejected, message: "stream \(requested) is not provisioned and dynamic streams are off"))
        }
        guard let range = configuration.driver.streamIdRange else {
            return .failure(Refusal(code: .invalidParams, message: "driver.stream_id_range is not configured"))
        }
        let id: UInt32
        if requested == 0 {
            guard let free = (range.lower...range.upper).first(where: { streams[$0] == nil }) else {
                return .failure(Refusal(code: .invalidParams, message: "driver.stream_id_range is exhausted"))
            }
            id = free
        } else {
            guard (range.lower...range.upper).contains(requested) else {
                return .failure(
                    Refusal(
                        code: .invalidParams,
                        message: "stream \(requested) is outside driver.stream_id_range \(range.lower)-\(range.upper)"))
            }
            id = requested
        }
        guard let profile = configuration.profile(named: configuration.policies.defaultProfile) else {
            return .failure(Refusal(code: .invalidParams, message: "policies.default_profile is not defined"))
        }
        streams[id] = StreamState(streamId: id, profile: profile, isDynamic: true)
        epochFloor[id] = EpochDirectories.largestEpoch(in: layout.streamDirectory(streamId: id))
        return .success(id)
    }

    func reserveNodeId(desired: UInt32?) -> UInt32? {
        if let desired {
            guard desired != 0, nodeIdsInUse[desired] == nil else { return nil }
            nodeIdsInUse[desired] = 0
            return desired
        }
        var candidate = nextNodeId
        for _ in 0..<1_000_000 {
            if candidate == 0 || candidate == UInt32.max { candidate = 1 }
            if nodeIdsInUse[candidate] == nil {
                nodeIdsInUse[candidate] = 0
                nextNodeId = candidate &+ 1
                return candidate
            }
            candidate &+= 1
        }
        return nil
    }

    /// The next epoch of a stream: strictly greater than the current one and than any on disk, and at least the
    /// epoch clock (CLOCK_REALTIME), so a restarted driver never reuses one, even after a reboot (§6, §10; the peers'
    /// rule). The only use of the realtime clock: every timestamp is on the monotonic one.
    func nextEpoch(_ stream: StreamState) -> UInt64 {
        let floor = max(stream.epoch, epochFloor[stream.streamId] ?? 0)
        return max(floor &+ 1, clock.epochClockNs())
    }

    /// Creates the regions of a new epoch for `stream` and retires the old mapping (its files stay for the epoch GC).
    /// Returns a description of the failure, or `nil`.
    func provision(_ stream: inout StreamState) -> String? {
        let epoch = nextEpoch(stream)
        do {
            let regions = try StreamRegions.create(
                layout: layout, streamId: stream.streamId, epoch: epoch, headerNslots: stream.profile.headerNslots,
                pools: stream.profile.payloadPools.map { PoolSpec(poolId: $0.poolId, strideBytes: $0.strideBytes) },
                producerId: stream.producerLeaseId.flatMap { leases[$0]?.clientId } ?? 0, nowNs: clock.monotonicNs(),
                options: createOptions)
            if let old = stream.regions {
                old.unmap()
                retired[stream.streamId, default: []].append((stream.epoch, clock.monotonicNs()))
            }
            stream.regions = regions
            stream.epoch = epoch
            epochFloor[stream.streamId] = epoch
            logger.info("epoch provisioned", metadata: ["stream": "\(stream.streamId)", "epoch": "\(epoch)"])
            return nil
        } catch {
            logger.error("provisioning failed", metadata: ["stream": "\(stream.streamId)", "error": "\(error)"])
            return "\(error)"
        }
    }

    // MARK: Detach, keepalive, expiry

    func handleDetach(_ buffer: UnsafeRawBufferPointer) {
        guard let request = try? DriverSchema.ShmDetachRequestDecoder(decodingHeaderOf: buffer) else {
            counters.malformedMessages &+= 1
            return
        }
        guard let lease = leases[request.leaseId], lease.streamId == request.streamId,
            lease.clientId == request.clientId, lease.role == request.role
        else {
            sendDetachResponse(request.correlationId, .rejected, "unknown or inactive lease \(request.leaseId)")
            return
        }
        counters.detaches &+= 1
        sendDetachResponse(request.correlationId, .ok, "")
        end(lease, by: .detach)
    }

    func handleKeepalive(_ buffer: UnsafeRawBufferPointer) {
        guard let keepalive = try? DriverSchema.ShmLeaseKeepaliveDecoder(decodingHeaderOf: buffer) else {
            counters.malformedMessages &+= 1
            return
        }
        guard var lease = leases[keepalive.leaseId], lease.streamId == keepalive.streamId,
            lease.clientId == keepalive.clientId, lease.role == keepalive.role,
            let next = lease.state.after(.keepalive)
        else {
            counters.keepalivesIgnored &+= 1
            return
        }
        lease.state = next
        lease.expiresAtNs = clock.monotonicNs() &+ leaseGraceNs
        leases[lease.id] = lease
        counters.keepalives &+= 1
    }

    /// Ends a live lease: records its terminal state, frees its node id, publishes `ShmLeaseRevoked` for it (§4.9,
    /// every role and reason), and for a producer bumps the epoch and announces (revocation first, §4.9).
    func end(_ lease: Lease, by event: LeaseEvent, message: String = "") {
        guard let terminal = lease.state.after(event), let reason = terminal.revokeReason else { return }
        leases[lease.id] = nil
        recordEnded(lease.id, terminal)
        if nodeIdsInUse[lease.nodeId] == lease.id { nodeIdsInUse[lease.nodeId] = nil }
        releasePerConsumerStreams(of: lease.id)
        sendRevoked(lease, reason: reason, message: message)
        guard lease.role == .producer else {
            streams[lease.streamId]?.consumerLeaseIds.remove(lease.id)  // in place: no set copy
            logger.info(
                "lease ended",
                metadata: ["lease": "\(lease.id)", "stream": "\(lease.streamId)", "state": "\(terminal.rawValue)"])
            return
        }
        guard var stream = streams[lease.streamId] else { return }
        stream.producerLeaseId = nil
        if runState == .running, let failure = provision(&stream) {
            logger.error("epoch bump after producer loss failed", metadata: ["error": "\(failure)"])
        }
        streams[lease.streamId] = stream
        if runState == .running { announce(lease.streamId) }
        logger.info(
            "lease ended",
            metadata: ["lease": "\(lease.id)", "stream": "\(lease.streamId)", "state": "\(terminal.rawValue)"])
    }

    /// Remembers an ended lease in a bounded history (oldest forgotten first), so the table never grows without end.
    func recordEnded(_ id: UInt64, _ state: LeaseState) {
        endedLeases[id] = state
        if endedOrder.count < Self.endedLeaseHistory {
            endedOrder.append(id)
        } else {
            endedLeases[endedOrder[endedHead]] = nil
            endedOrder[endedHead] = id
            endedHead = (endedHead + 1) % Self.endedLeaseHistory
        }
    }

    /// Revokes a live lease administratively (`REVOKED`).
    public func revoke(leaseId: UInt64, message: String = "revoked by the driver") {
        guard let lease = leases[leaseId] else { return }
        end(lease, by: .revoke, message: message)
    }

    // MARK: Duty cycle

    /// One duty cycle: expire leases whose keepalive deadline passed, announce at the configured cadence (and
    /// refresh activity timestamps), collect old epoch directories, and finish a drain. Returns the work done.
    @discardableResult
    public func doWork() -> Int {
        let now = clock.monotonicNs()
        var work = 0
        if case .draining(let deadline, let reason) = runState {
            if now >= deadline {
                finishShutdown(reason: reason)
                return 1
            }
        }
        if runState == .stopped { return 0 }
        for lease in leases.values where now > lease.expiresAtNs {
            counters.leasesExpired &+= 1
            end(lease, by: .expire, message: "no keepalive within the grace period")
            work += 1
        }
        for (id, stream) in streams where stream.regions != nil && now &- stream.lastAnnounceNs >= announcePeriodNs {
            announce(id)
            work += 1
        }
        if configuration.policies.epochGcEnabled {
            work += collectRetiredEpochs(now: now)
            // A listing sweep for epochs other processes left behind, rarely (it reads every directory).
            if now &- lastGcNs >= announcePeriodNs &* 30 {
                lastGcNs = now
                collectEpochDirectories(force: false)
            }
        }
        return work
    }

    // MARK: Shutdown

    func handleShutdownRequest(_ buffer: UnsafeRawBufferPointer) {
        guard let request = try? DriverSchema.ShmDriverShutdownRequestDecoder(decodingHeaderOf: buffer) else {
            counters.malformedMessages &+= 1
            return
        }
        guard let token = configuration.policies.shutdownToken, !token.isEmpty,
            request.token.elementsEqual(token.utf8)
        else {
            counters.shutdownRequestsRefused &+= 1
            logger.warning("shutdown request ignored: missing or wrong token")
            return
        }
        beginShutdown(reason: request.reason.isKnown ? request.reason : .admin)
    }

    /// Starts an orderly shutdown: refuses new attaches, sends a last announce, and after `shutdown_timeout_ms`
    /// publishes `ShmDriverShutdown` with `reason` (§4.13).
    public func beginShutdown(reason: DriverSchema.ShutdownReason, drainNs: UInt64? = nil) {
        guard runState == .running else { return }
        let drain = drainNs ?? UInt64(configuration.policies.shutdownTimeoutMs) * 1_000_000
        runState = .draining(deadlineNs: clock.monotonicNs() &+ drain, reason: reason)
        logger.notice("driver draining", metadata: ["reason": "\(reason)"])
        for id in streams.keys where streams[id]?.regions != nil { announce(id) }
    }

    func finishShutdown(reason: DriverSchema.ShutdownReason) {
        for lease in leases.values {
            leases[lease.id] = nil
            recordEnded(lease.id, .revoked)
        }
        sendShutdown(reason: reason)
        runState = .stopped
        logger.notice("driver stopped", metadata: ["reason": "\(reason)"])
    }

    /// Unmaps every region; with `unlinkFiles` (cleanup on exit), also removes every epoch directory this driver
    /// process created and the directories above them that are left empty.
    public func close(unlinkFiles: Bool) {
        for (_, stream) in streams {
            stream.regions?.unmap()
            guard unlinkFiles else { continue }
            try? stream.regions?.unlinkFiles()
            let directory = layout.streamDirectory(streamId: stream.streamId)
            for epoch in EpochDirectories.epochs(in: directory) {
                let path = "\(directory)/\(epoch)"
                if EpochDirectories.owner(of: path)?.pid == UInt64(getpid()) {
                    try? FileManager.default.removeItem(atPath: path)
                }
            }
            var parent = directory
            for _ in 0..<3 {  // <stream> / <namespace> / tensorpool-<user>, only when empty
                guard rmdir(parent) == 0 else { break }
                parent = String(parent[..<(parent.lastIndex(of: "/") ?? parent.startIndex)])
            }
        }
    }
}
