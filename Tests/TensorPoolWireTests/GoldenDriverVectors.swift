import SBE
import TensorPoolWire
import Testing

// Golden vectors of schema 901 (Specs/schemas/driver.xml): all 8 messages, hand-computed from the schema.

extension GoldenVector {
    static var driver: [GoldenVector] {
        [
            GoldenDriver.shmAttachRequest, GoldenDriver.shmAttachRequestAbsent, GoldenDriver.shmAttachResponse,
            GoldenDriver.shmAttachResponseRejected, GoldenDriver.shmDetachRequest, GoldenDriver.shmDetachResponse,
            GoldenDriver.shmLeaseKeepalive, GoldenDriver.shmDriverShutdown, GoldenDriver.shmLeaseRevoked,
            GoldenDriver.shmDriverShutdownRequest,
        ]
    }
}

enum GoldenDriver {
    // MARK: ShmAttachRequest (template 1, block 27)

    static let shmAttachRequest = GoldenVector(
        "ShmAttachRequest", schemaId: 901, templateId: 1, blockLength: 27,
        fixture: goldenBytes([
            "1b 00 01 00 85 03 01 00",  // messageHeader: blockLength 27, templateId 1, schemaId 901, version 1
            "08 07 06 05 04 03 02 01",  // +0 correlationId
            "14 13 12 11",  // +8 streamId
            "24 23 22 21",  // +12 clientId
            "02",  // +16 role (CONSUMER)
            "34 33 32 31",  // +17 expectedLayoutVersion
            "02",  // +21 publishMode (EXISTING_OR_CREATE)
            "02",  // +22 requireHugepages (HUGEPAGES)
            "44 43 42 41",  // +23 desiredNodeId
        ]),
        encode: { buffer in
            let encoder = try DriverSchema.ShmAttachRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = 0x0102_0304_0506_0708
            encoder.streamId = 0x1112_1314
            encoder.clientId = 0x2122_2324
            encoder.role = .consumer
            encoder.expectedLayoutVersion = 0x3132_3334
            encoder.publishMode = .existingOrCreate
            encoder.requireHugepages = .hugepages
            encoder.desiredNodeId = 0x4142_4344
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DriverSchema.ShmAttachRequestDecoder(decodingHeaderOf: buffer)
            #expect(decoder.correlationId == 0x0102_0304_0506_0708)
            #expect(decoder.streamId == 0x1112_1314)
            #expect(decoder.clientId == 0x2122_2324)
            #expect(decoder.role == .consumer)
            #expect(decoder.expectedLayoutVersion == 0x3132_3334)
            #expect(decoder.publishMode == .existingOrCreate)
            #expect(decoder.requireHugepages == .hugepages)
            #expect(decoder.desiredNodeId == 0x4142_4344)
            return decoder.limit
        })

    /// The optional enum `publishMode` (nullValue 255) and `desiredNodeId` absent.
    static let shmAttachRequestAbsent = GoldenVector(
        "ShmAttachRequest, optionals absent", schemaId: 901, templateId: 1, blockLength: 27,
        fixture: goldenBytes([
            "1b 00 01 00 85 03 01 00",  // messageHeader: blockLength 27, templateId 1, schemaId 901, version 1
            "ff ff ff ff ff ff ff ff",  // +0 correlationId (-1)
            "05 00 00 00",  // +8 streamId
            "06 00 00 00",  // +12 clientId
            "01",  // +16 role (PRODUCER)
            "00 00 00 00",  // +17 expectedLayoutVersion
            "ff",  // +21 publishMode (null: nullValue="255")
            "00",  // +22 requireHugepages (UNSPECIFIED)
            "ff ff ff ff",  // +23 desiredNodeId (null)
        ]),
        encode: { buffer in
            let encoder = try DriverSchema.ShmAttachRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = -1
            encoder.streamId = 5
            encoder.clientId = 6
            encoder.role = .producer
            encoder.expectedLayoutVersion = 0
            encoder.publishMode = nil
            encoder.requireHugepages = .unspecified
            encoder.desiredNodeId = nil
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DriverSchema.ShmAttachRequestDecoder(decodingHeaderOf: buffer)
            #expect(decoder.correlationId == -1)
            #expect(decoder.streamId == 5)
            #expect(decoder.clientId == 6)
            #expect(decoder.role == .producer)
            #expect(decoder.expectedLayoutVersion == 0)
            #expect(decoder.publishMode == nil)
            #expect(decoder.requireHugepages == .unspecified)
            #expect(decoder.desiredNodeId == nil)
            return decoder.limit
        })

