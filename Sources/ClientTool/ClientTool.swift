import Aeron
import Agents
import ArgumentParser
import Foundation
import TensorPoolClient
import TensorPoolSHM
import TensorPoolWire

#if canImport(Glibc)
    import Glibc
#endif

/// `tp-client`: a producer and a consumer of a synthetic 2-D tensor stream, for demos and system tests.
@main
struct ClientTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tp-client",
        abstract: "Produce or consume a synthetic 2-D tensor stream through the SHM driver.",
        subcommands: [Produce.self, Consume.self])
}

/// Options shared by both roles.
struct Endpoint: ParsableArguments {
    @Option(help: "Aeron directory of the media driver.")
    var aeronDir: String?

    @Option(help: "The driver's control stream.")
    var controlStreamId: Int32 = 1000

    @Option(help: "The driver's announce stream.")
    var announceStreamId: Int32 = 1001

    @Option(help: "The FrameDescriptor stream.")
    var descriptorStreamId: Int32 = 1100

    @Option(help: "Directory announced regions must lie in.")
    var allowedBase: String = "/dev/shm"

    @Option(help: "Stream to attach to.")
    var stream: UInt32 = 10_000

    @Option(help: "Seconds to run at most; SIGINT or SIGTERM stops earlier, in order.")
    var seconds: Double = 3

    func connect() throws -> TensorPoolClient {
        var context = TensorPoolContext()
        context.controlStreamId = controlStreamId
        context.announceStreamId = announceStreamId
        context.descriptorStreamId = descriptorStreamId
        context.allowedBaseDirectories = [allowedBase]
        return try TensorPoolClient(
            context: context, aeron: try AeronClient(context: AeronContext(directory: aeronDir)))
    }
}

/// The meta-blob pattern: byte `i` is `(i * 131 + i >> 8) & 0xFF`.
enum BlobPattern {
    static func byte(at index: Int) -> UInt8 { UInt8(truncatingIfNeeded: index &* 131 &+ index >> 8) }

    static func matches(_ bytes: [UInt8], at index: Int) -> Bool { bytes[index] == byte(at: index) }

    static func make(_ count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            for index in 0..<count { buffer[index] = byte(at: index) }
            initialized = count
        }
    }
}

/// The frame pattern: row `r` of frame `seq` is filled with `(seq + r) & 0xFF`.
enum Pattern {
    static func fill(_ payload: UnsafeMutableRawBufferPointer, seq: UInt64, rows: Int, columns: Int) {
        for row in 0..<rows {
            let value = UInt8(truncatingIfNeeded: seq &+ UInt64(row))
            UnsafeMutableRawBufferPointer(rebasing: payload[(row * columns)..<((row + 1) * columns)])
                .initializeMemory(as: UInt8.self, repeating: value)
        }
    }

    static func check(_ payload: UnsafeRawBufferPointer, seq: UInt64, rows: Int, columns: Int) -> Bool {
        guard rows >= 0, columns >= 0, payload.count == rows * columns else { return false }
        guard columns > 0 else { return true }  // nothing to compare (and no byte to index)
        for row in 0..<rows {
            let value = UInt8(truncatingIfNeeded: seq &+ UInt64(row))
            let start = row * columns
            if payload[start] != value || payload[start + columns - 1] != value || payload[start + columns / 2] != value
            {
                return false
            }
        }
        return true
    }
}

func now() -> Double { Double(MonotonicClock.now()) / 1e9 }

/// Publishes frames of `rows × columns` bytes.
struct Produce: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Attach as producer and publish the pattern.")

    @OptionGroup var endpoint: Endpoint

    @Option(help: "Rows of the 2-D tensor.")
    var rows: Int = 480

    @Option(help: "Columns of the 2-D tensor (bytes per row).")
    var columns: Int = 1_280

    @Option(help: "Frames per second (0 = as fast as possible).")
    var rate: Double = 0

    @Option(help: "Also send a meta blob of this many bytes (a deterministic pattern, with CRC32C) after attaching.")
    var metaBlobBytes: Int?

    @Option(help: "Seconds to wait for a descriptor subscriber before publishing anyway.")
    var subscriberWait: Double = 2

    @Option(help: "Seconds to wait, before leaving, for a meta blob still in transfer.")
    var blobDrain: Double = 60

    func run() throws {
        ShutdownSignal.install()
        let client = try endpoint.connect()
        let producer = try client.attachProducer(streamId: endpoint.stream)
        producer.metadata.describe(name: "tp-client pattern", summary: "uint8 \(rows)x\(columns)")
        if let metaBlobBytes {
            let blob = BlobPattern.make(metaBlobBytes)
            let version = producer.metadata.publishBlob(blob, blobType: 1)
            print("meta blob queued: \(blob.count) bytes, version \(version)")
        }
        let tensor = try TensorDescriptor(dtype: .uint8, shape: [rows, columns])
        print("producer attached: stream \(endpoint.stream) epoch \(producer.epoch) frame \(rows)x\(columns)")
        fflush(nil)
        let connectBy = now() + subscriberWait  // give a waiting consumer's subscription time to connect
        while !producer.hasSubscribers && now() < connectBy && !ShutdownSignal.isRequested {
            client.doWork()
            usleep(1_000)
        }
        let start = now()
        var lastReport = start
        var lastFrames: UInt64 = 0
        var next = start
        while now() - start < endpoint.seconds && producer.isActive && !ShutdownSignal.isRequested {
            client.doWork()
            if rate > 0 {
                if now() < next { continue }
                next += 1 / rate
            }
            let claim = try producer.tryClaim(length: rows * columns)
            Pattern.fill(claim.payload, seq: claim.seq, rows: rows, columns: columns)
            _ = try producer.commit(claim, tensor: tensor, timestampNs: UInt64(MonotonicClock.now()))
            let t = now()
            if t - lastReport >= 1 {
                let frames = producer.framesPublished - lastFrames
                let mib = Double(frames) * Double(rows * columns) / (t - lastReport) / 1_048_576
                print(String(format: "producer: %.0f fps, %.1f MiB/s", Double(frames) / (t - lastReport), mib))
                fflush(nil)
                lastReport = t
                lastFrames = producer.framesPublished
            }
        }
        // A blob still in transfer is finished before leaving (at most --blob-drain seconds).
        let drainBy = now() + blobDrain
        while producer.metadata.blobsPending > 0 && producer.isActive && now() < drainBy { client.doWork() }
        print(
            "producer done: \(producer.framesPublished) frames published, \(producer.descriptorsNotSent) descriptors not sent (no subscriber or back pressure), \(producer.metadata.blobsSent) meta blobs sent"
        )
        producer.close()
    }
}

