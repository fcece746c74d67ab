/// Runs an ``Agent`` on the caller's own duty cycle, modelled on Agrona's `AgentInvoker`: the caller calls
/// ``invoke()`` from its loop (for example to drive a client conductor from an application's thread).
///
/// Not thread-safe: use an invoker from one thread at a time.
public final class AgentInvoker<A: Agent> {
    /// The agent.
    public let agent: A

    @usableFromInline let errorHandler: AgentErrorHandler
    @usableFromInline let errorCounter: (any ErrorCounter)?

    /// `true` once ``start()`` has been called.
    public private(set) var isStarted = false
    /// `true` between a successful ``start()`` and ``close()``; ``invoke()`` does work only then.
    public private(set) var isRunning = false
    /// `true` once ``close()`` has run (explicitly, after an ``AgentTermination``, or after `onStart` failed).
    public private(set) var isClosed = false

    /// Creates an invoker; nothing runs until ``start()``.
    ///
    /// - Parameters:
    ///   - agent: the agent.
    ///   - errorHandler: receives errors thrown by the agent; by default they are printed to standard error.
    ///   - errorCounter: if given, incremented before each call of `errorHandler`.
    public init(
        agent: A,
        errorHandler: @escaping AgentErrorHandler = AgentErrorHandlers.standardError,
        errorCounter: (any ErrorCounter)? = nil
    ) {
        self.agent = agent
        self.errorHandler = errorHandler
        self.errorCounter = errorCounter
    }

    /// Calls ``Agent/onStart()`` the first time it is called (later calls, and calls after ``close()``, do
    /// nothing). If `onStart` throws, the error is reported (unless it is an ``AgentTermination``) and the invoker
    /// closes.
    public func start() {
        guard !isStarted, !isClosed else { return }
        isStarted = true
        do {
            try agent.onStart()
            isRunning = true
        } catch is AgentTermination {
            close()
        } catch {
            handleError(error)
            close()
        }
    }

    /// Runs one ``Agent/doWork()`` if the invoker is running and returns its work count (`0` when not running or
    /// when `doWork` threw). An ``AgentTermination`` closes the invoker; other errors are reported and the invoker
    /// keeps running.
    @inlinable
    @discardableResult
    public func invoke() -> Int {
        guard isRunning else { return 0 }
        do {
            return try agent.doWork()
        } catch is AgentTermination {
            close()
        } catch {
            handleError(error)
        }
        return 0
    }

    /// Stops the invoker and calls ``Agent/onClose()``, once (even if the invoker was never started).
    public func close() {
        guard !isClosed else { return }
        isRunning = false
        isClosed = true
        agent.onClose()
    }

    /// Counts and reports an error thrown by the agent.
    @usableFromInline
    func handleError(_ error: any Error) {
        errorCounter?.increment()
        errorHandler(error)
    }
}
