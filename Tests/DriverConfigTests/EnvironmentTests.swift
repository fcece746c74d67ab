import Testing

@testable import DriverConfig

@Suite("Environment overrides (DRV-17-003, DRV-17-004)")
struct EnvironmentTests {
    private let fileValues = document(
        driver: """
            instance_id = "from-file"
            aeron_dir = "/file/aeron"
            control_channel = "aeron:ipc?term-length=4m"
            control_stream_id = 1000
            announce_channel = "aeron:ipc?term-length=4m"
            announce_stream_id = 1001
            qos_channel = "aeron:ipc?term-length=4m"
            qos_stream_id = 1200
            stream_id_range = "20000-29999"
            descriptor_stream_id_range = "31000-31999"
            control_stream_id_range = [32000, 32999]
            """,
        shm: """
            base_dir = "/dev/shm"
            namespace = "file"
            require_hugepages = false
            page_size_bytes = 4096
            permissions_mode = "660"
            allowed_base_dirs = ["/dev/shm"]
            """,
        policies: """
            allow_dynamic_streams = true
            default_profile = "p"
            announce_period_ms = 1000
            lease_keepalive_interval_ms = 1000
            lease_expiry_grace_intervals = 3
            prefault_shm = true
            reuse_existing_shm = false
            mlock_shm = false
            cleanup_shm_on_exit = false
            epoch_gc_enabled = true
            epoch_gc_keep = 2
            epoch_gc_min_age_ns = 5000000000
            epoch_gc_on_startup = false
            shutdown_timeout_ms = 2000
            shutdown_token = "file-token"
            """,
        profiles: minimalProfiles + "\n[profiles.q]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }]")

