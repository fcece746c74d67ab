import Testing

@testable import DriverConfig

/// A document that must be rejected, and the key the error must name.
struct RejectedCase: CustomTestStringConvertible, Sendable {
    let rule: String
    let toml: String
    let key: String
    var testDescription: String { "\(rule) → \(key)" }
}

private let pool64 = "payload_pools = [{ pool_id = 1, stride_bytes = 64 }]"

/// One case per startup rule (driver spec §11 and §17, plus the type and range rules of the key tables).
let rejectedCases: [RejectedCase] = [
    // Profiles (§17).
    .init(rule: "DRV-17-005 no profile", toml: document(profiles: "", streams: ""), key: "profiles"),
    .init(
        rule: "DRV-17-005 no profile, dynamic streams",
        toml: document(
            policies: "allow_dynamic_streams = true",
            profiles: "", streams: ""), key: "profiles"),
    .init(
        rule: "DRV-17-006 profile without pools", toml: document(profiles: "[profiles.p]\nheader_nslots = 16"),
        key: "profiles.p.payload_pools"),
    .init(
        rule: "DRV-17-006 empty pool array", toml: document(profiles: "[profiles.p]\npayload_pools = []"),
        key: "profiles.p.payload_pools"),
    .init(
        rule: "DRV-17-011 header_nslots not a power of two",
        toml: document(profiles: "[profiles.p]\nheader_nslots = 1000\n\(pool64)"), key: "profiles.p.header_nslots"),
    .init(
        rule: "DRV-17-011 header_nslots zero", toml: document(profiles: "[profiles.p]\nheader_nslots = 0\n\(pool64)"),
        key: "profiles.p.header_nslots"),
    .init(
        rule: "DRV-17-012 duplicate pool_id",
        toml: document(
            profiles:
                "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64 }, { pool_id = 1, stride_bytes = 128 }]"
        ),
        key: "profiles.p.payload_pools[1].pool_id"),
    .init(
        rule: "stride not a power of two",
        toml: document(profiles: "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 1000 }]"),
        key: "profiles.p.payload_pools[0].stride_bytes"),
    .init(
        rule: "stride below 64",
        toml: document(profiles: "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 32 }]"),
        key: "profiles.p.payload_pools[0].stride_bytes"),
    .init(
        rule: "header_slot_bytes other than 256",
        toml: document(profiles: "[profiles.p]\nheader_slot_bytes = 128\n\(pool64)"),
        key: "profiles.p.header_slot_bytes"),
    .init(
        rule: "pool without pool_id", toml: document(profiles: "[profiles.p]\npayload_pools = [{ stride_bytes = 64 }]"),
        key: "profiles.p.payload_pools[0].pool_id"),
    .init(
        rule: "pool without stride_bytes", toml: document(profiles: "[profiles.p]\npayload_pools = [{ pool_id = 1 }]"),
        key: "profiles.p.payload_pools[0].stride_bytes"),
    .init(
        rule: "pool_id beyond uint16",
        toml: document(profiles: "[profiles.p]\npayload_pools = [{ pool_id = 65536, stride_bytes = 64 }]"),
        key: "profiles.p.payload_pools[0].pool_id"),
    .init(
        rule: "quoted profile names are quoted in the key",
        toml: document(profiles: "[profiles.\"my cam\"]\nheader_nslots = 3\n\(pool64)", streams: "", extra: ""),
        key: "profiles.\"my cam\".header_nslots"),

    // Streams (§17).
    .init(rule: "DRV-17-007 no static stream without dynamic streams", toml: document(streams: ""), key: "streams"),
    .init(
        rule: "stream names an unknown profile",
        toml: document(streams: "[streams.s]\nstream_id = 10000\nprofile = \"q\""),
        key: "streams.s.profile"),
    .init(
        rule: "duplicate stream_id",
        toml: document(
            streams: "[streams.s]\nstream_id = 7\nprofile = \"p\"\n[streams.t]\nstream_id = 7\nprofile = \"p\""),
        key: "streams.t.stream_id"),
    .init(
        rule: "stream_id zero", toml: document(streams: "[streams.s]\nstream_id = 0\nprofile = \"p\""),
        key: "streams.s.stream_id"),
    .init(
        rule: "stream_id beyond int32",
        toml: document(streams: "[streams.s]\nstream_id = 2147483648\nprofile = \"p\""), key: "streams.s.stream_id"),
    .init(
        rule: "stream_id negative", toml: document(streams: "[streams.s]\nstream_id = -5\nprofile = \"p\""),
        key: "streams.s.stream_id"),
    .init(
        rule: "stream without stream_id", toml: document(streams: "[streams.s]\nprofile = \"p\""),
        key: "streams.s.stream_id"),
    .init(
        rule: "stream without profile", toml: document(streams: "[streams.s]\nstream_id = 5"), key: "streams.s.profile"),
    .init(
        rule: "empty stream name", toml: document(streams: "[streams.\"\"]\nstream_id = 5\nprofile = \"p\""),
        key: "streams.\"\""),
    .init(
        rule: "default_profile unknown", toml: document(policies: "default_profile = \"nope\""),
        key: "policies.default_profile"),

    // Driver endpoints.
    .init(rule: "empty instance_id", toml: document(driver: "instance_id = \"\""), key: "driver.instance_id"),
    .init(
        rule: "channel not aeron:", toml: document(driver: "control_channel = \"ipc\""), key: "driver.control_channel"),
    .init(
        rule: "announce channel not aeron:", toml: document(driver: "announce_channel = \"udp://x\""),
        key: "driver.announce_channel"),
    .init(rule: "qos channel not aeron:", toml: document(driver: "qos_channel = \"\""), key: "driver.qos_channel"),
    .init(
        rule: "negative control stream id", toml: document(driver: "control_stream_id = -1"),
        key: "driver.control_stream_id"),
    .init(
        rule: "control stream id beyond int32", toml: document(driver: "control_stream_id = 3000000000"),
        key: "driver.control_stream_id"),
    .init(
        rule: "announce stream id beyond int32", toml: document(driver: "announce_stream_id = 2147483648"),
        key: "driver.announce_stream_id"),

    // Ranges (§11).
    .init(
        rule: "DRV-11-012 range start after end", toml: document(driver: "stream_id_range = \"29999-20000\""),
        key: "driver.stream_id_range"),
    .init(
        rule: "DRV-11-012 array range start after end", toml: document(driver: "control_stream_id_range = [5, 4]"),
        key: "driver.control_stream_id_range"),
    .init(
        rule: "DRV-11-011 ranges overlap",
        toml: document(driver: "stream_id_range = \"20000-29999\"\ndescriptor_stream_id_range = \"29999-30999\""),
        key: "driver.descriptor_stream_id_range"),
    .init(
        rule: "DRV-11-011 ranges overlap (nested)",
        toml: document(
            driver: "descriptor_stream_id_range = \"31000-31999\"\ncontrol_stream_id_range = \"31500-31600\""),
        key: "driver.control_stream_id_range"),
    .init(
        rule: "DRV-11-009 range holds the control stream id", toml: document(driver: "stream_id_range = \"900-1100\""),
        key: "driver.stream_id_range"),
    .init(
        rule: "DRV-11-009 range holds the announce stream id",
        toml: document(driver: "announce_stream_id = 31500\ndescriptor_stream_id_range = \"31000-31999\""),
        key: "driver.descriptor_stream_id_range"),
    .init(
        rule: "DRV-11-009 range holds the qos stream id",
        toml: document(driver: "control_stream_id_range = \"1200-1200\""),
        key: "driver.control_stream_id_range"),
    .init(
        rule: "DRV-11-010 range holds a static stream", toml: document(driver: "stream_id_range = \"9000-10000\""),
        key: "driver.stream_id_range"),
    .init(
        rule: "range starts at 0", toml: document(driver: "stream_id_range = \"0-10\""), key: "driver.stream_id_range"),
    .init(
        rule: "range beyond int32", toml: document(driver: "stream_id_range = \"2147483000-2147483648\""),
        key: "driver.stream_id_range"),
    .init(
        rule: "DRV-11-003 dynamic streams without a range", toml: document(policies: "allow_dynamic_streams = true"),
        key: "driver.stream_id_range"),
    .init(
        rule: "DRV-11-003 dynamic streams with an empty range",
        toml: document(driver: "stream_id_range = \"\"", policies: "allow_dynamic_streams = true"),
        key: "driver.stream_id_range"),
    .init(
        rule: "malformed range string", toml: document(driver: "stream_id_range = \"20000..29999\""),
        key: "driver.stream_id_range"),
    .init(
        rule: "range array of three", toml: document(driver: "stream_id_range = [1, 2, 3]"),
        key: "driver.stream_id_range"),
    .init(
        rule: "range array of strings", toml: document(driver: "stream_id_range = [\"1\", \"2\"]"),
        key: "driver.stream_id_range"),
    .init(
        rule: "range of the wrong type", toml: document(driver: "stream_id_range = 20000"),
        key: "driver.stream_id_range"),

    // SHM.
    .init(rule: "relative base_dir", toml: document(shm: "base_dir = \"shm/tp\""), key: "shm.base_dir"),
    .init(
        rule: "relative allowed_base_dirs entry",
        toml: document(shm: "base_dir = \"/dev/shm\"\nallowed_base_dirs = [\"/dev/shm\", \"tmp\"]"),
        key: "shm.allowed_base_dirs[1]"),
    .init(
        rule: "base_dir outside allowed_base_dirs",
        toml: document(shm: "base_dir = \"/dev/shm\"\nallowed_base_dirs = [\"/dev/shm/tensorpool\"]"),
        key: "shm.allowed_base_dirs"),
    .init(
        rule: "base_dir escaping allowed_base_dirs with ..",
        toml: document(shm: "base_dir = \"/dev/shm/../etc\"\nallowed_base_dirs = [\"/dev/shm\"]"),
        key: "shm.allowed_base_dirs"),
    .init(rule: "namespace with a slash", toml: document(shm: "namespace = \"a/b\""), key: "shm.namespace"),
    .init(rule: "namespace ..", toml: document(shm: "namespace = \"..\""), key: "shm.namespace"),
    .init(
        rule: "page size not a power of two", toml: document(shm: "page_size_bytes = 3000"), key: "shm.page_size_bytes"),
    .init(rule: "page size zero", toml: document(shm: "page_size_bytes = 0"), key: "shm.page_size_bytes"),
    .init(
        rule: "permissions not octal", toml: document(shm: "permissions_mode = \"689\""), key: "shm.permissions_mode"),
    .init(
        rule: "permissions beyond 7777", toml: document(shm: "permissions_mode = \"17777\""),
        key: "shm.permissions_mode"),
    .init(
        rule: "permissions symbolic", toml: document(shm: "permissions_mode = \"rw-rw----\""),
        key: "shm.permissions_mode"),
    .init(
        rule: "permissions as an integer", toml: document(shm: "permissions_mode = 660"), key: "shm.permissions_mode"),

    // Policies.
    .init(
        rule: "announce period zero", toml: document(policies: "announce_period_ms = 0"),
        key: "policies.announce_period_ms"),
    .init(
        rule: "keepalive interval zero", toml: document(policies: "lease_keepalive_interval_ms = 0"),
        key: "policies.lease_keepalive_interval_ms"),
    .init(
        rule: "grace intervals zero", toml: document(policies: "lease_expiry_grace_intervals = 0"),
        key: "policies.lease_expiry_grace_intervals"),
    .init(rule: "epoch_gc_keep zero", toml: document(policies: "epoch_gc_keep = 0"), key: "policies.epoch_gc_keep"),
    .init(
        rule: "announce period beyond uint32", toml: document(policies: "announce_period_ms = 4294967296"),
        key: "policies.announce_period_ms"),
    .init(
        rule: "negative epoch_gc_min_age_ns", toml: document(policies: "epoch_gc_min_age_ns = -1"),
        key: "policies.epoch_gc_min_age_ns"),

    // Unknown keys fail closed.
    .init(rule: "unknown top-level table", toml: document(extra: "[polices]\nmlock_shm = true"), key: "polices"),
    .init(rule: "unknown driver key", toml: document(driver: "control_stream = 5"), key: "driver.control_stream"),
    .init(rule: "unknown shm key", toml: document(shm: "base_directory = \"/dev/shm\""), key: "shm.base_directory"),
    .init(
        rule: "unknown policies key", toml: document(policies: "anounce_period_ms = 5"),
        key: "policies.anounce_period_ms"),
    .init(
        rule: "unknown profile key", toml: document(profiles: "[profiles.p]\nnslots = 16\n\(pool64)"),
        key: "profiles.p.nslots"),
    .init(
        rule: "unknown pool key",
        toml: document(profiles: "[profiles.p]\npayload_pools = [{ pool_id = 1, stride_bytes = 64, nslots = 8 }]"),
        key: "profiles.p.payload_pools[0].nslots"),
    .init(
        rule: "unknown stream key", toml: document(streams: "[streams.s]\nstream_id = 1\nprofile = \"p\"\nid = 2"),
        key: "streams.s.id"),

    // Wrong TOML types name the key.
    .init(
        rule: "stream id as a string", toml: document(driver: "control_stream_id = \"1000\""),
        key: "driver.control_stream_id"),
    .init(rule: "bool as a string", toml: document(shm: "require_hugepages = \"yes\""), key: "shm.require_hugepages"),
    .init(rule: "bool as an integer", toml: document(policies: "mlock_shm = 1"), key: "policies.mlock_shm"),
    .init(rule: "string as an integer", toml: document(driver: "instance_id = 7"), key: "driver.instance_id"),
    .init(
        rule: "header_nslots as a float", toml: document(profiles: "[profiles.p]\nheader_nslots = 16.0\n\(pool64)"),
        key: "profiles.p.header_nslots"),
    .init(
        rule: "payload_pools as an integer", toml: document(profiles: "[profiles.p]\npayload_pools = 3"),
        key: "profiles.p.payload_pools"),
    .init(
        rule: "payload_pools of integers", toml: document(profiles: "[profiles.p]\npayload_pools = [1, 2]"),
        key: "profiles.p.payload_pools[0]"),
    .init(
        rule: "allowed_base_dirs as a string", toml: document(shm: "allowed_base_dirs = \"/dev/shm\""),
        key: "shm.allowed_base_dirs"),
    .init(
        rule: "allowed_base_dirs of integers", toml: document(shm: "allowed_base_dirs = [1]"),
        key: "shm.allowed_base_dirs[0]"),
    .init(rule: "driver as a value", toml: "driver = 3\n" + minimalProfiles + "\n" + minimalStreams, key: "driver"),
    .init(rule: "profiles as a value", toml: "profiles = 3\n" + minimalStreams, key: "profiles"),
    .init(rule: "profile as a value", toml: document(profiles: "[profiles]\np = 3"), key: "profiles.p"),
    .init(rule: "stream as a value", toml: document(streams: "[streams]\ns = \"p\""), key: "streams.s"),
    .init(
        rule: "stream profile as an integer", toml: document(streams: "[streams.s]\nstream_id = 1\nprofile = 1"),
        key: "streams.s.profile"),
]