    // MARK: ShmAttachResponse (template 2, block 54, payloadPools entry 10)

    static let shmAttachResponse = GoldenVector(
        "ShmAttachResponse", schemaId: 901, templateId: 2, blockLength: 54,
        fixture: goldenBytes([
            "36 00 02 00 85 03 01 00",  // messageHeader: blockLength 54, templateId 2, schemaId 901, version 1
            "08 07 06 05 04 03 02 01",  // +0 correlationId
            "00 00 00 00",  // +8 code (OK)
            "18 17 16 15 14 13 12 11",  // +12 leaseId
            "28 27 26 25 24 23 22 21",  // +20 leaseExpiryTimestampNs
            "34 33 32 31",  // +28 streamId
            "48 47 46 45 44 43 42 41",  // +32 epoch
            "54 53 52 51",  // +40 layoutVersion
            "64 63 62 61",  // +44 headerNslots
            "72 71",  // +48 headerSlotBytes
            "84 83 82 81",  // +50 nodeId
            "0a 00 02 00",  // payloadPools: groupSizeEncoding blockLength 10, numInGroup 2
            "0b 0a",  // pool[0]+0 poolId
            "0f 0e 0d 0c",  // pool[0]+2 poolNslots
            "1d 1c 1b 1a",  // pool[0]+6 strideBytes
            "07 00 00 00",  // pool[0] regionUri: length 7
            "73 68 6d 3a 2f 70 31",  // pool[0] regionUri: "shm:/p1"
            "2b 2a",  // pool[1]+0 poolId
            "2f 2e 2d 2c",  // pool[1]+2 poolNslots
            "3d 3c 3b 3a",  // pool[1]+6 strideBytes
            "07 00 00 00",  // pool[1] regionUri: length 7
            "73 68 6d 3a 2f 70 32",  // pool[1] regionUri: "shm:/p2"
            "08 00 00 00",  // headerRegionUri: length 8
            "73 68 6d 3a 2f 68 64 72",  // headerRegionUri: "shm:/hdr"
            "00 00 00 00",  // errorMessage: length 0
        ]),
        encode: { buffer in
            var encoder = try DriverSchema.ShmAttachResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = 0x0102_0304_0506_0708
            encoder.code = .ok
            encoder.leaseId = 0x1112_1314_1516_1718
            encoder.leaseExpiryTimestampNs = 0x2122_2324_2526_2728
            encoder.streamId = 0x3132_3334
            encoder.epoch = 0x4142_4344_4546_4748
            encoder.layoutVersion = 0x5152_5354
            encoder.headerNslots = 0x6162_6364
            encoder.headerSlotBytes = 0x7172
            encoder.nodeId = 0x8182_8384
            try encoder.payloadPools(count: 2) { index, pool in
                if index == 0 {
                    pool.poolId = 0x0A0B
                    pool.poolNslots = 0x0C0D_0E0F
                    pool.strideBytes = 0x1A1B_1C1D
                    try pool.regionUri("shm:/p1")
                } else {
                    pool.poolId = 0x2A2B
                    pool.poolNslots = 0x2C2D_2E2F
                    pool.strideBytes = 0x3A3B_3C3D
                    try pool.regionUri("shm:/p2")
                }
            }
            try encoder.headerRegionUri("shm:/hdr")
            try encoder.errorMessage("")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DriverSchema.ShmAttachResponseDecoder(decodingHeaderOf: buffer)
            #expect(decoder.correlationId == 0x0102_0304_0506_0708)
            #expect(decoder.code == .ok)
            #expect(decoder.leaseId == 0x1112_1314_1516_1718)
            #expect(decoder.leaseExpiryTimestampNs == 0x2122_2324_2526_2728)
            #expect(decoder.streamId == 0x3132_3334)
            #expect(decoder.epoch == 0x4142_4344_4546_4748)
            #expect(decoder.layoutVersion == 0x5152_5354)
            #expect(decoder.headerNslots == 0x6162_6364)
            #expect(decoder.headerSlotBytes == 0x7172)
            #expect(decoder.nodeId == 0x8182_8384)
            var pools = decoder.payloadPools
            #expect(pools.count == 2)
            try requireEntry(pools.next())
            #expect(pools.poolId == 0x0A0B)
            #expect(pools.poolNslots == 0x0C0D_0E0F)
            #expect(pools.strideBytes == 0x1A1B_1C1D)
            #expect(pools.regionUriString == "shm:/p1")
            try requireEntry(pools.next())
            #expect(pools.poolId == 0x2A2B)
            #expect(pools.poolNslots == 0x2C2D_2E2F)
            #expect(pools.strideBytes == 0x3A3B_3C3D)
            #expect(pools.regionUriString == "shm:/p2")
            expectNoMoreEntries(pools.next())
            #expect(decoder.headerRegionUriString == "shm:/hdr")
            #expect(decoder.errorMessage.isEmpty)
            return decoder.limit
        })

