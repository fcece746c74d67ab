import Aeron
import Foundation
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
    static var tool: URL? {
        if let path = ProcessInfo.processInfo.environment["TP_AERON_TOOL"] { return URL(fileURLWithPath: path) }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidate = executable.deletingLastPathComponent().appendingPathComponent("tp-aeron")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }

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

/// A child process started with `posix_spawn`, its output captured to a file.
///
/// Not Foundation's `Process`: on Linux it spawns from a libdispatch thread whose blocked signals the child inherits,
/// so a child such as `aeronmd` never sees SIGTERM. Here the child starts with an empty signal mask and default
/// handlers.
final class Child {
    let pid: pid_t
    let outputPath: String
    private var exitStatus: Int32?

    init(_ executable: URL, _ arguments: [String]) throws {
        outputPath =
            FileManager.default.temporaryDirectory
            .appendingPathComponent("tp-test-\(getpid())-\(UUID().uuidString).log").path
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable.path, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw NSError(
                domain: NSPOSIXErrorDomain, code: Int(result),
                userInfo: [
                    NSLocalizedDescriptionKey:
                        "posix_spawn \(executable.path) failed: \(String(cString: strerror(result)))"
                ])
        }
        self.pid = pid
    }

    /// Sends `signal` to the child if it is still running.
    func send(_ signal: Int32) {
        if exitStatus == nil { kill(pid, signal) }
    }

    /// Waits up to `timeout` for the child to exit; kills it if it does not. Returns its exit code, or `nil` when it
    /// had to be killed or died from a signal.
    func wait(timeout: Duration) -> Int32? {
        if exitStatus == nil {
            let exited = waitUntil(timeout: timeout) { reap(options: WNOHANG) }
            if !exited {
                kill(pid, SIGKILL)
                _ = reap(options: 0)
                return nil
            }
        }
        guard let status = exitStatus, status & 0x7F == 0 else { return nil }
        return (status >> 8) & 0xFF
    }

    private func reap(options: Int32) -> Bool {
        guard exitStatus == nil else { return true }
        var status: Int32 = 0
        let result = waitpid(pid, &status, options)
        if result == pid {
            exitStatus = status
            return true
        }
        return result < 0
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = reap(options: 0)
        }
        unlink(outputPath)
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
            _ = driver.wait(timeout: .seconds(10))
        }
        #expect(waitUntil(timeout: .seconds(15)) { AeronContext.isDriverActive(directory: directory) })

        let common = ["--aeron-dir", directory, "--stream", "4242", "--count", "2000", "--length", "3000"]
        let receiver = try Child(tool, ["receive"] + common + ["--timeout", "25"])
        let sender = try Child(tool, ["send"] + common + ["--timeout", "25"])
        let senderStatus = sender.wait(timeout: .seconds(30))
        let receiverStatus = receiver.wait(timeout: .seconds(30))
        #expect(senderStatus == 0, "sender: \(sender.output)")
        #expect(receiverStatus == 0, "receiver: \(receiver.output)")
        #expect(sender.output.contains("sent 2000 messages of 3000 B"))
        #expect(receiver.output.contains("received 2000 messages of 3000 B in order"))

        driver.send(SIGTERM)
        // aeronmd handles SIGTERM, shuts down cleanly and exits with the signal's number.
        #expect(driver.wait(timeout: .seconds(10)) == SIGTERM, "aeronmd: \(driver.output)")
        #expect(!FileManager.default.fileExists(atPath: directory))
    }
}
