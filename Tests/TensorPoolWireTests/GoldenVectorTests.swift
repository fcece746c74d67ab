import SBE
import TensorPoolWire
import Testing

// Golden vectors: for every message of the six schemas, a fully populated encoding whose bytes were worked out by hand
// from Specs/schemas/*.xml (field offsets, little-endian integers, null sentinels, `groupSizeEncoding` headers of
// `blockLength u16, numInGroup u16`, var-data `u32` length prefixes, and the 8-byte message header), independently of
// the generator. Each vector is checked both ways:
//
// - the generated encoder, given the same values, writes exactly the fixture bytes (header included) and nothing
//   past them;
// - the generated decoder, given the fixture, recovers every field, group entry and var-data field, and ends exactly
//   at the end of the fixture.
//
// The vectors live in GoldenWireVectors.swift (900), GoldenDriverVectors.swift (901), GoldenBridgeVectors.swift
// (902), GoldenJoinBarrierVectors.swift (903), GoldenTraceLinkVectors.swift (904) and GoldenDiscoveryVectors.swift
// (910). Each fixture is one string per field with a comment naming the field and its offset in its block; a
// fixture's hex must only ever change together with the schema, never to match generated output.

/// Joins hex fragments, one per field so that each can carry its own comment, into bytes.
func goldenBytes(_ fragments: [String]) -> [UInt8] {
    hex(fragments.joined(separator: " "))
}

/// One golden vector: a message's hand-computed bytes and the generated-codec calls that must produce and read them.
struct GoldenVector: Sendable, CustomTestStringConvertible {
    /// Short name shown in test results.
    let name: String
    /// The schema id and template id the fixture's message header carries.
    let schemaId: UInt16
    let templateId: UInt16
    /// The acting block length the fixture's message header carries (larger than the schema's for the vectors of a
    /// newer peer).
    let blockLength: UInt16
    /// The hand-computed bytes, message header included.
    let fixture: [UInt8]
    /// Writes the fixture's values with the generated encoder, header included, and returns the bytes written; `nil`
    /// for fixtures this schema version cannot produce (larger acting block lengths).
    let encode: (@Sendable (UnsafeMutableRawBufferPointer) throws -> Int)?
    /// Decodes the fixture with the generated decoder, expects every value, and returns the decoder's `limit`.
    let decode: @Sendable (UnsafeRawBufferPointer) throws -> Int

    init(
        _ name: String, schemaId: UInt16, templateId: UInt16, blockLength: UInt16, fixture: [UInt8],
        encode: (@Sendable (UnsafeMutableRawBufferPointer) throws -> Int)?,
        decode: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Int
    ) {
        self.name = name
        self.schemaId = schemaId
        self.templateId = templateId
        self.blockLength = blockLength
        self.fixture = fixture
        self.encode = encode
        self.decode = decode
    }

    var testDescription: String { "\(schemaId)/\(templateId) \(name)" }

    /// Every vector of every schema.
    static var all: [GoldenVector] { wire + driver + bridge + joinBarrier + traceLink + discovery }

    /// The vectors that the generated encoders can produce.
    static var encodable: [GoldenVector] { all.filter { $0.encode != nil } }
}

/// Byte written into encode buffers before encoding, so that bytes an encoder should have written but did not show up.
private let fillByte: UInt8 = 0xAB

/// Extra room given to encoders past the fixture's length, which must be left untouched.
private let slack = 32

@Suite("Golden vectors: hand-computed bytes from the schemas")
struct GoldenVectorTests {
    @Test("the generated encoder reproduces the fixture byte for byte", arguments: GoldenVector.encodable)
    func encodeReproducesFixture(_ vector: GoldenVector) throws {
        let encode = try #require(vector.encode)
        var bytes = [UInt8](repeating: fillByte, count: vector.fixture.count + slack)
        let length = try bytes.withUnsafeMutableBytes { try encode($0) }
        #expect(length == vector.fixture.count, "encoded length")
        let written = Array(bytes.prefix(length))
        #expect(written == vector.fixture, "\(firstDifference(written, vector.fixture))")
        #expect(bytes[length...].allSatisfy { $0 == fillByte }, "bytes past the encoded length were written")
    }

    @Test("the generated decoder recovers every value of the fixture", arguments: GoldenVector.all)
    func decodeRecoversFields(_ vector: GoldenVector) throws {
        try vector.fixture.withUnsafeBytes { buffer in
            let header = try MessageHeader(decoding: buffer)
            #expect(
                header
                    == MessageHeader(
                        blockLength: vector.blockLength, templateId: vector.templateId, schemaId: vector.schemaId,
                        version: 1))
            let limit = try vector.decode(buffer)
            #expect(limit == vector.fixture.count, "the decoder's limit is the end of the message")
        }
    }

    @Test("every template id of every schema has a golden vector")
    func everyMessageIsCovered() {
        let schemas: [(id: UInt16, templateIds: [UInt16])] = [
            (WireSchema.id, WireSchema.templateIds),
            (DriverSchema.id, DriverSchema.templateIds),
            (BridgeSchema.id, BridgeSchema.templateIds),
            (JoinBarrierSchema.id, JoinBarrierSchema.templateIds),
            (TraceLinkSchema.id, TraceLinkSchema.templateIds),
            (DiscoverySchema.id, DiscoverySchema.templateIds),
        ]
        #expect(schemas.map(\.id) == [900, 901, 902, 903, 904, 910])
        #expect(schemas.map(\.templateIds.count).reduce(0, +) == 32)
        for schema in schemas {
            let covered = Set(GoldenVector.encodable.filter { $0.schemaId == schema.id }.map(\.templateId))
            #expect(covered == Set(schema.templateIds), "schema \(schema.id)")
        }
        #expect(Set(GoldenVector.all.map(\.name)).count == GoldenVector.all.count, "vector names are unique")
    }
}

/// Where two byte arrays first differ, for failure messages.
private func firstDifference(_ actual: [UInt8], _ expected: [UInt8]) -> String {
    for index in 0..<min(actual.count, expected.count) where actual[index] != expected[index] {
        let hexByte = { (byte: UInt8) in String(byte, radix: 16) }
        return "first difference at byte \(index): \(hexByte(actual[index])) instead of \(hexByte(expected[index]))"
    }
    return actual.count == expected.count
        ? "identical" : "lengths differ: \(actual.count) instead of \(expected.count)"
}

/// Takes the result of a group decoder's `next()` (a mutating call cannot sit inside `#require`) and stops the test
/// when the group has fewer entries than the fixture.
func requireEntry(_ advanced: Bool, sourceLocation: SourceLocation = #_sourceLocation) throws {
    try #require(advanced, "the group ended before this entry", sourceLocation: sourceLocation)
}

/// Takes the result of a group decoder's `next()` after the fixture's last entry and expects it to be `false`.
func expectNoMoreEntries(_ advanced: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!advanced, "the group has more entries than the fixture", sourceLocation: sourceLocation)
}
