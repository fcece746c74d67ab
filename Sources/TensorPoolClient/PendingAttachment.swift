import Aeron
public import Agents
import DriverClient
import Glibc

/// The Aeron publications and subscriptions a handle needs, added asynchronously.
struct AeronEndpoints {
    var publications: [(channel: String, streamId: Int32)] = []
    var subscriptions: [(channel: String, streamId: Int32)] = []
}

/// A producer or consumer being attached without blocking (``TensorPoolClient/beginAttachProducer(streamId:options:)``,
/// ``TensorPoolClient/beginAttachConsumer(streamId:options:)``), in the manner of Aeron's asynchronous adds.
///
/// Each ``poll()`` advances the attach one step: the driver request (retried with backoff), then the asynchronous
/// adds of the handle's publications and subscriptions, then the handle itself (regions mapped and validated). Nothing
/// in it waits, so the duty cycle that polls it goes on with keepalives and frames meanwhile. Belongs to the client's
/// thread.
public final class PendingAttachment<Handle: AnyObject> {
    /// The stream asked for.
    public var streamId: UInt32 { attach.streamId }
    /// The handle, once attached.
    public private(set) var handle: Handle?
    /// The failure, once failed.
    public private(set) var failure: TensorPoolClientError?

    unowned let client: TensorPoolClient
    let attach: PendingAttach
    let endpoints: AeronEndpoints
    /// Builds the handle from the grant, the added endpoints and the time their adds were started.
    typealias Build = (TensorPoolClient, LeaseGrant, [Publication], [Subscription], UInt64)
        throws(TensorPoolClientError) -> Handle
    let build: Build
    var grant: LeaseGrant?
    var started = false
    /// Monotonic time the endpoints' adds were started: the consumer's join time (§10.1.1).
    var addedAtNs: UInt64 = 0
    var pendingPublications: [PendingResource<Publication>?] = []
    var pendingSubscriptions: [PendingResource<Subscription>?] = []
    var publications: [Publication?] = []
    var subscriptions: [Subscription?] = []

    init(
        client: TensorPoolClient, attach: PendingAttach, endpoints: AeronEndpoints,
        failure: TensorPoolClientError? = nil,
        build: @escaping Build
    ) {
        self.client = client
        self.attach = attach
        self.endpoints = endpoints
        self.build = build
        if let failure {
            attach.cancel()
            self.failure = failure
        }
    }

    /// Advances the attach: the handle once attached, nil while in progress; throws once it failed (the driver
    /// refused or did not answer in time, Aeron refused an endpoint, or the granted regions failed validation; the
    /// lease is detached again in the last two cases). Regions that are only stale do not fail a consumer's attach:
    /// it returns the consumer in ``ConsumerState/awaitingFreshRegion`` (see
    /// ``TensorPoolContext/staleRegionTimeoutNs``); a producer maps its stale regions and refreshes them. Polling after
    /// the outcome returns or throws the same outcome.
    public func poll() throws(TensorPoolClientError) -> Handle? {
        if let handle { return handle }
        if let failure { throw failure }
        do {
            return try step()
        } catch {
            release()
            failure = error
            throw error
        }
    }

    /// The endpoints are added first and the lease requested alongside: a producer's control subscription exists
    /// before the driver announces its epoch, so the hellos consumers send on that announce reach it.
    func step() throws(TensorPoolClientError) -> Handle? {
        if !started {
            started = true
            addedAtNs = UInt64(MonotonicClock.now())
            do {
                pendingPublications = try endpoints.publications.map { endpoint throws(AeronError) in
                    try client.aeron.asyncAddPublication(channel: endpoint.channel, streamId: endpoint.streamId)
                }
                pendingSubscriptions = try endpoints.subscriptions.map { endpoint throws(AeronError) in
                    try client.aeron.asyncAddSubscription(channel: endpoint.channel, streamId: endpoint.streamId)
                }
            } catch {
                throw .aeron(error)
            }
            publications = Array(repeating: nil, count: pendingPublications.count)
            subscriptions = Array(repeating: nil, count: pendingSubscriptions.count)
        }
        do {
            for index in pendingPublications.indices {
                if let pending = pendingPublications[index], let ready = try pending.poll() {
                    publications[index] = ready
                    pendingPublications[index] = nil
                }
            }
            for index in pendingSubscriptions.indices {
                if let pending = pendingSubscriptions[index], let ready = try pending.poll() {
                    subscriptions[index] = ready
                    pendingSubscriptions[index] = nil
                }
            }
        } catch {
            throw .aeron(error)
        }
        let readyPublications = publications.compactMap { $0 }
        let readySubscriptions = subscriptions.compactMap { $0 }
        guard readyPublications.count == publications.count, readySubscriptions.count == subscriptions.count else {
            client.driver.doWork()  // keepalives of the leases already held while the endpoints are added
            return nil
        }
        // The endpoints are ready: now the lease (the driver's answer comes through the attach's own polls).
        if grant == nil {
            do {
                grant = try attach.poll()
            } catch {
                throw .driver(error)
            }
        }
        guard let grant else { return nil }
        let built = try build(client, grant, readyPublications, readySubscriptions, addedAtNs)
        publications = []
        subscriptions = []
        handle = built
        return built
    }

    /// Undoes a failed attach: endpoints closed or cancelled, the lease detached.
    func release() {
        for pending in pendingPublications { pending?.cancel() }
        for pending in pendingSubscriptions { pending?.cancel() }
        for publication in publications { publication?.close() }
        for subscription in subscriptions { subscription?.close() }
        pendingPublications = []
        pendingSubscriptions = []
        publications = []
        subscriptions = []
        if let grant {
            _ = try? client.driver.detach(grant)
            self.grant = nil
        }
    }

    /// Gives up: a lease granted meanwhile is detached, endpoints already added are closed.
    public func cancel() {
        guard handle == nil, failure == nil else { return }
        attach.cancel()
        release()
        failure = .driver(.closed)
    }

    /// Polls until the outcome, yielding the CPU between polls (the blocking form used by the `attach…` methods).
    func await() throws(TensorPoolClientError) -> Handle {
        while true {
            if let handle = try poll() { return handle }
            sched_yield()
        }
    }
}

/// Runs one consumer's ``Consumer/poll(into:fragmentLimit:)`` as an ``Agent``, so a consumer can be driven by an
/// `AgentRunner` or an `AgentInvoker` (with its ``TensorPoolClient`` in the same `CompositeAgent`). The handler is
/// the agent's own: read its results after the runner stopped, or make them thread-safe.
public final class ConsumerAgent<Handler: FrameHandling>: Agent {
    /// The consumer polled.
    public let consumer: Consumer
    /// The frame handler.
    public var handler: Handler
    /// Fragments per poll.
    public let fragmentLimit: Int

    /// An agent polling `consumer` into `handler`.
    public init(consumer: Consumer, handler: Handler, fragmentLimit: Int = 16) {
        self.consumer = consumer
        self.handler = handler
        self.fragmentLimit = fragmentLimit
    }

    /// `"tensor-pool-consumer"`.
    public var roleName: String { "tensor-pool-consumer" }

    /// One poll.
    public func doWork() throws -> Int { consumer.poll(into: &handler, fragmentLimit: fragmentLimit) }
}
