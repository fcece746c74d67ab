import ConformanceSupport
import DriverConfig
import Foundation
import SBE
import TensorPoolDriver
import TensorPoolSHM
import TensorPoolWire
import Testing

/// Driver spec §3–§8 and §10: the driver's answers, leases and epochs, driven in process through ``DriverCore``.
@Suite("Driver §3–§8: attach, leases, epochs and announces")
struct DriverCoreConformance {
    @Test(
        "an OK attach carries lease, stream, epoch, layout, 256-byte slots, every pool and URI, and the correlation id",
        .verifies(
            "DRV-4.2-001", "DRV-4.2-012", "DRV-4.2-013", "DRV-4.2-014", "DRV-4.2-015", "DRV-4.2-022", "DRV-4.2-029",
            "DRV-4.2-033", "DRV-4.2-038", "DRV-4.6-001", "DRV-4.1-001", "DRV-4.1-002", "DRV-4.1-003", "DRV-4.3-002",
            "DRV-3-002", "DRV-3-009", "DRV-2.3-001", "DRV-15-001"))
    func okResponse() throws {
        let harness = try DriverHarness()
        let response = harness.attach(correlation: 4242, client: 7, role: .consumer)
        #expect(response.correlationId == 4242 && response.code == .ok)
        #expect(response.leaseId != nil && response.streamId == 10_000 && response.epoch != nil)
        #expect(response.layoutVersion == ShmLayout.layoutVersion && response.headerNslots == 8)
        #expect(response.headerSlotBytes == 256 && response.errorMessage.isEmpty)
        #expect(response.pools.map(\.poolId) == [1, 2] && response.pools.allSatisfy { $0.nslots == 8 })
        for uri in [response.headerRegionURI] + response.pools.map(\.regionURI) {
            let parsed = try RegionURI(parsing: uri)
            #expect(parsed.path.hasPrefix(harness.directory + "/tensorpool-"), "canonical layout under the base")
        }
        // The regions are real, valid and mappable by a consumer through exactly these URIs.
        let regions = try StreamRegions.map(
            response.announce, policy: try PathPolicy(allowedBaseDirectories: [harness.directory]))
        #expect(regions.epoch == response.epoch)
        let lease = try #require(harness.core.leases[response.leaseId!])
        #expect(lease.streamId == 10_000 && lease.role == .consumer && lease.state == .attached)
    }

    @Test(
        "a refused attach carries the correlation id, the code, a diagnostic and null optional fields",
        .verifies(
            "DRV-4.2-019", "DRV-4.2-020", "DRV-4.2-023", "DRV-4.2-027", "DRV-4.2-008", "DRV-4.3-003", "DRV-4.6-004"))
    func refusedResponse() throws {
        let harness = try DriverHarness()
        let response = harness.attach(correlation: 99, stream: 12_345, client: 7, role: .consumer)
        #expect(response.correlationId == 99 && response.code == .rejected && !response.errorMessage.isEmpty)
        #expect(response.leaseId == nil && response.epoch == nil && response.streamId == nil && response.nodeId == nil)
        #expect(response.headerSlotBytes == nil && response.pools.isEmpty && response.headerRegionURI.isEmpty)
        // The null encodings on the wire: leaseId is all ones (offset 8 + 12 in the block).
        #expect(response.raw.withUnsafeBytes { SBEBuffer.load($0.baseAddress!, 8 + 12, as: UInt64.self) } == .max)
        #expect(harness.core.leases.isEmpty)
    }

    @Test(
        "error texts are capped at 1024 bytes",
        .verifies("DRV-4.2-040", "DRV-4.2-041"))
    func errorTextCap() {
        let long = String(repeating: "é", count: 900)  // 1800 bytes
        let cut = truncatedErrorMessage(long)
        #expect(cut.utf8.count <= 1024 && cut.utf8.count >= 1023 && long.hasPrefix(cut))
        #expect(truncatedErrorMessage("short") == "short")
    }

