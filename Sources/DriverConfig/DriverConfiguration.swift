/// The SHM driver's canonical configuration (driver spec v1.0 §17): endpoints, SHM policy, driver policies, profiles
/// and statically configured streams, with the §11 stream-ID allocation ranges.
///
/// Read one with ``load(path:environment:)`` or ``parse(_:environment:)``: every key of the `driver`, `shm` and
/// `policies` tables may be overridden by an environment variable named the Aeron way (the key upper-cased with `.`
/// replaced by `_`, e.g. `DRIVER_CONTROL_STREAM_ID`), and the environment wins over the file (DRV-17-003, DRV-17-004).
/// Both run ``validate()``, so a configuration they return is one the driver may start with.
///
/// ```swift
/// let config = try DriverConfiguration.load(path: "/etc/tensorpool/driver.toml")
/// let camera = config.stream(id: 10000)
/// ```
public struct DriverConfiguration: Sendable, Hashable {
    /// Identity and Aeron endpoints of the driver (`[driver]`), with the stream-ID allocation ranges of §11.
    public struct Driver: Sendable, Hashable {
        /// `driver.instance_id`: the name used in logs and diagnostics. Default `"driver-01"`.
        public var instanceId: String
        /// `driver.aeron_dir`: the Aeron media driver directory; `nil` (or an empty string in the file) means the
        /// Aeron library's default.
        public var aeronDir: String?
        /// `driver.control_channel`: the Aeron channel of the control plane. Default `"aeron:ipc?term-length=4m"`.
        public var controlChannel: String
        /// `driver.control_stream_id`: the control-plane stream ID. Default `1000`.
        public var controlStreamId: Int32
        /// `driver.announce_channel`: the channel of `ShmPoolAnnounce`. Default: the control channel.
        public var announceChannel: String
        /// `driver.announce_stream_id`: the stream ID of `ShmPoolAnnounce`. Default ``defaultAnnounceStreamId``
        /// (1001), the stream both peers' examples and every client default of ours use; §17's canonical default is
        /// the control stream ID (see the interop note there).
        public var announceStreamId: Int32
        /// The default of `driver.announce_stream_id`: 1001.
        public static let defaultAnnounceStreamId: Int32 = 1001
        /// `driver.qos_channel`: the channel of QoS messages. Default `"aeron:ipc?term-length=4m"`.
        public var qosChannel: String
        /// `driver.qos_stream_id`: the QoS stream ID. Default `1200`.
        public var qosStreamId: Int32
        /// `driver.stream_id_range`: IDs given to streams created on demand (DRV-11-002); `nil` turns dynamic
        /// allocation off.
        public var streamIdRange: StreamIdRange?
        /// `driver.descriptor_stream_id_range`: IDs for per-consumer descriptor streams (DRV-11-004); `nil` is off.
        public var descriptorStreamIdRange: StreamIdRange?
        /// `driver.control_stream_id_range`: IDs for per-consumer control streams (DRV-11-005); `nil` is off.
        public var controlStreamIdRange: StreamIdRange?

        /// The `[driver]` table, every argument defaulting as §17 says.
        ///
        /// - Parameters:
        ///   - instanceId: Name for logs and diagnostics.
        ///   - aeronDir: Aeron directory, `nil` for the library default.
        ///   - controlChannel: Control-plane channel.
        ///   - controlStreamId: Control-plane stream ID.
        ///   - announceChannel: Announce channel; `nil` means `controlChannel`.
        ///   - announceStreamId: Announce stream ID; `nil` means ``defaultAnnounceStreamId``.
        ///   - qosChannel: QoS channel.
        ///   - qosStreamId: QoS stream ID.
        ///   - streamIdRange: Range for streams created on demand.
        ///   - descriptorStreamIdRange: Range for per-consumer descriptor streams.
        ///   - controlStreamIdRange: Range for per-consumer control streams.
        public init(
            instanceId: String = "driver-01",
            aeronDir: String? = nil,
            controlChannel: String = "aeron:ipc?term-length=4m",
            controlStreamId: Int32 = 1000,
            announceChannel: String? = nil,
            announceStreamId: Int32? = nil,
            qosChannel: String = "aeron:ipc?term-length=4m",
            qosStreamId: Int32 = 1200,
            streamIdRange: StreamIdRange? = nil,
            descriptorStreamIdRange: StreamIdRange? = nil,
            controlStreamIdRange: StreamIdRange? = nil
        ) {
            self.instanceId = instanceId
            self.aeronDir = aeronDir
            self.controlChannel = controlChannel
            self.controlStreamId = controlStreamId
            self.announceChannel = announceChannel ?? controlChannel
            self.announceStreamId = announceStreamId ?? Self.defaultAnnounceStreamId
            self.qosChannel = qosChannel
            self.qosStreamId = qosStreamId
            self.streamIdRange = streamIdRange
            self.descriptorStreamIdRange = descriptorStreamIdRange
            self.controlStreamIdRange = controlStreamIdRange
        }
    }

