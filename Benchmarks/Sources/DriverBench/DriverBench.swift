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
///   [--clients client,raw] [--roles consumer,producer] [--settle S] [--markdown]`
@main
struct DriverBench {
    struct Options {
        var attaches = 2_000
        var seconds = 2.0
        var warmup = 200
        var mallocCycles = 200
        var idles: [DriverIdle] = [.spin, .yield]
        var kinds: [SessionKind] = [.client, .raw]
        var roles: [DriverSchema.Role] = [.consumer, .producer]
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
                options.idles = names.map { name in
                    guard let idle = DriverIdle(rawValue: name) else { fail("unknown idle strategy \(name)") }
                    return idle
                }
            case "--clients":
                let names = (iterator.next() ?? "").split(separator: ",").map(String.init)
                options.kinds = names.map { name in
                    guard let kind = SessionKind(rawValue: name) else { fail("unknown client kind \(name)") }
                    return kind
                }
            case "--roles":
                let names = (iterator.next() ?? "").split(separator: ",").map(String.init)
                options.roles = names.map { name in
                    switch name {
                    case "consumer": return .consumer
                    case "producer": return .producer
                    default: fail("unknown role \(name)")
                    }
                }
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

        let sleep = usleepCalibration()
        print(
            String(
                format: "  usleep(100), which DriverClient calls between polls, sleeps %.0f µs (median), %.0f µs (p99)",
                sleep.median / 1000, sleep.p99 / 1000))
        var rows: [Row] = []
        var notes: [String] = []
        for (index, idle) in options.idles.enumerated() {
            let driver = try BenchDriver(mediaDriver: mediaDriver, idle: idle, controlStreamId: 1_000 + Int32(index))
            do {
                var fileCounts: [String] = []
                for role in options.roles {
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
                        FileHandle.standardError.write(Data("  done: \(idle) \(name(role)) \(kind)\n".utf8))
                    }
                }
                if !fileCounts.isEmpty {
                    notes.append(
                        "\(idle): files under the SHM base dir at the end of each producer phase: "
                            + fileCounts.joined(separator: ", "))
                }
                if index == options.idles.count - 1 && options.settleSeconds > 0 {
                    notes.append(settle(driver, seconds: options.settleSeconds))
                }
            } catch {
                driver.close()
                throw error
            }
            driver.close()
            notes.append(
                "\(idle): the driver remembered \(driver.endedLeasesAtClose) ended leases when it stopped"
                    + " (DriverCore.endedLeases keeps a bounded history)")
        }
        print(table(rows, markdown: options.markdown))
        print(
            "latency: attach → OK round trip; cycles/s: attach + detach back to back; driver/cycle: the driver thread's"
        )
        print(
            "busy time per cycle (duty cycles that did work); mallocs per cycle on the driver thread / client thread /"
        )
        print("other threads. raw = hand-encoded requests, busy-polled answers (no DriverClient).")
        for row in rows {
            print(
                String(
                    format: "%@ %@ %@: %d cycles in %.2f s; driver duty cycles over 1 ms: %d, %.0f ms in all, longest"
                        + " %.1f ms",
                    row.idle.rawValue, name(row.role), row.kind.rawValue, row.cycles, Double(row.cycleNanos) / 1e9,
                    row.driver.longCycles, Double(row.driver.longNanos) / 1e6, Double(row.driver.maxCycleNanos) / 1e6))
        }
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
        return "\(driver.idle): files while idle after the last phase (epoch GC: keep 2, min age 3 s): "
            + samples.joined(separator: ", ")
    }

    /// How long `usleep(100)` really sleeps here (timer slack and wake-up included): median and p99 of 200.
    static func usleepCalibration() -> (median: Double, p99: Double) {
        var samples: [Double] = []
        for _ in 0..<200 {
            let start = monotonicNanos()
            usleep(100)
            samples.append(Double(monotonicNanos() &- start))
        }
        samples.sort()
        return (samples[samples.count / 2], samples[samples.count * 99 / 100])
    }

    static func name(_ role: DriverSchema.Role) -> String { role == .producer ? "producer" : "consumer" }

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
                row.idle.rawValue, name(row.role), row.kind.rawValue,
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
