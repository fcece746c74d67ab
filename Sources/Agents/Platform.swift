// Thin, allocation-free wrappers over the few OS calls this module needs. Kept in one file so the rest of the module
// stays free of `#if` noise, and kept internal (`@usableFromInline` where inlinable code needs them) so that the
// platform C modules stay internal imports.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

#if arch(x86_64) && !DEBUG && !AGENTS_NO_SPIN_PAUSE
    /// The LLVM intrinsic behind `_mm_pause()`. The C header declaration of `_mm_pause` cannot be used from Swift:
    /// Clang treats it as a builtin, so Swift emits a call to an undefined `_mm_pause` symbol and linking fails.
    /// Naming the intrinsic directly makes LLVM lower the call to a single `pause` instruction.
    ///
    /// Only in optimized builds: under `-sanitize=thread` the Swift compiler emits this call as an LLVM `invoke`,
    /// which the verifier rejects (the compiler crashes). Debug builds, where the sanitizer is normally used, do
    /// without the hint; an optimized build with the thread sanitizer must add `-Xswiftc -DAGENTS_NO_SPIN_PAUSE`.
    @usableFromInline
    @_silgen_name("llvm.x86.sse2.pause")
    func _x86Pause()
#endif

/// A hint to the CPU that the caller is in a spin-wait loop: `pause` on x86-64 in optimized builds (see `_x86Pause`),
/// nothing elsewhere.
@inlinable
@inline(__always)
func spinLoopHint() {
    #if arch(x86_64) && !DEBUG && !AGENTS_NO_SPIN_PAUSE
        _x86Pause()
    #endif
}

/// Gives up the processor to another runnable thread (`sched_yield`).
@usableFromInline
func yieldThread() {
    _ = sched_yield()
}

/// Sleeps the calling thread for about `nanos` nanoseconds with `nanosleep`. An early wake-up by a signal is not
/// retried: for an idle strategy a short idle is harmless.
@usableFromInline
func sleepThread(nanos: Int64) {
    guard nanos > 0 else { return }
    var request = timespec()
    request.tv_sec = .init(nanos / 1_000_000_000)
    request.tv_nsec = .init(nanos % 1_000_000_000)
    _ = nanosleep(&request, nil)
}

/// Reads `clock` with `clock_gettime` as nanoseconds.
@inline(__always)
func readClockNanos(_ clock: clockid_t) -> Int64 {
    var time = timespec()
    _ = clock_gettime(clock, &time)
    return Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
}

/// `CLOCK_MONOTONIC` as nanoseconds.
func monotonicNanos() -> Int64 {
    readClockNanos(CLOCK_MONOTONIC)
}

/// `CLOCK_REALTIME` as nanoseconds since the Unix epoch.
func realtimeNanos() -> Int64 {
    readClockNanos(CLOCK_REALTIME)
}

/// Writes `message` to file descriptor 2 without Foundation and without going through the (non-`Sendable`) `stderr`
/// global.
func writeToStandardError(_ message: String) {
    var message = message
    message.withUTF8 { bytes in
        guard var next = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let written = write(2, next, left)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            if written == 0 { return }
            next += written
            left -= written
        }
    }
}

/// An opaque, comparable identity of the calling thread (for tests and diagnostics).
func currentThreadIdentity() -> UInt {
    #if canImport(Darwin)
        UInt(bitPattern: pthread_self())
    #else
        UInt(pthread_self())
    #endif
}

/// The longest thread name, in bytes without the terminating NUL, that `pthread_setname_np` accepts.
#if canImport(Darwin)
    let maxThreadNameBytes = 63
#else
    let maxThreadNameBytes = 15
#endif

/// `name` cut to at most `maxBytes` bytes of UTF-8 without splitting a Unicode scalar; NUL characters are dropped.
func truncatedThreadName(_ name: String, maxBytes: Int = maxThreadNameBytes) -> String {
    var result = ""
    var used = 0
    for scalar in name.unicodeScalars where scalar != "\0" {
        let width = UTF8.width(scalar)
        if used + width > maxBytes { break }
        used += width
        result.unicodeScalars.append(scalar)
    }
    return result
}

/// Names the calling thread (visible in `top -H`, `ps -L`, debuggers and `/proc/<pid>/task/*/comm`). The name is cut
/// to the platform limit; an empty name leaves the thread's name unchanged.
///
/// On Linux, Swift's Glibc module does not declare the GNU extensions `pthread_setname_np` and `prctl`, so the name
/// is written to `/proc/thread-self/comm`, the kernel interface `pthread_setname_np` itself uses for other threads.
/// Failure (no `/proc`) is ignored: a thread name is a diagnostic aid.
func setCurrentThreadName(_ name: String) {
    let name = truncatedThreadName(name)
    guard !name.isEmpty else { return }
    #if canImport(Darwin)
        _ = name.withCString { pthread_setname_np($0) }
    #else
        let file = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard file >= 0 else { return }
        defer { _ = Glibc.close(file) }
        var bytes = name
        _ = bytes.withUTF8 { write(file, $0.baseAddress, $0.count) }
    #endif
}

/// `duration` in whole nanoseconds, saturated at the bounds of `Int64`.
func saturatedNanos(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    let (secondsAsNanos, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return seconds < 0 ? .min : .max }
    return saturatedAdd(secondsAsNanos, attoseconds / 1_000_000_000)
}

/// `lhs + rhs`, saturated at the bounds of `Int64` instead of trapping.
@inlinable
func saturatedAdd(_ lhs: Int64, _ rhs: Int64) -> Int64 {
    let (sum, overflow) = lhs.addingReportingOverflow(rhs)
    if overflow { return rhs < 0 ? .min : .max }
    return sum
}
