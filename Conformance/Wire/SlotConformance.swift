import ConformanceSupport
import SBE
import TensorPoolSHM
import TensorPoolWire
import Testing

/// §8–§9, §15.3–§15.5, §15.8, §15.18, §15.21: header slots, payload pools, the commit word and every drop rule, in
/// one process with a writable and a separate read-only mapping of the same files.
@Suite("Wire §8–§9/§15: slots, pools and validation")
struct SlotConformance {
    @Test(
        "slot i starts at 64 + i*256, its seq_commit is at offset 0, 8-byte aligned inside one cache line",
        .verifies("WIRE-8.1-001", "WIRE-8.2-003", "WIRE-8.2-011", "WIRE-8.2-012", "WIRE-15.18-001", "WIRE-15.21-003"))
    func slotOffsets() throws {
        let fixture = try ShmFixture(nslots: 8)
        for seq: UInt64 in [3, 8, 13] {
            let claim = try fixture.publish(seq)
            #expect(claim.headerIndex == Int(seq & 7))
            let offset = 64 + claim.headerIndex * 256
            let word = fixture.regions.header.bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            #expect(UInt64(littleEndian: word) == (seq << 1) | 1)
            let address = UInt(bitPattern: fixture.regions.header.base + offset)
            #expect(address % 64 == 0, "seq_commit starts a cache line, so all 8 bytes share it")
        }
        let reader = try fixture.reader()
        let frame = try #require(reader.read(seq: 13, epoch: fixture.epoch).frame)
        #expect(frame.headerIndex == 5)
    }

    @Test("header rings must have a power-of-two slot count", .verifies("WIRE-8.1-002"))
    func powerOfTwoSlots() throws {
        #expect(throws: RegionError.self) { try ShmFixture(nslots: 6) }
        let fixture = try ShmFixture(nslots: 8)
        var announce = fixture.announce
        announce.headerNslots = 12
        for index in announce.pools.indices { announce.pools[index].nslots = 12 }
        #expect(throws: RegionError.self) { try fixture.mapConsumer(announce) }
    }

    @Test(
        "the slot is a bare SlotHeader body (no message header) followed by a 192-byte embedded TensorHeader",
        .verifies("WIRE-8.2-001", "WIRE-8.2-004", "WIRE-8.2-007", "WIRE-15.8-002"))
    func slotEncoding() throws {
        let fixture = try ShmFixture()
        try fixture.publish(2, length: 100)
        let slot = UnsafeRawBufferPointer(fixture.slot(2))
        let header = try WireSchema.SlotHeaderDecoder(slot)  // wrapped at offset 0, no message header
        #expect(header.seqCommit == (2 << 1) | 1)
        #expect(header.valuesLenBytes == 100)
        #expect(header.headerBytes.count == 192)
        #expect(header.encodedLength == 256)
        let tensor = try WireSchema.TensorHeaderDecoder(decodingHeaderOf: header.headerBytes)
        #expect(tensor.ndims == 1 && tensor.dims(0) == 100)
        // maxDims is a constant: the block is 184 bytes with dims at 11 and strides at 43, no byte for maxDims.
        #expect(WireSchema.TensorHeaderDecoder.maxDims == 8 && ShmLayout.maxDims == 8)
        #expect(WireSchema.TensorHeaderDecoder.blockLength == 184)
        #expect(WireSchema.TensorHeaderDecoder.dimsLength == 8 && WireSchema.TensorHeaderDecoder.stridesLength == 8)
    }

