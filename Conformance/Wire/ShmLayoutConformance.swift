import ConformanceSupport
import SBE
import TensorPoolWire
import Testing

/// Wire spec §6–§8: the byte layouts of the SHM regions, as the generated codecs write them.
@Suite("Wire §6–§8: SHM layouts")
struct ShmLayoutConformance {
    @Test("the superblock is exactly 64 bytes", .verifies("WIRE-6-002"))
    func superblockSize() throws {
        #expect(WireSchema.ShmRegionSuperblockEncoder.blockLength == 64)
        var bytes = [UInt8](repeating: 0xEE, count: 80)
        try bytes.withUnsafeMutableBytes { buffer in
            let encoder = try WireSchema.ShmRegionSuperblockEncoder(buffer)
            encoder.activityTimestampNs = 1
            #expect(encoder.encodedLength == 64)
        }
        #expect(bytes[64...].allSatisfy { $0 == 0xEE })
    }

    @Test(
        "superblock fields are little-endian at the SBE layout's offsets",
        .verifies("WIRE-6-001", "WIRE-7.1-005"))
    func superblockLayout() throws {
        var bytes = [UInt8](repeating: 0, count: 64)
        try bytes.withUnsafeMutableBytes { buffer in
            let encoder = try WireSchema.ShmRegionSuperblockEncoder(buffer)
            encoder.magic = 0x544F_504C_5348_4D31
            encoder.layoutVersion = 1
            encoder.epoch = 0x0102_0304_0506_0708
            encoder.streamId = 10_000
            encoder.regionType = .payloadPool
            encoder.poolId = 3
            encoder.nslots = 64
            encoder.slotBytes = 4096
            encoder.strideBytes = 4096
            encoder.pid = 1234
            encoder.startTimestampNs = 5
            encoder.activityTimestampNs = 6
        }
        #expect(Array(bytes[0..<8]) == [0x31, 0x4D, 0x48, 0x53, 0x4C, 0x50, 0x4F, 0x54])  // magic, LE u64
        #expect(Array(bytes[8..<12]) == [1, 0, 0, 0])  // layoutVersion
        #expect(Array(bytes[12..<20]) == [8, 7, 6, 5, 4, 3, 2, 1])  // epoch
        #expect(Array(bytes[20..<24]) == [0x10, 0x27, 0, 0])  // streamId 10000
        #expect(Array(bytes[24..<26]) == [2, 0])  // regionType PAYLOAD_POOL
        #expect(Array(bytes[26..<28]) == [3, 0])  // poolId
        #expect(Array(bytes[28..<32]) == [64, 0, 0, 0])  // nslots
        #expect(Array(bytes[40..<48]) == [0xD2, 0x04, 0, 0, 0, 0, 0, 0])  // pid
        #expect(Array(bytes[56..<64]) == [6, 0, 0, 0, 0, 0, 0, 0])  // activityTimestampNs
    }

    @Test("a header slot with its embedded TensorHeader is exactly 256 bytes", .verifies("WIRE-8.1-001"))
    func headerSlotSize() throws {
        var tensorHeader = [UInt8](repeating: 0, count: MessageHeader.encodedLength + 184)
        try tensorHeader.withUnsafeMutableBytes { buffer in
            let encoder = try WireSchema.TensorHeaderEncoder.wrapAndApplyHeader(buffer)
            encoder.ndims = 1
            encoder.setDims(0, 16)
            #expect(MessageHeader.encodedLength + encoder.encodedLength == 192)
        }
        var slot = [UInt8](repeating: 0, count: 256)
        let length = try slot.withUnsafeMutableBytes { buffer in
            var encoder = try WireSchema.SlotHeaderEncoder(buffer)
            encoder.seqCommit = (7 << 1) | 1
            try tensorHeader.withUnsafeBytes { try encoder.headerBytes($0) }
            return encoder.encodedLength
        }
        #expect(length == 256)
    }
}