    @Test("variable names are the key upper-cased with . replaced by _")
    func naming() {
        #expect(
            DriverConfiguration.environmentVariableName(for: "driver.control_stream_id") == "DRIVER_CONTROL_STREAM_ID")
        #expect(
            DriverConfiguration.environmentVariableName(for: "policies.announce_period_ms")
                == "POLICIES_ANNOUNCE_PERIOD_MS")
        #expect(DriverConfiguration.environmentVariableName(for: "shm.base_dir") == "SHM_BASE_DIR")
        #expect(DriverConfiguration.overridableKeys.count == 11 + 6 + 15)
        #expect(Set(DriverConfiguration.overridableKeys).count == DriverConfiguration.overridableKeys.count)
    }

    @Test("the environment wins over the file for every key of driver, shm and policies")
    func everyKeyOverridden() throws {
        let environment = [
            "DRIVER_INSTANCE_ID": "from-env",
            "DRIVER_AERON_DIR": "/env/aeron",
            "DRIVER_CONTROL_CHANNEL": "aeron:udp?endpoint=localhost:40001",
            "DRIVER_CONTROL_STREAM_ID": "2000",
            "DRIVER_ANNOUNCE_CHANNEL": "aeron:udp?endpoint=localhost:40002",
            "DRIVER_ANNOUNCE_STREAM_ID": "2001",
            "DRIVER_QOS_CHANNEL": "aeron:udp?endpoint=localhost:40003",
            "DRIVER_QOS_STREAM_ID": "2200",
            "DRIVER_STREAM_ID_RANGE": "40000-49999",
            "DRIVER_DESCRIPTOR_STREAM_ID_RANGE": " 51000 - 51999 ",
            "DRIVER_CONTROL_STREAM_ID_RANGE": "52000,52999",
            "SHM_BASE_DIR": "/dev/hugepages/tp",
            "SHM_NAMESPACE": "env",
            "SHM_REQUIRE_HUGEPAGES": "true",
            "SHM_PAGE_SIZE_BYTES": "2097152",
            "SHM_PERMISSIONS_MODE": "0600",
            "SHM_ALLOWED_BASE_DIRS": "/dev/hugepages, /dev/shm,",
            "POLICIES_ALLOW_DYNAMIC_STREAMS": "FALSE",
            "POLICIES_DEFAULT_PROFILE": "q",
            "POLICIES_ANNOUNCE_PERIOD_MS": "250",
            "POLICIES_LEASE_KEEPALIVE_INTERVAL_MS": "125",
            "POLICIES_LEASE_EXPIRY_GRACE_INTERVALS": "4",
            "POLICIES_PREFAULT_SHM": "0",
            "POLICIES_REUSE_EXISTING_SHM": "1",
            "POLICIES_MLOCK_SHM": "yes",
            "POLICIES_CLEANUP_SHM_ON_EXIT": "on",
            "POLICIES_EPOCH_GC_ENABLED": "false",
            "POLICIES_EPOCH_GC_KEEP": "9",
            "POLICIES_EPOCH_GC_MIN_AGE_NS": "18446744073709551615",
            "POLICIES_EPOCH_GC_ON_STARTUP": "True",
            "POLICIES_SHUTDOWN_TIMEOUT_MS": "10",
            "POLICIES_SHUTDOWN_TOKEN": "env-token",
        ]
        #expect(
            Set(environment.keys)
                == Set(DriverConfiguration.overridableKeys.map(DriverConfiguration.environmentVariableName)))
        let config = try DriverConfiguration.parse(fileValues, environment: environment)
        let expected = DriverConfiguration(
            driver: .init(
                instanceId: "from-env", aeronDir: "/env/aeron", controlChannel: "aeron:udp?endpoint=localhost:40001",
                controlStreamId: 2000, announceChannel: "aeron:udp?endpoint=localhost:40002", announceStreamId: 2001,
                qosChannel: "aeron:udp?endpoint=localhost:40003", qosStreamId: 2200,
                streamIdRange: .init(lower: 40000, upper: 49999),
                descriptorStreamIdRange: .init(lower: 51000, upper: 51999),
                controlStreamIdRange: .init(lower: 52000, upper: 52999)),
            shm: .init(
                baseDirectory: "/dev/hugepages/tp", namespace: "env", requireHugepages: true, pageSizeBytes: 2_097_152,
                permissionsMode: 0o600, allowedBaseDirectories: ["/dev/hugepages", "/dev/shm"]),
            policies: .init(
                allowDynamicStreams: false, defaultProfile: "q", announcePeriodMs: 250, leaseKeepaliveIntervalMs: 125,
                leaseExpiryGraceIntervals: 4, prefaultShm: false, reuseExistingShm: true, mlockShm: true,
                cleanupShmOnExit: true, epochGcEnabled: false, epochGcKeep: 9, epochGcMinAgeNs: UInt64.max,
                epochGcOnStartup: true, shutdownTimeoutMs: 10, shutdownToken: "env-token"),
            profiles: [
                .init(name: "p", payloadPools: [.init(poolId: 1, strideBytes: 4096)]),
                .init(name: "q", payloadPools: [.init(poolId: 1, strideBytes: 64)]),
            ],
            streams: [.init(name: "s", streamId: 10000, profile: "p")])
        #expect(config == expected)
    }

    @Test("overrides apply when the file leaves the key, or its whole table, out")
    func overridesWithoutTable() throws {
        let config = try DriverConfiguration.parse(
            minimalProfiles + "\n" + minimalStreams,
            environment: ["DRIVER_CONTROL_STREAM_ID": "3000", "SHM_BASE_DIR": "/tmp/tp", "POLICIES_MLOCK_SHM": "true"])
        #expect(config.driver.controlStreamId == 3000)
        #expect(config.driver.announceStreamId == 1001, "the announce stream has its own default, not the control's")
        #expect(config.shm.baseDirectory == "/tmp/tp")
        #expect(config.shm.allowedBaseDirectories == ["/tmp/tp"])
        #expect(config.policies.mlockShm)
    }

    @Test("an overridden announce period moves the derived epoch GC age")
    func derivedAgeFollowsOverride() throws {
        let config = try DriverConfiguration.parse(document(), environment: ["POLICIES_ANNOUNCE_PERIOD_MS": "100"])
        #expect(config.policies.epochGcMinAgeNs == 300_000_000)
    }

    @Test("empty overrides turn ranges, the token and aeron_dir off")
    func emptyOverrides() throws {
        let config = try DriverConfiguration.parse(
            fileValues,
            environment: [
                "DRIVER_STREAM_ID_RANGE": "", "DRIVER_CONTROL_STREAM_ID_RANGE": " ",
                "POLICIES_ALLOW_DYNAMIC_STREAMS": "false",
                "POLICIES_SHUTDOWN_TOKEN": "", "DRIVER_AERON_DIR": "", "SHM_ALLOWED_BASE_DIRS": "",
            ])
        #expect(config.driver.streamIdRange == nil)
        #expect(config.driver.controlStreamIdRange == nil)
        #expect(config.driver.descriptorStreamIdRange == StreamIdRange(lower: 31000, upper: 31999))
        #expect(config.policies.shutdownToken == nil)
        #expect(config.driver.aeronDir == nil)
        #expect(config.shm.allowedBaseDirectories == ["/dev/shm"])
    }

    @Test("overridden values are validated like file values")
    func overridesAreValidated() {
        expectError(fileValues, environment: ["DRIVER_STREAM_ID_RANGE": "9000-10500"], key: "driver.stream_id_range")
        expectError(fileValues, environment: ["DRIVER_QOS_STREAM_ID": "20500"], key: "driver.stream_id_range")
        expectError(document(), environment: ["POLICIES_ALLOW_DYNAMIC_STREAMS": "true"], key: "driver.stream_id_range")
        expectError(document(), environment: ["SHM_BASE_DIR": "relative"], key: "shm.base_dir")
        expectError(document(), environment: ["POLICIES_DEFAULT_PROFILE": "zzz"], key: "policies.default_profile")
    }

    @Test("malformed overrides are errors naming the key and the variable")
    func malformedOverrides() {
        let cases: [(String, String, String)] = [
            ("POLICIES_PREFAULT_SHM", "maybe", "policies.prefault_shm"),
            ("DRIVER_CONTROL_STREAM_ID", "abc", "driver.control_stream_id"),
            ("DRIVER_CONTROL_STREAM_ID", "", "driver.control_stream_id"),
            ("DRIVER_CONTROL_STREAM_ID", "-1", "driver.control_stream_id"),
            ("DRIVER_QOS_STREAM_ID", "2147483648", "driver.qos_stream_id"),
            ("POLICIES_ANNOUNCE_PERIOD_MS", "4294967296", "policies.announce_period_ms"),
            ("POLICIES_EPOCH_GC_MIN_AGE_NS", "-5", "policies.epoch_gc_min_age_ns"),
            ("DRIVER_STREAM_ID_RANGE", "lots", "driver.stream_id_range"),
            ("DRIVER_STREAM_ID_RANGE", "20000-29999-1", "driver.stream_id_range"),
            ("SHM_PERMISSIONS_MODE", "0999", "shm.permissions_mode"),
            ("SHM_PAGE_SIZE_BYTES", "4k", "shm.page_size_bytes"),
        ]
        for (variable, value, key) in cases {
            expectError(document(), environment: [variable: value], key: key)
        }
        do {
            _ = try DriverConfiguration.parse(document(), environment: ["POLICIES_MLOCK_SHM": "maybe"])
        } catch {
            #expect(error.message.contains("POLICIES_MLOCK_SHM"))
        }
    }

    @Test("unrelated variables are ignored")
    func unrelatedVariables() throws {
        let config = try DriverConfiguration.parse(
            document(), environment: ["PATH": "/usr/bin", "DRIVER_UNKNOWN_KEY": "1", "PROFILES_P_HEADER_NSLOTS": "3"])
        #expect(config.profiles[0].headerNslots == 1024)
    }

    @Test("the Julia reference's aliases apply only when the canonical variable is not set")
    func aliases() throws {
        let aliased = try DriverConfiguration.parse(
            fileValues,
            environment: [
                "AERON_DIR": "/alias/aeron", "TP_CONTROL_CHANNEL": "aeron:ipc?alias=1", "TP_CONTROL_STREAM_ID": "3000",
            ])
        #expect(aliased.driver.aeronDir == "/alias/aeron")
        #expect(aliased.driver.controlChannel == "aeron:ipc?alias=1")
        #expect(aliased.driver.controlStreamId == 3000)

        let canonical = try DriverConfiguration.parse(
            fileValues,
            environment: [
                "AERON_DIR": "/alias/aeron", "DRIVER_AERON_DIR": "/canonical/aeron", "TP_CONTROL_STREAM_ID": "3000",
                "DRIVER_CONTROL_STREAM_ID": "4000",
            ])
        #expect(canonical.driver.aeronDir == "/canonical/aeron")
        #expect(canonical.driver.controlStreamId == 4000)
    }
}
