internal import Foundation
internal import TOMLKit
import TensorPoolSHM

extension DriverConfiguration {
    /// The environment of this process, the default source of overrides for ``load(path:environment:)``.
    public static var processEnvironment: [String: String] { ProcessInfo.processInfo.environment }

    /// Every key an environment variable may override: each scalar key of the `driver`, `shm` and `policies` tables,
    /// in the order of driver spec §17 (extension keys last in their table).
    public static let overridableKeys: [String] =
        TableSchema.driver.dottedKeys + TableSchema.shm.dottedKeys + TableSchema.policies.dottedKeys

    /// Extra environment variables the Julia reference also reads, by the key each one overrides. Each applies only
    /// when the canonical variable (``environmentVariableName(for:)``) is not set; like it, it wins over the file.
    public static let environmentAliases: [String: String] = [
        "AERON_DIR": "driver.aeron_dir",
        "TP_CONTROL_CHANNEL": "driver.control_channel",
        "TP_CONTROL_STREAM_ID": "driver.control_stream_id",
    ]

    /// The environment variable that overrides `key` (DRV-17-003): the key upper-cased with every `.` replaced by `_`.
    ///
    /// - Parameter key: A dotted configuration key, e.g. `driver.control_stream_id`.
    /// - Returns: The variable name, e.g. `DRIVER_CONTROL_STREAM_ID`.
    public static func environmentVariableName(for key: String) -> String {
        String(key.map { $0 == "." ? "_" : $0 }).uppercased()
    }

    /// Reads the TOML file at `path`, applies environment overrides (DRV-17-003, DRV-17-004) and validates the result.
    ///
    /// - Parameters:
    ///   - path: Path of a TOML file in the format of driver spec §17.
    ///   - environment: Variables that override keys of the `driver`, `shm` and `policies` tables; the process
    ///     environment by default.
    /// - Returns: A configuration that passed ``validate()``.
    /// - Throws: ``ConfigurationError`` naming ``ConfigurationError/documentKey`` when the file cannot be read or is
    ///   not valid TOML, else naming the offending key.
    public static func load(
        path: String, environment: [String: String] = DriverConfiguration.processEnvironment
    ) throws(ConfigurationError) -> DriverConfiguration {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConfigurationError(key: ConfigurationError.documentKey, message: "cannot read \(path): \(error)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(key: ConfigurationError.documentKey, message: "\(path) is not UTF-8 text")
        }
        return try parse(text, environment: environment, documentName: path)
    }

    /// Parses a TOML document, applies environment overrides (DRV-17-003, DRV-17-004) and validates the result.
    ///
    /// - Parameters:
    ///   - toml: A TOML document in the format of driver spec §17.
    ///   - environment: Variables that override keys of the `driver`, `shm` and `policies` tables; none by default.
    /// - Returns: A configuration that passed ``validate()``.
    /// - Throws: ``ConfigurationError`` naming ``ConfigurationError/documentKey`` for a TOML syntax error, else naming
    ///   the offending key.
    public static func parse(
        _ toml: String, environment: [String: String] = [:]
    ) throws(ConfigurationError) -> DriverConfiguration {
        try parse(toml, environment: environment, documentName: nil)
    }

    static func parse(
        _ toml: String, environment: [String: String], documentName: String?
    ) throws(ConfigurationError) -> DriverConfiguration {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: toml)
        } catch let error as TOMLParseError {
            let position = "line \(error.source.begin.line), column \(error.source.begin.column)"
            let place = documentName.map { "\($0): \(position)" } ?? position
            throw ConfigurationError(key: ConfigurationError.documentKey, message: "\(place): \(error.description)")
        } catch {
            throw ConfigurationError(key: ConfigurationError.documentKey, message: "\(error)")
        }
        let reader = ConfigurationReader(root: root, source: toml, environment: environment)
        let configuration = try reader.read()
        try configuration.validate()
        return configuration
    }
}

/// The known keys of a table, in the order of driver spec §17.
struct TableSchema {
    let name: String
    let keys: [String]

    var dottedKeys: [String] { keys.map { "\(name).\($0)" } }

