import SBE
import TensorPoolSHM
import TensorPoolWire

/// Error texts longer than this are cut (driver spec §4.2, DRV-4.2-040/041).
public let maxErrorMessageBytes = 1024

/// `text` cut to at most `limit` bytes of UTF-8, never inside a character.
public func truncatedErrorMessage(_ text: String, limit: Int = maxErrorMessageBytes) -> String {
    guard text.utf8.count > limit else { return text }
    var count = 0
    var scalars = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        let width = UTF8.width(scalar)
        if count + width > limit { break }
        count += width
        scalars.append(scalar)
    }
    return String(scalars)
}

extension DriverCore {
    /// Encodes into the scratch buffer with `body` and hands the bytes to `send`.
    func emit(
        _ send: (UnsafeRawBufferPointer) -> Bool,
        _ body: (UnsafeMutableRawBufferPointer) throws -> Int
    ) {
        let sent: Bool = scratch.withUnsafeMutableBytes { buffer in
            do {
                let length = try body(buffer)
                return send(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
            } catch {
                logger.error("encoding failed", metadata: ["error": "\(error)"])
                return false
            }
        }
        if !sent { counters.sendFailures &+= 1 }
    }

    /// A non-OK attach response: correlation id and code, every optional field at its null value, the error text.
    func refuse(_ correlation: Int64, _ code: DriverSchema.ResponseCode, _ message: String) {
        counters.attachesRefused &+= 1
        logger.info(
            "attach refused", metadata: ["correlation": "\(correlation)", "code": "\(code)", "why": "\(message)"])
        emit(output.sendControl) { buffer in
            var encoder = try DriverSchema.ShmAttachResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = correlation
            encoder.code = code
            encoder.leaseId = nil
            encoder.leaseExpiryTimestampNs = nil
            encoder.streamId = nil
            encoder.epoch = nil
            encoder.layoutVersion = nil
            encoder.headerNslots = nil
            encoder.headerSlotBytes = nil
            encoder.nodeId = nil
            try encoder.payloadPools(count: 0) { _, _ in }
            try encoder.headerRegionUri("")
            try encoder.errorMessage(truncatedErrorMessage(message))
            return MessageHeader.encodedLength + encoder.encodedLength
        }
    }

    /// An OK attach response with every required field, the pools and the URIs the driver announces (§4.2, §8).
    func sendAttachOK(_ correlation: Int64, lease: Lease, stream: StreamState) {
        guard let regions = stream.regions else { return }
        let announce = regions.announce
        let expiry = lease.expiresAtNs  // the driver's own deadline, on CLOCK_MONOTONIC like the peers'
        emit(output.sendControl) { buffer in
            var encoder = try DriverSchema.ShmAttachResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = correlation
            encoder.code = .ok
            encoder.leaseId = lease.id
            encoder.leaseExpiryTimestampNs = expiry
            encoder.streamId = stream.streamId
            encoder.epoch = stream.epoch
            encoder.layoutVersion = ShmLayout.layoutVersion
            encoder.headerNslots = announce.headerNslots
            encoder.headerSlotBytes = UInt16(ShmLayout.headerSlotBytes)
            encoder.nodeId = lease.nodeId
            try encoder.payloadPools(count: announce.pools.count) { index, entry in
                let pool = announce.pools[index]
                entry.poolId = pool.poolId
                entry.poolNslots = pool.nslots
                entry.strideBytes = pool.strideBytes
                try entry.regionUri(pool.regionURI)
            }
            try encoder.headerRegionUri(announce.headerRegionURI)
            try encoder.errorMessage("")
            return MessageHeader.encodedLength + encoder.encodedLength
        }
    }

    func sendDetachResponse(_ correlation: Int64, _ code: DriverSchema.ResponseCode, _ message: String) {
        emit(output.sendControl) { buffer in
            var encoder = try DriverSchema.ShmDetachResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = correlation
            encoder.code = code
            try encoder.errorMessage(truncatedErrorMessage(message))
            return MessageHeader.encodedLength + encoder.encodedLength
        }
    }

    func sendRevoked(_ lease: Lease, reason: DriverSchema.LeaseRevokeReason, message: String) {
        counters.revocationsSent &+= 1
        let now = clock.monotonicNs()
        emit(output.sendControl) { buffer in
            var encoder = try DriverSchema.ShmLeaseRevokedEncoder.wrapAndApplyHeader(buffer)
            encoder.timestampNs = now
            encoder.leaseId = lease.id
            encoder.streamId = lease.streamId
            encoder.clientId = lease.clientId
            encoder.role = lease.role
            encoder.reason = reason
            try encoder.errorMessage(truncatedErrorMessage(message))
            return MessageHeader.encodedLength + encoder.encodedLength
        }
    }

    func sendShutdown(reason: DriverSchema.ShutdownReason) {
        let now = clock.monotonicNs()
        emit(output.sendControl) { buffer in
            var encoder = try DriverSchema.ShmDriverShutdownEncoder.wrapAndApplyHeader(buffer)
            encoder.timestampNs = now
            encoder.reason = reason
            try encoder.errorMessage("")
            return MessageHeader.encodedLength + encoder.encodedLength
        }
    }

    /// Publishes the `ShmPoolAnnounce` of a stream (producer id = the attached producer's client id, or 0, §8) and
    /// refreshes the regions' activity timestamps (the driver keeps the liveness, §3). The announce timestamp and the
    /// activity timestamps are the same CLOCK_MONOTONIC reading.
    func announce(_ streamId: UInt32) {
        guard var stream = streams[streamId], let regions = stream.regions else { return }
        let now = clock.monotonicNs()
        regions.refreshActivity(nowNs: now)
        let producerId = stream.producerLeaseId.flatMap { leases[$0]?.clientId } ?? 0
        let announce = regions.announce
        emit(output.sendAnnounce) { buffer in
            var encoder = try WireSchema.ShmPoolAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = streamId
            encoder.producerId = producerId
            encoder.epoch = stream.epoch
            encoder.announceTimestampNs = now
            encoder.announceClockDomain = .monotonic
            encoder.layoutVersion = ShmLayout.layoutVersion
            encoder.headerNslots = announce.headerNslots
            encoder.headerSlotBytes = UInt16(ShmLayout.headerSlotBytes)
            try encoder.payloadPools(count: announce.pools.count) { index, entry in
                let pool = announce.pools[index]
                entry.poolId = pool.poolId
                entry.poolNslots = pool.nslots
                entry.strideBytes = pool.strideBytes
                try entry.regionUri(pool.regionURI)
            }
            try encoder.headerRegionUri(announce.headerRegionURI)
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        counters.announcesSent &+= 1
        stream.lastAnnounceNs = now
        streams[streamId] = stream
    }
}
