public import Aeron
import Agents
public import DriverClient
import Logging
import SBE
import TensorPoolLogging
public import TensorPoolSHM
public import TensorPoolWire

/// Receives frames and events from ``Consumer/poll(into:fragmentLimit:)``.
public protocol FrameHandling {
    /// One validated frame. The view (its payload in SHM, zero copy) is valid only during the call; call
    /// `consumer.isStillValid(frame)` after using the payload and discard the result when it is false.
    mutating func onFrame(_ frame: FrameView, consumer: Consumer)

    /// A progress hint for a frame still being filled (only for a consumer created with
    /// ``ConsumerOptions/supportsProgress``). Read at most `progress.prefix`, then check
    /// `consumer.isStillValid(progress)`; the frame itself still arrives through ``onFrame(_:consumer:)``. The
    /// default does nothing.
    mutating func onProgress(_ progress: ProgressView, state: WireSchema.FrameProgressState, consumer: Consumer)

    /// The consumer's state changed (mapped, unmapped, awaiting a fresh region, fallback, failed), reported from
    /// ``Consumer/poll(into:fragmentLimit:)``. The state at attach is ``Consumer/state``. The default does nothing.
    mutating func onStateChange(_ state: ConsumerState, consumer: Consumer)
}

extension FrameHandling {
    /// Does nothing.
    public mutating func onProgress(
        _ progress: ProgressView, state: WireSchema.FrameProgressState, consumer: Consumer
    ) {}

    /// Does nothing.
    public mutating func onStateChange(_ state: ConsumerState, consumer: Consumer) {}
}

/// The consumer state machine of wire spec §15.12.
public enum ConsumerState: Hashable, Sendable {
    /// Waiting for an announce (nothing mapped).
    case unmapped
    /// SHM mapped for this epoch.
    case mapped(epoch: UInt64)
    /// Nothing mapped: the regions granted or announced have an `activity_timestamp_ns` outside the freshness
    /// window (a stream whose driver leaves the refresh to a producer that has not come yet, DRV-3-011; a dead
    /// producer). Not an error: the consumer checks the regions again on every announce of the stream and on a
    /// backoff timer (50 ms, doubling up to 1 s), from ``TensorPoolClient/doWork()``, and maps them once they are
    /// fresh. ``Consumer/staleRegion`` says which region and how old. After
    /// ``TensorPoolContext/staleRegionTimeoutNs`` without a fresh region it gives up (``failed``).
    case awaitingFreshRegion
    /// The consumer gave up (``Consumer/failure`` says why:
    /// ``TensorPoolClientError/staleRegion(field:activityTimestampNs:nowNs:windowNs:)``): its lease is detached, it
    /// is no longer active and does nothing more. Close it; attach again to retry.
    case failed
    /// Told not to use SHM (`ConsumerConfig.use_shm = false`): frames are to be taken from the fallback, when one was
    /// given; nothing is read from SHM until a configuration allows it again.
    case fallback(FallbackURI?)
}