    static let topLevel = TableSchema(name: "", keys: ["driver", "shm", "policies", "profiles", "streams"])
    static let driver = TableSchema(
        name: "driver",
        keys: [
            "instance_id", "aeron_dir", "control_channel", "control_stream_id", "announce_channel",
            "announce_stream_id", "qos_channel", "qos_stream_id", "stream_id_range", "descriptor_stream_id_range",
            "control_stream_id_range",
        ])
    static let shm = TableSchema(
        name: "shm",
        keys: [
            "base_dir", "require_hugepages", "page_size_bytes", "permissions_mode", "allowed_base_dirs", "namespace",
        ])
    static let policies = TableSchema(
        name: "policies",
        keys: [
            "allow_dynamic_streams", "default_profile", "announce_period_ms", "lease_keepalive_interval_ms",
            "lease_expiry_grace_intervals", "prefault_shm", "mlock_shm", "epoch_gc_enabled", "epoch_gc_keep",
            "epoch_gc_min_age_ns", "epoch_gc_on_startup", "shutdown_timeout_ms", "shutdown_token",
            "reuse_existing_shm", "cleanup_shm_on_exit",
        ])
    static let profile = TableSchema(name: "profiles", keys: ["header_nslots", "header_slot_bytes", "payload_pools"])
    static let pool = TableSchema(name: "payload_pools", keys: ["pool_id", "stride_bytes"])
    static let stream = TableSchema(name: "streams", keys: ["stream_id", "profile"])

    /// Throws for the first key of `table` (in key order) this schema does not know.
    func rejectUnknownKeys(of table: TOMLTable, at path: String) throws(ConfigurationError) {
        for key in table.keys where !keys.contains(key) {
            let fullKey = path.isEmpty ? KeyPath.component(key) : "\(path).\(KeyPath.component(key))"
            let known = keys.joined(separator: ", ")
            throw ConfigurationError(key: fullKey, message: "unknown key (known keys here: \(known))")
        }
    }
}

/// Turns a parsed TOML document and an environment into a ``DriverConfiguration`` (not yet validated).
struct ConfigurationReader {
    let root: TOMLTable
    let source: String
    let environment: [String: String]

    func read() throws(ConfigurationError) -> DriverConfiguration {
        try TableSchema.topLevel.rejectUnknownKeys(of: root, at: "")
        let driverSection = try section(.driver)
        let shmSection = try section(.shm)
        let policiesSection = try section(.policies)
        let profiles = try readProfiles()
        let streams = try readStreams()
        let driver = try readDriver(driverSection)
        let shm = try readShm(shmSection)
        // An empty default_profile becomes the first profile's name in DriverConfiguration.init.
        let policies = try readPolicies(policiesSection)
        return DriverConfiguration(driver: driver, shm: shm, policies: policies, profiles: profiles, streams: streams)
    }

    // MARK: Tables with environment overrides

    private func section(_ schema: TableSchema) throws(ConfigurationError) -> Section {
        var table: TOMLTable?
        if let value = root[schema.name] {
            guard let sub = value.table else {
                throw ConfigurationError.wrongType(key: schema.name, expected: "a table", found: value)
            }
            try schema.rejectUnknownKeys(of: sub, at: schema.name)
            table = sub
        }
        return Section(name: schema.name, table: table, environment: environment)
    }

    private func readDriver(_ section: Section) throws(ConfigurationError) -> DriverConfiguration.Driver {
        let nonNegative = Int32(0)
        let aeronDir = try section.string("aeron_dir")
        return DriverConfiguration.Driver(
            instanceId: try section.string("instance_id") ?? "driver-01",
            aeronDir: aeronDir?.isEmpty == true ? nil : aeronDir,
            controlChannel: try section.string("control_channel") ?? "aeron:ipc?term-length=4m",
            controlStreamId: try section.integer("control_stream_id", minimum: nonNegative) ?? 1000,
            announceChannel: try section.string("announce_channel"),
            announceStreamId: try section.integer("announce_stream_id", minimum: nonNegative),
            qosChannel: try section.string("qos_channel") ?? "aeron:ipc?term-length=4m",
            qosStreamId: try section.integer("qos_stream_id", minimum: nonNegative) ?? 1200,
            streamIdRange: try section.range("stream_id_range"),
            descriptorStreamIdRange: try section.range("descriptor_stream_id_range"),
            controlStreamIdRange: try section.range("control_stream_id_range")
        )
    }

