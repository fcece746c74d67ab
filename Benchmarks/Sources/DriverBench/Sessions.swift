import Aeron
import DriverClient
import Foundation
import Glibc
import SBE
import TensorPoolWire

/// One way of talking to the driver: attach, detach, and wait for the announce of a new epoch.
protocol BenchSession: AnyObject {
    associatedtype Lease
    /// Attaches to the benchmark stream as `role` and returns once the driver's OK arrived.
    func attach(_ role: DriverSchema.Role) throws -> Lease
    /// Detaches and returns once the driver's OK arrived.
    func detach(_ lease: Lease) throws
    /// The epoch a lease was granted.
    func epoch(of lease: Lease) -> UInt64
    /// Returns once an announce of the benchmark stream with an epoch above `epoch` was seen (a producer's detach
    /// makes the driver provision and announce a new epoch after answering; waiting for it keeps that work out of
    /// the next timed attach).
    func awaitAnnounce(epochAbove epoch: UInt64) throws
    func close()
}

/// Sees `ShmPoolAnnounce` (schema 900, template 1) of the benchmark stream and keeps the largest epoch.
final class AnnounceState {
    var largestEpoch: UInt64 = 0
}

struct AnnounceWatcher: FragmentHandling {
    unowned let state: AnnounceState

    mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
        guard let message = try? MessageHeader(decoding: buffer, at: 0), message.schemaId == WireSchema.id,
            message.templateId == WireSchema.ShmPoolAnnounceDecoder.templateId,
            let announce = try? WireSchema.ShmPoolAnnounceDecoder(decodingHeaderOf: buffer),
            announce.streamId == BenchDriver.streamId
        else { return }
        if announce.epoch > state.largestEpoch { state.largestEpoch = announce.epoch }
    }
}

/// Through `DriverClient`, as applications do: its `attach` and `detach` poll the control stream until the answer.
final class ClientSession: BenchSession {
    let client: DriverClient
    let watch: Subscription
    let announces = AnnounceState()

    init(driver: BenchDriver, aeron: AeronClient) throws {
        client = try DriverClient(
            aeron: aeron, controlChannel: driver.controlChannel, controlStreamId: driver.controlStreamId)
        // The bench configuration announces on the control stream.
        watch = try aeron.addSubscription(channel: driver.controlChannel, streamId: driver.controlStreamId)
    }

    func attach(_ role: DriverSchema.Role) throws -> LeaseGrant {
        try client.attach(streamId: BenchDriver.streamId, role: role)
    }

    func detach(_ lease: LeaseGrant) throws {
        let code = try client.detach(lease)
        guard code == .ok else { throw BenchError("detach answered \(code)") }
        drainWatch()
    }

    func epoch(of lease: LeaseGrant) -> UInt64 { lease.epoch }

    /// Keeps the watch subscription from holding back the control stream (IPC flow control follows the slowest
    /// subscriber).
    func drainWatch() {
        var watcher = AnnounceWatcher(state: announces)
        while watch.poll(into: &watcher, fragmentLimit: 256) > 0 {}
    }

    func awaitAnnounce(epochAbove epoch: UInt64) throws {
        let deadline = monotonicNanos() + 5_000_000_000
        var watcher = AnnounceWatcher(state: announces)
        while announces.largestEpoch <= epoch {
            _ = watch.poll(into: &watcher, fragmentLimit: 64)
            if monotonicNanos() > deadline { throw BenchError("no announce of an epoch above \(epoch) within 5 s") }
        }
    }

    func close() {
        watch.close()
        client.close()
    }
}

/// Hand-encoded requests on a publication of its own, answers busy-polled on a subscription of its own: the driver's
/// round trip without `DriverClient`'s waiting between polls or its response validation.
final class RawSession: BenchSession {
    struct Lease {
        var leaseId: UInt64
        var epoch: UInt64
        var role: DriverSchema.Role
    }

    final class State {
        var awaitedCorrelation: Int64 = 0
        var answered = false
        var code: DriverSchema.ResponseCode = .ok
        var leaseId: UInt64 = 0
        var epoch: UInt64 = 0
        let announces = AnnounceState()
    }

    struct Handler: FragmentHandling {
        unowned let state: State
        var announces: AnnounceWatcher

