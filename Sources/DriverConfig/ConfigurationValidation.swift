import TensorPoolSHM

extension DriverConfiguration {
    /// Checks every startup rule and throws for the first one broken; ``load(path:environment:)`` and
    /// ``parse(_:environment:)`` run it before returning.
    ///
    /// In order:
    /// - profiles (§17): at least one (DRV-17-005), names unique and non-empty; `header_nslots` a power of two
    ///   (DRV-17-011); at least one pool (DRV-17-006); pool IDs unique in the profile (DRV-17-012); `stride_bytes` 64
    ///   times a power of two (wire spec §15.22);
    /// - streams: with `allow_dynamic_streams=false` at least one static stream, since none can be created later
    ///   (DRV-17-007); names unique and non-empty; `stream_id` in `1...Int32.max` (it is an Aeron stream ID) and
    ///   unique; `profile` an existing profile;
    /// - `policies.default_profile` an existing profile;
    /// - `driver`: `instance_id` non-empty; channels `aeron:` URIs; stream IDs not negative;
    /// - ranges (§11): each with `lower <= upper` (DRV-11-012), within `1...Int32.max`; no two overlapping
    ///   (DRV-11-011); none containing the control, announce or QoS stream ID (DRV-11-009) or a static
    ///   `streams.*.stream_id` (DRV-11-010) — checked at startup (DRV-11-013) so a bad range fails fast (DRV-11-014);
    ///   `allow_dynamic_streams=true` requires `driver.stream_id_range` (DRV-11-003);
    /// - `shm`: `base_dir` and every `allowed_base_dirs` entry absolute; `base_dir` inside an allowed directory
    ///   (DRV-9-002); `namespace` a single path component; `page_size_bytes` a power of two; `permissions_mode` at
    ///   most `0o7777`;
    /// - `policies`: announce period, keepalive interval, grace intervals and `epoch_gc_keep` at least 1.
    ///
    /// - Throws: ``ConfigurationError`` whose ``ConfigurationError/key`` names the offending setting.
    public func validate() throws(ConfigurationError) {
        try validateProfiles()
        try validateStreams()
        try validateDriver()
        try validateRanges()
        try validateShm()
        try validatePolicies()
    }

    private func validateProfiles() throws(ConfigurationError) {
        guard !profiles.isEmpty else {
            throw ConfigurationError(key: "profiles", message: "at least one profile must be defined")
        }
        var names: Set<String> = []
        for profile in profiles {
            let path = KeyPath.join("profiles", profile.name)
            guard !profile.name.isEmpty else {
                throw ConfigurationError(key: path, message: "a profile name must not be empty")
            }
            guard names.insert(profile.name).inserted else {
                throw ConfigurationError(key: path, message: "profile \(profile.name) is defined twice")
            }
            guard ShmLayout.isValidSlotCount(profile.headerNslots) else {
                throw ConfigurationError(
                    key: "\(path).header_nslots", message: "\(profile.headerNslots) is not a power of two")
            }
            guard !profile.payloadPools.isEmpty else {
                throw ConfigurationError(
                    key: "\(path).payload_pools", message: "a profile must define at least one payload pool")
            }
            var poolIds: Set<UInt16> = []
            for (index, pool) in profile.payloadPools.enumerated() {
                let poolPath = "\(path).payload_pools[\(index)]"
                guard poolIds.insert(pool.poolId).inserted else {
                    throw ConfigurationError(
                        key: "\(poolPath).pool_id", message: "pool_id \(pool.poolId) is used twice in the profile")
                }
                guard ShmLayout.isValidStride(pool.strideBytes) else {
                    throw ConfigurationError(
                        key: "\(poolPath).stride_bytes",
                        message: "\(pool.strideBytes) is not 64 times a power of two (64, 128, 256, …)")
                }
            }
        }
    }

    private func validateStreams() throws(ConfigurationError) {
        if !policies.allowDynamicStreams && streams.isEmpty {
            throw ConfigurationError(
                key: "streams",
                message: "with policies.allow_dynamic_streams=false every stream must be defined under streams.*")
        }
        var names: Set<String> = []
        var ids: [UInt32: String] = [:]
        for stream in streams {
            let path = KeyPath.join("streams", stream.name)
            guard !stream.name.isEmpty else {
                throw ConfigurationError(key: path, message: "a stream name must not be empty")
            }
            guard names.insert(stream.name).inserted else {
                throw ConfigurationError(key: path, message: "stream \(stream.name) is defined twice")
            }
            guard stream.streamId >= 1, stream.streamId <= UInt32(Int32.max) else {
                throw ConfigurationError(
                    key: "\(path).stream_id",
                    message: "\(stream.streamId) is not a stream ID in 1...\(Int32.max) (Aeron stream IDs are int32)")
            }
            if let other = ids.updateValue(stream.name, forKey: stream.streamId) {
                throw ConfigurationError(
                    key: "\(path).stream_id",
                    message: "stream_id \(stream.streamId) is already used by \(KeyPath.join("streams", other))")
            }
            guard profile(named: stream.profile) != nil else {
                throw ConfigurationError(
                    key: "\(path).profile", message: "no profile named \"\(stream.profile)\" is defined")
            }
        }
        guard profile(named: policies.defaultProfile) != nil else {
            throw ConfigurationError(
                key: "policies.default_profile", message: "no profile named \"\(policies.defaultProfile)\" is defined")
        }
    }

