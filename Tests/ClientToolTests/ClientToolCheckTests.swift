import TensorPoolSHM
import Testing

@testable import ClientTool

/// `tp-client consume`'s payload check and frame printing, without processes: `--verify none` takes any producer's
/// frames (the library has validated slot and tensor headers before the checker sees them), `--verify pattern` only
/// `tp-client produce`'s.
@Suite("tp-client consume: --verify and --print")
struct ClientToolCheckTests {
    @Test("--verify defaults to pattern and takes none; --print is off by default; other values are refused")
    func options() throws {
        let defaults = try Consume.parse([])
        #expect(defaults.verify == .pattern && !defaults.printFrames)
        let any = try Consume.parse(["--verify", "none", "--print"])
        #expect(any.verify == .skip && any.printFrames)
        #expect(throws: (any Error).self) { try Consume.parse(["--verify", "crc"]) }
    }

    @Test("a frame of another producer counts as corrupt with --verify pattern and as checked with --verify none")
    func foreignFrame() throws {
        let tensor = try TensorDescriptor(dtype: .float32, shape: [2, 3])
        let bytes = (0..<24).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }  // not tp-client's pattern
        var strict = Consume.Checker(verify: .pattern)
        var lenient = Consume.Checker(verify: .skip)
        let strictGood = bytes.withUnsafeBytes { strict.payloadMatches($0, seq: 7, tensor: tensor) }
        let lenientGood = bytes.withUnsafeBytes { lenient.payloadMatches($0, seq: 7, tensor: tensor) }
        strict.record(seq: 7, tensor: tensor, payloadBytes: bytes.count, good: strictGood, stillValid: true)
        lenient.record(seq: 7, tensor: tensor, payloadBytes: bytes.count, good: lenientGood, stillValid: true)
        #expect(strict.frames == 1 && strict.corrupt == 1)
        #expect(lenient.frames == 1 && lenient.corrupt == 0 && lenient.bytes == 24)
        // A frame overwritten while read counts as overwritten, not checked, in either mode.
        lenient.record(seq: 8, tensor: tensor, payloadBytes: 24, good: true, stillValid: false)
        #expect(lenient.frames == 1 && lenient.overwritten == 1)
        // tp-client's own pattern passes the strict check.
        let rows = 4
        let columns = 6
        var own = [UInt8](repeating: 0, count: rows * columns)
        own.withUnsafeMutableBytes { Pattern.fill($0, seq: 9, rows: rows, columns: columns) }
        let ownTensor = try TensorDescriptor(dtype: .uint8, shape: [rows, columns])
        #expect(own.withUnsafeBytes { strict.payloadMatches($0, seq: 9, tensor: ownTensor) })
    }

    @Test("--print describes a frame in one line: seq, dtype, shape, payload bytes")
    func describe() throws {
        let tensor = try TensorDescriptor(dtype: .float32, shape: [480, 640, 3])
        #expect(
            Consume.Checker.describe(seq: 12, tensor: tensor, payloadBytes: 3_686_400)
                == "frame seq=12 dtype=FLOAT32 shape=[480x640x3] bytes=3686400")
    }

    @Test("the pattern check of a frame with an empty dimension compares nothing and does not crash")
    func emptyDimension() {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(Pattern.check(empty, seq: 3, rows: 4, columns: 0))
        #expect(!Pattern.check(empty, seq: 3, rows: 4, columns: 2))
        #expect(!Pattern.check(empty, seq: 3, rows: -1, columns: 2))
    }
}
