import Aeron
import Agents
import CAffinity
import DriverConfig
import Foundation
import Glibc
import Logging
import TensorPoolDriver

/// `system-bench`: producer → consumer across two processes through the SHM driver, the way `make run` deploys it,
/// next to raw Aeron IPC between the same two CPUs in the same run.
///
/// The parent hosts what `tp-driver --embedded-media-driver` would: an embedded media driver (shared mode, back-off
/// idle, sparse term files) and a `DriverAgent` on its own thread (one stream, `header_nslots` 1024 for payloads up to
/// 64 KiB and 64 above unless `--header-slots` says otherwise, one pool of as many slots sized for the payload,
/// `prefault_shm = true`, a fresh base directory under /dev/shm removed at the end). Per payload size it re-launches
/// itself as child processes, receivers pinned to the last CPU and senders to CPU 0:
///
/// 1. `consume` + `produce`, flat out: the producer copies a prefilled buffer into each claimed slot and commits it,
///    stamping the slot's `timestampNs` with CLOCK_MONOTONIC just before the commit; the consumer records
///    now − timestampNs of every frame it accepts (zero copy: first and last byte, then `isStillValid`) into an
///    HdrHistogram. Both count the mallocs of their loop.
/// 2. `raw-sub` + `raw-pub`, flat out: messages of the payload size on `aeron:ipc?term-length=…` through the same
///    media driver, the send time in the first 8 bytes; the subscriber records the one-way latency the same way.
/// 3. and 4. the same two pairs paced at `--paced-hz` (capped at `--paced-max-mibs`) for the latency comparison.
/// 5. `memcpy` (pinned to CPU 0) copies the same buffer into a ring with the pool's geometry, alone and while a `spin`
///    child spins on the last CPU (memcpy‖spin).
///
/// Every sender warms up for `--warmup` s first; its frames carry the phase, so receivers measure exactly the
/// sender's measured window. The parent prints the tables, one verdict line per acceptance criterion, and writes
/// the optional SVG plot and JSON.
///
/// Usage: `system-bench [--seconds S] [--warmup S] [--sizes 64,4096,…] [--header-slots N] [--paced-hz H]
/// [--paced-seconds S] [--paced-max-mibs M] [--memcpy-seconds S] [--raw-term-length BYTES] [--raw-concurrent]
/// [--raw-mtu BYTES] [--markdown] [--plot FILE.svg] [--json FILE] [--check]`
@main
struct SystemBench {
    /// The command line of the parent.
    struct Options {
        var seconds = 1.0
        var flatRounds = 3
        var warmUpSeconds = 0.2
        var memcpySeconds = 0.3
        var sizes = [64, 4_096, 655_360, 4_194_304]
        var headerSlots: Int?
        var pacedHz = 10_000.0
        var pacedSeconds = 1.0
        var pacedRounds = 5
        var pacedMaxMiBs = 2_048.0
        var rawTermLength: Int?
        var rawConcurrent = false
        var rawMTU: Int?
        var markdown = false
        var plot: String?
        var json: String?
        var check = false
    }

    static let streamId: UInt32 = 10_000
    static let controlStreamId: Int32 = 1000
    static let announceStreamId: Int32 = 1001
    static let descriptorStreamId: Int32 = 1100
    /// The first stream of the raw Aeron runs; each run gets its own.
    static let rawStreamBase: Int32 = 3000
    /// The term length of the descriptor channel (`TensorPoolContext.descriptorChannel`).
    static let descriptorTermLength = 4 << 20
    /// The raw channel's default term length.
    static let defaultRawTermLength = 64 << 20

