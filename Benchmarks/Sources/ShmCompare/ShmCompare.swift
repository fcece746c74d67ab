import CAffinity
import Foundation
import Glibc
import MallocInterposerSwift
import ShmBenchSupport
import TensorPoolSHM

/// `shm-compare`: the SHM copy path against its physical limit. For 256 B, 64 KiB, 640 KiB and 4 MiB frames it
/// measures `FrameWriter.publish` (claim, copy, commit) and a plain `memcpy` of the same source buffer into the same
/// sequence of pool slots (a ring of 8 under /dev/shm), in alternating rounds, and prints GB/s of each and the ratio.
/// Exits 1 when the 640 KiB ratio is below 0.90 (`--min-ratio`). Mallocs are counted by the malloc interposer
/// this executable links (it precedes libc among the needed libraries, so it interposes without `LD_PRELOAD`).
///
/// Usage: `shm-compare [--rounds N] [--bytes B] [--min-ratio R] [--markdown]`
@main
struct ShmCompare {
    struct Options {
        /// Rounds per size; each round measures both sides once, the side that goes first alternating.
        var rounds = 8
        /// Bytes copied per measurement (at least 16 frames).
        var bytes = 512 << 20
        var markdown = false
        var minimumRatio = 0.90
        var gatedLength = 640 << 10
    }

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--rounds": options.rounds = iterator.next().flatMap(Int.init) ?? options.rounds
            case "--bytes": options.bytes = iterator.next().flatMap(Int.init) ?? options.bytes
            case "--markdown": options.markdown = true
            case "--min-ratio": options.minimumRatio = iterator.next().flatMap(Double.init) ?? options.minimumRatio
            default:
                FileHandle.standardError.write(Data("shm-compare: unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
        options.rounds = max(1, options.rounds)
        return options
    }

    /// One measured side.
    enum Side: CaseIterable {
        case publish
        case memcpy
    }

    /// One measurement: frames, elapsed nanoseconds, mallocs counted during the loop.
    struct Sample {
        var frames: Int
        var nanos: UInt64
        var mallocs: Int
    }

    static func main() throws {
        let options = parse(Array(CommandLine.arguments.dropFirst()))
        // Single-threaded: pin to the last CPU so the scheduler does not migrate the loop mid-measurement.
        let cpus = Int(tp_bench_cpu_count())
        let cpu = cpus - 1
        let pinned = cpus >= 1 && tp_bench_pin(Int32(cpu), Int32(cpu)) == 0
        let counting = mallocCountingWorks()
        print("shm-compare: FrameWriter.publish (claim + copy + commit) vs memcpy into the same pool slots")
        print(
            "  ring of 8 slots under /dev/shm (prefaulted), one private source buffer, seq strictly increasing;"
        )
        print(
            "  \(options.rounds) alternating rounds of \(options.bytes >> 20) MiB per side and size after one warm-up"
                + " each; medians; \(pinned ? "pinned to CPU \(cpu)" : "not pinned")")
        var rows: [[String]] = []
        var gateRatio: Double?
        for length in shmBenchSizes {
            let ring = try ShmBenchRing(length: length, label: "compare")
            defer { ring.close() }
            let frames = max(options.bytes / length, 16)
            // Warm-up: page tables, caches, branch predictors.
            for side in Side.allCases { _ = try measure(side, ring: ring, frames: max(frames / 4, 1), count: false) }
            var rates: [Side: [Double]] = [.publish: [], .memcpy: []]
            var mallocs: [Side: Int] = [.publish: 0, .memcpy: 0]
            var framesCounted: [Side: Int] = [.publish: 0, .memcpy: 0]
            for round in 0..<options.rounds {
                for side in round % 2 == 0 ? [Side.publish, .memcpy] : [.memcpy, .publish] {
                    let sample = try measure(side, ring: ring, frames: frames, count: counting)
                    rates[side]!.append(Double(sample.frames * length) / Double(sample.nanos))
                    mallocs[side]! += sample.mallocs
                    framesCounted[side]! += sample.frames
                }
            }
            let publish = median(rates[.publish]!)
            let memcpy = median(rates[.memcpy]!)
            let ratio = publish / memcpy
            if length == options.gatedLength { gateRatio = ratio }
            if getenv("COMPARE_VERBOSE") != nil {
                let format = { (values: [Double]) in values.map { String(format: "%.1f", $0) }.joined(separator: " ") }
                print(
                    "  \(sizeLabel(length)) GB/s: publish [\(format(rates[.publish]!))], memcpy [\(format(rates[.memcpy]!))]"
                )
            }
            func perFrame(_ side: Side) -> String {
                counting ? String(format: "%.2g", Double(mallocs[side]!) / Double(framesCounted[side]!)) : "n/a"
            }
            rows.append([
                sizeLabel(length), String(format: "%.2f", publish), String(format: "%.2f", memcpy),
                String(format: "%.2f", ratio),
                String(format: "%.0f ns", Double(length) / publish), String(format: "%.0f ns", Double(length) / memcpy),
                perFrame(.publish), perFrame(.memcpy),
            ])
        }
        let header = [
            "size", "publish GB/s", "memcpy GB/s", "ratio", "publish/frame", "memcpy/frame", "mallocs/frame publish",
            "mallocs/frame memcpy",
        ]
        print(table(header, rows, markdown: options.markdown))
        print("ratio = publish / memcpy (1.00 = the copy path runs at memcpy speed); GB/s = 10^9 bytes per second.")
        if !counting { print("mallocs not counted: the malloc interposer is not active in this process") }
        if let gateRatio, gateRatio < options.minimumRatio {
            print(
                String(
                    format: "FAIL: the %@ ratio %.2f is below %.2f", sizeLabel(options.gatedLength), gateRatio,
                    options.minimumRatio))
            exit(1)
        }
        if let gateRatio {
            print(
                String(
                    format: "ok: %@ ratio %.2f >= %.2f", sizeLabel(options.gatedLength), gateRatio, options.minimumRatio
                ))
        }
    }

    /// Runs `frames` frames of one side, continuing the ring's sequence, and times them.
    static func measure(_ side: Side, ring: ShmBenchRing, frames: Int, count: Bool) throws -> Sample {
        let writer = ring.writer
        let tensor = ring.tensor
        let payload = UnsafeRawBufferPointer(ring.source)
        let source = UnsafeRawPointer(ring.source.baseAddress!)
        let length = ring.length
        var seq = ring.nextSeq
        if count {
            MallocInterposerSwift.reset()
            MallocInterposerSwift.hook()
        }
        let start = nanos()
        switch side {
        case .publish:
            for _ in 0..<frames {
                try writer.publish(seq: seq, payload: payload, tensor: tensor, timestampNs: seq, metaVersion: 0)
                seq &+= 1
            }
        case .memcpy:
            for _ in 0..<frames {
                Glibc.memcpy(ring.slot(seq), source, length)
                seq &+= 1
            }
        }
        let elapsed = nanos() - start
        var mallocs = 0
        if count {
            MallocInterposerSwift.unhook()
            mallocs = MallocInterposerSwift.getStatistics().mallocCount
        }
        ring.nextSeq = seq
        return Sample(frames: frames, nanos: elapsed, mallocs: mallocs)
    }

    /// Whether the malloc interposer is loaded and counts: one probe allocation must be seen.
    static func mallocCountingWorks() -> Bool {
        MallocInterposerSwift.reset()
        MallocInterposerSwift.hook()
        let probe = malloc(64)
        blackHoleInt(Int(bitPattern: probe))  // else the optimiser removes the malloc/free pair
        MallocInterposerSwift.unhook()
        free(probe)
        return MallocInterposerSwift.getStatistics().mallocCount >= 1
    }

    static func nanos() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func table(_ header: [String], _ rows: [[String]], markdown: Bool) -> String {
        let all = [header] + rows
        if markdown {
            return all.enumerated().map { index, row in
                "| " + row.joined(separator: " | ") + " |"
                    + (index == 0 ? "\n|---|" + String(repeating: "---:|", count: row.count - 1) : "")
            }.joined(separator: "\n")
        }
        let widths = header.indices.map { column in all.map { $0[column].count }.max()! }
        return all.map { row in
            row.indices.map { column in
                let text = row[column]
                let padding = String(repeating: " ", count: widths[column] - text.count)
                return column == 0 ? text + padding : padding + text
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