    @Test(
        "a second producer on a stream is refused; any number of consumers may attach",
        .verifies("DRV-5-001", "DRV-5-002", "DRV-5-003", "DRV-4.6-004"))
    func exclusiveProducer() throws {
        let harness = try DriverHarness()
        #expect(harness.attach(client: 1, role: .producer).code == .ok)
        let second = harness.attach(client: 2, role: .producer)
        #expect(second.code == .rejected && second.errorMessage.contains("producer already attached"))
        for client: UInt32 in 10..<20 { #expect(harness.attach(client: client, role: .consumer).code == .ok) }
        #expect(harness.core.leases.values.filter { $0.role == .producer }.count == 1)
    }

    @Test(
        "a producer attaching to a stream without one increments the epoch; consumers do not",
        .verifies("DRV-6-001", "DRV-3-005", "DRV-4.4-006"))
    func producerAttachBumpsEpoch() throws {
        let harness = try DriverHarness()
        let consumer = harness.attach(client: 5, role: .consumer)
        let producer = harness.attach(client: 1, role: .producer)
        #expect(try #require(producer.epoch) > consumer.epoch!)
        let another = harness.attach(client: 6, role: .consumer)
        #expect(another.epoch == producer.epoch)
    }

    @Test(
        "detach, expiry and revocation of a producer each increment the epoch, revoke first, then announce",
        .verifies(
            "DRV-6-002", "DRV-6-003", "DRV-6-004", "DRV-4.7-004", "DRV-4.7-005", "DRV-4.9-005", "DRV-4.9-007",
            "DRV-4.9-018", "DRV-4.4-005", "DRV-7-002", "DRV-7-003", "DRV-4.1-005"),
        arguments: ["detach", "expire", "revoke"])
    func producerLossBumpsEpoch(_ how: String) throws {
        let harness = try DriverHarness()
        let producer = harness.attach(client: 1, role: .producer)
        let lease = try #require(producer.leaseId)
        let epoch = try #require(producer.epoch)
        harness.output.clear()
        switch how {
        case "detach":
            let messages = harness.send(
                Requests.detach(correlation: 5, lease: lease, stream: 10_000, client: 1, role: .producer))
            guard case .detach(5, .ok, _) = messages.first else {
                Issue.record("detach not answered OK first")
                return
            }
        case "expire":
            harness.clock.advance(ms: 301)
            harness.core.doWork()
        default:
            harness.core.revoke(leaseId: lease)
        }
        let reason: DriverSchema.LeaseRevokeReason = how == "detach" ? .detached : how == "expire" ? .expired : .revoked
        let revoked = harness.output.control.map(decodeDriverMessage).compactMap { message -> UInt64? in
            if case .revoked(let id, 10_000, 1, .producer, let why) = message, why == reason { return id }
            return nil
        }
        #expect(revoked == [lease])
        let announce = try #require(harness.announces.first, "a fresh announce follows")
        #expect(announce.epoch > epoch && announce.producerId == 0)
        #expect(harness.core.streams[10_000]?.epoch == announce.epoch)
        #expect(harness.core.leases[lease] == nil && harness.core.endedLeases[lease] != nil)
        // The next producer gets yet another epoch.
        let next = harness.attach(client: 2, role: .producer)
        #expect(next.code == .ok && next.epoch! > announce.epoch)
    }

    @Test(
        "keepalives push the expiry back and move the lease to ACTIVE; without them it expires",
        .verifies("DRV-4.4-001", "DRV-4.4-003", "DRV-4.4-005", "DRV-4.7-001", "DRV-7-001"))
    func keepalives() throws {
        let harness = try DriverHarness()
        let response = harness.attach(client: 3, role: .consumer)
        let lease = try #require(response.leaseId)
        for _ in 0..<10 {
            harness.clock.advance(ms: 200)
            harness.send(Requests.keepalive(lease: lease, stream: 10_000, client: 3, role: .consumer))
            harness.core.doWork()
        }
        #expect(harness.core.leases[lease]?.state == .active, "2 s of keepalives kept the 300 ms lease alive")
        // A keepalive that does not match the lease (wrong client) does not count.
        harness.clock.advance(ms: 200)
        harness.send(Requests.keepalive(lease: lease, stream: 10_000, client: 4, role: .consumer))
        harness.clock.advance(ms: 200)
        harness.core.doWork()
        #expect(harness.core.leases[lease] == nil && harness.core.endedLeases[lease] == .expired)
        #expect(harness.core.counters.keepalivesIgnored == 1)
        let revoked = harness.output.control.map(decodeDriverMessage).contains {
            if case .revoked(lease, _, 3, .consumer, .expired) = $0 { return true }
            return false
        }
        #expect(revoked, "consumer lease ends are revoked too")
    }

    @Test(
        "a producer without keepalives keeps its lease to the end of the grace and loses it right after: revoked as expired, new epoch",
        .verifies("DRV-4.4-005", "DRV-7-001", "DRV-7-002", "DRV-7-003", "DRV-4.9-007"))
    func expiryAtTheGrace() throws {
        // The timing half of the real-process crash case (DriverProcessConformance.producerCrash), on the manual
        // clock: 100 ms keepalive interval x 3 intervals = a 300 ms grace.
        let harness = try DriverHarness()
        let consumer = try #require(harness.attach(client: 5, role: .consumer).leaseId)
        let producer = harness.attach(client: 1, role: .producer)
        let lease = try #require(producer.leaseId)
        let epoch = try #require(producer.epoch)
        harness.output.clear()
        func revocations() -> [(UInt64, DriverSchema.LeaseRevokeReason)] {
            harness.output.control.map(decodeDriverMessage).compactMap { message in
                if case .revoked(let id, 10_000, _, _, let reason) = message { return (id, reason) }
                return nil
            }
        }
        // The producer crashed right after attaching; its consumer keeps sending keepalives.
        for _ in 0..<3 {
            harness.clock.advance(ms: 100)
            harness.send(Requests.keepalive(lease: consumer, stream: 10_000, client: 5, role: .consumer))
            harness.core.doWork()
        }
        #expect(harness.core.leases[lease] != nil, "alive at the last instant of its grace")
        #expect(revocations().isEmpty && !harness.announces.contains { $0.epoch > epoch })
        harness.clock.advance(ms: 1)
        harness.core.doWork()
        #expect(harness.core.leases[lease] == nil && harness.core.endedLeases[lease] == .expired)
        #expect(revocations().map(\.0) == [lease] && revocations().map(\.1) == [.expired])
        let fresh = try #require(harness.announces.last, "a fresh announce follows the expiry")
        #expect(fresh.epoch > epoch && fresh.producerId == 0)
        #expect(harness.core.leases[consumer] != nil, "the consumer's lease is untouched")
        let next = harness.attach(client: 2, role: .producer)
        #expect(next.code == .ok && next.epoch! > fresh.epoch, "the next producer gets a larger epoch still")
    }

    @Test(
        "detach needs lease, stream, client and role to match; a repeat changes nothing; consumers are revoked too",
        .verifies(
            "DRV-4.9-001", "DRV-4.9-002", "DRV-4.9-003", "DRV-4.9-004", "DRV-4.9-006", "DRV-4.9-008", "DRV-4.9-023"))
    func detachSemantics() throws {
        let harness = try DriverHarness()
        let response = harness.attach(client: 9, role: .consumer)
        let lease = try #require(response.leaseId)
        let wrong = harness.send(
            Requests.detach(correlation: 1, lease: lease, stream: 10_000, client: 8, role: .consumer))
        guard case .detach(1, .rejected, _) = wrong.first else {
            Issue.record("a mismatching detach must be refused")
            return
        }
        #expect(harness.core.leases[lease] != nil)
        let right = harness.send(
            Requests.detach(correlation: 2, lease: lease, stream: 10_000, client: 9, role: .consumer))
        guard case .detach(2, .ok, _) = right.first else {
            Issue.record("the matching detach must be answered OK with its correlation id")
            return
        }
        #expect(right.contains { if case .revoked(lease, _, _, .consumer, .detached) = $0 { true } else { false } })
        let epoch = harness.core.streams[10_000]?.epoch
        let again = harness.send(
            Requests.detach(correlation: 3, lease: lease, stream: 10_000, client: 9, role: .consumer))
        guard case .detach(3, .rejected, _) = again.first else {
            Issue.record("a repeated detach is refused")
            return
        }
        #expect(again.count == 1, "no second revocation, no other effect")
        #expect(harness.core.streams[10_000]?.epoch == epoch)
    }

    @Test(
        "lease ids are unique and never reused in the driver's lifetime",
        .verifies("DRV-4.8-001", "DRV-4.8-002"))
    func leaseIdsUnique() throws {
        let harness = try DriverHarness()
        var seen = Set<UInt64>()
        for round in 0..<20 {
            let response = harness.attach(client: 100 + UInt32(round), role: .consumer)
            let lease = try #require(response.leaseId)
            #expect(seen.insert(lease).inserted)
            harness.send(
                Requests.detach(
                    correlation: 1, lease: lease, stream: 10_000, client: 100 + UInt32(round), role: .consumer))
        }
    }

    @Test(
        "a second live lease of one client id on the same stream and role is refused with 'client_id already attached'",
        .verifies("DRV-4.8-005", "DRV-4.8-007", "DRV-4.8-008"))
    func clientIdentity() throws {
        let harness = try DriverHarness()
        let first = harness.attach(correlation: 10, client: 42, role: .consumer)
        #expect(first.code == .ok)
        let retry = harness.attach(correlation: 10, client: 42, role: .consumer)
        #expect(retry.code == .ok && retry.leaseId == first.leaseId, "a retry of the same request is answered again")
        let other = harness.attach(correlation: 11, client: 42, role: .consumer)
        #expect(other.code == .rejected && other.errorMessage == "client_id already attached")
        #expect(harness.core.leases.count == 1)
    }

    @Test(
        "expectedLayoutVersion: 0 means the driver's own; another version is REJECTED",
        .verifies("DRV-4.3-001", "DRV-4.3-002", "DRV-4.6-004"))
    func layoutVersion() throws {
        let harness = try DriverHarness()
        #expect(harness.attach(client: 1, role: .consumer, expectedLayoutVersion: 0).layoutVersion == 1)
        #expect(harness.attach(client: 2, role: .consumer, expectedLayoutVersion: 1).code == .ok)
        let wrong = harness.attach(client: 3, role: .consumer, expectedLayoutVersion: 2)
        #expect(wrong.code == .rejected && wrong.errorMessage.contains("layout_version"))
    }

    @Test(
        "hugepage policy: HUGEPAGES on a standard-page driver is REJECTED, STANDARD and UNSPECIFIED are served",
        .verifies("DRV-4.3-005", "DRV-4.3-007", "DRV-9-005"))
    func hugepagePolicy() throws {
        let harness = try DriverHarness()
        #expect(harness.attach(client: 1, role: .consumer, hugepages: .hugepages).code == .rejected)
        #expect(harness.attach(client: 2, role: .consumer, hugepages: .standard).code == .ok)
        #expect(harness.attach(client: 3, role: .consumer, hugepages: .unspecified).code == .ok)
        #expect(
            harness.attach(client: 4, role: .consumer, hugepages: DriverSchema.HugepagesPolicy(rawValue: 9)).code
                == .invalidParams)
    }

