import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The non-generic half of ``AgentRunner``: the lifecycle flags, the pthread and the join protocol.
///
/// Keeping it out of the generic class lets the pthread entry point, which must be a C function pointer and so
/// cannot capture generic context, be an ordinary non-generic function.
@usableFromInline
final class RunnerControl: Sendable {
    /// Where the runner thread is in its life. Guarded by ``state``.
    private enum ThreadState {
        /// `start()` has not been called (or failed to create the thread).
        case notStarted
        /// A thread was created and has not been joined yet (it may already have finished).
        case started(pthread_t)
        /// The thread was joined.
        case joined
        /// The runner was closed before it was started; the agent was closed on the closing thread.
        case closedUnstarted
    }

    /// What one `close` call has to do, decided under the lock and done outside it.
    private enum CloseAction {
        case closeOnCaller
        case calledFromRunnerThread
        case awaitThread
        case awaitAgentClosed
    }

    private let state = PThreadMutex<ThreadState>(.notStarted)
    /// Set by `close`; the duty cycle checks it once per cycle.
    private let stopRequested = Atomic<Bool>(false)
    /// True from a successful `start` until the duty cycle ends.
    private let loopRunning = Atomic<Bool>(false)
    /// True once `onClose` has returned.
    private let agentClosed = Atomic<Bool>(false)
    /// True once the runner thread has nothing left to do but return.
    private let threadExited = Atomic<Bool>(false)

    /// The name given to the runner thread (the agent's role name, cut by the OS limit on use).
    let threadName: String

    init(threadName: String) {
        self.threadName = threadName
    }

    deinit {
        // A thread that ended on its own (AgentTermination) and was never joined by `close` must still release its
        // resources. This can run on the runner thread itself, so detach rather than join.
        state.withLock { state in
            if case .started(let thread) = state {
                _ = pthread_detach(thread)
                state = .joined
            }
        }
    }

    @usableFromInline
    var isStopRequested: Bool {
        stopRequested.load(ordering: .acquiring)
    }

    var isLoopRunning: Bool {
        loopRunning.load(ordering: .acquiring)
    }

    var isAgentClosed: Bool {
        agentClosed.load(ordering: .acquiring)
    }

    @usableFromInline
    func markLoopEnded() {
        loopRunning.store(false, ordering: .releasing)
    }

    @usableFromInline
    func markAgentClosed() {
        agentClosed.store(true, ordering: .releasing)
    }

    fileprivate func markThreadExited() {
        threadExited.store(true, ordering: .releasing)
    }

    /// Creates the runner thread, which names itself and runs `body`.
    @usableFromInline
    func launch(_ body: @escaping () -> Void) throws(AgentRunnerError) {
        try state.withLock { state throws(AgentRunnerError) in
            switch state {
            case .notStarted:
                break
            case .started, .joined:
                throw .alreadyStarted
            case .closedUnstarted:
                throw .closed
            }
            loopRunning.store(true, ordering: .releasing)
            // The thread owns this +1 reference until `runnerThreadMain` takes it back.
            let argument = Unmanaged.passRetained(ThreadStart(control: self, body: body)).toOpaque()
            #if canImport(Darwin)
                var handle: pthread_t?
                let result = pthread_create(&handle, nil, { runnerThreadMain($0) }, argument)
            #else
                var handle = pthread_t()
                let result = pthread_create(&handle, nil, { runnerThreadMain($0) }, argument)
            #endif
            guard result == 0 else {
                Unmanaged<ThreadStart>.fromOpaque(argument).release()
                loopRunning.store(false, ordering: .releasing)
                throw .threadCreationFailed(errno: result)
            }
            #if canImport(Darwin)
                state = .started(handle!)
            #else
                state = .started(handle)
            #endif
        }
    }

    /// Asks the duty cycle to stop and waits up to `timeoutNanos` (forever if `nil`) for the agent to be closed.
    ///
    /// - Parameter closeOnCaller: closes the agent; called on this thread, once, only if the runner was never
    ///   started.
    /// - Returns: `true` once the agent is closed and the thread (if any) joined; `false` on timeout or when called
    ///   on the runner thread itself (which cannot join itself: the loop stops after the current cycle).
    func close(timeoutNanos: Int64?, closeOnCaller: () -> Void) -> Bool {
        stopRequested.store(true, ordering: .releasing)
        let action: CloseAction = state.withLock { state in
            switch state {
            case .notStarted:
                state = .closedUnstarted
                return .closeOnCaller
            case .started(let thread):
                return pthread_equal(thread, pthread_self()) != 0 ? .calledFromRunnerThread : .awaitThread
            case .joined, .closedUnstarted:
                return .awaitAgentClosed
            }
        }
        switch action {
        case .closeOnCaller:
            closeOnCaller()
            markAgentClosed()
            return true
        case .calledFromRunnerThread:
            return false
        case .awaitAgentClosed:
            return waitUntil(timeoutNanos: timeoutNanos) { isAgentClosed }
        case .awaitThread:
            guard waitUntil(timeoutNanos: timeoutNanos, { threadExited.load(ordering: .acquiring) }) else {
                return false
            }
            // The thread has finished its work; joining only waits for it to unwind.
            state.withLock { state in
                if case .started(let thread) = state {
                    _ = pthread_join(thread, nil)
                    state = .joined
                }
            }
            return true
        }
    }
}

/// Polls `condition` with a sleep that grows from 1 µs to 1 ms, for at most `timeoutNanos` (forever if `nil`).
private func waitUntil(timeoutNanos: Int64?, _ condition: () -> Bool) -> Bool {
    if condition() { return true }
    let deadline = timeoutNanos.map { saturatedAdd(monotonicNanos(), max(0, $0)) }
    var pause: Int64 = 1_000
    while !condition() {
        if let deadline, monotonicNanos() >= deadline { return condition() }
        sleepThread(nanos: pause)
        pause = min(pause * 2, 1_000_000)
    }
    return true
}

/// What the runner thread needs, handed over through `pthread_create`'s `void *` argument.
///
/// Not `Sendable`, and `body` not `@Sendable`: the object crosses to the new thread as a raw pointer, and `body`
/// only calls the runner's duty cycle, which owns the agent from then on (see ``AgentRunner``). A `@Sendable`
/// closure would also require the agent's metatype to be `SendableMetatype`, which the Swift 6.1 tools this package
/// supports do not have.
private final class ThreadStart {
    let control: RunnerControl
    let body: () -> Void

    init(control: RunnerControl, body: @escaping () -> Void) {
        self.control = control
        self.body = body
    }
}

/// The runner thread's entry point.
private func runnerThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let argument else { return nil }
    let start = Unmanaged<ThreadStart>.fromOpaque(argument).takeRetainedValue()
    setCurrentThreadName(start.control.threadName)
    start.body()
    start.control.markThreadExited()
    return nil
}

/// A value guarded by a `pthread_mutex_t`.
///
/// Used instead of `Synchronization.Mutex` because ThreadSanitizer must see this synchronization: on Linux a
/// contended `Mutex` hands over through futex calls inside the (uninstrumented) standard library, so TSan reports
/// false races between accesses the mutex does order. TSan intercepts `pthread_mutex_lock` and `_unlock`.
final class PThreadMutex<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let result = pthread_mutex_init(mutex, nil)
        precondition(result == 0, "pthread_mutex_init failed: \(result)")
        self.value = value
    }

    deinit {
        _ = pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        _ = pthread_mutex_lock(mutex)
        defer { _ = pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
