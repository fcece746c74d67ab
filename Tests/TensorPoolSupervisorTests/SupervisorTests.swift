import Aeron
import Agents
import Foundation
import SBE
import TensorPoolClient
import TensorPoolSupervisor
import TensorPoolWire
import TestProcesses
import Testing

/// A supervisor on its own streams, fed by hand-encoded messages from a raw Aeron client (no driver, no clients).
///
/// The supervisor reads `MonotonicClock` itself, so liveness runs on the real clock: by default a member stays live for
/// 3 × 2 s without messages, which no stall of a busy machine reaches. Only the cases about a consumer going stale
/// use a short liveness interval, and they assert what happened around the expiry, never how long it took.
final class Bench {
    let context: TensorPoolContext
    let supervisor: Supervisor
    let raw: AeronClient
    let control: ExclusivePublication
    let qos: ExclusivePublication
    let tap: Subscription
    var events: [SupervisorEvent] = []
    var scratch = [UInt8](repeating: 0, count: 512)

    init(livenessIntervalNs: UInt64 = 2_000_000_000) throws {
        var context = TensorPoolContext()
        context.controlStreamId = TestMediaDriver.uniqueStreamId()
        context.announceStreamId = context.controlStreamId
        context.qosStreamId = TestMediaDriver.uniqueStreamId()
        context.metadataStreamId = TestMediaDriver.uniqueStreamId()
        self.context = context
        var options = SupervisorOptions()
        options.livenessIntervalNs = livenessIntervalNs
        options.enforceIntervalNs = 20_000_000
        supervisor = try Supervisor(aeron: try TestMediaDriver.client(), context: context, options: options)
        raw = try TestMediaDriver.client()
        control = try raw.addExclusivePublication(channel: context.controlChannel, streamId: context.controlStreamId)
        qos = try raw.addExclusivePublication(channel: context.qosChannel, streamId: context.qosStreamId)
        tap = try raw.addSubscription(channel: context.controlChannel, streamId: context.controlStreamId)
        supervisor.onEvent = { [unowned self] in events.append($0) }
    }

    deinit { supervisor.close() }

    func send(_ publication: Publication, _ encode: (UnsafeMutableRawBufferPointer) throws -> Int) throws {
        let length = try scratch.withUnsafeMutableBytes { try encode($0) }
        let deadline = ContinuousClock.now + TestTiming.hangGuard
        while ContinuousClock.now < deadline {
            if scratch.withUnsafeBytes({ publication.offer(UnsafeRawBufferPointer(rebasing: $0[0..<length])) })
                .isSuccess
            {
                return
            }
            _ = try supervisor.doWork()
        }
        Issue.record("could not offer")
    }

    func hello(_ consumerId: UInt32, mode: WireSchema.Mode = .stream, rate: UInt32 = 0) throws {
        try send(control) { buffer in
            var hello = try WireSchema.ConsumerHelloEncoder.wrapAndApplyHeader(buffer)
            hello.streamId = 7
            hello.consumerId = consumerId
            hello.supportsShm = .true
            hello.supportsProgress = .false
            hello.mode = mode
            hello.maxRateHz = rate
            hello.expectedLayoutVersion = 1
            hello.progressIntervalUs = nil
            hello.progressBytesDelta = nil
            hello.progressMajorDeltaUnits = nil
            hello.descriptorStreamId = 0
            hello.controlStreamId = 0
            try hello.descriptorChannel("")
            try hello.controlChannel("")
            return MessageHeader.encodedLength + hello.encodedLength
        }
    }

    func qosReport(_ consumerId: UInt32, mode: WireSchema.Mode, dropsLate: UInt64 = 0) throws {
        try send(qos) { buffer in
            let report = try WireSchema.QosConsumerEncoder.wrapAndApplyHeader(buffer)
            report.streamId = 7
            report.consumerId = consumerId
            report.epoch = 3
            report.lastSeqSeen = 41
            report.dropsGap = 0
            report.dropsLate = dropsLate
            report.mode = mode
            return MessageHeader.encodedLength + report.encodedLength
        }
    }