    private func validateDriver() throws(ConfigurationError) {
        guard !driver.instanceId.isEmpty else {
            throw ConfigurationError(key: "driver.instance_id", message: "must not be empty")
        }
        let channels = [
            ("driver.control_channel", driver.controlChannel), ("driver.announce_channel", driver.announceChannel),
            ("driver.qos_channel", driver.qosChannel),
        ]
        for (key, channel) in channels where !channel.hasPrefix("aeron:") {
            throw ConfigurationError(key: key, message: "\"\(channel)\" is not an Aeron channel URI (aeron:…)")
        }
        for (key, id) in fixedStreamIds where id < 0 {
            throw ConfigurationError(key: key, message: "\(id) is not a stream ID in 0...\(Int32.max)")
        }
    }

    private var fixedStreamIds: [(String, Int32)] {
        [
            ("driver.control_stream_id", driver.controlStreamId),
            ("driver.announce_stream_id", driver.announceStreamId),
            ("driver.qos_stream_id", driver.qosStreamId),
        ]
    }

    private func validateRanges() throws(ConfigurationError) {
        let ranges: [(String, StreamIdRange)] = [
            ("driver.stream_id_range", driver.streamIdRange),
            ("driver.descriptor_stream_id_range", driver.descriptorStreamIdRange),
            ("driver.control_stream_id_range", driver.controlStreamIdRange),
        ].compactMap { key, range in range.map { (key, $0) } }
        for (index, (key, range)) in ranges.enumerated() {
            guard range.isWellFormed else {
                throw ConfigurationError(key: key, message: "range \(range) starts after it ends")
            }
            guard range.lower >= 1, range.upper <= UInt32(Int32.max) else {
                throw ConfigurationError(
                    key: key, message: "range \(range) is not within 1...\(Int32.max) (Aeron stream IDs are int32)")
            }
            for (otherKey, other) in ranges[..<index] where range.overlaps(other) {
                throw ConfigurationError(key: key, message: "range \(range) overlaps \(otherKey) (\(other))")
            }
            for (idKey, id) in fixedStreamIds where id >= 0 && range.contains(UInt32(id)) {
                throw ConfigurationError(key: key, message: "range \(range) contains \(idKey) \(id)")
            }
            for stream in streams where range.contains(stream.streamId) {
                let streamKey = KeyPath.join("streams", stream.name, "stream_id")
                throw ConfigurationError(
                    key: key, message: "range \(range) contains the static stream \(streamKey) \(stream.streamId)")
            }
        }
        if policies.allowDynamicStreams && driver.streamIdRange == nil {
            throw ConfigurationError(
                key: "driver.stream_id_range",
                message: "policies.allow_dynamic_streams=true needs a range to allocate stream IDs from")
        }
    }

    private func validateShm() throws(ConfigurationError) {
        guard Self.isAbsolute(shm.baseDirectory) else {
            throw ConfigurationError(key: "shm.base_dir", message: "\"\(shm.baseDirectory)\" is not an absolute path")
        }
        guard !shm.allowedBaseDirectories.isEmpty else {
            throw ConfigurationError(key: "shm.allowed_base_dirs", message: "must list at least one directory")
        }
        for (index, directory) in shm.allowedBaseDirectories.enumerated() where !Self.isAbsolute(directory) {
            throw ConfigurationError(
                key: "shm.allowed_base_dirs[\(index)]", message: "\"\(directory)\" is not an absolute path")
        }
        let base = Self.lexicalComponents(shm.baseDirectory)
        let allowed = shm.allowedBaseDirectories.map(Self.lexicalComponents)
        guard allowed.contains(where: { base.starts(with: $0) }) else {
            throw ConfigurationError(
                key: "shm.allowed_base_dirs",
                message: "shm.base_dir \"\(shm.baseDirectory)\" is not inside any allowed base directory")
        }
        let namespace = shm.namespace
        guard !namespace.isEmpty, namespace != ".", namespace != "..", !namespace.contains("/"),
            !namespace.contains("\0")
        else {
            throw ConfigurationError(key: "shm.namespace", message: "\"\(namespace)\" is not a single path component")
        }
        guard ShmLayout.isPowerOfTwo(shm.pageSizeBytes) else {
            throw ConfigurationError(key: "shm.page_size_bytes", message: "\(shm.pageSizeBytes) is not a power of two")
        }
        guard shm.permissionsMode <= 0o7777 else {
            throw ConfigurationError(
                key: "shm.permissions_mode",
                message: "0o\(String(shm.permissionsMode, radix: 8)) is larger than 0o7777")
        }
    }

    private func validatePolicies() throws(ConfigurationError) {
        let positives: [(String, UInt32)] = [
            ("policies.announce_period_ms", policies.announcePeriodMs),
            ("policies.lease_keepalive_interval_ms", policies.leaseKeepaliveIntervalMs),
            ("policies.lease_expiry_grace_intervals", policies.leaseExpiryGraceIntervals),
            ("policies.epoch_gc_keep", policies.epochGcKeep),
        ]
        for (key, value) in positives where value < 1 {
            throw ConfigurationError(key: key, message: "must be at least 1")
        }
    }

    private static func isAbsolute(_ path: String) -> Bool { path.hasPrefix("/") && !path.contains("\0") }

    /// The components of an absolute path with empty and `.` components dropped and `..` applied lexically.
    private static func lexicalComponents(_ path: String) -> [String] {
        var components: [String] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": if !components.isEmpty { components.removeLast() }
            default: components.append(String(part))
            }
        }
        return components
    }
}