    /// A failed attach: every optional field absent (all-ones sentinels of uint64, uint32 and uint16), no pools,
    /// an empty URI and an error message.
    static let shmAttachResponseRejected = GoldenVector(
        "ShmAttachResponse, rejected", schemaId: 901, templateId: 2, blockLength: 54,
        fixture: goldenBytes([
            "36 00 02 00 85 03 01 00",  // messageHeader: blockLength 54, templateId 2, schemaId 901, version 1
            "2a 00 00 00 00 00 00 00",  // +0 correlationId
            "03 00 00 00",  // +8 code (REJECTED)
            "ff ff ff ff ff ff ff ff",  // +12 leaseId (null)
            "ff ff ff ff ff ff ff ff",  // +20 leaseExpiryTimestampNs (null)
            "ff ff ff ff",  // +28 streamId (null)
            "ff ff ff ff ff ff ff ff",  // +32 epoch (null)
            "ff ff ff ff",  // +40 layoutVersion (null)
            "ff ff ff ff",  // +44 headerNslots (null)
            "ff ff",  // +48 headerSlotBytes (null)
            "ff ff ff ff",  // +50 nodeId (null)
            "0a 00 00 00",  // payloadPools: groupSizeEncoding blockLength 10, numInGroup 0
            "00 00 00 00",  // headerRegionUri: length 0
            "0e 00 00 00",  // errorMessage: length 14
            "6e 6f 20 73 75 63 68 20 73 74 72 65 61 6d",  // errorMessage: "no such stream"
        ]),
        encode: { buffer in
            var encoder = try DriverSchema.ShmAttachResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = 42
            encoder.code = .rejected
            encoder.leaseId = nil
            encoder.leaseExpiryTimestampNs = nil
            encoder.streamId = nil
            encoder.epoch = nil
            encoder.layoutVersion = nil
            encoder.headerNslots = nil
            encoder.headerSlotBytes = nil
            encoder.nodeId = nil
            try encoder.payloadPools(count: 0) { _, _ in Issue.record("no entries to write") }
            try encoder.headerRegionUri("")
            try encoder.errorMessage("no such stream")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DriverSchema.ShmAttachResponseDecoder(decodingHeaderOf: buffer)
            #expect(decoder.correlationId == 42)
            #expect(decoder.code == .rejected)
            #expect(decoder.leaseId == nil)
            #expect(decoder.leaseExpiryTimestampNs == nil)
            #expect(decoder.streamId == nil)
            #expect(decoder.epoch == nil)
            #expect(decoder.layoutVersion == nil)
            #expect(decoder.headerNslots == nil)
            #expect(decoder.headerSlotBytes == nil)
            #expect(decoder.nodeId == nil)
            var pools = decoder.payloadPools
            #expect(pools.count == 0)
            expectNoMoreEntries(pools.next())
            #expect(decoder.headerRegionUri.isEmpty)
            #expect(decoder.errorMessageString == "no such stream")
            return decoder.limit
        })

    // MARK: ShmDetachRequest (template 3, block 25)

