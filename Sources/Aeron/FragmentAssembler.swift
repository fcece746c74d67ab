import CAeron

/// Joins the fragments of messages larger than one frame (above ``Publication/maxPayloadLength``) before they reach
/// a handler, keeping one reassembly buffer per publisher session.
///
/// Use one assembler per subscription and poll it from one thread: ``Subscription/poll(assembler:fragmentLimit:_:)``.
/// Unfragmented messages pass straight through without a copy.
public final class FragmentAssembler {
    private var assembler: OpaquePointer?
    /// The handler of the poll in progress, set only for the duration of one poll.
    private var current: UnsafePointer<FragmentTarget>?

    /// Creates an assembler.
    ///
    /// - Throws: ``AeronError`` when the C assembler cannot be allocated.
    public init() throws(AeronError) {
        clearAeronError()
        var pointer: OpaquePointer?
        let clientd = Unmanaged.passUnretained(self).toOpaque()
        try check(
            aeron_fragment_assembler_create(&pointer, assembledTrampoline, clientd),
            "aeron_fragment_assembler_create")
        assembler = pointer
    }

    deinit {
        if let assembler { aeron_fragment_assembler_delete(assembler) }
    }

    @usableFromInline
    func poll(_ subscription: OpaquePointer?, _ target: UnsafePointer<FragmentTarget>, fragmentLimit: Int) -> Int {
        guard let assembler, let subscription else { return 0 }
        current = target
        defer { current = nil }
        return Int(
            aeron_subscription_poll(
                subscription, aeron_fragment_assembler_handler, UnsafeMutableRawPointer(assembler), fragmentLimit))
    }

    @inline(__always)
    fileprivate func deliver(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
        guard let current else { return }
        current.pointee.handlerType.deliver(current.pointee.target, buffer, header)
    }
}

private let assembledTrampoline:
    @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<UInt8>?, Int, OpaquePointer?) -> Void = {
        clientd, buffer, length, header in
        let assembler = Unmanaged<FragmentAssembler>.fromOpaque(clientd.unsafelyUnwrapped).takeUnretainedValue()
        assembler.deliver(
            UnsafeRawBufferPointer(start: buffer, count: length), FragmentHeader(header.unsafelyUnwrapped))
    }
