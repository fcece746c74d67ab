public import Aeron
import Agents
public import DriverClient
import Logging
import SBE
import TensorPoolLogging
public import TensorPoolSHM
public import TensorPoolWire

/// The outcome of publishing a frame.
public enum PublishOutcome: Equatable, Sendable {
    /// Committed in SHM and its `FrameDescriptor` appended to the descriptor stream (or to the per-consumer streams,
    /// or deliberately held back by their rate caps).
    case published(seq: UInt64)
    /// Committed in SHM; the descriptor was not appended (no subscriber, back pressure, closed). Consumers will see
    /// the sequence gap (the frame is not retried: v1.2 has no back pressure, wire spec §15.4).
    case descriptorNotSent(seq: UInt64, OfferResult)
}

/// A producer's handle on one stream: its lease, its writable regions, its descriptor publication, and what it knows
/// of the stream's consumers (wire spec §5, §10.1.2–10.2.2, §11, §15.18; driver spec §2.2).
///
/// Publish by copy with ``offer(_:tensor:timestampNs:metaVersion:traceId:)``, or zero copy with
/// ``tryClaim(length:)``, writing into the claim's payload, then
/// ``commit(_:tensor:timestampNs:metaVersion:valuesLength:traceId:)``. Sequences start at 0 in every epoch.
/// Nothing here allocates per frame.
///
/// **Consumers.** From the client's duty cycle (``TensorPoolClient/doWork()``) the producer reads `ConsumerHello`
/// on the shared control stream and answers with `ConsumerConfig`: it grants per-consumer descriptor and control
/// streams that are asked for properly (channel and stream id, an allowed medium and stream range, not in use by
/// another consumer) and declines the rest with an empty channel and stream id 0; it grants `RATE_LIMITED` by capping
/// the consumer's per-consumer descriptor stream at `max_rate_hz`. A consumer heard from by neither hello nor QoS
/// for ``ProducerOptions/staleIntervals`` liveness intervals is stale: its per-consumer publications are closed.
///
/// **Progress.** While some consumer said `supports_progress`, ``beginProgress(_:tensor:timestampNs:metaVersion:valuesLength:)``
/// prepares the slot header and sends `STARTED`, ``reportProgress(_:bytesFilled:)`` sends throttled `PROGRESS`
/// (at most one per interval, only after the byte or row delta, the newest state once the interval expires), and the
/// commit sends the descriptor and then `COMPLETE`. Intervals and deltas are the smallest the consumers hint, never
/// below the producer's floors.
///
/// **Liveness.** The producer stores CLOCK_MONOTONIC in `activity_timestamp_ns` of its header ring and of every pool
/// at attach and then every ``ProducerOptions/activityRefreshIntervalNs`` from the client's duty cycle, whatever its
/// driver does (wire spec §15.14-001; a driver may leave it to the producer, DRV-3-011): keep calling
/// ``TensorPoolClient/doWork()``, or consumers find the stream stale. Its own granted regions are mapped even when
/// their activity timestamp is stale (an idle stream of such a driver); every other superblock check applies.
///
/// **No subscriber.** Frames published while nobody subscribes to the descriptor stream are committed in SHM but
/// announced to nobody: ``commit(_:tensor:timestampNs:metaVersion:valuesLength:traceId:)`` returns
/// ``PublishOutcome/descriptorNotSent(seq:_:)`` with `.notConnected`, ``descriptorsNotSent`` counts them, and the
/// sequence advances (a consumer that joins later starts from the next descriptor it sees).
public final class Producer {
    /// The lease and regions the driver granted.
    public let grant: LeaseGrant
    /// The regions, mapped writable.
    public let regions: StreamRegions
    /// The metadata of this source: attributes, name and summary, and the `meta_version` frames carry.
    public let metadata: MetadataPublisher
    /// The options this producer was attached with.
    public let options: ProducerOptions
    /// Frames published (descriptor sent).
    @exclusivity(unchecked) public private(set) var framesPublished: UInt64 = 0
    /// Frames committed whose descriptor could not be sent.
    @exclusivity(unchecked) public private(set) var descriptorsNotSent: UInt64 = 0
    /// Whether the lease is still held; a revoked producer refuses to publish (driver spec §4.9).
    @exclusivity(unchecked) public private(set) var isActive = true
    /// `ConsumerHello` messages received for this stream.
    public private(set) var hellosReceived: UInt64 = 0
    /// Hellos rejected as malformed (a channel without stream id or the reverse, §10.1.2-005/008).
    public private(set) var hellosRejected: UInt64 = 0
    /// `ConsumerConfig` messages sent.
    public private(set) var configsSent: UInt64 = 0
    /// Consumers dropped as stale.
    public private(set) var consumersExpired: UInt64 = 0
    /// `FrameProgress` messages sent, and those that could not be (progress is a hint: never retried).
    public private(set) var progressSent: UInt64 = 0
    /// `FrameProgress` messages that could not be appended.
    public private(set) var progressNotSent: UInt64 = 0
    /// `ConsumerConfig` messages from other sessions (supervisors) for this stream.
    public private(set) var directivesReceived: UInt64 = 0
    /// Claims given back with ``abort(_:)``.
    public private(set) var claimsAborted: UInt64 = 0
    /// Whether some live consumer supports progress (progress is sent only then, §10.2.2-023).
    public private(set) var progressActive = false
    /// The progress interval and deltas in force.
    public private(set) var progressSettings: ProgressSettings