/// How `tp-client consume` checks a frame's payload.
enum Verification: String, ExpressibleByArgument, CaseIterable {
    /// The frame must carry `tp-client produce`'s pattern (a frame of any other producer counts as corrupt).
    case pattern
    /// No payload check, for any producer's frames (the library still validates every slot and tensor header).
    case skip = "none"
}

/// Receives frames and checks the pattern of each.
struct Consume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Attach as consumer and check every frame.")

    @Option(
        help: """
            Payload check: 'pattern' (tp-client produce's pattern; other producers' frames count as corrupt) or \
            'none' (any producer; slot and tensor headers are still validated).
            """)
    var verify: Verification = .pattern

    @Flag(name: .customLong("print"), help: "Print one line per frame: seq, dtype, shape, payload bytes.")
    var printFrames = false

    @OptionGroup var endpoint: Endpoint

    @Option(help: "Ask for RATE_LIMITED at this many frames per second (0 = STREAM, every frame).")
    var maxRateHz: UInt32 = 0

    @Option(help: "Ask for a per-consumer descriptor stream with this id (on the descriptor channel).")
    var descriptorStream: UInt32?

    @Flag(help: "Receive the stream's metadata and meta blobs, and check blobs against the producer's pattern.")
    var expectBlob = false

    struct Checker: FrameHandling {
        var verify = Verification.pattern
        var printFrames = false
        var frames: UInt64 = 0
        var bytes: UInt64 = 0
        var corrupt: UInt64 = 0
        var overwritten: UInt64 = 0

        mutating func onFrame(_ frame: FrameView, consumer: Consumer) {
            let good = payloadMatches(frame.payload, seq: frame.seq, tensor: frame.tensor)
            // The frame counts only if its slot was not overwritten while it was read (the seqlock's second check).
            record(
                seq: frame.seq, tensor: frame.tensor, payloadBytes: frame.payload.count, good: good,
                stillValid: consumer.isStillValid(frame))
        }

        /// Prints the consumer's state changes (rare: attach, remaps, the wait for a fresh region, a failure).
        mutating func onStateChange(_ state: ConsumerState, consumer: Consumer) {
            print("consumer state: \(state)")
            fflush(nil)
        }

        /// Whether the payload passes the chosen check: always with `--verify none`.
        func payloadMatches(_ payload: UnsafeRawBufferPointer, seq: UInt64, tensor: TensorDescriptor) -> Bool {
            guard verify == .pattern else { return true }
            let rows = Int(tensor.dims[0])
            let columns = tensor.ndims > 1 ? Int(tensor.dims[1]) : 1
            return Pattern.check(payload, seq: seq, rows: rows, columns: columns)
        }

        /// Counts one frame read: overwritten, or checked (and corrupt unless `good`); prints it with `--print`.
        mutating func record(seq: UInt64, tensor: TensorDescriptor, payloadBytes: Int, good: Bool, stillValid: Bool) {
            guard stillValid else {
                overwritten += 1
                return
            }
            frames += 1
            bytes += UInt64(payloadBytes)
            if !good { corrupt += 1 }
            if printFrames { print(Self.describe(seq: seq, tensor: tensor, payloadBytes: payloadBytes)) }
        }

        /// One line for `--print`: `frame seq=12 dtype=FLOAT32 shape=[480x640] bytes=1228800`.
        static func describe(seq: UInt64, tensor: TensorDescriptor, payloadBytes: Int) -> String {
            let shape = (0..<max(0, min(tensor.ndims, ShmLayout.maxDims))).map { String(tensor.dims[$0]) }
            return
                "frame seq=\(seq) dtype=\(tensor.dtype) shape=[\(shape.joined(separator: "x"))] bytes=\(payloadBytes)"
        }
    }

    func run() throws {
        ShutdownSignal.install()
        let client = try endpoint.connect()
        var options = ConsumerOptions()
        if maxRateHz > 0 {
            options.mode = .rateLimited
            options.maxRateHz = maxRateHz
        }
        if let descriptorStream {
            options.descriptorStream = StreamEndpoint(
                channel: client.context.descriptorChannel, streamId: descriptorStream)
        }
        // Metadata and meta blobs of the stream, checked against the producer's pattern.
        let cache = expectBlob ? try MetadataCache(aeron: client.aeron) : nil
        var blobReport: String?
        cache?.onBlob = { blob in
            // The cache verified the CRC32C; the pattern is checked on every 4 KiB (cheap in the duty cycle).
            let intact =
                stride(from: 0, to: blob.bytes.count, by: 4_096).allSatisfy { BlobPattern.matches(blob.bytes, at: $0) }
                && (blob.bytes.isEmpty || BlobPattern.matches(blob.bytes, at: blob.bytes.count - 1))
            blobReport =
                "meta blob received: \(blob.bytes.count) bytes, version \(blob.metaVersion), "
                + (intact ? "pattern intact" : "pattern BROKEN")
            print(blobReport!)
            fflush(nil)
        }
        cache?.onBlobDiscarded = { _, version, reason in print("meta blob discarded: version \(version), \(reason)") }
        let consumer = try client.attachConsumer(streamId: endpoint.stream, options: options)
        print("consumer attached: stream \(endpoint.stream) epoch \(consumer.grant.epoch) id \(consumer.consumerId)")
        if let stale = consumer.staleRegion { print("consumer waiting for a fresh region: \(stale)") }
        fflush(nil)
        var checker = Checker(verify: verify, printFrames: printFrames)
        let start = now()
        var lastReport = start
        var last = checker
        while now() - start < endpoint.seconds && consumer.isActive && !ShutdownSignal.isRequested {
            client.doWork()
            _ = cache?.poll()
            if consumer.poll(into: &checker, fragmentLimit: 64) == 0 { sched_yield() }
            let t = now()
            if t - lastReport >= 1 {
                let frames = Double(checker.frames - last.frames) / (t - lastReport)
                let mib = Double(checker.bytes - last.bytes) / (t - lastReport) / 1_048_576
                let counters = consumer.counters
                let gate = consumer.gateRateHz > 0 ? " at \(consumer.gateRateHz) Hz" : ""
                print(
                    String(
                        format: "consumer: %.0f fps, %.1f MiB/s, drops gap %llu late %llu, corrupt %llu", frames, mib,
                        counters.dropsGap, counters.dropsLate, checker.corrupt)
                        + ", mode \(consumer.mode)\(gate), rate-limited \(consumer.rateLimited)")
                fflush(nil)
                lastReport = t
                last = checker
            }
        }
        // Asked to stop: what is already in the logs is read first, so every descriptor sent is accounted for.
        if ShutdownSignal.isRequested && consumer.isActive {
            while consumer.poll(into: &checker, fragmentLimit: 64) + (cache?.poll() ?? 0) > 0 { client.doWork() }
        }
        let counters = consumer.counters
        let route =
            consumer.descriptorStream.map { "per-consumer descriptor stream \($0)" } ?? "shared descriptor stream"
        let mode = consumer.configuration.map { "configured \($0.mode)" } ?? "no configuration"
        print(
            "consumer done: \(checker.frames) frames checked, \(checker.corrupt) corrupt, drops gap \(counters.dropsGap) late \(counters.dropsLate), remaps \(consumer.remaps), rate-limited \(consumer.rateLimited), \(route), \(mode)"
        )
        // Every descriptor of the stream read, once: handed to the checker (checked or found overwritten), dropped by
        // the rate gate or as a progress regression after acceptance, or dropped before it (late, invalid, epoch).
        let accepted = counters.framesAccepted
        let seen =
            accepted + (counters.dropsLate - counters.overwrittenAfterAccept) + counters.dropsInvalid
            + counters.dropsEpoch
        print(
            "consumer accounting: seen=\(seen) accepted=\(accepted) checked=\(checker.frames) "
                + "overwritten=\(checker.overwritten) rate_limited=\(consumer.rateLimited) "
                + "progress_dropped=\(consumer.progressRegressions) late=\(counters.dropsLate) "
                + "overwritten_after_accept=\(counters.overwrittenAfterAccept) invalid=\(counters.dropsInvalid) "
                + "epoch=\(counters.dropsEpoch) gap=\(counters.dropsGap) corrupt=\(checker.corrupt)")
        consumer.close()
        cache?.close()
        if let failure = consumer.failure {
            print("consumer failed: \(failure)")
            throw ExitCode(1)
        }
        if checker.corrupt > 0 { throw ExitCode(1) }
        if expectBlob && !(blobReport?.hasSuffix("pattern intact") ?? false) {
            print("no intact meta blob received")
            throw ExitCode(1)
        }
    }
}