/// A consumer's handle on one stream: its lease, the mapping state machine over the announced regions, and the
/// subscriptions (wire spec §5, §10.1–10.2, §11, §15.12, §15.21; driver spec §2.3, §4.9).
///
/// ``poll(into:fragmentLimit:)`` reads the control stream (announces, `ConsumerConfig`, progress), then descriptors,
/// and hands each validated frame to the handler. Announces of a new epoch remap (dropping what is in flight); a
/// revocation of the producer waits for that announce. The consumer says `ConsumerHello` at attach and every
/// ``ConsumerOptions/helloIntervalNs`` from ``TensorPoolClient/doWork()``; a `ConsumerConfig` for it can move it to a
/// per-consumer descriptor stream (in place of the shared one), add a per-consumer control stream for progress, grant
/// or decline `RATE_LIMITED`, or send it to FALLBACK.
///
/// **Stale regions.** Regions whose `activity_timestamp_ns` is outside the freshness window are never mapped
/// (§15.1), but they do not fail the attach: the consumer waits in ``ConsumerState/awaitingFreshRegion`` for them to
/// become fresh (or for an announce of fresh ones), for at most ``TensorPoolContext/staleRegionTimeoutNs``, then
/// fails (``ConsumerState/failed``, ``failure``). Superblock times are compared on CLOCK_MONOTONIC, the peers' clock.
public final class Consumer {
    /// The lease and the regions of the attach.
    public private(set) var grant: LeaseGrant
    /// The options of the attach.
    public let options: ConsumerOptions
    /// The consumer id in hellos and QoS (random when the options gave 0; a random one is drawn again when another
    /// consumer of the stream reports the same id, §10.1.2-011).
    public private(set) var consumerId: UInt32
    /// Times a self-assigned id collided with another consumer's and was replaced.
    public private(set) var idCollisions: UInt64 = 0
    /// `QosConsumer` reports sent.
    public private(set) var qosSent: UInt64 = 0
    var lastQosNs: UInt64 = 0
    var lastSeqSeen: UInt64 = 0
    /// The mapping state machine (M0/M1) and its reader.
    public let mapping: ConsumerMapping
    /// Whether the lease is still held (false once it ended, the consumer failed or was closed).
    public internal(set) var isActive = true
    /// Times the consumer remapped to a new epoch.
    public private(set) var remaps: UInt64 = 0
    /// Descriptors of other streams on the shared descriptor stream, skipped.
    public private(set) var otherStreams: UInt64 = 0
    /// Announces discarded as stale: older than the freshness window, replayed from before this consumer joined, of an
    /// unknown clock domain, or with an epoch lower than the highest seen (wire spec §10.1.1).
    public private(set) var staleAnnounces: UInt64 = 0
    /// The highest epoch seen for the stream.
    public private(set) var highestEpoch: UInt64
    /// Monotonic time the consumer joined (its subscriptions were being added): announces stamped earlier are
    /// replays of the Aeron log (§10.1.1).
    public let joinTimeNs: UInt64
    /// Local rate cap in frames per second (0 = none), from ``ConsumerOptions/maxRateHz``. While the consumer reads
    /// the shared descriptor stream, frames closer together than `1/maxRateHz` are dropped locally (§11), gated on the
    /// descriptor's timestamp when present, else the slot's capture timestamp, else the local monotonic clock; on a
    /// per-consumer descriptor stream the producer applies the cap. Changes go out with the next hello.
    @exclusivity(unchecked) public var maxRateHz: UInt32 {
        didSet { gateRateHz = Self.gateRate(maxRateHz: maxRateHz, configuration: configuration, options: options) }
    }
    /// Frames dropped by the local rate cap.
    public private(set) var rateLimited: UInt64 = 0
    /// The last `ConsumerConfig` addressed to this consumer, from the producer or a supervisor.
    public private(set) var configuration: ConsumerConfiguration? {
        didSet { gateRateHz = Self.gateRate(maxRateHz: maxRateHz, configuration: configuration, options: options) }
    }
    /// The rate cap in force, in frames per second (0 = none): ``maxRateHz`` when set; otherwise, while a
    /// `ConsumerConfig` holds the consumer in `RATE_LIMITED` (a supervisor forcing it, §10.1.3), the options'
    /// ``ConsumerOptions/rateLimitedDefaultHz``. Read per frame.
    @exclusivity(unchecked) public private(set) var gateRateHz: UInt32 = 0
    /// The mode in effect: the one the last `ConsumerConfig` gave, else the one asked for.
    public var mode: WireSchema.Mode { configuration?.mode ?? options.mode }
    /// Times a `ConsumerConfig` changed the mode in effect.
    public private(set) var modeChanges: UInt64 = 0
    /// `ConsumerConfig` messages addressed to this consumer.
    public private(set) var configsReceived: UInt64 = 0
    /// The per-consumer descriptor stream read instead of the shared one, if assigned.
    public private(set) var descriptorStream: StreamEndpoint?
    /// The per-consumer control stream read for progress, if assigned.
    public private(set) var controlStream: StreamEndpoint?
    /// Hellos sent.
    public private(set) var hellosSent: UInt64 = 0
    /// Descriptors skipped in FALLBACK.
    public private(set) var fallbackSkipped: UInt64 = 0
    /// Progress hints delivered to the handler.
    public private(set) var progressDelivered: UInt64 = 0
    /// Progress hints that did not resolve against the mapped slot, or came for an older frame.
    public private(set) var progressIgnored: UInt64 = 0
    /// Frames dropped because their progress went backwards (§10.2.2-013).
    public private(set) var progressRegressions: UInt64 = 0
    var lastDeliveredNs: UInt64?
    var fallback: FallbackURI?? {
        didSet { inFallback = fallback != nil }
    }
    /// Whether the consumer is in FALLBACK (read per frame).
    @exclusivity(unchecked) @usableFromInline var inFallback = false
    /// The stream id (read per frame; `grant` is a large value).
    @usableFromInline let streamNumber: UInt32
    var lastAnnounce: RegionAnnounce
    var lastHelloNs: UInt64 = 0
    var progressSeq: UInt64 = 0
    var progressBytes: UInt64 = 0
    var progressState: UInt8 = 0
    var progressTracking = false
    var poisonedSeq: UInt64? {
        didSet { progressPoisoned = poisonedSeq != nil }
    }
    /// Whether some frame's progress went backwards (read per frame).
    @exclusivity(unchecked) @usableFromInline var progressPoisoned = false
    /// Monotonic time the consumer was last seen mapped (or asked to wait for an announce).
    var lastMappedNs: UInt64
    /// A re-attach in progress after the announce timeout, and the backoff before the next one.
    var reattach: PendingAttach?
    var nextReattachNs: UInt64 = 0
    var reattachBackoffNs: UInt64 = 0
    /// A grant adopted from a re-attach, mapped at the next poll.
    var remapPending = false
    /// Times the consumer gave up waiting for an announce and attached again (driver spec §4.9).
    public private(set) var announceTimeouts: UInt64 = 0
    /// Why the consumer gave up (state ``ConsumerState/failed``); nil while it has not.
    public internal(set) var failure: TensorPoolClientError?
    /// The stale region found by the last mapping attempt that failed for staleness, while the consumer waits in
    /// ``ConsumerState/awaitingFreshRegion`` (and after it failed); nil once mapped.
    public internal(set) var staleRegion: StaleRegion?
    /// Times stale regions were checked again on the backoff timer (announces check them too).
    public internal(set) var freshnessChecks: UInt64 = 0
    /// Monotonic time the consumer began waiting for a fresh region (nil when not waiting).
    var awaitingFreshSinceNs: UInt64?
    /// When the backoff timer checks the stale regions next, and the current backoff.
    var nextFreshCheckNs: UInt64 = 0
    var freshCheckBackoffNs: UInt64 = 0
    /// A state change made from the duty cycle, reported to the handler at the next poll.
    var stateReportPending = false

