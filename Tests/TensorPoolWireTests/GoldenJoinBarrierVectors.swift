import SBE
import TensorPoolWire
import Testing

// Golden vectors of schema 903 (Specs/schemas/join-barrier.xml): all 4 messages, hand-computed from the schema. The
// signed optional fields use the most negative value as null (`offset` 0x80000000, `offsetNs` 0x8000000000000000).

extension GoldenVector {
    static var joinBarrier: [GoldenVector] {
        [
            GoldenJoinBarrier.sequenceMergeMapAnnounce, GoldenJoinBarrier.sequenceMergeMapAnnounceEmpty,
            GoldenJoinBarrier.sequenceMergeMapRequest, GoldenJoinBarrier.timestampMergeMapAnnounce,
            GoldenJoinBarrier.timestampMergeMapRequest,
        ]
    }
}

enum GoldenJoinBarrier {
    // MARK: SequenceMergeMapAnnounce (template 1, block 20, rules entry 13)

    /// Two rules, each with the optional field that does not apply to its type absent.
    static let sequenceMergeMapAnnounce = GoldenVector(
        "SequenceMergeMapAnnounce", schemaId: 903, templateId: 1, blockLength: 20,
        fixture: goldenBytes([
            "14 00 01 00 87 03 01 00",  // messageHeader: blockLength 20, templateId 1, schemaId 903, version 1
            "04 03 02 01",  // +0 outStreamId
            "18 17 16 15 14 13 12 11",  // +4 epoch
            "28 27 26 25 24 23 22 21",  // +12 staleTimeoutNs
            "0d 00 02 00",  // rules: groupSizeEncoding blockLength 13, numInGroup 2
            "34 33 32 31",  // rules[0]+0 inputStreamId
            "00",  // rules[0]+4 ruleType (OFFSET)
            "ff ff ff ff",  // rules[0]+5 offset (-1)
            "ff ff ff ff",  // rules[0]+9 windowSize (null)
            "44 43 42 41",  // rules[1]+0 inputStreamId
            "01",  // rules[1]+4 ruleType (WINDOW)
            "00 00 00 80",  // rules[1]+5 offset (null: -2147483648)
            "04 00 00 00",  // rules[1]+9 windowSize
        ]),
        encode: { buffer in
            var encoder = try JoinBarrierSchema.SequenceMergeMapAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.outStreamId = 0x0102_0304
            encoder.epoch = 0x1112_1314_1516_1718
            encoder.staleTimeoutNs = 0x2122_2324_2526_2728
            try encoder.rules(count: 2) { index, rule in
                if index == 0 {
                    rule.inputStreamId = 0x3132_3334
                    rule.ruleType = .offset
                    rule.offset = -1
                    rule.windowSize = nil
                } else {
                    rule.inputStreamId = 0x4142_4344
                    rule.ruleType = .window
                    rule.offset = nil
                    rule.windowSize = 4
                }
            }
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try JoinBarrierSchema.SequenceMergeMapAnnounceDecoder(decodingHeaderOf: buffer)
            #expect(decoder.outStreamId == 0x0102_0304)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.staleTimeoutNs == 0x2122_2324_2526_2728)
            var rules = decoder.rules
            #expect(rules.count == 2)
            #expect(rules.actingBlockLength == 13)
            try requireEntry(rules.next())
            #expect(rules.inputStreamId == 0x3132_3334)
            #expect(rules.ruleType == .offset)
            #expect(rules.offset == -1)
            #expect(rules.windowSize == nil)
            try requireEntry(rules.next())
            #expect(rules.inputStreamId == 0x4142_4344)
            #expect(rules.ruleType == .window)
            #expect(rules.offset == nil)
            #expect(rules.windowSize == 4)
            expectNoMoreEntries(rules.next())
            return decoder.limit
        })

    static let sequenceMergeMapAnnounceEmpty = GoldenVector(
        "SequenceMergeMapAnnounce, no rules", schemaId: 903, templateId: 1, blockLength: 20,
        fixture: goldenBytes([
            "14 00 01 00 87 03 01 00",  // messageHeader: blockLength 20, templateId 1, schemaId 903, version 1
            "01 00 00 00",  // +0 outStreamId
            "02 00 00 00 00 00 00 00",  // +4 epoch
            "ff ff ff ff ff ff ff ff",  // +12 staleTimeoutNs (null)
            "0d 00 00 00",  // rules: groupSizeEncoding blockLength 13, numInGroup 0
        ]),
        encode: { buffer in
            var encoder = try JoinBarrierSchema.SequenceMergeMapAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.outStreamId = 1
            encoder.epoch = 2
            encoder.staleTimeoutNs = nil
            try encoder.rules(count: 0) { _, _ in Issue.record("no entries to write") }
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try JoinBarrierSchema.SequenceMergeMapAnnounceDecoder(decodingHeaderOf: buffer)
            #expect(decoder.outStreamId == 1)
            #expect(decoder.epoch == 2)
            #expect(decoder.staleTimeoutNs == nil)
            var rules = decoder.rules
            #expect(rules.count == 0)
            expectNoMoreEntries(rules.next())
            return decoder.limit
        })

    // MARK: SequenceMergeMapRequest (template 2, block 12)

