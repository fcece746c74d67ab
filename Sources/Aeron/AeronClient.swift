import CAeron
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A connection to an Aeron media driver: the factory for publications, subscriptions and counters.
///
/// The client owns its C context and every resource added through it. Resources keep their client alive, so a client
/// is released only after its last publication, subscription and counter. ``close()`` may be called earlier: it
/// closes the C client, which frees every resource in one go, and marks each Swift resource closed first so that
/// later calls on them return ``OfferResult/closed`` or empty results instead of touching freed memory.
///
/// Stop using a resource on every thread before closing it or its client; closing does not wait for a concurrent
/// `offer` or `poll` to finish. Methods of the client itself are thread-safe, as in the C client.
public final class AeronClient: @unchecked Sendable {
    /// The `aeron_t` handle; valid until ``close()``.
    let handle: OpaquePointer
    private let contextHandle: OpaquePointer
    private let errorHandlerBox: Unmanaged<ErrorHandlerBox>
    private let closedFlag = Atomic<Bool>(false)
    let registry = ResourceRegistry()

    /// Whether the caller drives the client conductor with ``doWork()`` (no conductor thread).
    public let usesConductorAgentInvoker: Bool
    /// The media driver directory this client is connected to.
    public let directory: String

    /// Connects to the media driver described by `context` and starts the client conductor.
    ///
    /// - Throws: ``AeronError`` when the context is rejected or no driver answers within the driver timeout.
    public init(context: AeronContext = AeronContext()) throws(AeronError) {
        clearAeronError()
        var contextPointer: OpaquePointer?
        try check(aeron_context_init(&contextPointer), "aeron_context_init")
        guard let contextHandle = contextPointer else { throw AeronError.lastError("aeron_context_init") }

        let box = Unmanaged.passRetained(ErrorHandlerBox(context.errorHandler))
        do {
            try Self.apply(context, to: contextHandle, errorHandler: box)
        } catch {
            aeron_context_close(contextHandle)
            box.release()
            throw error
        }

        var clientPointer: OpaquePointer?
        if aeron_init(&clientPointer, contextHandle) < 0 || clientPointer == nil {
            let error = AeronError.lastError("aeron_init")
            aeron_context_close(contextHandle)
            box.release()
            throw error
        }
        let clientHandle = clientPointer!
        if aeron_start(clientHandle) < 0 {
            let error = AeronError.lastError("aeron_start")
            aeron_close(clientHandle)
            aeron_context_close(contextHandle)
            box.release()
            throw error
        }
        self.handle = clientHandle
        self.contextHandle = contextHandle
        self.errorHandlerBox = box
        self.usesConductorAgentInvoker = context.useConductorAgentInvoker
        self.directory = aeron_context_get_dir(contextHandle).map { String(cString: $0) } ?? ""
    }

    private static func apply(
        _ context: AeronContext,
        to handle: OpaquePointer,
        errorHandler box: Unmanaged<ErrorHandlerBox>
    ) throws(AeronError) {
        if let directory = context.directory {
            try check(aeron_context_set_dir(handle, directory), "aeron_context_set_dir")
        }
        if let timeout = context.driverTimeout {
            try check(
                aeron_context_set_driver_timeout_ms(handle, UInt64(max(0, timeout.wholeMilliseconds))),
                "aeron_context_set_driver_timeout_ms")
        }
        if let interval = context.keepaliveInterval {
            try check(
                aeron_context_set_keepalive_interval_ns(handle, interval.unsignedNanoseconds),
                "aeron_context_set_keepalive_interval_ns")
        }
        if let linger = context.resourceLingerDuration {
            try check(
                aeron_context_set_resource_linger_duration_ns(handle, linger.unsignedNanoseconds),
                "aeron_context_set_resource_linger_duration_ns")
        }
        if let sleep = context.idleSleepDuration {
            try check(
                aeron_context_set_idle_sleep_duration_ns(handle, sleep.unsignedNanoseconds),
                "aeron_context_set_idle_sleep_duration_ns")
        }
        if let name = context.clientName {
            try check(aeron_context_set_client_name(handle, name), "aeron_context_set_client_name")
        }
        if let preTouch = context.preTouchMappedMemory {
            try check(
                aeron_context_set_pre_touch_mapped_memory(handle, preTouch),
                "aeron_context_set_pre_touch_mapped_memory")
        }
        try check(
            aeron_context_set_use_conductor_agent_invoker(handle, context.useConductorAgentInvoker),
            "aeron_context_set_use_conductor_agent_invoker")
        try check(
            aeron_context_set_error_handler(handle, errorHandlerTrampoline, box.toOpaque()),
            "aeron_context_set_error_handler")
    }