    /// Where and how the driver creates SHM backing files (`[shm]`).
    public struct Shm: Sendable, Hashable {
        /// `shm.base_dir`: the root directory of the backing files. Default `"/dev/shm/tensorpool"`.
        public var baseDirectory: String
        /// `shm.namespace`: the deployment namespace of the directory layout
        /// (`<base>/tensorpool-<user>/<namespace>/…`, driver spec §15). Default `"default"`. An extension key the
        /// Julia reference reads (DRV-17-001).
        public var namespace: String
        /// `shm.require_hugepages`: the hugepage default used when a request says `UNSPECIFIED`. Default `false`.
        public var requireHugepages: Bool
        /// `shm.page_size_bytes`: the backing page size used in validation. Default `4096`.
        public var pageSizeBytes: UInt32
        /// `shm.permissions_mode`: the POSIX mode of files the driver creates, read from an octal string
        /// (`"660"` is `0o660`). Default `0o660`.
        public var permissionsMode: UInt32
        /// `shm.allowed_base_dirs`: the directories region URIs may point into. Default `[baseDirectory]`.
        public var allowedBaseDirectories: [String]

        /// The `[shm]` table, every argument defaulting as §17 says.
        ///
        /// - Parameters:
        ///   - baseDirectory: Root directory of the backing files.
        ///   - namespace: Deployment namespace of the directory layout.
        ///   - requireHugepages: Hugepage default for `UNSPECIFIED` requests.
        ///   - pageSizeBytes: Backing page size.
        ///   - permissionsMode: POSIX mode of created files, e.g. `0o660`.
        ///   - allowedBaseDirectories: Directories URIs may point into; `nil` or empty means `[baseDirectory]`.
        public init(
            baseDirectory: String = "/dev/shm/tensorpool",
            namespace: String = "default",
            requireHugepages: Bool = false,
            pageSizeBytes: UInt32 = 4096,
            permissionsMode: UInt32 = 0o660,
            allowedBaseDirectories: [String]? = nil
        ) {
            self.baseDirectory = baseDirectory
            self.namespace = namespace
            self.requireHugepages = requireHugepages
            self.pageSizeBytes = pageSizeBytes
            self.permissionsMode = permissionsMode
            if let allowedBaseDirectories, !allowedBaseDirectories.isEmpty {
                self.allowedBaseDirectories = allowedBaseDirectories
            } else {
                self.allowedBaseDirectories = [baseDirectory]
            }
        }
    }

    /// Driver behaviour (`[policies]`): dynamic streams, announce and lease timing, SHM creation, epoch GC and
    /// shutdown.
    public struct Policies: Sendable, Hashable {
        /// `policies.allow_dynamic_streams`: whether streams may be created on demand. Default `false`.
        public var allowDynamicStreams: Bool
        /// `policies.default_profile`: the profile of streams created on demand. Default: the first profile defined
        /// (see ``DriverConfiguration/profiles`` for the order).
        public var defaultProfile: String
        /// `policies.announce_period_ms`: interval between `ShmPoolAnnounce` messages. Default `1000`.
        public var announcePeriodMs: UInt32
        /// `policies.lease_keepalive_interval_ms`: the client keepalive interval. Default `1000`.
        public var leaseKeepaliveIntervalMs: UInt32
        /// `policies.lease_expiry_grace_intervals`: missed keepalives after which a lease expires. Default `3`.
        public var leaseExpiryGraceIntervals: UInt32
        /// `policies.prefault_shm`: prefault and zero SHM regions when creating them. Default `true`.
        public var prefaultShm: Bool
        /// `policies.reuse_existing_shm`: reuse backing files left by an earlier run instead of recreating them.
        /// Default `false`. An extension key the Julia reference reads (DRV-17-001).
        public var reuseExistingShm: Bool
        /// `policies.mlock_shm`: `mlock` SHM regions when creating them (DRV-17-008 to DRV-17-010). Default `false`.
        public var mlockShm: Bool
        /// `policies.cleanup_shm_on_exit`: remove the driver's backing files when it exits. Default `false`. An
        /// extension key the Julia reference reads (DRV-17-001).
        public var cleanupShmOnExit: Bool
        /// `policies.epoch_gc_enabled`: garbage-collect old epoch directories. Default `true`.
        public var epochGcEnabled: Bool
        /// `policies.epoch_gc_keep`: epochs kept, the current one plus N-1. Default `2`.
        public var epochGcKeep: UInt32
        /// `policies.epoch_gc_min_age_ns`: the age an epoch must reach before deletion. Default: three announce
        /// periods, in nanoseconds.
        public var epochGcMinAgeNs: UInt64
        /// `policies.epoch_gc_on_startup`: run the epoch GC when the driver starts. Default `false`.
        public var epochGcOnStartup: Bool
        /// `policies.shutdown_timeout_ms`: draining time before shutdown completes. Default `2000`.
        public var shutdownTimeoutMs: UInt32
        /// `policies.shutdown_token`: the token of administrative shutdown; `nil` (an empty string in the file)
        /// turns administrative shutdown off.
        public var shutdownToken: String?

