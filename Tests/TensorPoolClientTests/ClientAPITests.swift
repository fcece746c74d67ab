import Aeron
import Agents
import DriverClient
import DriverConfig
import Foundation
import Logging
import Synchronization
import TensorPoolClient
import TensorPoolDriver
import TensorPoolLogging
import TensorPoolSHM
import TestProcesses
import Testing

/// An SHM driver agent on its own thread over the shared test media driver, with fresh stream ids and directory.
final class TestDriver {
    let directory: String
    let context: TensorPoolContext
    let runner: AgentRunner<DriverAgent, BackoffIdleStrategy>

    init() throws {
        directory = "/dev/shm/tp-unit-client-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let control = TestMediaDriver.uniqueStreamId()
        let announce = TestMediaDriver.uniqueStreamId()
        let configuration = try DriverConfiguration.parse(
            """
            [driver]
            instance_id = "client-unit"
            control_stream_id = \(control)
            announce_stream_id = \(announce)
            [shm]
            base_dir = "\(directory)"
            [policies]
            announce_period_ms = 100
            \(TestTiming.leasePolicies)
            [profiles.small]
            header_nslots = 64
            payload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]
            [streams.main]
            stream_id = 10000
            profile = "small"
            """)
        var logger = Logger(label: "client-unit.driver")
        logger.logLevel = .critical
        let agent = try DriverAgent(configuration: configuration, client: try TestMediaDriver.client(), logger: logger)
        runner = AgentRunner(agent: agent, idleStrategy: BackoffIdleStrategy(), errorHandler: { _ in })
        runner.start()
        var context = TensorPoolContext()
        context.controlStreamId = control
        context.announceStreamId = announce
        context.descriptorStreamId = TestMediaDriver.uniqueStreamId()
        context.qosStreamId = TestMediaDriver.uniqueStreamId()
        context.metadataStreamId = TestMediaDriver.uniqueStreamId()
        context.allowedBaseDirectories = [directory]
        context.driverOptions.keepaliveIntervalNs = TestTiming.clientKeepaliveIntervalNs
        context.driverOptions.attemptTimeoutNs = TestTiming.attachAttemptTimeoutNs
        context.attachTimeout = TestTiming.hangGuard  // a hang guard: attaches end when the driver answers
        self.context = context
    }

    deinit {
        _ = runner.close(timeout: TestTiming.hangGuard)
        try? FileManager.default.removeItem(atPath: directory)
    }

    func client() throws -> TensorPoolClient {
        try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
    }
}

/// Frames and mapped epochs seen by an agent-driven consumer, readable from the test thread.
final class FrameLog: Sendable {
    let seqs = Mutex<[UInt64]>([])
    let mappedEpochs = Mutex<[UInt64]>([])
}

struct LoggingHandler: FrameHandling {
    let log: FrameLog
    mutating func onFrame(_ frame: FrameView, consumer: Consumer) {
        let seq = frame.seq
        if consumer.isStillValid(frame) { log.seqs.withLock { $0.append(seq) } }
    }

    mutating func onStateChange(_ state: ConsumerState, consumer: Consumer) {
        if case .mapped(let epoch) = state { log.mappedEpochs.withLock { $0.append(epoch) } }
    }
}

@Suite("TensorPoolClient API: asynchronous attach, agents", .serialized)
struct ClientAPITests {
    @Test("beginAttach… returns nil until the driver answered and the endpoints were added, then the handle")
    func asyncAttach() throws {
        let driver = try TestDriver()
        let client = try driver.client()
        let pendingConsumer = client.beginAttachConsumer(streamId: 10_000)
        let pendingProducer = client.beginAttachProducer(streamId: 10_000)
        #expect(try pendingConsumer.poll() == nil)  // the first poll only sends the request
        var consumer: Consumer?
        var producer: Producer?
        let deadline = ContinuousClock.now + TestTiming.hangGuard
        while (consumer == nil || producer == nil) && ContinuousClock.now < deadline {
            client.doWork()
            consumer = try pendingConsumer.poll()
            producer = try pendingProducer.poll()
        }
        let attachedProducer = try #require(producer)
        let attachedConsumer = try #require(consumer)
        #expect(try pendingConsumer.poll() === attachedConsumer)  // the outcome stays
        #expect(attachedProducer.streamId == 10_000 && attachedConsumer.streamId == 10_000)
        client.close()
        #expect(!attachedProducer.isActive && !attachedConsumer.isActive)
    }

