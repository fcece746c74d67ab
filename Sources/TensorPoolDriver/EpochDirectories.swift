import Foundation
import TensorPoolSHM

#if canImport(Glibc)
    import Glibc
#endif

/// The epoch directories of a stream (`<stream dir>/<epoch>/`), as the driver finds them on disk.
enum EpochDirectories {
    /// The numeric epoch directory names under `streamDirectory`, largest first.
    static func epochs(in streamDirectory: String) -> [UInt64] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: streamDirectory)) ?? []
        return names.compactMap { UInt64($0) }.sorted(by: >)
    }

    /// The largest epoch on disk, or 0.
    static func largestEpoch(in streamDirectory: String) -> UInt64 {
        epochs(in: streamDirectory).first ?? 0
    }

    /// The pid recorded in an epoch's header ring superblock and its activity timestamp, if readable.
    static func owner(of epochDirectory: String) -> (pid: UInt64, activityNs: UInt64)? {
        let path = epochDirectory + "/header.ring"
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: ShmLayout.superblockSize)
        let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count == ShmLayout.superblockSize else { return nil }
        guard let superblock = bytes.withUnsafeBytes({ try? Superblock(decoding: $0) }),
            superblock.magic == ShmLayout.magic
        else { return nil }
        return (superblock.pid, superblock.activityTimestampNs)
    }

    /// Whether process `pid` exists.
    static func isAlive(_ pid: UInt64) -> Bool {
        guard pid > 0, pid <= UInt64(Int32.max) else { return false }
        return kill(pid_t(pid), 0) == 0 || errno == EPERM
    }
}

extension DriverCore {
    /// Removes the epoch directories this driver retired, oldest first, once they are `epoch_gc_min_age_ns` old and
    /// more than `epoch_gc_keep - 1` retired epochs of their stream remain. It knows them without listing any
    /// directory and spends at most 1 ms per duty cycle, so churn never stalls the control plane.
    func collectRetiredEpochs(now: UInt64) -> Int {
        let keepRetired = Int(max(1, configuration.policies.epochGcKeep)) - 1
        let minAge = configuration.policies.epochGcMinAgeNs
        let deadline = now &+ 1_000_000
        var removed = 0
        for streamId in retired.keys {
            guard var queue = retired[streamId], queue.count > keepRetired else { continue }
            var taken = 0
            while queue.count - taken > keepRetired, now &- queue[taken].retiredNs >= minAge {
                guard removed == 0 || clock.monotonicNs() < deadline else { break }
                let path = "\(layout.streamDirectory(streamId: streamId))/\(queue[taken].epoch)"
                if (try? FileManager.default.removeItem(atPath: path)) != nil {
                    counters.epochDirectoriesCollected &+= 1
                }
                removed += 1
                taken += 1
            }
            if taken > 0 {
                queue.removeFirst(taken)
                retired[streamId] = queue
            }
        }
        return removed
    }

    /// Removes old epoch directories of every stream (§17 `policies.epoch_gc_*`): never the current epoch, keeps the
    /// newest `epoch_gc_keep` epochs in all, only those idle for `epoch_gc_min_age_ns`, and only when the process that
    /// created them is gone or is this driver (which no longer uses a retired epoch). `force` skips the age check (GC
    /// on startup of epochs whose owner is gone).
    ///
    /// Idleness is judged on CLOCK_MONOTONIC, the clock of `activity_timestamp_ns`. An activity timestamp ahead of
    /// the clock cannot be from this boot's monotonic clock (it is from an earlier boot, or a realtime stamp of an
    /// older writer), so it counts as idle; the owner check still protects a live process.
    ///
    /// A sweep does bounded work (at most 16 removals and 64 superblock reads) so that it never stalls the control
    /// plane; the rest waits for the next sweep.
    func collectEpochDirectories(force: Bool) {
        var removals = 0
        var reads = 0
        let keep = Int(max(1, configuration.policies.epochGcKeep))
        let minAge = configuration.policies.epochGcMinAgeNs
        let ownPid = UInt64(getpid())
        var streamIds = Set(streams.keys)
        for stream in configuration.streams { streamIds.insert(stream.streamId) }
        for streamId in streamIds {
            let directory = layout.streamDirectory(streamId: streamId)
            let current = streams[streamId]?.epoch ?? 0
            let candidates = EpochDirectories.epochs(in: directory).filter { $0 != current }
            for epoch in candidates.dropFirst(max(0, keep - 1)).reversed() {  // oldest first
                guard force || (removals < 16 && reads < 64) else { return }
                let path = "\(directory)/\(epoch)"
                reads += 1
                if let owner = EpochDirectories.owner(of: path) {
                    let ownerGone = owner.pid == ownPid || !EpochDirectories.isAlive(owner.pid)
                    let now = clock.monotonicNs()  // read after the superblock: a refresh cannot be ahead of it
                    let idle = owner.activityNs > now || now - owner.activityNs >= minAge
                    guard ownerGone && (force || idle) else { continue }
                } else if !force {
                    continue  // unreadable: leave it unless collecting at startup
                }
                do {
                    try FileManager.default.removeItem(atPath: path)
                    removals += 1
                    counters.epochDirectoriesCollected &+= 1
                    logger.info("epoch directory collected", metadata: ["path": "\(path)"])
                } catch {
                    logger.warning("epoch directory not removed", metadata: ["path": "\(path)", "error": "\(error)"])
                }
            }
        }
    }
}