    unowned let client: TensorPoolClient
    @exclusivity(unchecked) @usableFromInline var descriptors: Subscription
    @usableFromInline let control: Subscription
    let qos: Subscription
    @usableFromInline let announces: Subscription?
    @exclusivity(unchecked) @usableFromInline var progressSubscription: Subscription?
    var pendingDescriptor: (endpoint: StreamEndpoint?, resource: PendingResource<Subscription>)?
    var pendingControl: (endpoint: StreamEndpoint, resource: PendingResource<Subscription>)?
    let counterSet: CounterSet
    /// The `tensorpool.consumer` logger.
    let logger: Logger
    /// The hello's encoding buffer, sized once for the options' channels (hellos allocate nothing).
    let helloScratch: UnsafeMutableRawBufferPointer

    init(
        client: TensorPoolClient, grant: LeaseGrant, options: ConsumerOptions, descriptors: Subscription,
        control: Subscription, qos: Subscription, announces: Subscription?, joinTimeNs: UInt64
    ) throws(TensorPoolClientError) {
        try options.validate()
        self.client = client
        self.grant = grant
        streamNumber = grant.streamId
        var logger = TensorPoolLog.logger(.consumer)
        logger[metadataKey: "stream"] = "\(grant.streamId)"
        self.logger = logger
        self.options = options
        consumerId = options.consumerId != 0 ? options.consumerId : UInt32.random(in: 1...UInt32.max)
        maxRateHz = options.maxRateHz
        gateRateHz = options.maxRateHz
        highestEpoch = grant.epoch
        lastAnnounce = grant.regions
        self.joinTimeNs = joinTimeNs
        let attachNs = UInt64(MonotonicClock.now())
        lastMappedNs = attachNs
        mapping = ConsumerMapping(
            policy: client.policy, freshnessWindowNs: client.context.freshnessWindowNs,
            maxOutstandingSeqGap: options.maxOutstandingSeqGap, populate: client.context.populateMappings)
        // Superblock times are CLOCK_MONOTONIC, as both peers write them.
        if case .rejected(let error) = mapping.handle(grant.regions, nowNs: attachNs) {
            // Stale regions are waited for (§10.1.1-004: soft state); anything else fails the attach.
            guard let stale = StaleRegion(error) else { throw .regions(error) }
            guard client.context.staleRegionTimeoutNs > 0 else { throw stale.error }
            staleRegion = stale
            awaitingFreshSinceNs = attachNs
            freshCheckBackoffNs = Self.firstFreshCheckNs
            nextFreshCheckNs = attachNs &+ freshCheckBackoffNs
            logger.warning("regions stale at attach: waiting for a fresh one", metadata: ["stale": "\(stale)"])
        }
        helloScratch = .allocate(
            byteCount: 128 + (options.descriptorStream?.channel.utf8.count ?? 0)
                + (options.controlStream?.channel.utf8.count ?? 0),
            alignment: 8)
        self.descriptors = descriptors
        self.control = control
        self.qos = qos
        self.announces = announces
        counterSet = CounterSet(
            aeron: client.aeron, streamId: grant.streamId, leaseId: grant.leaseId, clientId: grant.clientId,
            role: "consumer",
            types: [
                (TensorPoolCounterType.framesAccepted, "frames accepted"),
                (TensorPoolCounterType.dropsGap, "drops gap"),
                (TensorPoolCounterType.dropsLate, "drops late"),
                (TensorPoolCounterType.dropsInvalid, "drops invalid"),
                (TensorPoolCounterType.remaps, "remaps"),
            ])
        sendHello()  // §10.1.2-001: at start
    }

    deinit { helloScratch.deallocate() }

    /// Copies the statistics into the Aeron counters.
    func refreshCounters() {
        let counters = mapping.counters
        counterSet.set(0, counters.framesAccepted)
        counterSet.set(1, counters.dropsGap)
        counterSet.set(2, counters.dropsLate)
        counterSet.set(3, counters.dropsInvalid)
        counterSet.set(4, remaps)
    }