    private func readShm(_ section: Section) throws(ConfigurationError) -> DriverConfiguration.Shm {
        let zero = UInt32(0)
        return DriverConfiguration.Shm(
            baseDirectory: try section.string("base_dir") ?? "/dev/shm/tensorpool",
            namespace: try section.string("namespace") ?? "default",
            requireHugepages: try section.bool("require_hugepages") ?? false,
            pageSizeBytes: try section.integer("page_size_bytes", minimum: zero) ?? 4096,
            permissionsMode: try section.permissions("permissions_mode") ?? 0o660,
            allowedBaseDirectories: try section.stringArray("allowed_base_dirs")
        )
    }

    private func readPolicies(_ section: Section) throws(ConfigurationError) -> DriverConfiguration.Policies {
        let zero = UInt32(0)
        let announcePeriodMs = try section.integer("announce_period_ms", minimum: zero) ?? 1000
        // As in the Julia reference, 0 also asks for the derived default (three announce periods).
        let minAge = try section.integer("epoch_gc_min_age_ns", minimum: UInt64(0))
        return DriverConfiguration.Policies(
            allowDynamicStreams: try section.bool("allow_dynamic_streams") ?? false,
            defaultProfile: try section.string("default_profile") ?? "",
            announcePeriodMs: announcePeriodMs,
            leaseKeepaliveIntervalMs: try section.integer("lease_keepalive_interval_ms", minimum: zero) ?? 1000,
            leaseExpiryGraceIntervals: try section.integer("lease_expiry_grace_intervals", minimum: zero) ?? 3,
            prefaultShm: try section.bool("prefault_shm") ?? true,
            reuseExistingShm: try section.bool("reuse_existing_shm") ?? false,
            mlockShm: try section.bool("mlock_shm") ?? false,
            cleanupShmOnExit: try section.bool("cleanup_shm_on_exit") ?? false,
            epochGcEnabled: try section.bool("epoch_gc_enabled") ?? true,
            epochGcKeep: try section.integer("epoch_gc_keep", minimum: zero) ?? 2,
            epochGcMinAgeNs: minAge == 0 ? nil : minAge,
            epochGcOnStartup: try section.bool("epoch_gc_on_startup") ?? false,
            shutdownTimeoutMs: try section.integer("shutdown_timeout_ms", minimum: zero) ?? 2000,
            shutdownToken: try section.string("shutdown_token")
        )
    }

    // MARK: Profiles and streams

    private func namedTables(_ rootKey: String) throws(ConfigurationError) -> [(String, TOMLTable)] {
        guard let value = root[rootKey] else { return [] }
        guard let table = value.table else {
            throw ConfigurationError.wrongType(key: rootKey, expected: "a table", found: value)
        }
        var entries: [(String, TOMLTable)] = []
        for name in TableHeaderScanner.ordered(table.keys, root: rootKey, source: source) {
            guard let entryValue = table[name] else { continue }
            guard let entry = entryValue.table else {
                throw ConfigurationError.wrongType(
                    key: KeyPath.join(rootKey, name), expected: "a table", found: entryValue)
            }
            entries.append((name, entry))
        }
        return entries
    }

    private func readProfiles() throws(ConfigurationError) -> [DriverConfiguration.Profile] {
        var profiles: [DriverConfiguration.Profile] = []
        for (name, table) in try namedTables("profiles") {
            let path = KeyPath.join("profiles", name)
            try TableSchema.profile.rejectUnknownKeys(of: table, at: path)
            let headerNslots = try TOMLField.integer(table, "header_nslots", path: path, minimum: UInt32(0)) ?? 1024
            if let slotBytes = try TOMLField.integer(table, "header_slot_bytes", path: path, minimum: UInt32(0)),
                slotBytes != UInt32(ShmLayout.headerSlotBytes)
            {
                throw ConfigurationError(
                    key: "\(path).header_slot_bytes",
                    message: "\(slotBytes) is not \(ShmLayout.headerSlotBytes), the only header slot size of v1")
            }
            var pools: [DriverConfiguration.Pool] = []
            if let poolsValue = table["payload_pools"] {
                guard let array = poolsValue.array else {
                    throw ConfigurationError.wrongType(
                        key: "\(path).payload_pools", expected: "an array of tables", found: poolsValue)
                }
                for (index, element) in array.enumerated() {
                    let poolPath = "\(path).payload_pools[\(index)]"
                    guard let poolTable = element.table else {
                        throw ConfigurationError.wrongType(key: poolPath, expected: "a table", found: element)
                    }
                    try TableSchema.pool.rejectUnknownKeys(of: poolTable, at: poolPath)
                    guard let poolId = try TOMLField.integer(poolTable, "pool_id", path: poolPath, minimum: UInt16(0))
                    else { throw ConfigurationError.missing(key: "\(poolPath).pool_id") }
                    guard
                        let stride = try TOMLField.integer(
                            poolTable, "stride_bytes", path: poolPath, minimum: UInt32(0))
                    else { throw ConfigurationError.missing(key: "\(poolPath).stride_bytes") }
                    pools.append(DriverConfiguration.Pool(poolId: poolId, strideBytes: stride))
                }
            }
            profiles.append(DriverConfiguration.Profile(name: name, headerNslots: headerNslots, payloadPools: pools))
        }
        return profiles
    }