    unowned let client: TensorPoolClient
    let writer: FrameWriter
    let publication: Publication
    let controlSubscription: Subscription
    let qosSubscription: Subscription
    var lastQosNs: UInt64 = 0
    /// `QosProducer` reports sent.
    public private(set) var qosSent: UInt64 = 0
    @exclusivity(unchecked) var nextSeq: UInt64 = 0
    let scratch: UnsafeMutableRawBufferPointer
    let progressScratch: UnsafeMutableRawBufferPointer
    let counterSet: CounterSet
    var links: [UInt32: ConsumerLink] = [:]
    /// Supervisors' directives by consumer id, with the time last received.
    var directives: [UInt32: (directive: ConsumerDirective, receivedNs: UInt64)] = [:]
    /// Consumers with a per-consumer descriptor publication (iterated per frame).
    @exclusivity(unchecked) var descriptorLinks: [ConsumerLink] = []
    /// Progress consumers with a per-consumer control publication.
    var progressLinks: [ConsumerLink] = []
    /// Whether some progress consumer reads progress on the shared control stream.
    var progressOnShared = false
    @exclusivity(unchecked) var progressFrame = ProgressFrame()
    /// Whether some per-consumer publication is still being added.
    var addingStreams = false
    var lastHousekeepingNs: UInt64 = 0
    /// Monotonic time `activity_timestamp_ns` was last stored in the regions.
    var lastActivityRefreshNs: UInt64 = 0
    /// Times the regions' activity timestamps were refreshed (at attach, then every
    /// ``ProducerOptions/activityRefreshIntervalNs``).
    public private(set) var activityRefreshes: UInt64 = 1
    /// The `tensorpool.producer` logger.
    let logger: Logger

    init(
        client: TensorPoolClient, grant: LeaseGrant, options: ProducerOptions, publication: Publication,
        metadataPublication: Publication, controlSubscription: Subscription, qosSubscription: Subscription
    ) throws(TensorPoolClientError) {
        self.client = client
        self.grant = grant
        self.options = options
        var logger = TensorPoolLog.logger(.producer)
        logger[metadataKey: "stream"] = "\(grant.streamId)"
        logger[metadataKey: "epoch"] = "\(grant.epoch)"
        self.logger = logger
        progressSettings = ProgressSettings(
            intervalNs: options.progressIntervalNs, bytesDelta: options.progressBytesDelta,
            majorDeltaUnits: options.progressMajorDeltaUnits)
        do {
            // Every check but freshness (`nowNs: nil`): the producer is about to refresh `activity_timestamp_ns`
            // itself, and a driver that leaves that to its producers (DRV-3-011) hands out stale regions.
            regions = try StreamRegions.map(
                grant.regions, policy: client.policy, writable: true, nowNs: nil,
                freshnessWindowNs: client.context.freshnessWindowNs, populate: client.context.populateMappings)
        } catch {
            throw .regions(error)
        }
        writer = FrameWriter(regions: regions)
        self.publication = publication
        self.controlSubscription = controlSubscription
        self.qosSubscription = qosSubscription
        metadata = MetadataPublisher(
            streamId: grant.streamId, producerId: grant.clientId, epoch: grant.epoch, publication: metadataPublication,
            intervalNs: client.context.metadataIntervalNs)
        scratch = .allocate(byteCount: 64, alignment: 8)
        _ = try? WireSchema.FrameDescriptorEncoder.wrapAndApplyHeader(scratch)  // the constant message header
        progressScratch = .allocate(byteCount: 64, alignment: 8)
        counterSet = CounterSet(
            aeron: client.aeron, streamId: grant.streamId, leaseId: grant.leaseId, clientId: grant.clientId,
            role: "producer",
            types: [
                (TensorPoolCounterType.framesPublished, "frames published"),
                (TensorPoolCounterType.descriptorsNotSent, "descriptors not sent"),
            ])
        lastActivityRefreshNs = UInt64(MonotonicClock.now())
        writer.refreshActivity(nowNs: lastActivityRefreshNs)  // fresh from the start (§15.14)
    }

    deinit {
        scratch.deallocate()
        progressScratch.deallocate()
    }

    /// Copies the statistics into the Aeron counters.
    func refreshCounters() {
        counterSet.set(0, framesPublished)
        counterSet.set(1, descriptorsNotSent)
    }

