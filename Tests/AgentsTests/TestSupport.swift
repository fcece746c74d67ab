import Synchronization
import Testing

@testable import Agents

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How long a wait for something that must happen may take before a test calls it a hang: the value of
/// `TestTiming.hangGuard` (module `TestProcesses`, which this target does not depend on). Only a hang guard: waits end
/// as soon as their condition holds, and nothing asserts how long they took.
let hangGuard: Duration = .seconds(60)

/// Polls `condition` every millisecond until it holds, or for up to `timeout` (a hang guard, not a time limit).
func waitUntil(timeout: Duration = hangGuard, _ condition: () -> Bool) -> Bool {
    let deadline = Deadline(after: timeout, now: MonotonicClock.now())
    while !condition() {
        if deadline.isExpired(now: MonotonicClock.now()) { return condition() }
        _ = usleep(1_000)
    }
    return true
}

/// The calling thread's name as the kernel reports it (what `pthread_getname_np` returns on Linux; Swift's Glibc
/// module does not declare that GNU function).
func currentThreadName() -> String {
    #if canImport(Darwin)
        var buffer = [CChar](repeating: 0, count: 64)
        _ = pthread_getname_np(pthread_self(), &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    #else
        let file = open("/proc/thread-self/comm", O_RDONLY)
        guard file >= 0 else { return "" }
        defer { _ = close(file) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
        guard count > 0 else { return "" }
        var name = String(decoding: buffer[..<count], as: UTF8.self)
        if name.hasSuffix("\n") { name.removeLast() }
        return name
    #endif
}

/// An error with an identity, for checking which error reached which handler.
struct TestError: Error, Hashable, CustomStringConvertible {
    let id: Int
    init(_ id: Int) { self.id = id }
    var description: String { "TestError(\(id))" }
}

/// Collects the errors given to an error handler.
final class ErrorLog: Sendable {
    private let errors = Mutex<[String]>([])

    var handler: AgentErrorHandler {
        { [self] error in errors.withLock { $0.append("\(error)") } }
    }

    var descriptions: [String] {
        errors.withLock { $0 }
    }
}

/// An agent that records every lifecycle call, the thread it ran on and the runner thread's name, and delegates
/// the behaviour of `onStart` and `doWork` to closures.
final class RecordingAgent: Agent, Sendable {
    let roleName: String
    let starts = Atomic<Int>(0)
    let works = Atomic<Int>(0)
    let closes = Atomic<Int>(0)
    let startThread = Atomic<UInt>(0)
    let workThread = Atomic<UInt>(0)
    let closeThread = Atomic<UInt>(0)
    let threadNameInDoWork = Mutex<String?>(nil)
    private let startAction: @Sendable () throws -> Void
    private let workAction: @Sendable (Int) throws -> Int

    /// - Parameters:
    ///   - work: run by `doWork` with the 1-based number of the call; its result is the work count.
    ///   - onStart: run by `onStart`.
    init(
        roleName: String = "recorder",
        work: @escaping @Sendable (Int) throws -> Int = { _ in 0 },
        onStart: @escaping @Sendable () throws -> Void = {}
    ) {
        self.roleName = roleName
        self.startAction = onStart
        self.workAction = work
    }

    var startCount: Int { starts.load(ordering: .sequentiallyConsistent) }
    var workCount: Int { works.load(ordering: .sequentiallyConsistent) }
    var closeCount: Int { closes.load(ordering: .sequentiallyConsistent) }

    func onStart() throws {
        startThread.store(currentThreadIdentity(), ordering: .sequentiallyConsistent)
        starts.add(1, ordering: .sequentiallyConsistent)
        try startAction()
    }

    func doWork() throws -> Int {
        workThread.store(currentThreadIdentity(), ordering: .sequentiallyConsistent)
        threadNameInDoWork.withLock { name in
            if name == nil { name = currentThreadName() }
        }
        let call = works.add(1, ordering: .sequentiallyConsistent).newValue
        return try workAction(call)
    }

    func onClose() {
        closeThread.store(currentThreadIdentity(), ordering: .sequentiallyConsistent)
        closes.add(1, ordering: .sequentiallyConsistent)
    }
}

/// A backoff strategy that never sleeps long, to keep runner tests quick and the machine calm.
func gentleBackoff() -> BackoffIdleStrategy {
    BackoffIdleStrategy(maxSpins: 1, maxYields: 1, minParkNanos: 1_000, maxParkNanos: 200_000)
}
