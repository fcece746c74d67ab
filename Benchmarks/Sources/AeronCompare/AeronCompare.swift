import Aeron
import AeronPerf
import CAffinity
import Foundation

/// `aeron-compare`: the Aeron baseline of the project. Runs the same throughput loop and ping-pong through the Swift
/// wrapper and through the C program `c/aeron_baseline` (compiled against the same Aeron build), each as its own client
/// process of one embedded media driver hosted here, and prints Swift-vs-C ratios.
///
/// Usage: `aeron-compare --c-program PATH [--messages N] [--runs R] [--pings N] [--warmup N] [--markdown]`
@main
struct AeronCompare {
    struct Options {
        var cProgram = "c/build/aeron_baseline"
        var messages = 2_000_000
        var runs = 3
        var pings = 100_000
        var warmup = 20_000
        var pingRounds = 3
        var rounds = 4
        var lengths = [32, 256, 1024]
        var markdown = false
    }

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--c-program": options.cProgram = iterator.next() ?? options.cProgram
            case "--messages": options.messages = iterator.next().flatMap(Int.init) ?? options.messages
            case "--runs": options.runs = iterator.next().flatMap(Int.init) ?? options.runs
            case "--pings": options.pings = iterator.next().flatMap(Int.init) ?? options.pings
            case "--warmup": options.warmup = iterator.next().flatMap(Int.init) ?? options.warmup
            case "--rounds": options.rounds = iterator.next().flatMap(Int.init) ?? options.rounds
            case "--ping-rounds": options.pingRounds = iterator.next().flatMap(Int.init) ?? options.pingRounds
            case "--markdown": options.markdown = true
            default:
                FileHandle.standardError.write(Data("aeron-compare: unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
        return options
    }

    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "--child" {
            try runChild(Array(arguments.dropFirst()))
            return
        }
        let options = parse(arguments)
        guard FileManager.default.isExecutableFile(atPath: options.cProgram) else {
            FileHandle.standardError.write(Data("aeron-compare: C program not found at \(options.cProgram)\n".utf8))
            exit(2)
        }
        print("Aeron \(MediaDriver.aeronVersion): Swift wrapper vs C client over aeron:ipc, on one embedded driver")
        print(
            "throughput: one thread offers and polls, \(options.messages) messages, median of \(options.runs) runs after"
        )
        print(
            "  one warm-up run; driver pinned to CPU 0 with a spinning conductor (it advances IPC publication limits),")
        print("  each client process pinned to CPU 1; 16 MiB terms")
        print(
            "ping-pong: \(options.pings) round trips after \(options.warmup) warm-up, pong on its own thread, median of"
        )
        print("  \(options.pingRounds) alternating rounds;")
        print("  driver idle strategy back-off (IPC round trips do not involve the driver)")
        var rows: [(String, String, String, String)] = []
        try throughputPhase(options, into: &rows)
        try pingPongPhase(options, into: &rows)
        print(table(rows, markdown: options.markdown))
        print("ratio = Swift / C: above 1 means the wrapper is faster for throughput, slower for latency.")
    }

    static func makeDriver(idle: MediaDriver.IdleStrategy, termLength: Int) throws -> MediaDriver {
        var configuration = MediaDriver.Configuration()
        configuration.sharedIdleStrategy = idle
        configuration.termBufferLength = termLength
        configuration.ipcTermBufferLength = termLength
        return try MediaDriver(configuration)
    }

    static func throughputPhase(_ options: Options, into rows: inout [(String, String, String, String)]) throws {
        // Pin the spinning driver to CPU 0 (its threads inherit this process's affinity) and each client to CPU 1, so
        // neither side's figure depends on where the scheduler happens to put the two busy threads.
        let cpus = Int(tp_bench_cpu_count())
        let pinned = cpus >= 2 && tp_bench_pin(0, 0) == 0
        defer { if pinned { _ = tp_bench_pin(0, Int32(cpus - 1)) } }
        let driver = try makeDriver(idle: .busySpin, termLength: 16 << 20)
        defer { driver.close() }
        let clientCPU = pinned ? 1 : nil
        let client = try AeronClient(context: AeronContext(directory: driver.directory))
        defer { client.close() }

        for length in options.lengths {
            // One extra run per side warms the log buffers (page faults) and is not counted.
            let runArguments = ["throughput", "\(length)", "\(options.messages)", "\(options.runs + 1)"]
            // Rounds alternate which side runs first, so drift in the machine's state favours neither.
            var swiftRates: [Double] = []
            var cRates: [Double] = []
            for round in 0..<options.rounds {
                for program in round % 2 == 0 ? [swiftChild, options.cProgram] : [options.cProgram, swiftChild] {
                    let rates = try runClient(program, driver.directory, runArguments, cpu: clientCPU)
                        .compactMap(rate).dropFirst()
                    if program == swiftChild { swiftRates += rates } else { cRates += rates }
                }
            }
            if ProcessInfo.processInfo.environment["COMPARE_VERBOSE"] != nil {
                print(
                    "  \(length) B runs, M msg/s: Swift \(swiftRates.map { Int($0 / 1e6) }), C \(cRates.map { Int($0 / 1e6) })"
                )
            }
            let swiftRate = median(swiftRates)
            let cRate = median(cRates)
            rows.append(
                (
                    "throughput \(length) B", String(format: "%.2f M msg/s", swiftRate / 1e6),
                    String(format: "%.2f M msg/s", cRate / 1e6), String(format: "%.2f", swiftRate / cRate)
                ))
        }
    }

