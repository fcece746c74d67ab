// Support for the property-based robustness tests (Property*.swift): the "touch everything" checker, a buffer that
// ends at an unmapped guard page, and a crash reporter that prints the input in flight.
import SBE
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Decoder and group abstractions

/// A generated message decoder, as the fuzzer drives it. Every generated decoder already has these members; the
/// conformances in PropertyDecoderTouch.swift only add `schemaId` and the hand-written `touch`.
protocol PropertyFuzzDecoder {
    static var schemaId: UInt16 { get }
    static var templateId: UInt16 { get }
    static var blockLength: Int { get }
    static var minimumBlockLength: Int { get }
    init(decodingHeaderOf buffer: UnsafeRawBufferPointer, offset: Int) throws(SBEDecodeError)
    init(
        _ buffer: UnsafeRawBufferPointer, offset: Int, actingBlockLength: Int, actingVersion: UInt16
    ) throws(SBEDecodeError)
    var buffer: UnsafeRawBufferPointer { get }
    var blockOffset: Int { get }
    var actingBlockLength: Int { get }
    var limit: Int { get }
    var encodedLength: Int { get }
    /// Reads every field, iterates every group (nested ones too) and reads every var-data field, in schema order.
    func touch(_ t: inout PropertyToucher)
}

/// A generated repeating-group decoder.
protocol PropertyFuzzGroup {
    var count: Int { get }
    var index: Int { get }
    var actingBlockLength: Int { get }
    mutating func next() -> Bool
}

// MARK: - Touching a decoded message

/// Reads everything a decoder offers and records every way it strays outside the buffer.
struct PropertyToucher {
    let buffer: UnsafeRawBufferPointer
    /// Folds every value read so the reads cannot be optimised away.
    private(set) var checksum: UInt64 = 0
    private(set) var problems: [String] = []
    /// Bytes after the root block accounted for by what was read: group headers, entry blocks and framed var data.
    private(set) var framedBytes = 0
    /// Whether `framedBytes` accounts for the whole message.
    private(set) var layoutExact = true
    /// Whether to record `framedOffsets` and `entryBlocks` (the layout of a valid encoding).
    var recordsLayout = false
    /// Where each group header and var-data length was expected, relative to the end of the root block.
    private(set) var framedOffsets: [Int] = []
    /// Every group entry's block, relative to the end of the root block, with the offset of its group's header.
    private(set) var entryBlocks: [(start: Int, length: Int, groupHeader: Int)] = []
    /// End of the last var-data field seen; var data must come in schema order without overlapping.
    private var lastDataEnd: UInt
    private let start: UInt
    private let end: UInt

