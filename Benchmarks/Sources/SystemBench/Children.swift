import Aeron
import CAffinity
import Foundation
import Glibc
import Histogram
import Synchronization
import TensorPoolClient
import TensorPoolSHM

/// Set by SIGUSR1: the parent's "the sender has finished" to a receiving child, which then drains and exits.
let stopRequested = Atomic<Bool>(false)

/// Frame phases, carried by every frame so that receivers measure exactly the sender's measured window: the
/// tensor-pool producer puts them in the slot's `metaVersion`, the raw Aeron publisher in byte 8 of the message.
enum Phase {
    /// Sent during the warm-up: received and validated, but counted nowhere.
    static let warmUp: UInt32 = 1
    /// Sent during the measured window.
    static let measured: UInt32 = 2
}

/// The arguments of a child mode: `positional` leading values, then `--key value` pairs and `--flag`s.
struct ChildArguments {
    let positional: [String]
    let named: [String: String]

    /// Splits `arguments`; throws when fewer than `count` positional values lead.
    init(_ arguments: [String], positional count: Int, mode: String) throws {
        guard arguments.count >= count, !arguments.prefix(count).contains(where: { $0.hasPrefix("--") }) else {
            throw BenchError("bad \(mode) arguments \(arguments)")
        }
        positional = Array(arguments.prefix(count))
        var named: [String: String] = [:]
        var index = count
        while index < arguments.count {
            let key = arguments[index]
            guard key.hasPrefix("--") else { throw BenchError("bad \(mode) argument \(key)") }
            if index + 1 < arguments.count, !arguments[index + 1].hasPrefix("--") {
                named[key] = arguments[index + 1]
                index += 2
            } else {
                named[key] = ""
                index += 1
            }
        }
        self.named = named
    }

    /// A positional value as an `Int`.
    func int(_ index: Int) throws -> Int {
        guard let value = Int(positional[index]) else { throw BenchError("not an integer: \(positional[index])") }
        return value
    }

    /// A positional value as a `Double`.
    func double(_ index: Int) throws -> Double {
        guard let value = Double(positional[index]) else { throw BenchError("not a number: \(positional[index])") }
        return value
    }

    /// A named value as a `Double`, or `fallback`.
    func double(_ key: String, _ fallback: Double) -> Double { named[key].flatMap(Double.init) ?? fallback }

    /// Whether `--flag` was given.
    func flag(_ key: String) -> Bool { named[key] != nil }
}

/// The sender's phases: a warm-up, flat out, of at least `warmUpSeconds` and at least `warmUpFrames` frames (enough to
/// write every page of the rings once: the first lap of a fresh mapping pays a page fault per 4 KiB page, which is
/// not the steady state); a settling pause of ``settleNs`` so the receiver drains what the warm-up queued; then the
/// measured window of `seconds`.
struct SendWindow {
    /// The pause between the warm-up and the measured window.
    static let settleNs: UInt64 = 100_000_000
    let warmUpEnd: UInt64
    let warmUpFrames: UInt64
    let durationNs: UInt64
    /// Frames sent in the warm-up.
    private(set) var warmUpSent: UInt64 = 0
    /// Whether the measured window has started.
    private(set) var measuring = false
    /// When it started.
    private(set) var start: UInt64 = 0

    /// A window whose warm-up started at `now`.
    init(now: UInt64, warmUpSeconds: Double, warmUpFrames: UInt64, seconds: Double) {
        warmUpEnd = now &+ UInt64(max(0, warmUpSeconds) * 1e9)
        self.warmUpFrames = warmUpFrames
        durationNs = UInt64(max(0, seconds) * 1e9)
    }

    /// Whether the warm-up is over at `now`.
    @inline(__always)
    func warmUpDone(now: UInt64) -> Bool { now >= warmUpEnd && warmUpSent >= warmUpFrames }

