import Aeron
import Agents
import DriverConfig
import Foundation
import Glibc
import Logging
import Synchronization
import TensorPoolDriver

/// What the driver thread did, written by that thread and read by the benchmark between phases.
final class DriverThreadStats: Sendable {
    /// Nanoseconds spent in duty cycles that did work (served a request, announced, expired a lease).
    let busyNanos = Atomic<UInt64>(0)
    /// Duty cycles that did work.
    let busyCycles = Atomic<UInt64>(0)
    /// Duty cycles, with or without work, that took more than ``longCycleThresholdNanos``: the epoch GC's sweeps
    /// (which run inside a duty cycle and report no work of their own), or the thread being preempted.
    let longCycles = Atomic<UInt64>(0)
    /// Nanoseconds spent in those long duty cycles.
    let longNanos = Atomic<UInt64>(0)
    /// The longest duty cycle since the last ``resetMaximum()``.
    let maxCycleNanos = Atomic<UInt64>(0)
    /// `pthread_self()` of the driver thread, once started (0 before).
    let thread = Atomic<UInt>(0)

    static let longCycleThresholdNanos: UInt64 = 1_000_000

    func resetMaximum() { maxCycleNanos.store(0, ordering: .relaxed) }

    struct Snapshot {
        var busyNanos: UInt64
        var busyCycles: UInt64
        var longCycles: UInt64
        var longNanos: UInt64
        var maxCycleNanos: UInt64

        static func - (lhs: Snapshot, rhs: Snapshot) -> Snapshot {
            Snapshot(
                busyNanos: lhs.busyNanos &- rhs.busyNanos, busyCycles: lhs.busyCycles &- rhs.busyCycles,
                longCycles: lhs.longCycles &- rhs.longCycles, longNanos: lhs.longNanos &- rhs.longNanos,
                maxCycleNanos: lhs.maxCycleNanos)
        }
    }

    var snapshot: Snapshot {
        Snapshot(
            busyNanos: busyNanos.load(ordering: .relaxed), busyCycles: busyCycles.load(ordering: .relaxed),
            longCycles: longCycles.load(ordering: .relaxed), longNanos: longNanos.load(ordering: .relaxed),
            maxCycleNanos: maxCycleNanos.load(ordering: .relaxed))
    }
}

/// The driver agent, timed: every duty cycle is bracketed by two clock reads (about 40 ns in all, negligible next to
/// a request's cost), so the benchmark can tell the driver's own service time from the rest of the round trip.
final class MeasuredDriverAgent: Agent {
    let inner: DriverAgent
    let stats: DriverThreadStats

    init(_ inner: DriverAgent, stats: DriverThreadStats) {
        self.inner = inner
        self.stats = stats
    }

    var roleName: String { inner.roleName }

    func onStart() throws {
        stats.thread.store(UInt(pthread_self()), ordering: .releasing)
        try inner.onStart()
    }

    func doWork() throws -> Int {
        let start = monotonicNanos()
        let work = try inner.doWork()
        let elapsed = monotonicNanos() &- start
        if work > 0 {
            stats.busyNanos.wrappingAdd(elapsed, ordering: .relaxed)
            stats.busyCycles.wrappingAdd(1, ordering: .relaxed)
        }
        if elapsed > DriverThreadStats.longCycleThresholdNanos {
            stats.longNanos.wrappingAdd(elapsed, ordering: .relaxed)
            stats.longCycles.wrappingAdd(1, ordering: .relaxed)
        }
        if elapsed > stats.maxCycleNanos.load(ordering: .relaxed) {
            stats.maxCycleNanos.store(elapsed, ordering: .relaxed)
        }
        return work
    }

    func onClose() { inner.onClose() }
}

/// The idle strategies the driver thread can run with.
enum DriverIdle: String, CaseIterable {
    case spin
    case yield
    case backoff
}

/// One driver agent on its own thread, over the process's embedded media driver, with a fresh SHM base directory
/// under /dev/shm that ``close()`` removes.
final class BenchDriver {
    static let streamId: UInt32 = 10_000

    let baseDirectory: String
    let configuration: DriverConfiguration
    let controlStreamId: Int32
    let aeron: AeronClient
    let stats = DriverThreadStats()
    let idle: DriverIdle
    private var closeRunner: (() -> DriverCore)?
    /// Leases the driver still remembers once stopped (`DriverCore.endedLeases`, one entry per lease that ended).
    private(set) var endedLeasesAtClose = 0

    /// The configuration: the driver's defaults (epoch GC included: keep 2, runs every announce period of 1 s, min
    /// age 3 announce periods) except for the base directory, `prefault_shm = false` and one small profile.
    static func toml(directory: String, controlStreamId: Int32) -> String {
        """
        [driver]
        instance_id = "driver-bench"
        control_stream_id = \(controlStreamId)
        announce_stream_id = \(controlStreamId)
        [shm]
        base_dir = "\(directory)"
        [policies]
        prefault_shm = false
        [profiles.small]
        header_nslots = 64
        payload_pools = [ { pool_id = 1, stride_bytes = 65536 } ]
        [streams.bench]
        stream_id = \(streamId)
        profile = "small"
        """
    }

    init(mediaDriver: MediaDriver, idle: DriverIdle, controlStreamId: Int32) throws {
        var template = Array("/dev/shm/tp-driver-bench-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("mkdtemp under /dev/shm failed: errno \(errno)")
        }
        baseDirectory = String(cString: made)
        self.idle = idle
        self.controlStreamId = controlStreamId
        configuration = try DriverConfiguration.parse(
            Self.toml(directory: baseDirectory, controlStreamId: controlStreamId))
        aeron = try AeronClient(context: AeronContext(directory: mediaDriver.directory))
        var logger = Logger(label: "driver-bench")
        logger.logLevel = .warning
        let agent = MeasuredDriverAgent(
            try DriverAgent(configuration: configuration, client: aeron, logger: logger), stats: stats)
        switch idle {
        case .spin: closeRunner = Self.start(agent, BusySpinIdleStrategy())
        case .yield: closeRunner = Self.start(agent, YieldingIdleStrategy())
        case .backoff: closeRunner = Self.start(agent, BackoffIdleStrategy())
        }
        let deadline = monotonicNanos() + 5_000_000_000
        while stats.thread.load(ordering: .acquiring) == 0 && monotonicNanos() < deadline { usleep(1_000) }
    }

    private static func start<I: IdleStrategy>(
        _ agent: sending MeasuredDriverAgent, _ idle: sending I
    )
        -> () -> DriverCore
    {
        let runner = AgentRunner(agent: agent, idleStrategy: idle, errorHandler: AgentErrorHandlers.standardError)
        runner.start()
        return {
            _ = runner.close(timeout: .seconds(5))
            return runner.agent.inner.core
        }
    }

    var controlChannel: String { configuration.driver.controlChannel }

    /// Regular files under the base directory (two per epoch: `header.ring` and `1.pool`).
    var fileCount: Int {
        var count = 0
        guard let walker = FileManager.default.enumerator(atPath: baseDirectory) else { return 0 }
        while let path = walker.nextObject() as? String {
            if walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular { count += 1 }
            _ = path
        }
        return count
    }

    /// Stops the driver thread, unmaps and unlinks the current epoch, closes the Aeron client and removes the base
    /// directory.
    func close() {
        if let closeRunner {
            let core = closeRunner()
            endedLeasesAtClose = core.endedLeases.count
            core.close(unlinkFiles: true)
            self.closeRunner = nil
        }
        aeron.close()
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
