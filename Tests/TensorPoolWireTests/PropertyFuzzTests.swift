// Property: random and mutated byte strings never crash any decoder of the six schemas. A decoder either throws
// SBEDecodeError or succeeds; after a success every field, group entry and var-data field can be read, inside the
// buffer. Inputs end exactly at an unmapped page, so a read past the end faults instead of passing unnoticed; a
// fault or trap kills the test process, and PropertyCrashReport prints the decoder and the input first.
import PropertyBased
import SBE
import TensorPoolWire
import Testing

/// A small deterministic generator for the per-decoder choices of one case, seeded from the case's input.
struct PropertySplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }
}

/// How one byte string is handed to a decoder.
enum PropertyDecodeMode: CustomStringConvertible {
    case header(offset: Int)
    case block(offset: Int, actingBlockLength: Int, actingVersion: UInt16)

    var description: String {
        switch self {
        case .header(let offset): return "init(decodingHeaderOf:offset: \(offset))"
        case .block(let offset, let length, let version):
            return "init(_:offset: \(offset), actingBlockLength: \(length), actingVersion: \(version))"
        }
    }
}

func propertyHex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var text = ""
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return text
}

/// A decoder type with the C string naming it for the crash report.
struct PropertyFuzzTarget {
    let type: any PropertyFuzzDecoder.Type
    let label: UnsafeMutablePointer<CChar>
    let name: String

    /// Made once and kept: the labels outlive every test.
    nonisolated(unsafe) static let all: [PropertyFuzzTarget] = propertyAllDecoders.map { type in
        let name = String(reflecting: type)
        return PropertyFuzzTarget(type: type, label: PropertyCrashReport.label(name), name: name)
    }
}

/// Runs one decoder over `bytes` placed at the end of `memory`; records an issue naming the decoder, the mode and
/// the input for every inconsistency found, and returns whether it decoded without any.
@discardableResult
func propertyFuzzOne(
    _ target: PropertyFuzzTarget, _ mode: PropertyDecodeMode, _ bytes: [UInt8], _ memory: PropertyGuardedMemory
) -> Bool {
    func run<D: PropertyFuzzDecoder>(_ type: D.Type) -> (decoded: Bool, problems: [String]) {
        memory.withBytes(bytes) { buffer in
            let (offset, block): (Int, (length: Int, version: UInt16)?) =
                switch mode {
                case .header(let offset): (offset, nil)
                case .block(let offset, let length, let version): (offset, (length, version))
                }
            return PropertyCrashReport.around(target.label, offset: offset, block: block, buffer) {
                switch mode {
                case .header(let offset):
                    return propertyDecodeAndTouch(type, buffer) { b throws(SBEDecodeError) in
                        try D(decodingHeaderOf: b, offset: offset)
                    }
                case .block(let offset, let length, let version):
                    return propertyDecodeAndTouch(type, buffer) { b throws(SBEDecodeError) in
                        try D(b, offset: offset, actingBlockLength: length, actingVersion: version)
                    }
                }
            }
        }
    }
    let result = run(target.type)
    if !result.problems.isEmpty {
        Issue.record(
            """
            \(target.name) \(mode) decoded \(bytes.count) bytes inconsistently:
            \(result.problems.joined(separator: "\n"))
            input: \(propertyHex(bytes))
            """)
    }
    return result.decoded && result.problems.isEmpty
}

/// `bytes` with a message header for `D` written at `offset` (when it fits).
func propertyWithHeader<D: PropertyFuzzDecoder>(
    _ type: D.Type, _ bytes: [UInt8], at offset: Int, blockLength: UInt16, version: UInt16
) -> [UInt8] {
    var bytes = bytes
    guard offset >= 0, offset + MessageHeader.encodedLength <= bytes.count else { return bytes }
    bytes.withUnsafeMutableBytes { buffer in
        try? MessageHeader(blockLength: blockLength, templateId: D.templateId, schemaId: D.schemaId, version: version)
            .encode(into: buffer, at: offset)
    }
    return bytes
}

