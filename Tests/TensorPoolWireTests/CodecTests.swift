import SBE
import TensorPoolWire
import Testing

/// Encodes with `body` into a fresh buffer of `capacity` bytes and returns the bytes written.
func encoded(capacity: Int = 512, _ body: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> [UInt8] {
    var bytes = [UInt8](repeating: 0xAB, count: capacity)
    let length = try bytes.withUnsafeMutableBytes { try body($0) }
    return Array(bytes.prefix(length))
}

func hex(_ text: String) -> [UInt8] {
    let digits = text.filter(\.isHexDigit)
    return stride(from: 0, to: digits.count, by: 2).map { index in
        let start = digits.index(digits.startIndex, offsetBy: index)
        return UInt8(digits[start..<digits.index(start, offsetBy: 2)], radix: 16)!
    }
}

@Suite("Generated SBE codecs")
struct CodecTests {
    @Test("FrameDescriptor encodes to the hand-computed bytes and decodes back, null sentinels as nil")
    func frameDescriptorGolden() throws {
        let bytes = try encoded { buffer in
            let encoder = try WireSchema.FrameDescriptorEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 0x0102_0304
            encoder.epoch = 0x1122_3344_5566_7788
            encoder.seq = 7
            encoder.timestampNs = nil
            encoder.metaVersion = 5
            encoder.traceId = nil
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        let expected = hex(
            """
            28 00 04 00 84 03 01 00
            04 03 02 01
            88 77 66 55 44 33 22 11
            07 00 00 00 00 00 00 00
            ff ff ff ff ff ff ff ff
            05 00 00 00
            00 00 00 00 00 00 00 00
            """)
        #expect(bytes == expected)

        try bytes.withUnsafeBytes { buffer in
            let decoder = try WireSchema.FrameDescriptorDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 0x0102_0304)
            #expect(decoder.epoch == 0x1122_3344_5566_7788)
            #expect(decoder.seq == 7)
            #expect(decoder.timestampNs == nil)
            #expect(decoder.metaVersion == 5)
            #expect(decoder.traceId == nil)
            #expect(decoder.encodedLength == 40)
        }
    }

    @Test("ShmPoolAnnounce round-trips a group with nested var data and trailing var data")
    func poolAnnounceRoundTrip() throws {
        let bytes = try encoded { buffer in
            var encoder = try WireSchema.ShmPoolAnnounceEncoder.wrapAndApplyHeader(buffer)
            encoder.streamId = 10_000
            encoder.producerId = 7
            encoder.epoch = 1_732_000_000_000_000_000
            encoder.announceTimestampNs = 99
            encoder.announceClockDomain = .monotonic
            encoder.layoutVersion = 1
            encoder.headerNslots = 64
            encoder.headerSlotBytes = 256
            try encoder.payloadPools(count: 2) { index, pool in
                pool.poolId = UInt16(index + 1)
                pool.poolNslots = 64
                pool.strideBytes = UInt32(4096 << index)
                try pool.regionUri("shm:file?path=/dev/shm/pool\(index + 1)")
            }
            try encoder.headerRegionUri("shm:file?path=/dev/shm/header.ring")
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        try bytes.withUnsafeBytes { buffer in
            let decoder = try WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer)
            #expect(decoder.streamId == 10_000)
            #expect(decoder.announceClockDomain == .monotonic)
            #expect(decoder.headerSlotBytes == 256)
            // Var data after the group can be read before the group.
            #expect(decoder.headerRegionUriString == "shm:file?path=/dev/shm/header.ring")
            var pools = decoder.payloadPools
            #expect(pools.count == 2)
            var seen: [(UInt16, UInt32, String)] = []
            while pools.next() {
                seen.append((pools.poolId, pools.strideBytes, pools.regionUriString))
            }
            #expect(seen.map(\.0) == [1, 2])
            #expect(seen.map(\.1) == [4096, 8192])
            #expect(seen.map(\.2) == ["shm:file?path=/dev/shm/pool1", "shm:file?path=/dev/shm/pool2"])
            #expect(decoder.limit == buffer.count)
        }
    }

    @Test("every truncation of a valid message is a typed error, never a crash")
    func truncation() throws {
        let bytes = try encoded { buffer in
            var encoder = try WireSchema.ShmPoolAnnounceEncoder.wrapAndApplyHeader(buffer)
            try encoder.payloadPools(count: 1) { _, pool in try pool.regionUri("shm:file?path=/a") }
            try encoder.headerRegionUri("shm:file?path=/b")
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        for length in 0..<bytes.count {
            let prefix = Array(bytes.prefix(length))
            prefix.withUnsafeBytes { buffer in
                #expect(throws: SBEDecodeError.self, "prefix of \(length) bytes") {
                    _ = try WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer)
                }
            }
        }
    }

    @Test("a var-data length that lies past the buffer or above its maximum is rejected")
    func lyingLengths() throws {
        var bytes = try encoded { buffer in
            var encoder = try WireSchema.ControlResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = 42
            encoder.code = .rejected
            try encoder.errorMessage("no")
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        let lengthOffset = MessageHeader.encodedLength + WireSchema.ControlResponseDecoder.blockLength
        bytes[lengthOffset] = 3  // claims 3 bytes, 2 present
        bytes.withUnsafeBytes { buffer in
            #expect(throws: SBEDecodeError.self) { _ = try WireSchema.ControlResponseDecoder(decodingHeaderOf: buffer) }
        }
        bytes.replaceSubrange(lengthOffset..<lengthOffset + 4, with: [0x01, 0x00, 0x00, 0x41])  // 0x41000001 > 1 GiB
        bytes.withUnsafeBytes { buffer in
            do {
                _ = try WireSchema.ControlResponseDecoder(decodingHeaderOf: buffer)
                Issue.record("a length above the maximum must be rejected")
            } catch {
                guard case .lengthTooLarge? = error as? SBEDecodeError else {
                    Issue.record("unexpected \(error)"); return
                }
            }
        }
    }

    @Test("a larger acting block length is skipped; a shorter one is refused")
    func actingBlockLength() throws {
        // ControlResponse encoded by a newer peer whose block is 4 bytes longer.
        var bytes = try encoded { buffer in
            var encoder = try WireSchema.ControlResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = -5
            encoder.code = .ok
            try encoder.errorMessage("fine")
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        let blockEnd = MessageHeader.encodedLength + WireSchema.ControlResponseDecoder.blockLength
        bytes.insert(contentsOf: [9, 9, 9, 9], at: blockEnd)
        bytes[0] = UInt8(WireSchema.ControlResponseDecoder.blockLength + 4)
        try bytes.withUnsafeBytes { buffer in
            let decoder = try WireSchema.ControlResponseDecoder(decodingHeaderOf: buffer)
            #expect(decoder.actingBlockLength == WireSchema.ControlResponseDecoder.blockLength + 4)
            #expect(decoder.correlationId == -5)
            #expect(decoder.errorMessageString == "fine")
        }
        bytes[0] = UInt8(WireSchema.ControlResponseDecoder.blockLength - 1)
        bytes.withUnsafeBytes { buffer in
            #expect(throws: SBEDecodeError.self) { _ = try WireSchema.ControlResponseDecoder(decodingHeaderOf: buffer) }
        }
    }

    @Test("unknown enum values are kept, not trapped on")
    func unknownEnum() throws {
        let bytes = try encoded { buffer in
            let encoder = try WireSchema.QosConsumerEncoder.wrapAndApplyHeader(buffer)
            encoder.mode = WireSchema.Mode(rawValue: 77)
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        try bytes.withUnsafeBytes { buffer in
            let decoder = try WireSchema.QosConsumerDecoder(decodingHeaderOf: buffer)
            #expect(decoder.mode.rawValue == 77)
            #expect(!decoder.mode.isKnown)
            #expect(WireSchema.Mode.rateLimited.isKnown)
            #expect(decoder.mode.description == "Mode(77)")
        }
    }

    @Test("headers of another schema or template are refused")
    func headerChecks() throws {
        let bytes = try encoded { buffer in
            let encoder = try DriverSchema.ShmDetachResponseEncoder.wrapAndApplyHeader(buffer)
            encoder.correlationId = 1
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        bytes.withUnsafeBytes { buffer in
            do {
                _ = try WireSchema.ConsumerConfigDecoder(decodingHeaderOf: buffer)
                Issue.record("schema 901 must not decode as schema 900")
            } catch {
                #expect(error as? SBEDecodeError == .wrongSchema(expected: 900, actual: 901))
            }
            do {
                _ = try DriverSchema.ShmAttachRequestDecoder(decodingHeaderOf: buffer)
                Issue.record("another template must be refused")
            } catch {
                #expect(
                    error as? SBEDecodeError
                        == .wrongTemplate(
                            expected: DriverSchema.ShmAttachRequestDecoder.templateId,
                            actual: DriverSchema.ShmDetachResponseDecoder.templateId))
            }
        }
    }

    @Test("encoding into a buffer that is too small is a typed error and writes nothing past it")
    func encodeCapacity() throws {
        var bytes = [UInt8](repeating: 0xCD, count: 40)
        bytes.withUnsafeMutableBytes { whole in
            let buffer = UnsafeMutableRawBufferPointer(rebasing: whole[0..<30])
            #expect(throws: SBEEncodeError.self) {
                _ = try WireSchema.FrameDescriptorEncoder.wrapAndApplyHeader(buffer)
            }
        }
        #expect(bytes[30...].allSatisfy { $0 == 0xCD })
        bytes = [UInt8](repeating: 0, count: 64)
        bytes.withUnsafeMutableBytes { buffer in
            do {
                var encoder = try WireSchema.ControlResponseEncoder.wrapAndApplyHeader(buffer)
                try encoder.errorMessage(String(repeating: "x", count: 100))
                Issue.record("100 bytes of var data do not fit")
            } catch {
                guard case .insufficientCapacity? = error as? SBEEncodeError else {
                    Issue.record("unexpected \(error)")
                    return
                }
            }
        }
    }

    @Test("TensorHeader keeps its constant and fixed arrays; SHM blocks have the reference block lengths")
    func tensorHeader() throws {
        #expect(WireSchema.TensorHeaderDecoder.blockLength == 184)
        #expect(WireSchema.SlotHeaderDecoder.blockLength == 60)
        #expect(WireSchema.ShmRegionSuperblockDecoder.blockLength == 64)
        #expect(WireSchema.TensorHeaderDecoder.maxDims == 8)
        var bytes = [UInt8](repeating: 0xEE, count: 184)
        try bytes.withUnsafeMutableBytes { buffer in
            let encoder = try WireSchema.TensorHeaderEncoder(buffer)
            encoder.dtype = .float32
            encoder.majorOrder = .row
            encoder.ndims = 3
            for index in 0..<8 { encoder.setDims(index, Int32(index + 1)) }
            encoder.setStrides(0, 4)
        }
        try bytes.withUnsafeBytes { buffer in
            let decoder = try WireSchema.TensorHeaderDecoder(buffer)
            #expect(decoder.dtype == .float32)
            #expect(decoder.majorOrder == .row)
            #expect(decoder.ndims == 3)
            #expect((0..<8).map { decoder.dims($0) } == [1, 2, 3, 4, 5, 6, 7, 8])
            #expect(decoder.strides(0) == 4)
            #expect(decoder.dimsBytes.count == 32)
        }
    }
}
