import SBE
import TensorPoolWire
import Testing

// Golden vectors of schema 900 (Specs/schemas/wire.xml): all 16 messages, hand-computed from the schema.

extension GoldenVector {
    static var wire: [GoldenVector] {
        [
            GoldenWire.shmPoolAnnounce, GoldenWire.shmPoolAnnounceNoPools, GoldenWire.shmPoolAnnounceLongerBlocks,
            GoldenWire.consumerHello, GoldenWire.consumerHelloAbsent, GoldenWire.consumerConfig,
            GoldenWire.frameDescriptor, GoldenWire.frameDescriptorAbsent, GoldenWire.frameDescriptorLongerBlock,
            GoldenWire.frameProgress, GoldenWire.qosConsumer, GoldenWire.qosProducer, GoldenWire.qosProducerAbsent,
            GoldenWire.shmRegionSuperblock, GoldenWire.slotHeader, GoldenWire.tensorHeaderMaxDims,
            GoldenWire.dataSourceAnnounce, GoldenWire.dataSourceMeta, GoldenWire.dataSourceMetaEmpty,
            GoldenWire.controlResponse, GoldenWire.controlResponseEmpty, GoldenWire.metaBlobAnnounce,
            GoldenWire.metaBlobChunk, GoldenWire.metaBlobComplete,
        ]
    }
}

enum GoldenWire {
    // MARK: ShmPoolAnnounce (template 1, block 35, payloadPools entry 10)

