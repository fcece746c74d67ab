import TensorPoolWire

/// Fixed numbers and the offset arithmetic of the SHM layout (wire spec v1.2 §6–§9).
///
/// Every offset is computed from these constants, never from SBE metadata: the superblock is 64 bytes by definition
/// (§6), a header slot 256 bytes (§8.1), and payload slot `k` of a pool starts at `64 + k * stride_bytes` (§9).
public enum ShmLayout {
    /// Size of the superblock that opens every region, in bytes (a fixed constant, §6).
    public static let superblockSize = 64

    /// Size of one header-ring slot, in bytes (§8.1).
    public static let headerSlotBytes = 256

    /// The superblock marker: ASCII `TPOLSHM1` read as a little-endian u64 (§7.1 and the interop note there).
    public static let magic: UInt64 = 0x544F_504C_5348_4D31

    /// The SHM layout version this implementation writes and accepts.
    public static let layoutVersion: UInt32 = 1

    /// Largest tensor rank a `TensorHeader` describes in v1.2 (§15.8).
    public static let maxDims = 8

    /// Length of the fixed `SlotHeader` block that precedes `headerBytes` (§8.2).
    public static let slotHeaderBlockLength = WireSchema.SlotHeaderDecoder.blockLength

    /// Offset of the embedded `TensorHeader` (its message header) inside a slot: the fixed block plus the u32 length.
    public static let embeddedHeaderOffset = slotHeaderBlockLength + 4

    /// Exact length `headerBytes` must have: the embedded message header plus the `TensorHeader` block (192 in v1.2).
    public static let embeddedHeaderLength = 8 + WireSchema.TensorHeaderDecoder.blockLength

    /// Offset of `activity_timestamp_ns` in the superblock (8-byte aligned, so it can be stored atomically).
    public static let activityTimestampOffset = 56

    /// Byte offset of header slot `index` in the header ring: `64 + index * 256`.
    @inlinable
    public static func headerSlotOffset(_ index: Int) -> Int { superblockSize + index * headerSlotBytes }

    /// Byte offset of payload slot `slot` in a pool of stride `strideBytes`: `64 + slot * strideBytes`.
    @inlinable
    public static func payloadSlotOffset(_ slot: Int, strideBytes: Int) -> Int { superblockSize + slot * strideBytes }

    /// Size of a header-ring file with `nslots` slots.
    @inlinable
    public static func headerRingSize(nslots: Int) -> Int { superblockSize + nslots * headerSlotBytes }

    /// Size of a payload-pool file with `nslots` slots of `strideBytes` each.
    @inlinable
    public static func payloadPoolSize(nslots: Int, strideBytes: Int) -> Int { superblockSize + nslots * strideBytes }

    /// The header (and payload) slot index of sequence `seq` in a ring of `nslots` (a power of two): `seq & (nslots-1)`.
    @inlinable
    public static func headerIndex(seq: UInt64, nslots: Int) -> Int {
        Int(truncatingIfNeeded: seq & UInt64(nslots &- 1))
    }

    /// Whether `value` is a power of two (and not zero).
    @inlinable
    public static func isPowerOfTwo<T: FixedWidthInteger>(_ value: T) -> Bool { value > 0 && value & (value &- 1) == 0 }

    /// Whether `strideBytes` obeys §15.22: 64 bytes times a power of two (64, 128, 256, …).
    @inlinable
    public static func isValidStride<T: FixedWidthInteger>(_ strideBytes: T) -> Bool {
        strideBytes >= 64 && isPowerOfTwo(strideBytes)
    }

    /// Whether `nslots` is usable for a ring: a power of two that fits the u32 field.
    @inlinable
    public static func isValidSlotCount<T: FixedWidthInteger>(_ nslots: T) -> Bool {
        isPowerOfTwo(nslots) && UInt64(nslots) <= UInt64(UInt32.max)
    }
}
