import Aeron
import Foundation
import Testing

@Suite("Publish and subscribe through the embedded media driver")
struct PublishSubscribeTests {
    @Test("IPC: messages arrive complete, in order, with the publisher's session id")
    func ipcRoundTrip() throws {
        let ipc = try IPCStream.connected()
        defer { ipc.close() }
        let (subscription, publication, stream) = (ipc.subscription, ipc.publication, ipc.streamId)

        let sent = (0..<200).map { patterned($0, length: 1 + ($0 * 7) % 900) }
        for message in sent {
            #expect(offerRetrying(publication, message).isSuccess)
        }
        var received: [[UInt8]] = []
        var sessions = Set<Int32>()
        var streams = Set<Int32>()
        waitUntil {
            _ = subscription.poll(fragmentLimit: 50) { buffer, header in
                received.append(Array(buffer))
                sessions.insert(header.sessionId)
                streams.insert(header.values.streamId)
            }
            return received.count >= sent.count
        }
        #expect(received == sent)
        #expect(sessions == [publication.sessionId])
        #expect(streams == [stream])
        #expect(publication.position.map { $0 > 0 } == true)
    }

    @Test("UDP loopback on an ephemeral port: messages arrive and the endpoint is active")
    func udpLoopback() throws {
        let client = try TestDriver.client()
        defer { client.close() }
        let stream = TestDriver.uniqueStreamId()
        let subscription = try client.addSubscription(
            channel: ChannelURI.udp(endpoint: "localhost:0").description, streamId: stream)
        #expect(waitUntil { subscription.resolvedEndpoint != nil })
        let endpoint = try #require(subscription.resolvedEndpoint)
        #expect(endpoint.hasPrefix("127.0.0.1:"))
        #expect(!endpoint.hasSuffix(":0"))

        let publication = try client.addExclusivePublication(
            channel: ChannelURI.udp(endpoint: endpoint).description, streamId: stream)
        #expect(waitUntil { publication.isConnected })
        #expect(subscription.channelStatus == .active)
        #expect(publication.channelStatus == .active)

        let sent = (0..<100).map { patterned($0, length: 256) }
        for message in sent {
            #expect(offerRetrying(publication, message).isSuccess)
        }
        #expect(receive(sent.count, from: subscription) == sent)
    }

    @Test("offer without a subscriber reports notConnected, then succeeds once one joins")
    func notConnected() throws {
        let client = try TestDriver.client()
        defer { client.close() }
        let stream = TestDriver.uniqueStreamId()
        let publication = try client.addPublication(channel: "aeron:ipc", streamId: stream)
        #expect(!publication.isConnected)
        #expect(publication.offer([1, 2, 3]) == .notConnected)
        #expect(publication.offer([1, 2, 3]).isRetryable)

        let subscription = try client.addSubscription(channel: "aeron:ipc", streamId: stream)
        #expect(waitUntil { publication.isConnected })
        #expect(offerRetrying(publication, [4, 5, 6]).isSuccess)
        #expect(receive(1, from: subscription) == [[4, 5, 6]])
    }

    @Test("a two-part offer arrives as one message")
    func gatheringOffer() throws {
        let ipc = try IPCStream.connected(exclusive: true)
        defer { ipc.close() }
        let (subscription, publication) = (ipc.subscription, ipc.publication)
        let header: [UInt8] = [0xAA, 0xBB, 0xCC]
        let body = patterned(9, length: 500)
        var result = OfferResult.notConnected
        waitUntil {
            result = header.withUnsafeBytes { first in body.withUnsafeBytes { publication.offer(first, $0) } }
            return !result.isRetryable
        }
        #expect(result.isSuccess)
        #expect(receive(1, from: subscription) == [header + body])
    }

