public import Aeron
public import Agents
public import DriverClient
import Logging
import SBE
import TensorPoolLogging
public import TensorPoolSHM
import TensorPoolWire

/// Where a client finds the driver and the data-plane streams.
public struct TensorPoolContext: Sendable {
    /// The driver's control channel.
    public var controlChannel = "aeron:ipc?term-length=4m"
    /// The driver's control stream (1000 in both peers' examples).
    public var controlStreamId: Int32 = 1000
    /// The channel of `ShmPoolAnnounce` (the driver's `announce_channel`).
    public var announceChannel = "aeron:ipc?term-length=4m"
    /// The stream of `ShmPoolAnnounce` (the driver's `announce_stream_id`): 1001, as in both peers' examples and in
    /// our driver configuration, `tp-client` and `tp-supervisor`.
    public var announceStreamId: Int32 = 1001
    /// The channel of `FrameDescriptor` messages.
    public var descriptorChannel = "aeron:ipc?term-length=4m"
    /// The stream of `FrameDescriptor` messages (1100 in both peers' examples).
    public var descriptorStreamId: Int32 = 1100
    /// Directories announced regions may lie in (containment, wire spec §15.21a.5).
    public var allowedBaseDirectories = ["/dev/shm"]
    /// How long an attach may take, retries included.
    public var attachTimeout: Duration = .seconds(10)
    /// The driver's announce period (`announce_period_ms`). A consumer left unmapped for three of them (no announce of
    /// a new epoch after a revocation or an epoch change) attaches again, with backoff (driver spec §4.9).
    public var announcePeriodNs: UInt64 = 1_000_000_000
    /// How far a region's activity timestamp may lie from CLOCK_MONOTONIC (the clock every superblock time is on) when
    /// it is mapped.
    public var freshnessWindowNs: UInt64 = 3_000_000_000
    /// How long a consumer granted (or announced) a region whose `activity_timestamp_ns` is outside
    /// ``freshnessWindowNs`` waits for it to become fresh, in ``ConsumerState/awaitingFreshRegion``, before it gives
    /// up with ``TensorPoolClientError/staleRegion(field:activityTimestampNs:nowNs:windowNs:)`` (default 30 s). A
    /// stream of a driver that leaves the refresh to its producer (driver spec DRV-3-011) is stale while it has no
    /// producer: the wait lets a consumer join it first. 0 gives up at the first stale check (an attach then throws).
    public var staleRegionTimeoutNs: UInt64 = 30_000_000_000
    /// The channel of `QosProducer` and `QosConsumer` (wire spec §10.4).
    public var qosChannel = "aeron:ipc?term-length=4m"
    /// The QoS stream (1200 in both peers' examples).
    public var qosStreamId: Int32 = 1200
    /// How often producers and consumers report QoS (§15.11: 1 Hz); also the consumers' liveness interval for the
    /// producers' stale checks. 0 disables the reports.
    public var qosIntervalNs: UInt64 = 1_000_000_000
    /// The channel of `DataSourceAnnounce` and `DataSourceMeta` (wire spec §10.3).
    public var metadataChannel = "aeron:ipc?term-length=4m"
    /// The metadata stream (1300 in both peers' examples).
    public var metadataStreamId: Int32 = 1300
    /// How often a producer repeats its `DataSourceAnnounce` and `DataSourceMeta` (changes go out at once).
    public var metadataIntervalNs: UInt64 = 1_000_000_000
    /// Whether the regions are faulted in when mapped (`MAP_POPULATE`), so that the first lap over the rings takes no
    /// page faults (a fault per 4 KiB page otherwise: about 18 ms per 4 MiB slot). Costs that time at attach instead.
    public var populateMappings = true
    /// Options of the driver client (keepalives, retry backoff).
    public var driverOptions = DriverClient.Options()

    /// The defaults above.
    public init() {}
}

/// Why a producer or consumer could not be set up.
public enum TensorPoolClientError: Error, CustomStringConvertible {
    /// The driver refused or did not answer.
    case driver(DriverClientError)
    /// The granted regions failed validation or could not be mapped.
    case regions(RegionError)
    /// Aeron refused a publication or subscription.
    case aeron(AeronError)
    /// The options ask for something the protocol forbids.
    case invalidOptions(String)
    /// A consumer's regions stayed stale for ``TensorPoolContext/staleRegionTimeoutNs``: superblock `field`
    /// (`activity_timestamp_ns`) held `activityTimestampNs`, further than `windowNs` from `nowNs` (CLOCK_MONOTONIC
    /// ns): older, or ahead (not stamped on this host's monotonic clock). ``Consumer/staleRegion`` also names the
    /// region file and how long the consumer waited.
    case staleRegion(field: String, activityTimestampNs: UInt64, nowNs: UInt64, windowNs: UInt64)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .driver(let error): "driver: \(error)"
        case .regions(let error): "regions: \(error)"
        case .aeron(let error): "aeron: \(error)"
        case .invalidOptions(let why): "invalid options: \(why)"
        case .staleRegion(let field, let activity, let now, let window):
            "stale region: \(field) is \(activity) at CLOCK_MONOTONIC \(now), further than the freshness window "
                + "(\(window) ns)"
        }
    }
}

