import Foundation
import Glibc
import MallocInterposerSwift
import Synchronization

// The hook's state. Globals, touched once by `MallocCounter.prepare()` before the hook is installed, so that none is
// first initialised inside malloc.
let mallocMeasuringThread = Atomic<UInt>(0)
let mallocCountingOn = Atomic<Bool>(false)
let mallocsOnMeasuringThread = Atomic<Int>(0)
let mallocsOnOtherThreads = Atomic<Int>(0)
let mallocProbeSink = Atomic<UInt>(0)
/// Call stacks of the first allocations of the measuring thread (`SYSTEM_BENCH_MALLOC_STACKS=N`): N stacks of
/// `mallocStackDepth` return addresses, filled by the hook, symbolised after the loop.
let mallocStackLimit = Atomic<Int>(0)
let mallocStacksTaken = Atomic<Int>(0)
let mallocStackBuffer = Atomic<UInt>(0)
let mallocInStackCapture = Atomic<Bool>(false)
let mallocStackDepth = 24
/// glibc's `backtrace` and `backtrace_symbols_fd` (execinfo.h is not in the Glibc module), resolved by `prepare()`.
typealias BacktraceFunction = @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Int32) -> Int32
typealias BacktraceSymbolsFunction = @convention(c) (UnsafePointer<UnsafeMutableRawPointer?>?, Int32, Int32) -> Void
nonisolated(unsafe) var backtraceFunction: BacktraceFunction?

/// Runs inside malloc: it must not allocate (it only loads and adds atomics).
let measuringThreadHook: MallocInterposerSwift.AllocationHook = { _ in
    guard mallocCountingOn.load(ordering: .relaxed) else { return }
    if UInt(pthread_self()) == mallocMeasuringThread.load(ordering: .relaxed) {
        mallocsOnMeasuringThread.wrappingAdd(1, ordering: .relaxed)
        let taken = mallocStacksTaken.load(ordering: .relaxed)
        if taken < mallocStackLimit.load(ordering: .relaxed), !mallocInStackCapture.load(ordering: .relaxed),
            let capture = backtraceFunction,
            let buffer = UnsafeMutablePointer<UnsafeMutableRawPointer?>(
                bitPattern: mallocStackBuffer.load(ordering: .relaxed))
        {
            mallocInStackCapture.store(true, ordering: .relaxed)
            _ = capture(buffer + taken * mallocStackDepth, Int32(mallocStackDepth))
            mallocStacksTaken.store(taken + 1, ordering: .relaxed)
            mallocInStackCapture.store(false, ordering: .relaxed)
        }
    } else {
        mallocsOnOtherThreads.wrappingAdd(1, ordering: .relaxed)
    }
}

/// Counts the allocations a child makes on its measuring thread during the measured loop, with the malloc
/// interposer linked into this executable (so every re-launched child has it too).
///
/// ``prepare()`` installs the hook once, before the loop, with counting off; ``begin()`` and ``end()`` bracket the
/// measured part of the loop and cost one relaxed atomic store each. Allocations of the process's other threads (the
/// Aeron client's conductor) in the same window are counted apart.
enum MallocCounter {
    /// Whether the interposer is loaded and counts: one probe allocation must be seen.
    static let works: Bool = {
        MallocInterposerSwift.reset()
        MallocInterposerSwift.hook()
        let probe = malloc(64)
        mallocProbeSink.store(UInt(bitPattern: probe), ordering: .relaxed)  // else the optimiser drops malloc/free
        MallocInterposerSwift.unhook()
        free(probe)
        return MallocInterposerSwift.getStatistics().mallocCount >= 1
    }()

    /// Installs the hook for the calling thread with counting off. Returns false when the interposer does not count.
    @discardableResult
    static func prepare() -> Bool {
        guard works else { return false }
        mallocCountingOn.store(false, ordering: .relaxed)
        mallocsOnMeasuringThread.store(0, ordering: .relaxed)
        mallocsOnOtherThreads.store(0, ordering: .relaxed)
        mallocMeasuringThread.store(UInt(pthread_self()), ordering: .relaxed)
        _ = mallocInStackCapture.load(ordering: .relaxed)
        mallocStacksTaken.store(0, ordering: .relaxed)
        if let limit = ProcessInfo.processInfo.environment["SYSTEM_BENCH_MALLOC_STACKS"].flatMap(Int.init), limit > 0,
            let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "backtrace")
        {
            let capture = unsafeBitCast(symbol, to: BacktraceFunction.self)
            backtraceFunction = capture
            let buffer = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: limit * mallocStackDepth)
            buffer.initialize(repeating: nil, count: limit * mallocStackDepth)
            _ = capture(buffer, Int32(mallocStackDepth))  // the first call loads the unwinder (and allocates)
            mallocStackBuffer.store(UInt(bitPattern: buffer), ordering: .relaxed)
            mallocStackLimit.store(limit, ordering: .relaxed)
        }
        MallocInterposerSwift.setAllocationHook(measuringThreadHook)
        MallocInterposerSwift.reset()
        MallocInterposerSwift.hook()
        return true
    }

    /// Starts counting (from zero).
    @inline(__always)
    static func begin() {
        mallocsOnMeasuringThread.store(0, ordering: .relaxed)
        mallocsOnOtherThreads.store(0, ordering: .relaxed)
        mallocCountingOn.store(true, ordering: .relaxed)
    }

    /// The counts so far (counting goes on), or `nil` when the interposer does not count.
    @inline(__always)
    static func current() -> (measuringThread: Int, otherThreads: Int)? {
        guard works else { return nil }
        return (mallocsOnMeasuringThread.load(ordering: .relaxed), mallocsOnOtherThreads.load(ordering: .relaxed))
    }

    /// Stops counting and returns the counts of the window, or `nil` when the interposer does not count.
    static func end() -> (measuringThread: Int, otherThreads: Int)? {
        mallocCountingOn.store(false, ordering: .relaxed)
        guard works else { return nil }
        return (mallocsOnMeasuringThread.load(ordering: .relaxed), mallocsOnOtherThreads.load(ordering: .relaxed))
    }

    /// Removes the hook, and prints the captured call stacks (if any) to standard error.
    static func uninstall() {
        guard works else { return }
        MallocInterposerSwift.unhook()
        MallocInterposerSwift.setAllocationHook(nil)
        guard
            let buffer = UnsafeMutablePointer<UnsafeMutableRawPointer?>(
                bitPattern: mallocStackBuffer.load(ordering: .relaxed)),
            let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "backtrace_symbols_fd")
        else { return }
        let symbolize = unsafeBitCast(symbol, to: BacktraceSymbolsFunction.self)
        let mode = CommandLine.arguments.dropFirst().first ?? "?"
        for stack in 0..<mallocStacksTaken.load(ordering: .relaxed) {
            FileHandle.standardError.write(
                Data("system-bench \(mode): malloc \(stack + 1) of the measured window:\n".utf8))
            let frames = buffer + stack * mallocStackDepth
            var depth = 0
            while depth < mallocStackDepth && frames[depth] != nil { depth += 1 }
            symbolize(frames, Int32(depth), STDERR_FILENO)
        }
    }

    /// The `key=value` fields of a window: `mallocs` (measuring thread) and `mallocs_other`, -1 when not counted.
    static func fields(_ counts: (measuringThread: Int, otherThreads: Int)?) -> String {
        "mallocs=\(counts?.measuringThread ?? -1) mallocs_other=\(counts?.otherThreads ?? -1)"
    }
}