    private func readStreams() throws(ConfigurationError) -> [DriverConfiguration.Stream] {
        var streams: [DriverConfiguration.Stream] = []
        for (name, table) in try namedTables("streams") {
            let path = KeyPath.join("streams", name)
            try TableSchema.stream.rejectUnknownKeys(of: table, at: path)
            guard let streamId = try TOMLField.integer(table, "stream_id", path: path, minimum: UInt32(0)) else {
                throw ConfigurationError.missing(key: "\(path).stream_id")
            }
            guard let profile = try TOMLField.string(table, "profile", path: path) else {
                throw ConfigurationError.missing(key: "\(path).profile")
            }
            streams.append(DriverConfiguration.Stream(name: name, streamId: streamId, profile: profile))
        }
        return streams
    }
}

/// Typed reads of one key of a TOML table.
enum TOMLField {
    static func string(_ table: TOMLTable, _ key: String, path: String) throws(ConfigurationError) -> String? {
        guard let value = table[key] else { return nil }
        guard let string = value.string else {
            throw ConfigurationError.wrongType(key: "\(path).\(key)", expected: "a string", found: value)
        }
        return string
    }

    static func bool(_ table: TOMLTable, _ key: String, path: String) throws(ConfigurationError) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let bool = value.bool else {
            throw ConfigurationError.wrongType(key: "\(path).\(key)", expected: "a boolean", found: value)
        }
        return bool
    }

    static func integer<T: FixedWidthInteger>(
        _ table: TOMLTable, _ key: String, path: String, minimum: T
    ) throws(ConfigurationError) -> T? {
        guard let value = table[key] else { return nil }
        guard let int = value.int else {
            throw ConfigurationError.wrongType(key: "\(path).\(key)", expected: "an integer", found: value)
        }
        guard let converted = T(exactly: int), converted >= minimum else {
            throw ConfigurationError.outOfRange(key: "\(path).\(key)", value: "\(int)", minimum: minimum)
        }
        return converted
    }
}

/// One of the `driver`, `shm` and `policies` tables, whose scalar keys the environment may override. Every read looks
/// at the environment variable first (DRV-17-004), then at the table, and returns `nil` when neither has the key.
struct Section {
    let name: String
    let table: TOMLTable?
    let environment: [String: String]

    private func fullKey(_ key: String) -> String { "\(name).\(key)" }

    /// The override of `key`: its canonical variable, else an alias of the Julia reference.
    private func override(_ key: String) -> (variable: String, value: String)? {
        let full = fullKey(key)
        let canonical = DriverConfiguration.environmentVariableName(for: full)
        if let value = environment[canonical] { return (canonical, value) }
        for (alias, target) in DriverConfiguration.environmentAliases.sorted(by: { $0.key < $1.key })
        where target == full {
            if let value = environment[alias] { return (alias, value) }
        }
        return nil
    }

    private func badOverride(_ key: String, _ variable: String, _ value: String, _ what: String) -> ConfigurationError {
        ConfigurationError(
            key: fullKey(key), message: "environment variable \(variable)=\"\(value)\" is not \(what)")
    }

    func string(_ key: String) throws(ConfigurationError) -> String? {
        if let (_, value) = override(key) { return value }
        guard let table else { return nil }
        return try TOMLField.string(table, key, path: name)
    }

