/// How a duty-cycle thread waits when its agent had nothing to do, modelled on Agrona's `IdleStrategy` and Aeron's C
/// idle strategies.
///
/// Strategies are small value types owned by one duty-cycle thread; they keep their back-off state in stored
/// properties, so each thread needs its own copy. The runner and invoker are generic over the strategy, so the
/// calls below are statically dispatched.
public protocol IdleStrategy {
    /// Idles if `workCount` is zero or less and resets the strategy's back-off state if it is positive.
    mutating func idle(workCount: Int)

    /// Idles once, advancing the back-off state, whatever the last work count was.
    mutating func idle()

    /// Returns the strategy to its not-idle state, as after a cycle that did work.
    mutating func reset()

    /// A short name for configuration and diagnostics (`"spin"`, `"noop"`, `"yield"`, `"sleep"`, `"backoff"`).
    var alias: String { get }
}

extension IdleStrategy {
    /// Calls ``reset()`` if `workCount` is positive, else ``idle()``.
    @inlinable
    public mutating func idle(workCount: Int) {
        if workCount > 0 {
            reset()
        } else {
            idle()
        }
    }
}

/// Spins without giving up the CPU, with a spin-loop hint on each idle: the lowest latency, at the cost of a fully
/// busy core. Agrona's `BusySpinIdleStrategy`. The hint is the x86-64 `pause` instruction in optimized builds (as
/// Aeron's C busy-spin strategy does) and nothing in debug builds or on other architectures.
public struct BusySpinIdleStrategy: IdleStrategy, Sendable, Hashable {
    /// Creates the strategy.
    public init() {}

    /// Issues a spin-loop hint if `workCount` is zero or less.
    @inlinable
    public mutating func idle(workCount: Int) {
        if workCount <= 0 {
            spinLoopHint()
        }
    }

    /// Issues a spin-loop hint.
    @inlinable
    public mutating func idle() {
        spinLoopHint()
    }

    /// Does nothing: the strategy has no state.
    @inlinable
    public mutating func reset() {}

    /// `"spin"`.
    public var alias: String { "spin" }
}

/// Does nothing at all when idle: the duty cycle goes straight to the next ``Agent/doWork()``. Agrona's
/// `NoOpIdleStrategy`.
public struct NoOpIdleStrategy: IdleStrategy, Sendable, Hashable {
    /// Creates the strategy.
    public init() {}

    /// Does nothing.
    @inlinable
    public mutating func idle(workCount: Int) {}

    /// Does nothing.
    @inlinable
    public mutating func idle() {}

    /// Does nothing.
    @inlinable
    public mutating func reset() {}

    /// `"noop"`.
    public var alias: String { "noop" }
}

/// Yields the processor (`sched_yield`) when idle. Agrona's `YieldingIdleStrategy`.
public struct YieldingIdleStrategy: IdleStrategy, Sendable, Hashable {
    /// Creates the strategy.
    public init() {}

    /// Yields if `workCount` is zero or less.
    @inlinable
    public mutating func idle(workCount: Int) {
        if workCount <= 0 {
            yieldThread()
        }
    }

    /// Yields.
    @inlinable
    public mutating func idle() {
        yieldThread()
    }

    /// Does nothing: the strategy has no state.
    @inlinable
    public mutating func reset() {}

    /// `"yield"`.
    public var alias: String { "yield" }
}

/// Sleeps a fixed period (`nanosleep`) when idle. Agrona's `SleepingIdleStrategy`.
///
/// The operating system rounds short sleeps up (often to tens of microseconds on Linux), so this strategy trades
/// latency for an almost idle core.
public struct SleepingIdleStrategy: IdleStrategy, Sendable, Hashable {
    /// The default sleep period: 1 µs, as in Agrona.
    public static let defaultSleepNanos: Int64 = 1_000

    /// How long each idle sleeps, in nanoseconds.
    public let sleepNanos: Int64

    /// Creates the strategy; `sleepNanos` must not be negative.
    public init(sleepNanos: Int64 = SleepingIdleStrategy.defaultSleepNanos) {
        precondition(sleepNanos >= 0, "sleepNanos must not be negative")
        self.sleepNanos = sleepNanos
    }

    /// Sleeps ``sleepNanos`` if `workCount` is zero or less.
    @inlinable
    public mutating func idle(workCount: Int) {
        if workCount <= 0 {
            sleepThread(nanos: sleepNanos)
        }
    }

