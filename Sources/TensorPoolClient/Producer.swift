public import Aeron
import Agents
public import DriverClient
import SBE
public import TensorPoolSHM
import TensorPoolWire

/// The outcome of publishing a frame.
public enum PublishOutcome: Equatable, Sendable {
    /// Committed in SHM and its `FrameDescriptor` appended to the descriptor stream.
    case published(seq: UInt64)
    /// Committed in SHM; the descriptor was not appended (no subscriber, back pressure, closed). Consumers will see
    /// the sequence gap (the frame is not retried: v1.2 has no back pressure, wire spec §15.4).
    case descriptorNotSent(seq: UInt64, OfferResult)
}

/// A producer's handle on one stream: its lease, its writable regions and its descriptor publication (wire spec
/// §10.2, §15.18; driver spec §2.2).
///
/// Publish by copy with ``offer(_:tensor:timestampNs:metaVersion:)``, or zero copy with ``tryClaim(length:)``,
/// writing into the claim's payload, then ``commit(_:tensor:timestampNs:metaVersion:)``. Sequences start at 0 in
/// every epoch. Nothing here allocates per frame.
public final class Producer {
    /// The lease and regions the driver granted.
    public let grant: LeaseGrant
    /// The regions, mapped writable.
    public let regions: StreamRegions
    /// Frames published (descriptor sent).
    public private(set) var framesPublished: UInt64 = 0
    /// Frames committed whose descriptor could not be sent.
    public private(set) var descriptorsNotSent: UInt64 = 0
    /// Whether the lease is still held; a revoked producer refuses to publish (driver spec §4.9).
    public private(set) var isActive = true

    unowned let client: TensorPoolClient
    let writer: FrameWriter
    let publication: Publication
    var nextSeq: UInt64 = 0
    let scratch: UnsafeMutableRawBufferPointer
    let counterSet: CounterSet

    init(client: TensorPoolClient, grant: LeaseGrant) throws(TensorPoolClientError) {
        self.client = client
        self.grant = grant
        do {
            regions = try StreamRegions.map(
                grant.regions, policy: client.policy, writable: true, nowNs: UInt64(EpochNanoClock.now()),
                freshnessWindowNs: client.context.freshnessWindowNs)
        } catch {
            throw .regions(error)
        }
        writer = FrameWriter(regions: regions)
        do {
            publication = try client.aeron.addPublication(
                channel: client.context.descriptorChannel, streamId: client.context.descriptorStreamId)
        } catch {
            regions.unmap()
            throw .aeron(error)
        }
        scratch = .allocate(byteCount: 64, alignment: 8)
        counterSet = CounterSet(
            aeron: client.aeron, streamId: grant.streamId, leaseId: grant.leaseId, clientId: grant.clientId,
            role: "producer",
            types: [
                (TensorPoolCounterType.framesPublished, "frames published"),
                (TensorPoolCounterType.descriptorsNotSent, "descriptors not sent"),
            ])
    }

    /// Copies the statistics into the Aeron counters.
    func refreshCounters() {
        counterSet.set([Int64(truncatingIfNeeded: framesPublished), Int64(truncatingIfNeeded: descriptorsNotSent)])
    }

    deinit { scratch.deallocate() }

    /// The stream published to.
    public var streamId: UInt32 { grant.streamId }
    /// The epoch of the mapped regions.
    public var epoch: UInt64 { grant.epoch }
    /// Whether some consumer subscribes to the descriptor stream (frames published while none does are committed
    /// in SHM but announced to nobody).
    public var hasSubscribers: Bool { publication.isConnected }

    /// The sequence the next frame gets.
    public var sequence: UInt64 { nextSeq }

    /// Claims the slot of the next sequence for `length` bytes (zero copy): write into the claim's payload, then
    /// ``commit(_:tensor:timestampNs:metaVersion:)``.
    public func tryClaim(length: Int) throws(PublishError) -> SlotClaim {
        guard isActive else { throw .unmapped }
        return try writer.claim(seq: nextSeq, length: length)
    }

    /// Commits a claimed slot (header, then `seq_commit`) and only then sends its `FrameDescriptor` (§10.2.1).
    public func commit(
        _ claim: SlotClaim, tensor: TensorDescriptor, timestampNs: UInt64, metaVersion: UInt32 = 0,
        valuesLength: Int? = nil
    ) throws(PublishError) -> PublishOutcome {
        guard isActive else { throw .unmapped }
        try writer.commit(
            claim, tensor: tensor, timestampNs: timestampNs, metaVersion: metaVersion, valuesLength: valuesLength)
        nextSeq = claim.seq &+ 1
        return sendDescriptor(seq: claim.seq, metaVersion: metaVersion)
    }

    /// Copies `bytes` into the next slot and publishes it.
    public func offer(
        _ bytes: UnsafeRawBufferPointer, tensor: TensorDescriptor, timestampNs: UInt64, metaVersion: UInt32 = 0
    ) throws(PublishError) -> PublishOutcome {
        let claim = try tryClaim(length: bytes.count)
        if let source = bytes.baseAddress, bytes.count > 0 {
            claim.payload.baseAddress!.copyMemory(from: source, byteCount: bytes.count)
        }
        return try commit(claim, tensor: tensor, timestampNs: timestampNs, metaVersion: metaVersion)
    }

    func sendDescriptor(seq: UInt64, metaVersion: UInt32) -> PublishOutcome {
        // The encoder over a fixed scratch buffer cannot fail: 8 + 40 bytes fit in 64.
        guard let encoder = try? WireSchema.FrameDescriptorEncoder.wrapAndApplyHeader(scratch) else {
            return .descriptorNotSent(seq: seq, .error(code: -1))
        }
        encoder.streamId = grant.streamId
        encoder.epoch = grant.epoch
        encoder.seq = seq
        encoder.timestampNs = nil  // the slot carries the capture time; the publish time only when asked (§10.2.1)
        encoder.metaVersion = metaVersion
        encoder.traceId = nil
        let message = UnsafeRawBufferPointer(
            rebasing: scratch[0..<(MessageHeader.encodedLength + encoder.encodedLength)])
        let result = offerRetrying(publication, message)
        if case .success = result {
            framesPublished &+= 1
            return .published(seq: seq)
        }
        descriptorsNotSent &+= 1
        return .descriptorNotSent(seq: seq, result)
    }

    /// The lease ended (revoked, expired, driver gone): stop publishing and unmap.
    func leaseEnded() {
        isActive = false
        regions.unmap()
    }

    /// Detaches the lease and releases the regions and the publication.
    public func close() {
        if isActive { _ = try? client.driver.detach(grant) }
        isActive = false
        regions.unmap()
        publication.close()
        refreshCounters()
        counterSet.close()
        client.forget(self)
    }
}