    func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        if let (variable, value) = override(key) {
            switch value.trimmingBlanks().lowercased() {
            case "true", "1", "yes", "on": return true
            case "false", "0", "no", "off": return false
            default: throw badOverride(key, variable, value, "a boolean (true or false)")
            }
        }
        guard let table else { return nil }
        return try TOMLField.bool(table, key, path: name)
    }

    func integer<T: FixedWidthInteger>(_ key: String, minimum: T) throws(ConfigurationError) -> T? {
        if let (variable, value) = override(key) {
            guard let parsed = T(value.trimmingBlanks()), parsed >= minimum else {
                throw badOverride(key, variable, value, "an integer in \(minimum)...\(T.max)")
            }
            return parsed
        }
        guard let table else { return nil }
        return try TOMLField.integer(table, key, path: name, minimum: minimum)
    }

    /// An array of strings; the environment form is comma-separated, blanks around entries ignored, empty entries
    /// dropped.
    func stringArray(_ key: String) throws(ConfigurationError) -> [String]? {
        if let (_, value) = override(key) {
            return value.split(separator: ",").map { String($0.trimmingBlanks()) }.filter { !$0.isEmpty }
        }
        guard let table, let value = table[key] else { return nil }
        guard let array = value.array else {
            throw ConfigurationError.wrongType(key: fullKey(key), expected: "an array of strings", found: value)
        }
        var strings: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element.string else {
                throw ConfigurationError.wrongType(
                    key: "\(fullKey(key))[\(index)]", expected: "a string", found: element)
            }
            strings.append(string)
        }
        return strings
    }

    /// A stream-ID range: `"a-b"` (or `"a,b"`), or in the file also `[a, b]`; an empty string or array is off (`nil`).
    func range(_ key: String) throws(ConfigurationError) -> StreamIdRange? {
        if let (variable, value) = override(key) {
            if value.trimmingBlanks().isEmpty { return nil }
            guard let range = StreamIdRange(value) else {
                throw badOverride(key, variable, value, "a range such as \"20000-29999\"")
            }
            return range
        }
        guard let table, let value = table[key] else { return nil }
        if let text = value.string {
            if text.trimmingBlanks().isEmpty { return nil }
            guard let range = StreamIdRange(text) else {
                throw ConfigurationError(
                    key: fullKey(key), message: "\"\(text)\" is not a range such as \"20000-29999\" or [20000, 29999]")
            }
            return range
        }
        if let array = value.array {
            if array.isEmpty { return nil }
            let bounds = array.compactMap { $0.int }.compactMap { UInt32(exactly: $0) }
            guard array.count == 2, bounds.count == 2 else {
                throw ConfigurationError(
                    key: fullKey(key),
                    message: "\(value.debugDescription) is not two stream IDs [lower, upper] in 0...\(UInt32.max)")
            }
            return StreamIdRange(lower: bounds[0], upper: bounds[1])
        }
        throw ConfigurationError.wrongType(
            key: fullKey(key), expected: "a string \"lower-upper\" or an array [lower, upper]", found: value)
    }

    /// A POSIX mode written as an octal string (`"660"`, `"0660"`, `"0o660"`), at most `0o7777`.
    func permissions(_ key: String) throws(ConfigurationError) -> UInt32? {
        let text: String
        let origin: String
        if let (variable, value) = override(key) {
            text = value
            origin = "environment variable \(variable)=\"\(value)\""
        } else {
            guard let table, let value = table[key] else { return nil }
            guard let string = value.string else {
                throw ConfigurationError.wrongType(
                    key: fullKey(key), expected: "an octal string such as \"660\"", found: value)
            }
            text = string
            origin = "\"\(string)\""
        }
        guard let mode = Self.parseOctalMode(text) else {
            throw ConfigurationError(
                key: fullKey(key), message: "\(origin) is not an octal permission mode in 0...7777, such as \"660\"")
        }
        return mode
    }

    static func parseOctalMode(_ text: String) -> UInt32? {
        var digits = text.trimmingBlanks()
        if digits.hasPrefix("0o") || digits.hasPrefix("0O") { digits = digits.dropFirst(2) }
        guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ ("0"..."7").contains($0) }),
            let mode = UInt32(digits, radix: 8), mode <= 0o7777
        else { return nil }
        return mode
    }
}

extension ConfigurationError {
    static func wrongType(key: String, expected: String, found value: any TOMLValueConvertible) -> ConfigurationError {
        ConfigurationError(key: key, message: "expected \(expected), found \(describe(value.type))")
    }

    static func missing(key: String) -> ConfigurationError {
        ConfigurationError(key: key, message: "is required")
    }

    static func outOfRange<T: FixedWidthInteger>(key: String, value: String, minimum: T) -> ConfigurationError {
        ConfigurationError(key: key, message: "\(value) is out of range \(minimum)...\(T.max)")
    }

    private static func describe(_ type: TOMLType) -> String {
        switch type {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }
}
