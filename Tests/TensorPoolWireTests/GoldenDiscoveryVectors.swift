import SBE
import TensorPoolWire
import Testing

// Golden vectors of schema 910 (Specs/schemas/discovery.xml): both messages, hand-computed from the schema.
//
// Known limitation: the `tag` of both `tags` groups is a fixed *field* of the composite `varAsciiEncoding` (a
// `uint32` length plus a zero-length array), so each tag entry's block is just the 4-byte length, and the reference
// peers write the tag's bytes straight after the block and skip them by hand. The generated codecs these vectors were
// written against (commit 0f46b07) exposed only `tagLength` and did not write, read or skip those trailing bytes, so
// a non-empty tag could not be encoded and was misread. These vectors therefore use only tags of length 0 (no
// trailing bytes), on which every reading of the layout agrees, and empty tag groups elsewhere; they set and check
// `tagLength` only.

extension GoldenVector {
    static var discovery: [GoldenVector] {
        [
            GoldenDiscovery.discoveryRequest, GoldenDiscovery.discoveryRequestAbsent, GoldenDiscovery.discoveryResponse,
            GoldenDiscovery.discoveryResponseError,
        ]
    }
}

enum GoldenDiscovery {
    // MARK: DiscoveryRequest (template 1, block 32, tags entry 4)

    static let discoveryRequest = GoldenVector(
        "DiscoveryRequest", schemaId: 910, templateId: 1, blockLength: 32,
        fixture: goldenBytes([
            "20 00 01 00 8e 03 01 00",  // messageHeader: blockLength 32, templateId 1, schemaId 910, version 1
            "08 07 06 05 04 03 02 01",  // +0 requestId
            "14 13 12 11",  // +8 clientId
            "24 23 22 21",  // +12 responseStreamId
            "34 33 32 31",  // +16 streamId
            "44 43 42 41",  // +20 producerId
            "58 57 56 55 54 53 52 51",  // +24 dataSourceId
            "04 00 02 00",  // tags: groupSizeEncoding blockLength 4, numInGroup 2
            "00 00 00 00",  // tags[0]+0 tag.length (empty tag, no bytes follow)
            "00 00 00 00",  // tags[1]+0 tag.length (empty tag, no bytes follow)
            "09 00 00 00",  // responseChannel: length 9
            "61 65 72 6f 6e 3a 69 70 63",  // responseChannel: "aeron:ipc"
            "04 00 00 00",  // dataSourceName: length 4
            "63 61 6d 30",  // dataSourceName: "cam0"
        ]),
        encode: { buffer in
            var encoder = try DiscoverySchema.DiscoveryRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.requestId = 0x0102_0304_0506_0708
            encoder.clientId = 0x1112_1314
            encoder.responseStreamId = 0x2122_2324
            encoder.streamId = 0x3132_3334
            encoder.producerId = 0x4142_4344
            encoder.dataSourceId = 0x5152_5354_5556_5758
            // Tags of length 0 only: see the limitation at the top of this file.
            try encoder.tags(count: 2) { _, tag in tag.tagLength = 0 }
            try encoder.responseChannel("aeron:ipc")
            try encoder.dataSourceName("cam0")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DiscoverySchema.DiscoveryRequestDecoder(decodingHeaderOf: buffer)
            #expect(decoder.requestId == 0x0102_0304_0506_0708)
            #expect(decoder.clientId == 0x1112_1314)
            #expect(decoder.responseStreamId == 0x2122_2324)
            #expect(decoder.streamId == 0x3132_3334)
            #expect(decoder.producerId == 0x4142_4344)
            #expect(decoder.dataSourceId == 0x5152_5354_5556_5758)
            var tags = decoder.tags
            #expect(tags.count == 2)
            #expect(tags.actingBlockLength == 4)
            try requireEntry(tags.next())
            #expect(tags.tagLength == 0)
            try requireEntry(tags.next())
            #expect(tags.tagLength == 0)
            expectNoMoreEntries(tags.next())
            #expect(decoder.responseChannelString == "aeron:ipc")
            #expect(decoder.dataSourceNameString == "cam0")
            return decoder.limit
        })

