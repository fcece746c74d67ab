// The fuzzer's view of every generated decoder: one "touch everything" function per message, reading every field,
// iterating every group (nested ones too) and reading every var-data field in schema order.
import SBE
import TensorPoolWire

/// Every message decoder of the six schemas.
nonisolated(unsafe) let propertyAllDecoders: [any PropertyFuzzDecoder.Type] = [
    BridgeSchema.BridgeFrameChunkDecoder.self,
    DiscoverySchema.DiscoveryRequestDecoder.self,
    DiscoverySchema.DiscoveryResponseDecoder.self,
    DriverSchema.ShmAttachRequestDecoder.self,
    DriverSchema.ShmAttachResponseDecoder.self,
    DriverSchema.ShmDetachRequestDecoder.self,
    DriverSchema.ShmDetachResponseDecoder.self,
    DriverSchema.ShmLeaseKeepaliveDecoder.self,
    DriverSchema.ShmDriverShutdownDecoder.self,
    DriverSchema.ShmLeaseRevokedDecoder.self,
    DriverSchema.ShmDriverShutdownRequestDecoder.self,
    JoinBarrierSchema.SequenceMergeMapAnnounceDecoder.self,
    JoinBarrierSchema.SequenceMergeMapRequestDecoder.self,
    JoinBarrierSchema.TimestampMergeMapAnnounceDecoder.self,
    JoinBarrierSchema.TimestampMergeMapRequestDecoder.self,
    TraceLinkSchema.TraceLinkSetDecoder.self,
    WireSchema.ShmPoolAnnounceDecoder.self,
    WireSchema.ConsumerHelloDecoder.self,
    WireSchema.ConsumerConfigDecoder.self,
    WireSchema.FrameDescriptorDecoder.self,
    WireSchema.FrameProgressDecoder.self,
    WireSchema.QosConsumerDecoder.self,
    WireSchema.QosProducerDecoder.self,
    WireSchema.ShmRegionSuperblockDecoder.self,
    WireSchema.SlotHeaderDecoder.self,
    WireSchema.TensorHeaderDecoder.self,
    WireSchema.DataSourceAnnounceDecoder.self,
    WireSchema.DataSourceMetaDecoder.self,
    WireSchema.MetaBlobAnnounceDecoder.self,
    WireSchema.MetaBlobChunkDecoder.self,
    WireSchema.MetaBlobCompleteDecoder.self,
    WireSchema.ControlResponseDecoder.self,
]

// MARK: - Reading fixed fields of any type

/// A fixed field value the toucher can fold in: integers, optionals of them, and enums (by raw value). Each integer
/// type folds itself without generics, which keeps the debug build fast.
protocol PropertyTouchable {
    func touch(_ t: inout PropertyToucher)
}

extension UInt8: PropertyTouchable { func touch(_ t: inout PropertyToucher) { t.mix(UInt64(self)) } }
extension UInt16: PropertyTouchable { func touch(_ t: inout PropertyToucher) { t.mix(UInt64(self)) } }
extension UInt32: PropertyTouchable { func touch(_ t: inout PropertyToucher) { t.mix(UInt64(self)) } }
extension UInt64: PropertyTouchable { func touch(_ t: inout PropertyToucher) { t.mix(self) } }
extension Int16: PropertyTouchable { func touch(_ t: inout PropertyToucher) { t.mix(UInt64(bitPattern: Int64(self))) } }
extension Int32: PropertyTouchable { func touch(_ t: inout PropertyToucher) { t.mix(UInt64(bitPattern: Int64(self))) } }
extension Int64: PropertyTouchable { func touch(_ t: inout PropertyToucher) { t.mix(UInt64(bitPattern: self)) } }

extension Optional: PropertyTouchable where Wrapped: PropertyTouchable {
    func touch(_ t: inout PropertyToucher) {
        if let value = self { value.touch(&t) } else { t.mix(0xEE) }
    }
}

protocol PropertyTouchableEnum: PropertyTouchable, RawRepresentable where RawValue: PropertyTouchable {}

extension PropertyTouchableEnum {
    func touch(_ t: inout PropertyToucher) { rawValue.touch(&t) }
}

