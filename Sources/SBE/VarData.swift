/// Variable-length data: a little-endian length of type `Length` followed by that many bytes.
public enum SBEVarData {
    /// Checks the var-data field at `offset` and returns the offset just past it.
    @inlinable
    public static func validate<Length: FixedWidthInteger & UnsignedInteger>(
        _ what: StaticString, _ buffer: UnsafeRawBufferPointer, at offset: Int, lengthType: Length.Type,
        maximum: UInt64
    ) throws(SBEDecodeError) -> Int {
        let headerLength = MemoryLayout<Length>.size
        try SBEBuffer.requireReadable(what, offset: offset, count: headerLength, capacity: buffer.count)
        let length = UInt64(SBEBuffer.load(buffer.baseAddress!, offset, as: Length.self))
        guard length <= maximum else { throw .lengthTooLarge(what: what, length: length, maximum: maximum) }
        try SBEBuffer.requireReadable(what, offset: offset + headerLength, count: Int(length), capacity: buffer.count)
        return offset + headerLength + Int(length)
    }

    /// The bytes of the var-data field at `offset`, which the caller validated.
    @inlinable @inline(__always)
    public static func view<Length: FixedWidthInteger & UnsignedInteger>(
        _ base: UnsafeRawPointer, at offset: Int, lengthType: Length.Type
    ) -> UnsafeRawBufferPointer {
        let length = Int(SBEBuffer.load(base, offset, as: Length.self))
        return UnsafeRawBufferPointer(start: base + offset + MemoryLayout<Length>.size, count: length)
    }

    /// The offset just past the var-data field at `offset`, which the caller validated.
    @inlinable @inline(__always)
    public static func skip<Length: FixedWidthInteger & UnsignedInteger>(
        _ base: UnsafeRawPointer, at offset: Int, lengthType: Length.Type
    ) -> Int {
        offset + MemoryLayout<Length>.size + Int(SBEBuffer.load(base, offset, as: Length.self))
    }

    /// Writes `bytes` as a var-data field at `offset` and returns the offset just past it.
    @inlinable
    public static func encode<Length: FixedWidthInteger & UnsignedInteger>(
        _ what: StaticString, _ bytes: UnsafeRawBufferPointer, into buffer: UnsafeMutableRawBufferPointer,
        at offset: Int, lengthType: Length.Type, maximum: UInt64
    ) throws(SBEEncodeError) -> Int {
        let headerLength = MemoryLayout<Length>.size
        guard UInt64(bytes.count) <= maximum else {
            throw .valueTooLarge(what: what, value: bytes.count, maximum: Int(clamping: maximum))
        }
        try SBEBuffer.requireWritable(what, offset: offset, count: headerLength + bytes.count, capacity: buffer.count)
        let base = buffer.baseAddress!
        SBEBuffer.store(Length(bytes.count), base, offset)
        if let source = bytes.baseAddress, bytes.count > 0 {
            (base + offset + headerLength).copyMemory(from: source, byteCount: bytes.count)
        }
        return offset + headerLength + bytes.count
    }

    /// Writes the UTF-8 bytes of `text` as a var-data field; allocates nothing for native strings.
    @inlinable
    public static func encode<Length: FixedWidthInteger & UnsignedInteger>(
        _ what: StaticString, _ text: String, into buffer: UnsafeMutableRawBufferPointer,
        at offset: Int, lengthType: Length.Type, maximum: UInt64
    ) throws(SBEEncodeError) -> Int {
        var text = text
        var result: Result<Int, SBEEncodeError> = .success(offset)
        text.withUTF8 { utf8 in
            do throws(SBEEncodeError) {
                result = .success(
                    try encode(
                        what, UnsafeRawBufferPointer(utf8), into: buffer, at: offset, lengthType: Length.self,
                        maximum: maximum))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }
}

/// Repeating groups: a dimension header (`blockLength`, `numInGroup`, both little-endian) followed by the entries.
public enum SBEGroup {
    /// Reads a group's dimension header at `offset`, bounds-checked: the acting entry block length and the count.
    @inlinable
    public static func header<Count: FixedWidthInteger & UnsignedInteger>(
        _ what: StaticString, _ buffer: UnsafeRawBufferPointer, at offset: Int, countType: Count.Type
    ) throws(SBEDecodeError) -> (blockLength: Int, count: Int) {
        try SBEBuffer.requireReadable(what, offset: offset, count: 2 + MemoryLayout<Count>.size, capacity: buffer.count)
        let base = buffer.baseAddress!
        return (
            Int(SBEBuffer.load(base, offset, as: UInt16.self)), Int(SBEBuffer.load(base, offset + 2, as: Count.self))
        )
    }

    /// Writes a group's dimension header at `offset` and returns the offset of the first entry.
    @inlinable
    public static func encodeHeader<Count: FixedWidthInteger & UnsignedInteger>(
        _ what: StaticString, into buffer: UnsafeMutableRawBufferPointer, at offset: Int, blockLength: Int,
        count: Int, countType: Count.Type
    ) throws(SBEEncodeError) -> Int {
        guard count >= 0, count <= Int(Count.max) else {
            throw .valueTooLarge(what: what, value: count, maximum: Int(Count.max))
        }
        let headerLength = 2 + MemoryLayout<Count>.size
        try SBEBuffer.requireWritable(what, offset: offset, count: headerLength, capacity: buffer.count)
        let base = buffer.baseAddress!
        SBEBuffer.store(UInt16(blockLength), base, offset)
        SBEBuffer.store(Count(count), base, offset + 2)
        return offset + headerLength
    }
}
