import Aeron
import Foundation
import TestProcesses
import Testing

/// Executables the multi-process tests start.
enum Binaries {
    /// The standalone C media driver installed by `Tools/aeron/install.sh`.
    static var aeronmd: URL? {
        if let path = ProcessInfo.processInfo.environment["TP_AERONMD"] { return URL(fileURLWithPath: path) }
        let candidates = [
            pkgConfigVariable("aeronmd"), "/usr/local/bin/aeronmd", NSHomeDirectory() + "/.local/bin/aeronmd",
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
            .map { URL(fileURLWithPath: $0) }
    }

    /// `tp-aeron`, built beside the test bundle.
    static var tool: URL? { BuiltExecutable.named("tp-aeron", environment: "TP_AERON_TOOL") }

    private static func pkgConfigVariable(_ name: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["pkg-config", "--variable=\(name)", "aeron"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !text.isEmpty ? text : nil
    }
}

@Suite("Two processes through one standalone aeronmd", .serialized)
struct MultiProcessTests {
    @Test("a sender and a receiver in separate processes exchange fragmented messages through aeronmd")
    func twoProcesses() throws {
        let aeronmd = try #require(Binaries.aeronmd, "aeronmd not found: run Tools/aeron/install.sh")
        let tool = try #require(Binaries.tool, "tp-aeron not built beside the tests")
        let directory = "/dev/shm/aeron-tp-\(getpid())-aeronmd"
        let driver = try Child(
            aeronmd,
            [
                "-Daeron.dir=\(directory)",
                "-Daeron.dir.delete.on.start=true",
                "-Daeron.dir.delete.on.shutdown=true",
                "-Daeron.threading.mode=SHARED",
                "-Daeron.shared.idle.strategy=backoff",
                "-Daeron.ipc.term.buffer.length=4194304",
                "-Daeron.term.buffer.sparse.file=true",
            ])
        defer {
            driver.send(SIGTERM)
            _ = driver.wait(timeout: TestTiming.hangGuard)
        }
        #expect(waitUntil { AeronContext.isDriverActive(directory: directory) })

        // Exclusive IPC is reliable: every message arrives, in order. The tools' own timeouts and the waits for them
        // are hang guards (the tools' timeouts count only the time they wait idle); each child ends when it is done.
        let toolTimeout = "\(TestTiming.hangGuard.components.seconds)"
        let common = ["--aeron-dir", directory, "--stream", "4242", "--count", "2000", "--length", "3000"]
        let receiver = try Child(tool, ["receive"] + common + ["--timeout", toolTimeout])
        let sender = try Child(tool, ["send"] + common + ["--timeout", toolTimeout])
        let senderStatus = sender.wait(timeout: TestTiming.hangGuard * 2)
        let receiverStatus = receiver.wait(timeout: TestTiming.hangGuard * 2)
        #expect(senderStatus == 0, "sender: \(sender.output)")
        #expect(receiverStatus == 0, "receiver: \(receiver.output)")
        #expect(sender.output.contains("sent 2000 messages of 3000 B"))
        #expect(receiver.output.contains("received 2000 messages of 3000 B in order"))

        driver.send(SIGTERM)
        // aeronmd handles SIGTERM, shuts down cleanly and exits with the signal's number.
        #expect(driver.wait(timeout: TestTiming.hangGuard) == SIGTERM, "aeronmd: \(driver.output)")
        #expect(!FileManager.default.fileExists(atPath: directory))
    }
}
