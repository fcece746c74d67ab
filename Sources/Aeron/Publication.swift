import CAeron

/// A publication to a channel and stream: appends messages to the stream's log for its subscribers.
///
/// A `Publication` from ``AeronClient/addPublication(channel:streamId:timeout:)`` is concurrent: any number of
/// threads may offer to it at once. Its subclass ``ExclusivePublication`` is single-writer and cheaper. Neither
/// allocates on the offer or claim paths.
///
/// Close a publication with ``close()`` or by dropping the last reference; both are safe to repeat and safe after the
/// client has closed.
public class Publication: ClientOwnedResource, @unchecked Sendable {
    enum Kind {
        case concurrent
        case exclusive
    }

    /// The client that owns this publication; kept alive by it.
    public let client: AeronClient
    /// The C handle, `nil` once closed. Read on every offer: exclusivity is not checked at run time (closing while
    /// another thread offers is documented as the caller's error, as in the C client).
    @usableFromInline @exclusivity(unchecked) var handle: OpaquePointer?
    let kind: Kind
    /// The C offer function of this publication's kind, called from inlined ``offer(_:)``.
    @usableFromInline let offerFunction: COfferFunction

    /// The channel URI the publication was added with, as the driver canonicalised it.
    public let channel: String
    /// The stream id.
    public let streamId: Int32
    /// The session id the driver assigned (identifies this publisher's image at subscribers).
    public let sessionId: Int32
    /// The registration id of this publication at the driver.
    public let registrationId: Int64
    /// The registration id of the first publisher of this concurrent publication (equal to ``registrationId`` unless
    /// another registration shared it).
    public let originalRegistrationId: Int64
    /// The largest message, in bytes, that fits in one frame (MTU minus the 32-byte frame header).
    public let maxPayloadLength: Int
    /// The largest message, in bytes, that the publication accepts (fragmented when above ``maxPayloadLength``).
    public let maxMessageLength: Int
    /// The length of one term of the log buffer.
    public let termBufferLength: Int
    /// The initial term id of the log.
    public let initialTermId: Int32
    /// The highest position the stream can ever reach with its term length.
    public let maxPossiblePosition: Int64
    /// The id of this publication's position-limit counter.
    public let positionLimitCounterId: Int32
    /// The id of the channel-status counter (or -1 for IPC).
    public let channelStatusIndicatorId: Int32

    required init(client: AeronClient, handle: OpaquePointer, kind: Kind) {
        self.client = client
        self.handle = handle
        self.kind = kind
        self.offerFunction = kind == .exclusive ? aeron_exclusive_publication_offer : aeron_publication_offer
        var constants = aeron_publication_constants_t()
        switch kind {
        case .concurrent:
            aeron_publication_constants(handle, &constants)
        case .exclusive:
            aeron_exclusive_publication_constants(handle, &constants)
        }
        self.channel = constants.channel.map { String(cString: $0) } ?? ""
        self.streamId = constants.stream_id
        self.sessionId = constants.session_id
        self.registrationId = constants.registration_id
        self.originalRegistrationId = constants.original_registration_id
        self.maxPayloadLength = constants.max_payload_length
        self.maxMessageLength = constants.max_message_length
        self.termBufferLength = constants.term_buffer_length
        self.initialTermId = constants.initial_term_id
        self.maxPossiblePosition = constants.max_possible_position
        self.positionLimitCounterId = constants.publication_limit_counter_id
        self.channelStatusIndicatorId = constants.channel_status_indicator_id
        client.registry.register(self)
    }

    deinit { close() }

    /// Closes the publication. Safe to call more than once, and after the client has closed.
    public final func close() {
        guard let handle else { return }
        self.handle = nil
        client.registry.unregister(self)
        switch kind {
        case .concurrent: _ = aeron_publication_close(handle, nil, nil)
        case .exclusive: _ = aeron_exclusive_publication_close(handle, nil, nil)
        }
    }

    final func clientDidClose() { handle = nil }

