import Aeron
import Agents
public import DriverClient
import SBE
public import TensorPoolSHM
import TensorPoolWire

/// Receives frames from ``Consumer/poll(into:fragmentLimit:)``.
public protocol FrameHandling {
    /// One validated frame. The view (its payload in SHM, zero copy) is valid only during the call; call
    /// `consumer.isStillValid(frame)` after using the payload and discard the result when it is false.
    mutating func onFrame(_ frame: FrameView, consumer: Consumer)
}

/// A consumer's handle on one stream: its lease, the mapping state machine over the announced regions, and the
/// descriptor and announce subscriptions (wire spec §10.1–10.2, §15.21; driver spec §2.3, §4.9).
///
/// ``poll(into:fragmentLimit:)`` reads descriptors and hands each validated frame to the handler; announces of a new
/// epoch remap (dropping what is in flight); a revocation of the producer waits for that announce.
public final class Consumer {
    /// The lease and the regions of the attach.
    public private(set) var grant: LeaseGrant
    /// The mapping state machine (M0/M1) and its reader.
    public let mapping: ConsumerMapping
    /// Whether the lease is still held.
    public private(set) var isActive = true
    /// Times the consumer remapped to a new epoch.
    public private(set) var remaps: UInt64 = 0
    /// Descriptors of other streams on the shared descriptor stream, skipped.
    public private(set) var otherStreams: UInt64 = 0
    /// Announces discarded as stale: older than the freshness window, replayed from before this consumer joined, of an
    /// unknown clock domain, or with an epoch lower than the highest seen (wire spec §10.1.1).
    public private(set) var staleAnnounces: UInt64 = 0
    /// The highest epoch seen for the stream.
    public private(set) var highestEpoch: UInt64
    /// Monotonic time the consumer joined: announces stamped earlier are replays of the Aeron log (§10.1.1).
    public let joinTimeNs: UInt64
    /// Local rate cap in frames per second (0 = every frame, STREAM mode). Frames closer together than `1/maxRateHz`
    /// are dropped locally (wire spec §11), gated on the descriptor's timestamp when present, else the slot's capture
    /// timestamp, else the local monotonic clock.
    public var maxRateHz: UInt32 = 0
    /// Frames dropped by the local rate cap.
    public private(set) var rateLimited: UInt64 = 0
    var lastDeliveredNs: UInt64?

    unowned let client: TensorPoolClient
    let descriptors: Subscription
    let announces: Subscription
    let counterSet: CounterSet

    init(client: TensorPoolClient, grant: LeaseGrant) throws(TensorPoolClientError) {
        self.client = client
        self.grant = grant
        highestEpoch = grant.epoch
        joinTimeNs = UInt64(MonotonicClock.now())
        mapping = ConsumerMapping(policy: client.policy, freshnessWindowNs: client.context.freshnessWindowNs)
        if case .rejected(let error) = mapping.handle(grant.regions, nowNs: UInt64(EpochNanoClock.now())) {
            throw .regions(error)
        }
        do {
            descriptors = try client.aeron.addSubscription(
                channel: client.context.descriptorChannel, streamId: client.context.descriptorStreamId)
            announces = try client.aeron.addSubscription(
                channel: client.context.announceChannel, streamId: client.context.announceStreamId)
        } catch {
            mapping.unmap()
            throw .aeron(error)
        }
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
    }

    /// Copies the statistics into the Aeron counters.
    func refreshCounters() {
        let counters = mapping.counters
        counterSet.set(
            [counters.framesAccepted, counters.dropsGap, counters.dropsLate, counters.dropsInvalid, remaps].map {
                Int64(truncatingIfNeeded: $0)
            })
    }

    /// The stream consumed.
    public var streamId: UInt32 { grant.streamId }
    /// Consumer counters: accepted frames, `drops_gap`, `drops_late`, … across remaps.
    public var counters: ConsumerCounters { mapping.counters }

    /// Whether a zero-copy frame is still the committed content of its slot (see ``FrameReader/isStillValid(_:)``).
    public func isStillValid(_ frame: FrameView) -> Bool { mapping.reader?.isStillValid(frame) ?? false }