/// Acting block lengths worth trying for `D`: its own, its minimum or a little shorter, a little longer, zero,
/// negative, huge, random.
func propertyActingBlockLength<D: PropertyFuzzDecoder>(_ type: D.Type, _ rng: inout PropertySplitMix) -> Int {
    switch rng.below(9) {
    case 0, 1: return D.blockLength
    case 2: return D.minimumBlockLength - rng.below(4)
    case 3, 4: return D.blockLength + rng.below(9)
    case 5: return rng.pick([0, -1, Int.min, Int.max, Int(UInt16.max), Int(UInt16.max) + 1])
    default: return rng.below(600)
    }
}

// MARK: - Mutations

/// One edit of a valid encoding; `position` and `value` are reduced modulo what the edit needs.
struct PropertyMutation: Sendable, CustomStringConvertible {
    var kind: Int
    var position: Int
    var value: UInt32

    static let kinds = 14
    var description: String { "(\(kind), \(position), \(value))" }
}

/// Values that make lengths and counts lie: the largest, one past the maximum var-data length, sign bits, zero.
let propertyInteresting32: [UInt32] = [
    0, 1, 2, 0x7F, 0xFF, 0x100, 0xFFFF, 0x1_0000, 0x3FFF_FFFF, 0x4000_0000, 0x4000_0001, 0x7FFF_FFFF, 0x8000_0000,
    0xFFFF_FFFE, 0xFFFF_FFFF,
]
let propertyInteresting16: [UInt16] = [0, 1, 2, 3, 4, 8, 9, 10, 0x7F, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF]

