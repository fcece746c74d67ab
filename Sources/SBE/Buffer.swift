/// Little-endian loads and stores at byte offsets, the primitives every generated codec is built on.
///
/// The unchecked forms assume the caller validated the range (generated decoders validate a whole message when they
/// wrap it); the `require…` functions do that validation with typed errors. Nothing here allocates.
public enum SBEBuffer {
    /// Throws unless `count` bytes starting at `offset` lie inside a buffer of `capacity` bytes.
    @inlinable @inline(__always)
    public static func requireReadable(
        _ what: StaticString, offset: Int, count: Int, capacity: Int
    ) throws(SBEDecodeError) {
        guard offset >= 0, count >= 0, offset <= capacity, count <= capacity &- offset else {
            throw .truncated(what: what, offset: offset, needed: count, available: max(0, capacity &- offset))
        }
    }

    /// Throws unless `count` bytes starting at `offset` lie inside a buffer of `capacity` bytes.
    @inlinable @inline(__always)
    public static func requireWritable(
        _ what: StaticString, offset: Int, count: Int, capacity: Int
    ) throws(SBEEncodeError) {
        guard offset >= 0, count >= 0, offset <= capacity, count <= capacity &- offset else {
            throw .insufficientCapacity(
                what: what, offset: offset, needed: count, available: max(0, capacity &- offset))
        }
    }

    /// Loads a little-endian integer at `offset` (unchecked).
    @inlinable @inline(__always)
    public static func load<T: FixedWidthInteger>(_ base: UnsafeRawPointer, _ offset: Int, as type: T.Type) -> T {
        T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Stores a little-endian integer at `offset` (unchecked).
    @inlinable @inline(__always)
    public static func store<T: FixedWidthInteger>(_ value: T, _ base: UnsafeMutableRawPointer, _ offset: Int) {
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }

    /// Loads a little-endian IEEE 754 single at `offset` (unchecked).
    @inlinable @inline(__always)
    public static func load(_ base: UnsafeRawPointer, _ offset: Int, as type: Float.Type) -> Float {
        Float(bitPattern: load(base, offset, as: UInt32.self))
    }

    /// Loads a little-endian IEEE 754 double at `offset` (unchecked).
    @inlinable @inline(__always)
    public static func load(_ base: UnsafeRawPointer, _ offset: Int, as type: Double.Type) -> Double {
        Double(bitPattern: load(base, offset, as: UInt64.self))
    }

    /// Stores a little-endian IEEE 754 single at `offset` (unchecked).
    @inlinable @inline(__always)
    public static func store(_ value: Float, _ base: UnsafeMutableRawPointer, _ offset: Int) {
        store(value.bitPattern, base, offset)
    }

    /// Stores a little-endian IEEE 754 double at `offset` (unchecked).
    @inlinable @inline(__always)
    public static func store(_ value: Double, _ base: UnsafeMutableRawPointer, _ offset: Int) {
        store(value.bitPattern, base, offset)
    }
}

extension SBEBuffer {
    /// A non-null address for codecs over an empty buffer (whose `baseAddress` is `nil`); never read or written,
    /// because every access is bounds-checked against a count of zero first.
    nonisolated(unsafe) public static let emptyBase = UnsafeRawPointer(bitPattern: 0x10)!

    /// The mutable counterpart of ``emptyBase``.
    nonisolated(unsafe) public static let emptyMutableBase = UnsafeMutableRawPointer(bitPattern: 0x10)!
}
