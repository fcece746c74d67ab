import Atomics
import Foundation
import TensorPoolSHM
import TensorPoolWire

#if canImport(Glibc)
    import Glibc
#endif

/// The frame contents of the torn-read stress: every byte, the length and the header fields are functions of `seq`,
/// so a reader can check an accepted frame completely without any other information.
enum StressPattern {
    /// Payload length of frame `seq`: `maxLength` minus 0…7 cache lines.
    static func length(seq: UInt64, maxLength: Int) -> Int {
        max(0, maxLength - Int(seq % 8) * 64)
    }

    /// The 64-bit word at index `word` of frame `seq`.
    @inline(__always)
    static func word(seq: UInt64, index: Int) -> UInt64 {
        (seq &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(truncatingIfNeeded: index) &* 0xBF58_476D_1CE4_E5B9)
    }

    /// Fills `buffer` (a multiple of 8 bytes) with frame `seq`.
    static func fill(_ buffer: UnsafeMutableRawBufferPointer, seq: UInt64) {
        let words = buffer.count / 8
        let base = buffer.baseAddress!
        for index in 0..<words {
            base.storeBytes(of: word(seq: seq, index: index), toByteOffset: index * 8, as: UInt64.self)
        }
    }

    /// Whether `buffer` holds exactly frame `seq`.
    static func matches(_ buffer: UnsafeRawBufferPointer, seq: UInt64) -> Bool {
        let words = buffer.count / 8
        guard let base = buffer.baseAddress else { return words == 0 }
        var difference: UInt64 = 0
        for index in 0..<words {
            difference |= base.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) ^ word(seq: seq, index: index)
        }
        return difference == 0
    }

    /// Timestamp written for frame `seq`.
    static func timestamp(seq: UInt64) -> UInt64 { seq ^ 0x5A5A_5A5A_0000_0000 }

    /// Metadata version written for frame `seq`.
    static func metaVersion(seq: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: seq &* 2_654_435_761) }

    /// Tensor of frame `seq`: `length / 8` UINT64 elements in a 1-D row-major tensor.
    static func tensor(length: Int) -> TensorDescriptor {
        TensorDescriptor(
            unvalidated: .uint64, majorOrder: .row, ndims: 1, dims: DimensionArray([Int32(length / 8)]),
            strides: DimensionArray(), progressUnit: .noneValue, progressStrideBytes: 0)
    }
}

/// A shared 8-byte cursor file: the writer stores the last committed sequence + 1 with release, the reader loads it
/// with acquire. It plays the role of the FrameDescriptor stream in the stress test.
final class Cursor {
    let region: MappedRegion
    let atomic: UnsafeAtomic<UInt64>

