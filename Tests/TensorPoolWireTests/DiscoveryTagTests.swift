import SBE
import TensorPoolWire
import Testing

/// The discovery schema declares each tag as a fixed field of the var-data composite: the entry block holds the tag's
/// 4-byte length and the tag's bytes follow it directly, before the next entry (the layout tensor_pool_c writes).
@Suite("Discovery tags inline in group entries")
struct DiscoveryTagTests {
    static let request = hex(
        """
        20 00 01 00 8e 03 01 00
        01 00 00 00 00 00 00 00
        02 00 00 00
        03 00 00 00
        ff ff ff ff
        ff ff ff ff
        ff ff ff ff ff ff ff ff
        04 00 02 00
        03 00 00 00 67 70 75
        00 00 00 00
        04 00 00 00 61 65 72 6f
        00 00 00 00
        """)

    @Test("tags encode as length-then-bytes per entry, and decode back with the data after them")
    func roundTrip() throws {
        let bytes = try encoded { buffer in
            var encoder = try DiscoverySchema.DiscoveryRequestEncoder.wrapAndApplyHeader(buffer)
            encoder.requestId = 1
            encoder.clientId = 2
            encoder.responseStreamId = 3
            encoder.streamId = nil
            encoder.producerId = nil
            encoder.dataSourceId = nil
            try encoder.tags(count: 2) { index, entry in try entry.tag(index == 0 ? "gpu" : "") }
            try encoder.responseChannel("aero")
            try encoder.dataSourceName("")
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        #expect(bytes == Self.request)

        try bytes.withUnsafeBytes { buffer in
            let decoder = try DiscoverySchema.DiscoveryRequestDecoder(decodingHeaderOf: buffer)
            var tags = decoder.tags
            var seen: [String] = []
            while tags.next() { seen.append(tags.tagString) }
            #expect(seen == ["gpu", ""])
            #expect(decoder.responseChannelString == "aero")
            #expect(decoder.dataSourceName.isEmpty)
            #expect(decoder.limit == buffer.count)
        }
    }

    @Test("a tag length that runs past the buffer is refused")
    func lyingTagLength() {
        var bytes = Self.request
        bytes[44] = 0x40  // first tag claims 64 bytes
        bytes.withUnsafeBytes { buffer in
            #expect(throws: SBEDecodeError.self) {
                _ = try DiscoverySchema.DiscoveryRequestDecoder(decodingHeaderOf: buffer)
            }
        }
    }
}