/// A process's connection to the tensor pool: one driver client (one client id) shared by its producers and
/// consumers, which it keeps alive and informs of revocations from ``doWork()``.
///
/// Single-threaded: drive it (and its producers and consumers) from one agent or thread.
///
/// It is also an ``Agent``: run it on an `AgentRunner` or on the caller's duty cycle with an `AgentInvoker`, alone or
/// in a `CompositeAgent` with ``ConsumerAgent``s and the application's own agents. Closing the agent closes every
/// handle and the driver client.
public final class TensorPoolClient: Agent {
    /// The context it was created with.
    public let context: TensorPoolContext
    /// The Aeron client.
    public let aeron: AeronClient
    /// The driver client.
    public let driver: DriverClient
    /// The containment policy for announced regions.
    public let policy: PathPolicy
    /// The publication of wire-schema control messages (hellos, configurations, progress) on the shared control
    /// stream.
    let controlPublication: Publication
    /// The publication of `QosProducer` and `QosConsumer` on the QoS stream, shared by the handles. Exclusive, so
    /// that its session id identifies this client's reports (concurrent IPC publications of one stream share a
    /// session): a consumer id reported from another session is a collision (§10.1.2-011).
    let qosPublication: ExclusivePublication
    /// Called from ``doWork()`` with every driver event (lease revoked or expired, producer revoked, driver shutdown)
    /// after the handles concerned were told.
    public var onDriverEvent: ((DriverClientEvent) -> Void)?
    /// The `tensorpool.client` logger.
    let logger = TensorPoolLog.logger(.client)
    var producers: [UInt64: Producer] = [:]
    var consumers: [ObjectIdentifier: Consumer] = [:]
    var lastCounterRefreshNs: UInt64 = 0

    /// Connects to the driver's control plane through `aeron`.
    public init(context: TensorPoolContext = TensorPoolContext(), aeron: AeronClient) throws {
        self.context = context
        self.aeron = aeron
        policy = try PathPolicy(allowedBaseDirectories: context.allowedBaseDirectories)
        driver = try DriverClient(
            aeron: aeron, controlChannel: context.controlChannel, controlStreamId: context.controlStreamId,
            options: context.driverOptions)
        controlPublication = try aeron.addPublication(
            channel: context.controlChannel, streamId: context.controlStreamId)
        qosPublication = try aeron.addExclusivePublication(
            channel: context.qosChannel, streamId: context.qosStreamId)
    }

    /// `"tensor-pool-client"`.
    public var roleName: String { "tensor-pool-client" }

    /// Attaches a producer to `streamId`: a lease, the regions mapped writable, the descriptor publication. Blocks
    /// until the driver answers (see ``beginAttachProducer(streamId:options:)`` for the non-blocking form).
    public func attachProducer(
        streamId: UInt32, options: ProducerOptions = ProducerOptions()
    ) throws(TensorPoolClientError) -> Producer {
        try options.validate(context: context)
        let attempt = beginAttachProducer(streamId: streamId, options: options)
        return try attempt.await()
    }

    /// Attaches a consumer to `streamId`: a lease, the regions mapped read-only, the subscriptions, and the first
    /// hello. Blocks until the driver answers (see ``beginAttachConsumer(streamId:options:)``). Granted regions that
    /// are stale are not mapped and do not fail the attach: the consumer starts in
    /// ``ConsumerState/awaitingFreshRegion`` and maps them once fresh (``Consumer``, "Stale regions").
    public func attachConsumer(
        streamId: UInt32, options: ConsumerOptions = ConsumerOptions()
    ) throws(TensorPoolClientError) -> Consumer {
        try options.validate()
        let attempt = beginAttachConsumer(streamId: streamId, options: options)
        return try attempt.await()
    }

    /// Starts attaching a producer without blocking: call ``PendingAttachment/poll()`` from the duty cycle until it
    /// returns the producer or throws.
    public func beginAttachProducer(
        streamId: UInt32, options: ProducerOptions = ProducerOptions()
    ) -> PendingAttachment<Producer> {
        var invalid: TensorPoolClientError?
        do { try options.validate(context: context) } catch { invalid = error }
        var endpoints = AeronEndpoints()
        endpoints.publications = [
            (context.descriptorChannel, context.descriptorStreamId),
            (context.metadataChannel, context.metadataStreamId),
        ]
        endpoints.subscriptions = [
            (context.controlChannel, context.controlStreamId), (context.qosChannel, context.qosStreamId),
        ]
        return PendingAttachment(
            client: self,
            attach: driver.beginAttach(streamId: streamId, role: .producer, timeout: context.attachTimeout),
            endpoints: endpoints, failure: invalid
        ) { client, grant, publications, subscriptions, _ throws(TensorPoolClientError) in
            let producer = try Producer(
                client: client, grant: grant, options: options, publication: publications[0],
                metadataPublication: publications[1], controlSubscription: subscriptions[0],
                qosSubscription: subscriptions[1])
            client.producers[grant.leaseId] = producer
            return producer
        }
    }

