import SBE
import TensorPoolWire
import Testing

// Golden vectors of schema 904 (Specs/schemas/trace-link.xml): its one message, hand-computed from the schema.

extension GoldenVector {
    static var traceLink: [GoldenVector] { [GoldenTraceLink.traceLinkSet, GoldenTraceLink.traceLinkSetNoParents] }
}

enum GoldenTraceLink {
    static let parentTraceIds: [UInt64] = [0x4142_4344_4546_4748, 0x5152_5354_5556_5758, 1]

    // MARK: TraceLinkSet (template 1, block 28, parents entry 8)

    static let traceLinkSet = GoldenVector(
        "TraceLinkSet", schemaId: 904, templateId: 1, blockLength: 28,
        fixture: goldenBytes([
            "1c 00 01 00 88 03 01 00",  // messageHeader: blockLength 28, templateId 1, schemaId 904, version 1
            "04 03 02 01",  // +0 streamId
            "18 17 16 15 14 13 12 11",  // +4 epoch
            "28 27 26 25 24 23 22 21",  // +12 seq
            "38 37 36 35 34 33 32 31",  // +20 traceId
            "08 00 03 00",  // parents: groupSizeEncoding blockLength 8, numInGroup 3
            "48 47 46 45 44 43 42 41",  // parents[0]+0 traceId
            "58 57 56 55 54 53 52 51",  // parents[1]+0 traceId
            "01 00 00 00 00 00 00 00",  // parents[2]+0 traceId
        ]),
        encode: { buffer in
            var encoder = try TraceLinkSchema.TraceLinkSetEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.epoch = 0x1112_1314_1516_1718
            encoder.seq = 0x2122_2324_2526_2728
            encoder.traceId = 0x3132_3334_3536_3738
            try encoder.parents(count: 3) { index, parent in parent.traceId = parentTraceIds[index] }
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try TraceLinkSchema.TraceLinkSetDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.seq == 0x2122_2324_2526_2728)
            #expect(decoder.traceId == 0x3132_3334_3536_3738)
            var parents = decoder.parents
            #expect(parents.count == 3)
            #expect(parents.actingBlockLength == 8)
            var seen: [UInt64] = []
            while parents.next() { seen.append(parents.traceId) }
            #expect(seen == parentTraceIds)
            return decoder.limit
        })

    static let traceLinkSetNoParents = GoldenVector(
        "TraceLinkSet, no parents", schemaId: 904, templateId: 1, blockLength: 28,
        fixture: goldenBytes([
            "1c 00 01 00 88 03 01 00",  // messageHeader: blockLength 28, templateId 1, schemaId 904, version 1
            "01 00 00 00",  // +0 streamId
            "02 00 00 00 00 00 00 00",  // +4 epoch
            "03 00 00 00 00 00 00 00",  // +12 seq
            "04 00 00 00 00 00 00 00",  // +20 traceId
            "08 00 00 00",  // parents: groupSizeEncoding blockLength 8, numInGroup 0
        ]),
        encode: { buffer in
            var encoder = try TraceLinkSchema.TraceLinkSetEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 1
            encoder.epoch = 2
            encoder.seq = 3
            encoder.traceId = 4
            try encoder.parents(count: 0) { _, _ in Issue.record("no entries to write") }
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try TraceLinkSchema.TraceLinkSetDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 1)
            #expect(decoder.epoch == 2)
            #expect(decoder.seq == 3)
            #expect(decoder.traceId == 4)
            var parents = decoder.parents
            #expect(parents.count == 0)
            expectNoMoreEntries(parents.next())
            return decoder.limit
        })
}