    deinit {
        close()
        errorHandlerBox.release()
    }

    /// Closes the client and every resource it owns. Safe to call more than once.
    ///
    /// Shutdown order follows the C client: resources are marked closed, then `aeron_close` frees them and stops the
    /// conductor, then `aeron_context_close` releases the context.
    public func close() {
        guard closedFlag.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        for resource in registry.drainResources() {
            resource.clientDidClose()
        }
        aeron_close(handle)
        aeron_context_close(contextHandle)
        registry.releaseHandlerBoxes()
    }

    /// Whether ``close()`` has been called.
    public var isClosed: Bool { closedFlag.load(ordering: .acquiring) }

    /// The id the media driver knows this client by.
    public var clientId: Int64 { isClosed ? -1 : aeron_client_id(handle) }

    /// A new correlation id, unique across every client of the same media driver.
    public func nextCorrelationId() -> Int64 {
        isClosed ? -1 : aeron_next_correlation_id(handle)
    }

    /// Runs one duty cycle of the client conductor when ``AeronContext/useConductorAgentInvoker`` is set.
    ///
    /// - Returns: the work count, or 0 when the client runs its own conductor thread or is closed.
    @discardableResult
    public func doWork() -> Int {
        guard usesConductorAgentInvoker, !isClosed else { return 0 }
        return Int(max(0, aeron_main_do_work(handle)))
    }

    /// A reader of the driver's counters (positions, channel status, errors, application counters).
    public var counters: CountersReader { CountersReader(client: self) }

    // MARK: - Adding resources

    /// Starts adding a concurrent publication; poll the returned handle until it yields the publication.
    public func asyncAddPublication(channel: String, streamId: Int32) throws(AeronError) -> PendingResource<Publication>
    {
        try ensureOpen("aeron_async_add_publication")
        clearAeronError()
        var async: OpaquePointer?
        try check(
            aeron_async_add_publication(&async, handle, channel, streamId), "aeron_async_add_publication(\(channel))")
        return PendingResource(
            client: self, async: async!, operation: "aeron_async_add_publication(\(channel))",
            poll: { out, async in aeron_async_add_publication_poll(&out, async) },
            cancel: { client, async in aeron_async_add_publication_cancel(client, async) },
            make: { client, handle in Publication(client: client, handle: handle, kind: .concurrent) }
        )
    }

    /// Starts adding an exclusive (single-writer) publication; poll the returned handle until it yields it.
    public func asyncAddExclusivePublication(
        channel: String, streamId: Int32
    ) throws(AeronError)
        -> PendingResource<ExclusivePublication>
    {
        try ensureOpen("aeron_async_add_exclusive_publication")
        clearAeronError()
        var async: OpaquePointer?
        try check(
            aeron_async_add_exclusive_publication(&async, handle, channel, streamId),
            "aeron_async_add_exclusive_publication(\(channel))")
        return PendingResource(
            client: self, async: async!, operation: "aeron_async_add_exclusive_publication(\(channel))",
            poll: { out, async in aeron_async_add_exclusive_publication_poll(&out, async) },
            cancel: { client, async in aeron_async_add_exclusive_publication_cancel(client, async) },
            make: { client, handle in ExclusivePublication(client: client, handle: handle, kind: .exclusive) }
        )
    }