    /// Polls announces (remapping on a new epoch) and up to `fragmentLimit` descriptors, handing each accepted frame
    /// to `handler`. Returns the number of fragments read.
    public func poll<H: FrameHandling>(into handler: inout H, fragmentLimit: Int = 16) -> Int {
        var announceHandler = AnnounceHandler(consumer: self)
        var work = announces.poll(into: &announceHandler, fragmentLimit: 4)
        var descriptorHandler = DescriptorHandler(consumer: self, handler: handler)
        work += descriptors.poll(into: &descriptorHandler, fragmentLimit: fragmentLimit)
        handler = descriptorHandler.handler
        return work
    }

    struct AnnounceHandler: FragmentHandling {
        unowned let consumer: Consumer
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            consumer.onAnnounce(buffer)
        }
    }

    struct DescriptorHandler<H: FrameHandling>: FragmentHandling {
        unowned let consumer: Consumer
        var handler: H
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            guard let descriptor = try? WireSchema.FrameDescriptorDecoder(decodingHeaderOf: buffer) else { return }
            guard descriptor.streamId == consumer.grant.streamId else {
                consumer.otherStreams &+= 1
                return
            }
            if case .frame(let frame) = consumer.mapping.read(seq: descriptor.seq, epoch: descriptor.epoch),
                consumer.admit(descriptorTimestampNs: descriptor.timestampNs, slotTimestampNs: frame.timestampNs)
            {
                handler.onFrame(frame, consumer: consumer)
            }
        }
    }

    /// A `ShmPoolAnnounce` for this stream is soft state (§10.1.1): it is discarded when stale (older than the
    /// freshness window against the local clock of its domain, or, in the MONOTONIC domain, stamped before this
    /// consumer joined), and when its epoch is lower than the highest seen. A fresh one with another epoch than the
    /// mapped one remaps (M1 → M0 → M1, §15.21); the same epoch changes nothing. Other streams and schemas are skipped.
    func onAnnounce(_ buffer: UnsafeRawBufferPointer) {
        guard isActive, let decoder = try? WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer),
            decoder.streamId == grant.streamId
        else { return }
        guard
            Self.isFresh(
                timestampNs: decoder.announceTimestampNs, domain: decoder.announceClockDomain, joinTimeNs: joinTimeNs,
                windowNs: client.context.freshnessWindowNs),
            decoder.epoch >= highestEpoch
        else {
            staleAnnounces &+= 1
            return
        }
        highestEpoch = decoder.epoch
        guard decoder.epoch != mapping.reader?.epoch ?? 0 else { return }
        let announce = RegionAnnounce(decoder)  // allocates: once per epoch change, not per frame
        switch mapping.handle(announce, nowNs: UInt64(EpochNanoClock.now())) {
        case .mapped, .remapped: remaps &+= 1
        default: break
        }
    }

    /// The local rate gate of §11: descriptor timestamp, else slot timestamp (0 and the null value mean absent),
    /// else the local monotonic clock.
    func admit(descriptorTimestampNs: UInt64?, slotTimestampNs: UInt64) -> Bool {
        guard maxRateHz > 0 else { return true }
        let stamp: UInt64
        if let descriptorTimestampNs {
            stamp = descriptorTimestampNs
        } else if slotTimestampNs != 0 && slotTimestampNs != UInt64.max {
            stamp = slotTimestampNs
        } else {
            stamp = UInt64(MonotonicClock.now())
        }
        let period = 1_000_000_000 / UInt64(maxRateHz)
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

    /// The producer's lease ended: drop everything in flight and wait for the announce of the new epoch (§4.9).
    func producerRevoked() {
        mapping.unmap(.epochChanged)
    }

    /// This consumer's lease ended: stop using the regions.
    func leaseEnded() {
        isActive = false
        mapping.unmap(.requested)
    }

    /// Detaches the lease and releases the regions and subscriptions.
    public func close() {
        if isActive { _ = try? client.driver.detach(grant) }
        isActive = false
        mapping.unmap()
        descriptors.close()
        announces.close()
        refreshCounters()
        counterSet.close()
        client.forget(self)
    }
}