extension BridgeSchema.Bool: PropertyTouchableEnum {}
extension DiscoverySchema.DiscoveryStatus: PropertyTouchableEnum {}
extension DriverSchema.Role: PropertyTouchableEnum {}
extension DriverSchema.PublishMode: PropertyTouchableEnum {}
extension DriverSchema.HugepagesPolicy: PropertyTouchableEnum {}
extension DriverSchema.ResponseCode: PropertyTouchableEnum {}
extension DriverSchema.LeaseRevokeReason: PropertyTouchableEnum {}
extension DriverSchema.ShutdownReason: PropertyTouchableEnum {}
extension JoinBarrierSchema.ClockDomain: PropertyTouchableEnum {}
extension JoinBarrierSchema.TimestampSource: PropertyTouchableEnum {}
extension JoinBarrierSchema.MergeRuleType: PropertyTouchableEnum {}
extension JoinBarrierSchema.MergeTimeRuleType: PropertyTouchableEnum {}
extension WireSchema.Bool: PropertyTouchableEnum {}
extension WireSchema.Mode: PropertyTouchableEnum {}
extension WireSchema.FrameProgressState: PropertyTouchableEnum {}
extension WireSchema.ProgressUnit: PropertyTouchableEnum {}
extension WireSchema.ResponseCode: PropertyTouchableEnum {}
extension WireSchema.ClockDomain: PropertyTouchableEnum {}
extension WireSchema.RegionType: PropertyTouchableEnum {}
extension WireSchema.Dtype: PropertyTouchableEnum {}
extension WireSchema.MajorOrder: PropertyTouchableEnum {}

extension PropertyToucher {
    /// Reads each of `values`.
    mutating func read<each T: PropertyTouchable>(_ values: repeat each T) {
        repeat (each values).touch(&self)
    }
}

// MARK: - Groups

extension DiscoverySchema.DiscoveryRequestDecoder.TagsDecoder: PropertyFuzzGroup {}
extension DiscoverySchema.DiscoveryResponseDecoder.ResultsDecoder: PropertyFuzzGroup {}
extension DiscoverySchema.DiscoveryResponseDecoder.ResultsDecoder.PayloadPoolsDecoder: PropertyFuzzGroup {}
extension DiscoverySchema.DiscoveryResponseDecoder.ResultsDecoder.TagsDecoder: PropertyFuzzGroup {}
extension DriverSchema.ShmAttachResponseDecoder.PayloadPoolsDecoder: PropertyFuzzGroup {}
extension JoinBarrierSchema.SequenceMergeMapAnnounceDecoder.RulesDecoder: PropertyFuzzGroup {}
extension JoinBarrierSchema.TimestampMergeMapAnnounceDecoder.RulesDecoder: PropertyFuzzGroup {}
extension TraceLinkSchema.TraceLinkSetDecoder.ParentsDecoder: PropertyFuzzGroup {}
extension WireSchema.ShmPoolAnnounceDecoder.PayloadPoolsDecoder: PropertyFuzzGroup {}
extension WireSchema.DataSourceMetaDecoder.AttributesDecoder: PropertyFuzzGroup {}

// MARK: - BridgeSchema

extension BridgeSchema.BridgeFrameChunkDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { BridgeSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, epoch, seq, traceId, chunkIndex, chunkCount, chunkOffset, chunkLength)
        t.read(payloadLength, payloadCrc32c, headerIncluded)
        t.data(headerBytes, headerBytesString, "headerBytes")
        if headerBytes.count > 256 { t.problem("headerBytes longer than its maximum of 256") }
        t.data(payloadBytes, payloadBytesString, "payloadBytes", messageLimit: limit)
    }
}

// MARK: - DiscoverySchema

extension DiscoverySchema.DiscoveryRequestDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { DiscoverySchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(requestId, clientId, responseStreamId, streamId, producerId, dataSourceId)
        // How the tag bytes after each entry's length are laid out is a known quirk of the schema: only the length
        // field is read, and the tags' extent is not checked.
        t.group("tags", tags, layoutKnown: false) { t, tag in t.read(tag.tagLength) }
        t.data(responseChannel, responseChannelString, "responseChannel")
        t.data(dataSourceName, dataSourceNameString, "dataSourceName", messageLimit: limit)
    }
}

