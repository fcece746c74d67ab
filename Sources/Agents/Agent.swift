import Synchronization

/// A unit of work run on a duty cycle, modelled on Agrona's `Agent`.
///
/// An agent is driven by exactly one thread at a time: an ``AgentRunner`` gives it a dedicated thread, an
/// ``AgentInvoker`` runs it on the caller's own duty cycle, and a ``CompositeAgent`` runs several agents as one.
/// The driver calls ``onStart()`` once, then ``doWork()`` repeatedly, then ``onClose()`` once.
///
/// Throwing ``AgentTermination`` from ``onStart()`` or ``doWork()`` asks the driver to stop gracefully; ``onClose()``
/// still runs. Any other error thrown from ``doWork()`` is reported to the driver's error handler and the duty cycle
/// goes on; any other error thrown from ``onStart()`` is reported and the agent is closed without doing work.
public protocol Agent: AnyObject {
    /// The agent's role, used to name the runner thread and in diagnostics.
    var roleName: String { get }

    /// Called once, on the agent's thread, before the first ``doWork()``. The default does nothing.
    func onStart() throws

    /// Does one unit of work and returns how much was done; `0` (or less) means there was nothing to do, which lets
    /// the idle strategy back off.
    func doWork() throws -> Int

    /// Called once, on the agent's thread, after the last ``doWork()`` (or on the closing thread when the agent was
    /// never started). Release resources here. The default does nothing.
    func onClose()
}

extension Agent {
    /// Does nothing.
    public func onStart() throws {}

    /// Does nothing.
    public func onClose() {}
}

/// Thrown from ``Agent/doWork()`` or ``Agent/onStart()`` to stop the agent gracefully.
///
/// It is a request, not a failure: runners and invokers do not report it to their error handler or error counter;
/// they end the duty cycle and call ``Agent/onClose()``.
public struct AgentTermination: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the agent asked to stop (free text, may be empty).
    public var reason: String

    /// Creates a termination request with an optional reason.
    public init(_ reason: String = "") {
        self.reason = reason
    }

    /// `"agent termination"` followed by the reason, if any.
    public var description: String {
        reason.isEmpty ? "agent termination" : "agent termination: \(reason)"
    }
}

/// The callback that receives errors thrown by an agent. It is called on the agent's thread, so it must be cheap
/// and thread-safe.
public typealias AgentErrorHandler = @Sendable (any Error) -> Void

/// Ready-made ``AgentErrorHandler``s.
public enum AgentErrorHandlers {
    /// Writes `agent error: <error>` and a newline to standard error (file descriptor 2).
    public static let standardError: AgentErrorHandler = { error in
        writeToStandardError("agent error: \(error)\n")
    }

    /// Drops every error; pair it with an ``ErrorCounter`` when errors are expected and only their number matters.
    public static let ignore: AgentErrorHandler = { _ in }
}

/// Counts the errors an agent driver reports, like Agrona's error counter (an `AtomicCounter`). Implementations
/// must be thread-safe; an Aeron counter can be adapted to it.
public protocol ErrorCounter: Sendable {
    /// Adds one to the count.
    func increment()
}

/// An ``ErrorCounter`` held in process memory.
public final class AtomicErrorCounter: ErrorCounter {
    private let count = Atomic<Int64>(0)

    /// Creates a counter at zero.
    public init() {}

    /// Adds one to the count.
    public func increment() {
        count.wrappingAdd(1, ordering: .relaxed)
    }

    /// The current count.
    public var value: Int64 {
        count.load(ordering: .relaxed)
    }
}