    /// Whether the publication is closed, by ``close()``, by its client or by the driver.
    public final var isClosed: Bool {
        guard let handle else { return true }
        switch kind {
        case .concurrent: return aeron_publication_is_closed(handle)
        case .exclusive: return aeron_exclusive_publication_is_closed(handle)
        }
    }

    /// Whether at least one subscriber is connected.
    public final var isConnected: Bool {
        guard let handle else { return false }
        switch kind {
        case .concurrent: return aeron_publication_is_connected(handle)
        case .exclusive: return aeron_exclusive_publication_is_connected(handle)
        }
    }

    /// The current position of the publisher in the stream, or `nil` once closed.
    public final var position: Int64? {
        guard let handle else { return nil }
        let value: Int64
        switch kind {
        case .concurrent: value = aeron_publication_position(handle)
        case .exclusive: value = aeron_exclusive_publication_position(handle)
        }
        return value >= 0 ? value : nil
    }

    /// The position up to which the publisher may currently write (flow control), or `nil` once closed.
    public final var positionLimit: Int64? {
        guard let handle else { return nil }
        let value: Int64
        switch kind {
        case .concurrent: value = aeron_publication_position_limit(handle)
        case .exclusive: value = aeron_exclusive_publication_position_limit(handle)
        }
        return value >= 0 ? value : nil
    }

    /// The state of the channel endpoint (``ChannelStatus/unknown(_:)`` for IPC).
    public final var channelStatus: ChannelStatus {
        guard let handle else { return .closing }
        switch kind {
        case .concurrent: return ChannelStatus(rawValue: aeron_publication_channel_status(handle))
        case .exclusive: return ChannelStatus(rawValue: aeron_exclusive_publication_channel_status(handle))
        }
    }

    /// Offers one message, copying it into the log.
    ///
    /// Inlined into the caller, and allocates nothing.
    ///
    /// - Returns: ``OfferResult/success(position:)`` or the typed reason it was not appended.
    @inlinable @inline(__always)
    public final func offer(_ message: UnsafeRawBufferPointer) -> OfferResult {
        guard let handle else { return .closed }
        let bytes = message.baseAddress?.assumingMemoryBound(to: UInt8.self)
        return OfferResult(rawValue: offerFunction(handle, bytes, message.count, nil, nil))
    }

    /// Offers one message made of two parts (for example a header and a body) without joining them first.
    @inline(__always)
    public final func offer(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> OfferResult {
        guard let handle else { return .closed }
        var vectors = (
            aeron_iovec_t(
                iov_base: UnsafeMutablePointer(mutating: first.baseAddress?.assumingMemoryBound(to: UInt8.self)),
                iov_len: first.count),
            aeron_iovec_t(
                iov_base: UnsafeMutablePointer(mutating: second.baseAddress?.assumingMemoryBound(to: UInt8.self)),
                iov_len: second.count)
        )
        let result = withUnsafeMutableBytes(of: &vectors) { raw -> Int64 in
            let iov = raw.baseAddress!.assumingMemoryBound(to: aeron_iovec_t.self)
            switch kind {
            case .concurrent: return aeron_publication_offerv(handle, iov, 2, nil, nil)
            case .exclusive: return aeron_exclusive_publication_offerv(handle, iov, 2, nil, nil)
            }
        }
        return OfferResult(rawValue: result)
    }

    /// Offers the bytes of an array.
    @inlinable
    public final func offer(_ message: [UInt8]) -> OfferResult {
        message.withUnsafeBytes { offer($0) }
    }

    /// Claims `length` bytes in the log for writing in place, without a copy.
    ///
    /// On success `claim` holds the buffer; write the message into ``BufferClaim/buffer`` and then call
    /// ``BufferClaim/commit()`` or ``BufferClaim/abort()`` promptly: subscribers cannot read past an open claim.
    /// `length` must not exceed ``maxPayloadLength`` (claims are never fragmented).
    @inline(__always)
    public final func tryClaim(length: Int, into claim: inout BufferClaim) -> OfferResult {
        guard let handle else { return .closed }
        guard length >= 0, length <= maxPayloadLength else { return .error(code: -6) }
        var raw = aeron_buffer_claim_t()
        let result: Int64
        switch kind {
        case .concurrent: result = aeron_publication_try_claim(handle, length, &raw)
        case .exclusive: result = aeron_exclusive_publication_try_claim(handle, length, &raw)
        }
        if result >= 0 {
            claim = BufferClaim(raw)
        }
        return OfferResult(rawValue: result)
    }

    /// Claims `length` bytes, lets `fill` write them in place, and commits; aborts the claim if `fill` throws.
    ///
    /// - Returns: the claim's outcome; `fill` runs only on success.
    @inlinable
    public final func tryClaim<E: Error>(
        length: Int,
        _ fill: (UnsafeMutableRawBufferPointer) throws(E) -> Void
    ) throws(E) -> OfferResult {
        var claim = BufferClaim()
        let result = tryClaim(length: length, into: &claim)
        guard result.isSuccess else { return result }
        do {
            try fill(claim.buffer)
        } catch {
            claim.abort()
            throw error
        }
        claim.commit()
        return result
    }
}

/// The signature shared by `aeron_publication_offer` and `aeron_exclusive_publication_offer`.
public typealias COfferFunction =
    @convention(c) (
        OpaquePointer?, UnsafePointer<UInt8>?, Int,
        (@convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<UInt8>?, Int) -> Int64)?,
        UnsafeMutableRawPointer?
    ) -> Int64

