public import DriverConfig

/// Hands out stream ids from an inclusive range (driver spec §11), lowest free first; ids come back on release.
public struct StreamIdAllocator: Hashable, Sendable {
    /// The range, or `nil` when none is configured.
    public let range: StreamIdRange?
    /// Ids currently handed out.
    public private(set) var inUse: Set<UInt32> = []

    /// An allocator over `range`.
    public init(range: StreamIdRange?) { self.range = range }

    /// The lowest free id, now in use; `nil` when the range is unset or exhausted.
    public mutating func allocate() -> UInt32? {
        guard let range else { return nil }
        var id = range.lower
        while true {
            if !inUse.contains(id) {
                inUse.insert(id)
                return id
            }
            if id == range.upper { return nil }
            id += 1
        }
    }

    /// Returns `id` to the pool.
    public mutating func release(_ id: UInt32) { inUse.remove(id) }
}

/// The driver's answer to a consumer's request for a private descriptor or control stream (§11, Wire §10.1.3).
public enum PerConsumerStreamGrant: Hashable, Sendable {
    /// A private stream id from the configured range.
    case granted(streamId: UInt32)
    /// No range is configured: the request is declined and the consumer uses the shared stream (DRV-11-006).
    case sharedFallback(streamId: Int32, channel: String)
    /// The range has no free id: declined with an empty channel and stream id 0 (DRV-11-007).
    case exhausted
}

/// Which per-consumer stream.
public enum PerConsumerStreamKind: Hashable, Sendable {
    /// `descriptor_stream_id_range`.
    case descriptor
    /// `control_stream_id_range`.
    case control
}

extension DriverCore {
    /// Allocates a private stream for the consumer holding `leaseId` (released when that lease ends), or says how
    /// the request is declined. `sharedStreamId`/`sharedChannel` are the stream the consumer falls back to.
    public func allocatePerConsumerStream(
        _ kind: PerConsumerStreamKind, leaseId: UInt64, sharedStreamId: Int32, sharedChannel: String
    ) -> PerConsumerStreamGrant {
        let configured =
            kind == .descriptor
            ? configuration.driver.descriptorStreamIdRange : configuration.driver.controlStreamIdRange
        guard configured != nil else { return .sharedFallback(streamId: sharedStreamId, channel: sharedChannel) }
        guard leases[leaseId] != nil else { return .exhausted }
        let id: UInt32?
        switch kind {
        case .descriptor: id = descriptorStreams.allocate()
        case .control: id = controlStreams.allocate()
        }
        guard let id else { return .exhausted }
        perConsumerStreams[leaseId, default: []].append((kind, id))
        return .granted(streamId: id)
    }

    /// Releases the per-consumer streams of a lease that ended.
    func releasePerConsumerStreams(of leaseId: UInt64) {
        for (kind, id) in perConsumerStreams.removeValue(forKey: leaseId) ?? [] {
            switch kind {
            case .descriptor: descriptorStreams.release(id)
            case .control: controlStreams.release(id)
            }
        }
    }
}