    /// Every filter absent (null sentinels), no tags, empty `dataSourceName`.
    static let discoveryRequestAbsent = GoldenVector(
        "DiscoveryRequest, filters absent", schemaId: 910, templateId: 1, blockLength: 32,
        fixture: goldenBytes([
            "20 00 01 00 8e 03 01 00",  // messageHeader: blockLength 32, templateId 1, schemaId 910, version 1
            "01 00 00 00 00 00 00 00",  // +0 requestId
            "02 00 00 00",  // +8 clientId
            "03 00 00 00",  // +12 responseStreamId
            "ff ff ff ff",  // +16 streamId (null)
            "ff ff ff ff",  // +20 producerId (null)
            "ff ff ff ff ff ff ff ff",  // +24 dataSourceId (null)
            "04 00 00 00",  // tags: groupSizeEncoding blockLength 4, numInGroup 0
            "09 00 00 00",  // responseChannel: length 9
            "61 65 72 6f 6e 3a 69 70 63",  // responseChannel: "aeron:ipc"
            "00 00 00 00",  // dataSourceName: length 0
        ]),
        encode: { buffer in
            var encoder = try DiscoverySchema.DiscoveryRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.requestId = 1
            encoder.clientId = 2
            encoder.responseStreamId = 3
            encoder.streamId = nil
            encoder.producerId = nil
            encoder.dataSourceId = nil
            try encoder.tags(count: 0) { _, _ in Issue.record("no entries to write") }
            try encoder.responseChannel("aeron:ipc")
            try encoder.dataSourceName("")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DiscoverySchema.DiscoveryRequestDecoder(decodingHeaderOf: buffer)
            #expect(decoder.requestId == 1)
            #expect(decoder.clientId == 2)
            #expect(decoder.responseStreamId == 3)
            #expect(decoder.streamId == nil)
            #expect(decoder.producerId == nil)
            #expect(decoder.dataSourceId == nil)
            var tags = decoder.tags
            #expect(tags.count == 0)
            expectNoMoreEntries(tags.next())
            #expect(decoder.responseChannelString == "aeron:ipc")
            #expect(decoder.dataSourceName.isEmpty)
            return decoder.limit
        })

    // MARK: DiscoveryResponse (template 2, block 9, results entry 39, nested pool entry 10, nested tag entry 4)