extension DiscoverySchema.DiscoveryResponseDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { DiscoverySchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(requestId, status)
        t.group("results", results) { t, r in
            t.read(r.streamId, r.producerId, r.epoch, r.layoutVersion, r.headerNslots, r.headerSlotBytes, r.maxDims)
            t.read(r.dataSourceId, r.driverControlStreamId)
            t.group("results.payloadPools", r.payloadPools) { t, pool in
                t.read(pool.poolId, pool.poolNslots, pool.strideBytes)
                t.data(pool.regionUri, pool.regionUriString, "results.payloadPools.regionUri")
            }
            t.group("results.tags", r.tags, layoutKnown: false) { t, tag in t.read(tag.tagLength) }
            t.data(r.headerRegionUri, r.headerRegionUriString, "results.headerRegionUri")
            t.data(r.dataSourceName, r.dataSourceNameString, "results.dataSourceName")
            t.data(r.driverInstanceId, r.driverInstanceIdString, "results.driverInstanceId")
            t.data(r.driverControlChannel, r.driverControlChannelString, "results.driverControlChannel")
        }
        t.data(errorMessage, errorMessageString, "errorMessage", messageLimit: limit)
    }
}

// MARK: - DriverSchema

extension DriverSchema.ShmAttachRequestDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { DriverSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(correlationId, streamId, clientId, role, expectedLayoutVersion, publishMode, requireHugepages)
        t.read(desiredNodeId)
    }
}

extension DriverSchema.ShmAttachResponseDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { DriverSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(correlationId, code, leaseId, leaseExpiryTimestampNs, streamId, epoch, layoutVersion, headerNslots)
        t.read(headerSlotBytes, nodeId)
        t.group("payloadPools", payloadPools) { t, pool in
            t.read(pool.poolId, pool.poolNslots, pool.strideBytes)
            t.data(pool.regionUri, pool.regionUriString, "payloadPools.regionUri")
        }
        t.data(headerRegionUri, headerRegionUriString, "headerRegionUri")
        t.data(errorMessage, errorMessageString, "errorMessage", messageLimit: limit)
    }
}

extension DriverSchema.ShmDetachRequestDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { DriverSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(correlationId, leaseId, streamId, clientId, role)
    }
}

extension DriverSchema.ShmDetachResponseDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { DriverSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(correlationId, code)
        t.data(errorMessage, errorMessageString, "errorMessage", messageLimit: limit)
    }
}

extension DriverSchema.ShmLeaseKeepaliveDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { DriverSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(leaseId, streamId, clientId, role, clientTimestampNs)
    }
}

extension DriverSchema.ShmDriverShutdownDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { DriverSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(timestampNs, reason)
        t.data(errorMessage, errorMessageString, "errorMessage", messageLimit: limit)
    }
}

extension DriverSchema.ShmLeaseRevokedDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { DriverSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(timestampNs, leaseId, streamId, clientId, role, reason)
        t.data(errorMessage, errorMessageString, "errorMessage", messageLimit: limit)
    }
}

extension DriverSchema.ShmDriverShutdownRequestDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { DriverSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(correlationId, reason)
        t.data(token, tokenString, "token")
        t.data(errorMessage, errorMessageString, "errorMessage", messageLimit: limit)
    }
}

// MARK: - JoinBarrierSchema

extension JoinBarrierSchema.SequenceMergeMapAnnounceDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { JoinBarrierSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(outStreamId, epoch, staleTimeoutNs)
        t.group("rules", rules) { t, rule in t.read(rule.inputStreamId, rule.ruleType, rule.offset, rule.windowSize) }
    }
}

extension JoinBarrierSchema.SequenceMergeMapRequestDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { JoinBarrierSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(outStreamId, epoch)
    }
}

extension JoinBarrierSchema.TimestampMergeMapAnnounceDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { JoinBarrierSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(outStreamId, epoch, staleTimeoutNs, clockDomain, latenessNs)
        t.group("rules", rules) { t, rule in
            t.read(rule.inputStreamId, rule.ruleType, rule.timestampSource, rule.offsetNs, rule.windowNs)
        }
    }
}

extension JoinBarrierSchema.TimestampMergeMapRequestDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { JoinBarrierSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(outStreamId, epoch)
    }
}

// MARK: - TraceLinkSchema

extension TraceLinkSchema.TraceLinkSetDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { TraceLinkSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, epoch, seq, traceId)
        t.group("parents", parents) { t, parent in t.read(parent.traceId) }
    }
}

