/// The 8-byte SBE message header every schema of the family uses: block length, template id, schema id and version,
/// each a little-endian `uint16`.
public struct MessageHeader: Sendable, Equatable {
    /// Encoded length of the header.
    public static let encodedLength = 8

    /// Length of the message's root block.
    public var blockLength: UInt16
    /// The message's template id within its schema.
    public var templateId: UInt16
    /// The schema id.
    public var schemaId: UInt16
    /// The schema version the message was encoded with.
    public var version: UInt16

    /// Creates a header value.
    @inlinable
    public init(blockLength: UInt16, templateId: UInt16, schemaId: UInt16, version: UInt16) {
        self.blockLength = blockLength
        self.templateId = templateId
        self.schemaId = schemaId
        self.version = version
    }

    /// Reads the header at `offset`, bounds-checked.
    @inlinable
    public init(decoding buffer: UnsafeRawBufferPointer, at offset: Int = 0) throws(SBEDecodeError) {
        try SBEBuffer.requireReadable(
            "message header", offset: offset, count: Self.encodedLength, capacity: buffer.count)
        let base = buffer.baseAddress!
        blockLength = SBEBuffer.load(base, offset, as: UInt16.self)
        templateId = SBEBuffer.load(base, offset + 2, as: UInt16.self)
        schemaId = SBEBuffer.load(base, offset + 4, as: UInt16.self)
        version = SBEBuffer.load(base, offset + 6, as: UInt16.self)
    }

    /// Writes the header at `offset`, bounds-checked.
    @inlinable
    public func encode(into buffer: UnsafeMutableRawBufferPointer, at offset: Int = 0) throws(SBEEncodeError) {
        try SBEBuffer.requireWritable(
            "message header", offset: offset, count: Self.encodedLength, capacity: buffer.count)
        let base = buffer.baseAddress!
        SBEBuffer.store(blockLength, base, offset)
        SBEBuffer.store(templateId, base, offset + 2)
        SBEBuffer.store(schemaId, base, offset + 4)
        SBEBuffer.store(version, base, offset + 6)
    }
}
