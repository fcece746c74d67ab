/// How a producer treats its consumers' requests (wire spec §5, §10.1.2–10.1.3, §10.2.2, §11).
public struct ProducerOptions: Sendable {
    /// Whether per-consumer descriptor and control streams are granted at all; when false every request is declined
    /// (empty channel, stream id 0) and consumers stay on the shared streams.
    public var perConsumerStreams = true
    /// Stream ids a per-consumer descriptor stream may use (both peers' examples: 31000–31999).
    public var perConsumerDescriptorStreamIds: ClosedRange<UInt32> = 31_000...31_999
    /// Stream ids a per-consumer control stream may use (both peers' examples: 32000–32999).
    public var perConsumerControlStreamIds: ClosedRange<UInt32> = 32_000...32_999
    /// Aeron media a per-consumer channel may use.
    public var perConsumerMedia: Set<String> = ["ipc", "udp"]
    /// Whether `RATE_LIMITED` is granted (through a per-consumer descriptor stream capped at `max_rate_hz`); when
    /// false it is declined and the consumer stays on the shared stream in `STREAM` mode (§11).
    public var grantRateLimited = true
    /// The consumers' hello/QoS interval: a consumer heard from by neither for ``staleIntervals`` of these is stale,
    /// and its per-consumer publications are closed (§5, §10.1.3).
    public var consumerLivenessIntervalNs: UInt64 = 1_000_000_000
    /// How many liveness intervals make a consumer stale (3–5; clamped to that range).
    public var staleIntervals: UInt64 = 5
    /// Progress defaults when no consumer gives a hint (§10.2.2): 250 µs, 64 KiB, no row hint.
    public var progressIntervalNs: UInt64 = 250_000
    /// Default byte growth worth a `PROGRESS` report.
    public var progressBytesDelta: UInt64 = 65_536
    /// Default major-axis growth worth a report (0 = none).
    public var progressMajorDeltaUnits: UInt64 = 0
    /// Floors no consumer hint can go below.
    public var progressMinIntervalNs: UInt64 = 100_000
    /// Smallest byte delta a hint may ask for.
    public var progressMinBytesDelta: UInt64 = 4_096
    /// Smallest major-axis delta a hint may ask for (0 = no floor).
    public var progressMinMajorDeltaUnits: UInt64 = 0
    /// Whether a `COMPLETE` hint follows the descriptor of a frame that had progress reports (§10.2.2-004).
    public var sendProgressComplete = true
    /// Whether `FrameDescriptor.timestamp_ns` carries the publish time (CLOCK_MONOTONIC, taken after the commit);
    /// left null by default (§10.2.1-004).
    public var descriptorTimestamps = false

    /// How often the producer stores the time (CLOCK_MONOTONIC) in `activity_timestamp_ns` of its header ring and of
    /// every payload pool, from ``TensorPoolClient/doWork()``, and once at attach: the liveness consumers check
    /// (wire spec §15.14). It does so whether or not its driver refreshes them too, since a driver may leave the
    /// refresh to the producer (driver spec DRV-3-011). Default 1 s, the default announce period; it must be positive
    /// and below the freshness window (``TensorPoolContext/freshnessWindowNs``, 3 s by default), well below it in
    /// practice, or consumers find the regions stale between two refreshes.
    public var activityRefreshIntervalNs: UInt64 = 1_000_000_000

    /// The defaults above.
    public init() {}

    /// Refuses options a producer cannot work with: an activity refresh interval of 0 or not below the freshness
    /// window of `context`.
    func validate(context: TensorPoolContext) throws(TensorPoolClientError) {
        guard activityRefreshIntervalNs > 0 else {
            throw .invalidOptions("activityRefreshIntervalNs must be positive: consumers need a periodic refresh")
        }
        guard activityRefreshIntervalNs < context.freshnessWindowNs else {
            throw .invalidOptions(
                "activityRefreshIntervalNs \(activityRefreshIntervalNs) ns must be below the freshness window "
                    + "\(context.freshnessWindowNs) ns: the regions would go stale between refreshes")
        }
    }

    /// Nanoseconds without hello or QoS after which a consumer is stale.
    var staleAfterNs: UInt64 { consumerLivenessIntervalNs &* min(max(staleIntervals, 3), 5) }
}