    /// The stream consumed.
    public var streamId: UInt32 { grant.streamId }
    /// Consumer counters: accepted frames, `drops_gap`, `drops_late`, … across remaps.
    public var counters: ConsumerCounters { mapping.counters }

    /// The state of §15.12, with the wait for a fresh region and the failure.
    public var state: ConsumerState {
        if failure != nil { return .failed }
        if let fallback { return .fallback(fallback) }
        if case .mapped(let epoch) = mapping.state { return .mapped(epoch: epoch) }
        if awaitingFreshSinceNs != nil { return .awaitingFreshRegion }
        return .unmapped
    }

    /// Whether a zero-copy frame is still the committed content of its slot (see ``FrameReader/isStillValid(_:)``).
    public func isStillValid(_ frame: FrameView) -> Bool { mapping.reader?.isStillValid(frame) ?? false }

    /// Whether the slot of a progress view still holds its frame.
    public func isStillValid(_ progress: ProgressView) -> Bool { mapping.reader?.isStillValid(progress) ?? false }

    // MARK: Polling

    /// Polls the control stream (announces, configuration, progress), the announce stream when it is another one,
    /// the per-consumer control stream, and up to `fragmentLimit` descriptors, handing each accepted frame to
    /// `handler`. Returns the number of fragments read.
    ///
    /// Inlined into the caller, so the fragment handler is specialised for `H`: nothing is looked up, boxed or
    /// allocated per poll or per frame.
    @inlinable
    public func poll<H: FrameHandling>(into handler: inout H, fragmentLimit: Int = 16) -> Int {
        if maintenanceDue, let changed = maintain() { handler.onStateChange(changed, consumer: self) }
        var dispatch = Dispatch(consumer: self, handler: handler, source: .sharedControl)
        var work = control.poll(into: &dispatch, fragmentLimit: 4)
        if let announces {
            dispatch.source = .announces
            work += announces.poll(into: &dispatch, fragmentLimit: 4)
        }
        if let progressSubscription {
            dispatch.source = .perConsumerControl
            work += progressSubscription.poll(into: &dispatch, fragmentLimit: fragmentLimit)
        }
        dispatch.source = .descriptors
        work += descriptors.poll(into: &dispatch, fragmentLimit: fragmentLimit)
        handler = dispatch.handler
        return work
    }

    /// Whether ``maintain()`` has something to do (a subscription being added, a grant to map, a state change to
    /// report).
    @usableFromInline
    var maintenanceDue: Bool {
        pendingDescriptor != nil || pendingControl != nil || remapPending || stateReportPending
    }

    /// Completes pending subscription switches and maps an adopted grant; returns the new state if it changed (or
    /// changed in the duty cycle since the last poll).
    @usableFromInline
    func maintain() -> ConsumerState? {
        if pendingDescriptor != nil || pendingControl != nil { resolveSubscriptions() }
        var changed: ConsumerState?
        if remapPending {
            remapPending = false
            changed = mapLastAnnounce()
        }
        if stateReportPending {
            stateReportPending = false
            changed = changed ?? state
        }
        return changed
    }

    @usableFromInline
    enum Source { case sharedControl, announces, perConsumerControl, descriptors }

    @usableFromInline
    struct Dispatch<H: FrameHandling>: FragmentHandling {
        // The consumer outlives every poll it runs: no reference counting per fragment.
        @usableFromInline unowned(unsafe) let consumer: Consumer
        @usableFromInline var handler: H
        @usableFromInline var source: Source

        @inlinable
        init(consumer: Consumer, handler: H, source: Source) {
            self.consumer = consumer
            self.handler = handler
            self.source = source
        }