        /// The `[policies]` table, every argument defaulting as §17 says.
        ///
        /// - Parameters:
        ///   - allowDynamicStreams: Whether streams may be created on demand.
        ///   - defaultProfile: Profile of streams created on demand; empty means the first profile, filled in by
        ///     ``DriverConfiguration/init(driver:shm:policies:profiles:streams:)``.
        ///   - announcePeriodMs: Interval between announces.
        ///   - leaseKeepaliveIntervalMs: Client keepalive interval.
        ///   - leaseExpiryGraceIntervals: Missed keepalives before a lease expires.
        ///   - prefaultShm: Prefault and zero new regions.
        ///   - reuseExistingShm: Reuse backing files of an earlier run.
        ///   - mlockShm: `mlock` new regions.
        ///   - cleanupShmOnExit: Remove backing files on exit.
        ///   - epochGcEnabled: Garbage-collect old epochs.
        ///   - epochGcKeep: Epochs kept.
        ///   - epochGcMinAgeNs: Minimum age before deletion; `nil` means `3 × announcePeriodMs` in nanoseconds.
        ///   - epochGcOnStartup: Run the epoch GC at startup.
        ///   - shutdownTimeoutMs: Draining time before shutdown completes.
        ///   - shutdownToken: Administrative shutdown token; `nil` or empty is off.
        public init(
            allowDynamicStreams: Bool = false,
            defaultProfile: String = "",
            announcePeriodMs: UInt32 = 1000,
            leaseKeepaliveIntervalMs: UInt32 = 1000,
            leaseExpiryGraceIntervals: UInt32 = 3,
            prefaultShm: Bool = true,
            reuseExistingShm: Bool = false,
            mlockShm: Bool = false,
            cleanupShmOnExit: Bool = false,
            epochGcEnabled: Bool = true,
            epochGcKeep: UInt32 = 2,
            epochGcMinAgeNs: UInt64? = nil,
            epochGcOnStartup: Bool = false,
            shutdownTimeoutMs: UInt32 = 2000,
            shutdownToken: String? = nil
        ) {
            self.allowDynamicStreams = allowDynamicStreams
            self.defaultProfile = defaultProfile
            self.announcePeriodMs = announcePeriodMs
            self.leaseKeepaliveIntervalMs = leaseKeepaliveIntervalMs
            self.leaseExpiryGraceIntervals = leaseExpiryGraceIntervals
            self.prefaultShm = prefaultShm
            self.reuseExistingShm = reuseExistingShm
            self.mlockShm = mlockShm
            self.cleanupShmOnExit = cleanupShmOnExit
            self.epochGcEnabled = epochGcEnabled
            self.epochGcKeep = epochGcKeep
            self.epochGcMinAgeNs = epochGcMinAgeNs ?? Self.defaultEpochGcMinAgeNs(announcePeriodMs: announcePeriodMs)
            self.epochGcOnStartup = epochGcOnStartup
            self.shutdownTimeoutMs = shutdownTimeoutMs
            self.shutdownToken = shutdownToken?.isEmpty == true ? nil : shutdownToken
        }

        /// The default of `policies.epoch_gc_min_age_ns`: three announce periods, in nanoseconds.
        ///
        /// - Parameter announcePeriodMs: `policies.announce_period_ms`.
        /// - Returns: `3 × announcePeriodMs × 1 000 000`.
        public static func defaultEpochGcMinAgeNs(announcePeriodMs: UInt32) -> UInt64 {
            UInt64(announcePeriodMs) * 3_000_000
        }
    }

