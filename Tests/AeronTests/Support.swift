import Aeron
import Foundation
import Synchronization
import TestProcesses

/// The shared embedded media driver of this test process (see `TestMediaDriver`).
typealias TestDriver = TestMediaDriver

/// A fresh client of the shared driver with a connected IPC subscription and publication on a stream of its own.
struct IPCStream {
    let client: AeronClient
    let streamId: Int32
    let subscription: Subscription
    let publication: Publication

    struct NotConnected: Error, CustomStringConvertible {
        let streamId: Int32
        var description: String { "IPC stream \(streamId) did not connect within \(TestTiming.hangGuard)" }
    }

    /// Adds the subscription, then the publication (exclusive or concurrent), and waits until both are connected.
    static func connected(exclusive: Bool = false) throws -> IPCStream {
        let client = try TestDriver.client()
        let streamId = TestDriver.uniqueStreamId()
        let subscription = try client.addSubscription(channel: "aeron:ipc", streamId: streamId)
        let publication: Publication =
            exclusive
            ? try client.addExclusivePublication(channel: "aeron:ipc", streamId: streamId)
            : try client.addPublication(channel: "aeron:ipc", streamId: streamId)
        guard waitUntil({ publication.isConnected && subscription.isConnected }) else {
            client.close()
            throw NotConnected(streamId: streamId)
        }
        return IPCStream(client: client, streamId: streamId, subscription: subscription, publication: publication)
    }

    func close() { client.close() }
}

/// Polls `condition` every millisecond until it holds or `timeout` passes; returns whether it held. The timeout is a
/// hang guard (``TestTiming/hangGuard``): the wait ends as soon as the condition holds.
@discardableResult
func waitUntil(timeout: Duration = TestTiming.hangGuard, _ condition: () -> Bool) -> Bool {
    waitFor(timeout: timeout, condition)
}

/// Polls `subscription` until `count` messages arrived or `timeout` (a hang guard) passed; returns the messages.
func receive(
    _ count: Int,
    from subscription: Subscription,
    assembler: FragmentAssembler? = nil,
    timeout: Duration = TestTiming.hangGuard
) -> [[UInt8]] {
    var messages: [[UInt8]] = []
    waitUntil(timeout: timeout) {
        let handler: FragmentHandler = { buffer, _ in messages.append(Array(buffer)) }
        if let assembler {
            _ = subscription.poll(assembler: assembler, fragmentLimit: 64, handler)
        } else {
            _ = subscription.poll(fragmentLimit: 64, handler)
        }
        return messages.count >= count
    }
    return messages
}

/// Offers `message`, retrying while the result is retryable, for up to `timeout` (a hang guard).
@discardableResult
func offerRetrying(
    _ publication: Publication, _ message: [UInt8], timeout: Duration = TestTiming.hangGuard
) -> OfferResult {
    var result = OfferResult.notConnected
    waitUntil(timeout: timeout) {
        result = publication.offer(message)
        return !result.isRetryable
    }
    return result
}

/// A deterministic message of `length` bytes for index `index`.
func patterned(_ index: Int, length: Int) -> [UInt8] {
    (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
}

/// Thread-safe collection for values reported on other threads (image handlers, error handlers).
final class Collected<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}
