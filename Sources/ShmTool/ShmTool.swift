import ArgumentParser
import Foundation
import TensorPoolSHM
import TensorPoolWire

#if canImport(Glibc)
    import Glibc
#endif

/// `tp-shm`: look inside SHM regions, and run the multi-process torn-read stress.
@main
struct ShmTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tp-shm",
        abstract: "Inspect SHM Tensor Pool regions and stress the seqlock commit protocol across processes.",
        subcommands: [Inspect.self, Stress.self, StressWriter.self, StressReader.self])
}

/// Prints the superblock of a region file and, for a header ring, the state of each slot.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a region's superblock and slot states.")

    @Argument(help: "Path of a header.ring or <pool_id>.pool file.")
    var path: String

    @Option(help: "Directory the path must lie in (containment check).")
    var allowedBase: String = "/dev/shm"

    @Option(help: "Print at most this many slots of a header ring.")
    var slots: Int = 16

    func run() throws {
        let policy = try PathPolicy(allowedBaseDirectories: [allowedBase])
        let file = try policy.openForMapping(RegionURI(path: path), writable: false)
        defer { file.close() }
        guard file.size >= ShmLayout.superblockSize else {
            throw ValidationError("\(path) holds \(file.size) bytes, less than a superblock")
        }
        let region = try MappedRegion.map(file, length: file.size, writable: false)
        defer { region.unmap() }
        let superblock = try Superblock(decoding: region.bytes)
        print("path:               \(file.path)")
        print(
            "magic:              0x\(String(superblock.magic, radix: 16))\(superblock.magic == ShmLayout.magic ? " (TPOLSHM1)" : " (INVALID)")"
        )
        print("layout_version:     \(superblock.layoutVersion)")
        print("epoch:              \(superblock.epoch)")
        print("stream_id:          \(superblock.streamId)")
        print("region_type:        \(superblock.regionType)")
        print("pool_id:            \(superblock.poolId)")
        print("nslots:             \(superblock.nslots)")
        print("slot_bytes:         \(superblock.slotBytes)")
        print("stride_bytes:       \(superblock.strideBytes)")
        print("pid:                \(superblock.pid)")
        let now = StressRunner.nanos()
        print("start_timestamp:    \(superblock.startTimestampNs) (\(Self.age(superblock.startTimestampNs, now: now)))")
        print(
            "activity_timestamp: \(superblock.activityTimestampNs) (\(Self.age(superblock.activityTimestampNs, now: now)))"
        )
        guard superblock.regionType == .headerRing else { return }
        let count = min(
            Int(superblock.nslots), slots, (region.length - ShmLayout.superblockSize) / ShmLayout.headerSlotBytes)
        for index in 0..<count {
            let word = SeqCommitWord(at: region.base + ShmLayout.headerSlotOffset(index)).readBegin()
            let state = word == 0 ? "empty" : SeqCommit.isCommitted(word) ? "committed" : "writing"
            print("slot \(index): seq \(SeqCommit.sequence(word)) \(state)")
        }
    }
}

extension Inspect {
    /// How far a superblock timestamp lies from `now` on CLOCK_MONOTONIC, the clock both peers and we stamp with.
    static func age(_ timestamp: UInt64, now: UInt64) -> String {
        if timestamp == 0 { return "never" }
        if timestamp <= now { return "CLOCK_MONOTONIC, \((now - timestamp) / 1_000_000) ms ago" }
        return "\((timestamp - now) / 1_000_000) ms ahead of CLOCK_MONOTONIC: not a monotonic stamp of this boot"
    }
}

/// Options shared by the stress commands.
struct StressOptions: ParsableArguments {
    @Option(help: "Seconds to run.")
    var seconds: Double = 5

    @Option(help: "Header ring slots (a small ring makes overwrites frequent).")
    var nslots: UInt32 = 4

    @Option(help: "Largest payload in bytes (a multiple of 64).")
    var payload: Int = 65_536

    @Option(help: "Directory for the regions (created; must be absolute).")
    var directory: String?
}