    @Test("an attach nobody answers fails with notConnected after the timeout; a cancelled one fails with closed")
    func attachFailures() throws {
        var context = TensorPoolContext()
        context.controlStreamId = TestMediaDriver.uniqueStreamId()  // no driver here
        context.attachTimeout = .milliseconds(300)
        let client = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let started = ContinuousClock.now
        #expect(throws: TensorPoolClientError.self) { try client.attachConsumer(streamId: 10_000) }
        // Not before its timeout (a lower bound: it holds however slow the machine is).
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        let pending = client.beginAttachProducer(streamId: 10_000)
        _ = try pending.poll()
        pending.cancel()
        do {
            _ = try pending.poll()
            Issue.record("a cancelled attach returned")
        } catch {
            guard case .driver(.closed) = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
        var invalid = ConsumerOptions()
        invalid.descriptorStream = StreamEndpoint(channel: "aeron:ipc", streamId: 0)
        #expect(throws: TensorPoolClientError.self) {
            try client.beginAttachConsumer(streamId: 10_000, options: invalid).poll()
        }
        var noForcedRate = ConsumerOptions()
        noForcedRate.rateLimitedDefaultHz = 0  // a forced RATE_LIMITED would have no rate
        #expect(throws: TensorPoolClientError.self) {
            try client.beginAttachConsumer(streamId: 10_000, options: noForcedRate).poll()
        }
    }

    @Test(
        "the producer's activity refresh interval defaults to the announce period and must be positive and below the freshness window, in both attach paths"
    )
    func producerOptionValidation() throws {
        var context = TensorPoolContext()
        context.controlStreamId = TestMediaDriver.uniqueStreamId()  // no driver: the options are refused first
        context.attachTimeout = TestTiming.hangGuard
        #expect(ProducerOptions().activityRefreshIntervalNs == context.announcePeriodNs)
        #expect(ProducerOptions().activityRefreshIntervalNs < context.freshnessWindowNs)
        #expect(context.staleRegionTimeoutNs == 30_000_000_000)
        let client = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        defer { client.close() }
        /// The reason an attach was refused for, if it was refused as invalid.
        func refusal(_ attach: () throws(TensorPoolClientError) -> Void) -> String? {
            do {
                try attach()
            } catch {
                if case .invalidOptions(let why) = error { return why }
                Issue.record("unexpected \(error)")
            }
            return nil
        }
        for interval in [UInt64(0), context.freshnessWindowNs, context.freshnessWindowNs + 1] {
            var options = ProducerOptions()
            options.activityRefreshIntervalNs = interval
            let blocking = refusal { () throws(TensorPoolClientError) in
                _ = try client.attachProducer(streamId: 10_000, options: options)
            }
            let nonBlocking = refusal { () throws(TensorPoolClientError) in
                _ = try client.beginAttachProducer(streamId: 10_000, options: options).poll()
            }
            #expect(
                blocking?.contains("activityRefreshIntervalNs") == true,
                "interval \(interval): \(blocking ?? "accepted")")
            #expect(nonBlocking == blocking, "interval \(interval)")
        }
    }

    @Test(
        "a consumer runs on an AgentRunner (client and consumer agent composed) while the producer runs on an AgentInvoker"
    )
    func agents() throws {
        let driver = try TestDriver()
        let context = driver.context  // a Sendable value: the clients below share no region with `driver`
        let consumerClient = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let consumer = try consumerClient.attachConsumer(streamId: 10_000)
        let log = FrameLog()
        let runner = AgentRunner(
            agent: CompositeAgent([
                consumerClient, ConsumerAgent(consumer: consumer, handler: LoggingHandler(log: log)),
            ]),
            idleStrategy: BackoffIdleStrategy())
        runner.start()
        let producerClient = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let invoker = AgentInvoker(agent: producerClient)
        invoker.start()
        let producer = try producerClient.attachProducer(streamId: 10_000)
        /// Drives the producer's client until `condition` holds (the hang guard only ends a hang).
        func pump(until condition: () -> Bool) -> Bool {
            let deadline = ContinuousClock.now + TestTiming.hangGuard
            while !condition() {
                if ContinuousClock.now >= deadline { return false }
                invoker.invoke()
                usleep(100)
            }
            return true
        }
        try #require(pump { producer.hasSubscribers })
        // Frames go out once the consumer (on its runner) has mapped the producer's epoch, and each one only after
        // the consumer logged the one before: no slot can be overwritten before the consumer read it, so every frame
        // must arrive, in order, however the runner thread is scheduled.
        let epoch = producer.epoch
        try #require(pump { log.mappedEpochs.withLock { $0.contains(epoch) } })
        for seq in UInt64(0)..<50 {
            let outcome = try producer.offer(
                UnsafeRawBufferPointer(start: nil, count: 0), tensor: try TensorDescriptor(dtype: .uint8, shape: [0]),
                timestampNs: 1)
            #expect(outcome == .published(seq: seq))
            try #require(pump { log.seqs.withLock { $0.last } == seq }, "frame \(seq) never arrived")
        }
        #expect(log.seqs.withLock { $0 } == Array(0..<50))
        #expect(runner.close(timeout: TestTiming.hangGuard))  // closes the client agent: the consumer detaches
        invoker.close()
        #expect(!producer.isActive)
    }
}

