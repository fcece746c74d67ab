public import Aeron

/// Aeron counter type ids of the tensor pool clients, so Aeron's tools (`tp-aeron counters`, AeronStat) read them
/// from outside the process. The key of each counter is the stream id (u32 LE), the lease id (u64 LE) and the client
/// id (u32 LE).
public enum TensorPoolCounterType {
    /// Producer: frames published (descriptor sent).
    public static let framesPublished: Int32 = 1_100
    /// Producer: frames committed whose descriptor could not be sent.
    public static let descriptorsNotSent: Int32 = 1_101
    /// Consumer: frames accepted.
    public static let framesAccepted: Int32 = 1_110
    /// Consumer: `drops_gap`.
    public static let dropsGap: Int32 = 1_111
    /// Consumer: `drops_late`.
    public static let dropsLate: Int32 = 1_112
    /// Consumer: frames dropped for invalid headers.
    public static let dropsInvalid: Int32 = 1_113
    /// Consumer: remaps to a new epoch.
    public static let remaps: Int32 = 1_114
    /// Supervisor: `ConsumerConfig` messages sent (key: stream 0, lease 0, the supervisor's control session id).
    public static let supervisorConfigsSent: Int32 = 1_120
    /// Supervisor: producers live.
    public static let supervisorProducers: Int32 = 1_121
    /// Supervisor: consumers live.
    public static let supervisorConsumers: Int32 = 1_122
}

/// A set of Aeron counters mirroring a handle's statistics, refreshed from the client's duty cycle. The counters
/// are added asynchronously, so creating them never stalls the duty cycle (and with it the lease keepalives).
package final class CounterSet {
    var pending: [PendingResource<Counter>?]
    var counters: [Counter?]

    package init(
        aeron: AeronClient, streamId: UInt32, leaseId: UInt64, clientId: UInt32, role: String, types: [(Int32, String)]
    ) {
        var key = [UInt8]()
        withUnsafeBytes(of: streamId.littleEndian) { key.append(contentsOf: $0) }
        withUnsafeBytes(of: leaseId.littleEndian) { key.append(contentsOf: $0) }
        withUnsafeBytes(of: clientId.littleEndian) { key.append(contentsOf: $0) }
        pending = types.map { type, name in
            try? aeron.asyncAddCounter(
                typeId: type, key: key,
                label: streamId == 0 ? "tp \(role) \(name)" : "tp \(role) \(name): stream=\(streamId) lease=\(leaseId)")
        }
        counters = Array(repeating: nil, count: types.count)
        pendingCount = pending.count { $0 != nil }
    }

    /// Sets counter `index` to `value` (nothing while the counter is still being added). Allocates nothing.
    package func set(_ index: Int, _ value: UInt64) {
        if pendingCount > 0 { resolve() }
        counters[index]?.set(Int64(truncatingIfNeeded: value))
    }

    var pendingCount: Int

    /// Collects counters whose asynchronous add completed.
    func resolve() {
        var remaining = 0
        for index in counters.indices {
            if counters[index] == nil, let request = pending[index] {
                do {
                    if let counter = try request.poll() {
                        counters[index] = counter
                        pending[index] = nil
                    }
                } catch {
                    pending[index] = nil  // the driver refused it: statistics stay available in process only
                }
            }
            if pending[index] != nil { remaining += 1 }
        }
        pendingCount = remaining
    }

    package func close() {
        for request in pending { request?.cancel() }
        for counter in counters { counter?.close() }
    }
}
