import Aeron
import Testing

@Suite("Channel URIs and offer results")
struct ChannelURITests {
    @Test("builders produce Aeron's syntax, keeping parameter order and replacing in place")
    func building() {
        #expect(ChannelURI.ipc.description == "aeron:ipc")
        let udp = ChannelURI.udp(endpoint: "localhost:40123").mtu(8192).termLength(4 << 20).reliable(true)
        #expect(udp.description == "aeron:udp?endpoint=localhost:40123|mtu=8192|term-length=4194304|reliable=true")
        #expect(udp.mtu(1408).description.contains("mtu=1408|term-length"))
        #expect(udp["mtu"] == "8192")
        #expect(udp["ttl"] == nil)
        var spy = ChannelURI(media: .ipc, spy: true).alias("x")
        #expect(spy.description == "aeron-spy:aeron:ipc?alias=x")
        spy.remove("alias")
        #expect(spy.description == "aeron-spy:aeron:ipc")
        #expect(ChannelURI.ipc.linger(.milliseconds(5)).description == "aeron:ipc?linger=5000000ns")
    }

    @Test(
        "parsing round-trips and rejects malformed text with a reason",
        arguments: [
            "aeron:ipc",
            "aeron:udp?endpoint=224.0.1.1:40456|interface=localhost",
            "aeron-spy:aeron:udp?endpoint=localhost:0|tags=1,2",
            "aeron:ipc?term-length=65536|alias=",
        ])
    func roundTrip(text: String) throws {
        let uri = try ChannelURI(parsing: text)
        #expect(uri.description == text)
        #expect(try ChannelURI(parsing: uri.description) == uri)
    }

    @Test(
        "malformed URIs name the problem",
        arguments: [
            ("udp?endpoint=x", "must start with 'aeron:'"),
            ("aeron:tcp", "unknown media 'tcp'"),
            ("aeron:udp?", "empty parameter list"),
            ("aeron:udp?endpoint", "has no '='"),
            ("aeron:udp?=x", "empty key"),
            ("aeron:udp?mtu=1|mtu=2", "'mtu' is repeated"),
        ])
    func malformed(text: String, reason: String) {
        do {
            _ = try ChannelURI(parsing: text)
            Issue.record("'\(text)' must not parse")
        } catch {
            #expect(error.reason.contains(reason))
            #expect(error.description.contains(text))
        }
    }

    @Test("offer results decode every C code")
    func offerResults() {
        #expect(OfferResult(rawValue: 0) == .success(position: 0))
        #expect(OfferResult(rawValue: 4096).position == 4096)
        #expect(OfferResult(rawValue: -1) == .notConnected)
        #expect(OfferResult(rawValue: -2) == .backPressured)
        #expect(OfferResult(rawValue: -3) == .adminAction)
        #expect(OfferResult(rawValue: -4) == .closed)
        #expect(OfferResult(rawValue: -5) == .maxPositionExceeded)
        #expect(OfferResult(rawValue: -6) == .error(code: -6))
        #expect(OfferResult(rawValue: -99) == .error(code: -99))
        #expect(OfferResult.backPressured.isRetryable)
        #expect(OfferResult.adminAction.isRetryable)
        #expect(!OfferResult.closed.isRetryable)
        #expect(!OfferResult.maxPositionExceeded.isSuccess)
        #expect(ChannelStatus(rawValue: 1) == .active)
        #expect(ChannelStatus(rawValue: -1) == .errored)
        #expect(ChannelStatus(rawValue: 7) == .unknown(7))
    }
}
