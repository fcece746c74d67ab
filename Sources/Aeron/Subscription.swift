import CAeron

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Receives one fragment: its bytes (valid only during the call; they point into the mapped log) and its header.
public typealias FragmentHandler = (_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) -> Void

/// Receives one fragment and tells a controlled poll how to proceed.
public typealias ControlledFragmentHandler = (_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) ->
    ControlledPollAction

/// What a controlled poll does after a fragment has been handled.
public enum ControlledPollAction: Sendable {
    /// Stop polling and do not consume this fragment: it is delivered again by the next poll.
    case abort
    /// Consume this fragment and stop polling.
    case `break`
    /// Consume this fragment, commit the position (flow control moves on now), and keep polling.
    case commit
    /// Consume this fragment and keep polling; the position is committed at the end of the poll.
    case `continue`

    @inline(__always)
    var cValue: aeron_controlled_fragment_handler_action_t {
        switch self {
        case .abort: return AERON_ACTION_ABORT
        case .break: return AERON_ACTION_BREAK
        case .commit: return AERON_ACTION_COMMIT
        case .continue: return AERON_ACTION_CONTINUE
        }
    }
}

/// A subscription to a channel and stream: polls the images of every publisher it has joined.
///
/// Polling is single-threaded: call ``poll(fragmentLimit:_:)`` from one thread at a time. Polling allocates nothing;
/// the handler is a non-escaping closure and the fragment bytes are read in place.
public final class Subscription: ClientOwnedResource, @unchecked Sendable {
    /// The client that owns this subscription; kept alive by it.
    public let client: AeronClient
    /// The C handle, `nil` once closed; exclusivity is not checked at run time (see ``Publication``).
    @usableFromInline @exclusivity(unchecked) var handle: OpaquePointer?
    let handlers: ImageHandlerBox

    /// The channel URI the subscription was added with.
    public let channel: String
    /// The stream id.
    public let streamId: Int32
    /// The registration id of this subscription at the driver.
    public let registrationId: Int64
    /// The id of the channel-status counter (or -1 for IPC).
    public let channelStatusIndicatorId: Int32

    init(client: AeronClient, handle: OpaquePointer, handlers: ImageHandlerBox) {
        self.client = client
        self.handle = handle
        self.handlers = handlers
        var constants = aeron_subscription_constants_t()
        aeron_subscription_constants(handle, &constants)
        self.channel = constants.channel.map { String(cString: $0) } ?? ""
        self.streamId = constants.stream_id
        self.registrationId = constants.registration_id
        self.channelStatusIndicatorId = constants.channel_status_indicator_id
        client.registry.register(self)
    }

    deinit { close() }

