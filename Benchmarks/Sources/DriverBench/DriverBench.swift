import Aeron
import Foundation
import Glibc
import Histogram
import TensorPoolWire

/// `driver-bench`: the SHM driver's control plane, in one process. Starts an embedded media driver and a driver
/// agent (`TensorPoolDriver`) on its own thread with a fresh SHM base directory under /dev/shm (removed at the end),
/// then measures, for consumers and producers, through `DriverClient` and through hand-encoded requests busy-polled
/// on a subscription of their own ("raw"):
///
/// - the attach → OK round trip (each attach followed by an untimed detach; for producers, the next attach waits for
///   the announce of the epoch the detach provisions, so it does not queue behind that work), as HdrHistogram
///   percentiles;
/// - attach/detach cycles per second, back to back, and the driver thread's busy time per cycle;
/// - allocations per cycle on the driver thread, the client thread and elsewhere (malloc interposer).
///
/// Usage: `driver-bench [--attaches N] [--seconds S] [--warmup N] [--malloc-cycles N] [--idle spin,yield,backoff]
///   [--clients client,raw] [--settle S] [--markdown]`
@main
struct DriverBench {
    struct Options {
        var attaches = 2_000
        var seconds = 2.0
        var warmup = 200
        var mallocCycles = 200
        var idles: [DriverIdle] = [.spin, .yield]
        var kinds: [SessionKind] = [.client, .raw]
        var settleSeconds = 6.0
        var markdown = false
    }