    /// Counts a warm-up frame.
    @inline(__always)
    mutating func countWarmUp() { warmUpSent &+= 1 }

    /// Starts the measured window at `now`.
    mutating func startMeasuring(now: UInt64) {
        measuring = true
        start = now
    }

    /// Whether the measured window is still open at `now`.
    @inline(__always)
    func open(now: UInt64) -> Bool { now &- start < durationNs }

    /// The phase of a frame sent now.
    var phase: UInt32 { measuring ? Phase.measured : Phase.warmUp }
}

/// Sends at a fixed rate by busy-waiting until the next send time (flat out when the period is 0). A sender that
/// falls more than one period behind (preempted) skips the missed sends rather than bursting to catch up.
struct Pacer {
    let periodNs: UInt64
    private var next: UInt64 = 0

    /// A pacer at `hz` sends per second (0: flat out).
    init(hz: Double) { periodNs = hz > 0 ? UInt64(1e9 / hz) : 0 }

    /// Waits for the next send time.
    @inline(__always)
    mutating func wait() {
        guard periodNs > 0 else { return }
        var now = monotonicNanos()
        if next == 0 { next = now }
        while now < next { now = monotonicNanos() }
        next &+= periodNs
        if now > next &+ periodNs { next = now &+ periodNs }
    }
}

/// The one-way latency histogram of the receivers (HdrHistogram, 3 significant digits, up to 60 s).
func makeLatencyHistogram() -> Histogram<UInt64> {
    Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
}

/// `key=value` fields of a latency histogram, each key prefixed with `prefix`.
func latencyFields(_ histogram: Histogram<UInt64>, prefix: String = "") -> String {
    guard histogram.totalCount > 0 else { return "\(prefix)samples=0" }
    return "\(prefix)p50_ns=\(histogram.valueAtPercentile(50)) \(prefix)p99_ns=\(histogram.valueAtPercentile(99)) "
        + "\(prefix)p999_ns=\(histogram.valueAtPercentile(99.9)) \(prefix)max_ns=\(histogram.max) "
        + "\(prefix)samples=\(histogram.totalCount)"
}

/// A buffer of `size` bytes, 64-byte aligned, prefilled with a pattern.
func prefilledBuffer(_ size: Int) -> UnsafeMutableRawBufferPointer {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 64)
    for index in 0..<buffer.count { buffer[index] = UInt8(truncatingIfNeeded: index &* 31 &+ 7) }
    return buffer
}

extension SystemBench {
    /// The client context of the children: the parent's stream ids, the driver's base directory as the only allowed one.
    static func context(aeronDirectory: String, baseDirectory: String) -> (TensorPoolContext, AeronContext) {
        var context = TensorPoolContext()
        context.controlStreamId = controlStreamId
        context.announceStreamId = announceStreamId
        context.descriptorStreamId = descriptorStreamId
        context.allowedBaseDirectories = [baseDirectory]
        return (context, AeronContext(directory: aeronDirectory))
    }

    /// Pins this process (and the threads it starts later) to the CPU in `SYSTEM_BENCH_CPU`.
    static func pinFromEnvironment() {
        if let cpu = ProcessInfo.processInfo.environment["SYSTEM_BENCH_CPU"].flatMap(Int32.init) {
            _ = tp_bench_pin(cpu, cpu)
        }
    }

    /// Makes SIGUSR1 set ``stopRequested`` (an atomic store: async-signal-safe).
    static func installStopHandler() {
        _ = stopRequested.load(ordering: .relaxed)
        signal(SIGUSR1) { _ in stopRequested.store(true, ordering: .relaxed) }
    }