    init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        start = UInt(bitPattern: buffer.baseAddress)
        end = start + UInt(buffer.count)
        lastDataEnd = start
    }

    mutating func problem(_ text: String) { problems.append(text) }

    /// Folds one value into the checksum.
    mutating func mix(_ value: UInt64) {
        checksum = (checksum ^ value) &* 0x100_0000_01B3
    }

    /// Folds every byte of `view`, which the caller checked lies inside the buffer.
    private mutating func mixBytes(_ view: UnsafeRawBufferPointer) {
        guard let base = view.baseAddress else { return }
        for offset in 0..<view.count { mix(UInt64(base.load(fromByteOffset: offset, as: UInt8.self))) }
    }

    /// A view of bytes inside the fixed block (an array's raw bytes): it must lie inside the buffer.
    mutating func fixedBytes(_ view: UnsafeRawBufferPointer, _ what: String) {
        guard inside(view) else {
            problem("\(what): fixed bytes \(describe(view)) outside the buffer \(describe(buffer))")
            return
        }
        mixBytes(view)
    }

    /// A var-data field: its view must lie inside the buffer, after the previous var-data field; then its bytes and
    /// its string form are read. With `messageLimit`, it is the message's last field and must end exactly there.
    mutating func data(
        _ view: UnsafeRawBufferPointer, _ string: @autoclosure () -> String, _ what: String, messageLimit: Int? = nil
    ) {
        guard inside(view) else {
            problem("\(what): var data \(describe(view)) outside the buffer \(describe(buffer))")
            return
        }
        let viewStart = UInt(bitPattern: view.baseAddress)
        if viewStart < lastDataEnd {
            problem(
                "\(what): var data at \(Int(viewStart) - Int(start)) overlaps data ending at \(lastDataEnd - start)")
        }
        lastDataEnd = viewStart + UInt(view.count)
        if recordsLayout { framedOffsets.append(framedBytes) }
        framedBytes += 4 + view.count
        if let messageLimit, Int(lastDataEnd - start) != messageLimit {
            problem("\(what): last var data ends at \(lastDataEnd - start), but limit is \(messageLimit)")
        }
        mixBytes(view)
        // The string form of text fields. Binary ones are skipped: the standard library's repair of invalid UTF-8
        // throws internally, and Swift Testing captures a backtrace for every error thrown, which is slow.
        if view.count <= 16 || view.allSatisfy({ $0 < 0x80 }) {
            let string = string()
            // Invalid UTF-8 is repaired with U+FFFD, so the string is never shorter than the bytes.
            if string.utf8.count < view.count { problem("\(what): string of \(string.utf8.count) UTF-8 bytes") }
            mix(UInt64(string.utf8.count))
        }
    }

    /// Iterates `group` to its end, calling `entry` for each entry; the iteration must yield exactly `count`
    /// entries with consecutive indices, then stay finished. Without `layoutKnown` (the discovery tags, whose
    /// trailing tag bytes are a known quirk), the entries' extent is not accounted, so the limit is not checked.
    mutating func group<G: PropertyFuzzGroup>(
        _ what: String, _ group: G, layoutKnown: Bool = true, _ entry: (inout PropertyToucher, G) -> Void
    ) {
        var group = group
        if !layoutKnown && group.count > 0 { layoutExact = false }
        let count = group.count
        mix(UInt64(count))  // not the block length: a longer block from a newer version must read the same
        let header = framedBytes
        if recordsLayout { framedOffsets.append(header) }
        framedBytes += 4
        if count < 0 || count > Int(UInt16.max) { problem("\(what): count \(count) out of range") }
        var visited = 0
        while group.next() {
            guard visited < count else {
                problem("\(what): next() returned true after \(count) entries")
                return
            }
            if group.index != visited { problem("\(what): index \(group.index) at entry \(visited)") }
            visited += 1
            if recordsLayout && layoutKnown { entryBlocks.append((framedBytes, group.actingBlockLength, header)) }
            framedBytes += group.actingBlockLength
            entry(&self, group)
        }
        if visited != count { problem("\(what): iterated \(visited) of \(count) entries") }
        if group.next() { problem("\(what): next() returned true after it returned false") }
    }

    /// The offset just past the last var-data field read.
    var lastDataEndOffset: Int { Int(lastDataEnd - start) }

    private func inside(_ view: UnsafeRawBufferPointer) -> Bool {
        guard let base = view.baseAddress else { return view.count == 0 }
        let viewStart = UInt(bitPattern: base)
        return viewStart >= start && viewStart <= end && UInt(view.count) <= end - viewStart
    }

    private func describe(_ view: UnsafeRawBufferPointer) -> String {
        "[\(Int(bitPattern: UInt(bitPattern: view.baseAddress)) - Int(bitPattern: start)), +\(view.count))"
    }
}

// MARK: - Driving one decoder

