import Synchronization
import Testing

@testable import Agents

@Suite("AgentInvoker")
struct AgentInvokerTests {
    @Test("start, invoke and close follow the agent lifecycle on the caller's thread")
    func lifecycle() {
        let agent = RecordingAgent(roleName: "invoked") { call in call }
        let errors = ErrorLog()
        let invoker = AgentInvoker(agent: agent, errorHandler: errors.handler)
        #expect(!invoker.isStarted && !invoker.isRunning && !invoker.isClosed)
        #expect(invoker.invoke() == 0)
        #expect(agent.workCount == 0)

        invoker.start()
        #expect(invoker.isStarted && invoker.isRunning && !invoker.isClosed)
        #expect(agent.startCount == 1)
        #expect(invoker.invoke() == 1)
        #expect(invoker.invoke() == 2)
        #expect(agent.workThread.load(ordering: .sequentiallyConsistent) == currentThreadIdentity())
        invoker.start()
        #expect(agent.startCount == 1)

        invoker.close()
        #expect(invoker.isClosed && !invoker.isRunning)
        #expect(agent.closeCount == 1)
        #expect(invoker.invoke() == 0)
        #expect(agent.workCount == 2)
        invoker.close()
        invoker.start()
        #expect(agent.closeCount == 1)
        #expect(agent.startCount == 1)
        #expect(errors.descriptions.isEmpty)
    }

    @Test("AgentTermination from doWork closes the invoker without reporting an error")
    func termination() {
        let agent = RecordingAgent(roleName: "invoked-terminating") { call in
            if call == 2 { throw AgentTermination("enough") }
            return 5
        }
        let errors = ErrorLog()
        let counter = AtomicErrorCounter()
        let invoker = AgentInvoker(agent: agent, errorHandler: errors.handler, errorCounter: counter)
        invoker.start()
        #expect(invoker.invoke() == 5)
        #expect(invoker.invoke() == 0)
        #expect(invoker.isClosed && !invoker.isRunning)
        #expect(agent.closeCount == 1)
        #expect(invoker.invoke() == 0)
        #expect(agent.workCount == 2)
        #expect(errors.descriptions.isEmpty)
        #expect(counter.value == 0)
    }

    @Test("errors from doWork are reported and the invoker keeps running")
    func errors() {
        let agent = RecordingAgent(roleName: "invoked-failing") { call in
            if call == 1 { throw TestError(1) }
            return 3
        }
        let errors = ErrorLog()
        let counter = AtomicErrorCounter()
        let invoker = AgentInvoker(agent: agent, errorHandler: errors.handler, errorCounter: counter)
        invoker.start()
        #expect(invoker.invoke() == 0)
        #expect(invoker.isRunning)
        #expect(invoker.invoke() == 3)
        #expect(errors.descriptions == ["TestError(1)"])
        #expect(counter.value == 1)
        invoker.close()
        #expect(agent.closeCount == 1)
    }

    @Test("an error from onStart is reported and closes the invoker")
    func failingStart() {
        let agent = RecordingAgent(roleName: "invoked-bad-start", onStart: { throw TestError(9) })
        let errors = ErrorLog()
        let invoker = AgentInvoker(agent: agent, errorHandler: errors.handler)
        invoker.start()
        #expect(invoker.isStarted && invoker.isClosed && !invoker.isRunning)
        #expect(agent.closeCount == 1)
        #expect(invoker.invoke() == 0)
        #expect(agent.workCount == 0)
        #expect(errors.descriptions == ["TestError(9)"])
    }

    @Test("closing an invoker that was never started still closes the agent once")
    func closeWithoutStart() {
        let agent = RecordingAgent(roleName: "invoked-unstarted")
        let invoker = AgentInvoker(agent: agent)
        invoker.close()
        invoker.close()
        #expect(invoker.isClosed && !invoker.isStarted)
        #expect(agent.closeCount == 1)
        invoker.start()
        #expect(agent.startCount == 0)
    }
}
