public import TensorPoolSHM

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The fixture shared by the `ShmCore` suite and `shm-compare`: one stream's header ring and one payload pool in a
/// fresh directory under `/dev/shm`, a ``FrameWriter`` over the writable mapping, a ``FrameReader`` over a second,
/// read-only mapping made through the consumer's containment checks, and page-aligned private buffers for the copy
/// source and the consumer's copy destination. Everything is allocated and touched here, so loops over it allocate
/// nothing and take no page faults.
///
/// Sequences start at 1 and only grow (``nextSeq``); frame `seq` lives in slot `seq & (slots - 1)` of both the header
/// ring and the pool, so successive frames cycle through the same `slots` payload slots.
public final class ShmBenchRing: @unchecked Sendable {
    /// Payload bytes per frame.
    public let length: Int
    /// Header ring (and pool) slot count.
    public let slots: Int
    /// Payload slot stride: the smallest valid stride (64 × 2ⁿ) that holds `length`.
    public let strideBytes: Int
    /// The fresh directory holding the regions (removed by ``close()``).
    public let directory: String
    /// Epoch of the regions.
    public let epoch: UInt64
    /// The producer's writable regions.
    public let regions: StreamRegions
    /// The consumer's read-only mapping of the same files.
    public let consumerRegions: StreamRegions
    /// The producer.
    public let writer: FrameWriter
    /// The consumer.
    public let reader: FrameReader
    /// `uint8[length]`.
    public let tensor: TensorDescriptor
    /// The producer's private source buffer, `length` bytes of a pattern.
    public let source: UnsafeMutableRawBufferPointer
    /// The consumer's private destination buffer, `length` bytes.
    public let destination: UnsafeMutableRawBufferPointer
    /// Start of each payload slot in the producer's (writable) mapping: the destinations of the copy path.
    public let slotPointers: UnsafeMutableBufferPointer<UnsafeMutableRawPointer>
    /// The next sequence to write.
    public var nextSeq: UInt64 = 1
    private var closed = false

    /// Creates the regions (prefaulted) for `length`-byte frames in a ring of `slots`, maps them again read-only for
    /// the consumer, and fills the source buffer.
    public init(length: Int, slots: Int = 8, label: String = "bench") throws {
        precondition(length > 0 && slots > 0 && slots & (slots - 1) == 0)
        self.length = length
        self.slots = slots
        strideBytes = max(64, 1 << (Int.bitWidth - (length - 1).leadingZeroBitCount))
        var template = Array("/dev/shm/tp-\(label)-XXXXXX".utf8CString)
        directory = try template.withUnsafeMutableBufferPointer { buffer in
            guard let path = mkdtemp(buffer.baseAddress!) else { throw ShmBenchError("mkdtemp failed: errno \(errno)") }
            return String(cString: path)
        }
        epoch = 1
        do {
            var options = RegionCreateOptions()
            options.prefault = true
            let layout = try ShmPathLayout(baseDirectory: directory, namespace: "bench")
            regions = try StreamRegions.create(
                layout: layout, streamId: 7, epoch: epoch, headerNslots: UInt32(slots),
                pools: [PoolSpec(poolId: 1, strideBytes: UInt32(strideBytes))], nowNs: 1, options: options)
            consumerRegions = try StreamRegions.map(
                regions.announce, policy: PathPolicy(allowedBaseDirectories: [directory]), writable: false)
        } catch {
            Self.removeTree(directory)
            throw error
        }
        writer = FrameWriter(regions: regions)
        reader = FrameReader(regions: consumerRegions)
        tensor = try TensorDescriptor(dtype: .uint8, shape: [length])
        source = .allocate(byteCount: length, alignment: 4096)
        for index in 0..<length { source[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
        destination = .allocate(byteCount: length, alignment: 4096)
        destination.initializeMemory(as: UInt8.self, repeating: 0)
        slotPointers = .allocate(capacity: slots)
        for slot in 0..<slots { slotPointers[slot] = regions.pools[0].slotPointer(slot) }
        // Touch the consumer's mapping of every slot too (its page tables are its own).
        var sum = 0
        for slot in 0..<slots {
            let base = consumerRegions.pools[0].slotPointer(slot)
            var offset = 0
            while offset < length {
                sum &+= Int(base.load(fromByteOffset: offset, as: UInt8.self))
                offset += 4096
            }
        }
        blackHoleInt(sum)
    }

    /// Unmaps both mappings, frees the buffers and removes the directory. Repeating it does nothing.
    public func close() {
        guard !closed else { return }
        closed = true
        consumerRegions.unmap()
        regions.unmap()
        try? regions.unlinkFiles()
        Self.removeTree(directory)
        source.deallocate()
        destination.deallocate()
        slotPointers.deallocate()
    }

    deinit { close() }

    /// The payload slot of `seq` in the producer's mapping.
    @inlinable
    public func slot(_ seq: UInt64) -> UnsafeMutableRawPointer {
        slotPointers[Int(truncatingIfNeeded: seq) & (slots &- 1)]
    }

    /// Removes `path` and everything under it (the regions live a few directories down).
    public static func removeTree(_ path: String) {
        guard let directory = opendir(path) else {
            _ = unlink(path)
            return
        }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let child = path + "/" + name
            var status = stat()
            if lstat(child, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR {
                removeTree(child)
            } else {
                _ = unlink(child)
            }
        }
        closedir(directory)
        _ = rmdir(path)
    }
}

/// A setup failure.
public struct ShmBenchError: Error, CustomStringConvertible {
    /// What failed.
    public let description: String
    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}

/// Keeps a value alive for the optimiser (opaque even under cross-module optimisation).
@inline(never) @_optimize(none)
public func blackHoleInt(_ value: Int) {
    _ = value
}

/// Human-readable size: `256 B`, `64 KiB`, `640 KiB`, `4 MiB`.
public func sizeLabel(_ bytes: Int) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
    if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
    return "\(bytes) B"
}

/// The four payload sizes of the SHM benchmarks.
public let shmBenchSizes = [256, 64 << 10, 640 << 10, 4 << 20]