    static let shmDetachRequest = GoldenVector(
        "ShmDetachRequest", schemaId: 901, templateId: 3, blockLength: 25,
        fixture: goldenBytes([
            "19 00 03 00 85 03 01 00",  // messageHeader: blockLength 25, templateId 3, schemaId 901, version 1
            "08 07 06 05 04 03 02 01",  // +0 correlationId
            "18 17 16 15 14 13 12 11",  // +8 leaseId
            "24 23 22 21",  // +16 streamId
            "34 33 32 31",  // +20 clientId
            "01",  // +24 role (PRODUCER)
        ]),
        encode: { buffer in
            let encoder = try DriverSchema.ShmDetachRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = 0x0102_0304_0506_0708
            encoder.leaseId = 0x1112_1314_1516_1718
            encoder.streamId = 0x2122_2324
            encoder.clientId = 0x3132_3334
            encoder.role = .producer
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DriverSchema.ShmDetachRequestDecoder(decodingHeaderOf: buffer)
            #expect(decoder.correlationId == 0x0102_0304_0506_0708)
            #expect(decoder.leaseId == 0x1112_1314_1516_1718)
            #expect(decoder.streamId == 0x2122_2324)
            #expect(decoder.clientId == 0x3132_3334)
            #expect(decoder.role == .producer)
            return decoder.limit
        })

    // MARK: ShmDetachResponse (template 4, block 12)

    static let shmDetachResponse = GoldenVector(
        "ShmDetachResponse", schemaId: 901, templateId: 4, blockLength: 12,
        fixture: goldenBytes([
            "0c 00 04 00 85 03 01 00",  // messageHeader: blockLength 12, templateId 4, schemaId 901, version 1
            "08 07 06 05 04 03 02 01",  // +0 correlationId
            "02 00 00 00",  // +8 code (INVALID_PARAMS)
            "0c 00 00 00",  // errorMessage: length 12
            "6e 6f 74 20 61 74 74 61 63 68 65 64",  // errorMessage: "not attached"
        ]),
        encode: { buffer in
            var encoder = try DriverSchema.ShmDetachResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = 0x0102_0304_0506_0708
            encoder.code = .invalidParams
            try encoder.errorMessage("not attached")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DriverSchema.ShmDetachResponseDecoder(decodingHeaderOf: buffer)
            #expect(decoder.correlationId == 0x0102_0304_0506_0708)
            #expect(decoder.code == .invalidParams)
            #expect(decoder.errorMessageString == "not attached")
            return decoder.limit
        })

    // MARK: ShmLeaseKeepalive (template 5, block 25)

    static let shmLeaseKeepalive = GoldenVector(
        "ShmLeaseKeepalive", schemaId: 901, templateId: 5, blockLength: 25,
        fixture: goldenBytes([
            "19 00 05 00 85 03 01 00",  // messageHeader: blockLength 25, templateId 5, schemaId 901, version 1
            "08 07 06 05 04 03 02 01",  // +0 leaseId
            "14 13 12 11",  // +8 streamId
            "24 23 22 21",  // +12 clientId
            "02",  // +16 role (CONSUMER)
            "38 37 36 35 34 33 32 31",  // +17 clientTimestampNs
        ]),
        encode: { buffer in
            let encoder = try DriverSchema.ShmLeaseKeepaliveEncoder.wrapAndApplyHeader(buffer)
            encoder.leaseId = 0x0102_0304_0506_0708
            encoder.streamId = 0x1112_1314
            encoder.clientId = 0x2122_2324
            encoder.role = .consumer
            encoder.clientTimestampNs = 0x3132_3334_3536_3738
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DriverSchema.ShmLeaseKeepaliveDecoder(decodingHeaderOf: buffer)
            #expect(decoder.leaseId == 0x0102_0304_0506_0708)
            #expect(decoder.streamId == 0x1112_1314)
            #expect(decoder.clientId == 0x2122_2324)
            #expect(decoder.role == .consumer)
            #expect(decoder.clientTimestampNs == 0x3132_3334_3536_3738)
            return decoder.limit
        })

    // MARK: ShmDriverShutdown (template 6, block 9)