    @Test(
        "a hugepage driver refuses STANDARD",
        .verifies("DRV-4.3-006"))
    func standardOnHugepageDriver() throws {
        // A driver that provisions hugepages refuses STANDARD before it creates anything.
        let directory = "/dev/shm/tp-conf-drv-\(getpid())-\(UUID().uuidString.prefix(8))-huge"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let toml = DriverHarness.toml(directory: directory, extra: "allow_dynamic_streams = true", streams: "")
            .replacingOccurrences(of: "[shm]\n", with: "[shm]\nrequire_hugepages = true\n")
        let configuration = try DriverConfiguration.parse(toml)
        let output = CapturedOutput()
        let core = try DriverCore(configuration: configuration, output: output, clock: ManualDriverClock())
        Requests.attach(
            correlation: 1, stream: 20_001, client: 1, role: .producer, publishMode: .existingOrCreate,
            hugepages: .standard
        ).withUnsafeBytes { core.onControlMessage($0) }
        guard case .attach(let response) = decodeDriverMessage(output.control[0]) else {
            Issue.record("no response")
            return
        }
        #expect(response.code == .rejected)
    }

    @Test(
        "publish modes: unknown is UNSUPPORTED; EXISTING_OR_CREATE creates a stream in driver.stream_id_range",
        .verifies("DRV-4.2-007", "DRV-4.3-004", "DRV-4.6-002", "DRV-11-001", "DRV-11-002", "DRV-4.2-009"))
    func publishModes() throws {
        let harness = try DriverHarness(extra: "allow_dynamic_streams = true")
        #expect(
            harness.attach(client: 1, role: .consumer, publishMode: DriverSchema.PublishMode(rawValue: 7)).code
                == .unsupported)
        #expect(
            harness.attach(stream: 20_003, client: 2, role: .producer, publishMode: .requireExisting).code == .rejected)
        let created = harness.attach(stream: 20_003, client: 3, role: .producer, publishMode: .existingOrCreate)
        #expect(created.code == .ok && created.streamId == 20_003)
        let outside = harness.attach(stream: 30_000, client: 4, role: .producer, publishMode: .existingOrCreate)
        #expect(outside.code == .invalidParams)
        let picked = harness.attach(stream: 0, client: 5, role: .producer, publishMode: .existingOrCreate)
        #expect(picked.code == .ok && (20_000...20_009).contains(picked.streamId ?? 0) && picked.streamId != 20_003)
    }

    @Test(
        "dynamic creation without driver.stream_id_range is refused with INVALID_PARAMS",
        .verifies("DRV-11-003"))
    func dynamicWithoutRange() throws {
        let directory = "/dev/shm/tp-conf-drv-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let toml = DriverHarness.toml(directory: directory).replacingOccurrences(
            of: "stream_id_range = \"20000-20009\"\n", with: "")
        // With dynamic streams on and no range the configuration itself fails fast …
        #expect(throws: (any Error).self) {
            try DriverConfiguration.parse(
                toml.replacingOccurrences(of: "[policies]\n", with: "[policies]\nallow_dynamic_streams = true\n"))
        }
        // … and with dynamic streams off, a create request is refused.
        let output = CapturedOutput()
        let core = try DriverCore(
            configuration: try DriverConfiguration.parse(toml), output: output, clock: ManualDriverClock())
        Requests.attach(correlation: 1, stream: 20_001, client: 1, role: .producer, publishMode: .existingOrCreate)
            .withUnsafeBytes { core.onControlMessage($0) }
        guard case .attach(let response) = decodeDriverMessage(output.control[0]) else { return }
        #expect(response.code == .rejected || response.code == .invalidParams)
    }

    @Test(
        "malformed requests are answered INVALID_PARAMS when the correlation id is readable, and change nothing",
        .verifies("DRV-4.6-003"))
    func malformed() throws {
        let harness = try DriverHarness()
        var request = Requests.attach(correlation: 31, stream: 10_000, client: 1, role: .consumer)
        request[8 + 16] = 9  // role 9
        guard case .attach(let badRole) = harness.send(request).first else { return }
        #expect(badRole.code == .invalidParams && badRole.correlationId == 31)
        let truncated = Array(Requests.attach(correlation: 32, stream: 10_000, client: 1, role: .consumer).prefix(20))
        guard case .attach(let short) = harness.send(truncated).first else {
            Issue.record("a truncated request with a readable correlation id is answered")
            return
        }
        #expect(short.code == .invalidParams && short.correlationId == 32)
        #expect(harness.send([1, 2, 3]).isEmpty && harness.core.counters.malformedMessages >= 2)
        let zeroClient = harness.attach(client: 0, role: .consumer)
        #expect(zeroClient.code == .invalidParams)
        #expect(harness.core.leases.isEmpty)
    }

    @Test(
        "node ids: assigned with the lease, stable for its life; an unavailable desiredNodeId is refused without nodeId",
        .verifies(
            "DRV-4.2-002", "DRV-4.2-003", "DRV-4.2-004", "DRV-4.2-005", "DRV-4.2-006", "DRV-4.2-016", "DRV-4.2-017",
            "DRV-4.2-018"))
    func nodeIds() throws {
        let harness = try DriverHarness()
        let first = harness.attach(client: 1, role: .consumer)
        let node = try #require(first.nodeId)
        #expect(node != UInt32.max)
        let wanted = harness.attach(client: 2, role: .consumer, desiredNodeId: 777)
        #expect(wanted.code == .ok && wanted.nodeId == 777)
        let taken = harness.attach(client: 3, role: .consumer, desiredNodeId: 777)
        #expect(taken.code == .rejected && taken.nodeId == nil)
        harness.clock.advance(ms: 50)
        harness.send(Requests.keepalive(lease: first.leaseId!, stream: 10_000, client: 1, role: .consumer))
        #expect(harness.core.leases[first.leaseId!]?.nodeId == node)
    }

    @Test(
        "announces carry the producer's client id (0 without one) and agree with attach responses",
        .verifies("DRV-8-001", "DRV-8-003", "DRV-8-004", "DRV-8-005"))
    func announces() throws {
        let harness = try DriverHarness()
        let consumer = harness.attach(client: 5, role: .consumer)
        harness.clock.advance(ms: 150)
        harness.core.doWork()
        let idle = try #require(harness.announces.last)
        #expect(idle.producerId == 0 && idle.epoch == consumer.epoch)
        #expect(idle.headerRegionURI == consumer.headerRegionURI && idle.pools == consumer.pools)
        let producer = harness.attach(client: 77, role: .producer)
        let live = try #require(harness.announces.last)
        #expect(
            live.producerId == 77 && live.epoch == producer.epoch && live.headerRegionURI == producer.headerRegionURI)
        #expect(live.layoutVersion == producer.layoutVersion)
    }

    @Test(
        "the driver announces every announce period and at once on a change, header_slot_bytes 256, MONOTONIC stamps",
        .verifies("WIRE-10.1.1-001", "WIRE-10.1.1-002", "WIRE-10.1.1-011"))
    func announceCadence() throws {
        let harness = try DriverHarness()  // announce_period_ms = 100
        _ = harness.attach(client: 5, role: .consumer)
        harness.core.doWork()
        let start = harness.output.announces.count
        for _ in 0..<6 {
            harness.clock.advance(ms: 50)
            harness.core.doWork()
        }
        #expect(harness.output.announces.count == start + 3, "one per 100 ms over 300 ms")
        // A change (a producer's new epoch) is announced at once, not at the next period.
        let before = harness.output.announces.count
        let producer = harness.attach(client: 9, role: .producer)
        #expect(harness.output.announces.count == before + 1 && harness.announces.last?.epoch == producer.epoch)
        for bytes in harness.output.announces {
            bytes.withUnsafeBytes { buffer in
                let decoder = try? WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer)
                #expect(decoder?.headerSlotBytes == 256)
                // Never an unsynchronised realtime clock: the driver stamps announces in the MONOTONIC domain.
                #expect(decoder?.announceClockDomain == .monotonic)
            }
        }
    }

    @Test(
        "the driver creates and initialises the files and refreshes their activity timestamps",
        .verifies("DRV-3-001", "DRV-3-003", "DRV-3-010", "DRV-3-011", "DRV-3-012"))
    func driverOwnsFiles() throws {
        let harness = try DriverHarness()
        let response = harness.attach(client: 5, role: .consumer)
        let regions = try StreamRegions.map(
            response.announce, policy: try PathPolicy(allowedBaseDirectories: [harness.directory]))
        let superblock = try regions.currentHeaderSuperblock()
        #expect(superblock.pid == UInt64(getpid()) && superblock.epoch == response.epoch)
        let before = Superblock.activityTimestamp(in: regions.header)
        harness.clock.advance(ms: 150)
        harness.core.doWork()
        #expect(Superblock.activityTimestamp(in: regions.header) > before)
    }

    @Test(
        "a changed layout (another header_nslots) comes with a new epoch",
        .verifies("DRV-6-005"))
    func layoutChange() throws {
        let first = try DriverHarness()
        let epoch = try #require(first.attach(client: 1, role: .consumer).epoch)
        first.core.close(unlinkFiles: false)
        let toml = DriverHarness.toml(directory: first.directory).replacingOccurrences(
            of: "header_nslots = 8", with: "header_nslots = 16")
        let output = CapturedOutput()
        let clock = ManualDriverClock()
        let changed = try DriverCore(configuration: try DriverConfiguration.parse(toml), output: output, clock: clock)
        defer { changed.close(unlinkFiles: false) }
        Requests.attach(correlation: 1, stream: 10_000, client: 1, role: .consumer).withUnsafeBytes {
            changed.onControlMessage($0)
        }
        guard case .attach(let response) = decodeDriverMessage(output.control[0]) else { return }
        #expect(response.headerNslots == 16 && response.epoch! > epoch)
    }

    @Test(
        "a restarted driver never reuses an epoch, even with a clock that went backwards",
        .verifies("DRV-10-004", "DRV-6-006", "DRV-14-002"))
    func restartEpochs() throws {
        let first = try DriverHarness()
        let epoch = try #require(first.attach(client: 1, role: .producer).epoch)
        first.core.close(unlinkFiles: false)
        let output = CapturedOutput()
        let clock = ManualDriverClock()
        clock.realtime = 5  // a clock far behind the previous run
        let restarted = try DriverCore(configuration: first.configuration, output: output, clock: clock)
        Requests.attach(correlation: 1, stream: 10_000, client: 1, role: .producer).withUnsafeBytes {
            restarted.onControlMessage($0)
        }
        guard case .attach(let response) = decodeDriverMessage(output.control[0]) else { return }
        #expect(try #require(response.epoch) > epoch)
        restarted.close(unlinkFiles: false)
    }

    @Test(
        "schema version 0 is UNSUPPORTED; a newer client is answered in version 1; schema 900 is skipped",
        .verifies("DRV-4.4-015", "DRV-4.5-001", "DRV-4.4-014"))
    func versions() throws {
        let harness = try DriverHarness()
        var request = Requests.attach(correlation: 5, stream: 10_000, client: 1, role: .consumer)
        request[6] = 0  // header version
        request[7] = 0
        guard case .attach(let response) = harness.send(request).first else { return }
        #expect(response.code == .unsupported)
        var newer = Requests.attach(correlation: 7, stream: 10_000, client: 1, role: .consumer)
        newer[6] = 2  // a version-2 client: its block starts with the version-1 fields
        guard case .attach(let answered) = harness.send(newer).first else { return }
        #expect(answered.code == .ok && answered.raw[6] == 1 && answered.raw[7] == 0, "answered in version 1")
        var foreign = Requests.attach(correlation: 6, stream: 10_000, client: 1, role: .consumer)
        foreign[4] = 0x84  // schema 900
        foreign[5] = 0x03
        #expect(harness.send(foreign).isEmpty)
    }

    @Test(
        "shutdown: a request without the right token is ignored; with it the driver drains, announces, then notifies",
        .verifies(
            "DRV-4.13-001", "DRV-4.13-002", "DRV-4.13-003", "DRV-4.13-004", "DRV-4.13-005", "DRV-4.13-006",
            "DRV-4.13-007", "DRV-4.13-008", "DRV-4.13-009", "DRV-4.13-010", "DRV-4.13-011"))
    func shutdown() throws {
        let harness = try DriverHarness()
        _ = harness.attach(client: 1, role: .producer)
        #expect(harness.send(Requests.shutdown(token: "wrong")).isEmpty)
        #expect(harness.send(Requests.shutdown(token: "")).isEmpty)
        #expect(harness.core.runState == .running && harness.core.counters.shutdownRequestsRefused == 2)
        let announcesBefore = harness.output.announces.count
        harness.send(Requests.shutdown(token: "secret", reason: .admin))
        guard case .draining = harness.core.runState else {
            Issue.record("the right token starts draining")
            return
        }
        #expect(harness.output.announces.count == announcesBefore + 1, "one last announce")
        #expect(harness.attach(client: 9, role: .consumer).code == .rejected, "no new leases while draining")
        harness.clock.advance(ms: 100)
        harness.core.doWork()
        #expect(
            !harness.output.control.map(decodeDriverMessage).contains { if case .shutdown = $0 { true } else { false } }
        )
        harness.clock.advance(ms: 150)
        harness.core.doWork()
        guard case .shutdown(.admin) = harness.output.control.map(decodeDriverMessage).last else {
            Issue.record("ShmDriverShutdown(ADMIN) after the drain")
            return
        }
        #expect(harness.core.runState == .stopped && harness.core.leases.isEmpty)
    }

    @Test(
        "a stream whose profile has no pool cannot exist: the configuration refuses it",
        .verifies("DRV-4.3-008", "DRV-17-006"))
    func noPools() throws {
        let toml = DriverHarness.toml(directory: "/dev/shm/unused").replacingOccurrences(
            of: "payload_pools = [ { pool_id = 1, stride_bytes = 1024 }, { pool_id = 2, stride_bytes = 65536 } ]",
            with: "payload_pools = []")
        #expect(throws: (any Error).self) { try DriverConfiguration.parse(toml) }
    }
}