    @Test("controlled poll: abort keeps the fragment, break stops after it")
    func controlledPoll() throws {
        let ipc = try IPCStream.connected()
        defer { ipc.close() }
        let (subscription, publication) = (ipc.subscription, ipc.publication)
        for index in 0..<3 { #expect(offerRetrying(publication, [UInt8(index)]).isSuccess) }

        var seen: [UInt8] = []
        waitUntil {
            _ = subscription.controlledPoll(fragmentLimit: 10) { buffer, _ in
                seen.append(buffer[0])
                return .abort
            }
            return !seen.isEmpty
        }
        #expect(seen == [0])

        seen = []
        let consumed = subscription.controlledPoll(fragmentLimit: 10) { buffer, _ in
            seen.append(buffer[0])
            return .break
        }
        #expect(consumed == 1)
        #expect(seen == [0])

        seen = []
        waitUntil {
            _ = subscription.controlledPoll(fragmentLimit: 10) { buffer, _ in
                seen.append(buffer[0])
                return .continue
            }
            return seen.count >= 2
        }
        #expect(seen == [1, 2])
    }
}

@Suite("Zero-copy claims")
struct TryClaimTests {
    @Test("a committed claim is delivered, an aborted one is skipped")
    func commitAndAbort() throws {
        let ipc = try IPCStream.connected(exclusive: true)
        defer { ipc.close() }
        let (subscription, publication) = (ipc.subscription, ipc.publication)

        var claim = BufferClaim()
        #expect(publication.tryClaim(length: 64, into: &claim).isSuccess)
        #expect(claim.isActive)
        #expect(claim.buffer.count == 64)
        for index in 0..<64 { claim.buffer[index] = UInt8(index) }
        claim.setReservedValue(0x1234_5678)
        let committed = claim.commit()
        #expect(committed)
        #expect(!claim.isActive)
        let committedAgain = claim.commit()
        #expect(!committedAgain)

        #expect(publication.tryClaim(length: 32, into: &claim).isSuccess)
        claim.buffer.initializeMemory(as: UInt8.self, repeating: 0xEE)
        let aborted = claim.abort()
        #expect(aborted)

        struct Refused: Error {}
        #expect(throws: Refused.self) {
            _ = try publication.tryClaim(length: 16) { buffer throws(Refused) in
                buffer.initializeMemory(as: UInt8.self, repeating: 0xDD)
                throw Refused()
            }
        }
        let last = publication.tryClaim(length: 3) { buffer in
            buffer.copyBytes(from: [7, 8, 9])
        }
        #expect(last.isSuccess)

        var received: [[UInt8]] = []
        var reserved: [Int64] = []
        waitUntil {
            _ = subscription.poll { buffer, header in
                received.append(Array(buffer))
                reserved.append(header.reservedValue)
            }
            return received.count >= 2
        }
        #expect(received == [Array(0..<64), [7, 8, 9]])
        #expect(reserved.first == 0x1234_5678)
    }

    @Test("a claim longer than one frame is refused without touching the log")
    func claimTooLong() throws {
        let client = try TestDriver.client()
        defer { client.close() }
        let publication = try client.addExclusivePublication(
            channel: "aeron:ipc", streamId: TestDriver.uniqueStreamId())
        var claim = BufferClaim()
        let result = publication.tryClaim(length: publication.maxPayloadLength + 1, into: &claim)
        #expect(!result.isSuccess)
        #expect(!result.isRetryable)
        #expect(!claim.isActive)
    }
}

@Suite("Fragmentation")
struct FragmentAssemblerTests {
    @Test("UDP: a message larger than the MTU arrives whole through the assembler and in pieces without it")
    func largeMessage() throws {
        let client = try TestDriver.client()
        defer { client.close() }
        let stream = TestDriver.uniqueStreamId()
        let whole = try client.addSubscription(channel: "aeron:udp?endpoint=localhost:0", streamId: stream)
        #expect(waitUntil { whole.resolvedEndpoint != nil })
        let endpoint = try #require(whole.resolvedEndpoint)
        // A spy reads the publication's own log: the fragments exactly as sent.
        let pieces = try client.addSubscription(channel: "aeron-spy:aeron:udp?endpoint=\(endpoint)", streamId: stream)
        let publication = try client.addPublication(channel: "aeron:udp?endpoint=\(endpoint)", streamId: stream)
        #expect(waitUntil { publication.isConnected && whole.isConnected && pieces.imageCount == 1 })

        let large = patterned(3, length: 100_000)
        #expect(large.count > publication.maxPayloadLength)
        #expect(offerRetrying(publication, large).isSuccess)
        #expect(offerRetrying(publication, [1, 2, 3]).isSuccess)

        let assembler = try FragmentAssembler()
        #expect(receive(2, from: whole, assembler: assembler) == [large, [1, 2, 3]])

        let fragmentCount = (large.count + publication.maxPayloadLength - 1) / publication.maxPayloadLength
        let fragments = receive(fragmentCount + 1, from: pieces)
        #expect(fragments.count == fragmentCount + 1)
        #expect(Array(fragments.dropLast().joined()) == large)
        #expect(fragments.last == [1, 2, 3])
    }

    @Test("IPC fragments carry begin and end flags")
    func fragmentFlags() throws {
        let ipc = try IPCStream.connected()
        defer { ipc.close() }
        let (subscription, publication) = (ipc.subscription, ipc.publication)
        let large = patterned(5, length: publication.maxPayloadLength * 3 + 10)
        #expect(offerRetrying(publication, large).isSuccess)

        var pieces: [[UInt8]] = []
        var flags: [UInt8] = []
        waitUntil {
            _ = subscription.poll(fragmentLimit: 10) { buffer, header in
                pieces.append(Array(buffer))
                flags.append(header.flags)
            }
            return pieces.count >= 4
        }
        #expect(pieces.count == 4)
        #expect(Array(pieces.joined()) == large)
        #expect(flags.first == FrameValues.beginFlag)
        #expect(flags.last == FrameValues.endFlag)
        #expect(flags.dropFirst().dropLast().allSatisfy { $0 == 0 })
    }
}