    /// The stream published to.
    public var streamId: UInt32 { grant.streamId }
    /// The epoch of the mapped regions.
    public var epoch: UInt64 { grant.epoch }
    /// Whether some consumer subscribes to the descriptor stream (frames published while none does are committed
    /// in SHM but announced to nobody).
    public var hasSubscribers: Bool {
        publication.isConnected || descriptorLinks.contains { $0.descriptor?.publication?.isConnected == true }
    }
    /// The sequence the next frame gets.
    public var sequence: UInt64 { nextSeq }
    /// The consumers this producer currently knows (from their hellos), by consumer id.
    public var consumers: [UInt32: ConsumerSnapshot] {
        links.mapValues { link in
            var snapshot = link.snapshot
            snapshot.directive = directives[link.consumerId]?.directive
            return snapshot
        }
    }

    // MARK: Publishing

    /// Claims the slot of the next sequence for `length` bytes (zero copy): write into the claim's payload, then
    /// ``commit(_:tensor:timestampNs:metaVersion:valuesLength:traceId:)``.
    public func tryClaim(length: Int) throws(PublishError) -> SlotClaim {
        guard isActive else { throw .unmapped }
        return try writer.claim(seq: nextSeq, length: length)
    }

    /// Commits a claimed slot (header, then `seq_commit`) and only then sends its `FrameDescriptor` (§10.2.1), then
    /// `COMPLETE` when the frame had progress reports. `metaVersion` defaults to the current ``metadata`` version
    /// (§10.3.2-002); `traceId` 0 means no tracing.
    public func commit(
        _ claim: SlotClaim, tensor: TensorDescriptor, timestampNs: UInt64, metaVersion: UInt32? = nil,
        valuesLength: Int? = nil, traceId: UInt64 = 0
    ) throws(PublishError) -> PublishOutcome {
        guard isActive else { throw .unmapped }
        let metaVersion = metaVersion ?? metadata.metaVersion
        try writer.commit(
            claim, tensor: tensor, timestampNs: timestampNs, metaVersion: metaVersion, valuesLength: valuesLength)
        nextSeq = claim.seq &+ 1
        let outcome = sendDescriptor(seq: claim.seq, metaVersion: metaVersion, traceId: traceId)
        if progressFrame.active && progressFrame.seq == claim.seq {
            progressFrame.active = false
            if options.sendProgressComplete && progressActive {
                sendProgress(seq: claim.seq, bytes: UInt64(valuesLength ?? claim.payload.count), state: .complete)
            }
        }
        return outcome
    }

    /// Gives a claim back without publishing it: no descriptor is sent, the sequence is not used, and the next claim
    /// takes the same sequence and slot again (consumers never see a gap). The slot stays marked in progress until
    /// then, so a consumer still reading the frame it held before drops it as late. A claim other than the latest is
    /// ignored.
    public func abort(_ claim: SlotClaim) {
        guard claim.seq == nextSeq else { return }
        if progressFrame.active && progressFrame.seq == claim.seq { progressFrame.active = false }
        claimsAborted &+= 1
    }

    /// Copies `bytes` into the next slot and publishes it.
    public func offer(
        _ bytes: UnsafeRawBufferPointer, tensor: TensorDescriptor, timestampNs: UInt64, metaVersion: UInt32? = nil,
        traceId: UInt64 = 0
    ) throws(PublishError) -> PublishOutcome {
        let claim = try tryClaim(length: bytes.count)
        if let source = bytes.baseAddress, bytes.count > 0 {
            claim.payload.baseAddress!.copyMemory(from: source, byteCount: bytes.count)
        }
        return try commit(claim, tensor: tensor, timestampNs: timestampNs, metaVersion: metaVersion, traceId: traceId)
    }

    func sendDescriptor(seq: UInt64, metaVersion: UInt32, traceId: UInt64) -> PublishOutcome {
        // The message header was written once at attach; the block goes after it. A 40-byte block fits in 56 bytes.
        guard let encoder = try? WireSchema.FrameDescriptorEncoder(scratch, offset: MessageHeader.encodedLength) else {
            return .descriptorNotSent(seq: seq, .error(code: -1))
        }
        encoder.streamId = grant.streamId
        encoder.epoch = grant.epoch
        encoder.seq = seq
        // The slot carries the capture time; the publish time only when asked for (§10.2.1).
        encoder.timestampNs = options.descriptorTimestamps ? UInt64(MonotonicClock.now()) : nil
        encoder.metaVersion = metaVersion
        encoder.traceId = traceId == 0 ? nil : traceId
        let message = UnsafeRawBufferPointer(
            rebasing: scratch[0..<(MessageHeader.encodedLength + encoder.encodedLength)])
        let result = offerRetrying(publication, message)
        var delivered = result.isSuccess
        if !descriptorLinks.isEmpty {
            let now = UInt64(MonotonicClock.now())
            for link in descriptorLinks {
                guard let target = link.descriptor?.publication else { continue }  // still being added
                if link.periodNs > 0 && link.descriptorsSent > 0 && now &- link.lastDescriptorNs < link.periodNs {
                    delivered = true  // held back by the consumer's rate cap (§5-006): not a failure
                    continue
                }
                if offerRetrying(target, message).isSuccess {
                    link.lastDescriptorNs = now
                    link.descriptorsSent &+= 1
                    delivered = true
                }
            }
        }
        if delivered {
            framesPublished &+= 1
            return .published(seq: seq)
        }
        descriptorsNotSent &+= 1
        return .descriptorNotSent(seq: seq, result)
    }

