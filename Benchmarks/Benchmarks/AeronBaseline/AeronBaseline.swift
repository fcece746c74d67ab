import Aeron
import Benchmark

/// Hot-path benchmarks of the Swift Aeron wrapper with malloc counting: offer, tryClaim and poll must allocate
/// nothing per message. Run with `make bench` (or `swift package benchmark` in this folder).
let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal, .instructions]
    let configuration = Benchmark.Configuration(
        metrics: metrics, warmupIterations: 1_000, scalingFactor: .kilo, maxDuration: .seconds(2))

    for length in [32, 256, 1024] {
        Benchmark("IPC offer+poll \(length) B", configuration: configuration) { benchmark, stream in
            let message = [UInt8](repeating: 0x5A, count: length)
            var received = 0
            benchmark.startMeasurement()
            message.withUnsafeBytes { bytes in
                for _ in benchmark.scaledIterations {
                    while !stream.publication.offer(bytes).isSuccess {
                        received &+= stream.subscription.poll(into: &stream.sink, fragmentLimit: 256)
                    }
                    received &+= stream.subscription.poll(into: &stream.sink, fragmentLimit: 1)
                }
            }
            benchmark.stopMeasurement()
            blackHole(received)
        } setup: {
            try BenchStream(streamId: Int32(3000 + length))
        }
    }

    Benchmark("IPC tryClaim+commit+poll 256 B", configuration: configuration) { benchmark, stream in
        var claim = BufferClaim()
        var received = 0
        benchmark.startMeasurement()
        for iteration in benchmark.scaledIterations {
            while !stream.publication.tryClaim(length: 256, into: &claim).isSuccess {
                received &+= stream.subscription.poll(into: &stream.sink, fragmentLimit: 256)
            }
            claim.buffer.storeBytes(of: iteration, toByteOffset: 0, as: Int.self)
            claim.commit()
            received &+= stream.subscription.poll(into: &stream.sink, fragmentLimit: 1)
        }
        benchmark.stopMeasurement()
        blackHole(received)
    } setup: {
        try BenchStream(streamId: 3400)
    }

    Benchmark("IPC offer+assembled poll 256 B", configuration: configuration) { benchmark, stream in
        let message = [UInt8](repeating: 0x5A, count: 256)
        var received = 0
        benchmark.startMeasurement()
        message.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                while !stream.publication.offer(bytes).isSuccess {
                    received &+= stream.subscription.poll(
                        assembler: stream.assembler, into: &stream.sink, fragmentLimit: 256)
                }
                received &+= stream.subscription.poll(assembler: stream.assembler, into: &stream.sink, fragmentLimit: 1)
            }
        }
        benchmark.stopMeasurement()
        blackHole(received)
    } setup: {
        try BenchStream(streamId: 3500)
    }

    Benchmark("IPC poll with nothing to read", configuration: configuration) { benchmark, stream in
        var received = 0
        for _ in benchmark.scaledIterations {
            received &+= stream.subscription.poll(into: &stream.sink, fragmentLimit: 10)
        }
        blackHole(received)
    } setup: {
        try BenchStream(streamId: 3700)
    }

    // The closure convenience, for comparison: a capturing closure pays Swift's escape check (one allocation).
    Benchmark("IPC poll with nothing to read, capturing closure", configuration: configuration) { benchmark, stream in
        var received = 0
        for _ in benchmark.scaledIterations {
            received &+= stream.subscription.poll(fragmentLimit: 10) { buffer, _ in received &+= buffer.count }
        }
        blackHole(received)
    } setup: {
        try BenchStream(streamId: 3750)
    }

    Benchmark("offer without a subscriber 32 B", configuration: configuration) { benchmark, stream in
        let message = [UInt8](repeating: 0x5A, count: 32)
        var notConnected = 0
        message.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations where stream.publication.offer(bytes) == .notConnected {
                notConnected &+= 1
            }
        }
        blackHole(notConnected)
    } setup: {
        try BenchStream(streamId: 3800, subscribed: false)
    }

    Benchmark("Counter increment", configuration: configuration) { benchmark, stream in
        for _ in benchmark.scaledIterations {
            stream.counter.increment()
        }
    } setup: {
        try BenchStream(streamId: 3600)
    }
}

/// One embedded driver for the whole benchmark process.
let sharedDriver: MediaDriver = {
    var configuration = MediaDriver.Configuration()
    configuration.termBufferLength = 4 << 20
    configuration.ipcTermBufferLength = 4 << 20
    return try! MediaDriver(configuration)
}()

/// A connected IPC publication and subscription on one stream, with a client of the shared driver.
final class BenchStream: @unchecked Sendable {
    let client: AeronClient
    let publication: ExclusivePublication
    let subscription: Subscription
    let assembler: FragmentAssembler
    let counter: Counter
    var sink = Sink()

    init(streamId: Int32, subscribed: Bool = true) throws {
        client = try AeronClient(context: AeronContext(directory: sharedDriver.directory))
        // Without a subscriber, subscribe to another stream so the publication stays unconnected.
        subscription = try client.addSubscription(channel: "aeron:ipc", streamId: subscribed ? streamId : streamId + 1)
        publication = try client.addExclusivePublication(channel: "aeron:ipc", streamId: streamId)
        assembler = try FragmentAssembler()
        counter = try client.addCounter(typeId: 1001, label: "bench-\(streamId)")
        while subscribed && !(publication.isConnected && subscription.isConnected) {}
    }

    deinit { client.close() }
}

/// Consumes each fragment's length so the optimiser cannot drop the poll.
struct Sink: FragmentHandling {
    var bytes = 0
    mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) { bytes &+= buffer.count }
}