    static let sequenceMergeMapRequest = GoldenVector(
        "SequenceMergeMapRequest", schemaId: 903, templateId: 2, blockLength: 12,
        fixture: goldenBytes([
            "0c 00 02 00 87 03 01 00",  // messageHeader: blockLength 12, templateId 2, schemaId 903, version 1
            "04 03 02 01",  // +0 outStreamId
            "18 17 16 15 14 13 12 11",  // +4 epoch
        ]),
        encode: { buffer in
            let encoder = try JoinBarrierSchema.SequenceMergeMapRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.outStreamId = 0x0102_0304
            encoder.epoch = 0x1112_1314_1516_1718
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try JoinBarrierSchema.SequenceMergeMapRequestDecoder(decodingHeaderOf: buffer)
            #expect(decoder.outStreamId == 0x0102_0304)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            return decoder.limit
        })

    // MARK: TimestampMergeMapAnnounce (template 3, block 29, rules entry 22)

    static let timestampMergeMapAnnounce = GoldenVector(
        "TimestampMergeMapAnnounce", schemaId: 903, templateId: 3, blockLength: 29,
        fixture: goldenBytes([
            "1d 00 03 00 87 03 01 00",  // messageHeader: blockLength 29, templateId 3, schemaId 903, version 1
            "04 03 02 01",  // +0 outStreamId
            "18 17 16 15 14 13 12 11",  // +4 epoch
            "ff ff ff ff ff ff ff ff",  // +12 staleTimeoutNs (null)
            "02",  // +20 clockDomain (REALTIME_SYNCED)
            "28 27 26 25 24 23 22 21",  // +21 latenessNs
            "16 00 02 00",  // rules: groupSizeEncoding blockLength 22, numInGroup 2
            "34 33 32 31",  // rules[0]+0 inputStreamId
            "00",  // rules[0]+4 ruleType (OFFSET_NS)
            "01",  // rules[0]+5 timestampSource (FRAME_DESCRIPTOR)
            "c0 bd f0 ff ff ff ff ff",  // rules[0]+6 offsetNs (-1000000)
            "ff ff ff ff ff ff ff ff",  // rules[0]+14 windowNs (null)
            "44 43 42 41",  // rules[1]+0 inputStreamId
            "01",  // rules[1]+4 ruleType (WINDOW_NS)
            "02",  // rules[1]+5 timestampSource (SLOT_HEADER)
            "00 00 00 00 00 00 00 80",  // rules[1]+6 offsetNs (null: -9223372036854775808)
            "58 57 56 55 54 53 52 51",  // rules[1]+14 windowNs
        ]),
        encode: { buffer in
            var encoder = try JoinBarrierSchema.TimestampMergeMapAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.outStreamId = 0x0102_0304
            encoder.epoch = 0x1112_1314_1516_1718
            encoder.staleTimeoutNs = nil
            encoder.clockDomain = .realtimeSynced
            encoder.latenessNs = 0x2122_2324_2526_2728
            try encoder.rules(count: 2) { index, rule in
                if index == 0 {
                    rule.inputStreamId = 0x3132_3334
                    rule.ruleType = .offsetNs
                    rule.timestampSource = .frameDescriptor
                    rule.offsetNs = -1_000_000
                    rule.windowNs = nil
                } else {
                    rule.inputStreamId = 0x4142_4344
                    rule.ruleType = .windowNs
                    rule.timestampSource = .slotHeader
                    rule.offsetNs = nil
                    rule.windowNs = 0x5152_5354_5556_5758
                }
            }
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try JoinBarrierSchema.TimestampMergeMapAnnounceDecoder(decodingHeaderOf: buffer)
            #expect(decoder.outStreamId == 0x0102_0304)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.staleTimeoutNs == nil)
            #expect(decoder.clockDomain == .realtimeSynced)
            #expect(decoder.latenessNs == 0x2122_2324_2526_2728)
            var rules = decoder.rules
            #expect(rules.count == 2)
            #expect(rules.actingBlockLength == 22)
            try requireEntry(rules.next())
            #expect(rules.inputStreamId == 0x3132_3334)
            #expect(rules.ruleType == .offsetNs)
            #expect(rules.timestampSource == .frameDescriptor)
            #expect(rules.offsetNs == -1_000_000)
            #expect(rules.windowNs == nil)
            try requireEntry(rules.next())
            #expect(rules.inputStreamId == 0x4142_4344)
            #expect(rules.ruleType == .windowNs)
            #expect(rules.timestampSource == .slotHeader)
            #expect(rules.offsetNs == nil)
            #expect(rules.windowNs == 0x5152_5354_5556_5758)
            expectNoMoreEntries(rules.next())
            return decoder.limit
        })

    // MARK: TimestampMergeMapRequest (template 4, block 12)

    static let timestampMergeMapRequest = GoldenVector(
        "TimestampMergeMapRequest", schemaId: 903, templateId: 4, blockLength: 12,
        fixture: goldenBytes([
            "0c 00 04 00 87 03 01 00",  // messageHeader: blockLength 12, templateId 4, schemaId 903, version 1
            "04 03 02 01",  // +0 outStreamId
            "18 17 16 15 14 13 12 11",  // +4 epoch
        ]),
        encode: { buffer in
            let encoder = try JoinBarrierSchema.TimestampMergeMapRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.outStreamId = 0x0102_0304
            encoder.epoch = 0x1112_1314_1516_1718
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try JoinBarrierSchema.TimestampMergeMapRequestDecoder(decodingHeaderOf: buffer)
            #expect(decoder.outStreamId == 0x0102_0304)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            return decoder.limit
        })
}
