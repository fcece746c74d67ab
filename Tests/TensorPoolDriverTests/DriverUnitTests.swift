import Agents
import DriverConfig
import Foundation
import SBE
import TensorPoolDriver
import TensorPoolWire
import Testing

@testable import DriverTool

@Suite("Driver units")
struct DriverUnitTests {
    @Test("the lease state machine: keepalives keep it live, every ending is terminal")
    func leaseStates() {
        #expect(LeaseState.attached.after(.keepalive) == .active)
        #expect(LeaseState.active.after(.keepalive) == .active)
        for live in [LeaseState.attached, .active] {
            #expect(
                live.after(.detach) == .detached && live.after(.expire) == .expired && live.after(.revoke) == .revoked)
            #expect(live.isLive && live.revokeReason == nil)
        }
        for terminal in [LeaseState.detached, .expired, .revoked] {
            #expect(!terminal.isLive)
            for event in [LeaseEvent.keepalive, .detach, .expire, .revoke] { #expect(terminal.after(event) == nil) }
        }
        #expect(LeaseState.detached.revokeReason == .detached && LeaseState.expired.revokeReason == .expired)
        #expect(LeaseState.revoked.revokeReason == .revoked)
    }

    @Test("stream ids are handed out lowest first, come back on release, and run out")
    func allocator() {
        var allocator = StreamIdAllocator(range: StreamIdRange(lower: 5, upper: 7))
        #expect(allocator.allocate() == 5 && allocator.allocate() == 6 && allocator.allocate() == 7)
        #expect(allocator.allocate() == nil)
        allocator.release(6)
        #expect(allocator.allocate() == 6)
        var unset = StreamIdAllocator(range: nil)
        #expect(unset.allocate() == nil)
        var top = StreamIdAllocator(range: StreamIdRange(lower: UInt32.max - 1, upper: UInt32.max))
        #expect(top.allocate() == UInt32.max - 1 && top.allocate() == UInt32.max && top.allocate() == nil)
    }

    @Test("error texts are cut on character boundaries")
    func truncation() {
        #expect(truncatedErrorMessage("abcdef", limit: 4) == "abcd")
        #expect(truncatedErrorMessage("aé", limit: 2) == "a", "é takes two bytes and does not fit")
        #expect(truncatedErrorMessage(String(repeating: "x", count: 1024)).utf8.count == 1024)
        #expect(truncatedErrorMessage(String(repeating: "x", count: 5000)).utf8.count == maxErrorMessageBytes)
    }

    @Test("the system clocks: timestamps on CLOCK_MONOTONIC, the epoch clock on CLOCK_REALTIME")
    func clocks() {
        let clock = SystemDriverClock()
        let before = UInt64(MonotonicClock.now())
        let monotonic = clock.monotonicNs()
        #expect(monotonic >= before && monotonic <= UInt64(MonotonicClock.now()))
        #expect(clock.epochClockNs() > 1_700_000_000_000_000_000)
    }

    @Test("tp-driver's client commands default to control stream 1000; the configuration announces on 1001")
    func toolDefaults() throws {
        #expect(try ControlEndpoint.parse([]).controlStreamId == 1000)
        #expect(DriverConfiguration.Driver.defaultAnnounceStreamId == 1001)
    }
}

@Suite("Driver bookkeeping stays bounded")
struct DriverBoundsTests {
    final class NullOutput: DriverOutput {
        func sendControl(_ message: UnsafeRawBufferPointer) -> Bool { true }
        func sendAnnounce(_ message: UnsafeRawBufferPointer) -> Bool { true }
    }

    @Test("ended leases are remembered only up to the history size")
    func endedHistory() throws {
        let directory = "/dev/shm/tp-unit-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let configuration = try DriverConfiguration.parse(
            """
            [shm]
            base_dir = "\(directory)"
            [policies]
            prefault_shm = false
            [profiles.p]
            header_nslots = 8
            payload_pools = [ { pool_id = 1, stride_bytes = 1024 } ]
            [streams.s]
            stream_id = 10000
            profile = "p"
            """)
        let core = try DriverCore(configuration: configuration, output: NullOutput())
        defer { core.close(unlinkFiles: true) }
        var bytes = [UInt8](repeating: 0, count: 256)
        for index in 0..<(DriverCore.endedLeaseHistory + 100) {
            let length = try bytes.withUnsafeMutableBytes { buffer in
                let encoder = try DriverSchema.ShmAttachRequestEncoder.wrapAndApplyHeader(buffer)
                encoder.correlationId = Int64(index)
                encoder.streamId = 10_000
                encoder.clientId = UInt32(index + 1)
                encoder.role = .consumer
                encoder.expectedLayoutVersion = 0
                encoder.publishMode = nil
                encoder.requireHugepages = .unspecified
                encoder.desiredNodeId = nil
                return 8 + encoder.encodedLength
            }
            bytes.withUnsafeBytes { core.onControlMessage(UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
            if let lease = core.leases.values.first { core.revoke(leaseId: lease.id) }
        }
        #expect(core.leases.isEmpty)
        #expect(core.endedLeases.count == DriverCore.endedLeaseHistory)
        #expect(core.counters.revocationsSent == UInt64(DriverCore.endedLeaseHistory + 100))
    }
}