    // MARK: Progress

    /// Starts progress reporting for a claimed frame whose payload is about to be filled (e.g. by DMA): writes the
    /// slot header now (so consumers can read shape and progress unit) and sends `STARTED` (§10.2.2-002). Returns
    /// whether progress is being reported, i.e. whether some consumer supports it; the header is prepared either way.
    @discardableResult
    public func beginProgress(
        _ claim: SlotClaim, tensor: TensorDescriptor, timestampNs: UInt64, metaVersion: UInt32? = nil,
        valuesLength: Int? = nil
    ) throws(PublishError) -> Bool {
        guard isActive else { throw .unmapped }
        try writer.prepare(
            claim, tensor: tensor, timestampNs: timestampNs, metaVersion: metaVersion ?? metadata.metaVersion,
            valuesLength: valuesLength)
        guard progressActive else { return false }
        var majorStride: UInt64 = 0
        if tensor.progressUnit != .noneValue {
            majorStride = UInt64(tensor.progressStrideBytes)
        } else if let strides = try? tensor.resolvedStrides() {
            majorStride = UInt64(max(0, strides[tensor.majorOrder == .row ? 0 : max(tensor.ndims - 1, 0)]))
        }
        progressFrame = ProgressFrame(
            active: true, seq: claim.seq, limit: UInt64(valuesLength ?? claim.payload.count), sentBytes: 0,
            pendingBytes: 0, sentAtNs: UInt64(MonotonicClock.now()), majorStrideBytes: majorStride)
        sendProgress(seq: claim.seq, bytes: 0, state: .started)
        return true
    }

    /// Reports that the first `bytesFilled` bytes of the frame are written. A `PROGRESS` goes out at most once per
    /// interval and only once the fill grew by the byte (or row) delta; a report held back goes out from
    /// ``TensorPoolClient/doWork()`` once the interval expires. Reports that go backwards are ignored (the fill
    /// never decreases within a frame, §10.2.2-012). Returns whether a `PROGRESS` was sent now.
    @discardableResult
    public func reportProgress(_ claim: SlotClaim, bytesFilled: Int) -> Bool {
        guard progressFrame.active, progressFrame.seq == claim.seq, bytesFilled >= 0 else { return false }
        let bytes = min(UInt64(bytesFilled), progressFrame.limit)
        guard bytes > progressFrame.pendingBytes else { return false }
        progressFrame.pendingBytes = bytes
        return flushProgress(now: UInt64(MonotonicClock.now()))
    }

    func flushProgress(now: UInt64) -> Bool {
        guard progressFrame.active, progressActive, progressFrame.pendingBytes > progressFrame.sentBytes,
            now &- progressFrame.sentAtNs >= progressSettings.intervalNs,
            progressFrame.pendingBytes - progressFrame.sentBytes
                >= progressSettings.effectiveDelta(majorStrideBytes: progressFrame.majorStrideBytes)
        else { return false }
        progressFrame.sentBytes = progressFrame.pendingBytes
        progressFrame.sentAtNs = now
        sendProgress(seq: progressFrame.seq, bytes: progressFrame.pendingBytes, state: .progress)
        return true
    }

    func sendProgress(seq: UInt64, bytes: UInt64, state: WireSchema.FrameProgressState) {
        guard let encoder = try? WireSchema.FrameProgressEncoder.wrapAndApplyHeader(progressScratch) else { return }
        encoder.streamId = grant.streamId
        encoder.epoch = grant.epoch
        encoder.seq = seq
        encoder.payloadBytesFilled = bytes
        encoder.state = state
        let message = UnsafeRawBufferPointer(
            rebasing: progressScratch[0..<(MessageHeader.encodedLength + encoder.encodedLength)])
        if progressOnShared { count(client.controlPublication.offer(message)) }
        for link in progressLinks {
            if let publication = link.control?.publication { count(publication.offer(message)) }
        }
    }

    func count(_ result: OfferResult) {
        if result.isSuccess { progressSent &+= 1 } else { progressNotSent &+= 1 }
    }

    // MARK: Consumers

    /// Refreshes the regions' activity timestamps when due, reads hellos, expires stale consumers and flushes a
    /// held-back progress report. Called from the client's duty cycle.
    func doWork(now: UInt64) -> Int {
        guard isActive else { return 0 }
        var work = 0
        if now > lastActivityRefreshNs, now - lastActivityRefreshNs >= options.activityRefreshIntervalNs {
            // One atomic store per region (§15.14-001); `now` is CLOCK_MONOTONIC, the peers' clock for it.
            lastActivityRefreshNs = now
            writer.refreshActivity(nowNs: now)
            activityRefreshes &+= 1
            work += 1
        }
        var handler = ControlHandler(producer: self)
        work += controlSubscription.poll(into: &handler, fragmentLimit: 16)
        if progressFrame.active && flushProgress(now: now) { work += 1 }
        if addingStreams { work += resolveStreams() }
        work += metadata.doWork(now: now)
        var qos = QosHandler(producer: self)
        work += qosSubscription.poll(into: &qos, fragmentLimit: 16)
        let interval = client.context.qosIntervalNs
        if interval > 0 && now &- lastQosNs >= interval {
            lastQosNs = now
            sendQos()
            work += 1
        }
        if now &- lastHousekeepingNs >= 1_000_000 {
            lastHousekeepingNs = now
            work += expireConsumers(now: now)
        }
        return work
    }

