import Agents
public import TensorPoolWire

/// Where the driver's outgoing messages go: the control-plane stream (responses, revocations, shutdown) and the
/// announce stream (`ShmPoolAnnounce`). The agent backs it with Aeron publications; tests capture the bytes.
public protocol DriverOutput: AnyObject {
    /// Sends one encoded control-plane message; returns whether it was accepted.
    func sendControl(_ message: UnsafeRawBufferPointer) -> Bool
    /// Sends one encoded `ShmPoolAnnounce`; returns whether it was accepted.
    func sendAnnounce(_ message: UnsafeRawBufferPointer) -> Bool
}

/// The driver's two time sources, injectable for tests.
///
/// Every time value the driver writes or compares is on ``monotonicNs()``, as both peer implementations do: the
/// superblocks' `start_timestamp_ns` and `activity_timestamp_ns`, `leaseExpiryTimestampNs`, the `timestampNs` of
/// `ShmLeaseRevoked` and `ShmDriverShutdown`, `announce_timestamp_ns` (clock domain MONOTONIC), and its own
/// deadlines, cadences and epoch-GC ages. ``epochClockNs()`` only seeds epochs.
public protocol DriverClock: AnyObject {
    /// `CLOCK_MONOTONIC` nanoseconds (since boot): the clock of every timestamp and deadline.
    func monotonicNs() -> UInt64
    /// `CLOCK_REALTIME` nanoseconds, used only as the floor of a new epoch so that a restarted driver never reuses
    /// one (an epoch identifies a layout generation; it is not a timestamp and is never compared with one).
    func epochClockNs() -> UInt64
}

/// The system clocks.
public final class SystemDriverClock: DriverClock {
    /// The system clocks.
    public init() {}

    /// `CLOCK_MONOTONIC` in nanoseconds.
    public func monotonicNs() -> UInt64 { UInt64(MonotonicClock.now()) }

    /// `CLOCK_REALTIME` in nanoseconds (epochs only).
    public func epochClockNs() -> UInt64 { UInt64(EpochNanoClock.now()) }
}

/// The lease lifecycle of driver spec §4.7: ATTACHED → ACTIVE → one of the three terminal states.
public enum LeaseState: String, Hashable, Sendable {
    /// Issued by a successful attach; no keepalive yet.
    case attached
    /// Kept alive by keepalives.
    case active
    /// Ended by a detach (terminal).
    case detached
    /// Ended by a missed keepalive deadline (terminal).
    case expired
    /// Ended by the driver (terminal).
    case revoked

    /// Whether the lease is still valid.
    public var isLive: Bool { self == .attached || self == .active }

    /// The state an event moves the lease to, or `nil` when the event is not allowed in this state.
    public func after(_ event: LeaseEvent) -> LeaseState? {
        switch (self, event) {
        case (.attached, .keepalive), (.active, .keepalive): .active
        case (.attached, .detach), (.active, .detach): .detached
        case (.attached, .expire), (.active, .expire): .expired
        case (.attached, .revoke), (.active, .revoke): .revoked
        default: nil
        }
    }

    /// The `ShmLeaseRevoked` reason of a terminal state.
    public var revokeReason: DriverSchema.LeaseRevokeReason? {
        switch self {
        case .detached: .detached
        case .expired: .expired
        case .revoked: .revoked
        default: nil
        }
    }
}

/// What can happen to a lease.
public enum LeaseEvent: Hashable, Sendable {
    /// A valid keepalive.
    case keepalive
    /// A matching detach.
    case detach
    /// The keepalive deadline passed.
    case expire
    /// The driver ended the lease (shutdown, policy).
    case revoke
}

/// One lease the driver issued (§4.1).
public struct Lease: Hashable, Sendable {
    /// Opaque identifier, never reused within this driver process (§4.8).
    public let id: UInt64
    /// The stream it is bound to.
    public let streamId: UInt32
    /// The client holding it.
    public let clientId: UInt32
    /// Producer or consumer.
    public let role: DriverSchema.Role
    /// TraceLink node id assigned with it.
    public let nodeId: UInt32
    /// Correlation id of the attach that created it (a retry with the same id gets the same answer).
    public let attachCorrelationId: Int64
    /// Monotonic deadline for the next keepalive.
    public var expiresAtNs: UInt64
    /// Lifecycle state.
    public var state: LeaseState
}

/// Why the driver could not start.
public struct DriverError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What failed.
    public var message: String

    /// An error with `message`.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// The driver's lifecycle (§4.13).
public enum DriverRunState: Hashable, Sendable {
    /// Serving requests.
    case running
    /// A shutdown was accepted; attaches are refused until the deadline, then `ShmDriverShutdown` goes out.
    case draining(deadlineNs: UInt64, reason: DriverSchema.ShutdownReason)
    /// `ShmDriverShutdown` was published; the agent should stop.
    case stopped
}

/// Counters of what the driver did, for diagnostics and tests.
public struct DriverCounters: Hashable, Sendable {
    /// Attach requests received.
    public var attachRequests: UInt64 = 0
    /// Attaches answered OK.
    public var attachesGranted: UInt64 = 0
    /// Attaches refused (any non-OK code).
    public var attachesRefused: UInt64 = 0
    /// Detaches answered OK.
    public var detaches: UInt64 = 0
    /// Keepalives that extended a lease.
    public var keepalives: UInt64 = 0
    /// Keepalives that matched no live lease.
    public var keepalivesIgnored: UInt64 = 0
    /// Leases that expired.
    public var leasesExpired: UInt64 = 0
    /// `ShmLeaseRevoked` messages sent.
    public var revocationsSent: UInt64 = 0
    /// `ShmPoolAnnounce` messages sent.
    public var announcesSent: UInt64 = 0
    /// Messages that could not be decoded or were not driver requests.
    public var malformedMessages: UInt64 = 0
    /// Shutdown requests ignored for a missing or wrong token.
    public var shutdownRequestsRefused: UInt64 = 0
    /// Outgoing messages the publication did not accept.
    public var sendFailures: UInt64 = 0
    /// Epoch directories removed by the garbage collector.
    public var epochDirectoriesCollected: UInt64 = 0

    /// All zero.
    public init() {}
}