    /// Closes the subscription. Safe to call more than once, and after the client has closed.
    ///
    /// The image handlers stay registered until the C client confirms the close, so a late unavailable-image
    /// callback never reaches freed memory.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        client.registry.unregister(self)
        let clientd = Unmanaged.passUnretained(handlers).toOpaque()
        if aeron_subscription_close(handle, subscriptionClosedTrampoline, clientd) < 0 {
            // The close request was not queued; the box is released when the client closes.
            return
        }
    }

    func clientDidClose() { handle = nil }

    /// Whether the subscription is closed.
    public var isClosed: Bool {
        guard let handle else { return true }
        return aeron_subscription_is_closed(handle)
    }

    /// Whether at least one publisher's image is connected.
    public var isConnected: Bool {
        guard let handle else { return false }
        return aeron_subscription_is_connected(handle)
    }

    /// The number of images (one per publisher session) currently joined.
    public var imageCount: Int {
        guard let handle else { return 0 }
        return Int(max(0, aeron_subscription_image_count(handle)))
    }

    /// A snapshot of the images currently joined.
    public var images: [ImageInfo] {
        guard let handle else { return [] }
        var collector = ImageCollector(streamId: streamId)
        withUnsafeMutablePointer(to: &collector) { pointer in
            aeron_subscription_for_each_image(handle, collectImageTrampoline, pointer)
        }
        return collector.images
    }

    /// The state of the channel endpoint (``ChannelStatus/unknown(_:)`` for IPC).
    public var channelStatus: ChannelStatus {
        guard let handle else { return .closing }
        return ChannelStatus(rawValue: aeron_subscription_channel_status(handle))
    }

    /// The endpoint the subscription's socket is bound to, e.g. `127.0.0.1:40123` after subscribing to
    /// `endpoint=localhost:0`; `nil` for IPC or before the endpoint is active.
    public var resolvedEndpoint: String? {
        guard let handle else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer -> String? in
            buffer.initialize(repeating: 0)
            guard aeron_subscription_resolved_endpoint(handle, buffer.baseAddress, buffer.count) > 0 else {
                return nil
            }
            return String(cString: buffer.baseAddress!)
        }
    }

    /// Delivers up to `fragmentLimit` fragments to `handler`, allocating nothing.
    ///
    /// This is the duty-cycle form: `H` is specialised at the call site, `handler` is updated in place, and neither
    /// the poll nor the dispatch to `onFragment` allocates.
    ///
    /// - Returns: the number of fragments delivered.
    @inlinable
    public func poll<H: FragmentHandling>(into handler: inout H, fragmentLimit: Int = 10) -> Int {
        withUnsafeMutablePointer(to: &handler) { target in
            let dispatch = FragmentTarget(target: UnsafeMutableRawPointer(target), handlerType: H.self)
            return withUnsafePointer(to: dispatch) { pollTarget($0, fragmentLimit: fragmentLimit) }
        }
    }

    /// Delivers up to `fragmentLimit` fragments to `handler`, which decides after each whether to continue, stop,
    /// commit or put the fragment back. Allocates nothing (see ``poll(into:fragmentLimit:)``).
    ///
    /// - Returns: the number of fragments consumed.
    @inlinable
    public func controlledPoll<H: ControlledFragmentHandling>(into handler: inout H, fragmentLimit: Int = 10) -> Int {
        withUnsafeMutablePointer(to: &handler) { target in
            let dispatch = ControlledFragmentTarget(target: UnsafeMutableRawPointer(target), handlerType: H.self)
            return withUnsafePointer(to: dispatch) { controlledPollTarget($0, fragmentLimit: fragmentLimit) }
        }
    }

    /// Polls through `assembler`, which joins fragmented messages before calling `handler`. Allocates nothing once
    /// the assembler's buffer has grown to the largest message.
    @inlinable
    public func poll<H: FragmentHandling>(
        assembler: FragmentAssembler,
        into handler: inout H,
        fragmentLimit: Int = 10
    ) -> Int {
        withUnsafeMutablePointer(to: &handler) { target in
            let dispatch = FragmentTarget(target: UnsafeMutableRawPointer(target), handlerType: H.self)
            return withUnsafePointer(to: dispatch) { assembler.poll(handle, $0, fragmentLimit: fragmentLimit) }
        }
    }

    /// Delivers up to `fragmentLimit` fragments to a closure.
    ///
    /// Convenient for tools and tests. A closure that captures state costs one small allocation per call (Swift's
    /// escape check of a non-escaping closure); duty cycles use ``poll(into:fragmentLimit:)``.
    ///
    /// - Returns: the number of fragments delivered.
    @inlinable
    public func poll(fragmentLimit: Int = 10, _ handler: FragmentHandler) -> Int {
        withoutActuallyEscaping(handler) { body in
            var adapter = FragmentClosure(body: body)
            return poll(into: &adapter, fragmentLimit: fragmentLimit)
        }
    }

    /// Controlled poll with a closure; see ``controlledPoll(into:fragmentLimit:)``.
    @inlinable
    public func controlledPoll(fragmentLimit: Int = 10, _ handler: ControlledFragmentHandler) -> Int {
        withoutActuallyEscaping(handler) { body in
            var adapter = ControlledFragmentClosure(body: body)
            return controlledPoll(into: &adapter, fragmentLimit: fragmentLimit)
        }
    }

    /// Polls through `assembler` with a closure; see ``poll(assembler:into:fragmentLimit:)``.
    @inlinable
    public func poll(assembler: FragmentAssembler, fragmentLimit: Int = 10, _ handler: FragmentHandler) -> Int {
        withoutActuallyEscaping(handler) { body in
            var adapter = FragmentClosure(body: body)
            return poll(assembler: assembler, into: &adapter, fragmentLimit: fragmentLimit)
        }
    }

    @usableFromInline
    func pollTarget(_ target: UnsafePointer<FragmentTarget>, fragmentLimit: Int) -> Int {
        guard let handle else { return 0 }
        return Int(
            aeron_subscription_poll(
                handle, fragmentTargetTrampoline, UnsafeMutableRawPointer(mutating: target),
                fragmentLimit))
    }

    @usableFromInline
    func controlledPollTarget(_ target: UnsafePointer<ControlledFragmentTarget>, fragmentLimit: Int) -> Int {
        guard let handle else { return 0 }
        return Int(
            aeron_subscription_controlled_poll(
                handle, controlledFragmentTargetTrampoline, UnsafeMutableRawPointer(mutating: target), fragmentLimit))
    }
}