@Suite("CRC32C")
struct CRC32CTests {
    @Test("the standard check value, incremental and empty inputs")
    func checkValue() {
        let text = Array("123456789".utf8)
        #expect(text.withUnsafeBytes { CRC32C.checksum($0) } == 0xE306_9283)
        #expect([UInt8]().withUnsafeBytes { CRC32C.checksum($0) } == 0)
        // 1 MiB of a pattern: the hardware path (8 bytes at a time) and a tail agree with the definition's bytes.
        let long = (0..<1_048_579).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let whole = long.withUnsafeBytes { CRC32C.checksum($0) }
        #expect(whole != 0)
        var altered = long
        altered[1_048_578] ^= 1
        #expect(altered.withUnsafeBytes { CRC32C.checksum($0) } != whole)
    }
}

@Suite("ClientCallbacks: one value for frame, metadata, QoS and driver callbacks", .serialized)
struct ClientCallbacksTests {
    @Test("frames, metadata, QoS and a driver event reach the callbacks of one ClientCallbacks value")
    func callbacks() throws {
        let driver = try TestDriver()
        var context = driver.context
        context.qosIntervalNs = 20_000_000
        context.metadataIntervalNs = 20_000_000
        let consumerSide = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let producerSide = try TensorPoolClient(context: context, aeron: try TestMediaDriver.client())
        let aeron = try TestMediaDriver.client()
        let cache = try MetadataCache(
            aeron: aeron, channel: context.metadataChannel, streamId: context.metadataStreamId)
        let monitor = try QosMonitor(aeron: aeron, channel: context.qosChannel, streamId: context.qosStreamId)
        defer {
            cache.close()
            monitor.close()
        }
        final class Seen {
            var frames: [UInt64] = []
            var metadata: [UInt32] = []
            var producerQos = 0
            var consumerQos = 0
            var events: [DriverClientEvent] = []
            var states: [ConsumerState] = []
        }
        let seen = Seen()
        var callbacks = ClientCallbacks()
        callbacks.onFrame = { frame, consumer in if consumer.isStillValid(frame) { seen.frames.append(frame.seq) } }
        callbacks.onConsumerState = { state, _ in seen.states.append(state) }
        callbacks.onMetadata = { seen.metadata.append($0.metaVersion) }
        callbacks.onProducerQos = { _ in seen.producerQos += 1 }
        callbacks.onConsumerQos = { _ in seen.consumerQos += 1 }
        callbacks.onDriverEvent = { seen.events.append($0) }
        callbacks.install(on: cache)
        callbacks.install(on: monitor)
        callbacks.install(on: consumerSide)
        var handler = callbacks.frameHandler
        let consumer = try consumerSide.attachConsumer(streamId: 10_000)
        let producer = try producerSide.attachProducer(streamId: 10_000)
        func pump(until condition: () -> Bool) {
            let deadline = ContinuousClock.now + TestTiming.hangGuard
            while !condition() && ContinuousClock.now < deadline {
                consumerSide.doWork()
                producerSide.doWork()
                _ = consumer.poll(into: &handler)
                cache.poll()
                monitor.poll()
            }
        }
        pump { producer.hasSubscribers && consumer.state == .mapped(epoch: producer.epoch) }
        producer.metadata.set(MetadataAttribute(key: "lens", text: "50mm"))
        for _ in 0..<3 {
            _ = try producer.offer(
                UnsafeRawBufferPointer(start: nil, count: 0), tensor: try TensorDescriptor(dtype: .uint8, shape: [0]),
                timestampNs: 1)
            pump { seen.frames.count == Int(producer.sequence) }
        }
        pump { !seen.metadata.isEmpty && seen.producerQos > 0 && seen.consumerQos > 0 }
        #expect(seen.frames == [0, 1, 2] && seen.metadata.contains(1))
        #expect(seen.producerQos > 0 && seen.consumerQos > 0)
        #expect(seen.states.contains(.mapped(epoch: producer.epoch)))
        producer.close()  // the driver revokes the producer's epoch: consumers are told
        pump { seen.events.contains { if case .producerRevoked = $0 { true } else { false } } }
        #expect(seen.events.contains { if case .producerRevoked = $0 { true } else { false } })
    }
}

