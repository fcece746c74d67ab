import Benchmark
import SBE
import TensorPoolWire

/// Encode+decode of the hottest control messages through the generated codecs: must allocate nothing.
let benchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal], warmupIterations: 1_000, scalingFactor: .kilo,
        maxDuration: .seconds(2))

    Benchmark("FrameDescriptor encode+decode", configuration: configuration) { benchmark, buffer in
        var checksum: UInt64 = 0
        for iteration in benchmark.scaledIterations {
            let encoder = try WireSchema.FrameDescriptorEncoder.wrapAndApplyHeader(buffer.mutable)
            encoder.streamId = 10_000
            encoder.epoch = 42
            encoder.seq = UInt64(iteration)
            encoder.timestampNs = nil
            encoder.metaVersion = 3
            encoder.traceId = UInt64(iteration) | 1
            let decoder = try WireSchema.FrameDescriptorDecoder(decodingHeaderOf: buffer.readable)
            checksum &+= decoder.seq &+ (decoder.traceId ?? 0) &+ UInt64(decoder.metaVersion ?? 0)
        }
        blackHole(checksum)
    } setup: {
        BenchBuffer(capacity: 256)
    }

    Benchmark("ShmPoolAnnounce encode+decode (2 pools)", configuration: configuration) { benchmark, buffer in
        var checksum = 0
        for iteration in benchmark.scaledIterations {
            var encoder = try WireSchema.ShmPoolAnnounceEncoder.wrapAndApplyHeader(buffer.mutable)
            encoder.streamId = 10_000
            encoder.producerId = 1
            encoder.epoch = UInt64(iteration)
            encoder.announceTimestampNs = 1
            encoder.announceClockDomain = .monotonic
            encoder.layoutVersion = 1
            encoder.headerNslots = 64
            encoder.headerSlotBytes = 256
            try encoder.payloadPools(count: 2) { index, pool in
                pool.poolId = UInt16(index)
                pool.poolNslots = 64
                pool.strideBytes = 1 << 20
                try pool.regionUri(index == 0 ? "shm:file?path=/dev/shm/tp/0.pool" : "shm:file?path=/dev/shm/tp/1.pool")
            }
            try encoder.headerRegionUri("shm:file?path=/dev/shm/tp/header.ring")
            let decoder = try WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer.readable)
            var pools = decoder.payloadPools
            while pools.next() { checksum &+= Int(pools.strideBytes) &+ pools.regionUri.count }
            checksum &+= decoder.headerRegionUri.count
        }
        blackHole(checksum)
    } setup: {
        BenchBuffer(capacity: 512)
    }
}

/// A buffer allocated once in setup.
final class BenchBuffer: @unchecked Sendable {
    let mutable: UnsafeMutableRawBufferPointer
    var readable: UnsafeRawBufferPointer { UnsafeRawBufferPointer(mutable) }

    init(capacity: Int) {
        mutable = .allocate(byteCount: capacity, alignment: 8)
        mutable.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { mutable.deallocate() }
}
