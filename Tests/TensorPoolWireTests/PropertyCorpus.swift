// Valid encodings of every message, the seeds the mutation fuzzer starts from.
import SBE
import TensorPoolWire

/// One valid encoding and the decoder it belongs to.
struct PropertySeed {
    let label: String
    let decoder: any PropertyFuzzDecoder.Type
    let bytes: [UInt8]
}

/// Encodes with `body` into a buffer pre-filled with a byte pattern (so fields left unset hold varied values) and
/// returns the `MessageHeader.encodedLength + encodedLength` bytes `body` reports.
func propertyEncode(_ body: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> [UInt8] {
    var bytes = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 151 &+ 7) }
    let length = try bytes.withUnsafeMutableBytes { try body($0) }
    return Array(bytes.prefix(length))
}

/// Valid encodings of all 32 messages: for messages with groups or var data, a rich one (several entries, nested
/// groups, non-empty data) and an empty one (no entries, empty data).
func propertySeedCorpus() throws -> [PropertySeed] {
    let header = MessageHeader.encodedLength
    var seeds: [PropertySeed] = []
    func add(
        _ decoder: any PropertyFuzzDecoder.Type, _ variant: String,
        _ body: (UnsafeMutableRawBufferPointer) throws -> Int
    )
        rethrows
    {
        seeds.append(PropertySeed(label: "\(decoder) \(variant)", decoder: decoder, bytes: try propertyEncode(body)))
    }
    func text(_ rich: Bool, _ base: String) -> String { rich ? base : "" }

    for rich in [true, false] {
        let variant = rich ? "rich" : "empty"
        let n = rich ? 3 : 0

        // BridgeSchema
        try add(BridgeSchema.BridgeFrameChunkDecoder.self, variant) { b in
            var e = try BridgeSchema.BridgeFrameChunkEncoder.wrapAndApplyHeader(b)
            e.traceId = rich ? 77 : nil
            try e.headerBytes(text(rich, "tensor-header-bytes"))
            try e.payloadBytes(text(rich, String(repeating: "payload!", count: 9)))
            return header + e.encodedLength
        }

        // DiscoverySchema. Tags carry only their length field: their trailing bytes are a known, untested quirk.
        try add(DiscoverySchema.DiscoveryRequestDecoder.self, variant) { b in
            var e = try DiscoverySchema.DiscoveryRequestEncoder.wrapAndApplyHeader(b)
            e.streamId = rich ? 10_000 : nil
            try e.tags(count: n) { _, tag in tag.tagLength = 0 }
            try e.responseChannel(text(rich, "aeron:udp?endpoint=localhost:40123"))
            try e.dataSourceName(text(rich, "camera-0"))
            return header + e.encodedLength
        }
        try add(DiscoverySchema.DiscoveryResponseDecoder.self, variant) { b in
            var e = try DiscoverySchema.DiscoveryResponseEncoder.wrapAndApplyHeader(b)
            try e.results(count: rich ? 2 : 0) { index, result in
                result.dataSourceId = index == 0 ? nil : 5
                try result.payloadPools(count: index + 1) { pool, entry in
                    try entry.regionUri("shm:file?path=/dev/shm/pool\(pool)")
                }
                try result.tags(count: index) { _, tag in tag.tagLength = 0 }
                try result.headerRegionUri("shm:file?path=/dev/shm/header\(index)")
                try result.dataSourceName(index == 0 ? "" : "source")
                try result.driverInstanceId("driver-\(index)")
                try result.driverControlChannel("aeron:ipc")
            }
            try e.errorMessage(text(rich, "partial results"))
            return header + e.encodedLength
        }

        // DriverSchema
        if rich {
            try add(DriverSchema.ShmAttachRequestDecoder.self, variant) { b in
                let e = try DriverSchema.ShmAttachRequestEncoder.wrapAndApplyHeader(b)
                e.publishMode = nil
                return header + e.encodedLength
            }
            try add(DriverSchema.ShmDetachRequestDecoder.self, variant) { b in
                header + (try DriverSchema.ShmDetachRequestEncoder.wrapAndApplyHeader(b)).encodedLength
            }
            try add(DriverSchema.ShmLeaseKeepaliveDecoder.self, variant) { b in
                header + (try DriverSchema.ShmLeaseKeepaliveEncoder.wrapAndApplyHeader(b)).encodedLength
            }
        }
        try add(DriverSchema.ShmAttachResponseDecoder.self, variant) { b in
            var e = try DriverSchema.ShmAttachResponseEncoder.wrapAndApplyHeader(b)
            e.code = rich ? .ok : .rejected
            try e.payloadPools(count: n) { index, pool in
                pool.poolId = UInt16(index)
                try pool.regionUri(index == 1 ? "" : "shm:file?path=/dev/shm/pool\(index)")
            }
            try e.headerRegionUri(text(rich, "shm:file?path=/dev/shm/header"))
            try e.errorMessage(text(!rich, "no such stream"))
            return header + e.encodedLength
        }
        try add(DriverSchema.ShmDetachResponseDecoder.self, variant) { b in
            var e = try DriverSchema.ShmDetachResponseEncoder.wrapAndApplyHeader(b)
            try e.errorMessage(text(rich, "lease unknown"))
            return header + e.encodedLength
        }
        try add(DriverSchema.ShmDriverShutdownDecoder.self, variant) { b in
            var e = try DriverSchema.ShmDriverShutdownEncoder.wrapAndApplyHeader(b)
            try e.errorMessage(text(rich, "operator request"))
            return header + e.encodedLength
        }
        try add(DriverSchema.ShmLeaseRevokedDecoder.self, variant) { b in
            var e = try DriverSchema.ShmLeaseRevokedEncoder.wrapAndApplyHeader(b)
            try e.errorMessage(text(rich, "keepalive missed"))
            return header + e.encodedLength
        }
        try add(DriverSchema.ShmDriverShutdownRequestDecoder.self, variant) { b in
            var e = try DriverSchema.ShmDriverShutdownRequestEncoder.wrapAndApplyHeader(b)
            try e.token(text(rich, "s3cr3t-token"))
            try e.errorMessage(text(rich, "maintenance"))
            return header + e.encodedLength
        }

        // JoinBarrierSchema
        try add(JoinBarrierSchema.SequenceMergeMapAnnounceDecoder.self, variant) { b in
            var e = try JoinBarrierSchema.SequenceMergeMapAnnounceEncoder.wrapAndApplyHeader(b)
            try e.rules(count: n) { index, rule in
                rule.ruleType = index == 0 ? .offset : .window
                rule.offset = index == 0 ? -1 : nil
                rule.windowSize = index == 0 ? nil : 4
            }
            return header + e.encodedLength
        }
        try add(JoinBarrierSchema.TimestampMergeMapAnnounceDecoder.self, variant) { b in
            var e = try JoinBarrierSchema.TimestampMergeMapAnnounceEncoder.wrapAndApplyHeader(b)
            try e.rules(count: n) { index, rule in rule.offsetNs = index == 0 ? nil : -5 }
            return header + e.encodedLength
        }
        if rich {
            try add(JoinBarrierSchema.SequenceMergeMapRequestDecoder.self, variant) { b in
                header + (try JoinBarrierSchema.SequenceMergeMapRequestEncoder.wrapAndApplyHeader(b)).encodedLength
            }
            try add(JoinBarrierSchema.TimestampMergeMapRequestDecoder.self, variant) { b in
                header + (try JoinBarrierSchema.TimestampMergeMapRequestEncoder.wrapAndApplyHeader(b)).encodedLength
            }
        }

        // TraceLinkSchema
        try add(TraceLinkSchema.TraceLinkSetDecoder.self, variant) { b in
            var e = try TraceLinkSchema.TraceLinkSetEncoder.wrapAndApplyHeader(b)
            try e.parents(count: n) { index, parent in parent.traceId = UInt64(index) }
            return header + e.encodedLength
        }

        // WireSchema
        try add(WireSchema.ShmPoolAnnounceDecoder.self, variant) { b in
            var e = try WireSchema.ShmPoolAnnounceEncoder.wrapAndApplyHeader(b)
            try e.payloadPools(count: n) { index, pool in
                try pool.regionUri(index == 2 ? "" : "shm:file?path=/dev/shm/pool\(index)")
            }
            try e.headerRegionUri(text(rich, "shm:file?path=/dev/shm/header.ring"))
            return header + e.encodedLength
        }
        try add(WireSchema.ConsumerHelloDecoder.self, variant) { b in
            var e = try WireSchema.ConsumerHelloEncoder.wrapAndApplyHeader(b)
            e.progressIntervalUs = rich ? 250 : nil
            try e.descriptorChannel(text(rich, "aeron:ipc?term-length=64k"))
            try e.controlChannel(text(rich, "aeron:ipc"))
            return header + e.encodedLength
        }
        try add(WireSchema.ConsumerConfigDecoder.self, variant) { b in
            var e = try WireSchema.ConsumerConfigEncoder.wrapAndApplyHeader(b)
            try e.payloadFallbackUri(text(rich, "aeron:udp?endpoint=10.0.0.2:40000"))
            try e.descriptorChannel(text(rich, "aeron:ipc"))
            try e.controlChannel(text(rich, "aeron:ipc?alias=control"))
            return header + e.encodedLength
        }
        try add(WireSchema.SlotHeaderDecoder.self, variant) { b in
            var e = try WireSchema.SlotHeaderEncoder.wrapAndApplyHeader(b)
            if rich {
                // A TensorHeader with its own message header, as the schema intends.
                let tensor = try propertyEncode { t in
                    let tensor = try WireSchema.TensorHeaderEncoder.wrapAndApplyHeader(t)
                    tensor.ndims = 2
                    return header + tensor.encodedLength
                }
                try tensor.withUnsafeBytes { try e.headerBytes($0) }
            } else {
                try e.headerBytes("")
            }
            return header + e.encodedLength
        }
        try add(WireSchema.DataSourceAnnounceDecoder.self, variant) { b in
            var e = try WireSchema.DataSourceAnnounceEncoder.wrapAndApplyHeader(b)
            try e.name(text(rich, "camera-0"))
            try e.summary(text(rich, "uint8 1080x1920x3"))
            return header + e.encodedLength
        }
        try add(WireSchema.DataSourceMetaDecoder.self, variant) { b in
            var e = try WireSchema.DataSourceMetaEncoder.wrapAndApplyHeader(b)
            try e.attributes(count: n) { index, item in
                try item.key(index == 1 ? "" : "key\(index)")
                try item.format(index == 2 ? "" : "text/plain")
                try item.value(index == 0 ? "" : "value \(index)")
            }
            return header + e.encodedLength
        }
        try add(WireSchema.MetaBlobChunkDecoder.self, variant) { b in
            var e = try WireSchema.MetaBlobChunkEncoder.wrapAndApplyHeader(b)
            try e.bytes(text(rich, String(repeating: "blob", count: 16)))
            return header + e.encodedLength
        }
        try add(WireSchema.ControlResponseDecoder.self, variant) { b in
            var e = try WireSchema.ControlResponseEncoder.wrapAndApplyHeader(b)
            try e.errorMessage(text(rich, "bad request"))
            return header + e.encodedLength
        }
        if rich {
            try add(WireSchema.FrameDescriptorDecoder.self, variant) { b in
                let e = try WireSchema.FrameDescriptorEncoder.wrapAndApplyHeader(b)
                e.traceId = nil
                return header + e.encodedLength
            }
            try add(WireSchema.FrameProgressDecoder.self, variant) { b in
                header + (try WireSchema.FrameProgressEncoder.wrapAndApplyHeader(b)).encodedLength
            }
            try add(WireSchema.QosConsumerDecoder.self, variant) { b in
                header + (try WireSchema.QosConsumerEncoder.wrapAndApplyHeader(b)).encodedLength
            }
            try add(WireSchema.QosProducerDecoder.self, variant) { b in
                header + (try WireSchema.QosProducerEncoder.wrapAndApplyHeader(b)).encodedLength
            }
            try add(WireSchema.ShmRegionSuperblockDecoder.self, variant) { b in
                header + (try WireSchema.ShmRegionSuperblockEncoder.wrapAndApplyHeader(b)).encodedLength
            }
            try add(WireSchema.TensorHeaderDecoder.self, variant) { b in
                let e = try WireSchema.TensorHeaderEncoder.wrapAndApplyHeader(b)
                e.ndims = 3
                return header + e.encodedLength
            }
            try add(WireSchema.MetaBlobAnnounceDecoder.self, variant) { b in
                header + (try WireSchema.MetaBlobAnnounceEncoder.wrapAndApplyHeader(b)).encodedLength
            }
            try add(WireSchema.MetaBlobCompleteDecoder.self, variant) { b in
                header + (try WireSchema.MetaBlobCompleteEncoder.wrapAndApplyHeader(b)).encodedLength
            }
        }
    }
    return seeds
}

