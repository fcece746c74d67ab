/// An Aeron channel URI such as `aeron:udp?endpoint=localhost:40123|mtu=8192` or `aeron:ipc`, built or parsed.
///
/// Parameters keep their order. Building never fails; ``init(parsing:)`` rejects malformed text with a
/// ``ChannelURIError`` that says what is wrong.
///
/// ```swift
/// let channel = ChannelURI.udp(endpoint: "localhost:0").mtu(8192).termLength(4 << 20).description
/// ```
public struct ChannelURI: Sendable, Hashable, CustomStringConvertible {
    /// The transport of a channel.
    public enum Media: Sendable, Hashable {
        /// Shared-memory IPC between processes on one host (`aeron:ipc`).
        case ipc
        /// UDP unicast or multicast (`aeron:udp`).
        case udp
    }

    /// The transport.
    public var media: Media
    /// Whether this is a spy channel (`aeron-spy:` prefix): a subscription that reads a local publication's log.
    public var isSpy: Bool
    /// The parameters in order, as key and value.
    public private(set) var parameters: [(key: String, value: String)]

    /// Creates a URI with no parameters.
    public init(media: Media, spy: Bool = false) {
        self.media = media
        self.isSpy = spy
        self.parameters = []
    }

    /// `aeron:ipc`.
    public static var ipc: ChannelURI { ChannelURI(media: .ipc) }

    /// `aeron:udp?endpoint=<endpoint>` (for example `localhost:40123`, or `localhost:0` for an ephemeral port).
    public static func udp(endpoint: String) -> ChannelURI {
        ChannelURI(media: .udp).with("endpoint", endpoint)
    }

    /// The value of `key`, or `nil` when absent.
    public subscript(key: String) -> String? {
        parameters.first(where: { $0.key == key })?.value
    }

    /// Returns a copy with `key` set to `value`, replacing an earlier value in place.
    public func with(_ key: String, _ value: String) -> ChannelURI {
        var copy = self
        copy.set(key, value)
        return copy
    }

    /// Sets `key` to `value`, replacing an earlier value in place.
    public mutating func set(_ key: String, _ value: String) {
        if let index = parameters.firstIndex(where: { $0.key == key }) {
            parameters[index].value = value
        } else {
            parameters.append((key, value))
        }
    }

    /// Removes `key`.
    public mutating func remove(_ key: String) {
        parameters.removeAll { $0.key == key }
    }

    /// Sets `endpoint` (UDP destination or subscription bind address).
    public func endpoint(_ address: String) -> ChannelURI { with("endpoint", address) }
    /// Sets `control` (multi-destination control address).
    public func control(_ address: String) -> ChannelURI { with("control", address) }
    /// Sets `control-mode` (`manual`, `dynamic`, `response`).
    public func controlMode(_ mode: String) -> ChannelURI { with("control-mode", mode) }
    /// Sets `interface` (the local interface for multicast or for binding).
    public func networkInterface(_ interface: String) -> ChannelURI { with("interface", interface) }
    /// Sets `mtu`, the largest frame in bytes (a multiple of 32 from 32 to 65504).
    public func mtu(_ bytes: Int) -> ChannelURI { with("mtu", String(bytes)) }
    /// Sets `term-length` (a power of two from 64 KiB to 1 GiB).
    public func termLength(_ bytes: Int) -> ChannelURI { with("term-length", String(bytes)) }
    /// Sets `session-id`.
    public func sessionId(_ id: Int32) -> ChannelURI { with("session-id", String(id)) }
    /// Sets `reliable` (whether lost UDP frames are NAKed and retransmitted).
    public func reliable(_ flag: Bool) -> ChannelURI { with("reliable", String(flag)) }
    /// Sets `sparse` (sparse term files).
    public func sparse(_ flag: Bool) -> ChannelURI { with("sparse", String(flag)) }
    /// Sets `linger` (publication linger timeout), in nanoseconds as Aeron expects.
    public func linger(_ duration: Duration) -> ChannelURI { with("linger", "\(duration.wholeNanoseconds)ns") }
    /// Sets `ttl` (multicast time to live).
    public func ttl(_ hops: Int) -> ChannelURI { with("ttl", String(hops)) }
    /// Sets `alias` (a label shown in counters).
    public func alias(_ name: String) -> ChannelURI { with("alias", name) }
    /// Sets `tags` (comma-separated tags for sharing a channel endpoint).
    public func tags(_ tags: String) -> ChannelURI { with("tags", tags) }
    /// Sets `so-sndbuf`.
    public func socketSendBuffer(_ bytes: Int) -> ChannelURI { with("so-sndbuf", String(bytes)) }
    /// Sets `so-rcvbuf`.
    public func socketReceiveBuffer(_ bytes: Int) -> ChannelURI { with("so-rcvbuf", String(bytes)) }
    /// Sets `rcv-wnd` (receiver window).
    public func receiverWindow(_ bytes: Int) -> ChannelURI { with("rcv-wnd", String(bytes)) }

