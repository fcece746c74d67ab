import ConformanceSupport
import Foundation
import TestProcesses
import Testing

@testable import ShmTool

/// Runs `tp-shm stress-writer` and `tp-shm stress-reader` as two real processes racing on a 4-slot ring.
///
/// The reader reads for `seconds`, then on until the run has shown the race it exists to show (``StressRunner/raced``),
/// with the hang guard as its only limit; the writer overwrites the ring until the reader is done. A busy machine
/// makes the run longer, never weaker, and nothing here depends on how many frames fit in a second.
private func runStress(seconds: Double, readerFlags: [String] = []) throws -> ReaderReport {
    let tool = try #require(BuiltExecutable.named("tp-shm", environment: "TP_SHM_TOOL"), "tp-shm not built")
    let directory = "/dev/shm/tp-conf-stress-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let hangGuard = Double(TestTiming.hangGuard.components.seconds)
    let stopFile = directory + "/stop"
    let common = ["--nslots", "4", "--payload", "65536", "--directory", directory]
    // The writer's --seconds is only an upper bound: it stops when the stop file appears.
    let writer = try Child(
        tool, ["stress-writer", "--seconds", "\(3 * hangGuard)", "--stop-file", stopFile] + common)
    let reader = try Child(
        tool,
        ["stress-reader", "--seconds", "\(seconds)", "--until-raced", "--max-seconds", "\(hangGuard)"] + readerFlags
            + common)
    // The reader waits for the announce and then reads, each under the hang guard.
    let readerStatus = reader.wait(timeout: TestTiming.hangGuard * 2 + .seconds(seconds))
    _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
    let writerStatus = writer.wait(timeout: TestTiming.hangGuard)
    #expect(writerStatus == 0, "writer: \(writer.output)")
    try #require(readerStatus == 0, "reader: \(reader.output)")
    let line = try #require(reader.output.split(separator: "\n").last { $0.hasPrefix("{") })
    return try JSONDecoder().decode(ReaderReport.self, from: Data(line.utf8))
}

/// §8.3, §15.3, §15.4, §15.13: the seqlock commit protocol under real multi-process overwrite.
@Suite("Wire §8.3/§15.3/§15.13: seqlock under multi-process overwrite", .serialized)
struct SeqlockStressConformance {
    @Test(
        "a reader process never accepts a torn frame while a writer process overwrites a 4-slot ring for 5 s",
        .verifies(
            "WIRE-15.13-002", "WIRE-8.3-004", "WIRE-8.3-009", "WIRE-8.3-013", "WIRE-15.3-002", "WIRE-15.3-003",
            "WIRE-15.4-001", "WIRE-15.4-003", "WIRE-15.21-004", "WIRE-15.21-007", "WIRE-15.21-009",
            "WIRE-15.18-007", "WIRE-15.18-008", "WIRE-8.3-010", "WIRE-15.21-002"))
    func noTornFrames() throws {
        let report = try runStress(seconds: 5)
        #expect(report.corrupt == 0, "no corrupt frame may be accepted")
        // Every read is accounted for: accepted intact, or dropped with a counted reason (a zero-copy frame found
        // overwritten after use counts as late, not accepted).
        #expect(
            report.reads == report.accepted + report.dropsLate + report.dropsInvalid,
            "reads \(report.reads) = accepted \(report.accepted) + late \(report.dropsLate) + invalid \(report.dropsInvalid)"
        )
        // The reader read on until the race had shown; these fail only when it never did within the hang guard.
        #expect(report.accepted > report.acceptedInPlace, "copied frames must be accepted: \(report)")
        #expect(report.acceptedInPlace > 0, "zero-copy frames must be accepted too: \(report)")
        #expect(report.dropsLate > 0, "drops_late > 0 proves the race happened: \(report)")
        #expect(report.changedDuringRead + report.overwrittenAfterAccept > 0, "overwrites during reads: \(report)")
    }

    @Test(
        "negative control: trusting an in-place frame without the second seq_commit load does accept torn frames",
        .verifies("WIRE-8.3-004", "WIRE-15.13-002"))
    func recheckIsWhatPreventsTearing() throws {
        // The control reader uses each frame after the writer has lapped the ring, so every frame it accepts holds
        // overwritten bytes; it stops after 10.
        let report = try runStress(seconds: 0, readerFlags: ["--skip-recheck"])
        #expect(report.corrupt == 10, "without the re-check the same race must show torn payloads: \(report)")
        #expect(report.accepted == report.corrupt, "every frame used after a lap is torn: \(report)")
    }
}
