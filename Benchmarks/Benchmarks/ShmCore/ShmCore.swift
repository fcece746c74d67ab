import Benchmark
import Glibc
import ShmBenchSupport
import TensorPoolSHM

/// The SHM data plane's hot paths with malloc counts, at 256 B, 64 KiB, 640 KiB and 4 MiB frames in a ring of 8
/// slots under /dev/shm (one fresh directory per benchmark, removed in teardown):
///
/// - `claim+commit`: the zero-copy producer path without writing the payload (seqlock + slot header only);
/// - `publish`: the copy path (claim, copy from a private buffer, commit);
/// - `read`: the producer's claim+commit of the frame, then the consumer's zero-copy read and `isStillValid`;
/// - `readCopy`: the producer's claim+commit of the frame, then the consumer's copy into a private buffer;
/// - `memcpy into slots`: the same bytes copied by `memcpy` into the same sequence of pool slots (the copy path's
///   physical limit), and `memcpy from slots`, the same for the consumer's copy.
///
/// Every iteration writes a new, strictly increasing sequence and the reader reads exactly the frame just written.
/// Everything is set up before the measured loop; the expected malloc count is 0.
let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]

    for length in shmBenchSizes {
        // Samples long enough to time: 1000 frames per sample, except copies of 640 KiB and more (one frame each).
        let header = Benchmark.Configuration(
            metrics: metrics, warmupIterations: 100, scalingFactor: .kilo, maxDuration: .seconds(2))
        let copy = Benchmark.Configuration(
            metrics: metrics, warmupIterations: length >= 4 << 20 ? 50 : 100,
            scalingFactor: length <= 64 << 10 ? .kilo : .one, maxDuration: .seconds(2), maxIterations: 100_000)
        let size = sizeLabel(length)

        let claimRing = RingHolder()
        Benchmark("SHM claim+commit \(size)", configuration: header) { benchmark, ring in
            let writer = ring.writer
            let tensor = ring.tensor
            var seq = ring.nextSeq
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let claim = try writer.claim(seq: seq, length: length)
                try writer.commit(claim, tensor: tensor, timestampNs: seq, metaVersion: 0)
                seq &+= 1
            }
            benchmark.stopMeasurement()
            ring.nextSeq = seq
        } setup: {
            try claimRing.open(length: length, label: "claim")
        } teardown: {
            claimRing.close()
        }

        let publishRing = RingHolder()
        Benchmark("SHM publish (copy) \(size)", configuration: copy) { benchmark, ring in
            let writer = ring.writer
            let tensor = ring.tensor
            let payload = UnsafeRawBufferPointer(ring.source)
            var seq = ring.nextSeq
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                try writer.publish(seq: seq, payload: payload, tensor: tensor, timestampNs: seq, metaVersion: 0)
                seq &+= 1
            }
            benchmark.stopMeasurement()
            ring.nextSeq = seq
        } setup: {
            try publishRing.open(length: length, label: "publish")
        } teardown: {
            publishRing.close()
        }

        let readRing = RingHolder()
        Benchmark("SHM claim+commit+read+isStillValid \(size)", configuration: header) { benchmark, ring in
            let writer = ring.writer
            let reader = ring.reader
            let tensor = ring.tensor
            let epoch = ring.epoch
            var seq = ring.nextSeq
            var bytes = 0
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let claim = try writer.claim(seq: seq, length: length)
                try writer.commit(claim, tensor: tensor, timestampNs: seq, metaVersion: 0)
                guard case .frame(let frame) = reader.read(seq: seq, epoch: epoch), reader.isStillValid(frame) else {
                    fatalError("frame \(seq) dropped")
                }
                bytes &+= frame.payload.count
                seq &+= 1
            }
            benchmark.stopMeasurement()
            ring.nextSeq = seq
            blackHole(bytes)
        } setup: {
            try readRing.open(length: length, label: "read")
        } teardown: {
            readRing.close()
        }

        let copyRing = RingHolder()
        Benchmark("SHM claim+commit+readCopy \(size)", configuration: copy) { benchmark, ring in
            let writer = ring.writer
            let reader = ring.reader
            let tensor = ring.tensor
            let epoch = ring.epoch
            let destination = ring.destination
            var seq = ring.nextSeq
            var bytes = 0
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                let claim = try writer.claim(seq: seq, length: length)
                try writer.commit(claim, tensor: tensor, timestampNs: seq, metaVersion: 0)
                guard case .frame(let frame) = reader.readCopy(seq: seq, epoch: epoch, into: destination) else {
                    fatalError("frame \(seq) dropped")
                }
                bytes &+= frame.payload.count
                seq &+= 1
            }
            benchmark.stopMeasurement()
            ring.nextSeq = seq
            blackHole(bytes)
        } setup: {
            try copyRing.open(length: length, label: "readcopy")
        } teardown: {
            copyRing.close()
        }

        let memcpyRing = RingHolder()
        Benchmark("memcpy into slots \(size)", configuration: copy) { benchmark, ring in
            let source = ring.source.baseAddress!
            var seq = ring.nextSeq
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                memcpy(ring.slot(seq), source, length)
                seq &+= 1
            }
            benchmark.stopMeasurement()
            ring.nextSeq = seq
        } setup: {
            try memcpyRing.open(length: length, label: "memcpy")
        } teardown: {
            memcpyRing.close()
        }

        let memcpyOutRing = RingHolder()
        Benchmark("memcpy from slots \(size)", configuration: copy) { benchmark, ring in
            let destination = ring.destination.baseAddress!
            var seq = ring.nextSeq
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                memcpy(destination, ring.slot(seq), length)
                seq &+= 1
            }
            benchmark.stopMeasurement()
            ring.nextSeq = seq
        } setup: {
            try memcpyOutRing.open(length: length, label: "memcpy-out")
        } teardown: {
            memcpyOutRing.close()
        }
    }
}

/// Holds a benchmark's ring between setup and teardown (ordo-one's teardown does not receive the setup state).
final class RingHolder: @unchecked Sendable {
    private var ring: ShmBenchRing?

    func open(length: Int, label: String) throws -> ShmBenchRing {
        ring?.close()
        let opened = try ShmBenchRing(length: length, label: "shmcore-\(label)")
        ring = opened
        return opened
    }

    func close() {
        ring?.close()
        ring = nil
    }
}