/// `seed` as a newer schema version could encode it: `rootExtra` unknown bytes after the root block and
/// `entryExtra(g)` after every entry block of the g-th group met in schema order, with the block lengths in the
/// message header and group headers raised to match. Nil when the seed does not decode or a length would overflow.
func propertyWiden(_ seed: PropertySeed, rootExtra: Int, entryExtra: (Int) -> Int) -> [UInt8]? {
    func widen<D: PropertyFuzzDecoder>(_ type: D.Type) -> [UInt8]? {
        guard let (decoder, recorder) = propertyRead(type, seed.bytes) else { return nil }
        let blockEnd = MessageHeader.encodedLength + decoder.actingBlockLength
        var bytes = seed.bytes
        func setLength(_ length: Int, at offset: Int) -> Bool {
            guard let value = UInt16(exactly: length) else { return false }
            bytes[offset] = UInt8(truncatingIfNeeded: value)
            bytes[offset + 1] = UInt8(truncatingIfNeeded: value >> 8)
            return true
        }
        var insertions: [(at: Int, count: Int)] = [(blockEnd, rootExtra)]
        guard setLength(decoder.actingBlockLength + rootExtra, at: 0) else { return nil }
        let groupHeaders = Array(Set(recorder.entryBlocks.map(\.groupHeader))).sorted()
        for entry in recorder.entryBlocks {
            let extra = entryExtra(groupHeaders.firstIndex(of: entry.groupHeader)!)
            guard setLength(entry.length + extra, at: blockEnd + entry.groupHeader) else { return nil }
            insertions.append((blockEnd + entry.start + entry.length, extra))
        }
        for insertion in insertions.sorted(by: { $0.at > $1.at }) {
            let filler = (0..<insertion.count).map { UInt8(truncatingIfNeeded: 0xA0 &+ $0 &* 29) }
            bytes.insert(contentsOf: filler, at: insertion.at)
        }
        return bytes
    }
    return widen(seed.decoder)
}

/// How much longer `propertyWidenedSeeds` makes the root block and each group's entry blocks.
typealias PropertyWidth = (root: Int, entry: (Int) -> Int)

/// The seeds re-encoded with longer blocks, as a newer schema version would: the fuzzer's second corpus.
func propertyWidenedSeeds(
    _ seeds: [PropertySeed],
    widths: [PropertyWidth] = [(1, { _ in 1 }), (0, { g in g % 4 + 2 }), (13, { _ in 0 })]
) -> [PropertySeed] {
    seeds.flatMap { seed in
        widths.compactMap { width in
            propertyWiden(seed, rootExtra: width.root, entryExtra: width.entry).map {
                PropertySeed(label: "\(seed.label) widened +\(width.root)", decoder: seed.decoder, bytes: $0)
            }
        }
    }
}