    /// A `QosConsumer` of this stream is proof of liveness for its consumer, like a hello (§5-005).
    struct QosHandler: FragmentHandling {
        unowned let producer: Producer
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            guard WireControl.wireTemplate(buffer) == WireSchema.QosConsumerDecoder.templateId,
                let qos = try? WireSchema.QosConsumerDecoder(decodingHeaderOf: buffer),
                qos.streamId == producer.grant.streamId
            else { return }
            producer.noteConsumerAlive(qos.consumerId)
        }
    }

    /// Sends `QosProducer`: the stream, this producer's id (its client id), the epoch and the latest sequence.
    func sendQos() {
        let sent = offerEncoded(client.qosPublication, progressScratch) { bytes in
            let encoder = try WireSchema.QosProducerEncoder.wrapAndApplyHeader(bytes)
            encoder.streamId = grant.streamId
            encoder.producerId = grant.clientId
            encoder.epoch = grant.epoch
            encoder.currentSeq = nextSeq == 0 ? 0 : nextSeq - 1
            encoder.watermark = nil
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        if sent { qosSent &+= 1 }
    }

    struct ControlHandler: FragmentHandling {
        unowned let producer: Producer
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            switch WireControl.wireTemplate(buffer) {
            case WireSchema.ConsumerHelloDecoder.templateId:
                guard let hello = try? WireSchema.ConsumerHelloDecoder(decodingHeaderOf: buffer),
                    hello.streamId == producer.grant.streamId
                else { return }
                producer.onHello(hello, now: UInt64(MonotonicClock.now()))
            case WireSchema.ConsumerConfigDecoder.templateId:
                // The producer's own configurations come back on the shared control stream: only another session's
                // (a supervisor's) are directives.
                guard header.sessionId != producer.client.controlPublication.sessionId,
                    let config = try? WireSchema.ConsumerConfigDecoder(decodingHeaderOf: buffer),
                    config.streamId == producer.grant.streamId
                else { return }
                producer.onDirective(config, now: UInt64(MonotonicClock.now()))
            default:
                return
            }
        }
    }

    /// A `ConsumerConfig` from a supervisor (wire spec §10.1.3, §10.5-002): its `use_shm`, mode and fallback become
    /// the consumer's, and the producer's own answers repeat them from now on, so that they never undo the
    /// supervisor's decision. A forced `RATE_LIMITED` is applied like a granted one: the consumer's per-consumer
    /// descriptor stream, if it has one, is capped at the rate its next hello gives; without one the consumer gates
    /// locally. Per-consumer streams stay the producer's to grant.
    func onDirective(_ config: WireSchema.ConsumerConfigDecoder, now: UInt64) {
        directivesReceived &+= 1
        let directive = ConsumerDirective(
            useShm: config.useShm == .true, mode: config.mode == .rateLimited ? .rateLimited : .stream,
            fallbackURI: config.payloadFallbackUri.count > 0 ? config.payloadFallbackUriString : nil)
        let id = config.consumerId
        guard directives[id]?.directive != directive else {
            directives[id]?.receivedNs = now
            return
        }
        directives[id] = (directive, now)
        logger.info(
            "supervisor directive",
            metadata: ["consumer": "\(id)", "mode": "\(directive.mode)", "shm": "\(directive.useShm)"])
        guard let link = links[id] else { return }  // applied when the consumer says hello
        link.lastSeenNs = now
        link.grantedMode = grantedMode(for: link, requested: link.requestedMode)
        // Answer at once when this consumer has had an answer: it may have crossed the supervisor's message.
        if link.configsSent > 0 { sendConfig(to: link) }
    }

    /// The mode granted to `link`: a supervisor's directive decides; otherwise `RATE_LIMITED` is granted only through
    /// a per-consumer descriptor stream (§11) and declined, leaving the consumer in STREAM, otherwise.
    func grantedMode(for link: ConsumerLink, requested: WireSchema.Mode) -> WireSchema.Mode {
        if let directive = directives[link.consumerId]?.directive { return directive.mode }
        return requested == .rateLimited && options.grantRateLimited && link.descriptor != nil ? .rateLimited : .stream
    }

    /// A consumer introduced itself (§10.1.2): remember it and its progress hints, grant or decline the per-consumer
    /// streams and the mode it asks for, and answer with `ConsumerConfig` whenever it asked for anything or the
    /// answer changed.
    func onHello(_ hello: WireSchema.ConsumerHelloDecoder, now: UInt64) {
        hellosReceived &+= 1
        let id = hello.consumerId
        let known = links[id]
        let link = known ?? ConsumerLink(consumerId: id, now: now)
        if known == nil {
            links[id] = link
            logger.info("consumer joined", metadata: ["consumer": "\(id)"])
        }
        let before = link.listKey
        link.lastSeenNs = now
        link.supportsProgress = hello.supportsProgress == .true
        link.progressIntervalUs = hello.progressIntervalUs
        link.progressBytesDelta = hello.progressBytesDelta
        link.progressMajorDeltaUnits = hello.progressMajorDeltaUnits
        link.requestedMode = hello.mode
        link.maxRateHz = hello.maxRateHz
        let descriptorField = StreamField.classify(
            channel: hello.descriptorChannel, streamId: hello.descriptorStreamId)
        let controlField = StreamField.classify(channel: hello.controlChannel, streamId: hello.controlStreamId)
        var changed = false
        var asked = false
        if descriptorField == .malformed || controlField == .malformed { hellosRejected &+= 1 }
        changed = assign(descriptorField, to: link, kind: .descriptor, asked: &asked) || changed
        changed = assign(controlField, to: link, kind: .control, asked: &asked) || changed
        // RATE_LIMITED is granted only through a per-consumer descriptor stream, capped at max_rate_hz (§11);
        // otherwise it is declined and the consumer stays in STREAM on the shared stream. A per-consumer stream is
        // capped at a non-zero max_rate_hz in either mode (§5-006); the shared stream never is (§5-007).
        // A supervisor's directive overrides the producer's own decision (§10.5-002).
        let mode = grantedMode(for: link, requested: hello.mode)
        if hello.mode == .rateLimited || directives[id] != nil { asked = true }
        if mode != link.grantedMode {
            link.grantedMode = mode
            changed = true
        }
        link.periodNs = link.descriptor != nil && link.maxRateHz > 0 ? 1_000_000_000 / UInt64(link.maxRateHz) : 0
        // A repeated hello that changes nothing allocates nothing (the lists are rebuilt only on a change).
        if known == nil || link.listKey != before { rebuildLinkLists() }
        if changed {
            logger.info(
                "consumer configuration",
                metadata: [
                    "consumer": "\(id)", "mode": "\(link.grantedMode)",
                    "descriptor": "\(link.descriptor?.endpoint.description ?? "shared")",
                    "control": "\(link.control?.endpoint.description ?? "shared")",
                ])
        }
        if asked || changed { sendConfig(to: link) }
    }

    enum StreamKind { case descriptor, control }

    /// Applies one per-consumer stream field of a hello to `link`; returns whether the assignment changed.
    func assign(_ field: StreamField, to link: ConsumerLink, kind: StreamKind, asked: inout Bool) -> Bool {
        let current = kind == .descriptor ? link.descriptor : link.control
        var wanted: StreamEndpoint?
        switch field {
        case .none:
            wanted = nil
        case .malformed:
            asked = true
            wanted = nil  // rejected (§10.1.2-005/008, §10.1.3-005): declined with an empty channel and 0
        case .endpoint(let endpoint):
            asked = true
            wanted = isAllowed(endpoint, kind: kind, for: link) ? endpoint : nil
        }
        if current?.endpoint == wanted { return false }
        current?.close()
        var opened: PerConsumerStream?
        if let wanted,
            let pending = try? client.aeron.asyncAddPublication(
                channel: wanted.channel, streamId: Int32(bitPattern: wanted.streamId))
        {
            // Added asynchronously (the duty cycle never waits for the media driver); granted at once.
            opened = PerConsumerStream(endpoint: wanted, publication: nil, pending: pending)
            addingStreams = true
        }
        if kind == .descriptor {
            link.descriptor = opened
            link.descriptorsSent = 0
        } else {
            link.control = opened
        }
        return current?.endpoint != opened?.endpoint
    }

    /// Completes the asynchronous adds of per-consumer publications; one Aeron refused is withdrawn and the consumer
    /// told so in a new `ConsumerConfig`.
    func resolveStreams() -> Int {
        var work = 0
        var stillAdding = false
        for link in links.values {
            var withdrawn = false
            for kind in [StreamKind.descriptor, .control] {
                guard var stream = kind == .descriptor ? link.descriptor : link.control, let pending = stream.pending
                else { continue }
                do {
                    guard let publication = try pending.poll() else {
                        stillAdding = true
                        continue
                    }
                    stream.publication = publication
                    stream.pending = nil
                    if kind == .descriptor { link.descriptor = stream } else { link.control = stream }
                } catch {
                    if kind == .descriptor { link.descriptor = nil } else { link.control = nil }
                    withdrawn = true
                }
                work += 1
            }
            if withdrawn {
                rebuildLinkLists()
                sendConfig(to: link)
            }
        }
        addingStreams = stillAdding
        return work
    }

    /// Validates a requested per-consumer stream (§5-013): a parsable Aeron channel of an allowed medium, a stream id
    /// in the configured range, and not the endpoint of another consumer.
    func isAllowed(_ endpoint: StreamEndpoint, kind: StreamKind, for link: ConsumerLink) -> Bool {
        guard options.perConsumerStreams else { return false }
        let range = kind == .descriptor ? options.perConsumerDescriptorStreamIds : options.perConsumerControlStreamIds
        guard range.contains(endpoint.streamId), let uri = try? ChannelURI(parsing: endpoint.channel), !uri.isSpy
        else { return false }
        let medium: String
        switch uri.media {
        case .ipc: medium = "ipc"
        case .udp: medium = "udp"
        }
        guard options.perConsumerMedia.contains(medium) else { return false }
        for other in links.values where other !== link {
            if other.descriptor?.endpoint == endpoint || other.control?.endpoint == endpoint { return false }
        }
        return true
    }

    func sendConfig(to link: ConsumerLink) {
        let directive = directives[link.consumerId]?.directive
        var buffer = [UInt8](
            repeating: 0,
            count: 64 + (link.descriptor?.endpoint.channel.utf8.count ?? 0)
                + (link.control?.endpoint.channel.utf8.count ?? 0) + (directive?.fallbackURI?.utf8.count ?? 0))
        let sent = buffer.withUnsafeMutableBytes { bytes in
            offerEncoded(client.controlPublication, bytes) { bytes in
                try WireControl.encodeConsumerConfig(
                    into: bytes, streamId: grant.streamId, consumerId: link.consumerId,
                    useShm: directive?.useShm ?? true,
                    mode: link.grantedMode, fallbackURI: directive?.fallbackURI ?? "",
                    descriptor: link.descriptor?.endpoint, control: link.control?.endpoint)
            }
        }
        if sent {
            configsSent &+= 1
            link.configsSent &+= 1
        }
    }

    /// Drops consumers heard from by neither hello nor QoS for the stale period, closing their per-consumer
    /// publications (§5-004/005, §10.1.3-008).
    func expireConsumers(now: UInt64) -> Int {
        let staleAfter = options.staleAfterNs
        var expired = 0
        // `now` may precede a hello stamped later in the same duty cycle: only a positive age counts.
        for (id, link) in links where now > link.lastSeenNs && now - link.lastSeenNs > staleAfter {
            logger.info("consumer stale: per-consumer streams closed", metadata: ["consumer": "\(id)"])
            link.close()
            links[id] = nil
            directives[id] = nil
            expired += 1
        }
        // Directives for consumers never heard from lapse like consumers do.
        for (id, entry) in directives
        where links[id] == nil && now > entry.receivedNs && now - entry.receivedNs > staleAfter {
            directives[id] = nil
        }
        if expired > 0 {
            consumersExpired &+= UInt64(expired)
            rebuildLinkLists()
        }
        return expired
    }

    /// Records that consumer `id` was heard from (a `QosConsumer` counts as liveness like a hello, §5-005).
    public func noteConsumerAlive(_ id: UInt32) {
        links[id]?.lastSeenNs = UInt64(MonotonicClock.now())
    }

    /// Recomputes the per-frame lists and the progress settings from the live consumers (§10.2.2-023/024/025).
    func rebuildLinkLists() {
        descriptorLinks = links.values.filter { $0.descriptor != nil }.sorted { $0.consumerId < $1.consumerId }
        let progressConsumers = links.values.filter(\.supportsProgress)
        progressActive = !progressConsumers.isEmpty
        progressLinks = progressConsumers.filter { $0.control != nil }
        progressOnShared = progressConsumers.contains { $0.control == nil }
        progressSettings = ProgressSettings.combine(
            progressConsumers.map { ($0.progressIntervalUs, $0.progressBytesDelta, $0.progressMajorDeltaUnits) },
            options: options)
        if !progressActive { progressFrame.active = false }
    }

    // MARK: Lifecycle

    /// The lease ended (revoked, expired, driver gone): stop publishing and unmap.
    func leaseEnded() {
        isActive = false
        regions.unmap()
    }

    /// Detaches the lease and releases the regions, the publications and the per-consumer streams.
    public func close() {
        if isActive { _ = try? client.driver.detach(grant) }
        isActive = false
        regions.unmap()
        publication.close()
        controlSubscription.close()
        qosSubscription.close()
        metadata.close()
        for link in links.values { link.close() }
        links.removeAll()
        descriptorLinks.removeAll()
        progressLinks.removeAll()
        refreshCounters()
        counterSet.close()
        client.forget(self)
    }
}

