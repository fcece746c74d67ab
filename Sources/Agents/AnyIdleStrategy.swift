/// Any of this module's idle strategies, chosen at run time (for example from configuration through
/// ``IdleStrategyKind``), without an existential box: the concrete strategy is a case of an internal enum and each
/// call is a `switch`, so there is no allocation and no dynamic dispatch.
public struct AnyIdleStrategy: IdleStrategy, Sendable, Hashable {
    @usableFromInline
    enum Storage: Sendable, Hashable {
        case busySpin(BusySpinIdleStrategy)
        case noOp(NoOpIdleStrategy)
        case yielding(YieldingIdleStrategy)
        case sleeping(SleepingIdleStrategy)
        case backoff(BackoffIdleStrategy)
    }

    @usableFromInline var storage: Storage

    /// Wraps a ``BusySpinIdleStrategy``.
    public init(_ strategy: BusySpinIdleStrategy) {
        storage = .busySpin(strategy)
    }

    /// Wraps a ``NoOpIdleStrategy``.
    public init(_ strategy: NoOpIdleStrategy) {
        storage = .noOp(strategy)
    }

    /// Wraps a ``YieldingIdleStrategy``.
    public init(_ strategy: YieldingIdleStrategy) {
        storage = .yielding(strategy)
    }

    /// Wraps a ``SleepingIdleStrategy``.
    public init(_ strategy: SleepingIdleStrategy) {
        storage = .sleeping(strategy)
    }

    /// Wraps a ``BackoffIdleStrategy`` (its current back-off state included).
    public init(_ strategy: BackoffIdleStrategy) {
        storage = .backoff(strategy)
    }

    /// Creates the strategy `kind` describes; the same as `kind.makeStrategy()`.
    public init(_ kind: IdleStrategyKind) {
        self = kind.makeStrategy()
    }

    /// Idles or resets the wrapped strategy according to `workCount`.
    @inlinable
    public mutating func idle(workCount: Int) {
        switch storage {
        case .busySpin(var strategy):
            strategy.idle(workCount: workCount)
        case .noOp:
            break
        case .yielding(var strategy):
            strategy.idle(workCount: workCount)
        case .sleeping(var strategy):
            strategy.idle(workCount: workCount)
        case .backoff(var strategy):
            strategy.idle(workCount: workCount)
            storage = .backoff(strategy)
        }
    }

    /// Idles the wrapped strategy once.
    @inlinable
    public mutating func idle() {
        switch storage {
        case .busySpin(var strategy):
            strategy.idle()
        case .noOp:
            break
        case .yielding(var strategy):
            strategy.idle()
        case .sleeping(var strategy):
            strategy.idle()
        case .backoff(var strategy):
            strategy.idle()
            storage = .backoff(strategy)
        }
    }

    /// Resets the wrapped strategy.
    @inlinable
    public mutating func reset() {
        if case .backoff(var strategy) = storage {
            strategy.reset()
            storage = .backoff(strategy)
        }
    }

    /// The wrapped strategy's alias.
    public var alias: String {
        switch storage {
        case .busySpin(let strategy): strategy.alias
        case .noOp(let strategy): strategy.alias
        case .yielding(let strategy): strategy.alias
        case .sleeping(let strategy): strategy.alias
        case .backoff(let strategy): strategy.alias
        }
    }

    /// The configuration of the wrapped strategy.
    public var kind: IdleStrategyKind {
        switch storage {
        case .busySpin: .busySpin
        case .noOp: .noOp
        case .yielding: .yielding
        case .sleeping(let strategy): .sleeping(nanos: strategy.sleepNanos)
        case .backoff(let strategy):
            .backoff(
                maxSpins: strategy.maxSpins,
                maxYields: strategy.maxYields,
                minParkNanos: strategy.minParkNanos,
                maxParkNanos: strategy.maxParkNanos
            )
        }
    }
}