@Suite("Startup validation")
struct ValidationTests {
    @Test("each broken rule is rejected with an error naming its key", arguments: rejectedCases)
    func rejected(_ rejected: RejectedCase) {
        expectError(rejected.toml, key: rejected.key)
    }

    @Test("the base document of the rejected cases is itself valid")
    func baseDocumentIsValid() throws {
        _ = try DriverConfiguration.parse(document())
    }

    @Test("ranges that touch but do not overlap, and ranges next to reserved IDs, are accepted")
    func adjacentRanges() throws {
        let config = try DriverConfiguration.parse(
            document(
                driver: """
                    stream_id_range = "1002-1199"
                    descriptor_stream_id_range = "1201-9999"
                    control_stream_id_range = "10001-10001"
                    """,
                policies: "allow_dynamic_streams = true"))
        #expect(config.driver.streamIdRange == StreamIdRange(lower: 1002, upper: 1199))
    }

    @Test("validate() checks configurations built in code")
    func programmaticConfigurations() {
        let profile = DriverConfiguration.Profile(name: "p", payloadPools: [.init(poolId: 1, strideBytes: 64)])
        let stream = DriverConfiguration.Stream(name: "s", streamId: 5, profile: "p")
        var config = DriverConfiguration(profiles: [profile], streams: [stream])

        config.profiles = [profile, profile]
        expectInvalid(config, key: "profiles.p")

        config.profiles = [profile]
        config.shm.permissionsMode = 0o10000
        expectInvalid(config, key: "shm.permissions_mode")

        config.shm.permissionsMode = 0o600
        config.streams = [stream, .init(name: "s", streamId: 6, profile: "p")]
        expectInvalid(config, key: "streams.s")

        config.streams = [stream]
        config.driver.qosStreamId = -3
        expectInvalid(config, key: "driver.qos_stream_id")

        config.driver.qosStreamId = 1200
        config.shm.allowedBaseDirectories = []
        expectInvalid(config, key: "shm.allowed_base_dirs")

        config.shm.allowedBaseDirectories = ["/"]
        config.policies.defaultProfile = ""
        expectInvalid(config, key: "policies.default_profile")

        config.policies.defaultProfile = "p"
        #expect(throws: Never.self) { try config.validate() }
    }
}