    static let shmDriverShutdown = GoldenVector(
        "ShmDriverShutdown", schemaId: 901, templateId: 6, blockLength: 9,
        fixture: goldenBytes([
            "09 00 06 00 85 03 01 00",  // messageHeader: blockLength 9, templateId 6, schemaId 901, version 1
            "08 07 06 05 04 03 02 01",  // +0 timestampNs
            "01",  // +8 reason (ADMIN)
            "0b 00 00 00",  // errorMessage: length 11
            "6d 61 69 6e 74 65 6e 61 6e 63 65",  // errorMessage: "maintenance"
        ]),
        encode: { buffer in
            var encoder = try DriverSchema.ShmDriverShutdownEncoder.wrapAndApplyHeader(buffer)
            encoder.timestampNs = 0x0102_0304_0506_0708
            encoder.reason = .admin
            try encoder.errorMessage("maintenance")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DriverSchema.ShmDriverShutdownDecoder(decodingHeaderOf: buffer)
            #expect(decoder.timestampNs == 0x0102_0304_0506_0708)
            #expect(decoder.reason == .admin)
            #expect(decoder.errorMessageString == "maintenance")
            return decoder.limit
        })

    // MARK: ShmLeaseRevoked (template 7, block 26)

    static let shmLeaseRevoked = GoldenVector(
        "ShmLeaseRevoked, empty errorMessage", schemaId: 901, templateId: 7, blockLength: 26,
        fixture: goldenBytes([
            "1a 00 07 00 85 03 01 00",  // messageHeader: blockLength 26, templateId 7, schemaId 901, version 1
            "08 07 06 05 04 03 02 01",  // +0 timestampNs
            "18 17 16 15 14 13 12 11",  // +8 leaseId
            "24 23 22 21",  // +16 streamId
            "34 33 32 31",  // +20 clientId
            "02",  // +24 role (CONSUMER)
            "02",  // +25 reason (EXPIRED)
            "00 00 00 00",  // errorMessage: length 0
        ]),
        encode: { buffer in
            var encoder = try DriverSchema.ShmLeaseRevokedEncoder.wrapAndApplyHeader(buffer)
            encoder.timestampNs = 0x0102_0304_0506_0708
            encoder.leaseId = 0x1112_1314_1516_1718
            encoder.streamId = 0x2122_2324
            encoder.clientId = 0x3132_3334
            encoder.role = .consumer
            encoder.reason = .expired
            try encoder.errorMessage("")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DriverSchema.ShmLeaseRevokedDecoder(decodingHeaderOf: buffer)
            #expect(decoder.timestampNs == 0x0102_0304_0506_0708)
            #expect(decoder.leaseId == 0x1112_1314_1516_1718)
            #expect(decoder.streamId == 0x2122_2324)
            #expect(decoder.clientId == 0x3132_3334)
            #expect(decoder.role == .consumer)
            #expect(decoder.reason == .expired)
            #expect(decoder.errorMessage.isEmpty)
            return decoder.limit
        })

    // MARK: ShmDriverShutdownRequest (template 8, block 9)

    static let shmDriverShutdownRequest = GoldenVector(
        "ShmDriverShutdownRequest", schemaId: 901, templateId: 8, blockLength: 9,
        fixture: goldenBytes([
            "09 00 08 00 85 03 01 00",  // messageHeader: blockLength 9, templateId 8, schemaId 901, version 1
            "08 07 06 05 04 03 02 01",  // +0 correlationId
            "02",  // +8 reason (ERROR)
            "06 00 00 00",  // token: length 6
            "73 33 63 72 65 74",  // token: "s3cret"
            "07 00 00 00",  // errorMessage: length 7
            "75 70 67 72 61 64 65",  // errorMessage: "upgrade"
        ]),
        encode: { buffer in
            var encoder = try DriverSchema.ShmDriverShutdownRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = 0x0102_0304_0506_0708
            encoder.reason = .error
            try encoder.token("s3cret")
            try encoder.errorMessage("upgrade")
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try DriverSchema.ShmDriverShutdownRequestDecoder(decodingHeaderOf: buffer)
            #expect(decoder.correlationId == 0x0102_0304_0506_0708)
            #expect(decoder.reason == .error)
            #expect(decoder.tokenString == "s3cret")
            #expect(decoder.errorMessageString == "upgrade")
            return decoder.limit
        })
}