/// A receiver of fragments for the allocation-free ``Subscription/poll(into:fragmentLimit:)``.
///
/// Conform a struct (updated in place) or a class. The buffer points into the mapped log and is valid only during
/// the call.
public protocol FragmentHandling {
    /// Handles one fragment (or, through a ``FragmentAssembler``, one whole message).
    mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader)
}

/// A receiver of fragments for ``Subscription/controlledPoll(into:fragmentLimit:)``.
public protocol ControlledFragmentHandling {
    /// Handles one fragment and says how the poll proceeds.
    mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) -> ControlledPollAction
}

/// Adapts a closure to ``FragmentHandling``.
@usableFromInline
struct FragmentClosure: FragmentHandling {
    @usableFromInline let body: FragmentHandler
    @usableFromInline init(body: @escaping FragmentHandler) { self.body = body }
    @inlinable func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) { body(buffer, header) }
}

/// Adapts a closure to ``ControlledFragmentHandling``.
@usableFromInline
struct ControlledFragmentClosure: ControlledFragmentHandling {
    @usableFromInline let body: ControlledFragmentHandler
    @usableFromInline init(body: @escaping ControlledFragmentHandler) { self.body = body }
    @inlinable func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) -> ControlledPollAction {
        body(buffer, header)
    }
}

/// What the C trampoline calls for each fragment: a pointer to the caller's handler and the handler's type. Lives on
/// the poller's stack for one poll.
///
/// The type is stored as a metatype, which is trivial: dispatching through it needs no reference counting, and no
/// closure (whose context would be retained and released around every fragment) is involved. Nothing allocates.
@usableFromInline
struct FragmentTarget {
    @usableFromInline let target: UnsafeMutableRawPointer
    @usableFromInline let handlerType: any FragmentHandling.Type

    @usableFromInline
    init(target: UnsafeMutableRawPointer, handlerType: any FragmentHandling.Type) {
        self.target = target
        self.handlerType = handlerType
    }
}

/// The controlled-poll counterpart of ``FragmentTarget``.
@usableFromInline
struct ControlledFragmentTarget {
    @usableFromInline let target: UnsafeMutableRawPointer
    @usableFromInline let handlerType: any ControlledFragmentHandling.Type

    @usableFromInline
    init(target: UnsafeMutableRawPointer, handlerType: any ControlledFragmentHandling.Type) {
        self.target = target
        self.handlerType = handlerType
    }
}

/// The header of a received fragment; valid only during the handler call that received it.
public struct FragmentHeader {
    @usableFromInline let raw: OpaquePointer

    @usableFromInline
    init(_ raw: OpaquePointer) { self.raw = raw }

    /// The fields of the frame header.
    public var values: FrameValues {
        var values = aeron_header_values_t()
        aeron_header_values(raw, &values)
        return FrameValues(values)
    }

    /// The stream position just after this fragment.
    public var position: Int64 { aeron_header_position(raw) }

    /// The publisher's session id.
    public var sessionId: Int32 { values.sessionId }

    /// The fragment flags: ``FrameValues/beginFlag`` and ``FrameValues/endFlag`` both set for an unfragmented message.
    public var flags: UInt8 { values.flags }

    /// The 64-bit reserved value the publisher set, if any.
    public var reservedValue: Int64 { values.reservedValue }
}

/// A copy of the fields of a data frame header.
public struct FrameValues: Sendable, Equatable {
    /// Flag of the first fragment of a message.
    public static let beginFlag: UInt8 = 0x80
    /// Flag of the last fragment of a message.
    public static let endFlag: UInt8 = 0x40

    /// Length of the frame including its 32-byte header.
    public var frameLength: Int32
    /// Frame flags.
    public var flags: UInt8
    /// Frame type (1 for data, 0 for padding).
    public var type: Int16
    /// Offset of the frame in its term.
    public var termOffset: Int32
    /// Publisher's session id.
    public var sessionId: Int32
    /// Stream id.
    public var streamId: Int32
    /// Term id.
    public var termId: Int32
    /// Reserved value set by the publisher.
    public var reservedValue: Int64
    /// Initial term id of the stream.
    public var initialTermId: Int32

