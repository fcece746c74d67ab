/// A repeating timer checked from a duty cycle: ``poll(now:)`` returns `true` at most once per elapsed interval.
///
/// When it fires, the next deadline is `now + interval`, measured from the poll that saw it fire rather than from
/// the missed deadline, so a duty cycle that stalled for many intervals fires once, not once per missed interval.
/// Times are nanoseconds on any one ``NanoClock``.
public struct PolledTimer: Sendable, Hashable {
    /// The interval in nanoseconds (`0` fires on every poll).
    public var intervalNanos: Int64 { interval }

    /// The time at or after which the next ``poll(now:)`` fires.
    public var deadline: Int64 { nextDeadline }

    @usableFromInline var interval: Int64
    @usableFromInline var nextDeadline: Int64

    /// Creates a timer that first fires `intervalNanos` after `now`.
    public init(intervalNanos: Int64, now: Int64) {
        precondition(intervalNanos >= 0, "intervalNanos must not be negative")
        self.interval = intervalNanos
        self.nextDeadline = saturatedAdd(now, intervalNanos)
    }

    /// Creates a timer that first fires `interval` after `now`.
    public init(interval: Duration, now: Int64) {
        self.init(intervalNanos: saturatedNanos(interval), now: now)
    }

    /// Returns `true` if the deadline has passed, and then reschedules it to `now + intervalNanos`.
    @inlinable
    public mutating func poll(now: Int64) -> Bool {
        guard now >= nextDeadline else { return false }
        nextDeadline = saturatedAdd(now, interval)
        return true
    }

    /// Reschedules the next firing to `now + intervalNanos`.
    @inlinable
    public mutating func reset(now: Int64) {
        nextDeadline = saturatedAdd(now, interval)
    }

    /// Changes the interval and reschedules the next firing to `now + intervalNanos`.
    public mutating func setInterval(_ intervalNanos: Int64, now: Int64) {
        precondition(intervalNanos >= 0, "intervalNanos must not be negative")
        interval = intervalNanos
        nextDeadline = saturatedAdd(now, intervalNanos)
    }

    /// Changes the interval, keeping the time the current interval started: the next firing moves by the
    /// difference between the new and the old interval.
    public mutating func setInterval(_ intervalNanos: Int64) {
        precondition(intervalNanos >= 0, "intervalNanos must not be negative")
        let intervalStart = nextDeadline &- interval
        interval = intervalNanos
        nextDeadline = saturatedAdd(intervalStart, intervalNanos)
    }
}

/// A one-shot deadline: expired once the clock reaches ``expiresAt``. Times are nanoseconds on any one
/// ``NanoClock``.
public struct Deadline: Sendable, Hashable, Comparable {
    /// The time at which the deadline expires.
    public let expiresAt: Int64

    /// A deadline `nanos` after `now` (saturating at `Int64.max`).
    public init(after nanos: Int64, now: Int64) {
        expiresAt = saturatedAdd(now, nanos)
    }

    /// A deadline `duration` after `now`.
    public init(after duration: Duration, now: Int64) {
        self.init(after: saturatedNanos(duration), now: now)
    }

    /// A deadline at the absolute time `expiresAt`.
    public init(at expiresAt: Int64) {
        self.expiresAt = expiresAt
    }

    /// `true` once `now` has reached ``expiresAt``.
    @inlinable
    public func isExpired(now: Int64) -> Bool {
        now >= expiresAt
    }

    /// Nanoseconds left until ``expiresAt`` (`0` once expired).
    @inlinable
    public func remaining(now: Int64) -> Int64 {
        now >= expiresAt ? 0 : expiresAt &- now
    }

    /// Orders deadlines by expiry time.
    public static func < (lhs: Deadline, rhs: Deadline) -> Bool {
        lhs.expiresAt < rhs.expiresAt
    }
}
