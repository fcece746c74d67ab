import Aeron
import Agents
import CAffinity
import DriverConfig
import Foundation
import Glibc
import Histogram
import Logging
import TensorPoolClient
import TensorPoolDriver
import TensorPoolSHM

/// `system-bench`: producer → consumer across two processes through the SHM driver, the way `make run` deploys it.
///
/// The parent hosts what `tp-driver --embedded-media-driver` would: an embedded media driver (shared mode, back-off
/// idle) and a `DriverAgent` on its own thread (one stream, `header_nslots` 64, one pool sized for the payload,
/// `prefault_shm = true`, a fresh base directory under /dev/shm removed at the end). Per payload size it re-launches
/// itself as `system-bench consume …` (pinned to the last CPU) and `system-bench produce …` (pinned to CPU 0); the
/// producer copies a prefilled buffer into each claimed slot and commits it flat out, stamping the slot's
/// `timestampNs` with CLOCK_MONOTONIC just before the commit; the consumer records now − timestampNs of every frame
/// it accepts (zero copy: it reads the first and last byte, then checks `isStillValid`) into an HdrHistogram. Then
/// `system-bench memcpy …` (pinned to CPU 0) copies the same buffer into a 64-slot shared ring for comparison.
///
/// Usage: `system-bench [--seconds S] [--sizes 64,4096,…] [--markdown]`
@main
struct SystemBench {
    struct Options {
        var seconds = 2.0
        var memcpySeconds = 0.5
        var sizes = [64, 4_096, 655_360, 4_194_304]
        var markdown = false
    }

