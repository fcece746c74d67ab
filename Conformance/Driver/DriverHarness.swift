import DriverConfig
import Foundation
import Logging
import SBE
import TensorPoolDriver
import TensorPoolSHM
import TensorPoolWire

/// Captures what the driver sends, as decoded messages, instead of publishing on Aeron.
final class CapturedOutput: DriverOutput {
    var control: [[UInt8]] = []
    var announces: [[UInt8]] = []
    var accept = true

    func sendControl(_ message: UnsafeRawBufferPointer) -> Bool {
        control.append(Array(message))
        return accept
    }

    func sendAnnounce(_ message: UnsafeRawBufferPointer) -> Bool {
        announces.append(Array(message))
        return accept
    }

    /// Both streams in send order is not kept; `all` merges control messages then announces.
    func clear() {
        control.removeAll()
        announces.removeAll()
    }
}

/// A clock the test moves by hand. `monotonic` is the clock of every timestamp and deadline the driver writes or
/// compares; `realtime` (the epoch clock) only seeds epochs. The two are far apart, as on a real host (seconds since
/// boot against nanoseconds since 1970), so a field stamped from the wrong one shows.
final class ManualDriverClock: DriverClock {
    var monotonic: UInt64 = 1_000_000_000
    var realtime: UInt64 = 1_800_000_000_000_000_000

    func monotonicNs() -> UInt64 { monotonic }
    func epochClockNs() -> UInt64 { realtime }

    func advance(ms: UInt64) {
        monotonic += ms * 1_000_000
        realtime += ms * 1_000_000
    }
}

/// A decoded driver message, for assertions.
enum DriverMessage {
    case attach(AttachResponse)
    case detach(correlation: Int64, code: DriverSchema.ResponseCode, message: String)
    case revoked(
        leaseId: UInt64, streamId: UInt32, clientId: UInt32, role: DriverSchema.Role,
        reason: DriverSchema.LeaseRevokeReason)
    case shutdown(reason: DriverSchema.ShutdownReason)
    case other(schema: UInt16, template: UInt16)
}

/// The fields of an attach response.
struct AttachResponse {
    var correlationId: Int64
    var code: DriverSchema.ResponseCode
    var leaseId: UInt64?
    var leaseExpiryTimestampNs: UInt64?
    var streamId: UInt32?
    var epoch: UInt64?
    var layoutVersion: UInt32?
    var headerNslots: UInt32?
    var headerSlotBytes: UInt16?
    var nodeId: UInt32?
    var pools: [RegionAnnounce.Pool]
    var headerRegionURI: String
    var errorMessage: String
    var raw: [UInt8]

    var announce: RegionAnnounce {
        RegionAnnounce(
            streamId: streamId ?? 0, epoch: epoch ?? 0, layoutVersion: layoutVersion ?? 0,
            headerNslots: headerNslots ?? 0, headerSlotBytes: headerSlotBytes ?? 0, headerRegionURI: headerRegionURI,
            pools: pools)
    }
}

func decodeDriverMessage(_ bytes: [UInt8]) -> DriverMessage {
    bytes.withUnsafeBytes { buffer -> DriverMessage in
        guard let header = try? MessageHeader(decoding: buffer, at: 0) else { return .other(schema: 0, template: 0) }
        guard header.schemaId == DriverSchema.id else {
            return .other(schema: header.schemaId, template: header.templateId)
        }
        switch header.templateId {
        case 2:
            let decoder = try! DriverSchema.ShmAttachResponseDecoder(decodingHeaderOf: buffer)
            var pools: [RegionAnnounce.Pool] = []
            var group = decoder.payloadPools
            while group.next() {
                pools.append(
                    RegionAnnounce.Pool(
                        poolId: group.poolId, nslots: group.poolNslots, strideBytes: group.strideBytes,
                        regionURI: group.regionUriString))
            }
            return .attach(
                AttachResponse(
                    correlationId: decoder.correlationId, code: decoder.code, leaseId: decoder.leaseId,
                    leaseExpiryTimestampNs: decoder.leaseExpiryTimestampNs, streamId: decoder.streamId,
                    epoch: decoder.epoch, layoutVersion: decoder.layoutVersion, headerNslots: decoder.headerNslots,
                    headerSlotBytes: decoder.headerSlotBytes, nodeId: decoder.nodeId, pools: pools,
                    headerRegionURI: decoder.headerRegionUriString, errorMessage: decoder.errorMessageString,
                    raw: bytes))
        case 4:
            let decoder = try! DriverSchema.ShmDetachResponseDecoder(decodingHeaderOf: buffer)
            return .detach(
                correlation: decoder.correlationId, code: decoder.code, message: decoder.errorMessageString)
        case 6:
            let decoder = try! DriverSchema.ShmDriverShutdownDecoder(decodingHeaderOf: buffer)
            return .shutdown(reason: decoder.reason)
        case 7:
            let decoder = try! DriverSchema.ShmLeaseRevokedDecoder(decodingHeaderOf: buffer)
            return .revoked(
                leaseId: decoder.leaseId, streamId: decoder.streamId, clientId: decoder.clientId, role: decoder.role,
                reason: decoder.reason)
        default:
            return .other(schema: header.schemaId, template: header.templateId)
        }
    }
}