    @Test(
        "the producer zeroes SlotHeader.pad, TensorHeader padding and dims/strides beyond ndims",
        .verifies("WIRE-8.2-005", "WIRE-8.2-017", "WIRE-8.2-024", "WIRE-8.2-026"))
    func producerZeroes() throws {
        let fixture = try ShmFixture()
        // A descriptor carrying junk beyond ndims: the encoding must still write zeros there.
        var dims = DimensionArray([4, 8])
        dims[5] = 99
        var strides = DimensionArray()
        strides[7] = 12
        let tensor = TensorDescriptor(
            unvalidated: .uint8, majorOrder: .row, ndims: 2, dims: dims, strides: strides, progressUnit: .noneValue,
            progressStrideBytes: 0)
        fixture.slot(1).initializeMemory(as: UInt8.self, repeating: 0xAB)
        try fixture.publish(1, length: 32, tensor: tensor)
        let slot = UnsafeRawBufferPointer(fixture.slot(1))
        #expect(slot[34..<60].allSatisfy { $0 == 0 }, "SlotHeader.pad")
        let decoder = try WireSchema.TensorHeaderDecoder(
            decodingHeaderOf: try WireSchema.SlotHeaderDecoder(slot).headerBytes)
        for index in 2..<8 {
            #expect(decoder.dims(index) == 0 && decoder.strides(index) == 0)
        }
        #expect(decoder.padBytes.allSatisfy { $0 == 0 }, "TensorHeader padding holds no pointers or junk")
        #expect(decoder.padAlign == 0)
    }

    @Test(
        "the consumer ignores SlotHeader.pad, TensorHeader padding and dims/strides beyond ndims",
        .verifies("WIRE-8.2-006", "WIRE-8.2-018", "WIRE-8.2-025"))
    func consumerIgnoresReserved() throws {
        let fixture = try ShmFixture()
        try fixture.publish(4, length: 64)
        let reader = try fixture.reader()
        for offset in 34..<60 { fixture.tamper(slot: 4, at: offset, UInt8(0xEE)) }
        fixture.tamper(slot: 4, at: ShmFixture.tensorField(11 + 4 * 6), Int32(1234))  // dims[6]
        fixture.tamper(slot: 4, at: ShmFixture.tensorField(43 + 4 * 7), Int32(-5))  // strides[7]
        for offset in 75..<184 { fixture.tamper(slot: 4, at: ShmFixture.tensorField(offset), UInt8(0x77)) }
        let frame = try #require(reader.read(seq: 4, epoch: fixture.epoch).frame)
        #expect(frame.tensor.ndims == 1 && frame.payload.count == 64)
    }

