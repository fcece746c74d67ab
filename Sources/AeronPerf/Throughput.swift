public import Aeron

/// Raw Aeron throughput: one thread offers messages and polls them back, counting messages per second.
///
/// The C program in `Benchmarks/c/` runs the same loop against the same Aeron build, so the ratio of the two shows
/// what the Swift wrapper costs.
public enum Throughput {
    /// The measured rate.
    public struct Result: Sendable {
        /// Messages sent and received.
        public let messages: Int
        /// Message length in bytes.
        public let messageLength: Int
        /// Elapsed wall time in nanoseconds.
        public let elapsedNanos: Int64
        /// Offers that were back-pressured (and retried after a poll).
        public let backPressured: Int

        /// Messages per second.
        public var messagesPerSecond: Double { Double(messages) * 1e9 / Double(max(1, elapsedNanos)) }
        /// Payload bytes per second.
        public var bytesPerSecond: Double { messagesPerSecond * Double(messageLength) }
    }

    /// Offers `messages` messages of `messageLength` bytes to `publication` and receives them from `subscription`
    /// on the calling thread: offer until back-pressured or done, then poll up to 256 fragments, repeat.
    ///
    /// - Throws: ``AeronError`` when the publication closes or the message does not fit in one frame.
    public static func run(
        publication: Publication,
        subscription: Subscription,
        messageLength: Int,
        messages: Int
    ) throws(AeronError) -> Result {
        guard messageLength <= publication.maxPayloadLength else {
            throw AeronError(
                kind: .invalidArgument, operation: "throughput",
                message: "\(messageLength) B does not fit in one frame of \(publication.maxPayloadLength) B")
        }
        try PingPong.awaitConnected(publication, subscription)
        let message = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, messageLength), alignment: 8)
        defer { message.deallocate() }
        message.initializeMemory(as: UInt8.self, repeating: 0x5A)
        let payload = UnsafeRawBufferPointer(rebasing: message[0..<messageLength])

        var discard = Discard()
        var sent = 0
        var received = 0
        var backPressured = 0
        let start = monotonicNow()
        while received < messages {
            while sent < messages {
                let result = publication.offer(payload)
                if result.isSuccess {
                    sent += 1
                } else if result.isRetryable {
                    backPressured += 1
                    break
                } else {
                    throw AeronError(kind: .closed, operation: "throughput offer", message: "offer failed: \(result)")
                }
            }
            received += subscription.poll(into: &discard, fragmentLimit: 256)
        }
        let elapsed = monotonicNow() - start
        return Result(
            messages: messages, messageLength: messageLength, elapsedNanos: elapsed, backPressured: backPressured)
    }
}

/// Receives fragments and does nothing with them: the C baseline's handler.
struct Discard: FragmentHandling {
    @inline(__always)
    func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {}
}