/// The progress interval and deltas in force for a producer.
public struct ProgressSettings: Hashable, Sendable {
    /// Least time between `PROGRESS` reports.
    public var intervalNs: UInt64
    /// Least byte growth worth a report.
    public var bytesDelta: UInt64
    /// Least major-axis growth (rows or columns) worth a report; 0 = none.
    public var majorDeltaUnits: UInt64

    /// Settings of the given interval and deltas.
    public init(intervalNs: UInt64, bytesDelta: UInt64, majorDeltaUnits: UInt64) {
        self.intervalNs = intervalNs
        self.bytesDelta = bytesDelta
        self.majorDeltaUnits = majorDeltaUnits
    }

    /// The byte delta for a frame whose major stride is `majorStrideBytes`: the smaller of the byte delta and the
    /// row delta in bytes.
    func effectiveDelta(majorStrideBytes: UInt64) -> UInt64 {
        guard majorDeltaUnits > 0, majorStrideBytes > 0 else { return bytesDelta }
        return min(bytesDelta, majorDeltaUnits &* majorStrideBytes)
    }

    /// The smallest interval and deltas the consumers hint, never below the producer's floors; the producer's
    /// defaults where no consumer gives a hint (§10.2.2-024/025).
    static func combine(_ hints: [(UInt32?, UInt32?, UInt32?)], options: ProducerOptions) -> ProgressSettings {
        let intervals = hints.compactMap { $0.0 }.map { UInt64($0) &* 1_000 }
        let bytes = hints.compactMap { $0.1 }.map { UInt64($0) }
        let majors = hints.compactMap { $0.2 }.map { UInt64($0) }.filter { $0 > 0 }
        return ProgressSettings(
            intervalNs: max(intervals.min() ?? options.progressIntervalNs, options.progressMinIntervalNs),
            bytesDelta: max(bytes.min() ?? options.progressBytesDelta, options.progressMinBytesDelta),
            majorDeltaUnits: max(majors.min() ?? options.progressMajorDeltaUnits, options.progressMinMajorDeltaUnits))
    }
}

