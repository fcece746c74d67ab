import ConformanceSupport
import DriverConfig
import Foundation
import SBE
import TensorPoolDriver
import TensorPoolSHM
import TensorPoolWire
import Testing

/// The repository root, from this file's path.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Driver spec §9, §11, §17 and Appendix A: configuration rules, stream-id ranges, filesystem policy, the schema.
@Suite("Driver §9/§11/§17/Appendix A: configuration, ranges, filesystem policy and schema")
struct DriverPolicyConformance {
    static func parse(
        _ toml: String, environment: [String: String] = [:]
    ) throws(ConfigurationError)
        -> DriverConfiguration
    {
        try DriverConfiguration.parse(toml, environment: environment)
    }

    static let minimal = """
        [profiles.p]
        payload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]
        [streams.s]
        stream_id = 10000
        profile = "p"
        """

    @Test(
        "per-consumer streams come from their ranges; without a range the shared stream is used; exhausted is declined",
        .verifies("DRV-11-004", "DRV-11-005", "DRV-11-006", "DRV-11-007", "DRV-11-008"))
    func perConsumerStreams() throws {
        let harness = try DriverHarness(
            extra: "", streams: "[streams.main]\nstream_id = 10000\nprofile = \"small\"")
        let lease = try #require(harness.attach(client: 1, role: .consumer).leaseId)
        // No ranges in this configuration: fall back to the shared streams, and the attach itself stood.
        #expect(
            harness.core.allocatePerConsumerStream(
                .descriptor, leaseId: lease, sharedStreamId: 1100, sharedChannel: "aeron:ipc")
                == .sharedFallback(streamId: 1100, channel: "aeron:ipc"))
        #expect(harness.core.leases[lease] != nil)
        let ranged = try DriverHarness(
            extra: "", streams: "[streams.main]\nstream_id = 10000\nprofile = \"small\"",
            directory: nil,
            driverExtra: "descriptor_stream_id_range = \"31000-31001\"\ncontrol_stream_id_range = \"32000-32000\"")
        let a = try #require(ranged.attach(client: 1, role: .consumer).leaseId)
        let b = try #require(ranged.attach(client: 2, role: .consumer).leaseId)
        let c = try #require(ranged.attach(client: 3, role: .consumer).leaseId)
        #expect(
            ranged.core.allocatePerConsumerStream(.descriptor, leaseId: a, sharedStreamId: 1100, sharedChannel: "")
                == .granted(streamId: 31000))
        #expect(
            ranged.core.allocatePerConsumerStream(.descriptor, leaseId: b, sharedStreamId: 1100, sharedChannel: "")
                == .granted(streamId: 31001))
        #expect(
            ranged.core.allocatePerConsumerStream(.descriptor, leaseId: c, sharedStreamId: 1100, sharedChannel: "")
                == .exhausted)
        #expect(
            ranged.core.allocatePerConsumerStream(.control, leaseId: a, sharedStreamId: 1000, sharedChannel: "")
                == .granted(streamId: 32000))
        #expect(
            ranged.core.allocatePerConsumerStream(.control, leaseId: b, sharedStreamId: 1000, sharedChannel: "")
                == .exhausted)
        // A lease that ends gives its streams back.
        ranged.send(Requests.detach(correlation: 1, lease: a, stream: 10_000, client: 1, role: .consumer))
        #expect(
            ranged.core.allocatePerConsumerStream(.descriptor, leaseId: c, sharedStreamId: 1100, sharedChannel: "")
                == .granted(streamId: 31000))
        #expect(ranged.core.leases[c] != nil, "a declined request left the attach in place")
    }

    @Test(
        "ranges are checked at startup: start ≤ end, no overlap with each other, the driver's streams or static streams",
        .verifies("DRV-11-009", "DRV-11-010", "DRV-11-011", "DRV-11-012", "DRV-11-013", "DRV-11-014"),
        arguments: [
            ("stream_id_range = \"20010-20000\"", "driver.stream_id_range"),
            ("stream_id_range = \"990-1010\"", "driver.stream_id_range"),
            ("stream_id_range = \"9990-10010\"", "driver.stream_id_range"),
            ("descriptor_stream_id_range = \"31000-31999\"\ncontrol_stream_id_range = \"31500-32500\"", "range"),
        ])
    func rangeValidation(_ line: String, _ key: String) throws {
        do {
            _ = try Self.parse("[driver]\n\(line)\n" + Self.minimal)
            Issue.record("\(line) must be refused")
        } catch {
            #expect(error.key.contains(key) || error.message.contains(key) || key == "range", "\(error)")
        }
        _ = try Self.parse("[driver]\nstream_id_range = \"20000-29999\"\n" + Self.minimal)
    }

    @Test(
        "static stream ids alone are a valid deployment",
        .verifies("DRV-11-016"))
    func staticOnly() throws {
        let configuration = try Self.parse(Self.minimal)
        #expect(configuration.driver.streamIdRange == nil && !configuration.policies.allowDynamicStreams)
        #expect(configuration.streams.map(\.streamId) == [10_000])
    }

    @Test(
        "canonical keys and defaults; keepalive 1 s and 3 missed intervals; settings are discoverable in the file",
        .verifies(
            "DRV-17-002", "DRV-4.4-007", "DRV-4.4-008", "DRV-4.4-009", "DRV-4.4-010", "DRV-4.4-011", "DRV-4.4-004"))
    func defaults() throws {
        let configuration = try Self.parse(Self.minimal)
        #expect(configuration.driver.instanceId == "driver-01")
        #expect(configuration.driver.controlChannel == "aeron:ipc?term-length=4m")
        #expect(configuration.driver.controlStreamId == 1000 && configuration.driver.qosStreamId == 1200)
        #expect(configuration.shm.baseDirectory == "/dev/shm/tensorpool" && configuration.shm.permissionsMode == 0o660)
        #expect(configuration.policies.leaseKeepaliveIntervalMs == 1000)
        #expect(configuration.policies.leaseExpiryGraceIntervals == 3)
        #expect(configuration.policies.announcePeriodMs == 1000 && configuration.policies.epochGcKeep == 2)
        #expect(configuration.profiles[0].headerNslots == 1024)
        let tuned = try Self.parse(
            "[policies]\nlease_keepalive_interval_ms = 250\nlease_expiry_grace_intervals = 5\n" + Self.minimal)
        #expect(tuned.policies.leaseKeepaliveIntervalMs == 250 && tuned.policies.leaseExpiryGraceIntervals == 5)
    }

    @Test(
        "environment variables named the Aeron way override the file",
        .verifies("DRV-17-003", "DRV-17-004"))
    func environment() throws {
        let configuration = try Self.parse(
            "[driver]\ncontrol_stream_id = 1000\n" + Self.minimal,
            environment: ["DRIVER_CONTROL_STREAM_ID": "4000", "POLICIES_ANNOUNCE_PERIOD_MS": "250"])
        #expect(configuration.driver.controlStreamId == 4000 && configuration.policies.announcePeriodMs == 250)
    }

    @Test(
        "keys beyond the canonical set are supported (shm.namespace)",
        .verifies("DRV-17-001", "DRV-15-002"))
    func extraKeys() throws {
        let configuration = try Self.parse("[shm]\nnamespace = \"lab1\"\n" + Self.minimal)
        #expect(configuration.shm.namespace == "lab1")
        let directory = "/dev/shm/tp-conf-drv-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let harness = try DriverHarness(directory: directory, shmExtra: "namespace = \"lab1\"")
        let response = harness.attach(client: 1, role: .consumer)
        #expect(response.headerRegionURI.contains("/lab1/10000/"), "\(response.headerRegionURI)")
    }

    @Test(
        "profiles: at least one; unique pool ids; explicit streams when dynamic streams are off",
        .verifies("DRV-17-005", "DRV-17-012", "DRV-17-007"))
    func profileRules() throws {
        #expect(throws: ConfigurationError.self) { try Self.parse("[streams.s]\nstream_id = 1\nprofile = \"p\"\n") }
        #expect(throws: ConfigurationError.self) {
            try Self.parse(
                """
                [profiles.p]
                payload_pools = [ { pool_id = 1, stride_bytes = 4096 }, { pool_id = 1, stride_bytes = 8192 } ]
                [streams.s]
                stream_id = 10000
                profile = "p"
                """)
        }
        #expect(throws: ConfigurationError.self) {
            try Self.parse("[profiles.p]\npayload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n")
        }
    }

    @Test(
        "the driver confines files to the permitted base directories and uses only regular files it creates",
        .verifies("DRV-9-001", "DRV-9-002", "DRV-9-003", "DRV-9-004", "DRV-4.6-005"))
    func filesystemPolicy() throws {
        #expect(throws: ConfigurationError.self) {
            try Self.parse("[shm]\nbase_dir = \"/dev/shm/a\"\nallowed_base_dirs = [\"/dev/shm/b\"]\n" + Self.minimal)
        }
        let harness = try DriverHarness()
        let first = harness.attach(client: 1, role: .consumer)
        let regions = try StreamRegions.map(
            first.announce, policy: try PathPolicy(allowedBaseDirectories: [harness.directory]))
        #expect(regions.isMapped, "what the driver created passes the consumer's containment checks")
        // A directory planted where the next epoch's header ring goes: the driver refuses to use it.
        let clock = harness.clock
        let next = max(first.epoch! + 1, clock.realtime)
        let layout = try ShmPathLayout(baseDirectory: harness.directory, namespace: "default")
        try FileManager.default.createDirectory(
            atPath: layout.headerRingPath(streamId: 10_000, epoch: next) + "/x", withIntermediateDirectories: true)
        let producer = harness.attach(client: 2, role: .producer)
        #expect(producer.code == .internalError && producer.errorMessage.contains("failed to provision"))
        #expect(harness.core.streams[10_000]?.producerLeaseId == nil)
    }

    @Test(
        "the epoch garbage collector removes old epoch directories, keeping the current one and the newest N",
        .verifies("WIRE-15.21-041"))
    func epochGC() throws {
        let harness = try DriverHarness(policiesExtra: "epoch_gc_keep = 2\nepoch_gc_min_age_ns = 1000000")
        var epochs: [UInt64] = []
        for client: UInt32 in 1...5 {
            let response = harness.attach(client: client, role: .producer)
            epochs.append(try #require(response.epoch))
            harness.send(
                Requests.detach(
                    correlation: 1, lease: response.leaseId!, stream: 10_000, client: client, role: .producer))
            harness.clock.advance(ms: 10)
        }
        harness.clock.advance(ms: 500)
        harness.core.doWork()
        let layout = try ShmPathLayout(baseDirectory: harness.directory, namespace: "default")
        let left = try FileManager.default.contentsOfDirectory(atPath: layout.streamDirectory(streamId: 10_000))
            .compactMap(UInt64.init).sorted()
        let current = try #require(harness.core.streams[10_000]?.epoch)
        #expect(left.count == 2 && left.last == current, "current plus one more: \(left)")
        #expect(harness.core.counters.epochDirectoriesCollected >= 4)
    }

    @Test(
        "schema 901: id, version, template ids and enum values as Appendix A lists them",
        .verifies("DRV-A-001", "DRV-A-003", "DRV-4.2-025"))
    func schemaIdentity() {
        #expect(DriverSchema.id == 901 && DriverSchema.version == 1)
        #expect(
            DriverSchema.ShmAttachRequestDecoder.templateId == 1
                && DriverSchema.ShmAttachResponseDecoder.templateId == 2)
        #expect(
            DriverSchema.ShmDetachRequestDecoder.templateId == 3
                && DriverSchema.ShmDetachResponseDecoder.templateId == 4)
        #expect(
            DriverSchema.ShmLeaseKeepaliveDecoder.templateId == 5
                && DriverSchema.ShmDriverShutdownDecoder.templateId == 6)
        #expect(
            DriverSchema.ShmLeaseRevokedDecoder.templateId == 7
                && DriverSchema.ShmDriverShutdownRequestDecoder.templateId == 8)
        #expect(DriverSchema.HugepagesPolicy.knownValues.map(\.rawValue) == [0, 1, 2])
        #expect(DriverSchema.ResponseCode.knownValues.map(\.rawValue) == [0, 1, 2, 3, 4])
        #expect(DriverSchema.Role.knownValues.map(\.rawValue) == [1, 2])
        #expect(DriverSchema.PublishMode.knownValues.map(\.rawValue) == [1, 2])
        #expect(DriverSchema.LeaseRevokeReason.knownValues.map(\.rawValue) == [1, 2, 3])
        #expect(DriverSchema.ShutdownReason.knownValues.map(\.rawValue) == [0, 1, 2])
        #expect(!DriverSchema.PublishMode.knownValues.contains(DriverSchema.PublishMode.nullValue))
    }

    @Test(
        "optional fields declare null values and are encoded as them when absent; var data is never optional",
        .verifies("DRV-4.2-021", "DRV-4.2-024", "DRV-4.2-026", "DRV-A-002"))
    func schemaPresence() throws {
        let xml = try String(
            contentsOf: repositoryRoot.appendingPathComponent("Specs/schemas/driver.xml"), encoding: .utf8)
        let optional = xml.split(separator: "\n").filter { $0.contains("presence=\"optional\"") }
        #expect(optional.count == 10 && optional.allSatisfy { $0.contains("nullValue=") })
        #expect(!xml.split(separator: "\n").contains { $0.contains("<data") && $0.contains("presence") })
        let request = Requests.attach(correlation: 1, stream: 1, client: 1, role: .consumer, publishMode: nil)
        #expect(request[8 + 21] == 255, "publishMode absent = 255")
        #expect(request.count == 8 + 27 && DriverSchema.ShmAttachRequestDecoder.blockLength == 27)
    }
}
