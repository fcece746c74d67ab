import Synchronization

/// A source of nanosecond timestamps. Time-driven code (timers, heartbeats, liveness checks) takes a clock so that
/// tests can substitute a ``ManualClock``.
public protocol NanoClock: Sendable {
    /// The current time in nanoseconds, from this clock's origin.
    func nanoTime() -> Int64
}

/// `CLOCK_MONOTONIC`: nanoseconds from an arbitrary origin (usually boot); never goes back. Use it for intervals and
/// timeouts.
public struct MonotonicClock: NanoClock, Hashable {
    /// Creates the clock.
    public init() {}

    /// The current monotonic time in nanoseconds.
    public func nanoTime() -> Int64 {
        monotonicNanos()
    }

    /// The current monotonic time in nanoseconds.
    public static func now() -> Int64 {
        monotonicNanos()
    }
}

/// `CLOCK_REALTIME`: nanoseconds since the Unix epoch. Wall-clock time that can jump; use it for timestamps in
/// messages, not for measuring intervals.
public struct EpochNanoClock: NanoClock, Hashable {
    /// Creates the clock.
    public init() {}

    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public func nanoTime() -> Int64 {
        realtimeNanos()
    }

    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public static func now() -> Int64 {
        realtimeNanos()
    }
}

/// `CLOCK_REALTIME` in milliseconds since the Unix epoch, like Agrona's `SystemEpochClock`.
public struct EpochMillisClock: Sendable, Hashable {
    /// Creates the clock.
    public init() {}

    /// Milliseconds since 1970-01-01T00:00:00Z.
    public func time() -> Int64 {
        realtimeNanos() / 1_000_000
    }

    /// Milliseconds since 1970-01-01T00:00:00Z.
    public static func now() -> Int64 {
        realtimeNanos() / 1_000_000
    }
}

/// A clock that only moves when told to, for deterministic tests of time-driven code. Thread-safe: the time is an
/// atomic, so a test can advance it while an agent reads it on its runner thread.
public final class ManualClock: NanoClock {
    private let time: Atomic<Int64>

    /// Creates a clock reading `nanoTime`.
    public init(nanoTime: Int64 = 0) {
        time = Atomic(nanoTime)
    }

    /// The current time.
    public func nanoTime() -> Int64 {
        time.load(ordering: .acquiring)
    }

    /// Sets the current time (it may go back: the clock does not enforce monotonicity).
    public func set(nanoTime: Int64) {
        time.store(nanoTime, ordering: .releasing)
    }

    /// Moves the clock by `nanos` (wrapping on overflow) and returns the new time.
    @discardableResult
    public func advance(by nanos: Int64) -> Int64 {
        time.wrappingAdd(nanos, ordering: .acquiringAndReleasing).newValue
    }

    /// Moves the clock by `duration`, in whole nanoseconds, and returns the new time.
    @discardableResult
    public func advance(by duration: Duration) -> Int64 {
        advance(by: saturatedNanos(duration))
    }
}