    /// Two results: the first with one pool, one (empty) tag and all var data; the second with `dataSourceId` absent,
    /// empty nested groups and some empty var data.
    static let discoveryResponse = GoldenVector(
        "DiscoveryResponse", schemaId: 910, templateId: 2, blockLength: 9,
        fixture: goldenBytes([
            "09 00 02 00 8e 03 01 00",  // messageHeader: blockLength 9, templateId 2, schemaId 910, version 1
            "08 07 06 05 04 03 02 01",  // +0 requestId
            "01",  // +8 status (OK)
            "27 00 02 00",  // results: groupSizeEncoding blockLength 39, numInGroup 2
            "14 13 12 11",  // results[0]+0 streamId
            "24 23 22 21",  // results[0]+4 producerId
            "38 37 36 35 34 33 32 31",  // results[0]+8 epoch
            "44 43 42 41",  // results[0]+16 layoutVersion
            "54 53 52 51",  // results[0]+20 headerNslots
            "62 61",  // results[0]+24 headerSlotBytes
            "08",  // results[0]+26 maxDims
            "78 77 76 75 74 73 72 71",  // results[0]+27 dataSourceId
            "84 83 82 81",  // results[0]+35 driverControlStreamId
            "0a 00 01 00",  // results[0] payloadPools: groupSizeEncoding blockLength 10, numInGroup 1
            "92 91",  // results[0] pool[0]+0 poolId
            "96 95 94 93",  // results[0] pool[0]+2 poolNslots
            "9a 99 98 97",  // results[0] pool[0]+6 strideBytes
            "07 00 00 00",  // results[0] pool[0] regionUri: length 7
            "73 68 6d 3a 2f 70 31",  // results[0] pool[0] regionUri: "shm:/p1"
            "04 00 01 00",  // results[0] tags: groupSizeEncoding blockLength 4, numInGroup 1
            "00 00 00 00",  // results[0] tags[0]+0 tag.length (empty tag, no bytes follow)
            "08 00 00 00",  // results[0] headerRegionUri: length 8
            "73 68 6d 3a 2f 68 64 72",  // results[0] headerRegionUri: "shm:/hdr"
            "04 00 00 00",  // results[0] dataSourceName: length 4
            "63 61 6d 30",  // results[0] dataSourceName: "cam0"
            "05 00 00 00",  // results[0] driverInstanceId: length 5
            "64 72 76 2d 31",  // results[0] driverInstanceId: "drv-1"
            "09 00 00 00",  // results[0] driverControlChannel: length 9
            "61 65 72 6f 6e 3a 69 70 63",  // results[0] driverControlChannel: "aeron:ipc"
            "0d 0c 0b 0a",  // results[1]+0 streamId
            "1d 1c 1b 1a",  // results[1]+4 producerId
            "31 30 2f 2e 2d 2c 2b 2a",  // results[1]+8 epoch
            "01 00 00 00",  // results[1]+16 layoutVersion
            "10 00 00 00",  // results[1]+20 headerNslots
            "00 01",  // results[1]+24 headerSlotBytes
            "04",  // results[1]+26 maxDims
            "ff ff ff ff ff ff ff ff",  // results[1]+27 dataSourceId (null)
            "3d 3c 3b 3a",  // results[1]+35 driverControlStreamId
            "0a 00 00 00",  // results[1] payloadPools: groupSizeEncoding blockLength 10, numInGroup 0
            "04 00 00 00",  // results[1] tags: groupSizeEncoding blockLength 4, numInGroup 0
            "07 00 00 00",  // results[1] headerRegionUri: length 7
            "73 68 6d 3a 2f 68 32",  // results[1] headerRegionUri: "shm:/h2"
            "00 00 00 00",  // results[1] dataSourceName: length 0
            "05 00 00 00",  // results[1] driverInstanceId: length 5
            "64 72 76 2d 32",  // results[1] driverInstanceId: "drv-2"
            "00 00 00 00",  // results[1] driverControlChannel: length 0
            "00 00 00 00",  // errorMessage: length 0
        ]),
        encode: { buffer in
            var encoder = try DiscoverySchema.DiscoveryResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.requestId = 0x0102_0304_0506_0708
            encoder.status = .ok
            try encoder.results(count: 2) { index, result in
                if index == 0 {
                    result.streamId = 0x1112_1314
                    result.producerId = 0x2122_2324
                    result.epoch = 0x3132_3334_3536_3738
                    result.layoutVersion = 0x4142_4344
                    result.headerNslots = 0x5152_5354
                    result.headerSlotBytes = 0x6162
                    result.maxDims = 8
                    result.dataSourceId = 0x7172_7374_7576_7778
                    result.driverControlStreamId = 0x8182_8384
                    try result.payloadPools(count: 1) { _, pool in
                        pool.poolId = 0x9192
                        pool.poolNslots = 0x9394_9596
                        pool.strideBytes = 0x9798_999A
                        try pool.regionUri("shm:/p1")
                    }
                    // A tag of length 0 only: see the limitation at the top of this file.
                    try result.tags(count: 1) { _, tag in tag.tagLength = 0 }
                    try result.headerRegionUri("shm:/hdr")
                    try result.dataSourceName("cam0")
                    try result.driverInstanceId("drv-1")
                    try result.driverControlChannel("aeron:ipc")
                } else {
                    result.streamId = 0x0A0B_0C0D
                    result.producerId = 0x1A1B_1C1D
                    result.epoch = 0x2A2B_2C2D_2E2F_3031
                    result.layoutVersion = 1
                    result.headerNslots = 16
                    result.headerSlotBytes = 256
                    result.maxDims = 4
                    result.dataSourceId = nil
                    result.driverControlStreamId = 0x3A3B_3C3D
                    try result.payloadPools(count: 0) { _, _ in Issue.record("no entries to write") }
                    try result.tags(count: 0) { _, _ in Issue.record("no entries to write") }
                    try result.headerRegionUri("shm:/h2")
                    try result.dataSourceName("")
                    try result.driverInstanceId("drv-2")
                    try result.driverControlChannel("")
                }
            }
            try encoder.errorMessage("")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DiscoverySchema.DiscoveryResponseDecoder(decodingHeaderOf: buffer)
            #expect(decoder.requestId == 0x0102_0304_0506_0708)
            #expect(decoder.status == .ok)
            var results = decoder.results
            #expect(results.count == 2)
            #expect(results.actingBlockLength == 39)

            try requireEntry(results.next())
            #expect(results.streamId == 0x1112_1314)
            #expect(results.producerId == 0x2122_2324)
            #expect(results.epoch == 0x3132_3334_3536_3738)
            #expect(results.layoutVersion == 0x4142_4344)
            #expect(results.headerNslots == 0x5152_5354)
            #expect(results.headerSlotBytes == 0x6162)
            #expect(results.maxDims == 8)
            #expect(results.dataSourceId == 0x7172_7374_7576_7778)
            #expect(results.driverControlStreamId == 0x8182_8384)
            var pools = results.payloadPools
            #expect(pools.count == 1)
            try requireEntry(pools.next())
            #expect(pools.poolId == 0x9192)
            #expect(pools.poolNslots == 0x9394_9596)
            #expect(pools.strideBytes == 0x9798_999A)
            #expect(pools.regionUriString == "shm:/p1")
            expectNoMoreEntries(pools.next())
            var tags = results.tags
            #expect(tags.count == 1)
            try requireEntry(tags.next())
            #expect(tags.tagLength == 0)
            expectNoMoreEntries(tags.next())
            #expect(results.headerRegionUriString == "shm:/hdr")
            #expect(results.dataSourceNameString == "cam0")
            #expect(results.driverInstanceIdString == "drv-1")
            #expect(results.driverControlChannelString == "aeron:ipc")

            try requireEntry(results.next())
            #expect(results.streamId == 0x0A0B_0C0D)
            #expect(results.producerId == 0x1A1B_1C1D)
            #expect(results.epoch == 0x2A2B_2C2D_2E2F_3031)
            #expect(results.layoutVersion == 1)
            #expect(results.headerNslots == 16)
            #expect(results.headerSlotBytes == 256)
            #expect(results.maxDims == 4)
            #expect(results.dataSourceId == nil)
            #expect(results.driverControlStreamId == 0x3A3B_3C3D)
            var noPools = results.payloadPools
            #expect(noPools.count == 0)
            expectNoMoreEntries(noPools.next())
            var noTags = results.tags
            #expect(noTags.count == 0)
            expectNoMoreEntries(noTags.next())
            #expect(results.headerRegionUriString == "shm:/h2")
            #expect(results.dataSourceName.isEmpty)
            #expect(results.driverInstanceIdString == "drv-2")
            #expect(results.driverControlChannel.isEmpty)
            expectNoMoreEntries(results.next())

            #expect(decoder.errorMessage.isEmpty)
            return decoder.limit
        })