// MARK: - WireSchema

extension WireSchema.ShmPoolAnnounceDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, producerId, epoch, announceTimestampNs, announceClockDomain, layoutVersion, headerNslots)
        t.read(headerSlotBytes)
        t.group("payloadPools", payloadPools) { t, pool in
            t.read(pool.poolId, pool.poolNslots, pool.strideBytes)
            t.data(pool.regionUri, pool.regionUriString, "payloadPools.regionUri")
        }
        t.data(headerRegionUri, headerRegionUriString, "headerRegionUri", messageLimit: limit)
    }
}

extension WireSchema.ConsumerHelloDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, consumerId, supportsShm, supportsProgress, mode, maxRateHz, expectedLayoutVersion)
        t.read(progressIntervalUs, progressBytesDelta, progressMajorDeltaUnits, descriptorStreamId, controlStreamId)
        t.data(descriptorChannel, descriptorChannelString, "descriptorChannel")
        t.data(controlChannel, controlChannelString, "controlChannel", messageLimit: limit)
    }
}

extension WireSchema.ConsumerConfigDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, consumerId, useShm, mode, descriptorStreamId, controlStreamId)
        t.data(payloadFallbackUri, payloadFallbackUriString, "payloadFallbackUri")
        t.data(descriptorChannel, descriptorChannelString, "descriptorChannel")
        t.data(controlChannel, controlChannelString, "controlChannel", messageLimit: limit)
    }
}

extension WireSchema.FrameDescriptorDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, epoch, seq, timestampNs, metaVersion, traceId)
    }
}

extension WireSchema.FrameProgressDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, epoch, seq, payloadBytesFilled, state)
    }
}

extension WireSchema.QosConsumerDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, consumerId, epoch, lastSeqSeen, dropsGap, dropsLate, mode)
    }
}

extension WireSchema.QosProducerDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, producerId, epoch, currentSeq, watermark)
    }
}

extension WireSchema.ShmRegionSuperblockDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(magic, layoutVersion, epoch, streamId, regionType, poolId, nslots, slotBytes, strideBytes, pid)
        t.read(startTimestampNs, activityTimestampNs)
    }
}

extension WireSchema.SlotHeaderDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(seqCommit, valuesLenBytes, payloadSlot, poolId, payloadOffset, timestampNs, metaVersion)
        for index in 0..<Self.padLength { t.read(pad(index)) }
        t.fixedBytes(padBytes, "pad")
        t.data(headerBytes, headerBytesString, "headerBytes", messageLimit: limit)
    }
}

extension WireSchema.TensorHeaderDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(dtype, majorOrder, ndims, padAlign, progressUnit, progressStrideBytes)
        for index in 0..<Self.dimsLength { t.read(dims(index), strides(index)) }
        for index in 0..<Self.padLength { t.read(pad(index)) }
        t.fixedBytes(dimsBytes, "dims")
        t.fixedBytes(stridesBytes, "strides")
        t.fixedBytes(padBytes, "pad")
    }
}

extension WireSchema.DataSourceAnnounceDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, producerId, epoch, metaVersion)
        t.data(name, nameString, "name")
        t.data(summary, summaryString, "summary", messageLimit: limit)
    }
}

extension WireSchema.DataSourceMetaDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, metaVersion, timestampNs)
        t.group("attributes", attributes) { t, item in
            t.data(item.key, item.keyString, "attributes.key")
            t.data(item.format, item.formatString, "attributes.format")
            t.data(item.value, item.valueString, "attributes.value")
        }
    }
}

extension WireSchema.MetaBlobAnnounceDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, metaVersion, blobType, totalLen, checksum)
    }
}

extension WireSchema.MetaBlobChunkDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, metaVersion, chunkOffset)
        t.data(bytes, bytesString, "bytes", messageLimit: limit)
    }
}

extension WireSchema.MetaBlobCompleteDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(streamId, metaVersion, checksum)
    }
}

extension WireSchema.ControlResponseDecoder: PropertyFuzzDecoder {
    static var schemaId: UInt16 { WireSchema.id }
    func touch(_ t: inout PropertyToucher) {
        t.read(correlationId, code)
        t.data(errorMessage, errorMessageString, "errorMessage", messageLimit: limit)
    }
}
