/// Why ``AgentRunner/tryStart()`` failed.
public enum AgentRunnerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `start()` was already called successfully.
    case alreadyStarted
    /// The runner was closed before it was started.
    case closed
    /// `pthread_create` failed with this error number (typically `EAGAIN`).
    case threadCreationFailed(errno: Int32)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .alreadyStarted: "agent runner already started"
        case .closed: "agent runner already closed"
        case .threadCreationFailed(let errno): "agent runner could not create its thread (errno \(errno))"
        }
    }
}

/// Runs an ``Agent`` on a dedicated thread with an ``IdleStrategy``, modelled on Agrona's `AgentRunner`.
///
/// ``start()`` creates a pthread (not a thread of the Swift concurrency pool, so a busy-spinning agent never starves
/// tasks) named after the agent's role, which calls ``Agent/onStart()`` once and then repeats
/// `idleStrategy.idle(workCount: agent.doWork())` until ``close(timeout:)`` is called or the agent throws
/// ``AgentTermination``; it then calls ``Agent/onClose()`` once, on the runner thread.
///
/// Errors other than ``AgentTermination`` thrown by ``Agent/doWork()`` go to the error counter (if any) and the
/// error handler, the strategy idles once and the duty cycle goes on. An error thrown by ``Agent/onStart()`` is
/// reported the same way and the agent is closed without doing any work.
///
/// The class is generic over the agent and the strategy, and its duty cycle is `@inlinable`, so a client that names
/// concrete types gets a specialized loop with direct calls to `doWork` and `idle`.
///
/// ## Thread safety
/// The agent is handed over with `sending` and, once ``start()`` is called, is used only by the runner thread
/// (before `start`, or if the runner is never started, only by the thread that closes it). The thread gets the
/// runner through an `Unmanaged` +1 reference to a small start object (holding a closure that keeps the runner
/// alive) passed as `pthread_create`'s argument and released when the thread ends; the lifecycle state is in
/// atomics and a pthread mutex. So `start`, `close` and the state properties are safe to call from any thread,
/// which is why the class is `@unchecked Sendable`. ``agent`` is exposed for reading results and for the agent's own thread-safe members;
/// touching its unsynchronized state from another thread while the runner runs is a data race.
public final class AgentRunner<A: Agent, I: IdleStrategy>: @unchecked Sendable {
    /// The agent. See the class's thread-safety notes before using it from another thread while the runner runs.
    public let agent: A

    /// The agent's role name, read once at initialization; also the runner thread's name (cut to 15 bytes on
    /// Linux).
    public let roleName: String

    /// The strategy the runner thread starts from (it works on its own copy).
    @usableFromInline let idleStrategy: I
    @usableFromInline let errorHandler: AgentErrorHandler
    @usableFromInline let errorCounter: (any ErrorCounter)?
    @usableFromInline let control: RunnerControl

    /// Creates a runner; nothing runs until ``start()``.
    ///
    /// - Parameters:
    ///   - agent: the agent, handed over to the runner.
    ///   - idleStrategy: how the runner thread waits when the agent had no work.
    ///   - errorHandler: receives errors thrown by the agent, on the runner thread; by default they are printed to
    ///     standard error.
    ///   - errorCounter: if given, incremented before each call of `errorHandler`.
    public init(
        agent: sending A,
        idleStrategy: sending I,
        errorHandler: @escaping AgentErrorHandler = AgentErrorHandlers.standardError,
        errorCounter: (any ErrorCounter)? = nil
    ) {
        self.agent = agent
        self.roleName = agent.roleName
        self.idleStrategy = idleStrategy
        self.errorHandler = errorHandler
        self.errorCounter = errorCounter
        self.control = RunnerControl(threadName: roleName)
    }

    /// Creates a runner and starts it (see ``start()``).
    @inlinable
    public static func startOnThread(
        agent: sending A,
        idleStrategy: sending I,
        errorHandler: @escaping AgentErrorHandler = AgentErrorHandlers.standardError,
        errorCounter: (any ErrorCounter)? = nil
    ) -> AgentRunner<A, I> {
        let runner = AgentRunner(
            agent: agent,
            idleStrategy: idleStrategy,
            errorHandler: errorHandler,
            errorCounter: errorCounter
        )
        runner.start()
        return runner
    }

    /// Starts the runner thread.
    ///
    /// Starting twice, or after ``close(timeout:)``, is a programming error and traps, as does a failure to create
    /// the thread (resource exhaustion); use ``tryStart()`` to handle those cases instead.
    @inlinable
    public func start() {
        do {
            try tryStart()
        } catch {
            fatalError("\(roleName): \(error)")
        }
    }

    /// Starts the runner thread, reporting failure instead of trapping. Can succeed once.
    ///
    /// - Throws: ``AgentRunnerError/alreadyStarted`` on a second call, ``AgentRunnerError/closed`` if the runner was
    ///   closed first, ``AgentRunnerError/threadCreationFailed(errno:)`` if `pthread_create` failed (the runner can
    ///   then be started again or closed).
    @inlinable
    public func tryStart() throws(AgentRunnerError) {
        try control.launch { [self] in
            self.runOnThread()
        }
    }

    /// Stops the duty cycle and waits for the agent to be closed.
    ///
    /// Sets the stop flag, which the runner thread checks once per duty cycle, waits for the thread to call
    /// ``Agent/onClose()`` and end, and joins it. If the runner was never started, calls ``Agent/onClose()`` on
    /// the calling thread instead. Safe to call more than once and from several threads; `onClose` runs once.
    ///
    /// Called from the agent itself (on the runner thread), it only requests the stop and returns `false`: the
    /// loop ends after the current cycle.
    ///
    /// - Parameter timeout: how long to wait; `nil` waits as long as it takes.
    /// - Returns: `true` if the agent is closed and the thread joined; `false` if `timeout` expired first (the stop
    ///   stays requested, the thread will still call `onClose` when its current `doWork` returns, and a later
    ///   `close` can wait again) or if called from the runner thread.
    @discardableResult
    public func close(timeout: Duration? = nil) -> Bool {
        control.close(timeoutNanos: timeout.map(saturatedNanos)) {
            agent.onClose()
        }
    }

    /// `true` from a successful ``start()`` until the duty cycle ends (after a close request, an
    /// ``AgentTermination`` or a failed ``Agent/onStart()``).
    public var isRunning: Bool {
        control.isLoopRunning
    }

    /// `true` once ``Agent/onClose()`` has returned, whether the runner was closed or the agent terminated itself.
    public var isClosed: Bool {
        control.isAgentClosed
    }

    /// The runner thread's life: start, duty cycle, close. Inlinable so that it is specialized for `A` and `I`.
    @inlinable
    func runOnThread() {
        var strategy = idleStrategy
        var started = true
        do {
            try agent.onStart()
        } catch is AgentTermination {
            started = false
        } catch {
            handleError(error)
            started = false
        }
        if started {
            while !control.isStopRequested {
                do {
                    strategy.idle(workCount: try agent.doWork())
                } catch is AgentTermination {
                    break
                } catch {
                    handleError(error)
                    strategy.idle(workCount: 0)
                }
            }
        }
        control.markLoopEnded()
        agent.onClose()
        control.markAgentClosed()
    }

    /// Counts and reports an error thrown by the agent.
    @usableFromInline
    func handleError(_ error: any Error) {
        errorCounter?.increment()
        errorHandler(error)
    }
}
