public import Aeron
import Agents
public import DriverClient
import SBE
public import TensorPoolSHM
import TensorPoolWire

/// Where a client finds the driver and the data-plane streams.
public struct TensorPoolContext: Sendable {
    /// The driver's control channel.
    public var controlChannel = "aeron:ipc?term-length=4m"
    /// The driver's control stream.
    public var controlStreamId: Int32 = 1000
    /// The channel of `ShmPoolAnnounce` (the driver's `announce_channel`).
    public var announceChannel = "aeron:ipc?term-length=4m"
    /// The stream of `ShmPoolAnnounce` (the driver's `announce_stream_id`; its default is the control stream).
    public var announceStreamId: Int32 = 1000
    /// The channel of `FrameDescriptor` messages.
    public var descriptorChannel = "aeron:ipc?term-length=4m"
    /// The stream of `FrameDescriptor` messages (1100 in both peers' examples).
    public var descriptorStreamId: Int32 = 1100
    /// Directories announced regions may lie in (containment, wire spec §15.21a.5).
    public var allowedBaseDirectories = ["/dev/shm"]
    /// How long an attach may take, retries included.
    public var attachTimeout: Duration = .seconds(10)
    /// How old a region's activity timestamp may be when it is mapped.
    public var freshnessWindowNs: UInt64 = 3_000_000_000
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

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .driver(let error): "driver: \(error)"
        case .regions(let error): "regions: \(error)"
        case .aeron(let error): "aeron: \(error)"
        }
    }
}

/// A process's connection to the tensor pool: one driver client (one client id) shared by its producers and
/// consumers, which it keeps alive and informs of revocations from ``doWork()``.
///
/// Single-threaded: drive it (and its producers and consumers) from one agent or thread.
public final class TensorPoolClient {
    /// The context it was created with.
    public let context: TensorPoolContext
    /// The Aeron client.
    public let aeron: AeronClient
    /// The driver client.
    public let driver: DriverClient
    /// The containment policy for announced regions.
    public let policy: PathPolicy
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
    }

    /// Attaches a producer to `streamId`: a lease, the regions mapped writable, the descriptor publication.
    public func attachProducer(streamId: UInt32) throws(TensorPoolClientError) -> Producer {
        let grant: LeaseGrant
        do {
            grant = try driver.attach(streamId: streamId, role: .producer, timeout: context.attachTimeout)
        } catch {
            throw .driver(error)
        }
        do {
            let producer = try Producer(client: self, grant: grant)
            producers[grant.leaseId] = producer
            return producer
        } catch {
            _ = try? driver.detach(grant)
            throw error
        }
    }

    /// Attaches a consumer to `streamId`: a lease, the regions mapped read-only, the descriptor and announce
    /// subscriptions.
    public func attachConsumer(streamId: UInt32) throws(TensorPoolClientError) -> Consumer {
        let grant: LeaseGrant
        do {
            grant = try driver.attach(streamId: streamId, role: .consumer, timeout: context.attachTimeout)
        } catch {
            throw .driver(error)
        }
        do {
            let consumer = try Consumer(client: self, grant: grant)
            consumers[ObjectIdentifier(consumer)] = consumer
            return consumer
        } catch {
            _ = try? driver.detach(grant)
            throw error
        }
    }

    /// Keepalives and driver events: a revoked producer stops publishing; a consumer whose lease or producer was
    /// revoked drops what is in flight and waits for the announce of the new epoch.
    @discardableResult
    public func doWork() -> Int {
        var work = driver.doWork()
        let now = UInt64(MonotonicClock.now())
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
        }
        return work
    }

    /// Copies every handle's statistics into its Aeron counters now (``doWork()`` does it every 10 ms).
    public func refreshCounters() {
        for producer in producers.values { producer.refreshCounters() }
        for consumer in consumers.values { consumer.refreshCounters() }
    }

    func forget(_ producer: Producer) { producers[producer.grant.leaseId] = nil }
    func forget(_ consumer: Consumer) { consumers[ObjectIdentifier(consumer)] = nil }
}

/// Offers `message` on `publication`, retrying back pressure a bounded number of times.
func offerRetrying(_ publication: Publication, _ message: UnsafeRawBufferPointer) -> OfferResult {
    var result = publication.offer(message)
    var attempts = 0
    while attempts < 1_000, case .backPressured = result {
        attempts += 1
        result = publication.offer(message)
    }
    return result
}