        @inlinable
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            if source == .descriptors {
                consumer.onDescriptor(buffer, handler: &handler)
                return
            }
            switch consumer.onControl(buffer, source: source) {
            case .none: break
            case .state(let state): handler.onStateChange(state, consumer: consumer)
            case .progress(let view, let state): handler.onProgress(view, state: state, consumer: consumer)
            }
        }
    }

    /// What a control-stream message means for the handler.
    @usableFromInline
    enum ControlOutcome {
        case none
        case state(ConsumerState)
        case progress(ProgressView, WireSchema.FrameProgressState)
    }

    /// Announces, configurations and progress hints (not per frame: not inlined).
    @usableFromInline
    func onControl(_ buffer: UnsafeRawBufferPointer, source: Source) -> ControlOutcome {
        guard let template = WireControl.wireTemplate(buffer) else { return .none }
        switch (template, source) {
        case (WireSchema.ShmPoolAnnounceDecoder.templateId, .sharedControl),
            (WireSchema.ShmPoolAnnounceDecoder.templateId, .announces):
            return onAnnounce(buffer).map { .state($0) } ?? .none
        case (WireSchema.ConsumerConfigDecoder.templateId, .sharedControl):
            return onConfig(buffer).map { .state($0) } ?? .none
        case (WireSchema.FrameProgressDecoder.templateId, .sharedControl):
            // Progress is read on the per-consumer control stream once one is assigned (§5-010).
            guard progressSubscription == nil else { return .none }
            return onProgress(buffer).map { .progress($0.0, $0.1) } ?? .none
        case (WireSchema.FrameProgressDecoder.templateId, .perConsumerControl):
            return onProgress(buffer).map { .progress($0.0, $0.1) } ?? .none
        default:
            return .none
        }
    }

    /// One descriptor: the frame read zero copy through the seqlock, rate-gated, handed to the handler.
    @inlinable
    func onDescriptor<H: FrameHandling>(_ buffer: UnsafeRawBufferPointer, handler: inout H) {
        guard let descriptor = try? WireSchema.FrameDescriptorDecoder(decodingHeaderOf: buffer) else { return }
        guard descriptor.streamId == streamNumber, !inFallback else {
            noteSkipped(streamId: descriptor.streamId)
            return
        }
        var frame = FrameView.empty
        guard mapping.read(seq: descriptor.seq, epoch: descriptor.epoch, into: &frame) == nil else { return }
        if progressPoisoned && noteProgressDrop(seq: descriptor.seq) { return }
        if gateRateHz == 0 || admit(descriptorTimestampNs: descriptor.timestampNs, slotTimestampNs: frame.timestampNs) {
            handler.onFrame(frame, consumer: self)
        }
    }

    /// Counts a descriptor of another stream, or one skipped in FALLBACK (§15.12).
    @usableFromInline
    func noteSkipped(streamId: UInt32) {
        if streamId != streamNumber { otherStreams &+= 1 } else { fallbackSkipped &+= 1 }
    }

    /// Whether `seq` is the frame whose progress went backwards: it is dropped (§10.2.2-013).
    @usableFromInline
    func noteProgressDrop(seq: UInt64) -> Bool {
        guard poisonedSeq == seq else { return false }
        progressRegressions &+= 1
        return true
    }

    /// A `ShmPoolAnnounce` for this stream is soft state (§10.1.1): it is discarded when stale (older than the
    /// freshness window against the local clock of its domain, or, in the MONOTONIC domain, stamped before this
    /// consumer joined), and when its epoch is lower than the highest seen. A fresh one with another epoch than the
    /// mapped one remaps (M1 → M0 → M1, §15.21); the same epoch changes nothing. Other streams are skipped.
    func onAnnounce(_ buffer: UnsafeRawBufferPointer) -> ConsumerState? {
        guard isActive, let decoder = try? WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer),
            decoder.streamId == grant.streamId
        else { return nil }
        guard
            Self.isFresh(
                timestampNs: decoder.announceTimestampNs, domain: decoder.announceClockDomain, joinTimeNs: joinTimeNs,
                windowNs: client.context.freshnessWindowNs),
            decoder.epoch >= highestEpoch
        else {
            staleAnnounces &+= 1
            return nil
        }
        highestEpoch = decoder.epoch
        // The driver still announces the epoch whose regions are stale: no need to attach again to learn it (§4.9).
        if awaitingFreshSinceNs != nil, decoder.epoch == lastAnnounce.epoch {
            lastMappedNs = UInt64(MonotonicClock.now())
        }
        let mappedEpoch = mapping.reader?.epoch
        guard decoder.epoch != mappedEpoch, decoder.epoch != lastAnnounce.epoch || mappedEpoch == nil else {
            return nil
        }
        lastAnnounce = RegionAnnounce(decoder)  // allocates: once per epoch change, not per frame
        guard fallback == nil else { return nil }  // remembered for when SHM is allowed again
        return mapLastAnnounce()
    }

    /// Maps the last announce; returns the new state if it changed. Stale regions start (or continue) the wait for
    /// a fresh region.
    func mapLastAnnounce() -> ConsumerState? {
        let before = state
        let now = UInt64(MonotonicClock.now())  // superblock times are CLOCK_MONOTONIC
        switch mapping.handle(lastAnnounce, nowNs: now) {
        case .mapped, .remapped:
            remaps &+= 1
            endFreshWait()
            resetProgressTracking()
            logger.info("mapped", metadata: ["epoch": "\(lastAnnounce.epoch)"])
            sendHello()  // a new epoch may mean a new producer, which has not heard the hello yet
        case .rejected(let error):
            noteRejected(error, now: now)
        default: break
        }
        return state != before ? state : nil
    }

    /// A `ConsumerConfig` for this consumer (§10.1.3): FALLBACK when SHM is not to be used; the per-consumer
    /// descriptor stream replaces the shared one when assigned and the shared one is read again when it is declined
    /// or withdrawn (§5-003, §10.1.3-007); a per-consumer control stream is read for progress in addition to the
    /// shared control stream (§5-010/011).
    func onConfig(_ buffer: UnsafeRawBufferPointer) -> ConsumerState? {
        guard isActive, let decoder = try? WireSchema.ConsumerConfigDecoder(decodingHeaderOf: buffer),
            decoder.streamId == grant.streamId, decoder.consumerId == consumerId
        else { return nil }
        configsReceived &+= 1
        let fallbackText = decoder.payloadFallbackUri.count > 0 ? decoder.payloadFallbackUriString : nil
        let descriptorField = StreamField.classify(
            channel: decoder.descriptorChannel, streamId: decoder.descriptorStreamId)
        let controlField = StreamField.classify(channel: decoder.controlChannel, streamId: decoder.controlStreamId)
        let assignedDescriptor = descriptorField.endpoint
        let assignedControl = controlField.endpoint
        let modeBefore = mode
        configuration = ConsumerConfiguration(
            useShm: decoder.useShm == .true, mode: decoder.mode, fallbackURI: fallbackText,
            descriptorStream: assignedDescriptor, controlStream: assignedControl)
        if mode != modeBefore {
            // Told to change mode (a supervisor forcing RATE_LIMITED, or lifting it): the hello says so at once, with
            // the rate now in force, so a producer holding a per-consumer stream for it caps there (§11).
            modeChanges &+= 1
            logger.notice(
                "mode changed by ConsumerConfig",
                metadata: ["mode": "\(mode)", "consumer": "\(consumerId)", "rate_hz": "\(gateRateHz)"])
            sendHello()
        }
        let before = state
        if decoder.useShm != .true {
            if fallback == nil {
                mapping.unmap(.requested)
                resetProgressTracking()
            }
            let target = fallbackText.map(FallbackURI.init)
            if fallback != .some(target) {
                fallback = .some(target)
                logger.warning("fallback: not reading SHM", metadata: ["uri": "\(fallbackText ?? "none")"])
            }
        } else if fallback != nil {
            fallback = nil
            _ = mapLastAnnounce()
        }
        if assignedDescriptor != (pendingDescriptor?.endpoint ?? descriptorStream) {
            pendingDescriptor?.resource.cancel()
            pendingDescriptor = nil
            if assignedDescriptor != descriptorStream {
                // The shared stream again when declined or withdrawn (§10.1.3-007), else the assigned one (§5-003).
                let channel = assignedDescriptor?.channel ?? client.context.descriptorChannel
                let stream =
                    assignedDescriptor.map { Int32(bitPattern: $0.streamId) } ?? client.context.descriptorStreamId
                if let resource = try? client.aeron.asyncAddSubscription(channel: channel, streamId: stream) {
                    pendingDescriptor = (assignedDescriptor, resource)
                }
            }
        }
        if assignedControl != (pendingControl?.endpoint ?? controlStream) {
            pendingControl?.resource.cancel()
            pendingControl = nil
            if assignedControl != controlStream {
                progressSubscription?.close()
                progressSubscription = nil
                controlStream = nil
                if let assignedControl,
                    let resource = try? client.aeron.asyncAddSubscription(
                        channel: assignedControl.channel, streamId: Int32(bitPattern: assignedControl.streamId))
                {
                    pendingControl = (assignedControl, resource)
                }
            }
        }
        return state != before ? state : nil
    }

    /// Completes the asynchronous switches of descriptor stream (the new subscription replaces the old one only once
    /// it is added; if Aeron refuses it the consumer stays where it is) and of per-consumer control stream.
    func resolveSubscriptions() {
        if let (endpoint, resource) = pendingDescriptor {
            do {
                if let subscription = try resource.poll() {
                    descriptors.close()
                    descriptors = subscription
                    descriptorStream = endpoint
                    pendingDescriptor = nil
                }
            } catch {
                pendingDescriptor = nil
            }
        }
        if let (endpoint, resource) = pendingControl {
            do {
                if let subscription = try resource.poll() {
                    progressSubscription = subscription
                    controlStream = endpoint
                    pendingControl = nil
                }
            } catch {
                pendingControl = nil
            }
        }
    }

    /// A `FrameProgress` hint (§10.2.2), only for a consumer that opted in: the fill and state of one frame must not
    /// go backwards (the frame is dropped when they do), and the hint is resolved against the mapped slot before the
    /// handler sees it.
    func onProgress(_ buffer: UnsafeRawBufferPointer) -> (ProgressView, WireSchema.FrameProgressState)? {
        guard options.supportsProgress, fallback == nil, let reader = mapping.reader,
            let decoder = try? WireSchema.FrameProgressDecoder(decodingHeaderOf: buffer),
            decoder.streamId == grant.streamId, decoder.epoch == reader.epoch
        else { return nil }
        let hint = decoder.state
        let seq = decoder.seq
        let bytes = decoder.payloadBytesFilled
        guard hint == .started || hint == .progress || hint == .complete else {
            progressIgnored &+= 1
            return nil
        }
        if progressTracking && seq == progressSeq {
            guard bytes >= progressBytes, hint.rawValue >= progressState else {
                poisonedSeq = seq  // fill or state went backwards: the frame is dropped (§10.2.2-013/018)
                return nil
            }
        } else if progressTracking && seq < progressSeq {
            progressIgnored &+= 1  // a hint for an older frame
            return nil
        }
        progressTracking = true
        progressSeq = seq
        progressBytes = bytes
        progressState = hint.rawValue
        if poisonedSeq == seq { return nil }
        switch reader.readProgress(seq: seq, epoch: decoder.epoch, bytesFilled: bytes) {
        case .progress(let view):
            progressDelivered &+= 1
            return (view, hint)
        case .ignored:
            progressIgnored &+= 1
            return nil
        }
    }

    func resetProgressTracking() {
        progressTracking = false
        poisonedSeq = nil
    }

    /// The local rate gate of §11 on the shared descriptor stream: descriptor timestamp, else slot timestamp (0 and
    /// the null value mean absent), else the local monotonic clock. On a per-consumer stream the producer caps.
    @usableFromInline
    func admit(descriptorTimestampNs: UInt64?, slotTimestampNs: UInt64) -> Bool {
        guard gateRateHz > 0, descriptorStream == nil else { return true }
        let stamp: UInt64
        if let descriptorTimestampNs {
            stamp = descriptorTimestampNs
        } else if slotTimestampNs != 0 && slotTimestampNs != UInt64.max {
            stamp = slotTimestampNs
        } else {
            stamp = UInt64(MonotonicClock.now())
        }
        let period = 1_000_000_000 / UInt64(gateRateHz)
        if let last = lastDeliveredNs, stamp >= last, stamp - last < period {
            rateLimited &+= 1
            return false
        }
        lastDeliveredNs = stamp
        return true
    }

    /// The freshness rules of §10.1.1: MONOTONIC announces must be no older than the window and not stamped before
    /// the consumer joined (replayed log content); REALTIME_SYNCED ones only the window, against the realtime clock;
    /// other domains are not trusted.
    static func isFresh(
        timestampNs: UInt64, domain: WireSchema.ClockDomain, joinTimeNs: UInt64, windowNs: UInt64
    ) -> Bool {
        let now: UInt64
        switch domain {
        case .monotonic:
            guard timestampNs >= joinTimeNs else { return false }
            now = UInt64(MonotonicClock.now())
        case .realtimeSynced:
            now = UInt64(EpochNanoClock.now())
        default:
            return false
        }
        return now <= timestampNs || now - timestampNs <= windowNs
    }

    // MARK: Hello

    /// Repeats the hello when due, and runs the announce timeout. Called from the client's duty cycle.
    func doWork(now: UInt64) -> Int {
        guard isActive else { return 0 }
        var work = checkFreshRegion(now: now)
        guard isActive else { return work }
        work += checkAnnounceTimeout(now: now)
        var handler = QosHandler(consumer: self)
        work += qos.poll(into: &handler, fragmentLimit: 16)
        let interval = client.context.qosIntervalNs
        if interval > 0 && now &- lastQosNs >= interval {
            lastQosNs = now
            sendQos()
            work += 1
        }
        if options.helloIntervalNs > 0, now &- lastHelloNs >= options.helloIntervalNs {
            sendHello()
            work += 1
        }
        return work
    }

    /// Driver spec §4.9: a consumer left unmapped (after a revocation of the producer or an epoch change) waits for
    /// the announce of the new epoch for three announce periods; then it attaches again to learn the current regions,
    /// retrying with a backoff that doubles up to 16 announce periods, until it is mapped.
    func checkAnnounceTimeout(now: UInt64) -> Int {
        if fallback != nil || mapping.reader != nil || remapPending {
            lastMappedNs = now
            reattach?.cancel()
            reattach = nil
            reattachBackoffNs = 0
            return 0
        }
        let period = client.context.announcePeriodNs
        if let attempt = reattach {
            do {
                guard let granted = try attempt.poll() else { return 0 }
                reattach = nil
                client.driver.detachWithoutWaiting(grant)
                grant = granted
                highestEpoch = max(highestEpoch, granted.epoch)
                lastAnnounce = granted.regions
                remapPending = true
            } catch {
                reattach = nil
                reattachBackoffNs = min(max(reattachBackoffNs &* 2, period), period &* 16)
                nextReattachNs = now &+ reattachBackoffNs
            }
            return 1
        }
        guard now > lastMappedNs, now - lastMappedNs >= period &* 3, now >= nextReattachNs else { return 0 }
        announceTimeouts &+= 1
        logger.warning("no announce of a new epoch: attaching again")
        mapping.unmap(.requested)  // nothing stays mapped while the consumer retries
        reattach = client.driver.beginAttach(
            streamId: grant.streamId, role: .consumer, timeout: client.context.attachTimeout)
        return 1
    }

    /// Reads the QoS stream for another consumer reporting this consumer's id on the same stream (§10.1.2-011).
    struct QosHandler: FragmentHandling {
        unowned let consumer: Consumer
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            guard WireControl.wireTemplate(buffer) == WireSchema.QosConsumerDecoder.templateId,
                let qos = try? WireSchema.QosConsumerDecoder(decodingHeaderOf: buffer)
            else { return }
            consumer.onQosConsumer(qos, sessionId: header.sessionId)
        }
    }

    /// Another session reports our stream and id: a self-assigned id is replaced by a new random one and the hello
    /// repeated under it; an id given in the options (assigned by an authority) is kept.
    func onQosConsumer(_ qos: WireSchema.QosConsumerDecoder, sessionId: Int32) {
        guard qos.streamId == grant.streamId, qos.consumerId == consumerId,
            sessionId != client.qosPublication.sessionId, options.consumerId == 0
        else { return }
        idCollisions &+= 1
        logger.warning("consumer id reported by another client: drawing a new one", metadata: ["id": "\(consumerId)"])
        var fresh = UInt32.random(in: 1...UInt32.max)
        while fresh == consumerId { fresh = UInt32.random(in: 1...UInt32.max) }
        consumerId = fresh
        sendHello()
    }

    /// Sends `QosConsumer`: the stream, this consumer's id, the mapped (or highest seen) epoch, the last sequence seen,
    /// the gap and late drops, and the mode in effect (§10.4.1).
    func sendQos() {
        let counters = mapping.counters
        if let last = mapping.reader?.lastSequence { lastSeqSeen = last }
        let sent = offerEncoded(client.qosPublication, helloScratch) { bytes in
            let encoder = try WireSchema.QosConsumerEncoder.wrapAndApplyHeader(bytes)
            encoder.streamId = grant.streamId
            encoder.consumerId = consumerId
            encoder.epoch = mapping.reader?.epoch ?? highestEpoch
            encoder.lastSeqSeen = lastSeqSeen
            encoder.dropsGap = counters.dropsGap
            encoder.dropsLate = counters.dropsLate
            encoder.mode = mode
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        if sent { qosSent &+= 1 }
    }

    /// The mode the hello asks for: `RATE_LIMITED` while a configuration holds the consumer there (so its rate is
    /// known to the producer), else the mode of the options.
    var helloMode: WireSchema.Mode { configuration?.mode == .rateLimited ? .rateLimited : options.mode }

    /// The local gate's rate: `maxRateHz`, else the default rate while a configuration forces `RATE_LIMITED`.
    static func gateRate(
        maxRateHz: UInt32, configuration: ConsumerConfiguration?, options: ConsumerOptions
    ) -> UInt32 {
        if maxRateHz > 0 { return maxRateHz }
        return configuration?.mode == .rateLimited ? options.rateLimitedDefaultHz : 0
    }

    /// Sends `ConsumerHello` on the shared control stream: capabilities, mode and rate, progress hints, and the
    /// per-consumer streams asked for. `withdrawing` (at close) asks for nothing, so the producer closes what it had
    /// opened for this consumer (§5-004).
    @discardableResult
    func sendHello(withdrawing: Bool = false) -> Bool {
        lastHelloNs = UInt64(MonotonicClock.now())
        let descriptor = withdrawing ? nil : options.descriptorStream
        let controlEndpoint = withdrawing ? nil : options.controlStream
        let sent = offerEncoded(client.controlPublication, helloScratch) { bytes in
            var encoder = try WireSchema.ConsumerHelloEncoder.wrapAndApplyHeader(bytes)
            encoder.streamId = grant.streamId
            encoder.consumerId = consumerId
            encoder.supportsShm = .true
            encoder.supportsProgress = options.supportsProgress && !withdrawing ? .true : .false
            encoder.mode = withdrawing ? .stream : helloMode
            encoder.maxRateHz = withdrawing ? 0 : gateRateHz
            encoder.expectedLayoutVersion = grant.layoutVersion
            encoder.progressIntervalUs = options.progressIntervalUs
            encoder.progressBytesDelta = options.progressBytesDelta
            encoder.progressMajorDeltaUnits = options.progressMajorDeltaUnits
            encoder.descriptorStreamId = descriptor?.streamId ?? 0
            encoder.controlStreamId = controlEndpoint?.streamId ?? 0
            try encoder.descriptorChannel(descriptor?.channel ?? "")
            try encoder.controlChannel(controlEndpoint?.channel ?? "")
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        if sent { hellosSent &+= 1 }
        return sent
    }

    // MARK: Lifecycle

    /// The producer's lease ended: drop everything in flight and wait for the announce of the new epoch (§4.9), at
    /// most three announce periods.
    func producerRevoked() {
        lastMappedNs = UInt64(MonotonicClock.now())
        mapping.unmap(.epochChanged)
        resetProgressTracking()
    }

    /// This consumer's lease ended: stop using the regions.
    func leaseEnded() {
        isActive = false
        endFreshWait()
        mapping.unmap(.requested)
    }

    /// Withdraws its requests from the producer, detaches the lease and releases the regions and subscriptions.
    public func close() {
        if isActive {
            if options.descriptorStream != nil || options.controlStream != nil || options.supportsProgress {
                sendHello(withdrawing: true)
            }
            _ = try? client.driver.detach(grant)
        }
        isActive = false
        mapping.unmap()
        descriptors.close()
        control.close()
        qos.close()
        announces?.close()
        progressSubscription?.close()
        pendingDescriptor?.resource.cancel()
        pendingControl?.resource.cancel()
        reattach?.cancel()
        reattach = nil
        refreshCounters()
        counterSet.close()
        client.forget(self)
    }
}
