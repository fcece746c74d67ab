/// The configuration of an idle strategy, parsed from text such as `"spin"`, `"noop"`, `"yield"`, `"sleep:250us"`
/// or `"backoff:10,5,1us,1ms"`, and turned into a strategy with ``makeStrategy()``.
///
/// Grammar (case-insensitive, surrounding whitespace ignored):
/// - `spin` (also `busy-spin`, `busyspin`, `busy_spin`): ``BusySpinIdleStrategy``.
/// - `noop` (also `no-op`, `no_op`): ``NoOpIdleStrategy``.
/// - `yield` (also `yielding`): ``YieldingIdleStrategy``.
/// - `sleep[:PERIOD]` (also `sleeping`, `sleep-ns`): ``SleepingIdleStrategy``, period 1 µs when omitted.
/// - `backoff[:MAXSPINS,MAXYIELDS,MINPARK,MAXPARK]`: ``BackoffIdleStrategy``, Agrona's defaults when omitted.
///
/// A period is a non-negative integer with an optional unit: `ns` (the default), `us` (or `µs`), `ms` or `s`.
/// ``description`` prints the canonical form, which parses back to the same value.
public enum IdleStrategyKind: Sendable, Hashable, LosslessStringConvertible {
    /// ``BusySpinIdleStrategy``.
    case busySpin
    /// ``NoOpIdleStrategy``.
    case noOp
    /// ``YieldingIdleStrategy``.
    case yielding
    /// ``SleepingIdleStrategy`` sleeping `nanos` nanoseconds (must not be negative).
    case sleeping(nanos: Int64)
    /// ``BackoffIdleStrategy`` with these parameters (which must satisfy its preconditions).
    case backoff(maxSpins: Int, maxYields: Int, minParkNanos: Int64, maxParkNanos: Int64)

    /// `sleep` with the default period (1 µs).
    public static let defaultSleeping = IdleStrategyKind.sleeping(nanos: SleepingIdleStrategy.defaultSleepNanos)

    /// `backoff` with Agrona's defaults: 10 spins, 5 yields, parks from 1 µs to 1 ms.
    public static let defaultBackoff = IdleStrategyKind.backoff(
        maxSpins: BackoffIdleStrategy.defaultMaxSpins,
        maxYields: BackoffIdleStrategy.defaultMaxYields,
        minParkNanos: BackoffIdleStrategy.defaultMinParkNanos,
        maxParkNanos: BackoffIdleStrategy.defaultMaxParkNanos
    )

