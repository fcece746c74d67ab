public import Foundation

/// An executable built beside the running test bundle (SwiftPM puts products and test bundles in one folder), or the
/// path in an environment variable.
public enum BuiltExecutable {
    /// The executable `name` beside the test bundle, or `$environment` when set; `nil` when neither exists.
    public static func named(_ name: String, environment: String? = nil) -> URL? {
        if let environment, let path = ProcessInfo.processInfo.environment[environment] {
            return URL(fileURLWithPath: path)
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidate = executable.deletingLastPathComponent().appendingPathComponent(name)
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }
}

/// Polls `condition` every millisecond until it holds or `timeout` passes; returns whether it held.
public func waitFor(timeout: Duration, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now.advanced(by: timeout)
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}

/// A child process started with `posix_spawn`, its output captured to a file.
///
/// Not Foundation's `Process`: on Linux it spawns from a libdispatch thread whose blocked signals the child inherits,
/// so a child such as `aeronmd` never sees SIGTERM. Here the child starts with an empty signal mask and default
/// handlers.
public final class Child {
    /// Process id of the child.
    public let pid: pid_t
    /// File receiving the child's stdout and stderr.
    public let outputPath: String
    private var exitStatus: Int32?

    /// Starts `executable` with `arguments`.
    public init(_ executable: URL, _ arguments: [String]) throws {
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
    public func send(_ signal: Int32) {
        if exitStatus == nil { kill(pid, signal) }
    }

    /// Waits up to `timeout` for the child to exit; kills it if it does not. Returns its exit code, or `nil` when it
    /// had to be killed or died from a signal.
    public func wait(timeout: Duration) -> Int32? {
        if exitStatus == nil {
            let exited = waitFor(timeout: timeout) { reap(options: WNOHANG) }
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

    /// Everything the child wrote so far.
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = reap(options: 0)
        }
        unlink(outputPath)
    }
}