/// Progress state of the frame being filled.
struct ProgressFrame {
    var active = false
    var seq: UInt64 = 0
    var limit: UInt64 = 0
    var sentBytes: UInt64 = 0
    var pendingBytes: UInt64 = 0
    var sentAtNs: UInt64 = 0
    var majorStrideBytes: UInt64 = 0
}

/// A per-consumer publication (or its pending add) and the endpoint it is for.
struct PerConsumerStream {
    var endpoint: StreamEndpoint
    var publication: Publication?
    var pending: PendingResource<Publication>?

    func close() {
        pending?.cancel()
        publication?.close()
    }
}

/// What a producer knows of one consumer, from its hellos.
public struct ConsumerSnapshot: Hashable, Sendable {
    /// The consumer's id.
    public var consumerId: UInt32
    /// Whether it reads progress hints.
    public var supportsProgress: Bool
    /// The mode it asked for and the mode granted.
    public var requestedMode: WireSchema.Mode
    /// The mode granted.
    public var grantedMode: WireSchema.Mode
    /// Its `max_rate_hz`.
    public var maxRateHz: UInt32
    /// Its per-consumer descriptor stream, if granted.
    public var descriptorStream: StreamEndpoint?
    /// Its per-consumer control stream, if granted.
    public var controlStream: StreamEndpoint?
    /// Descriptors sent on its per-consumer descriptor stream.
    public var descriptorsSent: UInt64
    /// Whether its per-consumer descriptor publication is added and has a subscriber.
    public var descriptorStreamConnected: Bool
    /// A supervisor's directive for it, which the producer's answers repeat.
    public var directive: ConsumerDirective?
}

