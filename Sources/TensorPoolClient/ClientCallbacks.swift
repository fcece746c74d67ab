public import DriverClient
public import TensorPoolSHM
public import TensorPoolWire

/// The callbacks of an application that uses frames, metadata, QoS and lifecycle events together, in one value.
///
/// Install it on the pieces that produce the events: ``frameHandler`` for ``Consumer/poll(into:fragmentLimit:)``,
/// ``install(on:)-(MetadataCache)`` for metadata and blobs, ``install(on:)-(QosMonitor)`` for QoS, and
/// ``install(on:)-(TensorPoolClient)`` for driver events. Each callback runs on the thread that drives the piece it
/// came from. The frame callback is a closure call per frame: for the last nanoseconds, implement `FrameHandling`
/// directly instead.
public struct ClientCallbacks {
    /// A validated frame (zero copy; valid during the call, check `consumer.isStillValid(frame)` after use).
    public var onFrame: ((FrameView, Consumer) -> Void)?
    /// A progress hint of a frame still being filled.
    public var onProgress: ((ProgressView, WireSchema.FrameProgressState, Consumer) -> Void)?
    /// A consumer's state changed (mapped, unmapped, awaiting a fresh region, fallback, failed).
    public var onConsumerState: ((ConsumerState, Consumer) -> Void)?
    /// A version of a stream's metadata arrived.
    public var onMetadata: ((SourceMetadata) -> Void)?
    /// A meta blob arrived intact.
    public var onBlob: ((MetaBlob) -> Void)?
    /// A meta blob was discarded: stream, metadata version, reason.
    public var onBlobDiscarded: ((UInt32, UInt32, MetaBlobDiscard) -> Void)?
    /// A producer's QoS report.
    public var onProducerQos: ((ProducerQos) -> Void)?
    /// A consumer's QoS report.
    public var onConsumerQos: ((ConsumerQos) -> Void)?
    /// Two clients report the same consumer id for one stream.
    public var onConsumerIdCollision: ((ConsumerIdCollision) -> Void)?
    /// A driver event (lease revoked or expired, producer revoked, driver shutdown).
    public var onDriverEvent: ((DriverClientEvent) -> Void)?

    /// No callbacks; set the ones needed.
    public init() {}

    /// A frame handler that calls ``onFrame``, ``onProgress`` and ``onConsumerState``.
    public var frameHandler: CallbackFrameHandler {
        CallbackFrameHandler(onFrame: onFrame, onProgress: onProgress, onState: onConsumerState)
    }

    /// Routes the metadata, blob and discard callbacks of `cache` here.
    public func install(on cache: MetadataCache) {
        cache.onMetadata = onMetadata
        cache.onBlob = onBlob
        cache.onBlobDiscarded = onBlobDiscarded
    }

    /// Routes the QoS callbacks of `monitor` here.
    public func install(on monitor: QosMonitor) {
        monitor.onProducer = onProducerQos
        monitor.onConsumer = onConsumerQos
        monitor.onCollision = onConsumerIdCollision
    }

    /// Routes the driver events of `client` here.
    public func install(on client: TensorPoolClient) {
        client.onDriverEvent = onDriverEvent
    }
}

/// A `FrameHandling` made of closures (see ``ClientCallbacks/frameHandler``).
public struct CallbackFrameHandler: FrameHandling {
    let onFrame: ((FrameView, Consumer) -> Void)?
    let onProgressHint: ((ProgressView, WireSchema.FrameProgressState, Consumer) -> Void)?
    let onState: ((ConsumerState, Consumer) -> Void)?

    init(
        onFrame: ((FrameView, Consumer) -> Void)?,
        onProgress: ((ProgressView, WireSchema.FrameProgressState, Consumer) -> Void)?,
        onState: ((ConsumerState, Consumer) -> Void)?
    ) {
        self.onFrame = onFrame
        onProgressHint = onProgress
        self.onState = onState
    }

    /// Calls `onFrame`.
    public mutating func onFrame(_ frame: FrameView, consumer: Consumer) { onFrame?(frame, consumer) }

    /// Calls `onProgress`.
    public mutating func onProgress(_ progress: ProgressView, state: WireSchema.FrameProgressState, consumer: Consumer)
    {
        onProgressHint?(progress, state, consumer)
    }

    /// Calls `onConsumerState`.
    public mutating func onStateChange(_ state: ConsumerState, consumer: Consumer) { onState?(state, consumer) }
}
