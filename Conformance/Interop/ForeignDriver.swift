import Aeron
import Agents
import Foundation
import SBE
import Synchronization
import TensorPoolSHM
import TensorPoolWire
import TestProcesses

/// A driver that does what the peers' drivers put on the wire and in SHM where our own driver differs, written from
/// the specs and the observed interop facts (not from any peer's code):
///
/// - superblock `start_timestamp_ns` and `activity_timestamp_ns` on CLOCK_MONOTONIC, written once at creation and
///   never refreshed (the driver leaves liveness to the producer, DRV-3-011);
/// - pool superblocks with `slot_bytes` = 0xFFFFFFFF (its null) and `stride_bytes` = the stride;
/// - region URIs spelled `shm:file?path=…|require_hugepages=false`;
/// - lease ids of its own (a large base, counting up) and lease expiries on CLOCK_MONOTONIC;
/// - the stream's regions provisioned at start, so a consumer can join before any producer; the first producer gets
///   the current epoch, a detached producer's successor a new one (DRV-6-004, DRV-7-003);
/// - `ShmPoolAnnounce` every `announcePeriod` with a MONOTONIC timestamp.
///
/// It serves one stream on its own control and announce streams of the shared embedded media driver, on a thread of
/// its own. `timestamps: .realtime` stamps the superblocks with CLOCK_REALTIME instead: a region as a client on the
/// wrong clock would see it.
final class ForeignDriver: @unchecked Sendable {
    /// The clock the superblock timestamps are taken from.
    enum SuperblockClock { case monotonic, realtime }

    static let leaseIdBase: UInt64 = 0x7E57_0000_0000_0000

    private let core: Core
    private let runner: AgentRunner<Core, BackoffIdleStrategy>

    /// The stream served.
    var streamId: UInt32 { core.streamId }
    /// The announce period in nanoseconds.
    var announcePeriodNs: UInt64 { core.announcePeriodNs }
    /// The base directory the regions live under (what clients must allow).
    var baseDirectory: String { core.baseDirectory }
    /// The control stream (requests and answers).
    let controlStream: Int32
    /// The announce stream.
    let announceStream: Int32