    static let discoveryResponseError = GoldenVector(
        "DiscoveryResponse, error without results", schemaId: 910, templateId: 2, blockLength: 9,
        fixture: goldenBytes([
            "09 00 02 00 8e 03 01 00",  // messageHeader: blockLength 9, templateId 2, schemaId 910, version 1
            "05 00 00 00 00 00 00 00",  // +0 requestId
            "03",  // +8 status (ERROR)
            "27 00 00 00",  // results: groupSizeEncoding blockLength 39, numInGroup 0
            "09 00 00 00",  // errorMessage: length 9
            "62 61 64 20 71 75 65 72 79",  // errorMessage: "bad query"
        ]),
        encode: { buffer in
            var encoder = try DiscoverySchema.DiscoveryResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.requestId = 5
            encoder.status = .error
            try encoder.results(count: 0) { _, _ in Issue.record("no entries to write") }
            try encoder.errorMessage("bad query")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DiscoverySchema.DiscoveryResponseDecoder(decodingHeaderOf: buffer)
            #expect(decoder.requestId == 5)
            #expect(decoder.status == .error)
            var results = decoder.results
            #expect(results.count == 0)
            expectNoMoreEntries(results.next())
            #expect(decoder.errorMessageString == "bad query")
            return decoder.limit
        })
}