    static let shmPoolAnnounce = GoldenVector(
        "ShmPoolAnnounce", schemaId: 900, templateId: 1, blockLength: 35,
        fixture: goldenBytes([
            "23 00 01 00 84 03 01 00",  // messageHeader: blockLength 35, templateId 1, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 producerId
            "18 17 16 15 14 13 12 11",  // +8 epoch
            "28 27 26 25 24 23 22 21",  // +16 announceTimestampNs
            "02",  // +24 announceClockDomain (REALTIME_SYNCED)
            "34 33 32 31",  // +25 layoutVersion
            "44 43 42 41",  // +29 headerNslots
            "00 01",  // +33 headerSlotBytes (256)
            "0a 00 02 00",  // payloadPools: groupSizeEncoding blockLength 10, numInGroup 2
            "52 51",  // pool[0]+0 poolId
            "56 55 54 53",  // pool[0]+2 poolNslots
            "5a 59 58 57",  // pool[0]+6 strideBytes
            "0a 00 00 00",  // pool[0] regionUri: length 10
            "73 68 6d 3a 2f 70 6f 6f 6c 31",  // pool[0] regionUri: "shm:/pool1"
            "62 61",  // pool[1]+0 poolId
            "66 65 64 63",  // pool[1]+2 poolNslots
            "6a 69 68 67",  // pool[1]+6 strideBytes
            "00 00 00 00",  // pool[1] regionUri: length 0
            "0b 00 00 00",  // headerRegionUri: length 11
            "73 68 6d 3a 2f 68 65 61 64 65 72",  // headerRegionUri: "shm:/header"
        ]),
        encode: { buffer in
            var encoder = try WireSchema.ShmPoolAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.producerId = 0x0506_0708
            encoder.epoch = 0x1112_1314_1516_1718
            encoder.announceTimestampNs = 0x2122_2324_2526_2728
            encoder.announceClockDomain = .realtimeSynced
            encoder.layoutVersion = 0x3132_3334
            encoder.headerNslots = 0x4142_4344
            encoder.headerSlotBytes = 256
            try encoder.payloadPools(count: 2) { index, pool in
                if index == 0 {
                    pool.poolId = 0x5152
                    pool.poolNslots = 0x5354_5556
                    pool.strideBytes = 0x5758_595A
                    try pool.regionUri("shm:/pool1")
                } else {
                    pool.poolId = 0x6162
                    pool.poolNslots = 0x6364_6566
                    pool.strideBytes = 0x6768_696A
                    try pool.regionUri("")
                }
            }
            try encoder.headerRegionUri("shm:/header")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer)
            #expect(decoder.actingBlockLength == 35)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.producerId == 0x0506_0708)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.announceTimestampNs == 0x2122_2324_2526_2728)
            #expect(decoder.announceClockDomain == .realtimeSynced)
            #expect(decoder.layoutVersion == 0x3132_3334)
            #expect(decoder.headerNslots == 0x4142_4344)
            #expect(decoder.headerSlotBytes == 256)
            var pools = decoder.payloadPools
            #expect(pools.count == 2)
            #expect(pools.actingBlockLength == 10)
            try requireEntry(pools.next())
            #expect(pools.poolId == 0x5152)
            #expect(pools.poolNslots == 0x5354_5556)
            #expect(pools.strideBytes == 0x5758_595A)
            #expect(pools.regionUriString == "shm:/pool1")
            try requireEntry(pools.next())
            #expect(pools.poolId == 0x6162)
            #expect(pools.poolNslots == 0x6364_6566)
            #expect(pools.strideBytes == 0x6768_696A)
            #expect(pools.regionUri.isEmpty)
            expectNoMoreEntries(pools.next())
            #expect(decoder.headerRegionUriString == "shm:/header")
            return decoder.limit
        })

    /// Empty group (count 0) and empty var data.
    static let shmPoolAnnounceNoPools = GoldenVector(
        "ShmPoolAnnounce, no pools", schemaId: 900, templateId: 1, blockLength: 35,
        fixture: goldenBytes([
            "23 00 01 00 84 03 01 00",  // messageHeader: blockLength 35, templateId 1, schemaId 900, version 1
            "07 00 00 00",  // +0 streamId
            "08 00 00 00",  // +4 producerId
            "09 00 00 00 00 00 00 00",  // +8 epoch
            "0a 00 00 00 00 00 00 00",  // +16 announceTimestampNs
            "01",  // +24 announceClockDomain (MONOTONIC)
            "01 00 00 00",  // +25 layoutVersion
            "40 00 00 00",  // +29 headerNslots
            "00 01",  // +33 headerSlotBytes
            "0a 00 00 00",  // payloadPools: groupSizeEncoding blockLength 10, numInGroup 0
            "00 00 00 00",  // headerRegionUri: length 0
        ]),
        encode: { buffer in
            var encoder = try WireSchema.ShmPoolAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 7
            encoder.producerId = 8
            encoder.epoch = 9
            encoder.announceTimestampNs = 10
            encoder.announceClockDomain = .monotonic
            encoder.layoutVersion = 1
            encoder.headerNslots = 64
            encoder.headerSlotBytes = 256
            try encoder.payloadPools(count: 0) { _, _ in Issue.record("no entries to write") }
            try encoder.headerRegionUri("")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 7)
            #expect(decoder.producerId == 8)
            #expect(decoder.epoch == 9)
            #expect(decoder.announceTimestampNs == 10)
            #expect(decoder.announceClockDomain == .monotonic)
            #expect(decoder.layoutVersion == 1)
            #expect(decoder.headerNslots == 64)
            #expect(decoder.headerSlotBytes == 256)
            var pools = decoder.payloadPools
            #expect(pools.count == 0)
            expectNoMoreEntries(pools.next())
            #expect(decoder.headerRegionUri.isEmpty)
            #expect(decoder.headerRegionUriString == "")
            return decoder.limit
        })

    /// A newer peer's encoding: the header says the root block is 40 bytes (5 more than version 1's 35) and the group
    /// header says each pool entry is 13 bytes (3 more than 10). The decoder must skip the extra bytes.
    static let shmPoolAnnounceLongerBlocks = GoldenVector(
        "ShmPoolAnnounce, larger acting block lengths", schemaId: 900, templateId: 1, blockLength: 40,
        fixture: goldenBytes([
            "28 00 01 00 84 03 01 00",  // messageHeader: blockLength 40, templateId 1, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 producerId
            "18 17 16 15 14 13 12 11",  // +8 epoch
            "28 27 26 25 24 23 22 21",  // +16 announceTimestampNs
            "01",  // +24 announceClockDomain (MONOTONIC)
            "34 33 32 31",  // +25 layoutVersion
            "44 43 42 41",  // +29 headerNslots
            "00 01",  // +33 headerSlotBytes (256)
            "ee ee ee ee ee",  // +35 five bytes of a newer version's root block, skipped
            "0d 00 02 00",  // payloadPools: groupSizeEncoding blockLength 13, numInGroup 2
            "52 51",  // pool[0]+0 poolId
            "56 55 54 53",  // pool[0]+2 poolNslots
            "5a 59 58 57",  // pool[0]+6 strideBytes
            "dd dd dd",  // pool[0]+10 bytes of a newer entry block, skipped
            "0a 00 00 00",  // pool[0] regionUri: length 10
            "73 68 6d 3a 2f 70 6f 6f 6c 31",  // pool[0] regionUri: "shm:/pool1"
            "62 61",  // pool[1]+0 poolId
            "66 65 64 63",  // pool[1]+2 poolNslots
            "6a 69 68 67",  // pool[1]+6 strideBytes
            "dd dd dd",  // pool[1]+10 bytes of a newer entry block, skipped
            "0a 00 00 00",  // pool[1] regionUri: length 10
            "73 68 6d 3a 2f 70 6f 6f 6c 32",  // pool[1] regionUri: "shm:/pool2"
            "0b 00 00 00",  // headerRegionUri: length 11
            "73 68 6d 3a 2f 68 65 61 64 65 72",  // headerRegionUri: "shm:/header"
        ]),
        encode: nil,
        decode: { buffer in
            let decoder = try WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer)
            #expect(decoder.actingBlockLength == 40)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.producerId == 0x0506_0708)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.announceTimestampNs == 0x2122_2324_2526_2728)
            #expect(decoder.announceClockDomain == .monotonic)
            #expect(decoder.layoutVersion == 0x3132_3334)
            #expect(decoder.headerNslots == 0x4142_4344)
            #expect(decoder.headerSlotBytes == 256)
            var pools = decoder.payloadPools
            #expect(pools.count == 2)
            #expect(pools.actingBlockLength == 13)
            try requireEntry(pools.next())
            #expect(pools.poolId == 0x5152)
            #expect(pools.poolNslots == 0x5354_5556)
            #expect(pools.strideBytes == 0x5758_595A)
            #expect(pools.regionUriString == "shm:/pool1")
            try requireEntry(pools.next())
            #expect(pools.poolId == 0x6162)
            #expect(pools.poolNslots == 0x6364_6566)
            #expect(pools.strideBytes == 0x6768_696A)
            #expect(pools.regionUriString == "shm:/pool2")
            expectNoMoreEntries(pools.next())
            #expect(decoder.headerRegionUriString == "shm:/header")
            return decoder.limit
        })

    // MARK: ConsumerHello (template 2, block 39)

    static let consumerHello = GoldenVector(
        "ConsumerHello", schemaId: 900, templateId: 2, blockLength: 39,
        fixture: goldenBytes([
            "27 00 02 00 84 03 01 00",  // messageHeader: blockLength 39, templateId 2, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 consumerId
            "01",  // +8 supportsShm (TRUE)
            "00",  // +9 supportsProgress (FALSE)
            "02",  // +10 mode (RATE_LIMITED)
            "14 13 12 11",  // +11 maxRateHz
            "24 23 22 21",  // +15 expectedLayoutVersion
            "34 33 32 31",  // +19 progressIntervalUs
            "44 43 42 41",  // +23 progressBytesDelta
            "54 53 52 51",  // +27 progressMajorDeltaUnits
            "64 63 62 61",  // +31 descriptorStreamId
            "74 73 72 71",  // +35 controlStreamId
            "09 00 00 00",  // descriptorChannel: length 9
            "61 65 72 6f 6e 3a 69 70 63",  // descriptorChannel: "aeron:ipc"
            "16 00 00 00",  // controlChannel: length 22
            "61 65 72 6f 6e 3a 75 64 70 3f 65 6e 64 70 6f 69",  // controlChannel: "aeron:udp?endpoi"
            "6e 74 3d 68 3a 34",  // controlChannel: "nt=h:4"
        ]),
        encode: { buffer in
            var encoder = try WireSchema.ConsumerHelloEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.consumerId = 0x0506_0708
            encoder.supportsShm = .true
            encoder.supportsProgress = .false
            encoder.mode = .rateLimited
            encoder.maxRateHz = 0x1112_1314
            encoder.expectedLayoutVersion = 0x2122_2324
            encoder.progressIntervalUs = 0x3132_3334
            encoder.progressBytesDelta = 0x4142_4344
            encoder.progressMajorDeltaUnits = 0x5152_5354
            encoder.descriptorStreamId = 0x6162_6364
            encoder.controlStreamId = 0x7172_7374
            try encoder.descriptorChannel("aeron:ipc")
            try encoder.controlChannel("aeron:udp?endpoint=h:4")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.ConsumerHelloDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.consumerId == 0x0506_0708)
            #expect(decoder.supportsShm == .true)
            #expect(decoder.supportsProgress == .false)
            #expect(decoder.mode == .rateLimited)
            #expect(decoder.maxRateHz == 0x1112_1314)
            #expect(decoder.expectedLayoutVersion == 0x2122_2324)
            #expect(decoder.progressIntervalUs == 0x3132_3334)
            #expect(decoder.progressBytesDelta == 0x4142_4344)
            #expect(decoder.progressMajorDeltaUnits == 0x5152_5354)
            #expect(decoder.descriptorStreamId == 0x6162_6364)
            #expect(decoder.controlStreamId == 0x7172_7374)
            #expect(decoder.descriptorChannelString == "aeron:ipc")
            #expect(decoder.controlChannelString == "aeron:udp?endpoint=h:4")
            return decoder.limit
        })

    /// Optional fields absent (null sentinels) and both var-data fields empty.
    static let consumerHelloAbsent = GoldenVector(
        "ConsumerHello, optionals absent", schemaId: 900, templateId: 2, blockLength: 39,
        fixture: goldenBytes([
            "27 00 02 00 84 03 01 00",  // messageHeader: blockLength 39, templateId 2, schemaId 900, version 1
            "0b 00 00 00",  // +0 streamId
            "0c 00 00 00",  // +4 consumerId
            "00",  // +8 supportsShm (FALSE)
            "01",  // +9 supportsProgress (TRUE)
            "01",  // +10 mode (STREAM)
            "00 00 00 00",  // +11 maxRateHz
            "01 00 00 00",  // +15 expectedLayoutVersion
            "ff ff ff ff",  // +19 progressIntervalUs (null)
            "ff ff ff ff",  // +23 progressBytesDelta (null)
            "ff ff ff ff",  // +27 progressMajorDeltaUnits (null)
            "00 00 00 00",  // +31 descriptorStreamId
            "00 00 00 00",  // +35 controlStreamId
            "00 00 00 00",  // descriptorChannel: length 0
            "00 00 00 00",  // controlChannel: length 0
        ]),
        encode: { buffer in
            var encoder = try WireSchema.ConsumerHelloEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 11
            encoder.consumerId = 12
            encoder.supportsShm = .false
            encoder.supportsProgress = .true
            encoder.mode = .stream
            encoder.maxRateHz = 0
            encoder.expectedLayoutVersion = 1
            encoder.progressIntervalUs = nil
            encoder.progressBytesDelta = nil
            encoder.progressMajorDeltaUnits = nil
            encoder.descriptorStreamId = 0
            encoder.controlStreamId = 0
            try encoder.descriptorChannel("")
            try encoder.controlChannel("")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.ConsumerHelloDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 11)
            #expect(decoder.consumerId == 12)
            #expect(decoder.supportsShm == .false)
            #expect(decoder.supportsProgress == .true)
            #expect(decoder.mode == .stream)
            #expect(decoder.maxRateHz == 0)
            #expect(decoder.expectedLayoutVersion == 1)
            #expect(decoder.progressIntervalUs == nil)
            #expect(decoder.progressBytesDelta == nil)
            #expect(decoder.progressMajorDeltaUnits == nil)
            #expect(decoder.descriptorStreamId == 0)
            #expect(decoder.controlStreamId == 0)
            #expect(decoder.descriptorChannel.isEmpty)
            #expect(decoder.controlChannel.isEmpty)
            return decoder.limit
        })

    // MARK: ConsumerConfig (template 3, block 18)

    static let consumerConfig = GoldenVector(
        "ConsumerConfig", schemaId: 900, templateId: 3, blockLength: 18,
        fixture: goldenBytes([
            "12 00 03 00 84 03 01 00",  // messageHeader: blockLength 18, templateId 3, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 consumerId
            "01",  // +8 useShm (TRUE)
            "02",  // +9 mode (RATE_LIMITED)
            "14 13 12 11",  // +10 descriptorStreamId
            "24 23 22 21",  // +14 controlStreamId
            "08 00 00 00",  // payloadFallbackUri: length 8
            "62 72 69 64 67 65 3a 37",  // payloadFallbackUri: "bridge:7"
            "00 00 00 00",  // descriptorChannel: length 0
            "09 00 00 00",  // controlChannel: length 9
            "61 65 72 6f 6e 3a 69 70 63",  // controlChannel: "aeron:ipc"
        ]),
        encode: { buffer in
            var encoder = try WireSchema.ConsumerConfigEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.consumerId = 0x0506_0708
            encoder.useShm = .true
            encoder.mode = .rateLimited
            encoder.descriptorStreamId = 0x1112_1314
            encoder.controlStreamId = 0x2122_2324
            try encoder.payloadFallbackUri("bridge:7")
            try encoder.descriptorChannel("")
            try encoder.controlChannel("aeron:ipc")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.ConsumerConfigDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.consumerId == 0x0506_0708)
            #expect(decoder.useShm == .true)
            #expect(decoder.mode == .rateLimited)
            #expect(decoder.descriptorStreamId == 0x1112_1314)
            #expect(decoder.controlStreamId == 0x2122_2324)
            #expect(decoder.payloadFallbackUriString == "bridge:7")
            #expect(decoder.descriptorChannel.isEmpty)
            #expect(decoder.controlChannelString == "aeron:ipc")
            return decoder.limit
        })

    // MARK: FrameDescriptor (template 4, block 40)

    static let frameDescriptor = GoldenVector(
        "FrameDescriptor", schemaId: 900, templateId: 4, blockLength: 40,
        fixture: goldenBytes([
            "28 00 04 00 84 03 01 00",  // messageHeader: blockLength 40, templateId 4, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "18 17 16 15 14 13 12 11",  // +4 epoch
            "28 27 26 25 24 23 22 21",  // +12 seq
            "38 37 36 35 34 33 32 31",  // +20 timestampNs
            "44 43 42 41",  // +28 metaVersion
            "58 57 56 55 54 53 52 51",  // +32 traceId
        ]),
        encode: { buffer in
            let encoder = try WireSchema.FrameDescriptorEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.epoch = 0x1112_1314_1516_1718
            encoder.seq = 0x2122_2324_2526_2728
            encoder.timestampNs = 0x3132_3334_3536_3738
            encoder.metaVersion = 0x4142_4344
            encoder.traceId = 0x5152_5354_5556_5758
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.FrameDescriptorDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.seq == 0x2122_2324_2526_2728)
            #expect(decoder.timestampNs == 0x3132_3334_3536_3738)
            #expect(decoder.metaVersion == 0x4142_4344)
            #expect(decoder.traceId == 0x5152_5354_5556_5758)
            return decoder.limit
        })

    /// Every optional field absent: all-ones sentinels, except `traceId` whose `nullValue` is 0.
    static let frameDescriptorAbsent = GoldenVector(
        "FrameDescriptor, optionals absent", schemaId: 900, templateId: 4, blockLength: 40,
        fixture: goldenBytes([
            "28 00 04 00 84 03 01 00",  // messageHeader: blockLength 40, templateId 4, schemaId 900, version 1
            "01 00 00 00",  // +0 streamId
            "02 00 00 00 00 00 00 00",  // +4 epoch
            "03 00 00 00 00 00 00 00",  // +12 seq
            "ff ff ff ff ff ff ff ff",  // +20 timestampNs (null: all ones)
            "ff ff ff ff",  // +28 metaVersion (null: all ones)
            "00 00 00 00 00 00 00 00",  // +32 traceId (null: nullValue="0")
        ]),
        encode: { buffer in
            let encoder = try WireSchema.FrameDescriptorEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 1
            encoder.epoch = 2
            encoder.seq = 3
            encoder.timestampNs = nil
            encoder.metaVersion = nil
            encoder.traceId = nil
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.FrameDescriptorDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 1)
            #expect(decoder.epoch == 2)
            #expect(decoder.seq == 3)
            #expect(decoder.timestampNs == nil)
            #expect(decoder.metaVersion == nil)
            #expect(decoder.traceId == nil)
            return decoder.limit
        })

    /// A newer peer's 48-byte root block: the 8 bytes past version 1's 40 are skipped.
    static let frameDescriptorLongerBlock = GoldenVector(
        "FrameDescriptor, larger acting block length", schemaId: 900, templateId: 4, blockLength: 48,
        fixture: goldenBytes([
            "30 00 04 00 84 03 01 00",  // messageHeader: blockLength 48, templateId 4, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "18 17 16 15 14 13 12 11",  // +4 epoch
            "28 27 26 25 24 23 22 21",  // +12 seq
            "38 37 36 35 34 33 32 31",  // +20 timestampNs
            "44 43 42 41",  // +28 metaVersion
            "58 57 56 55 54 53 52 51",  // +32 traceId
            "f0 f1 f2 f3 f4 f5 f6 f7",  // +40 eight bytes of a newer version's root block, skipped
        ]),
        encode: nil,
        decode: { buffer in
            let decoder = try WireSchema.FrameDescriptorDecoder(decodingHeaderOf: buffer)
            #expect(decoder.actingBlockLength == 48)
            #expect(decoder.encodedLength == 48)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.seq == 0x2122_2324_2526_2728)
            #expect(decoder.timestampNs == 0x3132_3334_3536_3738)
            #expect(decoder.metaVersion == 0x4142_4344)
            #expect(decoder.traceId == 0x5152_5354_5556_5758)
            return decoder.limit
        })

    // MARK: FrameProgress (template 11, block 29)

    static let frameProgress = GoldenVector(
        "FrameProgress", schemaId: 900, templateId: 11, blockLength: 29,
        fixture: goldenBytes([
            "1d 00 0b 00 84 03 01 00",  // messageHeader: blockLength 29, templateId 11, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "18 17 16 15 14 13 12 11",  // +4 epoch
            "28 27 26 25 24 23 22 21",  // +12 seq
            "38 37 36 35 34 33 32 31",  // +20 payloadBytesFilled
            "02",  // +28 state (PROGRESS)
        ]),
        encode: { buffer in
            let encoder = try WireSchema.FrameProgressEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.epoch = 0x1112_1314_1516_1718
            encoder.seq = 0x2122_2324_2526_2728
            encoder.payloadBytesFilled = 0x3132_3334_3536_3738
            encoder.state = .progress
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.FrameProgressDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.seq == 0x2122_2324_2526_2728)
            #expect(decoder.payloadBytesFilled == 0x3132_3334_3536_3738)
            #expect(decoder.state == .progress)
            return decoder.limit
        })

    // MARK: QosConsumer (template 5, block 41)

    static let qosConsumer = GoldenVector(
        "QosConsumer", schemaId: 900, templateId: 5, blockLength: 41,
        fixture: goldenBytes([
            "29 00 05 00 84 03 01 00",  // messageHeader: blockLength 41, templateId 5, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 consumerId
            "18 17 16 15 14 13 12 11",  // +8 epoch
            "28 27 26 25 24 23 22 21",  // +16 lastSeqSeen
            "38 37 36 35 34 33 32 31",  // +24 dropsGap
            "48 47 46 45 44 43 42 41",  // +32 dropsLate
            "02",  // +40 mode (RATE_LIMITED)
        ]),
        encode: { buffer in
            let encoder = try WireSchema.QosConsumerEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.consumerId = 0x0506_0708
            encoder.epoch = 0x1112_1314_1516_1718
            encoder.lastSeqSeen = 0x2122_2324_2526_2728
            encoder.dropsGap = 0x3132_3334_3536_3738
            encoder.dropsLate = 0x4142_4344_4546_4748
            encoder.mode = .rateLimited
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.QosConsumerDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.consumerId == 0x0506_0708)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.lastSeqSeen == 0x2122_2324_2526_2728)
            #expect(decoder.dropsGap == 0x3132_3334_3536_3738)
            #expect(decoder.dropsLate == 0x4142_4344_4546_4748)
            #expect(decoder.mode == .rateLimited)
            return decoder.limit
        })

    // MARK: QosProducer (template 6, block 28)

    static let qosProducer = GoldenVector(
        "QosProducer", schemaId: 900, templateId: 6, blockLength: 28,
        fixture: goldenBytes([
            "1c 00 06 00 84 03 01 00",  // messageHeader: blockLength 28, templateId 6, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 producerId
            "18 17 16 15 14 13 12 11",  // +8 epoch
            "28 27 26 25 24 23 22 21",  // +16 currentSeq
            "34 33 32 31",  // +24 watermark
        ]),
        encode: { buffer in
            let encoder = try WireSchema.QosProducerEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.producerId = 0x0506_0708
            encoder.epoch = 0x1112_1314_1516_1718
            encoder.currentSeq = 0x2122_2324_2526_2728
            encoder.watermark = 0x3132_3334
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.QosProducerDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.producerId == 0x0506_0708)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.currentSeq == 0x2122_2324_2526_2728)
            #expect(decoder.watermark == 0x3132_3334)
            return decoder.limit
        })

    static let qosProducerAbsent = GoldenVector(
        "QosProducer, watermark absent", schemaId: 900, templateId: 6, blockLength: 28,
        fixture: goldenBytes([
            "1c 00 06 00 84 03 01 00",  // messageHeader: blockLength 28, templateId 6, schemaId 900, version 1
            "01 00 00 00",  // +0 streamId
            "02 00 00 00",  // +4 producerId
            "03 00 00 00 00 00 00 00",  // +8 epoch
            "04 00 00 00 00 00 00 00",  // +16 currentSeq
            "ff ff ff ff",  // +24 watermark (null)
        ]),
        encode: { buffer in
            let encoder = try WireSchema.QosProducerEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 1
            encoder.producerId = 2
            encoder.epoch = 3
            encoder.currentSeq = 4
            encoder.watermark = nil
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.QosProducerDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 1)
            #expect(decoder.producerId == 2)
            #expect(decoder.epoch == 3)
            #expect(decoder.currentSeq == 4)
            #expect(decoder.watermark == nil)
            return decoder.limit
        })

    // MARK: ShmRegionSuperblock (template 50, explicit block 64)

    static let shmRegionSuperblockBytes = goldenBytes([
        "40 00 32 00 84 03 01 00",  // messageHeader: blockLength 64, templateId 50, schemaId 900, version 1
        "53 50 54 52 50 4f 4f 4c",  // +0 magic (ASCII "SPTRPOOL")
        "04 03 02 01",  // +8 layoutVersion
        "18 17 16 15 14 13 12 11",  // +12 epoch
        "24 23 22 21",  // +20 streamId
        "02 00",  // +24 regionType (PAYLOAD_POOL)
        "32 31",  // +26 poolId
        "44 43 42 41",  // +28 nslots
        "54 53 52 51",  // +32 slotBytes
        "64 63 62 61",  // +36 strideBytes
        "78 77 76 75 74 73 72 71",  // +40 pid
        "88 87 86 85 84 83 82 81",  // +48 startTimestampNs
        "98 97 96 95 94 93 92 91",  // +56 activityTimestampNs
    ])

    static func writeSuperblock(_ encoder: WireSchema.ShmRegionSuperblockEncoder) {
        encoder.magic = 0x4C4F_4F50_5254_5053
        encoder.layoutVersion = 0x0102_0304
        encoder.epoch = 0x1112_1314_1516_1718
        encoder.streamId = 0x2122_2324
        encoder.regionType = .payloadPool
        encoder.poolId = 0x3132
        encoder.nslots = 0x4142_4344
        encoder.slotBytes = 0x5152_5354
        encoder.strideBytes = 0x6162_6364
        encoder.pid = 0x7172_7374_7576_7778
        encoder.startTimestampNs = 0x8182_8384_8586_8788
        encoder.activityTimestampNs = 0x9192_9394_9596_9798
    }

    static func checkSuperblock(_ decoder: WireSchema.ShmRegionSuperblockDecoder) {
        #expect(decoder.magic == 0x4C4F_4F50_5254_5053)
        #expect(decoder.layoutVersion == 0x0102_0304)
        #expect(decoder.epoch == 0x1112_1314_1516_1718)
        #expect(decoder.streamId == 0x2122_2324)
        #expect(decoder.regionType == .payloadPool)
        #expect(decoder.poolId == 0x3132)
        #expect(decoder.nslots == 0x4142_4344)
        #expect(decoder.slotBytes == 0x5152_5354)
        #expect(decoder.strideBytes == 0x6162_6364)
        #expect(decoder.pid == 0x7172_7374_7576_7778)
        #expect(decoder.startTimestampNs == 0x8182_8384_8586_8788)
        #expect(decoder.activityTimestampNs == 0x9192_9394_9596_9798)
    }

    static let shmRegionSuperblock = GoldenVector(
        "ShmRegionSuperblock", schemaId: 900, templateId: 50, blockLength: 64, fixture: shmRegionSuperblockBytes,
        encode: { buffer in
            let encoder = try WireSchema.ShmRegionSuperblockEncoder.wrapAndApplyHeader(buffer)
            writeSuperblock(encoder)
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.ShmRegionSuperblockDecoder(decodingHeaderOf: buffer)
            checkSuperblock(decoder)
            return decoder.limit
        })

    // MARK: TensorHeader (template 52, explicit block 184): maximum dims

    /// ndims 8 with all 8 dims and strides set (including int32 extremes and negative strides), and the 109-byte
    /// `pad` filled with 1...109 so that its offset is checked too. `maxDims` is a constant and takes no bytes.
    static let tensorHeaderMaxDimsBytes = goldenBytes([
        "b8 00 34 00 84 03 01 00",  // messageHeader: blockLength 184, templateId 52, schemaId 900, version 1
        "09 00",  // +0 dtype (FLOAT32)
        "02 00",  // +2 majorOrder (COLUMN)
        "08",  // +4 ndims
        "7e",  // +5 padAlign
        "01",  // +6 progressUnit (ROWS)
        "04 03 02 01",  // +7 progressStrideBytes
        "02 00 00 00",  // +11 dims[0]
        "03 00 00 00",  // +15 dims[1]
        "05 00 00 00",  // +19 dims[2]
        "07 00 00 00",  // +23 dims[3]
        "02 01 00 00",  // +27 dims[4]
        "06 05 04 03",  // +31 dims[5]
        "01 00 00 00",  // +35 dims[6]
        "ff ff ff 7f",  // +39 dims[7]
        "fc ff ff ff",  // +43 strides[0]
        "00 00 00 00",  // +47 strides[1]
        "08 00 00 00",  // +51 strides[2]
        "10 00 00 00",  // +55 strides[3]
        "0d 0c 0b 0a",  // +59 strides[4]
        "fc fc fd fe",  // +63 strides[5]
        "ff ff ff 7f",  // +67 strides[6]
        "00 00 00 80",  // +71 strides[7]
        "01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10",  // +75 pad[0..<16]
        "11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f 20",  // +91 pad[16..<32]
        "21 22 23 24 25 26 27 28 29 2a 2b 2c 2d 2e 2f 30",  // +107 pad[32..<48]
        "31 32 33 34 35 36 37 38 39 3a 3b 3c 3d 3e 3f 40",  // +123 pad[48..<64]
        "41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50",  // +139 pad[64..<80]
        "51 52 53 54 55 56 57 58 59 5a 5b 5c 5d 5e 5f 60",  // +155 pad[80..<96]
        "61 62 63 64 65 66 67 68 69 6a 6b 6c 6d",  // +171 pad[96..<109]
    ])

    static let tensorDims: [Int32] = [2, 3, 5, 7, 0x0102, 0x0304_0506, 1, .max]
    static let tensorStrides: [Int32] = [-4, 0, 8, 0x10, 0x0A0B_0C0D, -0x0102_0304, .max, .min]

    static func writeTensorHeader(_ encoder: WireSchema.TensorHeaderEncoder) {
        encoder.dtype = .float32
        encoder.majorOrder = .column
        encoder.ndims = 8
        encoder.padAlign = 0x7E
        encoder.progressUnit = .rows
        encoder.progressStrideBytes = 0x0102_0304
        for index in 0..<8 {
            encoder.setDims(index, tensorDims[index])
            encoder.setStrides(index, tensorStrides[index])
        }
        for index in 0..<109 { encoder.setPad(index, UInt8(index + 1)) }
    }

    static func checkTensorHeader(_ decoder: WireSchema.TensorHeaderDecoder) {
        #expect(WireSchema.TensorHeaderDecoder.maxDims == 8)
        #expect(decoder.dtype == .float32)
        #expect(decoder.majorOrder == .column)
        #expect(decoder.ndims == 8)
        #expect(decoder.padAlign == 0x7E)
        #expect(decoder.progressUnit == .rows)
        #expect(decoder.progressStrideBytes == 0x0102_0304)
        #expect((0..<8).map { decoder.dims($0) } == tensorDims)
        #expect((0..<8).map { decoder.strides($0) } == tensorStrides)
        #expect(decoder.dimsBytes.count == 32)
        #expect(decoder.stridesBytes.count == 32)
        #expect((0..<109).map { decoder.pad($0) } == (1...109).map { UInt8($0) })
        #expect(Array(decoder.padBytes) == (1...109).map { UInt8($0) })
    }

    static let tensorHeaderMaxDims = GoldenVector(
        "TensorHeader, maximum dims", schemaId: 900, templateId: 52, blockLength: 184,
        fixture: tensorHeaderMaxDimsBytes,
        encode: { buffer in
            let encoder = try WireSchema.TensorHeaderEncoder.wrapAndApplyHeader(buffer)
            writeTensorHeader(encoder)
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.TensorHeaderDecoder(decodingHeaderOf: buffer)
            checkTensorHeader(decoder)
            return decoder.limit
        })

    // MARK: SlotHeader (template 51, explicit block 60): headerBytes carries the TensorHeader above

    /// 8 + 60 + 4 + 192 = 264 bytes: the slot block, then `headerBytes` holding the TensorHeader fixture, message
    /// header included (the 192 bytes of a 256-byte header slot that follow 60 + 4).
    static let slotHeaderBytes =
        goldenBytes([
            "3c 00 33 00 84 03 01 00",  // messageHeader: blockLength 60, templateId 51, schemaId 900, version 1
            "01 0f 00 00 00 00 00 00",  // +0 seqCommit (seq 0x780 << 1 | 1)
            "14 13 12 11",  // +8 valuesLenBytes
            "24 23 22 21",  // +12 payloadSlot
            "32 31",  // +16 poolId
            "44 43 42 41",  // +18 payloadOffset
            "58 57 56 55 54 53 52 51",  // +22 timestampNs
            "64 63 62 61",  // +30 metaVersion
            "a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af",  // +34 pad[0..<16]
            "b0 b1 b2 b3 b4 b5 b6 b7 b8 b9",  // +50 pad[16..<26]
            "c0 00 00 00",  // headerBytes: length 192 (the TensorHeader fixture, header included)
        ]) + tensorHeaderMaxDimsBytes

    static func writeSlotHeader(_ encoder: inout WireSchema.SlotHeaderEncoder) throws {
        encoder.seqCommit = 0x0F01
        encoder.valuesLenBytes = 0x1112_1314
        encoder.payloadSlot = 0x2122_2324
        encoder.poolId = 0x3132
        encoder.payloadOffset = 0x4142_4344
        encoder.timestampNs = 0x5152_5354_5556_5758
        encoder.metaVersion = 0x6162_6364
        for index in 0..<26 { encoder.setPad(index, 0xA0 + UInt8(index)) }
        // The embedded TensorHeader, encoded with its own message header by the generated encoder.
        var tensor = [UInt8](repeating: 0, count: MessageHeader.encodedLength + 184)
        try tensor.withUnsafeMutableBytes { tensorBuffer in
            let tensorEncoder = try WireSchema.TensorHeaderEncoder.wrapAndApplyHeader(tensorBuffer)
            writeTensorHeader(tensorEncoder)
        }
        try tensor.withUnsafeBytes { try encoder.headerBytes($0) }
    }

    static func checkSlotHeader(_ decoder: WireSchema.SlotHeaderDecoder) throws {
        #expect(decoder.seqCommit == 0x0F01)
        #expect(decoder.valuesLenBytes == 0x1112_1314)
        #expect(decoder.payloadSlot == 0x2122_2324)
        #expect(decoder.poolId == 0x3132)
        #expect(decoder.payloadOffset == 0x4142_4344)
        #expect(decoder.timestampNs == 0x5152_5354_5556_5758)
        #expect(decoder.metaVersion == 0x6162_6364)
        #expect((0..<26).map { decoder.pad($0) } == (0..<26).map { 0xA0 + UInt8($0) })
        #expect(decoder.padBytes.count == 26)
        #expect(Array(decoder.headerBytes) == tensorHeaderMaxDimsBytes)
        checkTensorHeader(try WireSchema.TensorHeaderDecoder(decodingHeaderOf: decoder.headerBytes))
    }

    static let slotHeader = GoldenVector(
        "SlotHeader with an embedded TensorHeader", schemaId: 900, templateId: 51, blockLength: 60,
        fixture: slotHeaderBytes,
        encode: { buffer in
            var encoder = try WireSchema.SlotHeaderEncoder.wrapAndApplyHeader(buffer)
            try writeSlotHeader(&encoder)
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.SlotHeaderDecoder(decodingHeaderOf: buffer)
            try checkSlotHeader(decoder)
            return decoder.limit
        })

    // MARK: DataSourceAnnounce (template 7, block 20)

    static let dataSourceAnnounce = GoldenVector(
        "DataSourceAnnounce", schemaId: 900, templateId: 7, blockLength: 20,
        fixture: goldenBytes([
            "14 00 07 00 84 03 01 00",  // messageHeader: blockLength 20, templateId 7, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 producerId
            "18 17 16 15 14 13 12 11",  // +8 epoch
            "24 23 22 21",  // +16 metaVersion
            "04 00 00 00",  // name: length 4
            "63 61 6d 30",  // name: "cam0"
            "0e 00 00 00",  // summary: length 14
            "75 69 6e 74 38 5b 34 38 30 2c 36 34 30 5d",  // summary: "uint8[480,640]"
        ]),
        encode: { buffer in
            var encoder = try WireSchema.DataSourceAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.producerId = 0x0506_0708
            encoder.epoch = 0x1112_1314_1516_1718
            encoder.metaVersion = 0x2122_2324
            try encoder.name("cam0")
            try encoder.summary("uint8[480,640]")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.DataSourceAnnounceDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.producerId == 0x0506_0708)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.metaVersion == 0x2122_2324)
            #expect(decoder.nameString == "cam0")
            #expect(decoder.summaryString == "uint8[480,640]")
            return decoder.limit
        })

    // MARK: DataSourceMeta (template 8, block 16, attributes entry 0)

    /// A group whose entries have no fixed part (entry block length 0): only var data.
    static let dataSourceMeta = GoldenVector(
        "DataSourceMeta", schemaId: 900, templateId: 8, blockLength: 16,
        fixture: goldenBytes([
            "10 00 08 00 84 03 01 00",  // messageHeader: blockLength 16, templateId 8, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 metaVersion
            "18 17 16 15 14 13 12 11",  // +8 timestampNs
            "00 00 02 00",  // attributes: groupSizeEncoding blockLength 0, numInGroup 2
            "05 00 00 00",  // attributes[0] key: length 5
            "75 6e 69 74 73",  // attributes[0] key: "units"
            "0a 00 00 00",  // attributes[0] format: length 10
            "74 65 78 74 2f 70 6c 61 69 6e",  // attributes[0] format: "text/plain"
            "02 00 00 00",  // attributes[0] value: length 2
            "6d 6d",  // attributes[0] value: "mm"
            "04 00 00 00",  // attributes[1] key: length 4
            "67 61 69 6e",  // attributes[1] key: "gain"
            "00 00 00 00",  // attributes[1] format: length 0
            "04 00 00 00",  // attributes[1] value: length 4
            "00 01 ff 80",  // attributes[1] value: bytes 0..<4
        ]),
        encode: { buffer in
            var encoder = try WireSchema.DataSourceMetaEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.metaVersion = 0x0506_0708
            encoder.timestampNs = 0x1112_1314_1516_1718
            try encoder.attributes(count: 2) { index, attribute in
                if index == 0 {
                    try attribute.key("units")
                    try attribute.format("text/plain")
                    try attribute.value("mm")
                } else {
                    try attribute.key("gain")
                    try attribute.format("")
                    try ([0x00, 0x01, 0xFF, 0x80] as [UInt8]).withUnsafeBytes { try attribute.value($0) }
                }
            }
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.DataSourceMetaDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.metaVersion == 0x0506_0708)
            #expect(decoder.timestampNs == 0x1112_1314_1516_1718)
            var attributes = decoder.attributes
            #expect(attributes.count == 2)
            #expect(attributes.actingBlockLength == 0)
            try requireEntry(attributes.next())
            #expect(attributes.keyString == "units")
            #expect(attributes.formatString == "text/plain")
            #expect(attributes.valueString == "mm")
            try requireEntry(attributes.next())
            #expect(attributes.keyString == "gain")
            #expect(attributes.format.isEmpty)
            #expect(Array(attributes.value) == [0x00, 0x01, 0xFF, 0x80])
            expectNoMoreEntries(attributes.next())
            return decoder.limit
        })

    static let dataSourceMetaEmpty = GoldenVector(
        "DataSourceMeta, no attributes", schemaId: 900, templateId: 8, blockLength: 16,
        fixture: goldenBytes([
            "10 00 08 00 84 03 01 00",  // messageHeader: blockLength 16, templateId 8, schemaId 900, version 1
            "01 00 00 00",  // +0 streamId
            "02 00 00 00",  // +4 metaVersion
            "03 00 00 00 00 00 00 00",  // +8 timestampNs
            "00 00 00 00",  // attributes: groupSizeEncoding blockLength 0, numInGroup 0
        ]),
        encode: { buffer in
            var encoder = try WireSchema.DataSourceMetaEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 1
            encoder.metaVersion = 2
            encoder.timestampNs = 3
            try encoder.attributes(count: 0) { _, _ in Issue.record("no entries to write") }
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.DataSourceMetaDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 1)
            #expect(decoder.metaVersion == 2)
            #expect(decoder.timestampNs == 3)
            var attributes = decoder.attributes
            #expect(attributes.count == 0)
            expectNoMoreEntries(attributes.next())
            return decoder.limit
        })

    // MARK: ControlResponse (template 9, block 12)

    static let controlResponse = GoldenVector(
        "ControlResponse", schemaId: 900, templateId: 9, blockLength: 12,
        fixture: goldenBytes([
            "0c 00 09 00 84 03 01 00",  // messageHeader: blockLength 12, templateId 9, schemaId 900, version 1
            "fe ff ff ff ff ff ff ff",  // +0 correlationId (-2)
            "03 00 00 00",  // +8 code (REJECTED)
            "04 00 00 00",  // errorMessage: length 4
            "62 75 73 79",  // errorMessage: "busy"
        ]),
        encode: { buffer in
            var encoder = try WireSchema.ControlResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = -2
            encoder.code = .rejected
            try encoder.errorMessage("busy")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.ControlResponseDecoder(decodingHeaderOf: buffer)
            #expect(decoder.correlationId == -2)
            #expect(decoder.code == .rejected)
            #expect(decoder.errorMessageString == "busy")
            return decoder.limit
        })

    static let controlResponseEmpty = GoldenVector(
        "ControlResponse, empty errorMessage", schemaId: 900, templateId: 9, blockLength: 12,
        fixture: goldenBytes([
            "0c 00 09 00 84 03 01 00",  // messageHeader: blockLength 12, templateId 9, schemaId 900, version 1
            "08 07 06 05 04 03 02 01",  // +0 correlationId
            "00 00 00 00",  // +8 code (OK)
            "00 00 00 00",  // errorMessage: length 0
        ]),
        encode: { buffer in
            var encoder = try WireSchema.ControlResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = 0x0102_0304_0506_0708
            encoder.code = .ok
            try encoder.errorMessage("")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.ControlResponseDecoder(decodingHeaderOf: buffer)
            #expect(decoder.correlationId == 0x0102_0304_0506_0708)
            #expect(decoder.code == .ok)
            #expect(decoder.errorMessage.isEmpty)
            return decoder.limit
        })

    // MARK: MetaBlobAnnounce, MetaBlobChunk, MetaBlobComplete (templates 10, 12, 13; the tensor_pool_c extension)

    static let metaBlobAnnounce = GoldenVector(
        "MetaBlobAnnounce", schemaId: 900, templateId: 10, blockLength: 28,
        fixture: goldenBytes([
            "1c 00 0a 00 84 03 01 00",  // messageHeader: blockLength 28, templateId 10, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 metaVersion
            "14 13 12 11",  // +8 blobType
            "28 27 26 25 24 23 22 21",  // +12 totalLen
            "38 37 36 35 34 33 32 31",  // +20 checksum
        ]),
        encode: { buffer in
            let encoder = try WireSchema.MetaBlobAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.metaVersion = 0x0506_0708
            encoder.blobType = 0x1112_1314
            encoder.totalLen = 0x2122_2324_2526_2728
            encoder.checksum = 0x3132_3334_3536_3738
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.MetaBlobAnnounceDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.metaVersion == 0x0506_0708)
            #expect(decoder.blobType == 0x1112_1314)
            #expect(decoder.totalLen == 0x2122_2324_2526_2728)
            #expect(decoder.checksum == 0x3132_3334_3536_3738)
            return decoder.limit
        })

    static let metaBlobChunk = GoldenVector(
        "MetaBlobChunk", schemaId: 900, templateId: 12, blockLength: 16,
        fixture: goldenBytes([
            "10 00 0c 00 84 03 01 00",  // messageHeader: blockLength 16, templateId 12, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 metaVersion
            "18 17 16 15 14 13 12 11",  // +8 chunkOffset
            "08 00 00 00",  // bytes: length 8
            "00 ff 10 20 30 40 7f 80",  // bytes: bytes 0..<8
        ]),
        encode: { buffer in
            var encoder = try WireSchema.MetaBlobChunkEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.metaVersion = 0x0506_0708
            encoder.chunkOffset = 0x1112_1314_1516_1718
            let chunk: [UInt8] = [0x00, 0xFF, 0x10, 0x20, 0x30, 0x40, 0x7F, 0x80]
            try chunk.withUnsafeBytes { try encoder.bytes($0) }
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.MetaBlobChunkDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.metaVersion == 0x0506_0708)
            #expect(decoder.chunkOffset == 0x1112_1314_1516_1718)
            #expect(Array(decoder.bytes) == [0x00, 0xFF, 0x10, 0x20, 0x30, 0x40, 0x7F, 0x80])
            return decoder.limit
        })

    static let metaBlobComplete = GoldenVector(
        "MetaBlobComplete", schemaId: 900, templateId: 13, blockLength: 16,
        fixture: goldenBytes([
            "10 00 0d 00 84 03 01 00",  // messageHeader: blockLength 16, templateId 13, schemaId 900, version 1
            "04 03 02 01",  // +0 streamId
            "08 07 06 05",  // +4 metaVersion
            "18 17 16 15 14 13 12 11",  // +8 checksum
        ]),
        encode: { buffer in
            let encoder = try WireSchema.MetaBlobCompleteEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.metaVersion = 0x0506_0708
            encoder.checksum = 0x1112_1314_1516_1718
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try WireSchema.MetaBlobCompleteDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.metaVersion == 0x0506_0708)
            #expect(decoder.checksum == 0x1112_1314_1516_1718)
            return decoder.limit
        })
}