    /// Sleeps ``sleepNanos``.
    @inlinable
    public mutating func idle() {
        sleepThread(nanos: sleepNanos)
    }

    /// Does nothing: the strategy has no state.
    @inlinable
    public mutating func reset() {}

    /// `"sleep"`.
    public var alias: String { "sleep" }
}

/// Backs off progressively while idle, Agrona's `BackoffIdleStrategy`: first spins (with a spin-loop hint) up to
/// ``maxSpins`` times, then yields up to ``maxYields`` times, then parks (sleeps) for a period that starts at
/// ``minParkNanos`` and doubles on each idle up to ``maxParkNanos``. Any cycle that did work resets it.
///
/// The states are NOT_IDLE → SPINNING → YIELDING → PARKING, with the same counting as Agrona: the first idle only
/// enters SPINNING, the move to YIELDING happens on the idle after `maxSpins` spins and the move to PARKING on the
/// idle after `maxYields` yields (neither of those two idles waits).
public struct BackoffIdleStrategy: IdleStrategy, Sendable, Hashable {
    /// Agrona's default number of spins: 10.
    public static let defaultMaxSpins = 10
    /// Agrona's default number of yields: 5.
    public static let defaultMaxYields = 5
    /// Agrona's default shortest park: 1 µs.
    public static let defaultMinParkNanos: Int64 = 1_000
    /// Agrona's default longest park: 1 ms.
    public static let defaultMaxParkNanos: Int64 = 1_000_000

    /// The back-off phase. Internal; tests observe it through `@testable import`.
    @usableFromInline
    enum State: UInt8, Sendable, Hashable {
        case notIdle
        case spinning
        case yielding
        case parking
    }

    /// Spins before yielding.
    public let maxSpins: Int
    /// Yields before parking.
    public let maxYields: Int
    /// The first park period, in nanoseconds.
    public let minParkNanos: Int64
    /// The longest park period, in nanoseconds.
    public let maxParkNanos: Int64

    @usableFromInline var state: State = .notIdle
    @usableFromInline var spins = 0
    @usableFromInline var yields = 0
    @usableFromInline var parkPeriodNanos: Int64

    /// Creates the strategy. Requires `maxSpins >= 0`, `maxYields >= 0`, `minParkNanos >= 1` and
    /// `maxParkNanos >= minParkNanos`.
    public init(
        maxSpins: Int = BackoffIdleStrategy.defaultMaxSpins,
        maxYields: Int = BackoffIdleStrategy.defaultMaxYields,
        minParkNanos: Int64 = BackoffIdleStrategy.defaultMinParkNanos,
        maxParkNanos: Int64 = BackoffIdleStrategy.defaultMaxParkNanos
    ) {
        precondition(maxSpins >= 0, "maxSpins must not be negative")
        precondition(maxYields >= 0, "maxYields must not be negative")
        precondition(minParkNanos >= 1, "minParkNanos must be at least 1")
        precondition(maxParkNanos >= minParkNanos, "maxParkNanos must be at least minParkNanos")
        self.maxSpins = maxSpins
        self.maxYields = maxYields
        self.minParkNanos = minParkNanos
        self.maxParkNanos = maxParkNanos
        self.parkPeriodNanos = minParkNanos
    }

    /// Resets if `workCount` is positive, else backs off one step.
    @inlinable
    public mutating func idle(workCount: Int) {
        if workCount > 0 {
            reset()
        } else {
            idle()
        }
    }

    /// Backs off one step: spin, yield or park, according to the current state.
    @inlinable
    public mutating func idle() {
        switch state {
        case .notIdle:
            state = .spinning
            spins += 1
        case .spinning:
            spinLoopHint()
            spins += 1
            if spins > maxSpins {
                state = .yielding
                yields = 0
            }
        case .yielding:
            yields += 1
            if yields > maxYields {
                state = .parking
                parkPeriodNanos = minParkNanos
            } else {
                yieldThread()
            }
        case .parking:
            sleepThread(nanos: parkPeriodNanos)
            parkPeriodNanos = parkPeriodNanos > maxParkNanos >> 1 ? maxParkNanos : parkPeriodNanos << 1
        }
    }

    /// Returns to NOT_IDLE with the counters cleared and the park period at ``minParkNanos``.
    @inlinable
    public mutating func reset() {
        spins = 0
        yields = 0
        parkPeriodNanos = minParkNanos
        state = .notIdle
    }

    /// `"backoff"`.
    public var alias: String { "backoff" }
}
