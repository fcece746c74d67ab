public import TensorPoolWire

/// What a supervisor decides for one consumer (wire spec §10.1.3, §10.5): whether it reads SHM, its delivery mode,
/// and where its payload comes from otherwise. A supervisor sends it as a `ConsumerConfig`; the producer of the stream
/// then repeats it in its own answers, and leaves the per-consumer streams as it granted them.
public struct ConsumerDirective: Hashable, Sendable, CustomStringConvertible {
    /// Whether the consumer reads SHM; false sends it to FALLBACK (§15.12).
    public var useShm: Bool
    /// The delivery mode: `STREAM`, or `RATE_LIMITED` at the consumer's rate (its `max_rate_hz`, else its
    /// ``ConsumerOptions/rateLimitedDefaultHz``).
    public var mode: WireSchema.Mode
    /// The payload fallback (`aeron:…` or `bridge://<id>`, §10.1.3-001), for a consumer that does not read SHM.
    public var fallbackURI: String?

    /// A directive of the given fields.
    public init(useShm: Bool = true, mode: WireSchema.Mode = .stream, fallbackURI: String? = nil) {
        self.useShm = useShm
        self.mode = mode
        self.fallbackURI = fallbackURI
    }

    /// Every frame, from SHM: what a consumer gets without a supervisor.
    public static let stream = ConsumerDirective()
    /// Frames at the consumer's rate, from SHM.
    public static let rateLimited = ConsumerDirective(mode: .rateLimited)

    /// No SHM: the payload is to be taken from `uri` (a bridge for a consumer on another host).
    public static func fallback(_ uri: String) -> ConsumerDirective {
        ConsumerDirective(useShm: false, mode: .stream, fallbackURI: uri)
    }

    /// `STREAM`, `RATE_LIMITED` or `FALLBACK <uri>`.
    public var description: String {
        if !useShm { return "FALLBACK \(fallbackURI ?? "(none)")" }
        return mode == .rateLimited ? "RATE_LIMITED" : "STREAM"
    }
}
