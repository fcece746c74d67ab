import Foundation
import TensorPoolSHM
import TensorPoolWire
import Testing

private func scratchDirectory() throws -> String {
    let directory = "/dev/shm/tp-unit-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
}

@Suite("SHM layout arithmetic and the seq_commit encoding")
struct LayoutTests {
    @Test("offsets, sizes and header indices follow 64 + i * 256 and 64 + k * stride")
    func offsets() {
        #expect(ShmLayout.headerSlotOffset(0) == 64 && ShmLayout.headerSlotOffset(3) == 832)
        #expect(ShmLayout.payloadSlotOffset(2, strideBytes: 4096) == 64 + 8192)
        #expect(ShmLayout.headerRingSize(nslots: 4) == 64 + 1024)
        #expect(ShmLayout.payloadPoolSize(nslots: 4, strideBytes: 128) == 64 + 512)
        #expect(ShmLayout.headerIndex(seq: 13, nslots: 8) == 5)
        #expect(ShmLayout.headerIndex(seq: UInt64.max, nslots: 1024) == 1023)
        #expect(ShmLayout.embeddedHeaderOffset == 64 && ShmLayout.embeddedHeaderLength == 192)
        #expect(ShmLayout.embeddedHeaderOffset + ShmLayout.embeddedHeaderLength == ShmLayout.headerSlotBytes)
    }