    init(
        streamId: UInt32 = 10_000, headerNslots: UInt32 = 16,
        pools: [(poolId: UInt16, strideBytes: UInt32)] = [(1, 4_096)],
        announcePeriod: Duration = .milliseconds(200), superblockClock: SuperblockClock = .monotonic
    ) throws {
        let (seconds, attoseconds) = announcePeriod.components
        let baseDirectory = "/dev/shm/tp-conf-foreign-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: baseDirectory, withIntermediateDirectories: true)
        controlStream = TestMediaDriver.uniqueStreamId()
        announceStream = TestMediaDriver.uniqueStreamId()
        core = try Core(
            streamId: streamId, headerNslots: headerNslots, pools: pools,
            announcePeriodNs: UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000),
            superblockClock: superblockClock, baseDirectory: baseDirectory, controlStream: controlStream,
            announceStream: announceStream)
        runner = AgentRunner(agent: core, idleStrategy: BackoffIdleStrategy(), errorHandler: { _ in })
        runner.start()
    }

    deinit {
        _ = runner.close(timeout: TestTiming.hangGuard)
        try? FileManager.default.removeItem(atPath: baseDirectory)
    }

    /// What the driver has done so far.
    struct Snapshot {
        var epoch: UInt64
        /// When the current epoch's regions were created and last stamped by this driver (it never stamps again).
        var regionsStampedNs: UInt64
        var headerPath: String
        var poolPaths: [String]
        var producerClientId: UInt32?
        var attaches: Int
        var keepalives: Int
        var detaches: Int
        var announces: Int
        var leaseIds: [UInt64]
    }

    var snapshot: Snapshot { core.state.withLock { $0 } }

    /// Reads the header ring's superblock as it is in the file now.
    func headerSuperblock() throws -> Superblock { try Self.superblock(at: snapshot.headerPath) }

    /// Reads the superblock of the region file at `path` as it is now.
    static func superblock(at path: String) throws -> Superblock {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try data.withUnsafeBytes { bytes in try Superblock(decoding: bytes) }
    }

    /// The driver's duty cycle: the agent on the fixture's thread.
    final class Core: Agent, @unchecked Sendable {
        let roleName = "foreign-driver"
        let streamId: UInt32
        let headerNslots: UInt32
        let pools: [(poolId: UInt16, strideBytes: UInt32)]
        let announcePeriodNs: UInt64
        let superblockClock: SuperblockClock
        let baseDirectory: String
        let aeron: AeronClient
        let requests: Subscription
        let responses: Publication
        let announcePublication: Publication
        let state: Mutex<Snapshot>
        var regions: [MappedRegion] = []
        var poolURIs: [String] = []
        var headerURI = ""
        var epoch: UInt64 = 0
        var producer: (leaseId: UInt64, clientId: UInt32)?
        var nextLeaseId = ForeignDriver.leaseIdBase
        var lastAnnounceNs: UInt64 = 0
        var scratch = [UInt8](repeating: 0, count: 4_096)

        init(
            streamId: UInt32, headerNslots: UInt32, pools: [(poolId: UInt16, strideBytes: UInt32)],
            announcePeriodNs: UInt64, superblockClock: SuperblockClock, baseDirectory: String, controlStream: Int32,
            announceStream: Int32
        ) throws {
            self.streamId = streamId
            self.headerNslots = headerNslots
            self.pools = pools
            self.announcePeriodNs = announcePeriodNs
            self.superblockClock = superblockClock
            self.baseDirectory = baseDirectory
            aeron = try TestMediaDriver.client()
            requests = try aeron.addSubscription(channel: "aeron:ipc?term-length=4m", streamId: controlStream)
            responses = try aeron.addPublication(channel: "aeron:ipc?term-length=4m", streamId: controlStream)
            announcePublication = try aeron.addPublication(
                channel: "aeron:ipc?term-length=4m", streamId: announceStream)
            state = Mutex(
                Snapshot(
                    epoch: 0, regionsStampedNs: 0, headerPath: "", poolPaths: [], producerClientId: nil, attaches: 0,
                    keepalives: 0,
                    detaches: 0, announces: 0, leaseIds: []))
            try provision(after: 0)
        }

        static func monotonicNs() -> UInt64 { UInt64(MonotonicClock.now()) }

        /// Creates the files of a new epoch: clock-derived and above every earlier one, as the peers do.
        func provision(after previous: UInt64) throws {
            for region in regions { region.unmap() }
            regions = []
            epoch = max(previous &+ 1, Self.monotonicNs())
            let stamp = superblockClock == .monotonic ? Self.monotonicNs() : UInt64(EpochNanoClock.now())
            let user = ShmPathLayout.sanitizeUser(ShmPathLayout.effectiveUserName())
            let directory = "\(baseDirectory)/tensorpool-\(user)/default/\(streamId)/\(epoch)"
            let headerPath = directory + "/header.ring"
            let header = try MappedRegion.create(
                path: headerPath, size: ShmLayout.headerRingSize(nslots: Int(headerNslots)),
                privateRoot: baseDirectory)
            try Superblock(
                epoch: epoch, streamId: streamId, regionType: .headerRing, poolId: 0, nslots: headerNslots,
                slotBytes: UInt32(ShmLayout.headerSlotBytes), strideBytes: 0, pid: UInt64(getpid()),
                startTimestampNs: stamp, activityTimestampNs: stamp
            ).write(to: header.mutableBytes)
            try header.sync()
            regions.append(header)
            headerURI = "shm:file?path=\(headerPath)|require_hugepages=false"
            poolURIs = []
            var poolPaths: [String] = []
            for pool in pools {
                let path = "\(directory)/\(pool.poolId).pool"
                let region = try MappedRegion.create(
                    path: path,
                    size: ShmLayout.payloadPoolSize(nslots: Int(headerNslots), strideBytes: Int(pool.strideBytes)),
                    privateRoot: baseDirectory)
                try Superblock(
                    epoch: epoch, streamId: streamId, regionType: .payloadPool, poolId: pool.poolId,
                    nslots: headerNslots, slotBytes: 0xFFFF_FFFF, strideBytes: pool.strideBytes, pid: UInt64(getpid()),
                    startTimestampNs: stamp, activityTimestampNs: stamp
                ).write(to: region.mutableBytes)
                try region.sync()
                regions.append(region)
                poolURIs.append("shm:file?path=\(path)|require_hugepages=false")
                poolPaths.append(path)
            }
            state.withLock {
                $0.epoch = epoch
                $0.regionsStampedNs = stamp
                $0.headerPath = headerPath
                $0.poolPaths = poolPaths
            }
            lastAnnounceNs = 0  // announce the new epoch at once
        }

        func doWork() throws -> Int {
            var work = requests.poll(fragmentLimit: 16) { buffer, _ in self.onRequest(buffer) }
            let now = Self.monotonicNs()
            if now &- lastAnnounceNs >= announcePeriodNs {
                lastAnnounceNs = now
                announce(now: now)
                work += 1
            }
            return work
        }

        func onClose() {
            for region in regions { region.unmap() }
            aeron.close()
        }

        /// Driver-schema requests only: the control stream also carries the clients' hellos and QoS (schema 900,
        /// whose template ids overlap), and this driver's own answers.
        func onRequest(_ buffer: UnsafeRawBufferPointer) {
            guard let header = try? MessageHeader(decoding: buffer, at: 0), header.schemaId == DriverSchema.id else {
                return
            }
            switch header.templateId {
            case DriverSchema.ShmAttachRequestDecoder.templateId:
                guard let request = try? DriverSchema.ShmAttachRequestDecoder(decodingHeaderOf: buffer) else { return }
                attach(request)
            case DriverSchema.ShmDetachRequestDecoder.templateId:
                guard let request = try? DriverSchema.ShmDetachRequestDecoder(decodingHeaderOf: buffer) else { return }
                detach(request)
            case DriverSchema.ShmLeaseKeepaliveDecoder.templateId:
                state.withLock { $0.keepalives += 1 }
            default: return
            }
        }

        func attach(_ request: DriverSchema.ShmAttachRequestDecoder) {
            let correlation = request.correlationId
            guard request.streamId == streamId else {
                return respond(correlation, code: .rejected, leaseId: nil, message: "unknown stream")
            }
            if request.role == .producer && producer != nil {
                return respond(correlation, code: .rejected, leaseId: nil, message: "producer already attached")
            }
            let leaseId = nextLeaseId
            nextLeaseId &+= 1
            if request.role == .producer {
                producer = (leaseId, request.clientId)
                lastAnnounceNs = 0  // the announce names the producer at once
            }
            state.withLock {
                $0.attaches += 1
                $0.leaseIds.append(leaseId)
                $0.producerClientId = producer?.clientId
            }
            respond(correlation, code: .ok, leaseId: leaseId, message: "")
        }

        func detach(_ request: DriverSchema.ShmDetachRequestDecoder) {
            if let producer, producer.leaseId == request.leaseId {
                self.producer = nil
                try? provision(after: epoch)  // a producer's detach ends its epoch
            }
            state.withLock {
                $0.detaches += 1
                $0.producerClientId = producer?.clientId
            }
            let correlation = request.correlationId
            encode(on: responses) { buffer in
                var encoder = try DriverSchema.ShmDetachResponseEncoder.wrapAndApplyHeader(buffer)
                encoder.correlationId = correlation
                encoder.code = .ok
                try encoder.errorMessage("")
                return MessageHeader.encodedLength + encoder.encodedLength
            }
        }

        func respond(_ correlation: Int64, code: DriverSchema.ResponseCode, leaseId: UInt64?, message: String) {
            let ok = code == .ok
            let expiry = Self.monotonicNs() &+ UInt64(TestTiming.leaseExpiry.components.seconds) * 1_000_000_000
            encode(on: responses) { buffer in
                var encoder = try DriverSchema.ShmAttachResponseEncoder.wrapAndApplyHeader(buffer)
                encoder.correlationId = correlation
                encoder.code = code
                encoder.leaseId = leaseId
                encoder.leaseExpiryTimestampNs = ok ? expiry : nil
                encoder.streamId = ok ? streamId : nil
                encoder.epoch = ok ? epoch : nil
                encoder.layoutVersion = ok ? ShmLayout.layoutVersion : nil
                encoder.headerNslots = ok ? headerNslots : nil
                encoder.headerSlotBytes = ok ? UInt16(ShmLayout.headerSlotBytes) : nil
                encoder.nodeId = nil
                let pools = ok ? self.pools : []
                let uris = poolURIs
                try encoder.payloadPools(count: pools.count) { index, entry in
                    entry.poolId = pools[index].poolId
                    entry.poolNslots = headerNslots
                    entry.strideBytes = pools[index].strideBytes
                    try entry.regionUri(uris[index])
                }
                try encoder.headerRegionUri(ok ? headerURI : "")
                try encoder.errorMessage(message)
                return MessageHeader.encodedLength + encoder.encodedLength
            }
        }

        func announce(now: UInt64) {
            let producerId = producer?.clientId ?? 0
            let uris = poolURIs
            let sent = encode(on: announcePublication) { buffer in
                var encoder = try WireSchema.ShmPoolAnnounceEncoder.wrapAndApplyHeader(buffer)
                encoder.streamId = streamId
                encoder.producerId = producerId
                encoder.epoch = epoch
                encoder.announceTimestampNs = now
                encoder.announceClockDomain = .monotonic
                encoder.layoutVersion = ShmLayout.layoutVersion
                encoder.headerNslots = headerNslots
                encoder.headerSlotBytes = UInt16(ShmLayout.headerSlotBytes)
                try encoder.payloadPools(count: pools.count) { index, entry in
                    entry.poolId = pools[index].poolId
                    entry.poolNslots = headerNslots
                    entry.strideBytes = pools[index].strideBytes
                    try entry.regionUri(uris[index])
                }
                try encoder.headerRegionUri(headerURI)
                return MessageHeader.encodedLength + encoder.encodedLength
            }
            if sent { state.withLock { $0.announces += 1 } }
        }

        /// Encodes a message into the scratch buffer and offers it, retrying back pressure briefly; a stream with
        /// no subscriber drops it.
        @discardableResult
        func encode(on publication: Publication, _ body: (UnsafeMutableRawBufferPointer) throws -> Int) -> Bool {
            scratch.withUnsafeMutableBytes { buffer in
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
        }
    }
}
