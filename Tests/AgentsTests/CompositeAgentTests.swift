import Synchronization
import Testing

@testable import Agents

@Suite("CompositeAgent")
struct CompositeAgentTests {
    @Test("role name joins the agents' names; doWork sums; start and close reach every agent")
    func sumsAndLifecycle() throws {
        let agents = [
            RecordingAgent(roleName: "a") { _ in 1 },
            RecordingAgent(roleName: "b") { _ in 2 },
            RecordingAgent(roleName: "c") { _ in 0 },
        ]
        let composite = CompositeAgent(agents)
        #expect(composite.roleName == "a,b,c")
        try composite.onStart()
        #expect(agents.map(\.startCount) == [1, 1, 1])
        #expect(try composite.doWork() == 3)
        #expect(try composite.doWork() == 3)
        #expect(agents.map(\.workCount) == [2, 2, 2])
        composite.onClose()
        #expect(agents.map(\.closeCount) == [1, 1, 1])
    }

    @Test("an error in one agent does not skip the others in that cycle and is rethrown after it")
    func errorDoesNotSkipOthers() throws {
        let agents = [
            RecordingAgent(roleName: "a") { _ in 1 },
            RecordingAgent(roleName: "b") { call in
                if call == 1 { throw TestError(2) }
                return 1
            },
            RecordingAgent(roleName: "c") { _ in 1 },
        ]
        let composite = CompositeAgent(agents)
        #expect(throws: TestError(2)) { try composite.doWork() }
        #expect(agents.map(\.workCount) == [1, 1, 1])
        #expect(try composite.doWork() == 3)
    }

    @Test("several errors in one cycle are thrown together as a CompositeAgentError")
    func severalErrors() throws {
        let agents = [
            RecordingAgent(roleName: "a") { _ in throw TestError(1) },
            RecordingAgent(roleName: "b") { _ in 1 },
            RecordingAgent(roleName: "c") { _ in throw TestError(3) },
        ]
        let composite = CompositeAgent(agents)
        let error = try #require(throws: CompositeAgentError.self) { try composite.doWork() }
        #expect(error.errors.compactMap { $0 as? TestError } == [TestError(1), TestError(3)])
        #expect(agents.map(\.workCount) == [1, 1, 1])
    }

    @Test("an AgentTermination takes precedence over other errors in the same cycle")
    func terminationWins() throws {
        let composite = CompositeAgent([
            RecordingAgent(roleName: "a") { _ in throw TestError(1) },
            RecordingAgent(roleName: "b") { _ in throw AgentTermination("b is done") },
        ])
        #expect(throws: AgentTermination("b is done")) { try composite.doWork() }
    }

    @Test("onStart starts every agent even if one fails, then rethrows")
    func startFailure() throws {
        let agents = [
            RecordingAgent(roleName: "a", onStart: { throw TestError(1) }),
            RecordingAgent(roleName: "b"),
        ]
        let composite = CompositeAgent(agents)
        #expect(throws: TestError(1)) { try composite.onStart() }
        #expect(agents.map(\.startCount) == [1, 1])
        composite.onClose()
        #expect(agents.map(\.closeCount) == [1, 1])
    }

    @Test("a composite runs on an AgentRunner like any agent")
    func onRunner() throws {
        let agents = [RecordingAgent(roleName: "x"), RecordingAgent(roleName: "y")]
        let runner = AgentRunner.startOnThread(agent: CompositeAgent(agents), idleStrategy: gentleBackoff())
        #expect(waitUntil { agents.allSatisfy { $0.workCount >= 3 } })
        #expect(runner.close())
        #expect(agents.map(\.startCount) == [1, 1])
        #expect(agents.map(\.closeCount) == [1, 1])
        #expect(agents[0].threadNameInDoWork.withLock { $0 } == "x,y")
    }
}
