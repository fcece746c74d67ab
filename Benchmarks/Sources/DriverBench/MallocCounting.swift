import Glibc
import MallocInterposerSwift
import Synchronization

/// Allocations counted by the malloc interposer's hook, split by the thread that made them: the driver agent's
/// thread, the benchmark's (client) thread, and every other thread (the Aeron clients' conductors, the media driver).
let mallocsOnDriver = Atomic<Int>(0)
let mallocsOnClient = Atomic<Int>(0)
let mallocsElsewhere = Atomic<Int>(0)
let hookDriverThread = Atomic<UInt>(0)
let hookClientThread = Atomic<UInt>(0)

/// Runs inside malloc: it must not allocate (it only loads and adds atomics).
let threadSplittingHook: MallocInterposerSwift.AllocationHook = { _ in
    let me = UInt(pthread_self())
    if me == hookDriverThread.load(ordering: .relaxed) {
        mallocsOnDriver.wrappingAdd(1, ordering: .relaxed)
    } else if me == hookClientThread.load(ordering: .relaxed) {
        mallocsOnClient.wrappingAdd(1, ordering: .relaxed)
    } else {
        mallocsElsewhere.wrappingAdd(1, ordering: .relaxed)
    }
}

let probeSink = Atomic<UInt>(0)

struct MallocCounts {
    var driver: Int
    var client: Int
    var elsewhere: Int
}

enum MallocCounting {
    /// Whether the interposer is loaded and counts: one probe allocation must be seen.
    static let works: Bool = {
        MallocInterposerSwift.reset()
        MallocInterposerSwift.hook()
        let probe = malloc(64)
        probeSink.store(UInt(bitPattern: probe), ordering: .relaxed)  // else the optimiser drops malloc/free
        MallocInterposerSwift.unhook()
        free(probe)
        return MallocInterposerSwift.getStatistics().mallocCount >= 1
    }()

    /// Counts the allocations `body` and every other thread make while it runs.
    static func count(driverThread: UInt, _ body: () throws -> Void) rethrows -> MallocCounts? {
        guard works else {
            try body()
            return nil
        }
        // Touch every global the hook reads before installing it, so none is first initialised inside malloc.
        mallocsOnDriver.store(0, ordering: .relaxed)
        mallocsOnClient.store(0, ordering: .relaxed)
        mallocsElsewhere.store(0, ordering: .relaxed)
        hookDriverThread.store(driverThread, ordering: .relaxed)
        hookClientThread.store(UInt(pthread_self()), ordering: .relaxed)
        MallocInterposerSwift.setAllocationHook(threadSplittingHook)
        MallocInterposerSwift.reset()
        MallocInterposerSwift.hook()
        defer {
            MallocInterposerSwift.unhook()
            MallocInterposerSwift.setAllocationHook(nil)
        }
        try body()
        MallocInterposerSwift.unhook()
        return MallocCounts(
            driver: mallocsOnDriver.load(ordering: .relaxed), client: mallocsOnClient.load(ordering: .relaxed),
            elsewhere: mallocsElsewhere.load(ordering: .relaxed))
    }
}
