public import TensorPoolClient
public import TensorPoolWire

/// How a ``Supervisor`` watches and steers (wire spec §10.5).
public struct SupervisorOptions: Sendable {
    /// The interval at which members are expected to be heard from: the hello, QoS and announce period (1 s).
    public var livenessIntervalNs: UInt64 = 1_000_000_000
    /// Intervals without a message after which a producer or consumer is stale and leaves the snapshot (3–5; values
    /// outside are clamped).
    public var staleIntervals: UInt64 = 3
    /// Least time between repeats of a directive to a consumer whose reports show it does not follow it yet.
    public var enforceIntervalNs: UInt64 = 1_000_000_000

    /// The defaults above.
    public init() {}

    /// How long a member stays without a message: `staleIntervals` (clamped to 3–5) × `livenessIntervalNs`.
    public var staleAfterNs: UInt64 { livenessIntervalNs &* min(max(staleIntervals, 3), 5) }
}

/// What a supervisor knows of a stream's producer: the driver's announce of its regions, its QoS, its metadata.
public struct SupervisedProducer: Hashable, Sendable {
    /// The stream.
    public var streamId: UInt32
    /// The producer's id (its client id in the driver's announce and in `QosProducer`).
    public var producerId: UInt32
    /// The epoch of the stream's regions.
    public var epoch: UInt64
    /// Header ring slots, from the last announce (0 before one arrived).
    public var headerSlots: UInt32
    /// Payload pools, from the last announce.
    public var payloadPools: Int
    /// The latest sequence the producer reported in QoS, if it did.
    public var currentSeq: UInt64?
    /// The data source's name and summary (`DataSourceAnnounce`), empty until announced.
    public var name: String
    /// The nominal dtype/shape summary.
    public var summary: String
    /// The newest metadata version received, with its attributes.
    public var metadata: SourceMetadata?
    /// Monotonic times of the last announce and the last QoS report (0 = none yet).
    public var lastAnnounceNs: UInt64
    /// See ``lastAnnounceNs``.
    public var lastQosNs: UInt64

    /// Monotonic time the producer was last heard of.
    public var lastSeenNs: UInt64 { max(lastAnnounceNs, lastQosNs) }
}

/// What a supervisor knows of one consumer of a stream: its hello, its QoS, the configuration the producer gave it, and
/// the supervisor's directive.
public struct SupervisedConsumer: Hashable, Sendable {
    /// The stream.
    public var streamId: UInt32
    /// The consumer's id.
    public var consumerId: UInt32
    /// The mode its last hello asks for (a consumer held in `RATE_LIMITED` by a configuration asks for it too).
    public var helloMode: WireSchema.Mode
    /// The rate its last hello gives (0 = none).
    public var maxRateHz: UInt32
    /// Whether it reads progress hints.
    public var supportsProgress: Bool
    /// Per-consumer streams its hello asks for.
    public var requestedDescriptorStream: StreamEndpoint?
    /// See ``requestedDescriptorStream``.
    public var requestedControlStream: StreamEndpoint?
    /// Per-consumer streams the producer granted it (seen in the producer's `ConsumerConfig`); a supervisor's own
    /// configuration repeats them so as not to take them away.
    public var grantedDescriptorStream: StreamEndpoint?
    /// See ``grantedDescriptorStream``.
    public var grantedControlStream: StreamEndpoint?
    /// The mode in effect, from its last `QosConsumer` (nil before one arrived).
    public var reportedMode: WireSchema.Mode?
    /// Its mapped epoch, last sequence seen and drop counters, from its last `QosConsumer`.
    public var epoch: UInt64
    /// See ``epoch``.
    public var lastSeqSeen: UInt64
    /// See ``epoch``.
    public var dropsGap: UInt64
    /// See ``epoch``.
    public var dropsLate: UInt64
    /// Monotonic times of its last hello and last QoS report (0 = none yet).
    public var lastHelloNs: UInt64
    /// See ``lastHelloNs``.
    public var lastQosNs: UInt64
    /// The supervisor's directive for it, if any.
    public var directive: ConsumerDirective?
    /// `ConsumerConfig` messages the supervisor sent it.
    public var directivesSent: UInt64

    /// Monotonic time the consumer was last heard from.
    public var lastSeenNs: UInt64 { max(lastHelloNs, lastQosNs) }

    /// Whether its reports show it in the mode of the directive (true without a directive).
    public var followsDirective: Bool {
        guard let directive else { return true }
        let shown = reportedMode ?? helloMode
        return shown == directive.mode
    }
}

/// A copy of what a supervisor knows, for tools and tests.
public struct SupervisorSnapshot: Sendable {
    /// Live producers, by stream.
    public var producers: [SupervisedProducer]
    /// Live consumers, by stream and id.
    public var consumers: [SupervisedConsumer]
    /// Consumer-id collisions seen on the QoS stream.
    public var collisions: [ConsumerIdCollision]
    /// `ConsumerConfig` messages the supervisor sent.
    public var configsSent: UInt64
    /// Monotonic time of the snapshot.
    public var takenAtNs: UInt64

    /// The producer of `streamId`, if live.
    public func producer(streamId: UInt32) -> SupervisedProducer? { producers.first { $0.streamId == streamId } }

    /// The consumers of `streamId`.
    public func consumers(streamId: UInt32) -> [SupervisedConsumer] { consumers.filter { $0.streamId == streamId } }
}

/// What a supervisor reports as it happens.
public enum SupervisorEvent: Sendable {
    /// A producer was heard of for the first time (or again after it had left).
    case producerJoined(SupervisedProducer)
    /// A producer left: the driver announced its stream without it, another producer took the stream, or it went
    /// stale.
    case producerLeft(streamId: UInt32, producerId: UInt32)
    /// A consumer was heard from for the first time (or again after it had left).
    case consumerJoined(SupervisedConsumer)
    /// A consumer went stale.
    case consumerLeft(streamId: UInt32, consumerId: UInt32)
    /// The supervisor sent a directive to a consumer.
    case directiveSent(streamId: UInt32, consumerId: UInt32, ConsumerDirective)
    /// A consumer id was reported from two sessions on one stream.
    case collision(ConsumerIdCollision)
    /// A metadata version arrived.
    case metadata(SourceMetadata)
}