    static let usage = """
        usage: system-bench [--seconds S] [--warmup S] [--sizes 64,4096,…] [--header-slots N] [--paced-hz H]
                            [--paced-seconds S] [--paced-max-mibs M] [--memcpy-seconds S] [--raw-term-length BYTES]
                            [--raw-concurrent] [--raw-mtu BYTES] [--markdown] [--plot FILE.svg] [--json FILE]
                            [--check]
          --seconds S          measured time of each flat-out run (default 1)
          --flat-rounds N      flat-out rounds (tensor pool, raw Aeron, memcpy, memcpy‖spin alternating); the median
                               round of each is reported (default 3)
          --warmup S           warm-up of every sender before its measured window (default 0.2)
          --sizes LIST         payload sizes in bytes (default 64,4096,655360,4194304)
          --header-slots N     header_nslots (= pool slots) for every size (default 1024 up to 64 KiB, 64 above)
          --paced-hz H         rate of the paced latency runs (default 10000)
          --paced-seconds S    measured time of each paced run (default 1)
          --paced-rounds N     paced runs per side, alternating; the median-p99 round is reported (default 5)
          --paced-max-mibs M   caps the paced rate at M MiB/s of payload (default 2048: 3277/s at 640 KiB)
          --memcpy-seconds S   each memcpy run (default 0.3)
          --raw-term-length B  term length of the raw Aeron channel (default max(64 MiB, 8 × size rounded up to 2ⁿ))
          --raw-concurrent     raw Aeron through a concurrent publication (default exclusive)
          --raw-mtu BYTES      MTU of the raw Aeron channel (default Aeron's, 1408: larger messages are fragmented)
          --markdown           Markdown tables
          --plot FILE.svg      writes throughput and paced latency versus payload size
          --json FILE          writes every measured field of every run
          --check              exit status 1 when an acceptance criterion fails
        environment: SYSTEM_VERBOSE=1 prints every field of every run; SYSTEM_BENCH_MALLOC_STACKS=N makes each child
          print the call stacks of the first N mallocs it counts to standard error
        child modes (run by the parent): produce, consume, raw-pub, raw-sub, memcpy, spin
        """

