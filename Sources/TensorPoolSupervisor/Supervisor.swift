public import Aeron
public import Agents
import Logging
import SBE
public import TensorPoolClient
import TensorPoolLogging
import TensorPoolWire

/// The supervisor of wire spec §10.5: it watches every stream of a deployment (the driver's announces, consumers'
/// hellos, producers' configurations, QoS and metadata), keeps producers and consumers with their liveness, and steers
/// consumers with `ConsumerConfig` through a policy or an operator's directives.
///
/// **Watching.** Producers come from `ShmPoolAnnounce` (with a producer attached), `QosProducer` and the metadata
/// stream; consumers from `ConsumerHello` and `QosConsumer`; the per-consumer streams a producer granted from its
/// `ConsumerConfig`. A member not heard of for ``SupervisorOptions/staleAfterNs`` (3–5 liveness intervals) leaves
/// the snapshot; a producer also leaves when the driver announces its stream without it.
///
/// **Steering.** ``policy`` is asked about a consumer whenever its hello or QoS arrives; a directive it returns, or
/// one set with ``direct(_:streamId:consumerId:)``, is sent as a `ConsumerConfig` (on an exclusive publication of
/// the control stream, so the producer can tell it from its own answers), again when the consumer joins, and again
/// at most every ``SupervisorOptions/enforceIntervalNs`` while the consumer's reports show another mode. The
/// producer repeats a directive in its own answers. A consumer forced into `RATE_LIMITED` delivers at its own rate,
/// or its ``ConsumerOptions/rateLimitedDefaultHz``.
///
/// **Ownership.** Whoever creates a supervisor owns it: it adds its own subscriptions and publication on the given
/// Aeron client (and owns its ``qos`` monitor and ``metadata`` cache), publishes its counts as Aeron counters
/// (``TensorPoolCounterType/supervisorConfigsSent`` and the two after it), is driven by ``doWork()`` from one thread (as an
/// `Agent` on a runner or invoker, or by hand), and is closed with ``close()`` or the agent's `onClose`.
public final class Supervisor: Agent {
    /// Decides a directive for a consumer from what is known of it; nil leaves the current directive (none, or one
    /// decided before) in place. Called on every hello and QoS report of the consumer that has no operator's
    /// directive (``direct(_:streamId:consumerId:)`` outranks the policy).
    /// Setting it asks it at once about every live consumer.
    public var policy: ((SupervisedConsumer) -> ConsumerDirective?)? {
        didSet {
            let now = UInt64(MonotonicClock.now())
            for key in consumers.keys.sorted(by: { ($0.streamId, $0.id) < ($1.streamId, $1.id) }) {
                consumerUpdated(key, joined: false, now: now)
            }
        }
    }
    /// Called for each event as it happens.
    public var onEvent: ((SupervisorEvent) -> Void)?
    /// The options.
    public let options: SupervisorOptions
    /// The channels and streams watched.
    public let context: TensorPoolContext
    /// The QoS monitor the supervisor reads (its snapshots and collisions).
    public let qos: QosMonitor
    /// The metadata cache the supervisor reads (attributes by version, blobs).
    public let metadata: MetadataCache
    /// `ConsumerConfig` messages sent.
    public private(set) var configsSent: UInt64 = 0
    /// `ConsumerConfig` messages that could not be sent (no subscriber, back pressure).
    public private(set) var configsNotSent: UInt64 = 0
    /// `ConsumerHello`, `ShmPoolAnnounce` and other sessions' `ConsumerConfig` messages read.
    public private(set) var hellosSeen: UInt64 = 0
    /// See ``hellosSeen``.
    public private(set) var announcesSeen: UInt64 = 0
    /// See ``hellosSeen``.
    public private(set) var configsSeen: UInt64 = 0
    /// Announces, hellos and configurations that could not be decoded, dropped (the QoS monitor and the metadata cache
    /// count their own).
    public private(set) var malformed: UInt64 = 0