    func grant(_ consumerId: UInt32, descriptor: StreamEndpoint) throws {
        try send(control) { buffer in
            var config = try WireSchema.ConsumerConfigEncoder.wrapAndApplyHeader(buffer)
            config.streamId = 7
            config.consumerId = consumerId
            config.useShm = .true
            config.mode = .stream
            config.descriptorStreamId = descriptor.streamId
            config.controlStreamId = 0
            try config.payloadFallbackUri("")
            try config.descriptorChannel(descriptor.channel)
            try config.controlChannel("")
            return MessageHeader.encodedLength + config.encodedLength
        }
    }

    func announce(producerId: UInt32, epoch: UInt64) throws {
        try send(control) { buffer in
            var announce = try WireSchema.ShmPoolAnnounceEncoder.wrapAndApplyHeader(buffer)
            announce.streamId = 7
            announce.producerId = producerId
            announce.epoch = epoch
            announce.announceTimestampNs = UInt64(MonotonicClock.now())
            announce.announceClockDomain = .monotonic
            announce.layoutVersion = 1
            announce.headerNslots = 16
            announce.headerSlotBytes = 256
            try announce.payloadPools(count: 2) { index, entry in
                entry.poolId = UInt16(index + 1)
                entry.poolNslots = 16
                entry.strideBytes = 4096
                try entry.regionUri("shm:file?path=/dev/shm/x\(index)")
            }
            try announce.headerRegionUri("shm:file?path=/dev/shm/h")
            return MessageHeader.encodedLength + announce.encodedLength
        }
    }

    /// Runs the supervisor until `condition` holds, or the hang guard passes (then returns false).
    @discardableResult
    func run(until condition: () -> Bool) throws -> Bool {
        let deadline = ContinuousClock.now + TestTiming.hangGuard
        while !condition() {
            if ContinuousClock.now > deadline { return false }
            _ = try supervisor.doWork()
            usleep(200)
        }
        return true
    }

    /// The directives the supervisor reported sending to consumer `consumerId` of stream 7, in order.
    func directivesSent(to consumerId: UInt32) -> [ConsumerDirective] {
        events.compactMap { event in
            guard case .directiveSent(7, consumerId, let directive) = event else { return nil }
            return directive
        }
    }

    /// The consumers of stream 7 with id `consumerId` reported as joined, as they were when they joined.
    func joins(of consumerId: UInt32) -> [SupervisedConsumer] {
        events.compactMap { event in
            guard case .consumerJoined(let consumer) = event, consumer.streamId == 7, consumer.consumerId == consumerId
            else { return nil }
            return consumer
        }
    }

    /// How many times consumer `consumerId` of stream 7 was reported stale.
    func departures(of consumerId: UInt32) -> Int {
        events.count { if case .consumerLeft(7, consumerId) = $0 { true } else { false } }
    }

    /// The supervisor's `ConsumerConfig` messages seen on the control stream so far: consumer, mode, use_shm,
    /// descriptor stream id.
    func configsOnWire() -> [(consumer: UInt32, mode: WireSchema.Mode, useShm: Bool, descriptor: UInt32)] {
        var handler = ConfigTap()
        _ = tap.poll(into: &handler, fragmentLimit: 100)
        return handler.configs.filter { $0.session != control.sessionId }.map {
            ($0.consumer, $0.mode, $0.useShm, $0.descriptor)
        }
    }

    struct ConfigTap: FragmentHandling {
        var configs: [(session: Int32, consumer: UInt32, mode: WireSchema.Mode, useShm: Bool, descriptor: UInt32)] = []
        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            guard let decoder = try? WireSchema.ConsumerConfigDecoder(decodingHeaderOf: buffer) else { return }
            configs.append(
                (
                    header.sessionId, decoder.consumerId, decoder.mode, decoder.useShm == .true,
                    decoder.descriptorStreamId
                ))
        }
    }
}

