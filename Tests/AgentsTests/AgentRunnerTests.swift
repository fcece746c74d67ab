import Synchronization
import Testing

@testable import Agents

@Suite("AgentRunner")
struct AgentRunnerTests {
    @Test("onStart once, doWork repeatedly, onClose once on the runner thread after close")
    func lifecycle() throws {
        let agent = RecordingAgent(roleName: "rt-lifecycle")
        let errors = ErrorLog()
        let runner = AgentRunner(agent: agent, idleStrategy: gentleBackoff(), errorHandler: errors.handler)
        #expect(!runner.isRunning)
        #expect(!runner.isClosed)
        #expect(runner.roleName == "rt-lifecycle")

        runner.start()
        #expect(waitUntil { agent.workCount >= 20 })
        #expect(runner.isRunning)
        #expect(!runner.isClosed)
        #expect(agent.startCount == 1)
        #expect(agent.closeCount == 0)

        #expect(runner.close())
        #expect(!runner.isRunning)
        #expect(runner.isClosed)
        #expect(agent.startCount == 1)
        #expect(agent.closeCount == 1)
        let runnerThread = agent.workThread.load(ordering: .sequentiallyConsistent)
        #expect(agent.startThread.load(ordering: .sequentiallyConsistent) == runnerThread)
        #expect(agent.closeThread.load(ordering: .sequentiallyConsistent) == runnerThread)
        #expect(runnerThread != currentThreadIdentity())
        #expect(errors.descriptions.isEmpty)

        let worksAfterClose = agent.workCount
        #expect(runner.close())
        #expect(agent.closeCount == 1)
        #expect(agent.workCount == worksAfterClose)
    }

    @Test(
        "the runner thread is named after the role",
        arguments: [
            ("rt-name", "rt-name"),
            ("agents-test-runner-thread", "agents-test-run"),
        ])
    func threadName(role: String, expected: String) throws {
        let agent = RecordingAgent(roleName: role)
        let runner = AgentRunner.startOnThread(agent: agent, idleStrategy: gentleBackoff())
        #expect(waitUntil { agent.workCount >= 1 })
        runner.close()
        #expect(agent.threadNameInDoWork.withLock { $0 } == expected)
    }

    @Test("errors from doWork reach the handler and the counter, and the duty cycle goes on")
    func errorsAreReportedAndLoopContinues() throws {
        let agent = RecordingAgent(roleName: "rt-errors") { call in
            if call == 1 || call == 3 { throw TestError(call) }
            return 0
        }
        let errors = ErrorLog()
        let counter = AtomicErrorCounter()
        let runner = AgentRunner(
            agent: agent,
            idleStrategy: gentleBackoff(),
            errorHandler: errors.handler,
            errorCounter: counter
        )
        runner.start()
        #expect(waitUntil { agent.workCount >= 10 })
        #expect(runner.isRunning)
        runner.close()
        #expect(errors.descriptions == ["TestError(1)", "TestError(3)"])
        #expect(counter.value == 2)
        #expect(agent.closeCount == 1)
    }