    /// Starts attaching a consumer without blocking: call ``PendingAttachment/poll()`` from the duty cycle until it
    /// returns the consumer or throws.
    public func beginAttachConsumer(
        streamId: UInt32, options: ConsumerOptions = ConsumerOptions()
    ) -> PendingAttachment<Consumer> {
        var invalid: TensorPoolClientError?
        do { try options.validate() } catch { invalid = error }
        var endpoints = AeronEndpoints()
        endpoints.subscriptions = [
            (context.descriptorChannel, context.descriptorStreamId), (context.controlChannel, context.controlStreamId),
            (context.qosChannel, context.qosStreamId),
        ]
        let separateAnnounces =
            context.announceChannel != context.controlChannel || context.announceStreamId != context.controlStreamId
        if separateAnnounces { endpoints.subscriptions.append((context.announceChannel, context.announceStreamId)) }
        return PendingAttachment(
            client: self,
            attach: driver.beginAttach(streamId: streamId, role: .consumer, timeout: context.attachTimeout),
            endpoints: endpoints, failure: invalid
        ) { client, grant, _, subscriptions, joinTimeNs throws(TensorPoolClientError) in
            let consumer = try Consumer(
                client: client, grant: grant, options: options, descriptors: subscriptions[0],
                control: subscriptions[1], qos: subscriptions[2],
                announces: subscriptions.count > 3 ? subscriptions[3] : nil,
                joinTimeNs: joinTimeNs)
            client.consumers[ObjectIdentifier(consumer)] = consumer
            return consumer
        }
    }

    /// Keepalives and driver events: a revoked producer stops publishing; a consumer whose lease or producer was
    /// revoked drops what is in flight and waits for the announce of the new epoch.
    ///
    /// Producers read their consumers' hellos here, expire stale consumers and send held-back progress; consumers
    /// repeat their hello.
    @discardableResult
    public func doWork() -> Int {
        var work = driver.doWork()
        let now = UInt64(MonotonicClock.now())
        for producer in producers.values { work += producer.doWork(now: now) }
        for consumer in consumers.values { work += consumer.doWork(now: now) }
        if now &- lastCounterRefreshNs >= 10_000_000 {  // Aeron counters every 10 ms
            lastCounterRefreshNs = now
            refreshCounters()
        }
        for event in driver.drainEvents() {
            work += 1
            switch event {
            case .leaseRevoked(let grant, _), .keepaliveFailed(let grant):
                if let producer = producers.removeValue(forKey: grant.leaseId) { producer.leaseEnded() }
                for consumer in consumers.values where consumer.grant.leaseId == grant.leaseId { consumer.leaseEnded() }
            case .producerRevoked(let streamId, _, _):
                for consumer in consumers.values where consumer.streamId == streamId { consumer.producerRevoked() }
            case .driverShutdown:
                for producer in producers.values { producer.leaseEnded() }
                producers.removeAll()
                for consumer in consumers.values { consumer.leaseEnded() }
            }
            logger.notice("driver event", metadata: ["event": "\(event)"])
            onDriverEvent?(event)
        }
        return work
    }

    /// Copies every handle's statistics into its Aeron counters now (``doWork()`` does it every 10 ms).
    public func refreshCounters() {
        for producer in producers.values { producer.refreshCounters() }
        for consumer in consumers.values { consumer.refreshCounters() }
    }

    /// Closes every producer and consumer (detaching their leases), then the driver client and the control
    /// publication. The Aeron client stays open: it belongs to the caller.
    public func close() {
        for producer in Array(producers.values) { producer.close() }
        for consumer in Array(consumers.values) { consumer.close() }
        driver.close()
        controlPublication.close()
        qosPublication.close()
    }

    /// Closes everything (``close()``) when the agent's runner or invoker stops.
    public func onClose() { close() }

    func forget(_ producer: Producer) { producers[producer.grant.leaseId] = nil }
    func forget(_ consumer: Consumer) { consumers[ObjectIdentifier(consumer)] = nil }
}

/// Encodes one message at the start of `buffer` (`encode` returns its length, message header included) and offers it
/// with ``offerRetrying(_:_:)``. False when it could not be encoded or was not appended.
package func offerEncoded(
    _ publication: Publication, _ buffer: UnsafeMutableRawBufferPointer,
    _ encode: (UnsafeMutableRawBufferPointer) throws -> Int
) -> Bool {
    guard let length = try? encode(buffer) else { return false }
    return offerRetrying(publication, UnsafeRawBufferPointer(rebasing: buffer[0..<length])).isSuccess
}

/// Offers `message` on `publication`, retrying back pressure a bounded number of times, and an admin action (the
/// term rotation Aeron reports at the end of every term, without appending the message) always.
package func offerRetrying(_ publication: Publication, _ message: UnsafeRawBufferPointer) -> OfferResult {
    var result = publication.offer(message)
    var attempts = 0
    while attempts < 1_000 {
        switch result {
        case .backPressured: attempts += 1
        case .adminAction: break
        default: return result
        }
        result = publication.offer(message)
    }
    return result
}
