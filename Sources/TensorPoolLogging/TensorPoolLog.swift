public import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The swift-log categories of the tensor pool roles, with their levels.
///
/// Each role logs through ``logger(_:)``, labelled `tensorpool.<category>`. The level in force for a category is, in
/// this order: one set with ``setLevel(_:for:)`` for that category; one set for every category (`for: nil`); the
/// environment variable `TP_LOG_LEVEL_<CATEGORY>` (`TP_LOG_LEVEL_CONSUMER=debug`, `TP_LOG_LEVEL_RATE_LIMITER=trace`);
/// `TP_LOG_LEVEL`; `info`. Levels are the names of `Logger.Level` (`trace`, `debug`, `info`, `notice`, `warning`,
/// `error`, `critical`). Nothing is logged per frame: roles log attaches, remaps, grants, discards and failures.
public enum TensorPoolLog {
    /// A role that logs.
    public enum Category: String, CaseIterable, Hashable, Sendable {
        case driver, client, producer, consumer, qos, metadata, supervisor, bridge, discovery
        case rateLimiter = "rate_limiter"

        /// The logger label, `tensorpool.<category>`.
        public var label: String { "tensorpool.\(rawValue)" }

        /// The environment variable that sets this category's level.
        public var environmentVariable: String { "TP_LOG_LEVEL_" + rawValue.uppercased() }
    }

    static let overrides = Mutex<[Category?: Logger.Level]>([:])

    /// Sets the level of `category` (every category when nil); nil `level` removes the setting.
    public static func setLevel(_ level: Logger.Level?, for category: Category? = nil) {
        overrides.withLock { $0[category] = level }
    }

    /// The level in force for `category`.
    public static func level(for category: Category) -> Logger.Level {
        if let level = overrides.withLock({ $0[category] ?? $0[nil] }) { return level }
        for name in [category.environmentVariable, "TP_LOG_LEVEL"] {
            if let value = getenv(name).map({ String(cString: $0) }),
                let level = Logger.Level(rawValue: value.lowercased())
            {
                return level
            }
        }
        return .info
    }

    /// A logger for `category` at its level in force now.
    public static func logger(_ category: Category) -> Logger {
        var logger = Logger(label: category.label)
        logger.logLevel = level(for: category)
        return logger
    }
}