    @Test("strides are 64 × a power of two; slot counts are powers of two")
    func rules() {
        for good: UInt32 in [64, 128, 4096, 1 << 30] { #expect(ShmLayout.isValidStride(good)) }
        for bad: UInt32 in [0, 1, 32, 96, 192, 4095, 65_600] { #expect(!ShmLayout.isValidStride(bad)) }
        for good: UInt32 in [1, 2, 1024] { #expect(ShmLayout.isValidSlotCount(good)) }
        for bad: UInt32 in [0, 3, 6, 1000] { #expect(!ShmLayout.isValidSlotCount(bad)) }
    }

    @Test("seq_commit words: in progress, committed, sequence")
    func seqCommit() {
        #expect(SeqCommit.inProgress(5) == 10 && SeqCommit.committed(5) == 11)
        #expect(SeqCommit.isCommitted(11) && !SeqCommit.isCommitted(10))
        #expect(
            SeqCommit.sequence(11) == 5
                && SeqCommit.sequence(SeqCommit.committed(SeqCommit.maxSequence)) == SeqCommit.maxSequence)
        let word = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
        defer { word.deallocate() }
        let atomic = SeqCommitWord(at: word)
        atomic.beginWrite(7)
        #expect(atomic.readBegin() == 14)
        atomic.commit(7)
        #expect(atomic.readEnd() == 15)
    }
}

@Suite("Canonical paths")
struct PathLayoutTests {
    @Test("the user component is sanitised so it can never traverse")
    func sanitize() {
        #expect(ShmPathLayout.sanitizeUser("alice") == "alice")
        #expect(ShmPathLayout.sanitizeUser("a/b c") == "a_b_c")
        #expect(ShmPathLayout.sanitizeUser("..") == "_..")
        #expect(ShmPathLayout.sanitizeUser(".") == "_.")
        #expect(ShmPathLayout.sanitizeUser("") == "_")
        #expect(ShmPathLayout.sanitizeUser("é") == "_")
    }

    @Test("paths follow <base>/tensorpool-<user>/<namespace>/<stream>/<epoch>/{header.ring,<pool>.pool}")
    func paths() throws {
        let layout = try ShmPathLayout(baseDirectory: "/dev/shm/", namespace: "lab1", user: "bob")
        #expect(layout.headerRingPath(streamId: 7, epoch: 99) == "/dev/shm/tensorpool-bob/lab1/7/99/header.ring")
        #expect(layout.payloadPoolPath(streamId: 7, epoch: 99, poolId: 2) == "/dev/shm/tensorpool-bob/lab1/7/99/2.pool")
        #expect(throws: RegionError.self) { try ShmPathLayout(baseDirectory: "relative") }
        for bad in ["", ".", "..", "a/b"] {
            #expect(throws: RegionError.self) { try ShmPathLayout(namespace: bad) }
        }
        #expect(!(try ShmPathLayout()).user.isEmpty)
    }
}

@Suite("Tensor descriptors")
struct TensorDescriptorTests {
    @Test("strides resolve to the contiguous layout for both orders, and extents follow")
    func resolve() throws {
        let row = try TensorDescriptor(dtype: .float32, shape: [2, 3, 4])
        let rowStrides = try row.resolvedStrides()
        #expect(rowStrides[0] == 48 && rowStrides[1] == 16 && rowStrides[2] == 4)
        #expect(try row.extentBytes() == 96)
        let column = try TensorDescriptor(dtype: .int16, shape: [2, 3, 4], majorOrder: .column)
        let columnStrides = try column.resolvedStrides()
        #expect(columnStrides[0] == 2 && columnStrides[1] == 4 && columnStrides[2] == 12)
        let padded = try TensorDescriptor(dtype: .uint8, shape: [2, 3], strides: [8, 0])
        #expect(try padded.extentBytes() == 11)
        #expect(try TensorDescriptor(dtype: .uint8, shape: [0, 3]).extentBytes() == 0)
        #expect(row.shape == [2, 3, 4])
    }

    @Test("element sizes by dtype; unknown dtypes have none")
    func elementSizes() {
        #expect(TensorDescriptor.elementSize(.uint8) == 1 && TensorDescriptor.elementSize(.bit) == 1)
        #expect(TensorDescriptor.elementSize(.int16) == 2 && TensorDescriptor.elementSize(.float32) == 4)
        #expect(TensorDescriptor.elementSize(.float64) == 8 && TensorDescriptor.elementSize(.unknown) == 0)
        #expect(TensorDescriptor.elementSize(WireSchema.Dtype(rawValue: 12)) == 0)
    }

    @Test("overflowing layouts are refused, not wrapped")
    func overflow() {
        let huge = Array(repeating: Int(Int32.max), count: 8)
        #expect(throws: TensorHeaderError.layoutOverflow) { try TensorDescriptor(dtype: .float64, shape: huge) }
    }

    @Test("producers must leave dims and strides beyond ndims at zero")
    func producerPadding() throws {
        var dims = DimensionArray([2])
        dims[3] = 1
        let tensor = TensorDescriptor(
            unvalidated: .uint8, majorOrder: .row, ndims: 1, dims: dims, strides: DimensionArray(),
            progressUnit: .noneValue, progressStrideBytes: 0)
        try tensor.validate()
        #expect(throws: TensorHeaderError.nonZeroBeyondRank(index: 3)) { try tensor.validateForProducer() }
    }

    @Test("DimensionArray stores eight values inline and compares them all")
    func dimensionArray() {
        var values = DimensionArray([1, 2, 3])
        #expect(Array(values) == [1, 2, 3, 0, 0, 0, 0, 0])
        values[7] = 9
        #expect(values != DimensionArray([1, 2, 3]) && values.count == 8)
    }
}

@Suite("Regions, superblocks, writer and reader")
struct RegionTests {
    @Test("superblocks round-trip through the codec and validate against their expectation")
    func superblockRoundTrip() throws {
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { bytes.deallocate() }
        let written = Superblock.payloadPool(
            streamId: 3, epoch: 9, poolId: 2, nslots: 16, strideBytes: 256, pid: 42, nowNs: 1_000)
        try written.write(to: bytes)
        let read = try Superblock(decoding: UnsafeRawBufferPointer(bytes))
        #expect(read == written)
        try read.validate(against: written)
        var other = written
        other.strideBytes = 512
        #expect(throws: SuperblockMismatch.mismatch(.strideBytes, expected: 512, actual: 256)) {
            try read.validate(against: other)
        }
        // A pool's slot_bytes is not compared (the peers disagree on it).
        var cPeer = read
        cPeer.slotBytes = 0xFFFF_FFFF
        try cPeer.validate(against: written)
        #expect(throws: SuperblockMismatch.truncated(length: 10)) {
            try Superblock(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<10]))
        }
        #expect(Superblock.isStale(activityTimestampNs: 0, nowNs: 1, windowNs: 10))
        #expect(!Superblock.isStale(activityTimestampNs: 40, nowNs: 50, windowNs: 10), "at the window's edge")
        #expect(Superblock.isStale(activityTimestampNs: 39, nowNs: 50, windowNs: 10), "older than the window")
        #expect(!Superblock.isStale(activityTimestampNs: 60, nowNs: 50, windowNs: 10), "a refresh racing the clock")
        #expect(Superblock.isStale(activityTimestampNs: 61, nowNs: 50, windowNs: 10), "ahead: not this clock's")
        // A CLOCK_REALTIME stamp read on CLOCK_MONOTONIC (the peers' clock and ours) is stale, and says why.
        let realtimeStamp: UInt64 = 1_796_686_620_607_215_256
        let monotonicNow: UInt64 = 1_078_885_019_909
        #expect(Superblock.isStale(activityTimestampNs: realtimeStamp, nowNs: monotonicNow, windowNs: 3_000_000_000))
        var foreign = written
        foreign.activityTimestampNs = realtimeStamp
        let error = try #require(throws: SuperblockMismatch.self) {
            try foreign.requireFresh(nowNs: monotonicNow, windowNs: 3_000_000_000)
        }
        #expect(error == .stale(activityTimestampNs: realtimeStamp, nowNs: monotonicNow, windowNs: 3_000_000_000))
        #expect(error.description.contains("ahead") && error.description.contains("\(realtimeStamp)"))
    }

    @Test("unmap is explicit and repeatable; a failed creation leaves no files behind")
    func lifecycle() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let region = try MappedRegion.create(path: directory + "/a/b/file", size: 4096)
        #expect(region.isMapped && region.isWritable)
        region.unmap()
        region.unmap()
        #expect(!region.isMapped)
        try MappedRegion.unlink(path: directory + "/a/b/file")
        try MappedRegion.unlink(path: directory + "/a/b/file")
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "n")
        #expect(throws: RegionError.self) {
            try StreamRegions.create(
                layout: layout, streamId: 1, epoch: 1, headerNslots: 4,
                pools: [PoolSpec(poolId: 1, strideBytes: 96)], nowNs: 1)
        }
        #expect(throws: RegionError.self) {
            try StreamRegions.create(
                layout: layout, streamId: 1, epoch: 1, headerNslots: 4,
                pools: [PoolSpec(poolId: 1, strideBytes: 64), PoolSpec(poolId: 1, strideBytes: 128)], nowNs: 1)
        }
        #expect(!FileManager.default.fileExists(atPath: layout.headerRingPath(streamId: 1, epoch: 1)))
        #expect(throws: RegionError.self) { try MappedRegion.create(path: "relative", size: 64) }
        #expect(throws: RegionError.self) { try MappedRegion.create(path: directory + "/zero", size: 0) }
    }

    @Test("the activity timestamp is refreshed in place and seen through a separate read-only mapping")
    func activityRefresh() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "n")
        let regions = try StreamRegions.create(
            layout: layout, streamId: 1, epoch: 1, headerNslots: 4, pools: [PoolSpec(poolId: 1, strideBytes: 64)],
            nowNs: 1_000)
        defer { regions.unmap() }
        FrameWriter(regions: regions).refreshActivity(nowNs: 6_000)
        let consumer = try StreamRegions.map(
            regions.announce, policy: try PathPolicy(allowedBaseDirectories: [directory]))
        #expect(Superblock.activityTimestamp(in: consumer.header) == 6_000)
        #expect(consumer.pools.allSatisfy { Superblock.activityTimestamp(in: $0.region) == 6_000 })
        #expect(try consumer.currentHeaderSuperblock().startTimestampNs == 1_000)
    }

    @Test("a file shorter than the announced geometry is refused before mapping")
    func shortFile() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "n")
        let regions = try StreamRegions.create(
            layout: layout, streamId: 1, epoch: 1, headerNslots: 4, pools: [PoolSpec(poolId: 1, strideBytes: 64)],
            nowNs: 1)
        defer { regions.unmap() }
        truncate(regions.header.path, 100)
        let policy = try PathPolicy(allowedBaseDirectories: [directory])
        #expect {
            try StreamRegions.map(regions.announce, policy: policy)
        } throws: { error in
            if case .fileTooSmall = error as? RegionError { return true }
            return false
        }
    }

    @Test("readCopy copies inside the seqlock window and refuses a destination that is too small")
    func readCopy() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "n")
        let regions = try StreamRegions.create(
            layout: layout, streamId: 1, epoch: 5, headerNslots: 4, pools: [PoolSpec(poolId: 1, strideBytes: 256)],
            nowNs: 1)
        defer { regions.unmap() }
        let writer = FrameWriter(regions: regions)
        let payload: [UInt8] = (0..<200).map { UInt8($0) }
        try payload.withUnsafeBytes { bytes in
            try writer.publish(
                seq: 1, payload: bytes, tensor: try TensorDescriptor(dtype: .uint8, shape: [200]), timestampNs: 77,
                metaVersion: 3)
            try writer.publish(
                seq: 2, payload: bytes, tensor: try TensorDescriptor(dtype: .uint8, shape: [200]), timestampNs: 78)
        }
        let reader = FrameReader(
            regions: try StreamRegions.map(
                regions.announce, policy: try PathPolicy(allowedBaseDirectories: [directory])))
        let small = UnsafeMutableRawBufferPointer.allocate(byteCount: 100, alignment: 8)
        defer { small.deallocate() }
        #expect(reader.readCopy(seq: 1, epoch: 5, into: small).dropReason == .destinationTooSmall)
        let large = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)
        defer { large.deallocate() }
        let frame = try #require(reader.readCopy(seq: 2, epoch: 5, into: large).frame)
        #expect(Array(frame.payload) == payload && frame.payload.baseAddress == UnsafeRawPointer(large.baseAddress))
        #expect(frame.timestampNs == 78 && frame.metaVersion == 0 && reader.isStillValid(frame))
        #expect(reader.counters.dropsInvalid == 1 && reader.counters.framesAccepted == 1)
        #expect(throws: PublishError.sequenceOutOfRange(UInt64.max)) { try writer.claim(seq: .max, length: 1) }
        let claim = try writer.claim(seq: 3, length: 10)
        #expect(throws: PublishError.lengthExceedsClaim(length: 11, claimed: 10)) {
            try writer.commit(
                claim, tensor: try TensorDescriptor(dtype: .uint8, shape: [11]), timestampNs: 0, metaVersion: 0,
                valuesLength: 11)
        }
    }
}

