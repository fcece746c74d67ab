import Aeron
package import SBE
public import TensorPoolWire

/// A per-consumer stream (wire spec §5): an Aeron channel and a stream id, asked for in `ConsumerHello` and granted
/// in `ConsumerConfig`.
public struct StreamEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// The Aeron channel, e.g. `aeron:ipc`.
    public var channel: String
    /// The stream id (non-zero).
    public var streamId: UInt32

    /// An endpoint of `channel` and `streamId`.
    public init(channel: String, streamId: UInt32) {
        self.channel = channel
        self.streamId = streamId
    }

    /// `channel#streamId`.
    public var description: String { "\(channel)#\(streamId)" }
}

/// What a `ConsumerHello` or `ConsumerConfig` says about one per-consumer stream (§10.1.2, §10.1.3): both channel and
/// stream id present is a request (or an assignment); both absent is none; only one of them is malformed.
package enum StreamField: Equatable {
    case none
    case malformed
    case endpoint(StreamEndpoint)

    /// The endpoint of a well-formed request or assignment; nil when absent or malformed.
    package var endpoint: StreamEndpoint? {
        if case .endpoint(let endpoint) = self { return endpoint }
        return nil
    }

    /// Classifies a channel (var data, empty = absent) and a stream id (0 or the all-ones null = absent).
    package static func classify(channel: UnsafeRawBufferPointer, streamId: UInt32) -> StreamField {
        let hasChannel = channel.count > 0
        let hasStream = streamId != 0 && streamId != UInt32.max
        switch (hasChannel, hasStream) {
        case (false, false): return .none
        case (true, true):
            return .endpoint(StreamEndpoint(channel: String(decoding: channel, as: UTF8.self), streamId: streamId))
        default: return .malformed
        }
    }
}

/// The kinds of `payload_fallback_uri` this implementation knows (§10.1.3): Aeron channels (a bridge carried by
/// Aeron) and `bridge://<id>`. Any other scheme is unsupported (§10.1.3-002).
public enum FallbackURI: Hashable, Sendable {
    /// An Aeron channel (`aeron:udp?…` or `aeron:ipc?…`).
    case aeron(String)
    /// A custom bridge, `bridge://<id>`.
    case bridge(id: String)
    /// A scheme this implementation does not define.
    case unsupported(String)

    /// Classifies `text`.
    public init(_ text: String) {
        if text.hasPrefix("aeron:"), (try? ChannelURI(parsing: text)) != nil {
            self = .aeron(text)
        } else if text.hasPrefix("bridge://"), text.count > "bridge://".count {
            self = .bridge(id: String(text.dropFirst("bridge://".count)))
        } else {
            self = .unsupported(text)
        }
    }

    /// Whether the scheme is defined here.
    public var isSupported: Bool {
        if case .unsupported = self { return false }
        return true
    }
}

/// The part of a `ConsumerConfig` that matters to a consumer.
public struct ConsumerConfiguration: Hashable, Sendable {
    /// Whether the consumer is to read SHM; false sends it to ``fallbackURI`` (state FALLBACK, §15.12).
    public var useShm: Bool
    /// The delivery mode granted.
    public var mode: WireSchema.Mode
    /// The payload fallback, when one was given.
    public var fallbackURI: String?
    /// The per-consumer descriptor stream assigned, if any.
    public var descriptorStream: StreamEndpoint?
    /// The per-consumer control stream assigned, if any.
    public var controlStream: StreamEndpoint?
}

package enum WireControl {
    /// Encodes a `ConsumerConfig` into `buffer`; returns the message length (header included).
    package static func encodeConsumerConfig(
        into buffer: UnsafeMutableRawBufferPointer, streamId: UInt32, consumerId: UInt32, useShm: Bool,
        mode: WireSchema.Mode, fallbackURI: String, descriptor: StreamEndpoint?, control: StreamEndpoint?
    ) throws(SBEEncodeError) -> Int {
        var encoder = try WireSchema.ConsumerConfigEncoder.wrapAndApplyHeader(buffer)
        encoder.streamId = streamId
        encoder.consumerId = consumerId
        encoder.useShm = useShm ? .true : .false
        encoder.mode = mode
        // A declined or absent stream is an empty channel with stream id 0 (§10.1.3-004/006).
        encoder.descriptorStreamId = descriptor?.streamId ?? 0
        encoder.controlStreamId = control?.streamId ?? 0
        try encoder.payloadFallbackUri(fallbackURI)
        try encoder.descriptorChannel(descriptor?.channel ?? "")
        try encoder.controlChannel(control?.channel ?? "")
        return MessageHeader.encodedLength + encoder.encodedLength
    }

    /// Decodes the schema-900 message header of `buffer`, or nil for another schema (schemas 900 and 901 share
    /// template ids, so the schema is tested first).
    @inline(__always)
    package static func wireTemplate(_ buffer: UnsafeRawBufferPointer) -> UInt16? {
        guard buffer.count >= MessageHeader.encodedLength,
            let header = try? MessageHeader(decoding: buffer, at: 0), header.schemaId == WireSchema.id
        else { return nil }
        return header.templateId
    }
}