/// Runs a writer and a reader as two processes and checks the result.
struct Stress: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Writer and reader processes race on a small ring; fails on any corrupt accepted frame.")

    @OptionGroup var options: StressOptions

    @Option(help: "Stop the reader after this many reads.")
    var maxReads: UInt64 = .max

    @Option(help: "How much longer than --seconds the reader may read while waiting for the race to show.")
    var maxSeconds: Double = 60

    func run() throws {
        let directory = options.directory ?? "/dev/shm/tp-shm-stress-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let common = ["--nslots", "\(options.nslots)", "--payload", "\(options.payload)", "--directory", directory]
        // The reader reads for `seconds` and on until the race has shown (at most `maxSeconds` more); the writer
        // overwrites until the reader is done, so a busy machine makes the run longer, not weaker.
        let stopFile = directory + "/stop"
        let writer = Process()
        writer.executableURL = executable
        writer.arguments =
            ["stress-writer", "--seconds", "\(options.seconds + maxSeconds + 60)", "--stop-file", stopFile] + common
        let writerOutput = Pipe()
        writer.standardOutput = writerOutput
        let reader = Process()
        reader.executableURL = executable
        reader.arguments =
            [
                "stress-reader", "--max-reads", "\(maxReads)", "--seconds", "\(options.seconds)", "--until-raced",
                "--max-seconds", "\(options.seconds + maxSeconds)",
            ] + common
        let readerOutput = Pipe()
        reader.standardOutput = readerOutput
        try writer.run()
        try reader.run()
        let readerText = readerOutput.fileHandleForReading.readDataToEndOfFile()
        reader.waitUntilExit()
        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
        let writerText = writerOutput.fileHandleForReading.readDataToEndOfFile()
        writer.waitUntilExit()
        print("writer: \(String(decoding: writerText, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        print("reader: \(String(decoding: readerText, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        guard writer.terminationStatus == 0, reader.terminationStatus == 0 else {
            throw ValidationError("writer exited \(writer.terminationStatus), reader \(reader.terminationStatus)")
        }
        let report = try JSONDecoder().decode(ReaderReport.self, from: readerText)
        guard report.corrupt == 0 else { throw ValidationError("\(report.corrupt) corrupt frames were accepted") }
        guard report.accepted > 0 else { throw ValidationError("no frame was accepted") }
        guard report.dropsLate > 0 else { throw ValidationError("drops_late is 0: the race never happened") }
        print("PASS: \(report.accepted) frames accepted and checked, \(report.dropsLate) late drops, 0 corrupt")
    }
}

/// The writer process of the stress.
struct StressWriter: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create regions and overwrite the ring at full speed.")

    @OptionGroup var options: StressOptions

    @Option(help: "Stop as soon as this file exists (--seconds is then only an upper bound).")
    var stopFile: String?

    func run() throws {
        guard let directory = options.directory else { throw ValidationError("--directory is required") }
        guard options.payload > 0, options.payload % 64 == 0 else {
            throw ValidationError("--payload must be a positive multiple of 64")
        }
        let report = try StressRunner.writer(
            directory: directory, nslots: options.nslots, payload: options.payload, seconds: options.seconds,
            stopFile: stopFile)
        print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
    }
}

/// The reader process of the stress.
struct StressReader: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Map the writer's regions and check every frame.")

    @OptionGroup var options: StressOptions

    @Option(help: "Stop after this many reads.")
    var maxReads: UInt64 = .max

    @Flag(help: "Negative control: trust in-place frames without the final seq_commit re-check (expect corruption).")
    var skipRecheck = false

    @Flag(help: "After --seconds, read on until the race has shown (needs a writer with --stop-file).")
    var untilRaced = false

    @Option(help: "With --until-raced: stop after this many seconds whatever happened (a hang guard).")
    var maxSeconds: Double = 60

    func run() throws {
        guard let directory = options.directory else { throw ValidationError("--directory is required") }
        let report = try StressRunner.reader(
            directory: directory, payload: options.payload, seconds: options.seconds, maxReads: maxReads,
            skipRecheck: skipRecheck, untilRaced: untilRaced, maxSeconds: maxSeconds)
        print(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))
    }
}