    /// One payload pool of a profile (`profiles.<name>.payload_pools[]`): a size class of payload slots.
    public struct Pool: Sendable, Hashable {
        /// `pool_id`: the pool identifier, unique in its profile (DRV-17-012).
        public var poolId: UInt16
        /// `stride_bytes`: bytes per payload slot, 64 times a power of two; slot `k` starts at `k * strideBytes`.
        public var strideBytes: UInt32

        /// A pool.
        ///
        /// - Parameters:
        ///   - poolId: Pool identifier, unique in the profile.
        ///   - strideBytes: Bytes per payload slot.
        public init(poolId: UInt16, strideBytes: UInt32) {
            self.poolId = poolId
            self.strideBytes = strideBytes
        }
    }

    /// A named layout for streams (`profiles.<name>`): the header ring size and the payload pools.
    public struct Profile: Sendable, Hashable {
        /// The profile's name, the `<name>` of its table.
        public var name: String
        /// `header_nslots`: the header ring slot count, a power of two (DRV-17-011). Default `1024`.
        public var headerNslots: UInt32
        /// `payload_pools`: the pools, in file order; at least one (DRV-17-006).
        public var payloadPools: [Pool]

        /// A profile.
        ///
        /// - Parameters:
        ///   - name: Profile name.
        ///   - headerNslots: Header ring slot count.
        ///   - payloadPools: The pools.
        public init(name: String, headerNslots: UInt32 = 1024, payloadPools: [Pool]) {
            self.name = name
            self.headerNslots = headerNslots
            self.payloadPools = payloadPools
        }
    }

    /// A statically configured stream (`streams.<name>`).
    public struct Stream: Sendable, Hashable {
        /// The stream's name, the `<name>` of its table.
        public var name: String
        /// `stream_id`: the stream's identifier, positive and within `Int32` (it is used as an Aeron stream ID).
        public var streamId: UInt32
        /// `profile`: the name of the profile it uses.
        public var profile: String

        /// A stream.
        ///
        /// - Parameters:
        ///   - name: Stream name.
        ///   - streamId: Stream identifier.
        ///   - profile: Name of its profile.
        public init(name: String, streamId: UInt32, profile: String) {
            self.name = name
            self.streamId = streamId
            self.profile = profile
        }
    }

    /// The `[driver]` table.
    public var driver: Driver
    /// The `[shm]` table.
    public var shm: Shm
    /// The `[policies]` table.
    public var policies: Policies
    /// The profiles, in the order their first table header appears in the file (`[profiles.<name>]` or
    /// `[[profiles.<name>.payload_pools]]`); profiles that have no such header (defined only through inline tables or
    /// dotted keys) follow, sorted by name. The TOML parser keeps tables sorted by key, so file order is recovered
    /// from the source text; either way the order, and with it the default of `policies.default_profile`, is
    /// deterministic.
    public var profiles: [Profile]
    /// The statically configured streams, ordered like ``profiles``.
    public var streams: [Stream]

    /// A configuration from its parts. It is not validated; call ``validate()``.
    ///
    /// - Parameters:
    ///   - driver: The `[driver]` table.
    ///   - shm: The `[shm]` table.
    ///   - policies: The `[policies]` table; an empty `defaultProfile` becomes the first profile's name.
    ///   - profiles: The profiles.
    ///   - streams: The static streams.
    public init(
        driver: Driver = Driver(),
        shm: Shm = Shm(),
        policies: Policies = Policies(),
        profiles: [Profile],
        streams: [Stream] = []
    ) {
        self.driver = driver
        self.shm = shm
        self.policies = policies
        self.profiles = profiles
        self.streams = streams
        if self.policies.defaultProfile.isEmpty, let first = profiles.first {
            self.policies.defaultProfile = first.name
        }
    }

    /// The profile called `name`.
    ///
    /// - Parameter name: A profile name.
    /// - Returns: The profile, or `nil` when none has that name.
    public func profile(named name: String) -> Profile? {
        profiles.first { $0.name == name }
    }

    /// The static stream whose `stream_id` is `id`.
    ///
    /// - Parameter id: A stream ID.
    /// - Returns: The stream, or `nil` when none is configured with that ID.
    public func stream(id: UInt32) -> Stream? {
        streams.first { $0.streamId == id }
    }

    /// The static stream called `name`.
    ///
    /// - Parameter name: A stream name, the `<name>` of `streams.<name>`.
    /// - Returns: The stream, or `nil` when none has that name.
    public func stream(named name: String) -> Stream? {
        streams.first { $0.name == name }
    }
}
