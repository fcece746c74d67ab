import Testing

@testable import Agents

@Suite("Idle strategies")
struct IdleStrategyTests {
    @Test("backoff goes NOT_IDLE → SPINNING → YIELDING → PARKING, doubling the park period up to the maximum")
    func backoffStates() {
        var strategy = BackoffIdleStrategy(maxSpins: 2, maxYields: 2, minParkNanos: 1, maxParkNanos: 8)
        #expect(strategy.state == .notIdle)

        strategy.idle(workCount: 0)
        #expect(strategy.state == .spinning)
        #expect(strategy.spins == 1)
        strategy.idle(workCount: 0)
        #expect(strategy.state == .spinning)
        #expect(strategy.spins == 2)
        strategy.idle(workCount: 0)
        #expect(strategy.state == .yielding)

        strategy.idle(workCount: 0)
        #expect(strategy.state == .yielding)
        #expect(strategy.yields == 1)
        strategy.idle(workCount: 0)
        #expect(strategy.state == .yielding)
        #expect(strategy.yields == 2)
        strategy.idle(workCount: 0)
        #expect(strategy.state == .parking)
        #expect(strategy.parkPeriodNanos == 1)

        var periods: [Int64] = []
        for _ in 0..<5 {
            strategy.idle()
            periods.append(strategy.parkPeriodNanos)
        }
        #expect(periods == [2, 4, 8, 8, 8])
        #expect(strategy.state == .parking)
    }

    @Test("backoff resets on work, from any state")
    func backoffResets() {
        var strategy = BackoffIdleStrategy(maxSpins: 1, maxYields: 1, minParkNanos: 1, maxParkNanos: 4)
        for _ in 0..<6 { strategy.idle(workCount: 0) }
        #expect(strategy.state == .parking)
        #expect(strategy.parkPeriodNanos > 1)

        strategy.idle(workCount: 1)
        #expect(strategy.state == .notIdle)
        #expect(strategy.spins == 0)
        #expect(strategy.yields == 0)
        #expect(strategy.parkPeriodNanos == 1)

        strategy.idle(workCount: 0)
        #expect(strategy.state == .spinning)
        strategy.reset()
        #expect(strategy.state == .notIdle)
    }

    @Test("backoff defaults match Agrona and take 11 idles to yield and 17 to park")
    func backoffDefaults() {
        var strategy = BackoffIdleStrategy()
        #expect(strategy.maxSpins == 10)
        #expect(strategy.maxYields == 5)
        #expect(strategy.minParkNanos == 1_000)
        #expect(strategy.maxParkNanos == 1_000_000)
        for _ in 0..<10 { strategy.idle() }
        #expect(strategy.state == .spinning)
        strategy.idle()
        #expect(strategy.state == .yielding)
        for _ in 0..<5 { strategy.idle() }
        #expect(strategy.state == .yielding)
        strategy.idle()
        #expect(strategy.state == .parking)
    }

    @Test("AnyIdleStrategy keeps the wrapped backoff state between calls")
    func anyKeepsState() throws {
        var strategy = AnyIdleStrategy(BackoffIdleStrategy(maxSpins: 1, maxYields: 1, minParkNanos: 1, maxParkNanos: 2))
        for _ in 0..<3 { strategy.idle(workCount: 0) }
        guard case .backoff(let inner) = strategy.storage else {
            Issue.record("expected a backoff strategy")
            return
        }
        #expect(inner.state == .yielding)
        strategy.idle(workCount: 2)
        guard case .backoff(let reset) = strategy.storage else { return }
        #expect(reset.state == .notIdle)
        #expect(strategy.alias == "backoff")
    }

    @Test("simple strategies idle and reset without state, and have their aliases")
    func simpleStrategies() {
        var spin = BusySpinIdleStrategy()
        var noOp = NoOpIdleStrategy()
        var yielding = YieldingIdleStrategy()
        var sleeping = SleepingIdleStrategy(sleepNanos: 1_000)
        for workCount in [0, 1, -1] {
            spin.idle(workCount: workCount)
            noOp.idle(workCount: workCount)
            yielding.idle(workCount: workCount)
            sleeping.idle(workCount: workCount)
        }
        spin.reset()
        sleeping.reset()
        #expect(spin == BusySpinIdleStrategy())
        #expect(sleeping.sleepNanos == 1_000)
        #expect([spin.alias, noOp.alias, yielding.alias, sleeping.alias] == ["spin", "noop", "yield", "sleep"])
    }

    @Test("thread names are cut to 15 bytes without splitting a character")
    func threadNameTruncation() {
        #expect(truncatedThreadName("short", maxBytes: 15) == "short")
        #expect(truncatedThreadName("0123456789abcdefgh", maxBytes: 15) == "0123456789abcde")
        #expect(truncatedThreadName("01234567890123é", maxBytes: 15) == "01234567890123")
        #expect(truncatedThreadName("a\0b", maxBytes: 15) == "ab")
    }
}
