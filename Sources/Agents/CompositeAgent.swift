/// Several agents run as one, in order, on one thread, modelled on Agrona's `CompositeAgent`.
///
/// Its role name is the agents' role names joined with `","`. ``doWork()`` calls every agent's `doWork` once per
/// cycle and returns the sum. An error in one agent does not skip the others: the errors of a phase (start or
/// one work cycle) are collected and thrown after it, as follows:
/// - if any agent threw ``AgentTermination``, the first such termination is thrown (so a termination request is
///   never hidden behind an ordinary error);
/// - else, if one agent threw, its error is rethrown unchanged;
/// - else, if several threw, a ``CompositeAgentError`` listing them all (in agent order) is thrown.
///
/// ``onClose()`` closes every agent.
public final class CompositeAgent: Agent {
    /// The agents, in the order they are started, worked and closed.
    public let agents: [any Agent]

    /// The agents' role names joined with `","`.
    public let roleName: String

    /// Creates a composite of `agents`, which are used in the given order.
    public init(_ agents: [any Agent]) {
        self.agents = agents
        self.roleName = agents.map(\.roleName).joined(separator: ",")
    }

    /// Starts every agent, even if an earlier one threw, then throws the collected errors (see the type's
    /// documentation).
    public func onStart() throws {
        var errors = ErrorCollector()
        for agent in agents {
            do {
                try agent.onStart()
            } catch {
                errors.add(error)
            }
        }
        try errors.throwIfAny()
    }

    /// Calls every agent's `doWork` once and returns the sum of their work counts; then throws the collected
    /// errors, if any (see the type's documentation).
    public func doWork() throws -> Int {
        var workCount = 0
        var errors = ErrorCollector()
        for agent in agents {
            do {
                workCount &+= try agent.doWork()
            } catch {
                errors.add(error)
            }
        }
        try errors.throwIfAny()
        return workCount
    }

    /// Closes every agent.
    public func onClose() {
        for agent in agents {
            agent.onClose()
        }
    }
}

/// Thrown by ``CompositeAgent`` when more than one of its agents threw in the same phase.
public struct CompositeAgentError: Error, CustomStringConvertible {
    /// The errors, in agent order.
    public let errors: [any Error]

    /// Creates the error.
    public init(errors: [any Error]) {
        self.errors = errors
    }

    /// The number of errors and each error's description.
    public var description: String {
        "\(errors.count) agent errors: " + errors.map { "\($0)" }.joined(separator: "; ")
    }
}

/// Gathers the errors of one phase without allocating when there are none.
private struct ErrorCollector {
    private var first: (any Error)?
    private var more: [any Error] = []
    private var termination: AgentTermination?

    mutating func add(_ error: any Error) {
        if termination == nil, let requested = error as? AgentTermination {
            termination = requested
        }
        if first == nil {
            first = error
        } else {
            more.append(error)
        }
    }

    func throwIfAny() throws {
        if let termination { throw termination }
        guard let first else { return }
        if more.isEmpty { throw first }
        throw CompositeAgentError(errors: [first] + more)
    }
}
