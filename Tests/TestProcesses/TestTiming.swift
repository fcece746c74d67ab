/// Timings for tests and conformance cases that run on real clocks, on a machine that may be busy.
///
/// The rule these values encode: a test never depends on how fast the machine is. A wait for something that must
/// happen ends when it happens; its deadline is only a hang guard and never fails a test on a slow machine. Leases and
/// other liveness timeouts are long enough that a process descheduled for a second or two keeps them. A case that
/// tests an expiry itself drives time with an injected clock, or waits for the expiry under the hang guard without
/// asserting how long it took.
public enum TestTiming {
    /// How long a wait for something that must happen may take before the test calls it a hang.
    public static let hangGuard: Duration = .seconds(60)

    /// The driver's lease keepalive interval (`policies.lease_keepalive_interval_ms`) in test configurations on real
    /// clocks.
    public static let leaseKeepaliveIntervalMs = 1_000

    /// Keepalive intervals missed before a lease expires (`policies.lease_expiry_grace_intervals`): with
    /// ``leaseKeepaliveIntervalMs`` a lease lives 5 s without keepalives.
    public static let leaseExpiryGraceIntervals = 5

    /// How long a lease lives without keepalives in test configurations on real clocks.
    public static var leaseExpiry: Duration { .milliseconds(leaseKeepaliveIntervalMs * leaseExpiryGraceIntervals) }

    /// The `[policies]` lines that set the lease timings above, for test driver configurations.
    public static var leasePolicies: String {
        "lease_keepalive_interval_ms = \(leaseKeepaliveIntervalMs)\n"
            + "lease_expiry_grace_intervals = \(leaseExpiryGraceIntervals)\n"
    }

    /// How often test clients send keepalives: several per driver interval, so a late one costs nothing.
    public static let clientKeepaliveIntervalNs: UInt64 = 250_000_000

    /// How long a test client waits for the driver's answer to one attach attempt before it asks again.
    public static let attachAttemptTimeoutNs: UInt64 = 2_000_000_000
}