    /// Runs a child mode, or the whole benchmark as the parent.
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        switch arguments.first {
        case "produce": try produce(Array(arguments.dropFirst()))
        case "consume": try consume(Array(arguments.dropFirst()))
        case "raw-pub": try rawPublish(Array(arguments.dropFirst()))
        case "raw-sub": try rawSubscribe(Array(arguments.dropFirst()))
        case "memcpy": try memcpyRing(Array(arguments.dropFirst()))
        case "spin": spin(Array(arguments.dropFirst()))
        default:
            let options = parse(arguments)
            let verdicts = try parent(options)
            if options.check && verdicts.contains(where: { $0.pass == false }) { exit(1) }
        }
    }

    /// The parent's options; exits with status 2 and the usage on a bad argument.
    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var iterator = arguments.makeIterator()
        func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data("system-bench: \(message)\n\(usage)\n".utf8))
            exit(2)
        }
        func double(_ name: String) -> Double {
            guard let value = iterator.next().flatMap(Double.init), value >= 0 else { fail("\(name) needs a number") }
            return value
        }
        func integer(_ name: String) -> Int {
            guard let value = iterator.next().flatMap(Int.init), value > 0 else { fail("\(name) needs an integer") }
            return value
        }
        while let argument = iterator.next() {
            switch argument {
            case "--seconds": options.seconds = double(argument)
            case "--flat-rounds": options.flatRounds = Int(double(argument))
            case "--warmup": options.warmUpSeconds = double(argument)
            case "--memcpy-seconds": options.memcpySeconds = double(argument)
            case "--sizes":
                options.sizes = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
                if options.sizes.isEmpty { fail("--sizes needs a list of byte counts") }
            case "--header-slots":
                let slots = integer(argument)
                if slots & (slots - 1) != 0 { fail("--header-slots must be a power of two") }
                options.headerSlots = slots
            case "--paced-hz": options.pacedHz = double(argument)
            case "--paced-seconds": options.pacedSeconds = double(argument)
            case "--paced-rounds": options.pacedRounds = Int(double(argument))
            case "--paced-max-mibs": options.pacedMaxMiBs = double(argument)
            case "--raw-term-length":
                let length = integer(argument)
                if length & (length - 1) != 0 || length < 65_536 { fail("--raw-term-length must be 2ⁿ ≥ 64 KiB") }
                options.rawTermLength = length
            case "--raw-concurrent": options.rawConcurrent = true
            case "--raw-mtu":
                let mtu = integer(argument)
                if mtu % 32 != 0 || mtu > 65_504 { fail("--raw-mtu must be a multiple of 32 up to 65504") }
                options.rawMTU = mtu
            case "--markdown": options.markdown = true
            case "--plot":
                guard let path = iterator.next() else { fail("--plot needs a file name") }
                options.plot = path
            case "--json":
                guard let path = iterator.next() else { fail("--json needs a file name") }
                options.json = path
            case "--check": options.check = true
            case "--help", "-h":
                print(usage)
                exit(0)
            default: fail("unknown argument \(argument)")
            }
        }
        return options
    }

    /// `header_nslots` (and pool slots) for a payload size: `--header-slots`, else 1024 up to 64 KiB and 64 above.
    static func headerSlots(for size: Int, _ options: Options) -> Int {
        options.headerSlots ?? (size <= 65_536 ? 1024 : 64)
    }

    /// The raw channel's term length: `--raw-term-length`, else 64 MiB, or the smallest power of two whose eighth
    /// (Aeron's max message length) holds the message if that is longer. A long term matters: an IPC publication may
    /// run half a term ahead of its subscriber, and only the media driver's conductor moves that limit on, so with the
    /// back-off driver of the demo a 4 MiB term would cap 640 KiB messages at a few thousand per second.
    static func rawTermLength(for size: Int, _ options: Options) -> Int {
        if let length = options.rawTermLength { return length }
        var length = defaultRawTermLength
        while length / 8 < size { length <<= 1 }
        return length
    }

    /// The paced rate for a payload size: `--paced-hz`, capped at `--paced-max-mibs` of payload.
    static func pacedHz(for size: Int, _ options: Options) -> Double {
        min(options.pacedHz, options.pacedMaxMiBs * 1_048_576 / Double(max(size, 1)))
    }

    // MARK: - Parent: media driver, SHM driver, children

    /// Hosts the drivers, runs every measurement of every size, prints the tables and verdicts, and writes the plot
    /// and JSON; returns the verdicts.
    static func parent(_ options: Options) throws -> [Verdict] {
        let cpus = Int(tp_bench_cpu_count())
        let senderCPU = 0
        let receiverCPU = cpus - 1
        let sizes = options.sizes.map { "\(label($0)): \(headerSlots(for: $0, options))" }.joined(separator: ", ")
        let rawTerms = Set(options.sizes.map { rawTermLength(for: $0, options) }).sorted().map { "\($0 >> 20)m" }
        let lines = [
            "system-bench: producer → consumer in two processes through the SHM driver, and raw Aeron IPC between the "
                + "same two CPUs, in one run (Aeron \(MediaDriver.aeronVersion))",
            "  parent: embedded media driver (shared, back-off idle, sparse terms) + DriverAgent thread (back-off);",
            "  header_nslots = pool slots per size (\(sizes)); pool stride = smallest 64 × 2ⁿ ≥ payload;",
            "  prefault_shm = true, /dev/shm; \(cpus) CPUs: senders pinned to CPU \(senderCPU), receivers to CPU "
                + "\(receiverCPU)",
            "  each run: warm-up flat out ≥ \(options.warmUpSeconds) s and one lap of every ring (pool slots and "
                + "descriptor log; raw: the log's 3 terms), 0.1 s pause, then measured: flat out \(options.seconds) s, "
                + "or paced \(options.pacedSeconds) s at min(\(Report.integer(options.pacedHz)) Hz, "
                + "\(Report.integer(options.pacedMaxMiBs)) MiB/s)",
            "  producer: doWork every 64 frames, tryClaim, memcpy of a prefilled buffer, commit (descriptor offer);",
            "  consumer: poll 64, doWork every 64 polls, zero copy (first + last byte, isStillValid); latency = "
                + "consumer's CLOCK_MONOTONIC − slot timestampNs stamped just before commit (after the copy; 'incl. "
                + "copy' = from a stamp taken before the copy, in the payload)",
            "  raw Aeron: \(options.rawConcurrent ? "concurrent" : "exclusive") publication on "
                + "aeron:ipc?term-length=\(rawTerms.joined(separator: "/"))"
                + (options.rawMTU.map { "|mtu=\($0)" } ?? "") + ", offer retried while back-pressured, send time "
                + "in bytes 0..<8 stamped before each attempt (offer copies the message into the log, so that copy "
                + "is in its latency); subscriber polls 64 fragments, latency at the END fragment",
            "  memcpy: same buffer into a MAP_SHARED ring of the pool's slots × stride, \(options.memcpySeconds) s, "
                + "CPU \(senderCPU); alone, and while a peer spins on CPU \(receiverCPU) (memcpy‖spin)",
            "  mallocs: counted on each child's loop thread over its measured window (malloc interposer hook)",
        ]
        for line in lines { print(line) }
        fflush(nil)
        if !MallocCounter.works { print("  (the malloc interposer does not count here: mallocs are n/a)") }
        var mediaConfiguration = MediaDriver.Configuration()
        mediaConfiguration.termBufferSparseFile = true
        let mediaDriver = try MediaDriver(mediaConfiguration)
        defer { mediaDriver.close() }
        let aeron = try AeronClient(context: AeronContext(directory: mediaDriver.directory))
        defer { aeron.close() }
        let verbose = ProcessInfo.processInfo.environment["SYSTEM_VERBOSE"] != nil
        let startedAt = monotonicNanos()
        var rows: [Row] = []
        for (index, size) in options.sizes.enumerated() {
            let slots = headerSlots(for: size, options)
            let driver = try HostedDriver(aeron: aeron, payloadBytes: size, headerSlots: slots)
            defer { driver.close() }
            let termLength = rawTermLength(for: size, options)
            let channel = rawChannel(termLength: termLength, mtu: options.rawMTU)
            let hz = pacedHz(for: size, options)
            // A receiver's deadline, should its sender never finish: the longest run plus generous warm-up time.
            let receiverSeconds = String(max(options.seconds, options.pacedSeconds) + options.warmUpSeconds + 30)
            let warmUp = ["--warmup", String(options.warmUpSeconds)]
            // The producer's warm-up covers one lap of the slots and one of the descriptor log (96 B per descriptor),
            // plus half a term, so that the measured window does not start at a term rotation of the descriptor log.
            let producerWarmUp =
                warmUp + [
                    "--warmup-frames", String(slots), "--warmup-light-frames",
                    String(7 * descriptorTermLength / 2 / 96),
                ]
            let common = [mediaDriver.directory, driver.baseDirectory, String(size)]
            func pair(_ receiver: [String], _ sender: [String]) throws -> RunFields {
                try runPair(receiver: receiver, sender: sender, receiverCPU: receiverCPU, senderCPU: senderCPU)
            }
            func raw(_ stream: Int32) -> [String] {
                ["--channel", channel, "--stream", String(stream)]
            }
            let rawSender = options.rawConcurrent ? ["--concurrent"] : []
            let paced = ["--paced-hz", String(hz)]
            var row = Row(size: size, headerSlots: slots, rawChannel: channel, pacedHz: hz)
            // Flat-out rounds alternate the tensor pool, raw Aeron, memcpy and memcpy‖spin; each reports its median
            // round (by rate), as this VM's memory bandwidth drifts from one second to the next.
            let rawStream = rawStreamBase + Int32(index * 2)
            // The raw messages carry the send time and the phase in their first 9 bytes.
            let rawPossible = size >= 16
            let geometry = [String(slots), String(HostedDriver.stride(for: size))]
            var flatRuns: [RunFields] = []
            var rawFlatRuns: [RunFields] = []
            var memcpyRuns: [[String: String]] = []
            var memcpySpinRuns: [[String: String]] = []
            for round in 0..<max(options.flatRounds, 1) {
                flatRuns.append(
                    try pair(
                        ["consume"] + common + [receiverSeconds],
                        ["produce"] + common + [String(options.seconds)] + producerWarmUp))
                if rawPossible {
                    let stream = rawStream + Int32(round) * 1_000 + 500
                    rawFlatRuns.append(
                        try pair(
                            ["raw-sub", mediaDriver.directory, String(size), receiverSeconds] + raw(stream),
                            ["raw-pub", mediaDriver.directory, String(size), String(options.seconds)] + raw(stream)
                                + warmUp + rawSender))
                }
                memcpyRuns.append(
                    try Child(
                        ["memcpy", String(size), String(options.memcpySeconds)] + geometry, cpu: senderCPU
                    ).finish())
                // The same, while a peer spins on the consumer's CPU as the polling consumer does during the run.
                let spinner = try Child(["spin", String(options.memcpySeconds + 0.3)], cpu: receiverCPU)
                usleep(100_000)
                memcpySpinRuns.append(
                    try Child(
                        ["memcpy", String(size), String(options.memcpySeconds)] + geometry, cpu: senderCPU
                    ).finish())
                _ = try spinner.finish()
            }
            row.flat = median(flatRuns) { Row.rate($0.sender) }
            row.flatPublishRates = flatRuns.map { Row.rate($0.sender) }
            if rawPossible {
                row.rawFlat = median(rawFlatRuns) { Row.rate($0.receiver) }
                row.rawRates = rawFlatRuns.map { Row.rate($0.receiver) }
            }
            row.memcpy = median(memcpyRuns) { Row.number($0, "mibs") }
            row.memcpySpin = median(memcpySpinRuns) { Row.number($0, "mibs") }
            row.memcpySpinRates = memcpySpinRuns.map { Row.number($0, "mibs") }
            if options.pacedSeconds > 0 && hz > 0 {
                // Rounds alternate the two sides; each side reports its median-p99 round, so that one scheduler
                // stall (a single 20 ms preemption delays 1 % of a 10 kHz run) does not decide the comparison.
                var pacedRuns: [RunFields] = []
                var rawPacedRuns: [RunFields] = []
                for round in 0..<max(options.pacedRounds, 1) {
                    pacedRuns.append(
                        try pair(
                            ["consume"] + common + [receiverSeconds, "--copy-latency"],
                            ["produce"] + common + [String(options.pacedSeconds)] + producerWarmUp + paced
                                + ["--stamp-payload"]))
                    if rawPossible {
                        let stream = rawStream + 1 + Int32(round) * 1_000
                        rawPacedRuns.append(
                            try pair(
                                ["raw-sub", mediaDriver.directory, String(size), receiverSeconds] + raw(stream),
                                ["raw-pub", mediaDriver.directory, String(size), String(options.pacedSeconds)]
                                    + raw(stream) + warmUp + paced + rawSender))
                    }
                }
                row.paced = medianRun(pacedRuns)
                row.pacedP99s = pacedRuns.map { Row.number($0.receiver, "p99_ns") }
                if rawPossible {
                    row.rawPaced = medianRun(rawPacedRuns)
                    row.rawPacedP99s = rawPacedRuns.map { Row.number($0.receiver, "p99_ns") }
                }
            }
            if verbose { print(row.verboseDescription) }
            rows.append(row)
        }
        let report = Report(rows: rows, options: options)
        print(report.throughputTable(markdown: options.markdown))
        print()
        print(report.latencyTable(markdown: options.markdown))
        print()
        let verdicts = report.verdicts()
        for verdict in verdicts { print(verdict.line) }
        let runSeconds = Double(monotonicNanos() &- startedAt) / 1e9
        print("(measured in \(Report.integer(runSeconds)) s; load average now \(loadAverage()))")
        if let path = options.plot {
            try Plot.svg(rows: rows).write(toFile: path, atomically: true, encoding: .utf8)
            print("plot: \(path)")
        }
        if let path = options.json {
            try report.json(verdicts: verdicts, runSeconds: runSeconds).write(to: URL(fileURLWithPath: path))
            print("json: \(path)")
        }
        return verdicts
    }

    /// The element of `runs` whose `key` is the median (the lower middle one for an even count).
    static func median<T>(_ runs: [T], by key: (T) -> Double) -> T? {
        let ordered = runs.sorted { key($0) < key($1) }
        return ordered.isEmpty ? nil : ordered[(ordered.count - 1) / 2]
    }

    /// `median(_:by:)` with a default for no runs.
    static func median(_ runs: [RunFields], by key: (RunFields) -> Double) -> RunFields {
        median(runs, by: key) ?? RunFields()
    }

    /// `median(_:by:)` of field sets.
    static func median(_ runs: [[String: String]], by key: ([String: String]) -> Double) -> [String: String] {
        median(runs, by: key) ?? [:]
    }

    /// The run whose receiver's p99 latency is the median of `runs` (the lower middle one for an even count).
    static func medianRun(_ runs: [RunFields]) -> RunFields {
        let ordered = runs.sorted { Row.number($0.receiver, "p99_ns") < Row.number($1.receiver, "p99_ns") }
        return ordered.isEmpty ? RunFields() : ordered[(ordered.count - 1) / 2]
    }

    /// The 1, 5 and 15 minute load averages, to judge how quiet the machine was.
    static func loadAverage() -> String {
        var loads = [Double](repeating: .nan, count: 3)
        _ = getloadavg(&loads, 3)
        return loads.map { String(format: "%.2f", $0) }.joined(separator: " ")
    }

    /// Starts the receiver, waits for its `ready`, runs the sender to its end, then tells the receiver to drain and
    /// finish (SIGUSR1).
    static func runPair(receiver: [String], sender: [String], receiverCPU: Int, senderCPU: Int) throws -> RunFields {
        let receiving = try Child(receiver, cpu: receiverCPU)
        guard receiving.waitFor("ready") else {
            _ = try? receiving.finish()
            throw BenchError("\(receiver.first ?? "receiver") did not start: \(receiver)")
        }
        let senderFields: [String: String]
        do {
            senderFields = try Child(sender, cpu: senderCPU).finish()
        } catch {
            receiving.signal(SIGTERM)
            _ = try? receiving.finish()
            throw error
        }
        receiving.signal(SIGUSR1)
        return RunFields(sender: senderFields, receiver: try receiving.finish())
    }

    /// "64 B", "4 KiB", "640 KiB", "4 MiB".
    static func label(_ size: Int) -> String {
        size >= 1 << 20 && size % (1 << 20) == 0
            ? "\(size >> 20) MiB" : size >= 1 << 10 && size % (1 << 10) == 0 ? "\(size >> 10) KiB" : "\(size) B"
    }
}

