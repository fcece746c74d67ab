/// An inclusive range of Aeron stream IDs the driver may hand out (driver spec §11): `driver.stream_id_range` for
/// streams created on demand, `driver.descriptor_stream_id_range` and `driver.control_stream_id_range` for per-consumer
/// streams.
///
/// Both bounds are included. The TOML forms are a string, `"20000-29999"` (or `"20000,29999"`), and a two-element
/// integer array, `[20000, 29999]`. A range is not checked when it is made: ``DriverConfiguration/validate()`` checks
/// that `lower <= upper` (DRV-11-012) and that ranges overlap neither each other nor the configured stream IDs
/// (DRV-11-009 to DRV-11-011, DRV-11-013).
public struct StreamIdRange: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible {
    /// The first ID of the range.
    public var lower: UInt32

    /// The last ID of the range (included).
    public var upper: UInt32

    /// The range `lower...upper`.
    ///
    /// - Parameters:
    ///   - lower: The first ID.
    ///   - upper: The last ID, included.
    public init(lower: UInt32, upper: UInt32) {
        self.lower = lower
        self.upper = upper
    }

    /// Parses `"<lower>-<upper>"` or `"<lower>,<upper>"`, decimal, with optional blanks around each bound.
    ///
    /// - Parameter description: The text to parse, e.g. `"20000-29999"`.
    /// - Returns: `nil` when the text is not two unsigned 32-bit decimals joined by `-` or `,`. The bounds are not
    ///   required to be in order here; ``DriverConfiguration/validate()`` checks that.
    public init?(_ description: String) {
        for separator: Character in [",", "-"] {
            let parts = description.split(separator: separator, omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            guard let lower = Self.parseBound(parts[0]), let upper = Self.parseBound(parts[1]) else { return nil }
            self.init(lower: lower, upper: upper)
            return
        }
        return nil
    }

    /// Whether `lower <= upper`, that is whether the range holds at least one ID (DRV-11-012).
    public var isWellFormed: Bool { lower <= upper }

    /// The number of IDs in the range; 0 when it is not well formed.
    public var count: UInt64 { isWellFormed ? UInt64(upper) - UInt64(lower) + 1 : 0 }

    /// Whether `id` lies in the range, bounds included.
    ///
    /// - Parameter id: A stream ID.
    /// - Returns: `true` when `lower <= id <= upper`.
    public func contains(_ id: UInt32) -> Bool { lower <= id && id <= upper }

    /// Whether the two ranges share at least one ID. Ranges that are not well formed overlap nothing.
    ///
    /// - Parameter other: Another range.
    /// - Returns: `true` when some ID lies in both.
    public func overlaps(_ other: StreamIdRange) -> Bool {
        isWellFormed && other.isWellFormed && lower <= other.upper && other.lower <= upper
    }

    /// `"<lower>-<upper>"`, the string form the configuration accepts.
    public var description: String { "\(lower)-\(upper)" }

    private static func parseBound(_ text: Substring) -> UInt32? {
        let trimmed = text.trimmingBlanks()
        guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt32(trimmed)
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, carriage returns and newlines.
    func trimmingBlanks() -> Substring {
        let blanks: Set<Character> = [" ", "\t", "\r", "\n"]
        let text = Substring(self)
        guard let first = text.firstIndex(where: { !blanks.contains($0) }),
            let last = text.lastIndex(where: { !blanks.contains($0) })
        else { return "" }
        return text[first...last]
    }
}