/// A single-writer publication: only one thread at a time may offer or claim, which makes both cheaper than on a
/// concurrent ``Publication``.
public final class ExclusivePublication: Publication, @unchecked Sendable {}

/// Space claimed in a publication's log by ``Publication/tryClaim(length:into:)``, to be written in place and then
/// committed or aborted exactly once.
public struct BufferClaim {
    @usableFromInline var frameHeader: UnsafeMutablePointer<UInt8>?
    @usableFromInline var data: UnsafeMutablePointer<UInt8>?
    @usableFromInline var length: Int

    /// An empty claim, to pass to ``Publication/tryClaim(length:into:)``.
    @inlinable
    public init() {
        frameHeader = nil
        data = nil
        length = 0
    }

    init(_ raw: aeron_buffer_claim_t) {
        frameHeader = raw.frame_header
        data = raw.data
        length = raw.length
    }

    /// Whether the claim holds space that is neither committed nor aborted.
    @inlinable
    public var isActive: Bool { frameHeader != nil }

    /// The claimed bytes, to be written in place; empty when the claim is not active.
    @inlinable
    public var buffer: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: data, count: frameHeader == nil ? 0 : length)
    }

    /// Sets the frame's reserved value (bytes 24–31 of the frame header), e.g. a checksum or timestamp.
    @inlinable
    public func setReservedValue(_ value: Int64) {
        guard let frameHeader else { return }
        UnsafeMutableRawPointer(frameHeader).storeBytes(of: value.littleEndian, toByteOffset: 24, as: Int64.self)
    }

    /// Publishes the claimed bytes to subscribers.
    ///
    /// - Returns: `false` when the claim was not active.
    @discardableResult
    public mutating func commit() -> Bool {
        guard frameHeader != nil else { return false }
        var raw = aeron_buffer_claim_t(frame_header: frameHeader, data: data, length: length)
        frameHeader = nil
        return aeron_buffer_claim_commit(&raw) == 0
    }

    /// Turns the claimed space into padding that subscribers skip.
    ///
    /// - Returns: `false` when the claim was not active.
    @discardableResult
    public mutating func abort() -> Bool {
        guard frameHeader != nil else { return false }
        var raw = aeron_buffer_claim_t(frame_header: frameHeader, data: data, length: length)
        frameHeader = nil
        return aeron_buffer_claim_abort(&raw) == 0
    }
}