    /// `produce <aeron-dir> <base-dir> <size> <seconds> [--warmup S] [--paced-hz H] [--stamp-payload]`: publishes
    /// for `S` s of warm-up, then `seconds` measured, flat out or at `H` frames/s, and prints one `key=value` line.
    ///
    /// Each iteration: `client.doWork()` every 64 frames, `tryClaim`, `memcpy` of a prefilled buffer into the claim,
    /// CLOCK_MONOTONIC into `timestampNs`, `commit` (which offers the `FrameDescriptor`). With `--stamp-payload` the
    /// clock is also read before the copy and written into the first 8 payload bytes (latency including the copy).
    /// Mallocs are counted on this thread from the first measured frame to the last.
    static func produce(_ arguments: [String]) throws {
        let args = try ChildArguments(arguments, positional: 4, mode: "produce")
        let size = try args.int(2)
        let seconds = try args.double(3)
        let stampPayload = args.flag("--stamp-payload") && size >= 8
        pinFromEnvironment()
        let (context, aeronContext) = Self.context(
            aeronDirectory: args.positional[0], baseDirectory: args.positional[1])
        let client = try TensorPoolClient(context: context, aeron: try AeronClient(context: aeronContext))
        let producer = try client.attachProducer(streamId: streamId)
        let tensor = try TensorDescriptor(dtype: .uint8, shape: [size])
        let source = prefilledBuffer(size)
        defer { source.deallocate() }
        let connectBy = monotonicNanos() + 5_000_000_000
        while !producer.hasSubscribers && monotonicNanos() < connectBy {
            client.doWork()
            usleep(1_000)
        }
        // Warm-up: one lap of the slots with the copy (their pages), then, until the descriptor log has been written
        // once, frames without the copy (the payload is the same bytes, claim and commit as ever).
        let copyFrames = UInt64(args.double("--warmup-frames", 0))
        let lightFrames = UInt64(args.double("--warmup-light-frames", 0))
        MallocCounter.prepare()
        var pacer = Pacer(hz: args.double("--paced-hz", 0))
        var now = monotonicNanos()
        var window = SendWindow(
            now: now, warmUpSeconds: args.double("--warmup", 0), warmUpFrames: max(copyFrames, lightFrames),
            seconds: seconds)
        var frames: UInt64 = 0
        var iteration: UInt64 = 0
        var doWorkCalls: UInt64 = 0
        var publishedAtStart: UInt64 = 0
        var notSentAtStart: UInt64 = 0
        while producer.isActive {
            if window.measuring {
                guard window.open(now: now) else { break }
                pacer.wait()
            } else if window.warmUpDone(now: now) {
                let settleEnd = monotonicNanos() &+ SendWindow.settleNs
                while monotonicNanos() < settleEnd {
                    client.doWork()
                    usleep(1_000)
                }
                now = monotonicNanos()
                window.startMeasuring(now: now)
                publishedAtStart = producer.framesPublished
                notSentAtStart = producer.descriptorsNotSent
                doWorkCalls = 0
                MallocCounter.begin()
                pacer.wait()
            }
            // The client's duty cycle (keepalives, counters) every 64 frames, as a real producer's agent would.
            if iteration & 63 == 0 {
                client.doWork()
                doWorkCalls &+= 1
            }
            iteration &+= 1
            let claim = try producer.tryClaim(length: size)
            if window.measuring || window.warmUpSent < copyFrames || now < window.warmUpEnd {
                if stampPayload { source.storeBytes(of: monotonicNanos(), toByteOffset: 0, as: UInt64.self) }
                memcpy(claim.payload.baseAddress!, source.baseAddress!, size)
            }
            now = monotonicNanos()
            _ = try producer.commit(claim, tensor: tensor, timestampNs: now, metaVersion: window.phase)
            if window.measuring { frames &+= 1 } else { window.countWarmUp() }
        }
        let end = monotonicNanos()
        let mallocs = MallocCounter.end()
        MallocCounter.uninstall()
        print(
            "frames=\(frames) elapsed_ns=\(window.measuring ? end &- window.start : 0) "
                + "published=\(producer.framesPublished &- publishedAtStart) "
                + "not_sent=\(producer.descriptorsNotSent &- notSentAtStart) warmup_frames=\(window.warmUpSent) "
                + "period_ns=\(pacer.periodNs) do_work=\(doWorkCalls) \(MallocCounter.fields(mallocs))")
        fflush(nil)
        producer.close()
        client.aeron.close()
    }

