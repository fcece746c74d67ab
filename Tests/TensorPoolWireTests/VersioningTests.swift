import SBE
import Testing

/// Decoding messages written by encoders of older (or lying) schema versions, with the test-only schema in
/// `Schemas/versioned.xml` (version 2: `addedInOne` since version 1, `colour` since 2, group field `weight` since 1).
@Suite("Acting block length and acting version")
struct VersioningTests {
    /// A version-0 message: a 4-byte root block, two 2-byte group entries, then var data.
    static let versionZero = hex(
        """
        04 00 01 00 de 03 00 00
        44 33 22 11
        02 00 02 00
        02 01
        ff ff
        03 00 00 00 61 62 63
        """)

    @Test("fields newer than the acting version read as absent; everything else decodes")
    func olderVersion() throws {
        try Self.versionZero.withUnsafeBytes { buffer in
            let decoder = try VersionedTestSchema.VersionedDecoder(decodingHeaderOf: buffer)
            #expect(decoder.actingVersion == 0)
            #expect(decoder.actingBlockLength == 4)
            #expect(decoder.base == 0x1122_3344)
            #expect(decoder.addedInOne == nil)
            #expect(decoder.colour == nil)
            var items = decoder.items
            var values: [Int16] = []
            while items.next() {
                values.append(items.value)
                #expect(items.weight == nil)
            }
            #expect(values == [0x0102, -1])
            #expect(decoder.noteString == "abc")
            #expect(decoder.limit == buffer.count)
        }
    }

    @Test("a field is absent when the block is too short for it, even if the header claims a newer version")
    func lyingVersion() throws {
        var bytes = Self.versionZero
        bytes[6] = 2  // claims version 2 but keeps the 4-byte block
        try bytes.withUnsafeBytes { buffer in
            let decoder = try VersionedTestSchema.VersionedDecoder(decodingHeaderOf: buffer)
            #expect(decoder.actingVersion == 2)
            #expect(decoder.addedInOne == nil)
            #expect(decoder.colour == nil)
            var items = decoder.items
            while items.next() { #expect(items.weight == nil) }
            #expect(decoder.noteString == "abc")
        }
    }

    @Test("version 1 carries addedInOne but not colour; the current version round-trips")
    func versionOneAndCurrent() throws {
        let versionOne = hex(
            """
            0c 00 01 00 de 03 01 00
            01 00 00 00
            08 07 06 05 04 03 02 01
            00 00 00 00
            00 00 00 00
            """)
        try versionOne.withUnsafeBytes { buffer in
            let decoder = try VersionedTestSchema.VersionedDecoder(decodingHeaderOf: buffer)
            #expect(decoder.addedInOne == 0x0102_0304_0506_0708)
            #expect(decoder.colour == nil)
            #expect(decoder.items.count == 0)
            #expect(decoder.note.isEmpty)
        }

        let current = try encoded { buffer in
            var encoder = try VersionedTestSchema.VersionedEncoder.wrapAndApplyHeader(buffer)
            encoder.base = 1
            encoder.addedInOne = 2
            encoder.colour = .green
            try encoder.items(count: 1) { _, item in
                item.value = -3
                item.weight = 4
            }
            try encoder.note("")
            return MessageHeader.encodedLength + encoder.encodedLength
        }
        try current.withUnsafeBytes { buffer in
            let decoder = try VersionedTestSchema.VersionedDecoder(decodingHeaderOf: buffer)
            #expect(decoder.actingVersion == VersionedTestSchema.version)
            #expect(decoder.addedInOne == 2)
            #expect(decoder.colour == .green)
            var items = decoder.items
            let hasFirst = items.next()
            #expect(hasFirst)
            #expect(items.value == -3)
            #expect(items.weight == 4)
            let hasSecond = items.next()
            #expect(!hasSecond)
        }
    }

    @Test("a block shorter than the fields of version 0 is refused, in the root and in groups")
    func tooShort() {
        var root = Self.versionZero
        root[0] = 3
        root.withUnsafeBytes { buffer in
            #expect(throws: SBEDecodeError.self) {
                _ = try VersionedTestSchema.VersionedDecoder(decodingHeaderOf: buffer)
            }
        }
        var group = Self.versionZero
        group[12] = 1  // group entry block length 1 < 2 (value)
        group.withUnsafeBytes { buffer in
            #expect(throws: SBEDecodeError.self) {
                _ = try VersionedTestSchema.VersionedDecoder(decodingHeaderOf: buffer)
            }
        }
    }
}