    /// Messages per second of one `throughput` output line.
    static func rate(_ line: [String: String]) -> Double? {
        guard let elapsed = line["elapsed_ns"].flatMap(Double.init), let count = line["messages"].flatMap(Double.init)
        else { return nil }
        return count * 1e9 / elapsed
    }

    /// This executable, run as a child client (`--child …`) so the Swift side runs in its own process like the C side.
    static var swiftChild: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }

    /// Child mode: `--child <aeron-dir> throughput <length> <messages> <runs>` or
    /// `--child <aeron-dir> pingpong <length> <messages> <warmup>`, printing the same lines as the C program.
    static func runChild(_ arguments: [String]) throws {
        guard arguments.count == 5, let length = Int(arguments[2]), let messages = Int(arguments[3]),
            let extra = Int(arguments[4])
        else {
            FileHandle.standardError.write(Data("aeron-compare: bad child arguments \(arguments)\n".utf8))
            exit(2)
        }
        if let cpu = ProcessInfo.processInfo.environment["COMPARE_CPU"].flatMap(Int.init) {
            _ = tp_bench_pin(Int32(cpu), Int32(cpu))
        }
        let client = try AeronClient(context: AeronContext(directory: arguments[0]))
        defer { client.close() }
        switch arguments[1] {
        case "throughput":
            let publication = try client.addExclusivePublication(channel: "aeron:ipc", streamId: 1010)
            let subscription = try client.addSubscription(channel: "aeron:ipc", streamId: 1010)
            for _ in 0..<extra {
                let result = try Throughput.run(
                    publication: publication, subscription: subscription, messageLength: length, messages: messages)
                print("throughput length=\(length) messages=\(messages) elapsed_ns=\(result.elapsedNanos)")
            }
        default:
            var options = PingPong.Options()
            options.messageLength = length
            options.messages = messages
            options.warmupMessages = extra
            let result = try PingPong.run(client: client, options: options)
            let values = [50.0, 90, 99, 99.9].map { result.nanoseconds(atPercentile: $0) }
            print(
                "pingpong length=\(length) messages=\(messages) p50_ns=\(values[0]) p90_ns=\(values[1]) "
                    + "p99_ns=\(values[2]) p999_ns=\(values[3]) max_ns=\(result.histogram.max)")
        }
    }

    static func pingPongPhase(_ options: Options, into rows: inout [(String, String, String, String)]) throws {
        let driver = try makeDriver(idle: .backoff(), termLength: 4 << 20)
        defer { driver.close() }
        let pingArguments = ["pingpong", "32", "\(options.pings)", "\(options.warmup)"]
        // Rounds alternate Swift and C; each percentile is the median over the rounds.
        var swiftRounds: [[String: String]] = []
        var cRounds: [[String: String]] = []
        for _ in 0..<max(1, options.pingRounds) {
            swiftRounds += try runClient(swiftChild, driver.directory, pingArguments).prefix(1)
            cRounds += try runClient(options.cProgram, driver.directory, pingArguments).prefix(1)
        }
        for (label, key) in [("p50", "p50_ns"), ("p90", "p90_ns"), ("p99", "p99_ns"), ("p99.9", "p999_ns")] {
            let swiftNanos = median(swiftRounds.compactMap { $0[key].flatMap(Double.init) })
            let cNanos = median(cRounds.compactMap { $0[key].flatMap(Double.init) })
            if ProcessInfo.processInfo.environment["COMPARE_VERBOSE"] != nil {
                print(
                    "  \(label) rounds, ns: Swift \(swiftRounds.compactMap { $0[key] }), C \(cRounds.compactMap { $0[key] })"
                )
            }
            rows.append(
                (
                    "ping-pong RTT \(label) (32 B)", String(format: "%.2f µs", swiftNanos / 1000),
                    String(format: "%.2f µs", cNanos / 1000), String(format: "%.2f", swiftNanos / cNanos)
                ))
        }
    }

    /// Runs a client program (the C baseline or this executable as a child) and parses each output line of
    /// `key=value` pairs.
    static func runClient(
        _ program: String, _ directory: String, _ arguments: [String], cpu: Int? = nil
    ) throws
        -> [[String: String]]
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = (program == swiftChild ? ["--child", directory] : [directory]) + arguments
        if let cpu {
            process.environment = ProcessInfo.processInfo.environment.merging(["COMPARE_CPU": String(cpu)]) { $1 }
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(
                domain: "aeron-compare", code: Int(process.terminationStatus),
                userInfo: [NSLocalizedDescriptionKey: "\(program) failed: \(arguments)"])
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
            var fields: [String: String] = [:]
            for pair in line.split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            return fields
        }
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func table(_ rows: [(String, String, String, String)], markdown: Bool) -> String {
        let header = ("measure", "Swift", "C", "ratio")
        if markdown {
            return ([header] + rows).enumerated().map { index, row in
                "| \(row.0) | \(row.1) | \(row.2) | \(row.3) |" + (index == 0 ? "\n|---|---:|---:|---:|" : "")
            }.joined(separator: "\n")
        }
        let widths = [
            ([header] + rows).map(\.0.count).max()!, ([header] + rows).map(\.1.count).max()!,
            ([header] + rows).map(\.2.count).max()!, ([header] + rows).map(\.3.count).max()!,
        ]
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: width - text.count) }
        return ([header] + rows).map { row in
            "\(pad(row.0, widths[0]))  \(pad(row.1, widths[1]))  \(pad(row.2, widths[2]))  \(row.3)"
        }.joined(separator: "\n")
    }
}