    /// The URI text, e.g. `aeron:udp?endpoint=localhost:40123|mtu=8192`.
    public var description: String {
        var text = isSpy ? "aeron-spy:aeron:" : "aeron:"
        text += media == .ipc ? "ipc" : "udp"
        if !parameters.isEmpty {
            text += "?"
            text += parameters.map { "\($0.key)=\($0.value)" }.joined(separator: "|")
        }
        return text
    }

    /// Parses URI text.
    ///
    /// - Throws: ``ChannelURIError`` for an unknown scheme or media, an empty key, a parameter without `=`, a key
    ///   given twice, or a value containing `|`.
    public init(parsing text: String) throws(ChannelURIError) {
        var rest = Substring(text)
        var spy = false
        if rest.hasPrefix("aeron-spy:") {
            spy = true
            rest = rest.dropFirst("aeron-spy:".count)
        }
        guard rest.hasPrefix("aeron:") else { throw ChannelURIError(text: text, reason: "must start with 'aeron:'") }
        rest = rest.dropFirst("aeron:".count)
        let mediaEnd = rest.firstIndex(of: "?") ?? rest.endIndex
        switch rest[..<mediaEnd] {
        case "ipc": self.init(media: .ipc, spy: spy)
        case "udp": self.init(media: .udp, spy: spy)
        case let other: throw ChannelURIError(text: text, reason: "unknown media '\(other)' (expected ipc or udp)")
        }
        guard mediaEnd < rest.endIndex else { return }
        let query = rest[rest.index(after: mediaEnd)...]
        guard !query.isEmpty else { throw ChannelURIError(text: text, reason: "empty parameter list after '?'") }
        for pair in query.split(separator: "|", omittingEmptySubsequences: false) {
            guard let equals = pair.firstIndex(of: "=") else {
                throw ChannelURIError(text: text, reason: "parameter '\(pair)' has no '='")
            }
            let key = String(pair[..<equals])
            let value = String(pair[pair.index(after: equals)...])
            guard !key.isEmpty else { throw ChannelURIError(text: text, reason: "a parameter has an empty key") }
            guard self[key] == nil else { throw ChannelURIError(text: text, reason: "parameter '\(key)' is repeated") }
            parameters.append((key, value))
        }
    }

    /// Two URIs are equal when media, spy flag and the ordered parameters are equal.
    public static func == (lhs: ChannelURI, rhs: ChannelURI) -> Bool {
        lhs.media == rhs.media && lhs.isSpy == rhs.isSpy && lhs.parameters.elementsEqual(rhs.parameters, by: ==)
    }

    /// Hashes media, spy flag and the ordered parameters.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(media)
        hasher.combine(isSpy)
        for (key, value) in parameters {
            hasher.combine(key)
            hasher.combine(value)
        }
    }
}

/// Malformed channel URI text.
public struct ChannelURIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text that failed to parse.
    public let text: String
    /// What is wrong with it.
    public let reason: String

    /// `invalid channel URI '<text>': <reason>`.
    public var description: String { "invalid channel URI '\(text)': \(reason)" }
}
