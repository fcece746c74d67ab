import Aeron
import Agents
import ArgumentParser
import Foundation
import TensorPoolClient
import TensorPoolSupervisor
import TensorPoolWire

#if canImport(Glibc)
    import Glibc
#endif

/// `tp-supervisor`: watches a deployment's producers and consumers and can steer the consumers (wire spec §10.5).
@main
struct SupervisorTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tp-supervisor",
        abstract: "Watch producers and consumers (announces, hellos, QoS, metadata) and steer consumers.",
        subcommands: [Run.self])
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print what the supervisor sees every interval; optionally force consumers into RATE_LIMITED.")

    @Option(help: "Aeron directory of the media driver.")
    var aeronDir: String?

    @Option(help: "The control stream (hellos, configurations).")
    var controlStreamId: Int32 = 1000

    @Option(help: "The driver's announce stream.")
    var announceStreamId: Int32 = 1001

    @Option(help: "The QoS stream.")
    var qosStreamId: Int32 = 1200

    @Option(help: "The metadata stream.")
    var metadataStreamId: Int32 = 1300

    @Option(help: "Seconds to run at most; SIGINT or SIGTERM stops earlier (the --require checks still apply).")
    var seconds: Double = 5

    @Option(help: "Seconds between snapshots printed.")
    var interval: Double = 1

    @Option(help: "After this many seconds, force every consumer (of --stream, if given) into RATE_LIMITED.")
    var rateLimitAfter: Double?

    @Option(help: "Only steer the consumers of this stream.")
    var stream: UInt32?

    @Flag(
        help: """
            Exit with status 1 unless a producer and a consumer were seen (and, with --rate-limit-after, every \
            consumer steered reported RATE_LIMITED).
            """)
    var require = false

    func run() throws {
        ShutdownSignal.install()
        var context = TensorPoolContext()
        context.controlStreamId = controlStreamId
        context.announceStreamId = announceStreamId
        context.qosStreamId = qosStreamId
        context.metadataStreamId = metadataStreamId
        let supervisor = try Supervisor(
            aeron: try AeronClient(context: AeronContext(directory: aeronDir)), context: context)
        defer { supervisor.close() }
        var producersSeen: Set<UInt32> = []
        var consumersSeen: Set<QosMonitor.StreamMember> = []
        var steered: Set<QosMonitor.StreamMember> = []
        var followed: Set<QosMonitor.StreamMember> = []
        supervisor.onEvent = { event in
            switch event {
            case .producerJoined(let producer):
                producersSeen.insert(producer.streamId)
                print("supervisor: producer \(producer.producerId) joined stream \(producer.streamId)")
            case .producerLeft(let stream, let id): print("supervisor: producer \(id) left stream \(stream)")
            case .consumerJoined(let consumer):
                consumersSeen.insert(.init(streamId: consumer.streamId, id: consumer.consumerId))
                print("supervisor: consumer \(consumer.consumerId) joined stream \(consumer.streamId)")
            case .consumerLeft(let stream, let id): print("supervisor: consumer \(id) left stream \(stream)")
            case .directiveSent(let stream, let id, let directive):
                steered.insert(.init(streamId: stream, id: id))
                print("supervisor: directive \(directive) sent to consumer \(id) of stream \(stream)")
            case .collision(let collision):
                print("supervisor: consumer id \(collision.consumerId) collides on stream \(collision.streamId)")
            case .metadata(let source):
                print(
                    "supervisor: metadata of stream \(source.streamId) version \(source.metaVersion), "
                        + "\(source.attributes.count) attributes")
            }
            fflush(nil)
        }
        var idle = SleepingIdleStrategy(sleepNanos: 1_000_000)  // a control-plane role: a millisecond is fine
        let start = Date()
        var nextReport = interval
        var forcing = false
        while Date().timeIntervalSince(start) < seconds && !ShutdownSignal.isRequested {
            let work = try supervisor.doWork()
            let elapsed = Date().timeIntervalSince(start)
            if let after = rateLimitAfter, !forcing, elapsed >= after {
                forcing = true
                print("supervisor: forcing consumers into RATE_LIMITED")
                fflush(nil)
                let only = stream
                supervisor.policy = { consumer in only == nil || consumer.streamId == only ? .rateLimited : nil }
            }
            // Reports change only when messages were read, and only steered consumers can follow.
            for consumer in work > 0 && !steered.isEmpty ? supervisor.snapshot().consumers : []
            where consumer.directive == .rateLimited && consumer.reportedMode == .rateLimited {
                let key = QosMonitor.StreamMember(streamId: consumer.streamId, id: consumer.consumerId)
                if followed.insert(key).inserted {
                    print("supervisor: consumer \(consumer.consumerId) of stream \(consumer.streamId) is RATE_LIMITED")
                    fflush(nil)
                }
            }
            if elapsed >= nextReport {
                nextReport += interval
                report(supervisor.snapshot())
            }
            idle.idle(workCount: work)
        }
        print(
            "supervisor done: \(producersSeen.count) producers and \(consumersSeen.count) consumers seen, "
                + "\(steered.count) consumers steered, \(followed.count) followed RATE_LIMITED, "
                + "\(supervisor.configsSent) configurations sent")
        if require {
            let rateLimitedOK = rateLimitAfter == nil || (!steered.isEmpty && steered.isSubset(of: followed))
            if producersSeen.isEmpty || consumersSeen.isEmpty || !rateLimitedOK { throw ExitCode(1) }
        }
    }

    func report(_ snapshot: SupervisorSnapshot) {
        for producer in snapshot.producers {
            let name = producer.name.isEmpty ? "" : " \"\(producer.name)\""
            let seq = producer.currentSeq.map { "\($0)" } ?? "-"
            let meta = producer.metadata.map { ", metadata v\($0.metaVersion)" } ?? ""
            print(
                "  stream \(producer.streamId)\(name): producer \(producer.producerId), epoch \(producer.epoch), "
                    + "seq \(seq), \(producer.headerSlots) slots\(meta)")
        }
        for consumer in snapshot.consumers {
            let mode = consumer.reportedMode.map { "\($0)" } ?? "\(consumer.helloMode)"
            let rate = consumer.maxRateHz > 0 ? " at \(consumer.maxRateHz) Hz" : ""
            let directive = consumer.directive.map { ", directive \($0)" } ?? ""
            print(
                "  stream \(consumer.streamId): consumer \(consumer.consumerId), \(mode)\(rate), "
                    + "last seq \(consumer.lastSeqSeen), drops gap \(consumer.dropsGap) late \(consumer.dropsLate)"
                    + directive)
        }
        fflush(nil)
    }
}
