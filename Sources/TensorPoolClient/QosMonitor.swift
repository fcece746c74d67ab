public import Aeron
public import Agents
import Logging
import SBE
import TensorPoolLogging
public import TensorPoolWire

/// The last `QosProducer` of one producer.
public struct ProducerQos: Hashable, Sendable {
    /// The stream.
    public var streamId: UInt32
    /// The producer's id.
    public var producerId: UInt32
    /// Its epoch.
    public var epoch: UInt64
    /// The sequence of its latest frame.
    public var currentSeq: UInt64
    /// The optional pool watermark (nil when not sent).
    public var watermark: UInt32?
    /// Monotonic time the report arrived.
    public var receivedAtNs: UInt64
}

/// The last `QosConsumer` of one consumer.
public struct ConsumerQos: Hashable, Sendable {
    /// The stream.
    public var streamId: UInt32
    /// The consumer's id.
    public var consumerId: UInt32
    /// The epoch it is mapped to.
    public var epoch: UInt64
    /// The last sequence it saw.
    public var lastSeqSeen: UInt64
    /// Frames it lost to gaps.
    public var dropsGap: UInt64
    /// Frames it lost late.
    public var dropsLate: UInt64
    /// Its mode.
    public var mode: WireSchema.Mode
    /// The Aeron session the report came from (one per reporting client).
    public var sessionId: Int32
    /// Monotonic time the report arrived.
    public var receivedAtNs: UInt64
}

/// An id two consumers of one stream reported from different clients (wire spec §10.1.2-011).
public struct ConsumerIdCollision: Hashable, Sendable {
    /// The stream.
    public var streamId: UInt32
    /// The shared id.
    public var consumerId: UInt32
    /// The two Aeron sessions that reported it.
    public var sessions: [Int32]
}

/// Aggregates the QoS stream (wire spec §10.4): the latest report of every producer and consumer per stream, with
/// callbacks as reports arrive, staleness, and consumer-id collisions.
///
/// **Ownership.** Whoever creates a monitor owns it: it adds its own subscription to the QoS stream on the given Aeron
/// client, is driven only by its owner's ``poll(fragmentLimit:)`` (or as an `Agent` on a runner or invoker), and is
/// closed by its owner (``close()``, or the agent's `onClose`). It shares nothing with the clients that report; a
/// supervisor holds one, a console another.
public final class QosMonitor: Agent {
    /// Called for every `QosProducer`.
    public var onProducer: ((ProducerQos) -> Void)?
    /// Called for every `QosConsumer`.
    public var onConsumer: ((ConsumerQos) -> Void)?
    /// Called when a consumer id is reported for one stream from two sessions.
    public var onCollision: ((ConsumerIdCollision) -> Void)?
    /// The latest report of every producer, by stream and producer id.
    public private(set) var producers: [StreamMember: ProducerQos] = [:]
    /// The latest report of every consumer, by stream and consumer id.
    public private(set) var consumers: [StreamMember: ConsumerQos] = [:]
    /// Collisions seen.
    public private(set) var collisions: [ConsumerIdCollision] = []
    /// QoS reports that could not be decoded, dropped.
    public private(set) var malformed: UInt64 = 0
    /// How long a member stays in the snapshots without a report (3–5 × the reporting interval).
    public let staleAfterNs: UInt64

    let subscription: Subscription
    let logger = TensorPoolLog.logger(.qos)

    /// A stream and a producer or consumer id.
    public struct StreamMember: Hashable, Sendable {
        /// The stream.
        public var streamId: UInt32
        /// The producer or consumer id.
        public var id: UInt32

        /// The member `id` of `streamId`.
        public init(streamId: UInt32, id: UInt32) {
            self.streamId = streamId
            self.id = id
        }
    }

    /// A monitor of the QoS stream `channel`/`streamId` (1200 by default); members without a report for
    /// `staleAfterNs` (default 5 s: five 1 Hz reports) are dropped from the snapshots.
    public init(
        aeron: AeronClient, channel: String = "aeron:ipc?term-length=4m", streamId: Int32 = 1200,
        staleAfterNs: UInt64 = 5_000_000_000
    ) throws(AeronError) {
        subscription = try aeron.addSubscription(channel: channel, streamId: streamId)
        self.staleAfterNs = staleAfterNs
    }

    /// `"qos-monitor"`.
    public var roleName: String { "qos-monitor" }

    /// Polls once.
    public func doWork() throws -> Int { poll() }

    /// Closes the subscription.
    public func onClose() { close() }

    /// Reads up to `fragmentLimit` reports, updating the snapshots and calling the callbacks, then drops stale
    /// members. Returns the number of fragments read.
    @discardableResult
    public func poll(fragmentLimit: Int = 64) -> Int {
        var handler = Handler(monitor: self)
        let work = subscription.poll(into: &handler, fragmentLimit: fragmentLimit)
        expire(now: UInt64(MonotonicClock.now()))
        return work
    }

    struct Handler: FragmentHandling {
        unowned let monitor: QosMonitor
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            monitor.onReport(buffer, sessionId: header.sessionId)
        }
    }

    func onReport(_ buffer: UnsafeRawBufferPointer, sessionId: Int32) {
        let now = UInt64(MonotonicClock.now())
        switch WireControl.wireTemplate(buffer) {
        case WireSchema.QosProducerDecoder.templateId:
            guard let decoder = try? WireSchema.QosProducerDecoder(decodingHeaderOf: buffer) else {
                malformed &+= 1
                return
            }
            let report = ProducerQos(
                streamId: decoder.streamId, producerId: decoder.producerId, epoch: decoder.epoch,
                currentSeq: decoder.currentSeq, watermark: decoder.watermark, receivedAtNs: now)
            producers[StreamMember(streamId: report.streamId, id: report.producerId)] = report
            onProducer?(report)
        case WireSchema.QosConsumerDecoder.templateId:
            guard let decoder = try? WireSchema.QosConsumerDecoder(decodingHeaderOf: buffer) else {
                malformed &+= 1
                return
            }
            let report = ConsumerQos(
                streamId: decoder.streamId, consumerId: decoder.consumerId, epoch: decoder.epoch,
                lastSeqSeen: decoder.lastSeqSeen, dropsGap: decoder.dropsGap, dropsLate: decoder.dropsLate,
                mode: decoder.mode, sessionId: sessionId, receivedAtNs: now)
            let key = StreamMember(streamId: report.streamId, id: report.consumerId)
            if let previous = consumers[key], previous.sessionId != sessionId,
                now &- previous.receivedAtNs < staleAfterNs
            {
                let collision = ConsumerIdCollision(
                    streamId: report.streamId, consumerId: report.consumerId,
                    sessions: [previous.sessionId, sessionId])
                collisions.append(collision)
                logger.warning(
                    "consumer id collision",
                    metadata: ["stream": "\(report.streamId)", "consumer": "\(report.consumerId)"])
                onCollision?(collision)
            }
            consumers[key] = report
            onConsumer?(report)
        default:
            return
        }
    }

    func expire(now: UInt64) {
        for (key, report) in producers where now > report.receivedAtNs && now - report.receivedAtNs > staleAfterNs {
            producers[key] = nil
        }
        for (key, report) in consumers where now > report.receivedAtNs && now - report.receivedAtNs > staleAfterNs {
            consumers[key] = nil
        }
    }

    /// Closes the subscription.
    public func close() { subscription.close() }
}