@Suite("Region creation options")
struct CreateOptionTests {
    /// Kilobytes the kernel reports as locked for the mapping that starts at `address` (from /proc/self/smaps).
    private func lockedKilobytes(at address: UnsafeMutableRawPointer) throws -> Int {
        let start = String(UInt(bitPattern: address), radix: 16)
        // procfs files report size 0: read to the end instead of trusting the size.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        var inMapping = false
        for line in smaps.split(separator: "\n") {
            if let first = line.split(separator: " ").first, first.contains("-") {
                inMapping = first.hasPrefix(start + "-") || first.hasPrefix("0" + start + "-")
            } else if inMapping, line.hasPrefix("Locked:") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
            }
        }
        return 0
    }

    @Test("prefault touches every page; lockMemory locks the mapping or fails with a typed error")
    func prefaultAndLock() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = RegionCreateOptions()
        options.prefault = true
        let prefaulted = try MappedRegion.create(path: directory + "/p", size: 1 << 20, options: options)
        #expect(prefaulted.bytes.allSatisfy { $0 == 0 }, "a fresh region reads as zeros")
        options.lockMemory = true
        do {
            let locked = try MappedRegion.create(path: directory + "/l", size: 1 << 20, options: options)
            #expect(try lockedKilobytes(at: locked.base) == 1024)
        } catch let error as RegionError {
            guard case .lockFailed = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
    }

    @Test(
        "a prefaulted region larger than its file system fails with ENOSPC instead of a SIGBUS later",
        .enabled(if: getuid() == 0, "needs root to mount a small tmpfs"))
    func prefaultOnFullFileSystem() throws {
        let mountPoint = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: mountPoint) }
        try #require(mount("tmpfs", mountPoint, "tmpfs", 0, "size=1m") == 0, "mount a 1 MiB tmpfs")
        defer { umount(mountPoint) }
        var options = RegionCreateOptions()
        options.prefault = true
        #expect(throws: RegionError.system(operation: "posix_fallocate", path: mountPoint + "/big", errno: ENOSPC)) {
            try MappedRegion.create(path: mountPoint + "/big", size: 4 << 20, options: options)
        }
        #expect(!FileManager.default.fileExists(atPath: mountPoint + "/big"), "the failed file is removed")
        let small = try MappedRegion.create(path: mountPoint + "/small", size: 256 << 10, options: options)
        #expect(small.isMapped)
    }

    @Test("requiring hugepages on tmpfs is refused, verified with fstatfs")
    func hugepagesRequiredOnTmpfs() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = RegionCreateOptions()
        options.requireHugepages = true
        #expect(throws: RegionError.notHugepageBacked(path: directory + "/h")) {
            try MappedRegion.create(path: directory + "/h", size: 4096, options: options)
        }
    }

    @Test(
        "regions on /dev/hugepages are hugepage-backed and sized to whole hugepages",
        .enabled(if: Hugepages.defaultMount != nil, "no writable hugetlbfs at /dev/hugepages"))
    func hugepageRegions() throws {
        let mount = try #require(Hugepages.defaultMount)
        let directory = mount + "/tp-unit-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = RegionCreateOptions()
        options.requireHugepages = true
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "n")
        let regions = try StreamRegions.create(
            layout: layout, streamId: 1, epoch: 1, headerNslots: 4, pools: [PoolSpec(poolId: 1, strideBytes: 4096)],
            nowNs: 1, options: options)
        defer { regions.unmap() }
        #expect(regions.header.isHugetlbfs && regions.announce.headerRegionURI.hasSuffix("|require_hugepages=true"))
        let mapped = try StreamRegions.map(
            regions.announce, policy: try PathPolicy(allowedBaseDirectories: [directory]))
        #expect(mapped.header.isHugetlbfs)
    }
}

