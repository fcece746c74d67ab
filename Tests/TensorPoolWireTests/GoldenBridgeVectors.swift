import SBE
import TensorPoolWire
import Testing

// Golden vectors of schema 902 (Specs/schemas/bridge.xml): its one message, hand-computed from the schema. Fields sit
// in wire order, which is not id order: `traceId` (id 12) after `seq`, `payloadCrc32c` (id 13) before
// `headerIncluded`.

extension GoldenVector {
    static var bridge: [GoldenVector] { [GoldenBridge.bridgeFrameChunkFirst, GoldenBridge.bridgeFrameChunkLater] }
}

enum GoldenBridge {
    static let headerSlice: [UInt8] = Array(0..<32)
    static let firstPayload: [UInt8] = [0xCA, 0xFE, 0xBA, 0xBE, 0x00, 0xFF]
    static let laterPayload: [UInt8] = [0xDE, 0xAD, 0xBE, 0xEF]

    // MARK: BridgeFrameChunk (template 1, block 53)

    /// The first chunk of a frame: carries header bytes (`varDataEncoding256`) and a trace id.
    static let bridgeFrameChunkFirst = GoldenVector(
        "BridgeFrameChunk, first chunk", schemaId: 902, templateId: 1, blockLength: 53,
        fixture: goldenBytes([
            "35 00 01 00 86 03 01 00",  // messageHeader: blockLength 53, templateId 1, schemaId 902, version 1
            "04 03 02 01",  // +0 streamId
            "18 17 16 15 14 13 12 11",  // +4 epoch
            "28 27 26 25 24 23 22 21",  // +12 seq
            "38 37 36 35 34 33 32 31",  // +20 traceId (id 12, wire order)
            "00 00 00 00",  // +28 chunkIndex
            "03 00 00 00",  // +32 chunkCount
            "00 00 00 00",  // +36 chunkOffset
            "00 10 00 00",  // +40 chunkLength
            "00 30 00 00",  // +44 payloadLength
            "44 43 42 41",  // +48 payloadCrc32c (id 13, wire order)
            "01",  // +52 headerIncluded (TRUE)
            "20 00 00 00",  // headerBytes: length 32
            "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",  // headerBytes: bytes 0..<16
            "10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f",  // headerBytes: bytes 16..<32
            "06 00 00 00",  // payloadBytes: length 6
            "ca fe ba be 00 ff",  // payloadBytes: bytes 0..<6
        ]),
        encode: { buffer in
            var encoder = try BridgeSchema.BridgeFrameChunkEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.epoch = 0x1112_1314_1516_1718
            encoder.seq = 0x2122_2324_2526_2728
            encoder.traceId = 0x3132_3334_3536_3738
            encoder.chunkIndex = 0
            encoder.chunkCount = 3
            encoder.chunkOffset = 0
            encoder.chunkLength = 0x1000
            encoder.payloadLength = 0x3000
            encoder.payloadCrc32c = 0x4142_4344
            encoder.headerIncluded = .true
            try headerSlice.withUnsafeBytes { try encoder.headerBytes($0) }
            try firstPayload.withUnsafeBytes { try encoder.payloadBytes($0) }
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try BridgeSchema.BridgeFrameChunkDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.epoch == 0x1112_1314_1516_1718)
            #expect(decoder.seq == 0x2122_2324_2526_2728)
            #expect(decoder.traceId == 0x3132_3334_3536_3738)
            #expect(decoder.chunkIndex == 0)
            #expect(decoder.chunkCount == 3)
            #expect(decoder.chunkOffset == 0)
            #expect(decoder.chunkLength == 0x1000)
            #expect(decoder.payloadLength == 0x3000)
            #expect(decoder.payloadCrc32c == 0x4142_4344)
            #expect(decoder.headerIncluded == .true)
            #expect(Array(decoder.headerBytes) == headerSlice)
            #expect(Array(decoder.payloadBytes) == firstPayload)
            return decoder.limit
        })

    /// A later chunk: `traceId` absent (its nullValue is 0) and `headerBytes` empty.
    static let bridgeFrameChunkLater = GoldenVector(
        "BridgeFrameChunk, later chunk", schemaId: 902, templateId: 1, blockLength: 53,
        fixture: goldenBytes([
            "35 00 01 00 86 03 01 00",  // messageHeader: blockLength 53, templateId 1, schemaId 902, version 1
            "09 00 00 00",  // +0 streamId
            "08 00 00 00 00 00 00 00",  // +4 epoch
            "07 00 00 00 00 00 00 00",  // +12 seq
            "00 00 00 00 00 00 00 00",  // +20 traceId (null: nullValue="0")
            "02 00 00 00",  // +28 chunkIndex
            "03 00 00 00",  // +32 chunkCount
            "00 20 00 00",  // +36 chunkOffset
            "04 00 00 00",  // +40 chunkLength
            "04 20 00 00",  // +44 payloadLength
            "00 00 00 00",  // +48 payloadCrc32c
            "00",  // +52 headerIncluded (FALSE)
            "00 00 00 00",  // headerBytes: length 0
            "04 00 00 00",  // payloadBytes: length 4
            "de ad be ef",  // payloadBytes: bytes 0..<4
        ]),
        encode: { buffer in
            var encoder = try BridgeSchema.BridgeFrameChunkEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 9
            encoder.epoch = 8
            encoder.seq = 7
            encoder.traceId = nil
            encoder.chunkIndex = 2
            encoder.chunkCount = 3
            encoder.chunkOffset = 0x2000
            encoder.chunkLength = 4
            encoder.payloadLength = 0x2004
            encoder.payloadCrc32c = 0
            encoder.headerIncluded = .false
            try encoder.headerBytes(UnsafeRawBufferPointer(start: nil, count: 0))
            try laterPayload.withUnsafeBytes { try encoder.payloadBytes($0) }
            return MessageHeader.encodedLength + encoder.encodedLength
        },
        decode: { buffer in
            let decoder = try BridgeSchema.BridgeFrameChunkDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 9)
            #expect(decoder.epoch == 8)
            #expect(decoder.seq == 7)
            #expect(decoder.traceId == nil)
            #expect(decoder.chunkIndex == 2)
            #expect(decoder.chunkCount == 3)
            #expect(decoder.chunkOffset == 0x2000)
            #expect(decoder.chunkLength == 4)
            #expect(decoder.payloadLength == 0x2004)
            #expect(decoder.payloadCrc32c == 0)
            #expect(decoder.headerIncluded == .false)
            #expect(decoder.headerBytes.isEmpty)
            #expect(Array(decoder.payloadBytes) == laterPayload)
            return decoder.limit
        })
}