    @Test("AgentTermination from doWork ends the duty cycle, is not reported, and onClose still runs")
    func terminationFromDoWork() throws {
        let agent = RecordingAgent(roleName: "rt-terminate") { call in
            if call == 5 { throw AgentTermination("done") }
            return 1
        }
        let errors = ErrorLog()
        let counter = AtomicErrorCounter()
        let runner = AgentRunner(
            agent: agent,
            idleStrategy: NoOpIdleStrategy(),
            errorHandler: errors.handler,
            errorCounter: counter
        )
        runner.start()
        #expect(waitUntil { runner.isClosed })
        #expect(!runner.isRunning)
        #expect(agent.workCount == 5)
        #expect(agent.closeCount == 1)
        #expect(
            agent.closeThread.load(ordering: .sequentiallyConsistent)
                == agent.workThread.load(ordering: .sequentiallyConsistent)
        )
        #expect(errors.descriptions.isEmpty)
        #expect(counter.value == 0)
        #expect(runner.close())
        #expect(agent.closeCount == 1)
    }

    @Test("an error from onStart is reported, no work is done, and onClose runs")
    func failingStart() throws {
        let agent = RecordingAgent(roleName: "rt-bad-start", onStart: { throw TestError(7) })
        let errors = ErrorLog()
        let runner = AgentRunner(agent: agent, idleStrategy: gentleBackoff(), errorHandler: errors.handler)
        runner.start()
        #expect(waitUntil { runner.isClosed })
        #expect(runner.close())
        #expect(agent.startCount == 1)
        #expect(agent.workCount == 0)
        #expect(agent.closeCount == 1)
        #expect(errors.descriptions == ["TestError(7)"])
    }

    @Test("AgentTermination from onStart closes the agent without reporting an error")
    func terminationFromStart() throws {
        let agent = RecordingAgent(roleName: "rt-no-start", onStart: { throw AgentTermination() })
        let errors = ErrorLog()
        let runner = AgentRunner(agent: agent, idleStrategy: gentleBackoff(), errorHandler: errors.handler)
        runner.start()
        #expect(runner.close())
        #expect(agent.workCount == 0)
        #expect(agent.closeCount == 1)
        #expect(errors.descriptions.isEmpty)
    }

    @Test("closing before start closes the agent on the caller and forbids a later start")
    func closeBeforeStart() {
        let agent = RecordingAgent(roleName: "rt-unstarted")
        let runner = AgentRunner(agent: agent, idleStrategy: gentleBackoff())
        #expect(runner.close())
        #expect(runner.isClosed)
        #expect(!runner.isRunning)
        #expect(agent.startCount == 0)
        #expect(agent.workCount == 0)
        #expect(agent.closeCount == 1)
        #expect(agent.closeThread.load(ordering: .sequentiallyConsistent) == currentThreadIdentity())
        #expect(throws: AgentRunnerError.closed) { try runner.tryStart() }
        #expect(runner.close())
        #expect(agent.closeCount == 1)
    }

    @Test("a second start throws alreadyStarted")
    func doubleStart() throws {
        let agent = RecordingAgent(roleName: "rt-twice")
        let runner = AgentRunner(agent: agent, idleStrategy: gentleBackoff())
        runner.start()
        #expect(throws: AgentRunnerError.alreadyStarted) { try runner.tryStart() }
        runner.close()
        #expect(agent.startCount == 1)
        #expect(agent.closeCount == 1)
    }

    @Test("close with a timeout returns false while doWork is blocked, and a later close completes")
    func closeTimeout() throws {
        let gate = Gate()
        let agent = RecordingAgent(roleName: "rt-blocked") { _ in
            gate.waitUntilOpen()
            return 0
        }
        let runner = AgentRunner(agent: agent, idleStrategy: gentleBackoff())
        runner.start()
        #expect(waitUntil { agent.workCount >= 1 })
        // doWork stays blocked until the gate opens, so this close cannot finish however long its timeout runs.
        #expect(!runner.close(timeout: .milliseconds(20)))
        #expect(!runner.isClosed)
        #expect(agent.closeCount == 0)
        gate.open()
        #expect(runner.close(timeout: hangGuard))
        #expect(runner.isClosed)
        #expect(agent.closeCount == 1)
    }

    @Test("close called by the agent on its own thread stops the loop without deadlocking")
    func closeFromRunnerThread() throws {
        let hook = Mutex<(@Sendable () -> Bool)?>(nil)
        let selfCloseResult = Atomic<Int>(0)
        let agent = RecordingAgent(roleName: "rt-self-close") { call in
            if call == 3, let close = hook.withLock({ $0 }) {
                selfCloseResult.store(close() ? 1 : 2, ordering: .sequentiallyConsistent)
            }
            return 0
        }
        let runner = AgentRunner(agent: agent, idleStrategy: gentleBackoff())
        hook.withLock { $0 = { [weak runner] in runner?.close() ?? true } }
        runner.start()
        #expect(waitUntil { runner.isClosed })
        #expect(selfCloseResult.load(ordering: .sequentiallyConsistent) == 2)
        #expect(agent.workCount == 3)
        #expect(runner.close())
        #expect(agent.closeCount == 1)
        hook.withLock { $0 = nil }
    }

    @Test("concurrent closes run onClose once")
    func concurrentClose() async throws {
        let agent = RecordingAgent(roleName: "rt-concurrent")
        let runner = AgentRunner.startOnThread(agent: agent, idleStrategy: gentleBackoff())
        #expect(waitUntil { agent.workCount >= 1 })
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 { group.addTask { runner.close(timeout: hangGuard) } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == [true, true, true, true])
        #expect(agent.closeCount == 1)
    }
}

/// A one-way gate a test opens to release a blocked agent.
final class Gate: Sendable {
    private let isOpen = Atomic<Bool>(false)

    func open() {
        isOpen.store(true, ordering: .sequentiallyConsistent)
    }

    func waitUntilOpen() {
        while !isOpen.load(ordering: .sequentiallyConsistent) {
            sleepThread(nanos: 100_000)
        }
    }
}