    /// Starts adding a subscription; poll the returned handle until it yields the subscription.
    ///
    /// The image handlers are called on the client conductor thread (or inside ``doWork()``) whenever a publisher's
    /// image joins or leaves this subscription. They must not block.
    public func asyncAddSubscription(
        channel: String,
        streamId: Int32,
        onAvailableImage: (@Sendable (ImageInfo) -> Void)? = nil,
        onUnavailableImage: (@Sendable (ImageInfo) -> Void)? = nil
    ) throws(AeronError) -> PendingResource<Subscription> {
        try ensureOpen("aeron_async_add_subscription")
        clearAeronError()
        let box = ImageHandlerBox(
            streamId: streamId, onAvailable: onAvailableImage, onUnavailable: onUnavailableImage, registry: registry)
        let clientd = registry.retainHandlerBox(box)
        var async: OpaquePointer?
        let result = aeron_async_add_subscription(
            &async, handle, channel, streamId,
            onAvailableImage == nil ? nil : availableImageTrampoline, clientd,
            onUnavailableImage == nil ? nil : unavailableImageTrampoline, clientd)
        if result < 0 {
            let error = AeronError.lastError("aeron_async_add_subscription(\(channel))")
            registry.releaseHandlerBox(box)
            throw error
        }
        return PendingResource(
            client: self, async: async!, operation: "aeron_async_add_subscription(\(channel))",
            poll: { out, async in aeron_async_add_subscription_poll(&out, async) },
            cancel: { client, async in aeron_async_add_subscription_cancel(client, async) },
            make: { client, handle in Subscription(client: client, handle: handle, handlers: box) },
            onFailure: { [registry] in registry.releaseHandlerBox(box) }
        )
    }

    /// Starts allocating an application counter in the driver's counters file.
    ///
    /// - Parameters:
    ///   - typeId: the counter's type id (application type ids start at 1000 by convention).
    ///   - key: up to 112 bytes of key metadata.
    ///   - label: up to 380 bytes of human-readable label.
    public func asyncAddCounter(
        typeId: Int32, key: [UInt8] = [], label: String
    ) throws(AeronError)
        -> PendingResource<Counter>
    {
        try ensureOpen("aeron_async_add_counter")
        clearAeronError()
        var async: OpaquePointer?
        let labelBytes = Array(label.utf8)
        let result = key.withUnsafeBufferPointer { keyBuffer in
            labelBytes.withUnsafeBufferPointer { labelBuffer in
                labelBuffer.withMemoryRebound(to: CChar.self) { labelChars in
                    aeron_async_add_counter(
                        &async, handle, typeId, keyBuffer.baseAddress, keyBuffer.count,
                        labelChars.baseAddress, labelChars.count)
                }
            }
        }
        try check(result, "aeron_async_add_counter(\(label))")
        return PendingResource(
            client: self, async: async!, operation: "aeron_async_add_counter(\(label))",
            poll: { out, async in aeron_async_add_counter_poll(&out, async) },
            cancel: { client, async in aeron_async_add_counter_cancel(client, async) },
            make: { client, handle in Counter(client: client, handle: handle) }
        )
    }

    /// Adds a concurrent publication (thread-safe `offer`), waiting up to `timeout` for the driver.
    public func addPublication(
        channel: String, streamId: Int32, timeout: Duration = .seconds(10)
    ) throws(AeronError)
        -> Publication
    {
        try asyncAddPublication(channel: channel, streamId: streamId).await(timeout: timeout)
    }

    /// Adds an exclusive (single-writer) publication, waiting up to `timeout` for the driver.
    public func addExclusivePublication(
        channel: String, streamId: Int32, timeout: Duration = .seconds(10)
    )
        throws(AeronError) -> ExclusivePublication
    {
        try asyncAddExclusivePublication(channel: channel, streamId: streamId).await(timeout: timeout)
    }

    /// Adds a subscription, waiting up to `timeout` for the driver. See
    /// ``asyncAddSubscription(channel:streamId:onAvailableImage:onUnavailableImage:)`` for the handlers.
    public func addSubscription(
        channel: String,
        streamId: Int32,
        onAvailableImage: (@Sendable (ImageInfo) -> Void)? = nil,
        onUnavailableImage: (@Sendable (ImageInfo) -> Void)? = nil,
        timeout: Duration = .seconds(10)
    ) throws(AeronError) -> Subscription {
        try asyncAddSubscription(
            channel: channel, streamId: streamId,
            onAvailableImage: onAvailableImage, onUnavailableImage: onUnavailableImage
        ).await(timeout: timeout)
    }