    /// Parses `text` (see the type's grammar).
    ///
    /// - Throws: ``IdleStrategyParseError`` naming `text` and what is wrong with it.
    public init(parsing text: String) throws(IdleStrategyParseError) {
        let normalized = text[...].trimmingWhitespace().lowercased()
        let name: Substring
        let argument: Substring?
        if let colon = normalized.firstIndex(of: ":") {
            name = normalized[..<colon].trimmingWhitespace()
            argument = normalized[normalized.index(after: colon)...].trimmingWhitespace()
        } else {
            name = normalized[...]
            argument = nil
        }

        func failure(_ reason: String) -> IdleStrategyParseError {
            IdleStrategyParseError(input: text, reason: reason)
        }

        func noArgument(_ kind: IdleStrategyKind) throws(IdleStrategyParseError) -> IdleStrategyKind {
            guard argument == nil else { throw failure("\"\(name)\" takes no parameters") }
            return kind
        }

        switch name {
        case "spin", "busy-spin", "busyspin", "busy_spin":
            self = try noArgument(.busySpin)
        case "noop", "no-op", "no_op":
            self = try noArgument(.noOp)
        case "yield", "yielding":
            self = try noArgument(.yielding)
        case "sleep", "sleeping", "sleep-ns":
            guard let argument else {
                self = .defaultSleeping
                return
            }
            guard let nanos = parseNanos(argument) else {
                throw failure("bad sleep period \"\(argument)\" (expected e.g. 100ns, 250us, 1ms, 1s)")
            }
            self = .sleeping(nanos: nanos)
        case "backoff":
            guard let argument else {
                self = .defaultBackoff
                return
            }
            let parts = argument.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingWhitespace()
            }
            guard parts.count == 4 else {
                throw failure("backoff takes 4 parameters, maxSpins,maxYields,minPark,maxPark (e.g. 10,5,1us,1ms)")
            }
            guard let maxSpins = Int(parts[0]), maxSpins >= 0 else {
                throw failure("bad backoff maxSpins \"\(parts[0])\" (expected a non-negative integer)")
            }
            guard let maxYields = Int(parts[1]), maxYields >= 0 else {
                throw failure("bad backoff maxYields \"\(parts[1])\" (expected a non-negative integer)")
            }
            guard let minPark = parseNanos(parts[2]), minPark >= 1 else {
                throw failure("bad backoff minPark \"\(parts[2])\" (expected a positive period, e.g. 1us)")
            }
            guard let maxPark = parseNanos(parts[3]) else {
                throw failure("bad backoff maxPark \"\(parts[3])\" (expected a period, e.g. 1ms)")
            }
            guard maxPark >= minPark else {
                throw failure("backoff maxPark \"\(parts[3])\" is shorter than minPark \"\(parts[2])\"")
            }
            self = .backoff(maxSpins: maxSpins, maxYields: maxYields, minParkNanos: minPark, maxParkNanos: maxPark)
        default:
            throw failure(
                "unknown idle strategy \"\(name)\" (expected spin, noop, yield, sleep[:PERIOD] or "
                    + "backoff[:MAXSPINS,MAXYIELDS,MINPARK,MAXPARK])"
            )
        }
    }

    /// Parses `description`, or returns `nil` if it is not a valid idle strategy (use ``init(parsing:)`` to learn
    /// why).
    public init?(_ description: String) {
        guard let kind = try? IdleStrategyKind(parsing: description) else { return nil }
        self = kind
    }

    /// The canonical text form, for example `"spin"`, `"sleep:250us"` or `"backoff:10,5,1us,1ms"`.
    public var description: String {
        switch self {
        case .busySpin:
            "spin"
        case .noOp:
            "noop"
        case .yielding:
            "yield"
        case .sleeping(let nanos):
            "sleep:\(formatNanos(nanos))"
        case .backoff(let maxSpins, let maxYields, let minParkNanos, let maxParkNanos):
            "backoff:\(maxSpins),\(maxYields),\(formatNanos(minParkNanos)),\(formatNanos(maxParkNanos))"
        }
    }

    /// Creates a fresh strategy of this kind. Traps if the associated values break the strategy's preconditions
    /// (values produced by ``init(parsing:)`` never do).
    public func makeStrategy() -> AnyIdleStrategy {
        switch self {
        case .busySpin:
            AnyIdleStrategy(BusySpinIdleStrategy())
        case .noOp:
            AnyIdleStrategy(NoOpIdleStrategy())
        case .yielding:
            AnyIdleStrategy(YieldingIdleStrategy())
        case .sleeping(let nanos):
            AnyIdleStrategy(SleepingIdleStrategy(sleepNanos: nanos))
        case .backoff(let maxSpins, let maxYields, let minParkNanos, let maxParkNanos):
            AnyIdleStrategy(
                BackoffIdleStrategy(
                    maxSpins: maxSpins,
                    maxYields: maxYields,
                    minParkNanos: minParkNanos,
                    maxParkNanos: maxParkNanos
                )
            )
        }
    }
}

/// Why a text could not be parsed as an ``IdleStrategyKind``.
public struct IdleStrategyParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text that failed to parse, exactly as given.
    public let input: String
    /// What is wrong with it.
    public let reason: String

    /// Creates an error for `input`.
    public init(input: String, reason: String) {
        self.input = input
        self.reason = reason
    }

    /// A one-line message naming the input, for example
    /// `invalid idle strategy "sleep:1xs": bad sleep period "1xs" (expected e.g. 100ns, 250us, 1ms, 1s)`.
    public var message: String {
        "invalid idle strategy \"\(input)\": \(reason)"
    }

    /// The same as ``message``.
    public var description: String { message }
}

/// Parses a non-negative period such as `100`, `100ns`, `250us`, `250µs`, `1ms` or `2s` into nanoseconds; `nil` if
/// malformed or beyond `Int64`.
private func parseNanos(_ text: Substring) -> Int64? {
    let digitsEnd = text.firstIndex { !("0"..."9").contains($0) } ?? text.endIndex
    guard digitsEnd > text.startIndex, let value = Int64(text[..<digitsEnd]) else { return nil }
    let multiplier: Int64
    switch text[digitsEnd...] {
    case "", "ns": multiplier = 1
    case "us", "µs", "μs": multiplier = 1_000
    case "ms": multiplier = 1_000_000
    case "s": multiplier = 1_000_000_000
    default: return nil
    }
    let (nanos, overflow) = value.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : nanos
}

/// Formats nanoseconds with the largest unit that divides them exactly: `1s`, `1ms`, `250us`, `100ns`.
private func formatNanos(_ nanos: Int64) -> String {
    guard nanos != 0 else { return "0ns" }
    if nanos % 1_000_000_000 == 0 { return "\(nanos / 1_000_000_000)s" }
    if nanos % 1_000_000 == 0 { return "\(nanos / 1_000_000)ms" }
    if nanos % 1_000 == 0 { return "\(nanos / 1_000)us" }
    return "\(nanos)ns"
}

extension Substring {
    /// The text without leading and trailing whitespace.
    fileprivate func trimmingWhitespace() -> Substring {
        guard let first = firstIndex(where: { !$0.isWhitespace }) else { return self[endIndex...] }
        let last = lastIndex(where: { !$0.isWhitespace }) ?? first
        return self[first...last]
    }
}