/// Tries one decoder on `buffer` through `decode`; a success must leave a consistent decoder whose every field,
/// group and var-data field can be read inside the buffer. Returns the problems found (empty when none), and
/// whether decoding succeeded.
func propertyDecodeAndTouch<D: PropertyFuzzDecoder>(
    _ type: D.Type, _ buffer: UnsafeRawBufferPointer,
    _ decode: (UnsafeRawBufferPointer) throws(SBEDecodeError) -> D
) -> (decoded: Bool, problems: [String]) {
    let decoder: D
    do throws(SBEDecodeError) {
        decoder = try decode(buffer)
    } catch {
        _ = error.description  // every error must be describable
        return (false, [])
    }
    var t = PropertyToucher(buffer)
    if decoder.buffer.baseAddress != buffer.baseAddress || decoder.buffer.count != buffer.count {
        t.problem("decoder.buffer is not the buffer given")
    }
    if decoder.limit > buffer.count { t.problem("limit \(decoder.limit) > buffer.count \(buffer.count)") }
    if decoder.blockOffset < 0 { t.problem("blockOffset \(decoder.blockOffset) < 0") }
    if decoder.actingBlockLength < D.minimumBlockLength {
        t.problem("actingBlockLength \(decoder.actingBlockLength) < minimum \(D.minimumBlockLength)")
    }
    if decoder.limit < decoder.blockOffset + decoder.actingBlockLength {
        t.problem("limit \(decoder.limit) before the end of the block")
    }
    if decoder.encodedLength != decoder.limit - decoder.blockOffset {
        t.problem("encodedLength != limit - blockOffset")
    }
    decoder.touch(&t)
    if t.lastDataEndOffset > decoder.limit {
        t.problem("var data ends at \(t.lastDataEndOffset), past the limit \(decoder.limit)")
    }
    // The message is exactly its block plus everything read after it.
    let accounted = decoder.blockOffset + decoder.actingBlockLength + t.framedBytes
    if t.layoutExact && decoder.limit != accounted {
        t.problem("limit \(decoder.limit), but the parts read end at \(accounted)")
    }
    return (true, t.problems)
}

/// Decodes a valid encoding of `D` (header at offset 0) and returns the toucher that read it all, or nil.
func propertyRead<D: PropertyFuzzDecoder>(_ type: D.Type, _ bytes: [UInt8]) -> (D, PropertyToucher)? {
    bytes.withUnsafeBytes { buffer in
        guard let decoder = try? D(decodingHeaderOf: buffer, offset: 0) else { return nil }
        var t = PropertyToucher(buffer)
        t.recordsLayout = true
        decoder.touch(&t)
        return (decoder, t)
    }
}

// MARK: - A buffer that ends at an unmapped page

/// Memory whose usable part ends exactly at a page mapped with no access, so that any read past the end of a
/// buffer placed at ``withBytes(_:_:)`` faults immediately instead of silently reading neighbouring memory.
final class PropertyGuardedMemory {
    let capacity: Int
    private let region: UnsafeMutableRawPointer
    private let regionLength: Int
    private let guardPage: UnsafeMutableRawPointer

    init(capacity requested: Int = 16 * 1024) {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let dataLength = (requested + pageSize - 1) / pageSize * pageSize
        capacity = dataLength
        regionLength = dataLength + pageSize
        #if canImport(Glibc)
            let flags = MAP_PRIVATE | MAP_ANONYMOUS
        #else
            let flags = MAP_PRIVATE | MAP_ANON
        #endif
        let mapped = mmap(nil, regionLength, PROT_READ | PROT_WRITE, flags, -1, 0)
        guard let mapped, mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
            fatalError("mmap of \(regionLength) bytes failed")
        }
        region = mapped
        guardPage = mapped + dataLength
        guard mprotect(guardPage, pageSize, PROT_NONE) == 0 else { fatalError("mprotect of the guard page failed") }
    }

    deinit { munmap(region, regionLength) }

    /// Copies `bytes` so they end right at the guard page and calls `body` with them.
    func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(bytes.count <= capacity, "input of \(bytes.count) bytes exceeds \(capacity)")
        let start = guardPage - bytes.count
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { start.copyMemory(from: base, byteCount: bytes.count) }
        }
        return try body(UnsafeRawBufferPointer(start: UnsafeRawPointer(start), count: bytes.count))
    }
}

// MARK: - Naming the input when a decoder crashes