    /// Allocates an application counter, waiting up to `timeout` for the driver.
    public func addCounter(
        typeId: Int32, key: [UInt8] = [], label: String, timeout: Duration = .seconds(10)
    )
        throws(AeronError) -> Counter
    {
        try asyncAddCounter(typeId: typeId, key: key, label: label).await(timeout: timeout)
    }

    func ensureOpen(_ operation: String) throws(AeronError) {
        if isClosed { throw AeronError.closed(operation) }
    }
}

/// A resource being added to the media driver: the result of the `asyncAdd…` methods of ``AeronClient``.
///
/// Call ``poll()`` from a duty cycle until it returns the resource, or ``await(timeout:)`` to block. Dropping a
/// pending resource that has not completed cancels it.
public final class PendingResource<Resource: AnyObject>: @unchecked Sendable {
    typealias PollFunction = (inout OpaquePointer?, OpaquePointer) -> Int32
    typealias CancelFunction = (OpaquePointer, OpaquePointer) -> Int32
    typealias MakeFunction = (AeronClient, OpaquePointer) -> Resource

    private let client: AeronClient
    private var async: OpaquePointer?
    private let operation: String
    private let pollFunction: PollFunction
    private let cancelFunction: CancelFunction
    private let make: MakeFunction
    private let onFailure: (() -> Void)?
    private let lock = Mutex(())

    init(
        client: AeronClient,
        async: OpaquePointer,
        operation: String,
        poll: @escaping PollFunction,
        cancel: @escaping CancelFunction,
        make: @escaping MakeFunction,
        onFailure: (() -> Void)? = nil
    ) {
        self.client = client
        self.async = async
        self.operation = operation
        self.pollFunction = poll
        self.cancelFunction = cancel
        self.make = make
        self.onFailure = onFailure
    }

    deinit { cancel() }

    /// Checks once whether the driver has answered.
    ///
    /// - Returns: the resource once the driver has created it, `nil` while it is still pending.
    /// - Throws: ``AeronError`` when the driver rejected the request, or when the request was cancelled, already
    ///   completed, or its client closed.
    public func poll() throws(AeronError) -> Resource? {
        try lock.withLock { _ throws(AeronError) -> Resource? in
            guard let pending = async else {
                throw AeronError(kind: .closed, operation: operation, message: "already completed or cancelled")
            }
            if client.isClosed {
                async = nil
                throw AeronError.closed(operation)
            }
            var out: OpaquePointer?
            clearAeronError()
            let result = pollFunction(&out, pending)
            if result < 0 {
                async = nil
                let error = AeronError.lastError(operation)
                onFailure?()
                throw error
            }
            guard result > 0, let resourceHandle = out else { return nil }
            async = nil
            return make(client, resourceHandle)
        }
    }

    /// Polls until the resource is ready, driving the client conductor when it has no thread of its own.
    ///
    /// - Throws: ``AeronError`` with kind ``AeronError/Kind/timedOut`` after `timeout` (the request is cancelled), or
    ///   the driver's error.
    public func await(timeout: Duration = .seconds(10)) throws(AeronError) -> Resource {
        let deadline = monotonicNanos() &+ timeout.wholeNanoseconds
        while true {
            if let resource = try poll() { return resource }
            if monotonicNanos() >= deadline {
                cancel()
                throw AeronError(
                    kind: .timedOut, operation: operation, message: "no answer from the media driver in \(timeout)")
            }
            if client.usesConductorAgentInvoker {
                client.doWork()
            } else {
                pauseBriefly()
            }
        }
    }

    /// Cancels the request if it has not completed. Safe to call more than once.
    public func cancel() {
        lock.withLock { _ in
            guard let pending = async else { return }
            async = nil
            // Image handlers of a cancelled subscription stay registered until the client closes: the conductor may
            // already hold them.
            if !client.isClosed {
                _ = cancelFunction(client.handle, pending)
            }
        }
    }
}

/// Reads `CLOCK_MONOTONIC` in nanoseconds.
@inline(__always)
func monotonicNanos() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec)
}

/// Sleeps about 1 ms: the pace of blocking waits on the driver.
func pauseBriefly() {
    var request = timespec(tv_sec: 0, tv_nsec: 1_000_000)
    nanosleep(&request, nil)
}