    /// The consumer's frame handler: validates each frame in place and records its one-way latency.
    struct LatencyRecorder: FrameHandling {
        var histogram = makeLatencyHistogram()
        /// Latency from the producer's clock reading before its copy (first 8 payload bytes), with `--copy-latency`.
        var copyHistogram = makeLatencyHistogram()
        var recordCopyLatency = false
        var frames: UInt64 = 0
        var warmUpFrames: UInt64 = 0
        var overwritten: UInt64 = 0
        var checksum: UInt64 = 0
        var firstNs: UInt64 = 0
        var lastNs: UInt64 = 0
        /// The consumer's counters when the first measured frame arrived.
        var countersAtStart: ConsumerCounters?
        /// The malloc counts when the last measured frame arrived (what follows, e.g. the remap after the producer
        /// detached, is outside the producer's measured window).
        var mallocsAtLastFrame: (measuringThread: Int, otherThreads: Int)?

        /// Reads the first and last byte, checks `isStillValid`, and records the latency of a measured frame.
        mutating func onFrame(_ frame: FrameView, consumer: Consumer) {
            let now = monotonicNanos()
            let payload = frame.payload
            if !payload.isEmpty { checksum &+= UInt64(payload[0]) &+ UInt64(payload[payload.count - 1]) }
            let stamped = recordCopyLatency && payload.count >= 8 ? payload.loadUnaligned(as: UInt64.self) : 0
            guard consumer.isStillValid(frame) else {
                overwritten &+= 1
                return
            }
            guard frame.metaVersion == Phase.measured else {
                warmUpFrames &+= 1
                return
            }
            if frames == 0 {
                firstNs = now
                countersAtStart = consumer.counters
                MallocCounter.begin()
            }
            lastNs = now
            frames &+= 1
            mallocsAtLastFrame = MallocCounter.current()  // the window ends with the last measured frame
            _ = histogram.record(now >= frame.timestampNs ? now - frame.timestampNs : 0)
            if recordCopyLatency { _ = copyHistogram.record(now >= stamped ? now - stamped : 0) }
        }
    }

    /// `consume <aeron-dir> <base-dir> <size> <max-seconds> [--copy-latency]`: prints `ready`, receives until SIGUSR1
    /// (then until 20 ms pass without a frame) or for at most `max-seconds`, and prints one `key=value` line about the
    /// measured frames (those the producer marked measured). It never stops on silence alone: a sender descheduled
    /// for a while on a busy machine must find its receiver still there.
    static func consume(_ arguments: [String]) throws {
        let args = try ChildArguments(arguments, positional: 4, mode: "consume")
        let maxSeconds = try args.double(3)
        pinFromEnvironment()
        installStopHandler()
        let (context, aeronContext) = Self.context(
            aeronDirectory: args.positional[0], baseDirectory: args.positional[1])
        let client = try TensorPoolClient(context: context, aeron: try AeronClient(context: aeronContext))
        let consumer = try client.attachConsumer(streamId: streamId)
        var recorder = LatencyRecorder()
        recorder.recordCopyLatency = args.flag("--copy-latency")
        MallocCounter.prepare()
        print("ready")
        fflush(nil)
        let deadline = monotonicNanos() + UInt64(maxSeconds * 1e9)
        var lastWork = monotonicNanos()
        var polls: UInt64 = 0
        var doWorkCalls: UInt64 = 0
        while consumer.isActive {
            polls &+= 1
            if polls & 63 == 0 {
                client.doWork()
                if recorder.frames > 0 { doWorkCalls &+= 1 }
            }
            if consumer.poll(into: &recorder, fragmentLimit: 64) > 0 {
                lastWork = monotonicNanos()
            } else if polls & 1023 == 0 {
                let now = monotonicNanos()
                let quiet = now &- lastWork
                if now > deadline || (stopRequested.load(ordering: .relaxed) && quiet > 20_000_000) { break }
            }
        }
        _ = MallocCounter.end()
        let mallocs = recorder.frames > 0 ? recorder.mallocsAtLastFrame : nil
        MallocCounter.uninstall()
        let counters = consumer.counters
        let atStart = recorder.countersAtStart ?? counters
        print(
            "frames=\(recorder.frames) elapsed_ns=\(recorder.lastNs &- recorder.firstNs) "
                + "gap=\(counters.dropsGap &- atStart.dropsGap) late=\(counters.dropsLate &- atStart.dropsLate) "
                + "gap_total=\(counters.dropsGap) late_total=\(counters.dropsLate) overwritten=\(recorder.overwritten) "
                + "warmup_frames=\(recorder.warmUpFrames) \(latencyFields(recorder.histogram)) "
                + (recorder.recordCopyLatency ? latencyFields(recorder.copyHistogram, prefix: "copy_") + " " : "")
                + "checksum=\(recorder.checksum) do_work=\(doWorkCalls) remaps=\(consumer.remaps) "
                + "announce_timeouts=\(consumer.announceTimeouts) \(MallocCounter.fields(mallocs))")
        fflush(nil)
        consumer.close()
        client.aeron.close()
    }