// MARK: - Support

/// One child process: this executable with `arguments`, pinned to `cpu`, its stdout read line by line.
final class Child {
    let process = Process()
    let pipe = Pipe()
    var buffered = Data()

    /// Starts this executable with `arguments`, pinned (through `SYSTEM_BENCH_CPU`) to `cpu`.
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

    /// Sends `signal` to the child.
    func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

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

    /// Starts a driver agent for one stream whose pool holds `payloadBytes`, with `headerSlots` header (and pool)
    /// slots.
    init(aeron: AeronClient, payloadBytes: Int, headerSlots: Int) throws {
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
            header_nslots = \(headerSlots)
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

    /// Runs `agent` on its own thread; the returned closure stops it and hands its core back.
    private static func start(_ agent: sending DriverAgent) -> () -> DriverCore {
        let runner = AgentRunner(
            agent: agent, idleStrategy: BackoffIdleStrategy(), errorHandler: AgentErrorHandlers.standardError)
        runner.start()
        return {
            _ = runner.close(timeout: .seconds(5))
            return runner.agent.core
        }
    }

    /// Stops the agent, unlinks its files and removes the base directory.
    func close() {
        if let closeRunner {
            closeRunner().close(unlinkFiles: true)
            self.closeRunner = nil
        }
        try? FileManager.default.removeItem(atPath: baseDirectory)
    }
}

/// A failure of the benchmark, with its explanation.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// CLOCK_MONOTONIC in nanoseconds (the clock of every timestamp and latency here).
@inline(__always)
func monotonicNanos() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
}