/// The three layouts that live in shared memory are read and written in place as bare blocks, with no message header:
/// their golden bytes are the vectors' fixtures minus the 8-byte header, at any offset in a region.
@Suite("Golden vectors: SHM layouts as bare blocks")
struct GoldenShmLayoutTests {
    /// Encodes a bare block at `offset` of a region of `regionLength` bytes filled with 0xAB, checks the block's bytes
    /// against `expected` and that nothing else in the region changed.
    func checkBareEncoding(
        expected: ArraySlice<UInt8>, offset: Int, regionLength: Int,
        _ encode: (UnsafeMutableRawBufferPointer, Int) throws -> Int
    ) throws {
        var region = [UInt8](repeating: 0xAB, count: regionLength)
        let length = try region.withUnsafeMutableBytes { try encode($0, offset) }
        #expect(length == expected.count)
        #expect(Array(region[offset..<offset + length]) == Array(expected))
        #expect(region[..<offset].allSatisfy { $0 == 0xAB })
        #expect(region[(offset + length)...].allSatisfy { $0 == 0xAB })
    }

    @Test("ShmRegionSuperblock as a bare 64-byte block at the start of a region and further in", arguments: [0, 4096])
    func superblock(offset: Int) throws {
        let block = GoldenWire.shmRegionSuperblockBytes.dropFirst(MessageHeader.encodedLength)
        #expect(block.count == 64)
        try checkBareEncoding(expected: block, offset: offset, regionLength: offset + 128) { buffer, offset in
            let encoder = try WireSchema.ShmRegionSuperblockEncoder(buffer, offset: offset)
            GoldenWire.writeSuperblock(encoder)
            return encoder.encodedLength
        }
        let region = [UInt8](repeating: 0, count: offset) + Array(block) + [0xEE, 0xEE]
        try region.withUnsafeBytes { buffer in
            let decoder = try WireSchema.ShmRegionSuperblockDecoder(buffer, offset: offset)
            GoldenWire.checkSuperblock(decoder)
            #expect(decoder.limit == offset + 64)
        }
    }