/// When a decoder traps or faults while fuzzing, the test process dies before Swift Testing can report the input.
/// These handlers print the decoder and the input bytes in flight on the crashing thread, then give the signal back
/// to the handler installed before (the Swift backtracer, or the default action).
enum PropertyCrashReport {
    static let signals: [Int32] = [SIGILL, SIGTRAP, SIGSEGV, SIGBUS]
    nonisolated(unsafe) private static var installed = false
    nonisolated(unsafe) fileprivate static var previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 4)
    nonisolated(unsafe) fileprivate static var armed = false
    nonisolated(unsafe) fileprivate static var armedThread: pthread_t = pthread_self()
    nonisolated(unsafe) fileprivate static var label: UnsafeMutablePointer<CChar>? = nil
    nonisolated(unsafe) fileprivate static var bytes: UnsafeRawPointer? = nil
    nonisolated(unsafe) fileprivate static var count = 0
    /// The initializer's arguments: offset, then acting block length and version for the block initializer.
    nonisolated(unsafe) fileprivate static var arguments: (Int, Int, Int)? = nil
    nonisolated(unsafe) fileprivate static var offset = 0
    nonisolated(unsafe) fileprivate static var line = UnsafeMutablePointer<UInt8>.allocate(capacity: 160)

    /// Installs the handlers once. Only called from the serialized fuzz suite.
    static func install() {
        guard !installed else { return }
        installed = true
        for (index, signalNumber) in signals.enumerated() {
            previous.advanced(by: index).initialize(to: sigaction())
            sigaction(signalNumber, nil, previous.advanced(by: index))
            signal(signalNumber, propertyCrashSignalHandler)
        }
    }

    /// A C string naming a decoder, kept for the life of the process.
    static func label(_ text: String) -> UnsafeMutablePointer<CChar> { strdup(text)! }

    /// Runs `body` with the crash report naming `label`, the initializer's arguments (offset alone for the header
    /// initializer) and the bytes of `buffer`.
    static func around<R>(
        _ label: UnsafeMutablePointer<CChar>, offset: Int, block: (length: Int, version: UInt16)?,
        _ buffer: UnsafeRawBufferPointer, _ body: () -> R
    ) -> R {
        self.label = label
        self.offset = offset
        arguments = block.map { (offset, $0.length, Int($0.version)) }
        bytes = buffer.baseAddress
        count = buffer.count
        armedThread = pthread_self()
        armed = true
        defer { armed = false }
        return body()
    }
}

private func propertyRawWrite(_ pointer: UnsafeRawPointer, _ count: Int) {
    _ = write(2, pointer, count)
}

private func propertyRawWrite(_ text: StaticString) {
    propertyRawWrite(UnsafeRawPointer(text.utf8Start), text.utf8CodeUnitCount)
}

private func propertyRawWrite(_ value: Int) {
    let line = PropertyCrashReport.line
    var magnitude = value.magnitude
    var used = 0
    repeat {
        line[40 - used] = 0x30 + UInt8(magnitude % 10)
        magnitude /= 10
        used += 1
    } while magnitude > 0
    if value < 0 {
        line[40 - used] = 0x2D
        used += 1
    }
    propertyRawWrite(line + 41 - used, used)
}

/// Async-signal-safe: only `write`, `pthread_self` and `sigaction`, no allocation.
private func propertyCrashSignalHandler(_ signalNumber: Int32) {
    typealias R = PropertyCrashReport
    if R.armed, pthread_equal(R.armedThread, pthread_self()) != 0 {
        R.armed = false
        propertyRawWrite("\n*** Property fuzz: crash while decoding with ")
        if let label = R.label { propertyRawWrite(label, strlen(label)) }
        if let (offset, length, version) = R.arguments {
            propertyRawWrite(".init(_:offset: ")
            propertyRawWrite(offset)
            propertyRawWrite(", actingBlockLength: ")
            propertyRawWrite(length)
            propertyRawWrite(", actingVersion: ")
            propertyRawWrite(version)
        } else {
            propertyRawWrite(".init(decodingHeaderOf:offset: ")
            propertyRawWrite(R.offset)
        }
        propertyRawWrite(") of these ")
        propertyRawWrite(R.count)
        propertyRawWrite(" bytes, in hex:\n")
        let digits: StaticString = "0123456789abcdef"
        if let bytes = R.bytes {
            var offset = 0
            repeat {
                var used = 0
                while used < 64 && offset < R.count {
                    let byte = bytes.load(fromByteOffset: offset, as: UInt8.self)
                    R.line[used * 2] = digits.utf8Start[Int(byte >> 4)]
                    R.line[used * 2 + 1] = digits.utf8Start[Int(byte & 0xF)]
                    used += 1
                    offset += 1
                }
                R.line[used * 2] = 0x0A
                propertyRawWrite(R.line, used * 2 + 1)
            } while offset < R.count
        }
    }
    if let index = R.signals.firstIndex(of: signalNumber) {
        sigaction(signalNumber, R.previous.advanced(by: index), nil)
    }
    // Returning re-executes the faulting instruction, which now reaches the previous handler.
}