@Suite("TensorPoolLog: categories and levels", .serialized)
struct TensorPoolLogTests {
    @Test("API setting for a category, then for all, then TP_LOG_LEVEL_<CATEGORY>, then TP_LOG_LEVEL, then info")
    func levels() {
        let saved = (
            getenv("TP_LOG_LEVEL_BRIDGE").map { String(cString: $0) },
            getenv("TP_LOG_LEVEL").map { String(cString: $0) }
        )
        defer {
            if let value = saved.0 { setenv("TP_LOG_LEVEL_BRIDGE", value, 1) } else { unsetenv("TP_LOG_LEVEL_BRIDGE") }
            if let value = saved.1 { setenv("TP_LOG_LEVEL", value, 1) } else { unsetenv("TP_LOG_LEVEL") }
            TensorPoolLog.setLevel(nil, for: .bridge)
            TensorPoolLog.setLevel(nil)
        }
        unsetenv("TP_LOG_LEVEL_BRIDGE")
        unsetenv("TP_LOG_LEVEL")
        #expect(TensorPoolLog.level(for: .bridge) == .info)
        setenv("TP_LOG_LEVEL", "warning", 1)
        #expect(TensorPoolLog.level(for: .bridge) == .warning)
        setenv("TP_LOG_LEVEL_BRIDGE", "TRACE", 1)
        #expect(TensorPoolLog.level(for: .bridge) == .trace && TensorPoolLog.level(for: .discovery) == .warning)
        TensorPoolLog.setLevel(.error)
        #expect(TensorPoolLog.level(for: .bridge) == .error)
        TensorPoolLog.setLevel(.debug, for: .bridge)
        #expect(TensorPoolLog.level(for: .bridge) == .debug && TensorPoolLog.level(for: .discovery) == .error)
        let logger = TensorPoolLog.logger(.bridge)
        #expect(logger.label == "tensorpool.bridge" && logger.logLevel == .debug)
        #expect(TensorPoolLog.Category.rateLimiter.environmentVariable == "TP_LOG_LEVEL_RATE_LIMITER")
    }
}