    @Test(
        "SlotHeader is a 256-byte header slot: 60-byte block, 4-byte length, 192-byte TensorHeader",
        arguments: [0, 256])
    func slotHeader(offset: Int) throws {
        let slot = GoldenWire.slotHeaderBytes.dropFirst(MessageHeader.encodedLength)
        #expect(slot.count == 256)
        try checkBareEncoding(expected: slot, offset: offset, regionLength: offset + 512) { buffer, offset in
            var encoder = try WireSchema.SlotHeaderEncoder(buffer, offset: offset)
            try GoldenWire.writeSlotHeader(&encoder)
            return encoder.encodedLength
        }
        let region = [UInt8](repeating: 0, count: offset) + Array(slot) + [UInt8](repeating: 0xEE, count: 256)
        try region.withUnsafeBytes { buffer in
            let decoder = try WireSchema.SlotHeaderDecoder(buffer, offset: offset)
            try GoldenWire.checkSlotHeader(decoder)
            #expect(decoder.limit == offset + 256)
        }
    }

    @Test("TensorHeader as a bare 184-byte block")
    func tensorHeader() throws {
        let block = GoldenWire.tensorHeaderMaxDimsBytes.dropFirst(MessageHeader.encodedLength)
        #expect(block.count == 184)
        try checkBareEncoding(expected: block, offset: 8, regionLength: 200) { buffer, offset in
            let encoder = try WireSchema.TensorHeaderEncoder(buffer, offset: offset)
            GoldenWire.writeTensorHeader(encoder)
            return encoder.encodedLength
        }
        try Array(block).withUnsafeBytes { buffer in
            GoldenWire.checkTensorHeader(try WireSchema.TensorHeaderDecoder(buffer))
        }
    }
}