    /// The channel of the raw Aeron baseline for one payload size (`mtu` nil: Aeron's default).
    static func rawChannel(termLength: Int, mtu: Int?) -> String {
        "aeron:ipc?term-length=\(termLength)" + (mtu.map { "|mtu=\($0)" } ?? "")
    }

    /// `raw-pub <aeron-dir> <size> <seconds> --channel C --stream N [--warmup S] [--paced-hz H] [--concurrent]`:
    /// offers messages of `size` bytes on an exclusive (or concurrent) publication, flat out or at `H` messages/s,
    /// retrying back pressure, and prints one `key=value` line.
    ///
    /// Bytes 0..<8 of each message are CLOCK_MONOTONIC read just before each offer attempt (so time spent
    /// back-pressured is not latency, as the tensor-pool producer never waits either), byte 8 the phase; the rest is
    /// prefilled. `offer` copies the message into the log (fragmenting it above the MTU), so the latency includes
    /// that copy.
    static func rawPublish(_ arguments: [String]) throws {
        let args = try ChildArguments(arguments, positional: 3, mode: "raw-pub")
        let size = try args.int(1)
        let seconds = try args.double(2)
        guard size >= 16, let channel = args.named["--channel"], let stream = args.named["--stream"].flatMap(Int32.init)
        else { throw BenchError("raw-pub needs --channel, --stream and a size of at least 16 B: \(arguments)") }
        pinFromEnvironment()
        let aeron = try AeronClient(context: AeronContext(directory: args.positional[0]))
        defer { aeron.close() }
        let publication: Publication =
            args.flag("--concurrent")
            ? try aeron.addPublication(channel: channel, streamId: stream)
            : try aeron.addExclusivePublication(channel: channel, streamId: stream)
        defer { publication.close() }
        guard size <= publication.maxMessageLength else {
            throw BenchError("\(size) B exceeds the max message length \(publication.maxMessageLength) of \(channel)")
        }
        let message = prefilledBuffer(size)
        defer { message.deallocate() }
        let payload = UnsafeRawBufferPointer(message)
        let connectBy = monotonicNanos() + 5_000_000_000
        while !publication.isConnected && monotonicNanos() < connectBy { usleep(1_000) }
        // Warm-up: at least the three terms of the log written once (their pages).
        let fragmentsPerMessage = (size + publication.maxPayloadLength - 1) / publication.maxPayloadLength
        let bytesPerMessage = size + fragmentsPerMessage * 32 + 31
        let lapFrames = UInt64(3 * publication.termBufferLength / bytesPerMessage + 1)
        MallocCounter.prepare()
        var pacer = Pacer(hz: args.double("--paced-hz", 0))
        var now = monotonicNanos()
        var window = SendWindow(
            now: now, warmUpSeconds: args.double("--warmup", 0), warmUpFrames: lapFrames, seconds: seconds)
        var frames: UInt64 = 0
        var backPressured: UInt64 = 0
        while true {
            if window.measuring {
                guard window.open(now: now) else { break }
                pacer.wait()
            } else if window.warmUpDone(now: now) {
                usleep(UInt32(SendWindow.settleNs / 1000))
                now = monotonicNanos()
                window.startMeasuring(now: now)
                backPressured = 0
                MallocCounter.begin()
                pacer.wait()
            }
            message[8] = UInt8(window.phase)
            now = monotonicNanos()
            message.storeBytes(of: now, toByteOffset: 0, as: UInt64.self)
            var result = publication.offer(payload)
            while !result.isSuccess {
                guard result == .backPressured || result == .adminAction else {
                    throw BenchError("raw offer failed: \(result)")
                }
                backPressured &+= 1
                now = monotonicNanos()
                message.storeBytes(of: now, toByteOffset: 0, as: UInt64.self)
                result = publication.offer(payload)
            }
            if window.measuring { frames &+= 1 } else { window.countWarmUp() }
        }
        let end = monotonicNanos()
        let mallocs = MallocCounter.end()
        MallocCounter.uninstall()
        print(
            "frames=\(frames) elapsed_ns=\(window.measuring ? end &- window.start : 0) back_pressured=\(backPressured) "
                + "warmup_frames=\(window.warmUpSent) period_ns=\(pacer.periodNs) "
                + "max_payload=\(publication.maxPayloadLength) term_length=\(publication.termBufferLength) "
                + MallocCounter.fields(mallocs))
        fflush(nil)
    }