/// Applies `mutations` to `seed`. `hot` lists offsets of length and count fields (message header, group headers,
/// var-data lengths) that some edits aim at.
func propertyMutate(_ seed: [UInt8], hot: [Int], _ mutations: [PropertyMutation], capacity: Int) -> [UInt8] {
    var bytes = seed
    func put32(_ value: UInt32, at p: Int) {
        guard p >= 0, p + 4 <= bytes.count else { return }
        for i in 0..<4 { bytes[p + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
    }
    func put16(_ value: UInt16, at p: Int) {
        guard p >= 0, p + 2 <= bytes.count else { return }
        bytes[p] = UInt8(truncatingIfNeeded: value)
        bytes[p + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }
    func get32(_ p: Int) -> UInt32 {
        guard p >= 0, p + 4 <= bytes.count else { return 0 }
        return (0..<4).reduce(0) { $0 | UInt32(bytes[p + $1]) << (8 * UInt32($1)) }
    }
    func get16(_ p: Int) -> UInt16 {
        guard p >= 0, p + 2 <= bytes.count else { return 0 }
        return UInt16(bytes[p]) | UInt16(bytes[p + 1]) << 8
    }
    for m in mutations {
        let n = bytes.count
        let p = n == 0 ? 0 : m.position % n
        let v = m.value
        let delta = Int32(v % 9) - 4  // -4 ... 4
        let hotP = hot.isEmpty ? p : hot[m.position % hot.count]
        switch m.kind {
        case 0: if n > 0 { bytes[p] = UInt8(truncatingIfNeeded: v) }
        case 1: if n > 0 { bytes[p] ^= 1 << (v % 8) }
        case 2: put16(propertyInteresting16[Int(v % UInt32(propertyInteresting16.count))], at: p)
        case 3:
            let choices = propertyInteresting32 + [UInt32(n), UInt32(max(0, n - p)), v]
            put32(choices[Int(v % UInt32(choices.count))], at: p)
        case 4: put32(UInt32(bitPattern: Int32(bitPattern: get32(p)) &+ delta), at: p)
        case 5: put16(UInt16(bitPattern: Int16(truncatingIfNeeded: Int32(get16(p)) &+ delta)), at: p)
        case 6: bytes.removeLast(n - (n == 0 ? 0 : m.position % (n + 1)))
        case 7: bytes += (0..<Int(v % 65)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ Int(v >> 8)) }
        case 8: bytes.insert(contentsOf: repeatElement(UInt8(truncatingIfNeeded: v >> 8), count: Int(v % 8) + 1), at: p)
        case 9: if n > 0 { bytes.removeSubrange(p..<min(n, p + Int(v % 8) + 1)) }
        case 10:
            // A hot length or count takes an interesting value, or lies by a few bytes.
            if v & 0x100 == 0 {
                put32(propertyInteresting32[Int(v % UInt32(propertyInteresting32.count))], at: hotP)
            } else {
                put32(UInt32(bitPattern: Int32(bitPattern: get32(hotP)) &+ delta), at: hotP)
            }
        case 11:
            // A group header's block length (at +0) or count (at +2), or the message header's block length.
            let at = hotP + (v & 0x200 == 0 ? 0 : 2)
            if v & 0x100 == 0 {
                put16(propertyInteresting16[Int(v % UInt32(propertyInteresting16.count))], at: at)
            } else {
                put16(UInt16(bitPattern: Int16(truncatingIfNeeded: Int32(get16(at)) &+ delta)), at: at)
            }
        case 12:
            // Cut just before, at or after a hot field.
            bytes.removeLast(max(0, n - min(n, max(0, hotP + Int(v % 8) - 2))))
        default:
            // Copy a slice over another place: a plausible structure in the wrong position.
            guard n > 1 else { break }
            let source = Int(v) % n
            let length = min(Int(v >> 16) % 32 + 1, n - max(p, source))
            if length > 0 { bytes.replaceSubrange(p..<p + length, with: bytes[source..<source + length]) }
        }
    }
    if bytes.count > capacity { bytes.removeLast(bytes.count - capacity) }
    return bytes
}

/// Offsets of the length and count fields of a valid encoding, found by decoding it: the message header's block
/// length, every group header and every var-data length.
func propertyHotOffsets(_ seed: PropertySeed) -> [Int] {
    func find<D: PropertyFuzzDecoder>(_ type: D.Type) -> [Int] {
        guard let (decoder, recorder) = propertyRead(type, seed.bytes) else { return [] }
        let blockEnd = MessageHeader.encodedLength + decoder.actingBlockLength
        return [0] + recorder.framedOffsets.map { blockEnd + $0 }
    }
    return find(seed.decoder)
}

// MARK: - Tests

@Suite("Property: decoders never crash on random or mutated bytes", .serialized)
struct PropertyFuzzTests {
    @Test("the fuzzer covers all 32 message decoders of the six schemas, and every seed decodes cleanly")
    func coverage() throws {
        PropertyCrashReport.install()
        let memory = PropertyGuardedMemory()
        #expect(PropertyFuzzTarget.all.count == 32)
        let templates = Set(PropertyFuzzTarget.all.map { "\($0.type.schemaId)/\($0.type.templateId)" })
        #expect(templates.count == 32)
        #expect(
            Set(PropertyFuzzTarget.all.map { $0.type.schemaId })
                == [
                    WireSchema.id, DriverSchema.id, BridgeSchema.id, JoinBarrierSchema.id, TraceLinkSchema.id,
                    DiscoverySchema.id,
                ])
        let expectedCount =
            WireSchema.templateIds.count + DriverSchema.templateIds.count + BridgeSchema.templateIds.count
            + JoinBarrierSchema.templateIds.count + TraceLinkSchema.templateIds.count
            + DiscoverySchema.templateIds.count
        #expect(expectedCount == 32)

        let seeds = try propertySeedCorpus()
        #expect(Set(seeds.map { String(reflecting: $0.decoder) }).count == 32, "a seed for every message")
        for seed in seeds {
            let target = PropertyFuzzTarget.all.first { $0.type == seed.decoder }!
            #expect(propertyFuzzOne(target, .header(offset: 0), seed.bytes, memory), "\(seed.label)")
            #expect(!propertyHotOffsets(seed).isEmpty)
        }
    }

    @Test("longer blocks from a newer schema version are skipped: every field, entry and var data reads the same")
    func widenedBlocks() async throws {
        PropertyCrashReport.install()
        let memory = PropertyGuardedMemory()
        let seeds = try propertySeedCorpus()
        let targets = seeds.map { seed in PropertyFuzzTarget.all.first { $0.type == seed.decoder }! }
        await propertyCheck(
            count: 500, input: Gen.int(in: 0...(seeds.count - 1)), Gen.int(in: 0...40),
            Gen.int(in: 0...40).array(of: 8)
        ) { index, rootExtra, entryExtras in
            let seed = seeds[index]
            guard let widened = propertyWiden(seed, rootExtra: rootExtra, entryExtra: { entryExtras[$0 % 8] }) else {
                Issue.record("\(seed.label) did not widen")
                return
            }
            // No inconsistency, and no read past the end of the longer message.
            guard propertyFuzzOne(targets[index], .header(offset: 0), widened, memory) else {
                Issue.record("\(seed.label) widened does not decode cleanly: \(propertyHex(widened))")
                return
            }
            func same<D: PropertyFuzzDecoder>(_ type: D.Type) {
                guard let (original, before) = propertyRead(type, seed.bytes),
                    let (decoder, after) = propertyRead(type, widened)
                else {
                    Issue.record("\(seed.label) widened does not decode: \(propertyHex(widened))")
                    return
                }
                #expect(decoder.actingBlockLength == original.actingBlockLength + rootExtra)
                #expect(decoder.limit == original.limit + widened.count - seed.bytes.count)
                #expect(after.checksum == before.checksum, "\(seed.label) reads differently: \(propertyHex(widened))")
                #expect(after.problems.isEmpty)
            }
            same(seed.decoder)
        }
    }

    @Test("random byte strings of 0…512 bytes never crash any decoder, through either initializer")
    func randomBytes() async {
        PropertyCrashReport.install()
        let memory = PropertyGuardedMemory()
        // Raw bytes; bytes 0…3 (small counts and lengths); or mostly zero (empty groups and var data), so that
        // random strings also get past validation and reach the accessors.
        let bytes = zip(Gen.uint8().array(of: 0...512), Gen.int(in: 0...2)).map { bytes, style in
            switch style {
            case 0: return bytes
            case 1: return bytes.map { $0 & 3 }
            default: return bytes.map { $0 < 200 ? 0 : $0 }
            }
        }
        await propertyCheck(count: 1000, input: bytes, Gen.uint64()) { bytes, knobs in
            var rng = PropertySplitMix(state: knobs)
            for target in PropertyFuzzTarget.all {
                func each<D: PropertyFuzzDecoder>(_ type: D.Type) {
                    propertyFuzzOne(target, .header(offset: 0), bytes, memory)
                    // The same bytes under this decoder's own header, at a random offset.
                    let at = rng.pick([0, 0, 1, 3, 8, bytes.count - 8])
                    let blockLength = UInt16(clamping: max(0, propertyActingBlockLength(type, &rng)))
                    let headed = propertyWithHeader(type, bytes, at: at, blockLength: blockLength, version: 1)
                    propertyFuzzOne(target, .header(offset: rng.pick([at, at, -1, Int.max, Int.min])), headed, memory)
                    // The block initializer, with any offset and acting block length; often a block that ends
                    // exactly at the end of the buffer, where a read past the block would fault.
                    let length = propertyActingBlockLength(type, &rng)
                    let offset = rng.pick([
                        0, 8, rng.below(bytes.count + 3) - 1, bytes.count, bytes.count &- length, bytes.count &- length,
                        Int.max, Int.min,
                    ])
                    let mode = PropertyDecodeMode.block(
                        offset: offset, actingBlockLength: length, actingVersion: UInt16(truncatingIfNeeded: rng.next())
                    )
                    propertyFuzzOne(target, mode, bytes, memory)
                }
                each(target.type)
            }
        }
    }

    @Test("mutated valid encodings never crash their decoder, nor any other decoder reading them as its block")
    func mutatedEncodings() async throws {
        PropertyCrashReport.install()
        let memory = PropertyGuardedMemory()
        let valid = try propertySeedCorpus()
        let seeds = valid + propertyWidenedSeeds(valid)
        let hot = seeds.map(propertyHotOffsets)
        let targets = seeds.map { seed in PropertyFuzzTarget.all.first { $0.type == seed.decoder }! }
        let mutation = zip(
            Gen.int(in: 0...(PropertyMutation.kinds - 1)), Gen.int(in: 0...0xFFFF), Gen.uint32()
        ).map(PropertyMutation.init)
        await propertyCheck(
            count: 4000, input: Gen.int(in: 0...(seeds.count - 1)), mutation.array(of: 1...6), Gen.uint64()
        ) { index, mutations, knobs in
            var rng = PropertySplitMix(state: knobs)
            let bytes = propertyMutate(seeds[index].bytes, hot: hot[index], mutations, capacity: memory.capacity)
            let own = targets[index]
            func ownDecoder<D: PropertyFuzzDecoder>(_ type: D.Type) {
                propertyFuzzOne(own, .header(offset: 0), bytes, memory)
                let mode = PropertyDecodeMode.block(
                    offset: MessageHeader.encodedLength, actingBlockLength: propertyActingBlockLength(type, &rng),
                    actingVersion: UInt16(truncatingIfNeeded: rng.next()))
                propertyFuzzOne(own, mode, bytes, memory)
            }
            ownDecoder(own.type)
            // Every decoder reads the mutated message's body as if it were its own block.
            for target in PropertyFuzzTarget.all {
                func other<D: PropertyFuzzDecoder>(_ type: D.Type) {
                    let mode = PropertyDecodeMode.block(
                        offset: MessageHeader.encodedLength, actingBlockLength: D.blockLength, actingVersion: 1)
                    propertyFuzzOne(target, mode, bytes, memory)
                }
                other(target.type)
            }
        }
    }

    @Test("every single-field lie in every seed: each length, count and block length set to edge values, each cut")
    func exhaustiveSingleEdits() throws {
        PropertyCrashReport.install()
        let memory = PropertyGuardedMemory()
        let valid = try propertySeedCorpus()
        for seed in valid + propertyWidenedSeeds(valid, widths: [(2, { g in g % 3 + 1 })]) {
            let target = PropertyFuzzTarget.all.first { $0.type == seed.decoder }!
            for position in 0..<seed.bytes.count {
                propertyFuzzOne(target, .header(offset: 0), Array(seed.bytes.prefix(position)), memory)
                let edits: [PropertyMutation] = [
                    .init(kind: 2, position: position, value: 14),  // u16 0xFFFF
                    .init(kind: 2, position: position, value: 0),  // u16 0
                    .init(kind: 5, position: position, value: 5),  // u16 + 1
                    .init(kind: 5, position: position, value: 3),  // u16 - 1
                    .init(kind: 3, position: position, value: 14),  // u32 0xFFFFFFFF
                    .init(kind: 3, position: position, value: 10),  // u32 0x40000001
                    .init(kind: 4, position: position, value: 5),  // u32 + 1
                    .init(kind: 4, position: position, value: 3),  // u32 - 1
                ]
                for edit in edits {
                    let bytes = propertyMutate(seed.bytes, hot: [], [edit], capacity: memory.capacity)
                    propertyFuzzOne(target, .header(offset: 0), bytes, memory)
                }
            }
        }
    }
}