    @Test(
        "a frame whose ndims is 0 or above 8 is dropped; descriptors outside 1...8 are refused",
        .verifies("WIRE-8.2-013", "WIRE-8.2-014"))
    func rank() throws {
        #expect(throws: TensorHeaderError.invalidRank(0)) { try TensorDescriptor(dtype: .uint8, shape: []) }
        #expect(throws: TensorHeaderError.invalidRank(9)) {
            try TensorDescriptor(dtype: .uint8, shape: Array(repeating: 1, count: 9))
        }
        for (seq, ndims) in [(UInt64(1), UInt8(0)), (2, 9), (3, 255)] {
            let fixture = try ShmFixture()
            try fixture.publish(seq)
            let reader = try fixture.reader()
            fixture.tamper(slot: Int(seq), at: ShmFixture.tensorField(4), ndims)
            #expect(reader.read(seq: seq, epoch: fixture.epoch).dropReason == .tensorHeader)
        }
    }

    @Test(
        "payload_offset is written as 0 and any other value makes the consumer drop the frame",
        .verifies("WIRE-8.2-015", "WIRE-8.2-016"))
    func payloadOffset() throws {
        let fixture = try ShmFixture()
        try fixture.publish(3)
        #expect(try WireSchema.SlotHeaderDecoder(UnsafeRawBufferPointer(fixture.slot(3))).payloadOffset == 0)
        let reader = try fixture.reader()
        fixture.tamper(slot: 3, at: 18, UInt32(64))
        #expect(reader.read(seq: 3, epoch: fixture.epoch).dropReason == .slotHeader)
    }

    @Test(
        "negative strides are refused by the producer and dropped by the consumer",
        .verifies("WIRE-8.2-019", "WIRE-8.2-021"))
    func negativeStrides() throws {
        #expect(throws: TensorHeaderError.negativeStride(index: 0, value: -4)) {
            try TensorDescriptor(dtype: .uint8, shape: [4, 4], strides: [-4, 1])
        }
        let fixture = try ShmFixture()
        try fixture.publish(5, length: 16, tensor: try TensorDescriptor(dtype: .uint8, shape: [4, 4]))
        let reader = try fixture.reader()
        fixture.tamper(slot: 5, at: ShmFixture.tensorField(43), Int32(-4))
        #expect(reader.read(seq: 5, epoch: fixture.epoch).dropReason == .tensorHeader)
    }

    @Test(
        "strides must not overlap and must agree with major_order (row: strides grow as the index falls)",
        .verifies("WIRE-8.2-020", "WIRE-8.2-021"))
    func stridesAgreeWithOrder() throws {
        // Valid: contiguous row-major, padded rows, contiguous column-major.
        _ = try TensorDescriptor(dtype: .float32, shape: [3, 5], strides: [20, 4])
        _ = try TensorDescriptor(dtype: .float32, shape: [3, 5], strides: [32, 4])
        _ = try TensorDescriptor(dtype: .float32, shape: [3, 5], strides: [4, 12], majorOrder: .column)
        // Overlap: rows 2 bytes apart but 5 float32 wide.
        #expect(throws: TensorHeaderError.self) {
            try TensorDescriptor(dtype: .float32, shape: [3, 5], strides: [8, 4])
        }
        // Column-major strides declared as row-major contradict the order.
        #expect(throws: TensorHeaderError.self) {
            try TensorDescriptor(dtype: .float32, shape: [3, 5], strides: [4, 12], majorOrder: .row)
        }
        // Inner stride smaller than the element.
        #expect(throws: TensorHeaderError.self) {
            try TensorDescriptor(dtype: .float64, shape: [4], strides: [4])
        }
        let fixture = try ShmFixture()
        try fixture.publish(6, length: 60, tensor: try TensorDescriptor(dtype: .float32, shape: [3, 5]))
        let reader = try fixture.reader()
        fixture.tamper(slot: 6, at: ShmFixture.tensorField(43), Int32(8))  // strides[0] = 8 < 5 * 4
        #expect(reader.read(seq: 6, epoch: fixture.epoch).dropReason == .tensorHeader)
        #expect(reader.counters.dropsInvalid == 1)
    }

    @Test(
        "progress_stride_bytes must be non-zero and equal the layout's row/column stride when progress_unit != NONE",
        .verifies("WIRE-8.2-008", "WIRE-8.2-022", "WIRE-8.2-023"))
    func progressStride() throws {
        _ = try TensorDescriptor(dtype: .uint16, shape: [10, 32], progressUnit: .rows, progressStrideBytes: 64)
        _ = try TensorDescriptor(
            dtype: .uint16, shape: [10, 32], strides: [128, 2], progressUnit: .rows, progressStrideBytes: 128)
        #expect(throws: TensorHeaderError.progressStrideMismatch(expected: 64, actual: 0)) {
            try TensorDescriptor(dtype: .uint16, shape: [10, 32], progressUnit: .rows, progressStrideBytes: 0)
        }
        #expect(throws: TensorHeaderError.progressStrideMismatch(expected: 64, actual: 60)) {
            try TensorDescriptor(dtype: .uint16, shape: [10, 32], progressUnit: .rows, progressStrideBytes: 60)
        }
        let fixture = try ShmFixture()
        let bad = TensorDescriptor(
            unvalidated: .uint16, majorOrder: .row, ndims: 2, dims: DimensionArray([10, 32]), strides: DimensionArray(),
            progressUnit: .rows, progressStrideBytes: 0)
        let claim = try fixture.writer.claim(seq: 1, length: 640)
        #expect(throws: PublishError.invalidTensor(.progressStrideMismatch(expected: 64, actual: 0))) {
            try fixture.writer.commit(claim, tensor: bad, timestampNs: 1, metaVersion: 0)
        }
        let good = try TensorDescriptor(dtype: .uint16, shape: [10, 32], progressUnit: .rows, progressStrideBytes: 64)
        try fixture.publish(2, length: 640, tensor: good)
        let reader = try fixture.reader()
        fixture.tamper(slot: 2, at: ShmFixture.tensorField(7), UInt32(63))
        #expect(reader.read(seq: 2, epoch: fixture.epoch).dropReason == .tensorHeader)
    }

    @Test(
        "a slot holding another sequence than the descriptor's is dropped as late",
        .verifies("WIRE-8.2-010", "WIRE-8.2-027", "WIRE-15.21-006", "WIRE-8.3-009"))
    func sequenceMismatch() throws {
        let fixture = try ShmFixture(nslots: 8)
        try fixture.publish(13)  // slot 5
        let reader = try fixture.reader()
        #expect(reader.read(seq: 5, epoch: fixture.epoch).dropReason == .sequenceMismatch)  // overwritten by 13
        #expect(reader.read(seq: 21, epoch: fixture.epoch).dropReason == .sequenceMismatch)  // not yet written
        #expect(reader.counters.dropsLate == 2)
        #expect(reader.read(seq: 29, epoch: fixture.epoch).frame == nil)
    }

    @Test(
        "an empty payload is committed and accepted, with payload_slot = header_index, and no payload is exposed",
        .verifies("WIRE-8.2-028", "WIRE-8.2-029", "WIRE-8.2-030"))
    func emptyPayload() throws {
        let fixture = try ShmFixture()
        try fixture.publish(11, length: 0, tensor: try TensorDescriptor(dtype: .uint8, shape: [0]))
        let header = try WireSchema.SlotHeaderDecoder(UnsafeRawBufferPointer(fixture.slot(3)))
        #expect(header.seqCommit == (11 << 1) | 1 && header.valuesLenBytes == 0 && header.payloadSlot == 3)
        let reader = try fixture.reader()
        let frame = try #require(reader.read(seq: 11, epoch: fixture.epoch).frame)
        #expect(frame.payload.count == 0 && frame.payload.baseAddress == nil)
    }

    @Test(
        "claim stores the in-progress word first; until commit the consumer drops the slot without waiting",
        .verifies(
            "WIRE-8.3-001", "WIRE-8.3-003", "WIRE-8.3-005", "WIRE-15.18-002", "WIRE-15.21-001", "WIRE-15.21-004",
            "WIRE-15.21-007", "WIRE-15.21-008"))
    func inProgressThenCommitted() throws {
        let fixture = try ShmFixture()
        try fixture.publish(1)
        let reader = try fixture.reader()
        #expect(reader.read(seq: 1, epoch: fixture.epoch).frame != nil)
        let claim = try fixture.writer.claim(seq: 9, length: 128)  // slot 1 again: S2 → S1
        let word = fixture.regions.header.bytes.loadUnaligned(fromByteOffset: 64 + 256, as: UInt64.self)
        #expect(word == 9 << 1, "in-progress: sequence 9, LSB clear")
        #expect(reader.read(seq: 9, epoch: fixture.epoch).dropReason == .notCommitted)
        claim.payload.initializeMemory(as: UInt8.self, repeating: 9)
        try fixture.writer.commit(
            claim, tensor: try TensorDescriptor(dtype: .uint8, shape: [128]), timestampNs: 1, metaVersion: 0)
        // The reader carries on after the drop: the next frame of the slot is accepted.
        try fixture.publish(17)
        let frame = try #require(reader.read(seq: 17, epoch: fixture.epoch).frame)
        #expect(frame.seq == 17 && frame.payload[0] == 17 && frame.payload[1] == 18)
        #expect(reader.counters.dropsLate == 1 && reader.drops(.notCommitted) == 1)
    }

    @Test(
        "every header field is rewritten on each use, whatever the slot held before",
        .verifies("WIRE-8.3-002", "WIRE-15.18-003"))
    func wholeSlotRewritten() throws {
        let clean = try ShmFixture()
        let dirty = try ShmFixture()
        dirty.slot(2).initializeMemory(as: UInt8.self, repeating: 0xFF)
        try clean.publish(2, length: 48)
        try dirty.publish(2, length: 48)
        #expect(Array(clean.slot(2)) == Array(dirty.slot(2)))
    }

    @Test(
        "headerBytes of the wrong length, or an embedded header of another template, schema or version, is dropped",
        .verifies("WIRE-8.3-006", "WIRE-8.3-007", "WIRE-8.3-008", "WIRE-15.18-006", "WIRE-15.21-005"))
    func embeddedHeader() throws {
        let cases: [(Int, UInt32)] = [
            (60, 191),  // headerBytes length
            (64 + 2, 53),  // template id (as u16)
            (64 + 4, 901),  // schema id
            (64 + 6, 2),  // version
            (64 + 0, 183),  // block length
        ]
        for (offset, value) in cases {
            let fixture = try ShmFixture()
            try fixture.publish(7)
            let reader = try fixture.reader()
            if offset == 60 {
                fixture.tamper(slot: 7, at: offset, value)
            } else {
                fixture.tamper(slot: 7, at: offset, UInt16(value))
            }
            #expect(reader.read(seq: 7, epoch: fixture.epoch).dropReason == .embeddedHeader, "offset \(offset)")
        }
    }

    @Test(
        "the smallest pool whose stride holds the payload is used; a larger frame is dropped without blocking",
        .verifies("WIRE-9-001", "WIRE-9-002", "WIRE-9-003", "WIRE-9-004", "WIRE-9-006", "WIRE-9-007"))
    func poolSelection() throws {
        let fixture = try ShmFixture(
            pools: [PoolSpec(poolId: 7, strideBytes: 65_536), PoolSpec(poolId: 3, strideBytes: 1024)])
        #expect(try fixture.publish(1, length: 1024).poolId == 3)
        #expect(try fixture.publish(2, length: 1025).poolId == 7)
        #expect(try fixture.publish(3, length: 0).poolId == 3)
        let before = Array(fixture.slot(4))
        #expect(throws: PublishError.noPoolFits(length: 65_537, largestStride: 65_536)) {
            try fixture.writer.claim(seq: 4, length: 65_537)
        }
        #expect(Array(fixture.slot(4)) == before, "the dropped frame touched no slot")
        #expect(fixture.writer.dropsNoPool == 1)
        let header = try WireSchema.SlotHeaderDecoder(UnsafeRawBufferPointer(fixture.slot(2)))
        #expect(header.poolId == 7 && header.payloadSlot == 2)
        let reader = try fixture.reader()  // keeps the mapping alive while the frame's payload is read
        let frame = try #require(reader.read(seq: 2, epoch: fixture.epoch).frame)
        #expect(
            frame.poolId == 7 && frame.payload.count == 1025 && frame.payload[1024] == UInt8(truncatingIfNeeded: 1026))
    }

    @Test(
        "a payload slot outside the mapped pool, an unknown pool or values longer than the stride drop the frame",
        .verifies("WIRE-10.2.1-012", "WIRE-10.2.1-013"))
    func payloadBounds() throws {
        let fixture = try ShmFixture(nslots: 8)
        let reader = try fixture.reader()
        for (seq, offset, value) in [(UInt64(1), 12, UInt32(1_000)), (2, 8, UInt32(1_025))] {
            try fixture.publish(seq, length: 100)
            fixture.tamper(slot: Int(seq), at: offset, value)  // payload_slot beyond the pool; values_len > 1024
            #expect(reader.read(seq: seq, epoch: fixture.epoch).dropReason == .slotHeader)
        }
        try fixture.publish(3, length: 100)
        fixture.tamper(slot: 3, at: 16, UInt16(9))  // no pool 9 is mapped
        #expect(reader.read(seq: 3, epoch: fixture.epoch).dropReason == .slotHeader)
        try fixture.publish(4, length: 1_024)  // exactly the stride is fine
        #expect(reader.read(seq: 4, epoch: fixture.epoch).frame?.payload.count == 1_024)
    }

    @Test(
        "every pool has the header ring's nslots and payload_slot must equal header_index",
        .verifies("WIRE-9-005", "WIRE-15.5-001", "WIRE-15.5-002"))
    func poolMapping() throws {
        let fixture = try ShmFixture(nslots: 8)
        var announce = fixture.announce
        announce.pools[0].nslots = 16
        #expect(throws: RegionError.self) { try fixture.mapConsumer(announce) }
        #expect(fixture.regions.pools.allSatisfy { $0.nslots == 8 })
        try fixture.publish(5)
        let reader = try fixture.reader()
        fixture.tamper(slot: 5, at: 12, UInt32(6))
        #expect(reader.read(seq: 5, epoch: fixture.epoch).dropReason == .slotHeader)
    }

    @Test(
        "a seq_commit that went backwards in a slot is stale and skipped",
        .verifies("WIRE-15.3-001"))
    func staleCommit() throws {
        let fixture = try ShmFixture(nslots: 8)
        try fixture.publish(9)
        let reader = try fixture.reader()
        #expect(reader.read(seq: 9, epoch: fixture.epoch).frame != nil)
        fixture.tamper(slot: 1, at: 0, UInt64((1 << 1) | 1))  // slot 1 now claims sequence 1, lower than 9
        #expect(reader.read(seq: 17, epoch: fixture.epoch).dropReason == .staleCommit)
        #expect(reader.counters.dropsLate == 1)
    }

    @Test(
        "the producer overwrites slots without waiting for consumers and applies no backpressure",
        .verifies("WIRE-15.4-001", "WIRE-15.4-004"))
    func noBackpressure() throws {
        let fixture = try ShmFixture(nslots: 4)
        let reader = try fixture.reader()
        try fixture.publish(0)
        let held = try #require(reader.read(seq: 0, epoch: fixture.epoch).frame)  // a consumer holds a view
        for seq: UInt64 in 1...12 { try fixture.publish(seq) }  // three laps, never blocked
        #expect(fixture.writer.framesCommitted == 13)
        #expect(!reader.isStillValid(held), "the held frame was overwritten, and the consumer can tell")
        #expect(reader.read(seq: 12, epoch: fixture.epoch).frame != nil)
    }

    @Test(
        "gaps and late frames are counted apart and exactly",
        .verifies("WIRE-15.4-002", "WIRE-15.4-003", "WIRE-15.13-005", "WIRE-15.18-008"))
    func dropAccounting() throws {
        let fixture = try ShmFixture(nslots: 8)
        for seq: UInt64 in 0...12 { try fixture.publish(seq) }
        let reader = try fixture.reader()
        #expect(reader.read(seq: 0, epoch: fixture.epoch).dropReason == .sequenceMismatch)  // overwritten by 8
        #expect(reader.read(seq: 5, epoch: fixture.epoch).frame != nil)  // 1...4 never offered: 4 gaps
        #expect(reader.read(seq: 6, epoch: fixture.epoch).frame != nil)
        try fixture.publish(13)
        try fixture.publish(14)
        #expect(reader.read(seq: 6 + 1, epoch: fixture.epoch).frame != nil)
        _ = try fixture.writer.claim(seq: 16, length: 8)  // slot 0 in progress
        #expect(reader.read(seq: 16, epoch: fixture.epoch).dropReason == .notCommitted)  // 8...15: 8 gaps
        #expect(reader.counters.dropsGap == 4 + 8)
        #expect(reader.counters.dropsLate == 2)
        #expect(reader.counters.framesAccepted == 3)
    }

    @Test(
        "a gap above max_outstanding_seq_gap (default 256, configurable) resynchronises and is reported",
        .verifies("WIRE-15.4-006", "WIRE-15.4-007", "WIRE-15.4-008", "WIRE-15.4-009"))
    func maxOutstandingGap() throws {
        let fixture = try ShmFixture(nslots: 8)
        #expect(try fixture.reader().maxOutstandingSeqGap == 256)
        try fixture.publish(1)
        try fixture.publish(40)
        let reader = try fixture.reader(maxOutstandingSeqGap: 16)
        #expect(reader.read(seq: 1, epoch: fixture.epoch).frame != nil)
        #expect(reader.read(seq: 40, epoch: fixture.epoch).frame != nil, "resync jumps to the latest frame")
        #expect(reader.counters.resyncs == 1 && reader.counters.dropsGap == 38)
    }

    @Test(
        "unknown dtype, major_order or progress_unit values are rejected, not misread",
        .verifies("WIRE-15.8-004", "WIRE-15.20-003"))
    func unknownEnums() throws {
        for (offset, value, width) in [(0, 12, 2), (0, 0, 2), (0, 99, 2), (2, 3, 2), (2, 0, 2), (6, 3, 1)] {
            let fixture = try ShmFixture()
            try fixture.publish(1)
            let reader = try fixture.reader()
            if width == 2 {
                fixture.tamper(slot: 1, at: ShmFixture.tensorField(offset), Int16(value))
            } else {
                fixture.tamper(slot: 1, at: ShmFixture.tensorField(offset), UInt8(value))
            }
            #expect(reader.read(seq: 1, epoch: fixture.epoch).dropReason == .tensorHeader, "field \(offset)=\(value)")
        }
        #expect(throws: TensorHeaderError.unknownDtype(12)) {
            try TensorDescriptor(dtype: WireSchema.Dtype(rawValue: 12), shape: [1])
        }
    }

    @Test(
        "a descriptor of another epoch is dropped before the slot is touched",
        .verifies("WIRE-15.18-005"))
    func epochCheckedFirst() throws {
        let fixture = try ShmFixture()
        try fixture.publish(3)
        let reader = try fixture.reader()
        #expect(reader.read(seq: 3, epoch: fixture.epoch + 1).dropReason == .epochMismatch)
        #expect(reader.drops(.notCommitted) == 0 && reader.counters.framesAccepted == 0)
        #expect(reader.read(seq: 3, epoch: fixture.epoch).frame != nil, "the failed check consumed nothing")
    }

    @Test(
        "dtype and major_order carry the registry's numeric values, pinned here for all of v1.x",
        .verifies("WIRE-15.8-007", "WIRE-15.8-008"))
    func enumRegistry() throws {
        let dtypes: [(WireSchema.Dtype, Int16)] = [
            (.unknown, 0), (.uint8, 1), (.int8, 2), (.uint16, 3), (.int16, 4), (.uint32, 5), (.int32, 6),
            (.uint64, 7), (.int64, 8), (.float32, 9), (.float64, 10), (.boolean, 11), (.bytes, 13), (.bit, 14),
        ]
        for (dtype, value) in dtypes { #expect(dtype.rawValue == value, "\(dtype)") }
        #expect(!WireSchema.Dtype(rawValue: 12).isKnown, "12 is unassigned")
        #expect(WireSchema.MajorOrder.unknown.rawValue == 0 && WireSchema.MajorOrder.row.rawValue == 1)
        #expect(WireSchema.MajorOrder.column.rawValue == 2)
        // The values reach the slot unchanged.
        let fixture = try ShmFixture()
        try fixture.publish(
            1, length: 16, tensor: try TensorDescriptor(dtype: .float64, shape: [2], majorOrder: .column))
        #expect(
            SBEBuffer.load(UnsafeRawPointer(fixture.slot(1).baseAddress!), ShmFixture.tensorField(0), as: Int16.self)
                == 10)
        #expect(
            SBEBuffer.load(UnsafeRawPointer(fixture.slot(1).baseAddress!), ShmFixture.tensorField(2), as: Int16.self)
                == 2)
    }
}