    var producers: [UInt32: SupervisedProducer] = [:]
    var consumers: [QosMonitor.StreamMember: SupervisedConsumer] = [:]
    var directives: [QosMonitor.StreamMember: DirectiveEntry] = [:]
    var assignedIds: [UInt32: Set<UInt32>] = [:]
    let control: Subscription
    let announces: Subscription?
    let publication: ExclusivePublication
    let scratch: UnsafeMutableRawBufferPointer
    /// Configurations sent and live producers and consumers, as Aeron counters for tools outside the process.
    let counterSet: CounterSet
    var lastHousekeepingNs: UInt64 = 0
    var isClosed = false
    let logger = TensorPoolLog.logger(.supervisor)

    struct DirectiveEntry {
        var directive: ConsumerDirective
        /// Set by an operator (kept when the consumer leaves) rather than by the policy.
        var explicit: Bool
        var lastSentNs: UInt64?
    }

    /// A supervisor of the deployment `context` describes, on `aeron`.
    public init(
        aeron: AeronClient, context: TensorPoolContext = TensorPoolContext(),
        options: SupervisorOptions = SupervisorOptions()
    ) throws(AeronError) {
        self.context = context
        self.options = options
        control = try aeron.addSubscription(channel: context.controlChannel, streamId: context.controlStreamId)
        if context.announceChannel != context.controlChannel || context.announceStreamId != context.controlStreamId {
            announces = try aeron.addSubscription(channel: context.announceChannel, streamId: context.announceStreamId)
        } else {
            announces = nil
        }
        publication = try aeron.addExclusivePublication(
            channel: context.controlChannel, streamId: context.controlStreamId)
        qos = try QosMonitor(
            aeron: aeron, channel: context.qosChannel, streamId: context.qosStreamId,
            staleAfterNs: options.staleAfterNs)
        metadata = try MetadataCache(
            aeron: aeron, channel: context.metadataChannel, streamId: context.metadataStreamId)
        scratch = .allocate(byteCount: 4096, alignment: 8)
        counterSet = CounterSet(
            aeron: aeron, streamId: 0, leaseId: 0, clientId: UInt32(bitPattern: publication.sessionId),
            role: "supervisor",
            types: [
                (TensorPoolCounterType.supervisorConfigsSent, "configurations sent"),
                (TensorPoolCounterType.supervisorProducers, "producers"),
                (TensorPoolCounterType.supervisorConsumers, "consumers"),
            ])
        qos.onProducer = { [weak self] report in self?.onQosProducer(report) }
        qos.onConsumer = { [weak self] report in self?.onQosConsumer(report) }
        qos.onCollision = { [weak self] collision in self?.onEvent?(.collision(collision)) }
        metadata.onMetadata = { [weak self] source in self?.onMetadata(source) }
    }

    deinit { scratch.deallocate() }

    /// The Aeron session of the supervisor's control publication: its `ConsumerConfig` messages carry it, and its
    /// counters are keyed by it.
    public var controlSessionId: Int32 { publication.sessionId }

    /// `"supervisor"`.
    public var roleName: String { "supervisor" }

    /// Reads the control, announce, QoS and metadata streams, then expires stale members and repeats directives that
    /// are not followed. Returns the work done.
    public func doWork() throws -> Int {
        guard !isClosed else { return 0 }
        var handler = ControlHandler(supervisor: self)
        var work = control.poll(into: &handler, fragmentLimit: 32)
        if let announces { work += announces.poll(into: &handler, fragmentLimit: 16) }
        work += qos.poll()
        work += metadata.poll()
        let now = UInt64(MonotonicClock.now())
        if now &- lastHousekeepingNs >= 10_000_000 {
            lastHousekeepingNs = now
            work += expire(now: now)
            work += enforce(now: now)
            counterSet.set(0, configsSent)
            counterSet.set(1, UInt64(producers.count))
            counterSet.set(2, UInt64(consumers.count))
        }
        return work
    }

    /// Closes the subscriptions, the publication, the monitor and the cache.
    public func onClose() { close() }