        mutating func onFragment(_ buffer: UnsafeRawBufferPointer, _ header: FragmentHeader) {
            guard let message = try? MessageHeader(decoding: buffer, at: 0) else { return }
            if message.schemaId == WireSchema.id {
                announces.onFragment(buffer, header)
                return
            }
            guard message.schemaId == DriverSchema.id else { return }
            switch message.templateId {
            case DriverSchema.ShmAttachResponseDecoder.templateId:
                guard let response = try? DriverSchema.ShmAttachResponseDecoder(decodingHeaderOf: buffer),
                    response.correlationId == state.awaitedCorrelation
                else { return }
                state.code = response.code
                state.leaseId = response.leaseId ?? 0
                state.epoch = response.epoch ?? 0
                state.answered = true
            case DriverSchema.ShmDetachResponseDecoder.templateId:
                guard let response = try? DriverSchema.ShmDetachResponseDecoder(decodingHeaderOf: buffer),
                    response.correlationId == state.awaitedCorrelation
                else { return }
                state.code = response.code
                state.answered = true
            default: return
            }
        }
    }

    let publication: Publication
    let subscription: Subscription
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 16)
    let state = State()
    var handler: Handler
    var nextCorrelation = Int64.random(in: 1...(Int64.max >> 2))
    let clientId = UInt32.random(in: 1...UInt32.max)

    init(driver: BenchDriver, aeron: AeronClient) throws {
        publication = try aeron.addPublication(channel: driver.controlChannel, streamId: driver.controlStreamId)
        subscription = try aeron.addSubscription(channel: driver.controlChannel, streamId: driver.controlStreamId)
        handler = Handler(state: state, announces: AnnounceWatcher(state: state.announces))
        let deadline = monotonicNanos() + 5_000_000_000
        while !(publication.isConnected && subscription.isConnected) {
            guard monotonicNanos() < deadline else { throw BenchError("control stream did not connect within 5 s") }
            usleep(1_000)
        }
    }

    func send(_ length: Int) throws {
        let message = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        let deadline = monotonicNanos() + 5_000_000_000
        while true {
            switch publication.offer(message) {
            case .success: return
            case .backPressured, .adminAction:
                if monotonicNanos() > deadline { throw BenchError("control publication back-pressured for 5 s") }
            case let other: throw BenchError("offer failed: \(other)")
            }
        }
    }

    /// Busy-polls until the awaited answer arrived.
    func awaitAnswer() throws {
        let deadline = monotonicNanos() + 5_000_000_000
        while !state.answered {
            if subscription.poll(into: &handler, fragmentLimit: 16) == 0 && monotonicNanos() > deadline {
                throw BenchError("no answer to correlation \(state.awaitedCorrelation) within 5 s")
            }
        }
    }

    func attach(_ role: DriverSchema.Role) throws -> Lease {
        let correlation = nextCorrelation
        nextCorrelation &+= 1
        let encoder = try DriverSchema.ShmAttachRequestEncoder.wrapAndApplyHeader(buffer)
        encoder.correlationId = correlation
        encoder.streamId = BenchDriver.streamId
        encoder.clientId = clientId
        encoder.role = role
        encoder.expectedLayoutVersion = 0
        encoder.publishMode = nil
        encoder.requireHugepages = .unspecified
        encoder.desiredNodeId = nil
        state.awaitedCorrelation = correlation
        state.answered = false
        try send(MessageHeader.encodedLength + encoder.encodedLength)
        try awaitAnswer()
        guard state.code == .ok else { throw BenchError("attach answered \(state.code)") }
        return Lease(leaseId: state.leaseId, epoch: state.epoch, role: role)
    }

    func detach(_ lease: Lease) throws {
        let correlation = nextCorrelation
        nextCorrelation &+= 1
        let encoder = try DriverSchema.ShmDetachRequestEncoder.wrapAndApplyHeader(buffer)
        encoder.correlationId = correlation
        encoder.leaseId = lease.leaseId
        encoder.streamId = BenchDriver.streamId
        encoder.clientId = clientId
        encoder.role = lease.role
        state.awaitedCorrelation = correlation
        state.answered = false
        try send(MessageHeader.encodedLength + encoder.encodedLength)
        try awaitAnswer()
        guard state.code == .ok else { throw BenchError("detach answered \(state.code)") }
    }

    func epoch(of lease: Lease) -> UInt64 { lease.epoch }

    func awaitAnnounce(epochAbove epoch: UInt64) throws {
        let deadline = monotonicNanos() + 5_000_000_000
        while state.announces.largestEpoch <= epoch {
            _ = subscription.poll(into: &handler, fragmentLimit: 16)
            if monotonicNanos() > deadline { throw BenchError("no announce of an epoch above \(epoch) within 5 s") }
        }
    }

    func close() {
        publication.close()
        subscription.close()
        buffer.deallocate()
    }
}