/// Builders of the requests a client sends.
enum Requests {
    static func encode(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 1024)
        let length = try! bytes.withUnsafeMutableBytes { try body($0) }
        return Array(bytes[0..<length])
    }

    static func attach(
        correlation: Int64, stream: UInt32, client: UInt32, role: DriverSchema.Role,
        publishMode: DriverSchema.PublishMode? = nil, hugepages: DriverSchema.HugepagesPolicy = .unspecified,
        expectedLayoutVersion: UInt32 = 0, desiredNodeId: UInt32? = nil
    ) -> [UInt8] {
        encode { buffer in
            let encoder = try DriverSchema.ShmAttachRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = correlation
            encoder.streamId = stream
            encoder.clientId = client
            encoder.role = role
            encoder.expectedLayoutVersion = expectedLayoutVersion
            encoder.publishMode = publishMode
            encoder.requireHugepages = hugepages
            encoder.desiredNodeId = desiredNodeId
            return 8 + encoder.encodedLength
        }
    }

    static func detach(
        correlation: Int64, lease: UInt64, stream: UInt32, client: UInt32, role: DriverSchema.Role
    )
        -> [UInt8]
    {
        encode { buffer in
            let encoder = try DriverSchema.ShmDetachRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = correlation
            encoder.leaseId = lease
            encoder.streamId = stream
            encoder.clientId = client
            encoder.role = role
            return 8 + encoder.encodedLength
        }
    }

    static func keepalive(lease: UInt64, stream: UInt32, client: UInt32, role: DriverSchema.Role) -> [UInt8] {
        encode { buffer in
            let encoder = try DriverSchema.ShmLeaseKeepaliveEncoder.wrapAndApplyHeader(buffer)
            encoder.leaseId = lease
            encoder.streamId = stream
            encoder.clientId = client
            encoder.role = role
            encoder.clientTimestampNs = 1
            return 8 + encoder.encodedLength
        }
    }

    static func shutdown(token: String, reason: DriverSchema.ShutdownReason = .admin) -> [UInt8] {
        encode { buffer in
            var encoder = try DriverSchema.ShmDriverShutdownRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = 77
            encoder.reason = reason
            try encoder.token(token)
            try encoder.errorMessage("")
            return 8 + encoder.encodedLength
        }
    }
}

/// A driver core on a private SHM base directory, a captured output and a manual clock.
final class DriverHarness {
    let directory: String
    let output = CapturedOutput()
    let clock: ManualDriverClock
    let core: DriverCore
    let configuration: DriverConfiguration

    /// The lease timings of the manual-clock harness: a 300 ms lease, which only `clock.advance` ever reaches.
    static let manualClockLeasePolicies = "lease_keepalive_interval_ms = 100\nlease_expiry_grace_intervals = 3\n"

    /// The harness configuration. `leasePolicies` defaults to the manual-clock timings; a driver on a real clock
    /// passes ``TestTiming/leasePolicies`` so a descheduled test process keeps its leases.
    static func toml(
        directory: String, extra: String = "", streams: String? = nil, driverExtra: String = "", shmExtra: String = "",
        leasePolicies: String = manualClockLeasePolicies
    ) -> String {
        """
        [driver]
        instance_id = "conformance"
        stream_id_range = "20000-20009"
        \(driverExtra)
        [shm]
        base_dir = "\(directory)"
        \(shmExtra)
        [policies]
        announce_period_ms = 100
        \(leasePolicies)
        prefault_shm = false
        shutdown_token = "secret"
        shutdown_timeout_ms = 200
        \(extra)
        [profiles.small]
        header_nslots = 8
        payload_pools = [ { pool_id = 1, stride_bytes = 1024 }, { pool_id = 2, stride_bytes = 65536 } ]
        \(streams ?? "[streams.main]\nstream_id = 10000\nprofile = \"small\"")
        """
    }

    /// A driver core on `clock` (read from construction on: configured streams are provisioned at once).
    init(
        extra: String = "", streams: String? = nil, directory: String? = nil, driverExtra: String = "",
        shmExtra: String = "", policiesExtra: String = "", clock: ManualDriverClock = ManualDriverClock()
    ) throws {
        self.clock = clock
        let directory = directory ?? "/dev/shm/tp-conf-drv-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.directory = directory
        configuration = try DriverConfiguration.parse(
            Self.toml(
                directory: directory, extra: extra + "\n" + policiesExtra, streams: streams, driverExtra: driverExtra,
                shmExtra: shmExtra))
        var logger = Logger(label: "conformance.driver")
        logger.logLevel = .critical
        core = try DriverCore(configuration: configuration, output: output, clock: clock, logger: logger)
    }

    deinit {
        core.close(unlinkFiles: false)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Sends a request and returns the control messages it produced.
    @discardableResult
    func send(_ request: [UInt8]) -> [DriverMessage] {
        let before = output.control.count
        request.withUnsafeBytes { core.onControlMessage($0) }
        return output.control[before...].map(decodeDriverMessage)
    }

    /// Attaches and returns the response.
    func attach(
        correlation: Int64 = Int64.random(in: 1...Int64.max), stream: UInt32 = 10_000, client: UInt32,
        role: DriverSchema.Role, publishMode: DriverSchema.PublishMode? = nil,
        hugepages: DriverSchema.HugepagesPolicy = .unspecified, expectedLayoutVersion: UInt32 = 0,
        desiredNodeId: UInt32? = nil
    ) -> AttachResponse {
        let messages = send(
            Requests.attach(
                correlation: correlation, stream: stream, client: client, role: role, publishMode: publishMode,
                hugepages: hugepages, expectedLayoutVersion: expectedLayoutVersion, desiredNodeId: desiredNodeId))
        for message in messages {
            if case .attach(let response) = message { return response }
        }
        fatalError("no attach response")
    }

    /// The decoded announces sent so far.
    var announces: [RegionAnnounce] {
        output.announces.map { bytes in
            bytes.withUnsafeBytes { RegionAnnounce(try! WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: $0)) }
        }
    }
}