    /// The raw subscriber's fragment handler: one message per END fragment, its send time from the BEGIN fragment.
    struct RawReceiver: FragmentHandling {
        var histogram = makeLatencyHistogram()
        var frames: UInt64 = 0
        var warmUpFrames: UInt64 = 0
        var fragments: UInt64 = 0
        var checksum: UInt64 = 0
        var firstNs: UInt64 = 0
        var lastNs: UInt64 = 0
        var sentNs: UInt64 = 0
        var phase: UInt8 = 0

        /// Takes the send time and phase from a BEGIN fragment and records the latency at the END fragment.
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            fragments &+= 1
            let flags = header.flags
            if flags & FrameValues.beginFlag != 0, buffer.count >= 16 {
                sentNs = buffer.loadUnaligned(as: UInt64.self)
                phase = buffer[8]
                checksum &+= UInt64(buffer[0])
            }
            guard flags & FrameValues.endFlag != 0 else { return }
            let now = monotonicNanos()
            if !buffer.isEmpty { checksum &+= UInt64(buffer[buffer.count - 1]) }
            guard UInt32(phase) == Phase.measured else {
                warmUpFrames &+= 1
                return
            }
            if frames == 0 {
                firstNs = now
                MallocCounter.begin()
            }
            lastNs = now
            frames &+= 1
            _ = histogram.record(now >= sentNs ? now - sentNs : 0)
        }
    }

    /// `raw-sub <aeron-dir> <size> <max-seconds> --channel C --stream N`: prints `ready`, polls (64 fragments per
    /// poll, spinning, reading the first 9 and the last byte of each message in place) until SIGUSR1 (then until
    /// 20 ms pass without a fragment) or for at most `max-seconds`, and prints one `key=value` line like `consume`'s.
    static func rawSubscribe(_ arguments: [String]) throws {
        let args = try ChildArguments(arguments, positional: 3, mode: "raw-sub")
        let maxSeconds = try args.double(2)
        guard let channel = args.named["--channel"], let stream = args.named["--stream"].flatMap(Int32.init) else {
            throw BenchError("raw-sub needs --channel and --stream: \(arguments)")
        }
        pinFromEnvironment()
        installStopHandler()
        let aeron = try AeronClient(context: AeronContext(directory: args.positional[0]))
        defer { aeron.close() }
        let subscription = try aeron.addSubscription(channel: channel, streamId: stream)
        defer { subscription.close() }
        var receiver = RawReceiver()
        MallocCounter.prepare()
        print("ready")
        fflush(nil)
        let deadline = monotonicNanos() + UInt64(maxSeconds * 1e9)
        var lastWork = monotonicNanos()
        var polls: UInt64 = 0
        while true {
            polls &+= 1
            if subscription.poll(into: &receiver, fragmentLimit: 64) > 0 {
                lastWork = monotonicNanos()
            } else if polls & 1023 == 0 {
                let now = monotonicNanos()
                let quiet = now &- lastWork
                if now > deadline || (stopRequested.load(ordering: .relaxed) && quiet > 20_000_000) { break }
            }
        }
        let mallocs = receiver.frames > 0 ? MallocCounter.end() : nil
        MallocCounter.uninstall()
        print(
            "frames=\(receiver.frames) elapsed_ns=\(receiver.lastNs &- receiver.firstNs) "
                + "fragments=\(receiver.fragments) warmup_frames=\(receiver.warmUpFrames) "
                + "\(latencyFields(receiver.histogram)) checksum=\(receiver.checksum) \(MallocCounter.fields(mallocs))")
        fflush(nil)
    }

    /// `spin <seconds>`: a busy loop reading the clock, standing in for the polling consumer on its CPU.
    static func spin(_ arguments: [String]) {
        pinFromEnvironment()
        let end = monotonicNanos() + UInt64((arguments.first.flatMap(Double.init) ?? 1) * 1e9)
        while monotonicNanos() < end {}
        print("spun=1")
    }

    /// `memcpy <size> <seconds> [<slots> [<stride>]]`: the prefilled buffer into a ring of `slots` slots (default
    /// 64) of `stride` bytes (default: the size rounded up to 64 B) in a prefaulted MAP_SHARED mapping, flat out.
    static func memcpyRing(_ arguments: [String]) throws {
        guard arguments.count >= 2, let size = Int(arguments[0]), let seconds = Double(arguments[1]) else {
            throw BenchError("bad memcpy arguments \(arguments)")
        }
        pinFromEnvironment()
        let slots = arguments.count > 2 ? Int(arguments[2]) ?? 64 : 64
        let stride = max(arguments.count > 3 ? Int(arguments[3]) ?? 0 : 0, max(64, (size + 63) & ~63))
        guard
            let ring = mmap(nil, stride * slots, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0),
            ring != MAP_FAILED
        else { throw BenchError("mmap failed: errno \(errno)") }
        defer { munmap(ring, stride * slots) }
        memset(ring, 0, stride * slots)
        let source = prefilledBuffer(size)
        defer { source.deallocate() }
        let durationNs = UInt64(seconds * 1e9)
        let start = monotonicNanos()
        var copies: UInt64 = 0
        var elapsed: UInt64 = 0
        repeat {
            for _ in 0..<64 {
                memcpy(ring + Int(copies % UInt64(slots)) * stride, source.baseAddress!, size)
                copies &+= 1
            }
            elapsed = monotonicNanos() &- start
        } while elapsed < durationNs
        let mibs = Double(copies) * Double(size) / (Double(elapsed) / 1e9) / 1_048_576
        print("copies=\(copies) elapsed_ns=\(elapsed) mibs=\(mibs) slots=\(slots) stride=\(stride)")
    }
}
