import Testing

@testable import Agents

@Suite("IdleStrategyKind parsing")
struct IdleStrategyKindTests {
    static let valid: [(String, IdleStrategyKind)] = [
        ("spin", .busySpin),
        ("  Busy-Spin ", .busySpin),
        ("noop", .noOp),
        ("no-op", .noOp),
        ("yield", .yielding),
        ("sleep", .sleeping(nanos: 1_000)),
        ("sleep:1ms", .sleeping(nanos: 1_000_000)),
        ("sleep:250us", .sleeping(nanos: 250_000)),
        ("sleep:250µs", .sleeping(nanos: 250_000)),
        ("sleep:100ns", .sleeping(nanos: 100)),
        ("sleep:42", .sleeping(nanos: 42)),
        ("SLEEP:2S", .sleeping(nanos: 2_000_000_000)),
        ("backoff", .backoff(maxSpins: 10, maxYields: 5, minParkNanos: 1_000, maxParkNanos: 1_000_000)),
        ("backoff:10,5,1us,1ms", .backoff(maxSpins: 10, maxYields: 5, minParkNanos: 1_000, maxParkNanos: 1_000_000)),
        ("backoff: 0, 0, 100ns, 100ns", .backoff(maxSpins: 0, maxYields: 0, minParkNanos: 100, maxParkNanos: 100)),
    ]

    static let invalid = [
        "",
        "spinning-wheel",
        "spin:5",
        "yield:1ms",
        "sleep:",
        "sleep:1xs",
        "sleep:-5ms",
        "sleep:ms",
        "sleep:99999999999999999s",
        "backoff:1,2,3",
        "backoff:a,5,1us,1ms",
        "backoff:1,-5,1us,1ms",
        "backoff:1,5,0ns,1ms",
        "backoff:1,5,1ms,1us",
        "backoff:1,5,1us,1ms,9",
    ]

    @Test("valid text parses", arguments: valid)
    func parses(text: String, expected: IdleStrategyKind) throws {
        #expect(try IdleStrategyKind(parsing: text) == expected)
        #expect(IdleStrategyKind(text) == expected)
    }

    @Test("invalid text throws an error naming the input", arguments: invalid)
    func rejects(text: String) throws {
        let error = try #require(throws: IdleStrategyParseError.self) { try IdleStrategyKind(parsing: text) }
        #expect(error.input == text)
        #expect(error.message.contains("\"\(text)\""))
        #expect("\(error)" == error.message)
        #expect(IdleStrategyKind(text) == nil)
    }

    @Test("descriptions are canonical and parse back", arguments: valid.map(\.1))
    func roundTrips(kind: IdleStrategyKind) throws {
        #expect(try IdleStrategyKind(parsing: kind.description) == kind)
    }

    @Test("canonical descriptions")
    func descriptions() {
        #expect(IdleStrategyKind.sleeping(nanos: 250_000).description == "sleep:250us")
        #expect(IdleStrategyKind.defaultBackoff.description == "backoff:10,5,1us,1ms")
        #expect(IdleStrategyKind.busySpin.description == "spin")
    }

    @Test("makeStrategy builds the matching strategy", arguments: valid.map(\.1))
    func makesStrategy(kind: IdleStrategyKind) {
        var strategy = kind.makeStrategy()
        #expect(strategy.kind == kind)
        strategy.idle(workCount: 1)
        #expect(AnyIdleStrategy(kind).kind == kind)
    }
}