@Suite("Supervisor", .serialized)
struct SupervisorTests {
    @Test("the stale period is 3–5 liveness intervals")
    func stalePeriod() {
        var options = SupervisorOptions()
        options.livenessIntervalNs = 100
        #expect(options.staleAfterNs == 300)
        options.staleIntervals = 1
        #expect(options.staleAfterNs == 300)
        options.staleIntervals = 9
        #expect(options.staleAfterNs == 500)
    }

    @Test("directives describe themselves")
    func directives() {
        #expect(ConsumerDirective.rateLimited.description == "RATE_LIMITED")
        #expect(ConsumerDirective.fallback("bridge://a").description == "FALLBACK bridge://a")
        #expect(ConsumerDirective.fallback("bridge://a").useShm == false)
        #expect(ConsumerDirective.stream == ConsumerDirective())
    }

    @Test(
        "a policy's directive goes out when a consumer joins, is repeated until followed, and an operator's outranks it"
    )
    func policyAndOperator() throws {
        let bench = try Bench()
        var asked: [UInt32] = []
        bench.supervisor.policy = { consumer in
            asked.append(consumer.consumerId)
            return .rateLimited
        }
        let started = MonotonicClock.now()  // the supervisor's clock
        try bench.hello(5)
        try #require(bench.run { !bench.directivesSent(to: 5).isEmpty })
        var wire = bench.configsOnWire()
        try #require(
            bench.run {
                wire += bench.configsOnWire(); return !wire.isEmpty
            })
        #expect(wire.first?.consumer == 5 && wire.first?.mode == .rateLimited && wire.first?.useShm == true)
        #expect(asked == [5])
        // Not followed (the QoS shows STREAM): repeated, but at most once per enforce interval (20 ms), not every
        // duty cycle. The bound counts the intervals that actually passed, so it holds however slow the machine is.
        try bench.qosReport(5, mode: .stream)
        try #require(bench.run { bench.directivesSent(to: 5).count >= 4 })
        let elapsed = MonotonicClock.now() - started
        let sent = bench.directivesSent(to: 5)
        #expect(sent.count <= 1 + Int(elapsed / 20_000_000), "\(sent.count) in \(elapsed) ns")
        #expect(sent.allSatisfy { $0 == .rateLimited })
        // Followed: no more repeats, over at least five enforce intervals and fifty duty cycles.
        try bench.qosReport(5, mode: .rateLimited)
        try #require(bench.run { bench.supervisor.snapshot().consumers.first?.reportedMode == .rateLimited })
        let settled = bench.supervisor.configsSent
        let quietFrom = MonotonicClock.now()
        var cycles = 0
        try #require(
            bench.run {
                cycles += 1; return cycles > 50 && MonotonicClock.now() - quietFrom > 100_000_000
            })
        #expect(bench.supervisor.configsSent == settled)
        // The operator lifts it; the policy is no longer asked for this consumer.
        bench.supervisor.direct(.stream, streamId: 7, consumerId: 5)
        asked.removeAll()
        let hellos = bench.supervisor.hellosSeen
        try bench.hello(5)
        try #require(bench.run { bench.supervisor.hellosSeen == hellos + 1 })
        #expect(asked.isEmpty && bench.supervisor.snapshot().consumers.first?.directive == .stream)
    }

    @Test("an operator's directive outlives its consumer and is sent again when the consumer returns")
    func operatorOutlivesConsumer() throws {
        // Stale after 3 × 50 ms without messages: this case is about that expiry. It waits for it under the hang
        // guard, and its outcome does not depend on when the expiry happens.
        let bench = try Bench(livenessIntervalNs: 50_000_000)
        bench.supervisor.policy = { _ in .rateLimited }  // outranked by the operator
        try bench.hello(5)
        try #require(bench.run { bench.joins(of: 5).count == 1 })
        bench.supervisor.direct(.stream, streamId: 7, consumerId: 5)
        try #require(bench.run { bench.departures(of: 5) == 1 })
        #expect(bench.supervisor.snapshot().consumers.isEmpty)
        _ = bench.configsOnWire()
        let before = bench.events.count
        try bench.hello(5)
        try #require(bench.run { bench.joins(of: 5).count == 2 })
        #expect(bench.joins(of: 5).last?.directive == .stream)
        let sentOnReturn = bench.events[before...].compactMap { event -> ConsumerDirective? in
            guard case .directiveSent(7, 5, let directive) = event else { return nil }
            return directive
        }
        #expect(sentOnReturn.first == .stream)
        var again = bench.configsOnWire()
        try #require(
            bench.run {
                again += bench.configsOnWire(); return !again.isEmpty
            })
        #expect(again.first?.consumer == 5 && again.first?.mode == .stream)
    }

    @Test("a policy set while consumers are live is asked about each of them at once")
    func policyAppliesAtOnce() throws {
        let bench = try Bench()
        try bench.hello(3)
        try bench.hello(4)
        try #require(bench.run { bench.supervisor.snapshot().consumers.count == 2 })
        var asked: [UInt32] = []
        bench.supervisor.policy = { consumer in
            asked.append(consumer.consumerId)
            return consumer.consumerId == 4 ? .rateLimited : nil
        }
        #expect(asked == [3, 4])  // before any further duty cycle
        #expect(bench.supervisor.configsSent == 1)
        #expect(bench.supervisor.snapshot().consumers.map(\.directive) == [nil, .rateLimited])
    }

    @Test("a policy's directive leaves with its consumer")
    func policyDirectiveLapses() throws {
        // Stale after 3 × 50 ms without messages: this case is about that expiry; it waits for it under the hang guard.
        let bench = try Bench(livenessIntervalNs: 50_000_000)
        var decide = true
        bench.supervisor.policy = { _ in decide ? .rateLimited : nil }
        try bench.hello(6)
        try #require(bench.run { bench.directivesSent(to: 6).first == .rateLimited })
        decide = false
        try #require(bench.run { bench.departures(of: 6) >= 1 })
        let sentBefore = bench.supervisor.configsSent
        try bench.hello(6)
        try #require(bench.run { bench.joins(of: 6).count == 2 })
        // It came back without the directive, and nothing was sent to it.
        #expect(bench.joins(of: 6).last?.directive == nil)
        #expect(bench.supervisor.configsSent == sentBefore)
    }

    @Test("the supervisor's configuration repeats the per-consumer stream the producer granted")
    func keepsGrantedStreams() throws {
        let bench = try Bench()
        try bench.hello(8)
        try #require(bench.run { !bench.supervisor.snapshot().consumers.isEmpty })
        let endpoint = StreamEndpoint(channel: "aeron:ipc", streamId: 31_008)
        try bench.grant(8, descriptor: endpoint)
        try #require(bench.run { bench.supervisor.snapshot().consumers.first?.grantedDescriptorStream == endpoint })
        _ = bench.configsOnWire()
        bench.supervisor.direct(.rateLimited, streamId: 7, consumerId: 8)
        var wire = bench.configsOnWire()
        try #require(
            bench.run {
                wire += bench.configsOnWire(); return !wire.isEmpty
            })
        #expect(wire.first?.descriptor == 31_008 && wire.first?.mode == .rateLimited)
        #expect(bench.supervisor.configsSeen == 1)  // the producer's; its own are not counted
    }

    @Test("producers join from the driver's announce and leave when it announces the stream without them")
    func producersFromAnnounces() throws {
        let bench = try Bench()
        try bench.announce(producerId: 11, epoch: 4)
        try #require(bench.run { bench.supervisor.snapshot().producer(streamId: 7) != nil })
        let producer = try #require(bench.supervisor.snapshot().producer(streamId: 7))
        #expect(producer.producerId == 11 && producer.epoch == 4 && producer.headerSlots == 16)
        #expect(producer.payloadPools == 2 && producer.currentSeq == nil)
        try bench.announce(producerId: 0, epoch: 4)
        #expect(try bench.run { bench.supervisor.snapshot().producers.isEmpty })
        #expect(bench.events.contains { if case .producerLeft(7, 11) = $0 { true } else { false } })
        // A new producer of the stream replaces the old one.
        try bench.announce(producerId: 12, epoch: 5)
        try bench.announce(producerId: 13, epoch: 6)
        #expect(try bench.run { bench.supervisor.snapshot().producer(streamId: 7)?.producerId == 13 })
        #expect(bench.events.contains { if case .producerLeft(7, 12) = $0 { true } else { false } })
    }

    @Test("the supervisor's counts are Aeron counters, readable from another client")
    func counters() throws {
        let bench = try Bench()
        // Consumer 9 already says it is rate limited: it follows the directive, which is therefore sent once (at its
        // join) and not repeated, so the count below is exact whenever it is read.
        try bench.hello(9, mode: .rateLimited, rate: 30)
        try bench.hello(10)
        try bench.announce(producerId: 21, epoch: 1)
        bench.supervisor.direct(.rateLimited, streamId: 7, consumerId: 9)
        func value(_ type: Int32) -> Int64? {
            let session = UInt32(bitPattern: bench.supervisor.controlSessionId)
            return bench.raw.counters.all.first { counter in
                counter.typeId == type
                    && Array(counter.key.prefix(16)).suffix(4)
                        == Array(withUnsafeBytes(of: session.littleEndian) { Array($0) })
            }?.value
        }
        #expect(
            try bench.run {
                value(TensorPoolCounterType.supervisorConsumers) == 2
                    && value(TensorPoolCounterType.supervisorProducers) == 1
                    && value(TensorPoolCounterType.supervisorConfigsSent) == 1
            })
    }

    @Test("consumer ids handed out are never reused for the stream")
    func consumerIds() throws {
        let bench = try Bench()
        var ids: Set<UInt32> = []
        for _ in 0..<1_000 { ids.insert(bench.supervisor.assignConsumerId(streamId: 7)) }
        #expect(ids.count == 1_000 && !ids.contains(0))
    }

    @Test("truncated announces, hellos, configurations and QoS reports are counted and dropped")
    func malformedInput() throws {
        let bench = try Bench()
        // Whole messages first, to learn their lengths, then each cut short inside its block.
        try bench.hello(1)
        try #require(bench.run { bench.supervisor.hellosSeen == 1 })
        func truncated(_ publication: Publication, template: UInt16, blockLength: UInt16) throws {
            try bench.send(publication) { buffer in
                let header = MessageHeader(
                    blockLength: blockLength, templateId: template, schemaId: WireSchema.id, version: WireSchema.version
                )
                try header.encode(into: buffer, at: 0)
                return MessageHeader.encodedLength + 3  // fewer bytes than the block says
            }
        }
        try truncated(bench.control, template: WireSchema.ConsumerHelloDecoder.templateId, blockLength: 40)
        try truncated(bench.control, template: WireSchema.ShmPoolAnnounceDecoder.templateId, blockLength: 40)
        try truncated(bench.control, template: WireSchema.ConsumerConfigDecoder.templateId, blockLength: 16)
        try truncated(bench.qos, template: WireSchema.QosConsumerDecoder.templateId, blockLength: 40)
        #expect(try bench.run { bench.supervisor.malformed == 3 && bench.supervisor.qos.malformed == 1 })
        #expect(bench.supervisor.hellosSeen == 1 && bench.supervisor.snapshot().consumers.count == 1)
    }

    @Test("closing twice is harmless and a closed supervisor does nothing")
    func closing() throws {
        let bench = try Bench()
        bench.supervisor.close()
        bench.supervisor.close()
        #expect(try bench.supervisor.doWork() == 0)
    }
}