    enum SessionKind: String {
        case client
        case raw
    }

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var iterator = arguments.makeIterator()
        func fail(_ message: String) -> Never {
            FileHandle.standardError.write(Data("driver-bench: \(message)\n".utf8))
            exit(2)
        }
        while let argument = iterator.next() {
            switch argument {
            case "--attaches": options.attaches = iterator.next().flatMap(Int.init) ?? options.attaches
            case "--seconds": options.seconds = iterator.next().flatMap(Double.init) ?? options.seconds
            case "--warmup": options.warmup = iterator.next().flatMap(Int.init) ?? options.warmup
            case "--malloc-cycles": options.mallocCycles = iterator.next().flatMap(Int.init) ?? options.mallocCycles
            case "--settle": options.settleSeconds = iterator.next().flatMap(Double.init) ?? options.settleSeconds
            case "--idle":
                let names = (iterator.next() ?? "").split(separator: ",").map(String.init)
                options.idles = names.map { DriverIdle(rawValue: $0) ?? fail("unknown idle strategy \($0)") }
            case "--clients":
                let names = (iterator.next() ?? "").split(separator: ",").map(String.init)
                options.kinds = names.map { SessionKind(rawValue: $0) ?? fail("unknown client kind \($0)") }
            case "--markdown": options.markdown = true
            default: fail("unknown argument \(argument)")
            }
        }
        options.attaches = max(1, options.attaches)
        return options
    }

    /// One measured combination.
    struct Row {
        var idle: DriverIdle
        var role: DriverSchema.Role
        var kind: SessionKind
        var histogram: Histogram<UInt64>
        var cycles: Int
        var cycleNanos: UInt64
        var driver: DriverThreadStats.Snapshot
        var mallocs: MallocCounts?
        var mallocCycles: Int
    }

    static func main() throws {
        let options = parse(Array(CommandLine.arguments.dropFirst()))
        var mediaConfiguration = MediaDriver.Configuration()
        mediaConfiguration.termBufferSparseFile = true
        let mediaDriver = try MediaDriver(mediaConfiguration)
        defer { mediaDriver.close() }
        let aeron = try AeronClient(context: AeronContext(directory: mediaDriver.directory))
        defer { aeron.close() }

        print(
            "driver-bench: SHM driver control plane over an embedded media driver (Aeron \(MediaDriver.aeronVersion))")
        print(
            "  driver agent on its own thread; media driver shared mode, back-off idle; control aeron:ipc, one process")
        print("  profile: header_nslots 64, one pool of 64 KiB slots, prefault_shm = false, epoch GC defaults")
        print(
            "  per idle strategy, role and client: \(options.warmup) warm-up cycles, \(options.attaches) timed"
                + " attaches (detach untimed), \(options.mallocCycles) cycles with malloc counting, then cycles for"
                + " \(options.seconds) s")
        print(
            "  \(ProcessInfo.processInfo.activeProcessorCount) CPUs; malloc counting "
                + (MallocCounting.works ? "active" : "not active (interposer not loaded)"))

        var rows: [Row] = []
        var notes: [String] = []
        for (index, idle) in options.idles.enumerated() {
            let driver = try BenchDriver(mediaDriver: mediaDriver, idle: idle, controlStreamId: 1_000 + Int32(index))
            do {
                var fileCounts: [String] = []
                for role in [DriverSchema.Role.consumer, .producer] {
                    for kind in options.kinds {
                        let row: Row
                        switch kind {
                        case .client:
                            let session = try ClientSession(driver: driver, aeron: aeron)
                            defer { session.close() }
                            row = try measure(session, role: role, kind: kind, driver: driver, options: options)
                        case .raw:
                            let session = try RawSession(driver: driver, aeron: aeron)
                            defer { session.close() }
                            row = try measure(session, role: role, kind: kind, driver: driver, options: options)
                        }
                        rows.append(row)
                        if role == .producer { fileCounts.append("\(driver.fileCount) after \(kind)") }
                        FileHandle.standardError.write(Data("  done: \(idle) \(role) \(kind)\n".utf8))
                    }
                }
                let stats = driver.stats.snapshot
                notes.append(
                    "\(idle): files under the SHM base dir at the end of each producer phase: "
                        + fileCounts.joined(separator: ", ")
                        + String(
                            format: "; idle duty cycles over %.0f µs (epoch GC sweeps): %d, %.1f ms in all",
                            Double(DriverThreadStats.slowIdleThresholdNanos) / 1000, stats.slowIdleCycles,
                            Double(stats.slowIdleNanos) / 1e6))
                if index == options.idles.count - 1 && options.settleSeconds > 0 {
                    notes.append(settle(driver, seconds: options.settleSeconds))
                }
            } catch {
                driver.close()
                throw error
            }
            driver.close()
        }
        print(table(rows, markdown: options.markdown))
        print(
            "latency: attach → OK round trip; cycles/s: attach + detach back to back; driver/cycle: the driver thread's"
        )
        print(
            "busy time per cycle (duty cycles that did work); mallocs per cycle on the driver thread / client thread /"
        )
        print("other threads. raw = hand-encoded requests, busy-polled answers (no DriverClient).")
        for note in notes { print(note) }
    }

    /// Runs warm-up, timed attaches, malloc-counted cycles and timed cycles through `session`.
    static func measure<S: BenchSession>(
        _ session: S, role: DriverSchema.Role, kind: SessionKind, driver: BenchDriver, options: Options
    ) throws -> Row {
        var lastEpoch: UInt64?
        for _ in 0..<options.warmup {
            let lease = try session.attach(role)
            lastEpoch = session.epoch(of: lease)
            try session.detach(lease)
        }
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
        for _ in 0..<options.attaches {
            if role == .producer, let lastEpoch { try session.awaitAnnounce(epochAbove: lastEpoch) }
            let start = monotonicNanos()
            let lease = try session.attach(role)
            let elapsed = monotonicNanos() &- start
            _ = histogram.record(elapsed)
            lastEpoch = session.epoch(of: lease)
            try session.detach(lease)
        }
        let driverThread = driver.stats.thread.load(ordering: .acquiring)
        let mallocs = try MallocCounting.count(driverThread: driverThread) {
            for _ in 0..<options.mallocCycles {
                try session.detach(try session.attach(role))
            }
        }
        let before = driver.stats.snapshot
        driver.stats.resetMaximum()
        let start = monotonicNanos()
        let duration = UInt64(options.seconds * 1e9)
        var cycles = 0
        var now = start
        while now &- start < duration {
            try session.detach(try session.attach(role))
            cycles += 1
            now = monotonicNanos()
        }
        let after = driver.stats.snapshot
        return Row(
            idle: driver.idle, role: role, kind: kind, histogram: histogram, cycles: cycles, cycleNanos: now &- start,
            driver: after - before, mallocs: mallocs, mallocCycles: options.mallocCycles)
    }

    /// Waits up to `seconds` for the epoch GC to bring the directory back to its steady size, sampling the file
    /// count every half second.
    static func settle(_ driver: BenchDriver, seconds: Double) -> String {
        var samples: [String] = []
        let start = monotonicNanos()
        var count = driver.fileCount
        samples.append("\(count) at 0 s")
        while Double(monotonicNanos() &- start) < seconds * 1e9 && count > 4 {
            usleep(500_000)
            count = driver.fileCount
            samples.append(String(format: "%d at %.1f s", count, Double(monotonicNanos() &- start) / 1e9))
        }
        return "\(driver.idle): files while idle after the last phase (epoch GC: keep 2, min age 3 s, every 1 s): "
            + samples.joined(separator: ", ")
    }

    static func micros(_ nanos: UInt64) -> String {
        let value = Double(nanos) / 1000
        return value < 100 ? String(format: "%.1f µs", value) : String(format: "%.0f µs", value)
    }

    static func table(_ rows: [Row], markdown: Bool) -> String {
        let header = [
            "idle", "role", "client", "attach p50", "p90", "p99", "max", "cycles/s", "driver/cycle",
            "mallocs/cycle driver", "client", "other",
        ]
        let body = rows.map { row -> [String] in
            let perCycle = { (count: Int) in String(format: "%.1f", Double(count) / Double(row.mallocCycles)) }
            return [
                row.idle.rawValue, "\(row.role)", row.kind.rawValue,
                micros(row.histogram.valueAtPercentile(50)), micros(row.histogram.valueAtPercentile(90)),
                micros(row.histogram.valueAtPercentile(99)), micros(row.histogram.max),
                String(format: "%.0f", Double(row.cycles) * 1e9 / Double(row.cycleNanos)),
                micros(row.cycles > 0 ? row.driver.busyNanos / UInt64(row.cycles) : 0),
                row.mallocs.map { perCycle($0.driver) } ?? "n/a", row.mallocs.map { perCycle($0.client) } ?? "n/a",
                row.mallocs.map { perCycle($0.elsewhere) } ?? "n/a",
            ]
        }
        let all = [header] + body
        if markdown {
            return all.enumerated().map { index, row in
                "| " + row.joined(separator: " | ") + " |"
                    + (index == 0 ? "\n|---|---|---|" + String(repeating: "---:|", count: row.count - 3) : "")
            }.joined(separator: "\n")
        }
        let widths = header.indices.map { column in all.map { $0[column].count }.max()! }
        return all.map { row in
            row.indices.map { column in
                let text = row[column]
                let padding = String(repeating: " ", count: widths[column] - text.count)
                return column < 3 ? text + padding : padding + text
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