@Suite("Safe creation of region files")
struct SafeCreationTests {
    @Test("a refused creation removes the file it created and the epoch directory")
    func refusedCreationCleansUp() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "n")
        var options = RegionCreateOptions()
        options.requireHugepages = true
        #expect(throws: RegionError.self) {
            try StreamRegions.create(
                layout: layout, streamId: 1, epoch: 1, headerNslots: 4, pools: [PoolSpec(poolId: 1, strideBytes: 64)],
                nowNs: 1, options: options)
        }
        #expect(!FileManager.default.fileExists(atPath: layout.headerRingPath(streamId: 1, epoch: 1)))
        #expect(!FileManager.default.fileExists(atPath: layout.epochDirectory(streamId: 1, epoch: 1)))
    }

    @Test("a directory below the base that others can write to, or a symlink in its place, is refused")
    func preCreatedDirectories() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "n")
        let userDirectory = "\(directory)/tensorpool-\(layout.user)"
        mkdir(userDirectory, 0o777)
        chmod(userDirectory, 0o777)
        #expect {
            try StreamRegions.create(
                layout: layout, streamId: 1, epoch: 1, headerNslots: 4, pools: [PoolSpec(poolId: 1, strideBytes: 64)],
                nowNs: 1)
        } throws: { error in
            if case .unsafeDirectory(let path, _, _) = error as? RegionError { return path == userDirectory }
            return false
        }
        rmdir(userDirectory)
        let elsewhere = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        symlink(elsewhere, userDirectory)
        #expect(throws: RegionError.self) {
            try StreamRegions.create(
                layout: layout, streamId: 1, epoch: 1, headerNslots: 4, pools: [PoolSpec(poolId: 1, strideBytes: 64)],
                nowNs: 1)
        }
        #expect((try FileManager.default.contentsOfDirectory(atPath: elsewhere)).isEmpty, "nothing went through")
    }

    @Test("creating an epoch again replaces its files: a process still mapping the old ones keeps reading them")
    func recreationDoesNotTruncateLiveMappings() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "n")
        let first = try StreamRegions.create(
            layout: layout, streamId: 1, epoch: 1, headerNslots: 4, pools: [PoolSpec(poolId: 1, strideBytes: 4096)],
            nowNs: 1)
        let reader = try StreamRegions.map(first.announce, policy: try PathPolicy(allowedBaseDirectories: [directory]))
        let second = try StreamRegions.create(
            layout: layout, streamId: 1, epoch: 1, headerNslots: 4, pools: [PoolSpec(poolId: 1, strideBytes: 4096)],
            nowNs: 2)
        defer { second.unmap() }
        // The old mapping is intact (truncation would make these reads fault) and still shows the old superblock.
        let old = try Superblock(decoding: reader.header.bytes)
        #expect(old.startTimestampNs == 1 && reader.pools[0].region.bytes[reader.pools[0].region.length - 1] == 0)
        #expect(try Superblock(decoding: second.header.bytes).startTimestampNs == 2)
        first.unmap()
        reader.unmap()
    }
}