    /// Creates the cursor file (writer).
    init(creating path: String) throws {
        region = try MappedRegion.create(path: path, size: 64)
        atomic = UnsafeAtomic(at: region.base.assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }

    /// Maps an existing cursor file read-only (reader).
    init(mapping path: String, policy: PathPolicy) throws {
        let file = try policy.openForMapping(RegionURI(path: path), writable: false)
        defer { file.close() }
        region = try MappedRegion.map(file, length: 64, writable: false)
        atomic = UnsafeAtomic(at: region.base.assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }

    func publish(_ value: UInt64) { atomic.store(value, ordering: .releasing) }
    func load() -> UInt64 { atomic.load(ordering: .acquiring) }
}

enum StressError: Error, CustomStringConvertible {
    case message(String)
    var description: String {
        switch self {
        case .message(let text): text
        }
    }
}

/// Result line of a stress reader, printed as JSON.
struct ReaderReport: Codable {
    var seconds: Double
    var reads: UInt64
    var accepted: UInt64
    var acceptedInPlace: UInt64
    var corrupt: UInt64
    var dropsLate: UInt64
    var dropsGap: UInt64
    var dropsInvalid: UInt64
    var overwrittenAfterAccept: UInt64
    var changedDuringRead: UInt64
    var sequenceMismatch: UInt64
    var notCommitted: UInt64
}

/// Result line of a stress writer, printed as JSON.
struct WriterReport: Codable {
    var seconds: Double
    var frames: UInt64
    var bytesPerSecond: Double
}

enum StressRunner {
    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// CLOCK_MONOTONIC in nanoseconds: the clock of superblock timestamps and freshness checks.
    static func nanos() -> UInt64 { clockNanos(CLOCK_MONOTONIC) }

    /// CLOCK_REALTIME in nanoseconds: only the epoch, so that a run never reuses an earlier run's.
    static func epochNanos() -> UInt64 { clockNanos(CLOCK_REALTIME) }

    static func clockNanos(_ clock: clockid_t) -> UInt64 {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Creates the regions under `directory`, writes the announce as JSON to `directory/announce.json`, then
    /// overwrites the ring at full speed for `seconds`, or until `stopFile` exists when one is given (checked every
    /// 1024 frames; `seconds` is then only an upper bound).
    static func writer(
        directory: String, nslots: UInt32, payload: Int, seconds: Double, stopFile: String? = nil
    ) throws -> WriterReport {
        let layout = try ShmPathLayout(baseDirectory: directory, namespace: "stress")
        let stride = UInt32(max(64, 1 << (Int.bitWidth - (payload - 1).leadingZeroBitCount)))
        let epoch = max(1, epochNanos())
        let regions = try StreamRegions.create(
            layout: layout, streamId: 10_000, epoch: epoch, headerNslots: nslots,
            pools: [PoolSpec(poolId: 1, strideBytes: stride)], nowNs: nanos())
        defer {
            regions.unmap()
            try? regions.unlinkFiles()
        }
        let cursor = try Cursor(creating: directory + "/cursor")
        let announce = try JSONEncoder().encode(regions.announce)
        let temporary = directory + "/announce.json.tmp"
        try announce.write(to: URL(fileURLWithPath: temporary))
        rename(temporary, directory + "/announce.json")
        let writer = FrameWriter(regions: regions)
        let start = now()
        var seq: UInt64 = 0
        var bytes = 0
        while true {
            if seq & 1023 == 0 {
                if now() - start >= seconds { break }
                if let stopFile, access(stopFile, F_OK) == 0 { break }
                writer.refreshActivity(nowNs: nanos())
            }
            let length = StressPattern.length(seq: seq, maxLength: payload)
            let claim = try writer.claim(seq: seq, length: length)
            StressPattern.fill(claim.payload, seq: seq)
            try writer.commit(
                claim, tensor: StressPattern.tensor(length: length), timestampNs: StressPattern.timestamp(seq: seq),
                metaVersion: StressPattern.metaVersion(seq: seq))
            cursor.publish(seq + 1)
            bytes += length
            seq += 1
        }
        let elapsed = now() - start
        return WriterReport(seconds: elapsed, frames: seq, bytesPerSecond: Double(bytes) / elapsed)
    }

    /// Maps the writer's regions and reads as fast as it can for `seconds`, alternating copy and in-place reads and
    /// lagging behind the writer by 0…nslots-1 frames to provoke overwrites; checks every accepted frame byte for byte.
    ///
    /// With `skipRecheck` (a negative control) in-place frames are used after the writer has lapped the ring and
    /// trusted without the final `seq_commit` re-check,
    /// which is exactly the mistake the seqlock protocol exists to prevent: such a run is expected to count corrupt
    /// frames, and stops after 10.
    ///
    /// With `untilRaced` the reader does not stop after `seconds` until the run has shown what it exists to show
    /// (see ``raced(_:_:skipRecheck:)``), at most `maxSeconds`; it then needs a writer that runs until told to stop
    /// (`stopFile`), and the control waits for each lap as long as that. A slow or busy machine then only makes the
    /// run longer, never weaker.
    static func reader(
        directory: String, payload: Int, seconds: Double, maxReads: UInt64, skipRecheck: Bool = false,
        untilRaced: Bool = false, maxSeconds: Double = 60
    ) throws -> ReaderReport {
        let announcePath = directory + "/announce.json"
        let deadline = now() + 60
        while access(announcePath, F_OK) != 0 {
            guard now() < deadline else { throw StressError.message("no announce at \(announcePath)") }
            usleep(1000)
        }
        let announce = try JSONDecoder().decode(
            RegionAnnounce.self, from: Data(contentsOf: URL(fileURLWithPath: announcePath)))
        let policy = try PathPolicy(allowedBaseDirectories: [directory])
        let mapping = ConsumerMapping(policy: policy, freshnessWindowNs: 10_000_000_000)
        if case .rejected(let error) = mapping.handle(announce, nowNs: nanos()) {
            throw StressError.message("mapping rejected: \(error)")
        }
        guard let reader = mapping.reader else { throw StressError.message("not mapped") }
        let cursor = try Cursor(mapping: directory + "/cursor", policy: policy)
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: payload, alignment: 64)
        defer { copy.deallocate() }
        var report = ReaderReport(
            seconds: 0, reads: 0, accepted: 0, acceptedInPlace: 0, corrupt: 0, dropsLate: 0, dropsGap: 0,
            dropsInvalid: 0, overwrittenAfterAccept: 0, changedDuringRead: 0, sequenceMismatch: 0, notCommitted: 0)
        let nslots = UInt64(announce.headerNslots)
        var next: UInt64 = 0
        var random = SystemRandomNumberGenerator()
        let start = now()
        let hardStop = start + (untilRaced ? max(seconds, maxSeconds) : seconds)
        var iterations: UInt64 = 0
        while report.reads < maxReads {
            iterations &+= 1
            if iterations & 255 == 0 {
                let time = now()
                if time >= hardStop { break }
                if time - start >= seconds && (!untilRaced || raced(report, reader, skipRecheck: skipRecheck)) { break }
            }
            let published = cursor.load()
            guard published > 0 else { continue }
            let latest = published - 1
            // The negative control always reads the oldest slot, the next one the writer overwrites.
            let lag = skipRecheck ? nslots - 1 : UInt64.random(in: 0..<nslots, using: &random)
            let target = max(next, latest >= lag ? latest - lag : 0)
            guard target <= latest else { continue }
            next = target + 1
            report.reads += 1
            let inPlace = skipRecheck || report.reads & 1 == 0
            let result =
                inPlace
                ? reader.read(seq: target, epoch: announce.epoch)
                : reader.readCopy(seq: target, epoch: announce.epoch, into: copy)
            guard case .frame(let frame) = result else { continue }
            if skipRecheck {
                // The control uses the frame the way a careless consumer would, late: after the writer has lapped
                // the ring. Only the final re-check (skipped here) can tell that the bytes are no longer the frame's.
                let lapped = untilRaced ? hardStop : now() + 1
                while cursor.load() <= target &+ nslots && now() < lapped {}
            }
            let expectedLength = StressPattern.length(seq: target, maxLength: payload)
            var good =
                frame.payload.count == expectedLength && frame.timestampNs == StressPattern.timestamp(seq: target)
                && frame.metaVersion == StressPattern.metaVersion(seq: target)
                && frame.tensor.dims[0] == Int32(expectedLength / 8)
            good = good && StressPattern.matches(frame.payload, seq: target)
            if inPlace {
                // In place, the bytes count only if the slot was still committed after they were checked.
                guard skipRecheck || reader.isStillValid(frame) else { continue }
                report.acceptedInPlace += 1
            }
            report.accepted += 1
            if !good {
                report.corrupt += 1
                if skipRecheck && report.corrupt >= 10 { break }  // the control has made its point
            }
        }
        report.seconds = now() - start
        let counters = reader.counters
        report.dropsLate = counters.dropsLate
        report.dropsGap = counters.dropsGap
        report.dropsInvalid = counters.dropsInvalid
        report.overwrittenAfterAccept = counters.overwrittenAfterAccept
        report.changedDuringRead = reader.drops(.changedDuringRead)
        report.sequenceMismatch = reader.drops(.sequenceMismatch)
        report.notCommitted = reader.drops(.notCommitted)
        return report
    }

    /// Whether a run has shown the race it exists to show: frames accepted, copied and in place; late drops; and
    /// slots overwritten while being read or after a zero-copy accept. For the negative control: 10 torn frames.
    static func raced(_ report: ReaderReport, _ reader: FrameReader, skipRecheck: Bool) -> Bool {
        if skipRecheck { return report.corrupt >= 10 }
        let counters = reader.counters
        return report.accepted > report.acceptedInPlace && report.acceptedInPlace > 0 && counters.dropsLate > 0
            && reader.drops(.changedDuringRead) + counters.overwrittenAfterAccept > 0
    }
}