/// A consumer known to a producer.
final class ConsumerLink {
    let consumerId: UInt32
    var lastSeenNs: UInt64
    var supportsProgress = false
    var progressIntervalUs: UInt32?
    var progressBytesDelta: UInt32?
    var progressMajorDeltaUnits: UInt32?
    var requestedMode: WireSchema.Mode = .stream
    var grantedMode: WireSchema.Mode = .stream
    var maxRateHz: UInt32 = 0
    var descriptor: PerConsumerStream?
    var control: PerConsumerStream?
    /// Rate cap on the per-consumer descriptor stream (0 = none).
    var periodNs: UInt64 = 0
    var lastDescriptorNs: UInt64 = 0
    var descriptorsSent: UInt64 = 0
    /// `ConsumerConfig` messages sent to this consumer.
    var configsSent: UInt64 = 0

    init(consumerId: UInt32, now: UInt64) {
        self.consumerId = consumerId
        lastSeenNs = now
    }

    /// What the producer's per-frame lists and progress settings depend on.
    var listKey: ListKey {
        ListKey(
            supportsProgress: supportsProgress, intervalUs: progressIntervalUs, bytesDelta: progressBytesDelta,
            majorUnits: progressMajorDeltaUnits, descriptor: descriptor?.endpoint, control: control?.endpoint)
    }

    struct ListKey: Equatable {
        var supportsProgress: Bool
        var intervalUs: UInt32?
        var bytesDelta: UInt32?
        var majorUnits: UInt32?
        var descriptor: StreamEndpoint?
        var control: StreamEndpoint?
    }

    var snapshot: ConsumerSnapshot {
        ConsumerSnapshot(
            consumerId: consumerId, supportsProgress: supportsProgress, requestedMode: requestedMode,
            grantedMode: grantedMode, maxRateHz: maxRateHz, descriptorStream: descriptor?.endpoint,
            controlStream: control?.endpoint, descriptorsSent: descriptorsSent,
            descriptorStreamConnected: descriptor?.publication?.isConnected ?? false)
    }

    func close() {
        descriptor?.close()
        control?.close()
        descriptor = nil
        control = nil
    }
}
