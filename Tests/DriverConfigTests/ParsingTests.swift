import Testing

@testable import DriverConfig

@Suite("Parsing and defaults")
struct ParsingTests {
    @Test("a minimal file takes every default of §17")
    func defaults() throws {
        let config = try DriverConfiguration.parse(minimalProfiles + "\n" + minimalStreams)
        let driver = config.driver
        #expect(driver.instanceId == "driver-01")
        #expect(driver.aeronDir == nil)
        #expect(driver.controlChannel == "aeron:ipc?term-length=4m")
        #expect(driver.controlStreamId == 1000)
        #expect(driver.announceChannel == driver.controlChannel)
        #expect(driver.announceStreamId == 1001, "the peers' examples' announce stream, not the control stream")
        #expect(driver.qosChannel == "aeron:ipc?term-length=4m")
        #expect(driver.qosStreamId == 1200)
        #expect(driver.streamIdRange == nil)
        #expect(driver.descriptorStreamIdRange == nil)
        #expect(driver.controlStreamIdRange == nil)

        let shm = config.shm
        #expect(shm.baseDirectory == "/dev/shm/tensorpool")
        #expect(shm.namespace == "default")
        #expect(shm.requireHugepages == false)
        #expect(shm.pageSizeBytes == 4096)
        #expect(shm.permissionsMode == 0o660)
        #expect(shm.allowedBaseDirectories == ["/dev/shm/tensorpool"])

        let policies = config.policies
        #expect(policies.allowDynamicStreams == false)
        #expect(policies.defaultProfile == "p")
        #expect(policies.announcePeriodMs == 1000)
        #expect(policies.leaseKeepaliveIntervalMs == 1000)
        #expect(policies.leaseExpiryGraceIntervals == 3)
        #expect(policies.prefaultShm == true)
        #expect(policies.reuseExistingShm == false)
        #expect(policies.mlockShm == false)
        #expect(policies.cleanupShmOnExit == false)
        #expect(policies.epochGcEnabled == true)
        #expect(policies.epochGcKeep == 2)
        #expect(policies.epochGcMinAgeNs == 3_000_000_000)
        #expect(policies.epochGcOnStartup == false)
        #expect(policies.shutdownTimeoutMs == 2000)
        #expect(policies.shutdownToken == nil)

        #expect(
            config.profiles == [
                .init(name: "p", headerNslots: 1024, payloadPools: [.init(poolId: 1, strideBytes: 4096)])
            ])
        #expect(config.streams == [.init(name: "s", streamId: 10000, profile: "p")])
        #expect(config.profile(named: "p")?.headerNslots == 1024)
        #expect(config.profile(named: "q") == nil)
        #expect(config.stream(id: 10000)?.name == "s")
        #expect(config.stream(id: 10001) == nil)
        #expect(config.stream(named: "s")?.streamId == 10000)
    }

    @Test("the programmatic initialisers default like the file")
    func initialiserDefaults() throws {
        let parsed = try DriverConfiguration.parse(minimalProfiles + "\n" + minimalStreams)
        let built = DriverConfiguration(
            profiles: [.init(name: "p", payloadPools: [.init(poolId: 1, strideBytes: 4096)])],
            streams: [.init(name: "s", streamId: 10000, profile: "p")])
        #expect(built == parsed)
        try built.validate()
    }

    @Test("epoch_gc_min_age_ns defaults to three announce periods, also when 0 is given")
    func derivedMinimumAge() throws {
        let derived = try DriverConfiguration.parse(document(policies: "announce_period_ms = 250"))
        #expect(derived.policies.epochGcMinAgeNs == 750_000_000)
        let zero = try DriverConfiguration.parse(
            document(policies: "announce_period_ms = 250\nepoch_gc_min_age_ns = 0"))
        #expect(zero.policies.epochGcMinAgeNs == 750_000_000)
        #expect(DriverConfiguration.Policies.defaultEpochGcMinAgeNs(announcePeriodMs: 1000) == 3_000_000_000)
    }

    @Test("every key of every table is read")
    func everyKey() throws {
        let toml = """
            [driver]
            instance_id = "edge-7"
            aeron_dir = "/dev/shm/aeron-edge"
            control_channel = "aeron:udp?endpoint=localhost:40123"
            control_stream_id = 2000
            announce_channel = "aeron:ipc?term-length=8m"
            announce_stream_id = 2001
            qos_channel = "aeron:ipc?term-length=16m"
            qos_stream_id = 2200
            stream_id_range = "20000-29999"
            descriptor_stream_id_range = [31000, 31999]
            control_stream_id_range = " 32000 , 32999 "

            [shm]
            base_dir = "/dev/hugepages/tp"
            namespace = "lab"
            require_hugepages = true
            page_size_bytes = 2097152
            permissions_mode = "0640"
            allowed_base_dirs = ["/dev/hugepages", "/dev/shm"]

            [policies]
            allow_dynamic_streams = true
            default_profile = "b"
            announce_period_ms = 500
            lease_keepalive_interval_ms = 250
            lease_expiry_grace_intervals = 5
            prefault_shm = false
            reuse_existing_shm = true
            mlock_shm = true
            cleanup_shm_on_exit = true
            epoch_gc_enabled = false
            epoch_gc_keep = 4
            epoch_gc_min_age_ns = 123456789
            epoch_gc_on_startup = true
            shutdown_timeout_ms = 750
            shutdown_token = "s3cret"

            [profiles.a]
            header_nslots = 64
            header_slot_bytes = 256
            payload_pools = [{ pool_id = 7, stride_bytes = 64 }, { pool_id = 3, stride_bytes = 1048576 }]

            [profiles.b]
            [[profiles.b.payload_pools]]
            pool_id = 0
            stride_bytes = 128

            [streams.x]
            stream_id = 10000
            profile = "a"

            [streams.y]
            stream_id = 10001
            profile = "b"
            """
        let config = try DriverConfiguration.parse(toml)
        let expected = DriverConfiguration(
            driver: .init(
                instanceId: "edge-7", aeronDir: "/dev/shm/aeron-edge",
                controlChannel: "aeron:udp?endpoint=localhost:40123", controlStreamId: 2000,
                announceChannel: "aeron:ipc?term-length=8m", announceStreamId: 2001,
                qosChannel: "aeron:ipc?term-length=16m", qosStreamId: 2200,
                streamIdRange: .init(lower: 20000, upper: 29999),
                descriptorStreamIdRange: .init(lower: 31000, upper: 31999),
                controlStreamIdRange: .init(lower: 32000, upper: 32999)),
            shm: .init(
                baseDirectory: "/dev/hugepages/tp", namespace: "lab", requireHugepages: true,
                pageSizeBytes: 2_097_152, permissionsMode: 0o640,
                allowedBaseDirectories: ["/dev/hugepages", "/dev/shm"]),
            policies: .init(
                allowDynamicStreams: true, defaultProfile: "b", announcePeriodMs: 500, leaseKeepaliveIntervalMs: 250,
                leaseExpiryGraceIntervals: 5, prefaultShm: false, reuseExistingShm: true, mlockShm: true,
                cleanupShmOnExit: true, epochGcEnabled: false, epochGcKeep: 4, epochGcMinAgeNs: 123_456_789,
                epochGcOnStartup: true, shutdownTimeoutMs: 750, shutdownToken: "s3cret"),
            profiles: [
                .init(
                    name: "a", headerNslots: 64,
                    payloadPools: [.init(poolId: 7, strideBytes: 64), .init(poolId: 3, strideBytes: 1_048_576)]),
                .init(name: "b", headerNslots: 1024, payloadPools: [.init(poolId: 0, strideBytes: 128)]),
            ],
            streams: [.init(name: "x", streamId: 10000, profile: "a"), .init(name: "y", streamId: 10001, profile: "b")])
        #expect(config == expected)
    }

    @Test("empty strings mean unset for aeron_dir, shutdown_token, default_profile and the ranges")
    func emptyMeansUnset() throws {
        let config = try DriverConfiguration.parse(
            document(
                driver: #"aeron_dir = ""\#nstream_id_range = ""\#ndescriptor_stream_id_range = []"#,
                policies: #"shutdown_token = ""\#ndefault_profile = """#))
        #expect(config.driver.aeronDir == nil)
        #expect(config.driver.streamIdRange == nil)
        #expect(config.driver.descriptorStreamIdRange == nil)
        #expect(config.policies.shutdownToken == nil)
        #expect(config.policies.defaultProfile == "p")
    }

    @Test("an empty allowed_base_dirs falls back to [base_dir]")
    func emptyAllowedDirectories() throws {
        let config = try DriverConfiguration.parse(document(shm: "base_dir = \"/dev/shm\"\nallowed_base_dirs = []"))
        #expect(config.shm.allowedBaseDirectories == ["/dev/shm"])
    }

    @Test(
        "permissions_mode is read as octal",
        arguments: [("660", 0o660), ("0660", 0o660), ("0o2775", 0o2775), ("7777", 0o7777), ("0", 0)])
    func permissionModes(text: String, mode: Int) throws {
        let config = try DriverConfiguration.parse(document(shm: "permissions_mode = \"\(text)\""))
        #expect(config.shm.permissionsMode == UInt32(mode))
    }

    @Test("profiles keep the order of their headers in the file; the first one is the default profile")
    func profileOrder() throws {
        let toml = """
            [[profiles.zeta.payload_pools]]
            pool_id = 1
            stride_bytes = 64

            [profiles.mid]
            payload_pools = [{ pool_id = 1, stride_bytes = 64 }]

            [profiles."a b"]
            payload_pools = [{ pool_id = 1, stride_bytes = 64 }]

            [streams.later]
            stream_id = 2
            profile = "a b"

            [streams.earlier]
            stream_id = 1
            profile = "zeta"
            """
        let config = try DriverConfiguration.parse(toml)
        #expect(config.profiles.map(\.name) == ["zeta", "mid", "a b"])
        #expect(config.policies.defaultProfile == "zeta")
        #expect(config.streams.map(\.name) == ["later", "earlier"])
    }

    @Test("profiles without a header of their own come last, sorted by name")
    func inlineProfilesSortByName() throws {
        let toml = """
            profiles = { c = { payload_pools = [{ pool_id = 1, stride_bytes = 64 }] }, b = { payload_pools = [{ pool_id = 1, stride_bytes = 64 }] } }

            [streams.s]
            stream_id = 1
            profile = "c"
            """
        let config = try DriverConfiguration.parse(toml)
        #expect(config.profiles.map(\.name) == ["b", "c"])
        #expect(config.policies.defaultProfile == "b")
    }

    @Test("TOML syntax errors name the document and carry the parser's message")
    func syntaxError() {
        expectError("[driver\ncontrol_stream_id = 1", key: ConfigurationError.documentKey, messageContains: "line")
        expectError("[driver]\ncontrol_stream_id = ", key: "<file>")
    }

    @Test("load reports an unreadable file under the document key")
    func unreadableFile() {
        do {
            _ = try DriverConfiguration.load(path: "/nonexistent/driver.toml", environment: [:])
            Issue.record("loading a missing file succeeded")
        } catch {
            #expect(error.key == "<file>")
            #expect(error.message.contains("/nonexistent/driver.toml"))
        }
    }

    @Test("ConfigurationError describes itself as key: message")
    func errorDescription() {
        let error = ConfigurationError(key: "profiles.camera.header_nslots", message: "1000 is not a power of two")
        #expect(error.description == "profiles.camera.header_nslots: 1000 is not a power of two")
    }

    @Test("header_nslots error message names the value")
    func headerSlotsMessage() {
        expectError(
            document(
                profiles:
                    "[profiles.camera]\nheader_nslots = 1000\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]",
                streams: "[streams.s]\nstream_id = 1\nprofile = \"camera\""),
            key: "profiles.camera.header_nslots", messageContains: "1000 is not a power of two")
    }
}