    init(_ values: aeron_header_values_t) {
        frameLength = values.frame.frame_length
        flags = values.frame.flags
        type = values.frame.type
        termOffset = values.frame.term_offset
        sessionId = values.frame.session_id
        streamId = values.frame.stream_id
        termId = values.frame.term_id
        reservedValue = values.frame.reserved_value
        initialTermId = values.initial_term_id
    }
}

/// A snapshot of an image: one publisher session as seen by one subscription.
public struct ImageInfo: Sendable, Equatable {
    /// The publisher's session id.
    public let sessionId: Int32
    /// The stream id.
    public let streamId: Int32
    /// The correlation id of the image at the driver.
    public let correlationId: Int64
    /// Where the publisher is: `aeron:ipc` or a socket address such as `127.0.0.1:52345`.
    public let sourceIdentity: String
    /// The stream position at which this subscriber joined.
    public let joinPosition: Int64
    /// The subscriber's position in the image when the snapshot was taken.
    public let position: Int64
    /// The term length of the image's log.
    public let termBufferLength: Int
    /// The MTU of the image.
    public let mtuLength: Int
    /// The id of this subscriber's position counter for the image.
    public let subscriberPositionId: Int32
    /// Whether the publisher has closed and the subscriber has consumed everything it sent.
    public let isEndOfStream: Bool

    init?(image: OpaquePointer, streamId: Int32) {
        var constants = aeron_image_constants_t()
        guard aeron_image_constants(image, &constants) >= 0 else { return nil }
        self.sessionId = constants.session_id
        self.streamId = streamId
        self.correlationId = constants.correlation_id
        self.sourceIdentity = constants.source_identity.map { String(cString: $0) } ?? ""
        self.joinPosition = constants.join_position
        self.position = aeron_image_position(image)
        self.termBufferLength = constants.term_buffer_length
        self.mtuLength = constants.mtu_length
        self.subscriberPositionId = constants.subscriber_position_id
        self.isEndOfStream = aeron_image_is_end_of_stream(image)
    }
}

private struct ImageCollector {
    let streamId: Int32
    var images: [ImageInfo] = []
}

private let collectImageTrampoline: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = {
    image, clientd in
    guard let image, let clientd else { return }
    let collector = clientd.assumingMemoryBound(to: ImageCollector.self)
    if let info = ImageInfo(image: image, streamId: collector.pointee.streamId) {
        collector.pointee.images.append(info)
    }
}

/// Calls the ``FragmentTarget`` that `clientd` points to.
let fragmentTargetTrampoline:
    @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int, OpaquePointer?) -> Void = {
        clientd, buffer, length, header in
        let dispatch = clientd.unsafelyUnwrapped.assumingMemoryBound(to: FragmentTarget.self)
        dispatch.pointee.handlerType.deliver(
            dispatch.pointee.target, UnsafeRawBufferPointer(start: buffer, count: length),
            FragmentHeader(header.unsafelyUnwrapped))
    }

/// Calls the ``ControlledFragmentTarget`` that `clientd` points to.
let controlledFragmentTargetTrampoline:
    @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int, OpaquePointer?) ->
        aeron_controlled_fragment_handler_action_t = { clientd, buffer, length, header in
            let dispatch = clientd.unsafelyUnwrapped.assumingMemoryBound(to: ControlledFragmentTarget.self)
            return dispatch.pointee.handlerType.deliver(
                dispatch.pointee.target, UnsafeRawBufferPointer(start: buffer, count: length),
                FragmentHeader(header.unsafelyUnwrapped)
            ).cValue
        }

extension FragmentHandling {
    /// Delivers a fragment to the handler of this type at `target`.
    @inline(__always)
    static func deliver(_ target: UnsafeMutableRawPointer, _ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
        target.assumingMemoryBound(to: Self.self).pointee.onFragment(buffer, header)
    }
}

extension ControlledFragmentHandling {
    /// Delivers a fragment to the handler of this type at `target`.
    @inline(__always)
    static func deliver(
        _ target: UnsafeMutableRawPointer, _ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader
    )
        -> ControlledPollAction
    {
        target.assumingMemoryBound(to: Self.self).pointee.onFragment(buffer, header)
    }
}