    /// Closes the subscriptions, the publication, the monitor, the cache and the counters.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        control.close()
        announces?.close()
        publication.close()
        qos.close()
        metadata.close()
        counterSet.close()
    }

    // MARK: Snapshots and steering

    /// What the supervisor knows now.
    public func snapshot() -> SupervisorSnapshot {
        SupervisorSnapshot(
            producers: producers.values.map(withMetadata).sorted { $0.streamId < $1.streamId },
            consumers: consumers.values.sorted { ($0.streamId, $0.consumerId) < ($1.streamId, $1.consumerId) },
            collisions: qos.collisions, configsSent: configsSent, takenAtNs: UInt64(MonotonicClock.now()))
    }

    /// Sets (or, with nil, clears) the directive for a consumer, sending it at once when the consumer is live and
    /// otherwise when it joins. An operator's directive outlasts the consumer; clearing one sends nothing (send
    /// ``ConsumerDirective/stream`` to lift a `RATE_LIMITED` or a fallback).
    public func direct(_ directive: ConsumerDirective?, streamId: UInt32, consumerId: UInt32) {
        let key = QosMonitor.StreamMember(streamId: streamId, id: consumerId)
        guard let directive else {
            directives[key] = nil
            consumers[key]?.directive = nil
            return
        }
        directives[key] = DirectiveEntry(directive: directive, explicit: true, lastSentNs: nil)
        consumers[key]?.directive = directive
        if consumers[key] != nil { send(key, now: UInt64(MonotonicClock.now())) }
    }

    /// A consumer id for `streamId` that no live consumer of the stream uses and that was not handed out before
    /// (wire spec §10.1.2-009: ids assigned per stream by an authority). Give it to the consumer as
    /// ``ConsumerOptions/consumerId``; a consumer keeps an id it was given.
    public func assignConsumerId(streamId: UInt32) -> UInt32 {
        var taken = assignedIds[streamId, default: []]
        for key in consumers.keys where key.streamId == streamId { taken.insert(key.id) }
        var id = UInt32.random(in: 1...UInt32.max)
        while taken.contains(id) { id = UInt32.random(in: 1...UInt32.max) }
        assignedIds[streamId, default: []].insert(id)
        return id
    }

    // MARK: Control stream

    struct ControlHandler: FragmentHandling {
        unowned let supervisor: Supervisor
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            supervisor.onControl(buffer, sessionId: header.sessionId)
        }
    }

    func onControl(_ buffer: UnsafeRawBufferPointer, sessionId: Int32) {
        let now = UInt64(MonotonicClock.now())
        switch WireControl.wireTemplate(buffer) {
        case WireSchema.ShmPoolAnnounceDecoder.templateId:
            guard let announce = try? WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer) else {
                malformed &+= 1
                return
            }
            announcesSeen &+= 1
            onAnnounce(announce, now: now)
        case WireSchema.ConsumerHelloDecoder.templateId:
            guard let hello = try? WireSchema.ConsumerHelloDecoder(decodingHeaderOf: buffer) else {
                malformed &+= 1
                return
            }
            hellosSeen &+= 1
            onHello(hello, now: now)
        case WireSchema.ConsumerConfigDecoder.templateId:
            // Its own configurations come back on the control stream; the others are the producers' answers.
            guard sessionId != publication.sessionId else { return }
            guard let config = try? WireSchema.ConsumerConfigDecoder(decodingHeaderOf: buffer) else {
                malformed &+= 1
                return
            }
            configsSeen &+= 1
            let key = QosMonitor.StreamMember(streamId: config.streamId, id: config.consumerId)
            guard consumers[key] != nil else { return }
            consumers[key]?.grantedDescriptorStream =
                StreamField.classify(channel: config.descriptorChannel, streamId: config.descriptorStreamId).endpoint
            consumers[key]?.grantedControlStream =
                StreamField.classify(channel: config.controlChannel, streamId: config.controlStreamId).endpoint
        default:
            return
        }
    }

    /// The driver announces a stream's regions with the client id of its producer, or 0 when none is attached.
    func onAnnounce(_ announce: WireSchema.ShmPoolAnnounceDecoder, now: UInt64) {
        let stream = announce.streamId
        let producerId = announce.producerId
        if let known = producers[stream], known.producerId != producerId { producerLeft(known, reason: "announce") }
        guard producerId != 0 else { return }
        var producer = producers[stream] ?? newProducer(stream, producerId)
        let joined = producers[stream] == nil
        producer.epoch = announce.epoch
        producer.headerSlots = announce.headerNslots
        var pools = announce.payloadPools
        var count = 0
        while pools.next() { count += 1 }
        producer.payloadPools = count
        producer.lastAnnounceNs = now
        producers[stream] = producer
        if joined { producerJoined(producer) }
    }

    func onQosProducer(_ report: ProducerQos) {
        let now = UInt64(MonotonicClock.now())
        let stream = report.streamId
        if let known = producers[stream], known.producerId != report.producerId {
            guard report.epoch >= known.epoch else { return }  // a late report of the previous producer
            producerLeft(known, reason: "replaced")
        }
        var producer = producers[stream] ?? newProducer(stream, report.producerId)
        let joined = producers[stream] == nil
        producer.epoch = report.epoch
        producer.currentSeq = report.currentSeq
        producer.lastQosNs = now
        producers[stream] = producer
        if joined { producerJoined(producer) }
    }

    /// A producer not heard of before, known by its stream and id only.
    func newProducer(_ stream: UInt32, _ producerId: UInt32) -> SupervisedProducer {
        SupervisedProducer(
            streamId: stream, producerId: producerId, epoch: 0, headerSlots: 0, payloadPools: 0, currentSeq: nil,
            name: "", summary: "", metadata: nil, lastAnnounceNs: 0, lastQosNs: 0)
    }

    /// Drops a producer and reports it: announced without it (`announce`), replaced by another one (`replaced`), or
    /// stale.
    func producerLeft(_ producer: SupervisedProducer, reason: String) {
        producers[producer.streamId] = nil
        logger.info(
            "producer left",
            metadata: ["stream": "\(producer.streamId)", "producer": "\(producer.producerId)", "reason": "\(reason)"])
        onEvent?(.producerLeft(streamId: producer.streamId, producerId: producer.producerId))
    }

    func producerJoined(_ producer: SupervisedProducer) {
        logger.info(
            "producer joined", metadata: ["stream": "\(producer.streamId)", "producer": "\(producer.producerId)"])
        onEvent?(.producerJoined(withMetadata(producer)))
    }

    /// A producer with its name, summary and newest metadata from the cache.
    func withMetadata(_ producer: SupervisedProducer) -> SupervisedProducer {
        var producer = producer
        if let announced = metadata.announce(streamId: producer.streamId) {
            producer.name = announced.name
            producer.summary = announced.summary
        }
        producer.metadata = metadata.latest(streamId: producer.streamId)
        return producer
    }

    func onMetadata(_ source: SourceMetadata) {
        onEvent?(.metadata(source))
    }

    // MARK: Consumers

    func onHello(_ hello: WireSchema.ConsumerHelloDecoder, now: UInt64) {
        let key = QosMonitor.StreamMember(streamId: hello.streamId, id: hello.consumerId)
        var consumer = consumers[key] ?? newConsumer(key)
        let joined = consumers[key] == nil
        consumer.helloMode = hello.mode
        consumer.maxRateHz = hello.maxRateHz
        consumer.supportsProgress = hello.supportsProgress == .true
        consumer.requestedDescriptorStream =
            StreamField.classify(channel: hello.descriptorChannel, streamId: hello.descriptorStreamId).endpoint
        consumer.requestedControlStream =
            StreamField.classify(channel: hello.controlChannel, streamId: hello.controlStreamId).endpoint
        consumer.lastHelloNs = now
        consumers[key] = consumer
        consumerUpdated(key, joined: joined, now: now)
    }

    func onQosConsumer(_ report: ConsumerQos) {
        let now = UInt64(MonotonicClock.now())
        let key = QosMonitor.StreamMember(streamId: report.streamId, id: report.consumerId)
        var consumer = consumers[key] ?? newConsumer(key)
        let joined = consumers[key] == nil
        consumer.reportedMode = report.mode
        consumer.epoch = report.epoch
        consumer.lastSeqSeen = report.lastSeqSeen
        consumer.dropsGap = report.dropsGap
        consumer.dropsLate = report.dropsLate
        consumer.lastQosNs = now
        consumers[key] = consumer
        consumerUpdated(key, joined: joined, now: now)
    }

    func newConsumer(_ key: QosMonitor.StreamMember) -> SupervisedConsumer {
        SupervisedConsumer(
            streamId: key.streamId, consumerId: key.id, helloMode: .stream, maxRateHz: 0, supportsProgress: false,
            requestedDescriptorStream: nil, requestedControlStream: nil, grantedDescriptorStream: nil,
            grantedControlStream: nil, reportedMode: nil, epoch: 0, lastSeqSeen: 0, dropsGap: 0, dropsLate: 0,
            lastHelloNs: 0, lastQosNs: 0, directive: directives[key]?.directive, directivesSent: 0)
    }

    /// Asks the policy, and sends the directive to a consumer that just joined or that shows another mode.
    func consumerUpdated(_ key: QosMonitor.StreamMember, joined: Bool, now: UInt64) {
        guard let consumer = consumers[key] else { return }
        if joined {
            logger.info("consumer joined", metadata: ["stream": "\(key.streamId)", "consumer": "\(key.id)"])
            onEvent?(.consumerJoined(consumer))
        }
        // An operator's directive outranks the policy's.
        if directives[key]?.explicit != true, let policy, let decided = policy(consumer),
            directives[key]?.directive != decided
        {
            directives[key] = DirectiveEntry(directive: decided, explicit: false, lastSentNs: nil)
            consumers[key]?.directive = decided
        }
        guard let entry = directives[key] else { return }
        if joined || entry.lastSentNs == nil {
            send(key, now: now)
        }
    }

    /// Repeats directives that the consumers' reports show are not followed yet, at most every enforce interval.
    func enforce(now: UInt64) -> Int {
        var work = 0
        for (key, entry) in directives {
            guard let consumer = consumers[key], !consumer.followsDirective else { continue }
            if let last = entry.lastSentNs, now &- last < options.enforceIntervalNs { continue }
            send(key, now: now)
            work += 1
        }
        return work
    }

    /// Sends the directive of `key` as a `ConsumerConfig`, repeating the per-consumer streams the producer granted.
    func send(_ key: QosMonitor.StreamMember, now: UInt64) {
        guard let entry = directives[key], let consumer = consumers[key] else { return }
        let directive = entry.directive
        let sent = offerEncoded(publication, scratch) { bytes in
            try WireControl.encodeConsumerConfig(
                into: bytes, streamId: key.streamId, consumerId: key.id, useShm: directive.useShm,
                mode: directive.mode, fallbackURI: directive.fallbackURI ?? "",
                descriptor: consumer.grantedDescriptorStream, control: consumer.grantedControlStream)
        }
        directives[key]?.lastSentNs = now
        guard sent else {
            configsNotSent &+= 1
            return
        }
        configsSent &+= 1
        consumers[key]?.directivesSent &+= 1
        logger.notice(
            "directive sent",
            metadata: ["stream": "\(key.streamId)", "consumer": "\(key.id)", "directive": "\(directive)"])
        onEvent?(.directiveSent(streamId: key.streamId, consumerId: key.id, directive))
    }

    /// Drops members not heard of for the stale period; a policy's directive leaves with its consumer.
    func expire(now: UInt64) -> Int {
        let staleAfter = options.staleAfterNs
        var work = 0
        for producer in producers.values where now > producer.lastSeenNs && now - producer.lastSeenNs > staleAfter {
            producerLeft(producer, reason: "stale")
            work += 1
        }
        for (key, consumer) in consumers where now > consumer.lastSeenNs && now - consumer.lastSeenNs > staleAfter {
            consumers[key] = nil
            if directives[key]?.explicit == false { directives[key] = nil }
            logger.info("consumer stale", metadata: ["stream": "\(key.streamId)", "consumer": "\(key.id)"])
            onEvent?(.consumerLeft(streamId: key.streamId, consumerId: key.id))
            work += 1
        }
        return work
    }
}
