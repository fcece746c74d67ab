public import TensorPoolWire

/// What a consumer asks of the producer in its `ConsumerHello` (wire spec §10.1.2, §11) and how it gates locally.
public struct ConsumerOptions: Sendable {
    /// The consumer id; 0 draws a random non-zero id (§10.1.2-010).
    public var consumerId: UInt32 = 0
    /// The delivery mode asked for. `RATE_LIMITED` makes ``maxRateHz`` binding (§11-004): the producer caps a
    /// per-consumer descriptor stream at it when one is granted, and otherwise the consumer drops frames locally.
    public var mode: WireSchema.Mode = .stream
    /// Frame rate cap (0 = none). While the consumer reads the shared descriptor stream it is applied locally, gated
    /// on the descriptor timestamp, else the slot timestamp, else the local monotonic clock (§11).
    public var maxRateHz: UInt32 = 0
    /// The rate applied when a `ConsumerConfig` (from the producer or a supervisor) puts the consumer into
    /// `RATE_LIMITED` while ``maxRateHz`` is 0: the configuration carries no rate of its own (§10.1.3). Default 30
    /// frames per second, a display's pace.
    public var rateLimitedDefaultHz: UInt32 = 30
    /// Whether the consumer reads `FrameProgress` hints (delivered to ``FrameHandling/onProgress(_:state:consumer:)``).
    public var supportsProgress = false
    /// Least time between progress reports wanted, in µs (nil: the producer's default).
    public var progressIntervalUs: UInt32?
    /// Least byte growth worth a report (nil: the producer's default).
    public var progressBytesDelta: UInt32?
    /// Least row/column growth worth a report (nil: none).
    public var progressMajorDeltaUnits: UInt32?
    /// A per-consumer descriptor stream to ask for (§5); nil reads the shared one.
    public var descriptorStream: StreamEndpoint?
    /// A per-consumer control stream to ask for, for `FrameProgress` (§5); nil reads progress on the shared one.
    public var controlStream: StreamEndpoint?
    /// How often the hello is repeated (it is also the consumer's liveness signal to the producer); 0 sends it only
    /// at attach.
    public var helloIntervalNs: UInt64 = 1_000_000_000
    /// Largest descriptor gap before a resync is recorded (§15.4, default 256).
    public var maxOutstandingSeqGap: UInt64 = 256

    /// The defaults above.
    public init() {}

    /// Requests a consumer must not send (§10.1.2-004/007): an endpoint with an empty channel or stream id 0.
    func validate() throws(TensorPoolClientError) {
        for (name, endpoint) in [("descriptor", descriptorStream), ("control", controlStream)] {
            guard let endpoint else { continue }
            guard !endpoint.channel.isEmpty, endpoint.streamId != 0, endpoint.streamId != UInt32.max else {
                throw .invalidOptions("a per-consumer \(name) stream needs a channel and a non-zero stream id")
            }
        }
        guard rateLimitedDefaultHz > 0 else {
            throw .invalidOptions("rateLimitedDefaultHz must be positive: a forced RATE_LIMITED needs a rate")
        }
        guard mode == .stream || mode == .rateLimited else {
            throw .invalidOptions("unknown mode \(mode.rawValue)")
        }
    }
}