extension ReadResult {
    fileprivate var dropReason: FrameDropReason? {
        if case .dropped(let reason) = self { return reason }
        return nil
    }
}

@Suite("Tensor header caches of the writer and the reader")
struct TensorCacheTests {
    @Test("a changed tensor is validated and encoded again; a known one is copied; an invalid one never sticks")
    func caches() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "cache")
        let regions = try StreamRegions.create(
            layout: layout, streamId: 1, epoch: 1, headerNslots: 8, pools: [PoolSpec(poolId: 1, strideBytes: 1024)],
            nowNs: 1)
        defer { regions.unmap() }
        let writer = FrameWriter(regions: regions)
        let reader = FrameReader(regions: regions)
        let flat = try TensorDescriptor(dtype: .uint8, shape: [512])
        let square = try TensorDescriptor(dtype: .uint16, shape: [16, 16])
        var broken = flat
        broken.strides[0] = -1
        func publish(_ seq: UInt64, _ tensor: TensorDescriptor) throws {
            let claim = try writer.claim(seq: seq, length: 512)
            try writer.commit(claim, tensor: tensor, timestampNs: seq, metaVersion: 0)
        }
        try publish(0, flat)
        try publish(1, flat)  // copied from the cache
        #expect(throws: PublishError.invalidTensor(.negativeStride(index: 0, value: -1))) { try publish(2, broken) }
        try publish(2, square)  // the broken one did not replace the cache: square is encoded
        var view = FrameView.empty
        for (seq, expected) in [(UInt64(0), flat), (1, flat), (2, square)] {
            #expect(reader.read(seq: seq, epoch: 1, into: &view) == nil)
            #expect(view.tensor == expected && view.seq == seq)
        }
        // The reader's cache: after a valid frame, the same slot tampered into an invalid header is still refused.
        try publish(3, flat)
        #expect(reader.read(seq: 3, epoch: 1, into: &view) == nil)
        try publish(4, flat)
        let slot = regions.header.base + ShmLayout.headerSlotOffset(4)
        (slot + ShmLayout.embeddedHeaderOffset + 8).storeBytes(of: Int16(99), as: Int16.self)  // unknown dtype
        #expect(reader.read(seq: 4, epoch: 1, into: &view) == .tensorHeader)
        try publish(5, flat)
        #expect(reader.read(seq: 5, epoch: 1, into: &view) == nil && view.tensor == flat)
    }
}