    static let streamId: UInt32 = 10_000
    static let controlStreamId: Int32 = 1000
    static let announceStreamId: Int32 = 1001
    static let descriptorStreamId: Int32 = 1100

    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "produce": try produce(Array(arguments.dropFirst()))
        case "consume": try consume(Array(arguments.dropFirst()))
        case "memcpy": try memcpyRing(Array(arguments.dropFirst()))
        case "spin": spin(Array(arguments.dropFirst()))
        default: try parent(parse(arguments))
        }
    }

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--seconds": options.seconds = iterator.next().flatMap(Double.init) ?? options.seconds
            case "--memcpy-seconds":
                options.memcpySeconds = iterator.next().flatMap(Double.init) ?? options.memcpySeconds
            case "--sizes":
                options.sizes = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--markdown": options.markdown = true
            default:
                FileHandle.standardError.write(Data("system-bench: unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
        return options
    }

    // MARK: - Parent: media driver, SHM driver, children

    struct Row {
        var size: Int
        var producer: [String: String]
        var consumer: [String: String]
        var memcpyMiBs: Double
        var memcpyBusyPeerMiBs: Double
    }

    static func parent(_ options: Options) throws {
        let cpus = Int(tp_bench_cpu_count())
        print(
            "system-bench: producer → consumer in two processes through the SHM driver (Aeron \(MediaDriver.aeronVersion))"
        )
        print("  parent: embedded media driver (shared, back-off idle) + DriverAgent thread (back-off idle);")
        print("  header_nslots 64, one pool of 64 slots sized for the payload, prefault_shm = true, /dev/shm")
        print(
            "  producer pinned to CPU 0, consumer to CPU \(cpus - 1) (\(cpus) CPUs); producer flat out for \(options.seconds) s,"
        )
        print("  memcpy of a prefilled buffer into each slot; consumer zero copy (first + last byte, isStillValid);")
        print("  latency = consumer's CLOCK_MONOTONIC − slot timestampNs stamped just before commit")
        print(
            "  memcpy: same buffer into a 64-slot MAP_SHARED ring, \(options.memcpySeconds) s, pinned to CPU 0; alone, and"
        )
        print("  again while a peer process spins on CPU \(cpus - 1) (memcpy‖spin), as the polling consumer does")
        fflush(nil)
        var mediaConfiguration = MediaDriver.Configuration()
        mediaConfiguration.termBufferSparseFile = true
        let mediaDriver = try MediaDriver(mediaConfiguration)
        defer { mediaDriver.close() }
        let aeron = try AeronClient(context: AeronContext(directory: mediaDriver.directory))
        defer { aeron.close() }
        var rows: [Row] = []
        for size in options.sizes {
            let driver = try HostedDriver(aeron: aeron, payloadBytes: size)
            defer { driver.close() }
            let common = [mediaDriver.directory, driver.baseDirectory, String(size)]
            let consumer = try Child(["consume"] + common + [String(options.seconds + 10)], cpu: cpus - 1)
            guard consumer.waitFor("ready") else { throw BenchError("consumer did not attach (\(size) B)") }
            let producer = try Child(["produce"] + common + [String(options.seconds)], cpu: 0)
            let producerFields = try producer.finish()
            let consumerFields = try consumer.finish()
            let memcpyFields = try Child(["memcpy", String(size), String(options.memcpySeconds)], cpu: 0).finish()
            // The same, while a peer spins on the consumer's CPU as the polling consumer does during the run.
            let spinner = try Child(["spin", String(options.memcpySeconds + 1)], cpu: cpus - 1)
            usleep(100_000)
            let busyFields = try Child(["memcpy", String(size), String(options.memcpySeconds)], cpu: 0).finish()
            _ = try spinner.finish()
            let row = Row(
                size: size, producer: producerFields, consumer: consumerFields,
                memcpyMiBs: Double(memcpyFields["mibs"] ?? "") ?? .nan,
                memcpyBusyPeerMiBs: Double(busyFields["mibs"] ?? "") ?? .nan)
            if ProcessInfo.processInfo.environment["SYSTEM_VERBOSE"] != nil {
                print(
                    "  \(size) B: producer \(producerFields) consumer \(consumerFields) memcpy \(memcpyFields) "
                        + "memcpy with spinning peer \(busyFields)")
            }
            rows.append(row)
        }
        print(table(rows, markdown: options.markdown))
        if let row = rows.first(where: { $0.size == 655_360 }) {
            let publish = publishMiBs(row)
            print(
                String(
                    format:
                        "640 KiB: publish %.0f MiB/s ÷ memcpy %.0f MiB/s = %.2f (÷ memcpy with a spinning peer %.0f MiB/s = %.2f)",
                    publish, row.memcpyMiBs, publish / row.memcpyMiBs, row.memcpyBusyPeerMiBs,
                    publish / row.memcpyBusyPeerMiBs))
        }
    }

    static func publishMiBs(_ row: Row) -> Double {
        let frames = Double(row.producer["frames"] ?? "") ?? .nan
        let elapsed = Double(row.producer["elapsed_ns"] ?? "") ?? .nan
        return frames * Double(row.size) / (elapsed / 1e9) / 1_048_576
    }

    static func label(_ size: Int) -> String {
        size >= 1 << 20 ? "\(size >> 20) MiB" : size >= 1 << 10 ? "\(size >> 10) KiB" : "\(size) B"
    }

    static func table(_ rows: [Row], markdown: Bool) -> String {
        let header = [
            "payload", "publish fps", "publish MiB/s", "consume fps", "consume MiB/s", "drops gap/late",
            "not sent", "latency p50", "p99", "p99.9", "memcpy MiB/s", "publish/memcpy", "memcpy‖spin MiB/s",
            "publish/memcpy‖spin",
        ]
        func micros(_ value: String?) -> String {
            guard let nanos = value.flatMap(Double.init) else { return "-" }
            return nanos < 10_000 ? String(format: "%.1f µs", nanos / 1000) : String(format: "%.0f µs", nanos / 1000)
        }
        let body: [[String]] = rows.map { row in
            let frames = Double(row.producer["frames"] ?? "") ?? .nan
            let elapsed = (Double(row.producer["elapsed_ns"] ?? "") ?? .nan) / 1e9
            let consumed = Double(row.consumer["frames"] ?? "") ?? .nan
            let consumeElapsed = (Double(row.consumer["elapsed_ns"] ?? "") ?? .nan) / 1e9
            let publish = publishMiBs(row)
            return [
                label(row.size), String(format: "%.0f", frames / elapsed), String(format: "%.0f", publish),
                String(format: "%.0f", consumed / consumeElapsed),
                String(format: "%.0f", consumed * Double(row.size) / consumeElapsed / 1_048_576),
                "\(row.consumer["gap"] ?? "-")/\(row.consumer["late"] ?? "-")", row.producer["not_sent"] ?? "-",
                micros(row.consumer["p50_ns"]), micros(row.consumer["p99_ns"]), micros(row.consumer["p999_ns"]),
                String(format: "%.0f", row.memcpyMiBs), String(format: "%.2f", publish / row.memcpyMiBs),
                String(format: "%.0f", row.memcpyBusyPeerMiBs),
                String(format: "%.2f", publish / row.memcpyBusyPeerMiBs),
            ]
        }
        let all = [header] + body
        if markdown {
            return all.enumerated().map { index, row in
                "| " + row.joined(separator: " | ") + " |"
                    + (index == 0 ? "\n|---|" + String(repeating: "---:|", count: row.count - 1) : "")
            }.joined(separator: "\n")
        }
        let widths = (0..<header.count).map { column in all.map { $0[column].count }.max()! }
        return all.map { row in
            row.enumerated().map { column, text in text + String(repeating: " ", count: widths[column] - text.count) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    // MARK: - Children

    static func context(aeronDirectory: String, baseDirectory: String) -> (TensorPoolContext, AeronContext) {
        var context = TensorPoolContext()
        context.controlStreamId = controlStreamId
        context.announceStreamId = announceStreamId
        context.descriptorStreamId = descriptorStreamId
        context.allowedBaseDirectories = [baseDirectory]
        return (context, AeronContext(directory: aeronDirectory))
    }

    static func pinFromEnvironment() {
        if let cpu = ProcessInfo.processInfo.environment["SYSTEM_BENCH_CPU"].flatMap(Int32.init) {
            _ = tp_bench_pin(cpu, cpu)
        }
    }

    /// `produce <aeron-dir> <base-dir> <size> <seconds>`: publishes flat out, prints one `key=value` line.
    static func produce(_ arguments: [String]) throws {
        guard arguments.count == 4, let size = Int(arguments[2]), let seconds = Double(arguments[3]) else {
            throw BenchError("bad produce arguments \(arguments)")
        }
        pinFromEnvironment()
        let (context, aeronContext) = Self.context(aeronDirectory: arguments[0], baseDirectory: arguments[1])
        let client = try TensorPoolClient(context: context, aeron: try AeronClient(context: aeronContext))
        let producer = try client.attachProducer(streamId: streamId)
        let tensor = try TensorDescriptor(dtype: .uint8, shape: [size])
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { source.deallocate() }
        for index in 0..<size { source[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
        let connectBy = monotonicNanos() + 5_000_000_000
        while !producer.hasSubscribers && monotonicNanos() < connectBy {
            client.doWork()
            usleep(1_000)
        }
        let durationNs = UInt64(seconds * 1e9)
        let start = monotonicNanos()
        var now = start
        var frames: UInt64 = 0
        while now &- start < durationNs && producer.isActive {
            // The client's duty cycle (keepalives, counters) every 64 frames, as a real producer's agent would.
            if frames & 63 == 0 { client.doWork() }
            let claim = try producer.tryClaim(length: size)
            memcpy(claim.payload.baseAddress!, source.baseAddress!, size)
            now = monotonicNanos()
            _ = try producer.commit(claim, tensor: tensor, timestampNs: now)
            frames &+= 1
        }
        let elapsed = monotonicNanos() &- start
        print(
            "frames=\(frames) elapsed_ns=\(elapsed) published=\(producer.framesPublished) not_sent=\(producer.descriptorsNotSent)"
        )
        fflush(nil)
        producer.close()
        client.aeron.close()
    }

    struct LatencyRecorder: FrameHandling {
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        var frames: UInt64 = 0
        var overwritten: UInt64 = 0
        var checksum: UInt64 = 0
        var firstNs: UInt64 = 0
        var lastNs: UInt64 = 0

        mutating func onFrame(_ frame: FrameView, consumer: Consumer) {
            let now = monotonicNanos()
            let payload = frame.payload
            if !payload.isEmpty { checksum &+= UInt64(payload[0]) &+ UInt64(payload[payload.count - 1]) }
            guard consumer.isStillValid(frame) else {
                overwritten &+= 1
                return
            }
            if frames == 0 { firstNs = now }
            lastNs = now
            frames &+= 1
            _ = histogram.record(now >= frame.timestampNs ? now - frame.timestampNs : 0)
        }
    }

    /// `consume <aeron-dir> <base-dir> <size> <max-seconds>`: prints `ready`, receives until 500 ms pass without a
    /// frame (after the first), prints one `key=value` line.
    static func consume(_ arguments: [String]) throws {
        guard arguments.count == 4, let maxSeconds = Double(arguments[3]) else {
            throw BenchError("bad consume arguments \(arguments)")
        }
        pinFromEnvironment()
        let (context, aeronContext) = Self.context(aeronDirectory: arguments[0], baseDirectory: arguments[1])
        let client = try TensorPoolClient(context: context, aeron: try AeronClient(context: aeronContext))
        let consumer = try client.attachConsumer(streamId: streamId)
        print("ready")
        fflush(nil)
        var recorder = LatencyRecorder()
        let deadline = monotonicNanos() + UInt64(maxSeconds * 1e9)
        var lastWork = monotonicNanos()
        var polls: UInt64 = 0
        while consumer.isActive {
            polls &+= 1
            if polls & 63 == 0 { client.doWork() }
            if consumer.poll(into: &recorder, fragmentLimit: 64) > 0 {
                lastWork = monotonicNanos()
            } else if polls & 1023 == 0 {
                let now = monotonicNanos()
                if now > deadline || (recorder.frames > 0 && now &- lastWork > 500_000_000) { break }
            }
        }
        let counters = consumer.counters
        let h = recorder.histogram
        print(
            "frames=\(recorder.frames) elapsed_ns=\(recorder.lastNs &- recorder.firstNs) gap=\(counters.dropsGap) "
                + "late=\(counters.dropsLate) overwritten=\(recorder.overwritten) p50_ns=\(h.valueAtPercentile(50)) "
                + "p99_ns=\(h.valueAtPercentile(99)) p999_ns=\(h.valueAtPercentile(99.9)) max_ns=\(h.max) "
                + "checksum=\(recorder.checksum)")
        fflush(nil)
        consumer.close()
        client.aeron.close()
    }

    /// `spin <seconds>`: a busy loop reading the clock, standing in for the polling consumer on its CPU.
    static func spin(_ arguments: [String]) {
        pinFromEnvironment()
        let end = monotonicNanos() + UInt64((arguments.first.flatMap(Double.init) ?? 1) * 1e9)
        while monotonicNanos() < end {}
        print("spun=1")
    }

    /// `memcpy <size> <seconds>`: the prefilled buffer into a 64-slot MAP_SHARED ring (prefaulted), flat out.
    static func memcpyRing(_ arguments: [String]) throws {
        guard arguments.count == 2, let size = Int(arguments[0]), let seconds = Double(arguments[1]) else {
            throw BenchError("bad memcpy arguments \(arguments)")
        }
        pinFromEnvironment()
        let slots = 64
        let stride = max(64, (size + 63) & ~63)
        guard
            let ring = mmap(nil, stride * slots, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
            ring != MAP_FAILED
        else { throw BenchError("mmap failed: errno \(errno)") }
        defer { munmap(ring, stride * slots) }
        memset(ring, 0, stride * slots)
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        defer { source.deallocate() }
        for index in 0..<size { source[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
        let durationNs = UInt64(seconds * 1e9)
        let start = monotonicNanos()
        var copies: UInt64 = 0
        var elapsed: UInt64 = 0
        repeat {
            for _ in 0..<64 {
                memcpy(ring + Int(copies % UInt64(slots)) * stride, source.baseAddress!, size)
                copies &+= 1
            }
            elapsed = monotonicNanos() &- start
        } while elapsed < durationNs
        let mibs = Double(copies) * Double(size) / (Double(elapsed) / 1e9) / 1_048_576
        print("copies=\(copies) elapsed_ns=\(elapsed) mibs=\(mibs)")
    }
}

// MARK: - Support

/// One child process: this executable with `arguments`, pinned to `cpu`, its stdout read line by line.
final class Child {
    let process = Process()
    let pipe = Pipe()
    var buffered = Data()

    init(_ arguments: [String], cpu: Int) throws {
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["SYSTEM_BENCH_CPU": String(cpu)]) { $1 }
        process.standardOutput = pipe
        try process.run()
    }

    /// Reads stdout until a line equal to `line` (or end of file).
    func waitFor(_ line: String) -> Bool {
        let handle = pipe.fileHandleForReading
        while true {
            if let range = buffered.firstRange(of: Data("\(line)\n".utf8)) {
                buffered.removeSubrange(buffered.startIndex..<range.upperBound)
                return true
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return false }
            buffered.append(chunk)
        }
    }

    /// Waits for the exit and parses the last `key=value` line.
    func finish() throws -> [String: String] {
        buffered.append(pipe.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("child \(process.arguments ?? []) exited with \(process.terminationStatus)")
        }
        let lines = String(decoding: buffered, as: UTF8.self).split(separator: "\n")
        var fields: [String: String] = [:]
        for pair in (lines.last ?? "").split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        return fields
    }
}

/// The `tp-driver` of one payload size: a `DriverAgent` on its own thread over the parent's Aeron client, with a
/// fresh base directory under /dev/shm that ``close()`` removes.
final class HostedDriver {
    let baseDirectory: String
    private var closeRunner: (() -> DriverCore)?

    /// The smallest valid stride (64 × a power of two) that holds `bytes`.
    static func stride(for bytes: Int) -> Int {
        var stride = 64
        while stride < bytes { stride <<= 1 }
        return stride
    }

    init(aeron: AeronClient, payloadBytes: Int) throws {
        var template = Array("/dev/shm/tp-system-bench-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("mkdtemp under /dev/shm failed: errno \(errno)")
        }
        baseDirectory = String(cString: made)
        let toml = """
            [driver]
            instance_id = "system-bench"
            control_stream_id = \(SystemBench.controlStreamId)
            announce_stream_id = \(SystemBench.announceStreamId)
            [shm]
            base_dir = "\(baseDirectory)"
            [policies]
            prefault_shm = true
            announce_period_ms = 1000
            cleanup_shm_on_exit = true
            [profiles.bench]
            header_nslots = 64
            payload_pools = [ { pool_id = 1, stride_bytes = \(Self.stride(for: payloadBytes)) } ]
            [streams.bench]
            stream_id = \(SystemBench.streamId)
            profile = "bench"
            """
        let configuration = try DriverConfiguration.parse(toml)
        var logger = Logger(label: "system-bench")
        logger.logLevel = .warning
        let agent = try DriverAgent(configuration: configuration, client: aeron, logger: logger)
        closeRunner = Self.start(agent)
    }

    private static func start(_ agent: sending DriverAgent) -> () -> DriverCore {
        let runner = AgentRunner(
            agent: agent, idleStrategy: BackoffIdleStrategy(), errorHandler: AgentErrorHandlers.standardError)
        runner.start()
        return {
            _ = runner.close(timeout: .seconds(5))
            return runner.agent.core
        }
    }

    func close() {
        if let closeRunner {
            closeRunner().close(unlinkFiles: true)
            self.closeRunner = nil
        }
        try? FileManager.default.removeItem(atPath: baseDirectory)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@inline(__always)
func monotonicNanos() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
}
