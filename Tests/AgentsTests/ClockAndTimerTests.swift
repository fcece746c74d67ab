import Testing

@testable import Agents

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Clocks")
struct ClockTests {
    @Test("MonotonicClock never goes back")
    func monotonic() {
        let clock = MonotonicClock()
        var previous = clock.nanoTime()
        for _ in 0..<10_000 {
            let now = clock.nanoTime()
            #expect(now >= previous)
            if now < previous { break }
            previous = now
        }
        #expect(MonotonicClock.now() >= previous)
    }

    @Test("EpochNanoClock and EpochMillisClock read the wall clock")
    func epoch() {
        // Each reading is bracketed by wall-clock readings taken before and after it, so no bound depends on how long
        // the thread is descheduled between calls. `time()` may read a coarse clock and the wall clock may be stepped,
        // hence one second of slack.
        let wallBefore = Int64(time(nil)) - 1
        let nanos = EpochNanoClock().nanoTime()
        let millis = EpochMillisClock.now()
        let wallAfter = Int64(time(nil)) + 1
        #expect((wallBefore...wallAfter).contains(nanos / 1_000_000_000))
        #expect((wallBefore...wallAfter).contains(millis / 1_000))
        let nanosBefore = EpochNanoClock.now()
        let millisBetween = EpochMillisClock().time()
        let nanosAfter = EpochNanoClock.now()
        #expect((nanosBefore / 1_000_000 - 1_000...nanosAfter / 1_000_000 + 1_000).contains(millisBetween))
    }

    @Test("ManualClock moves only when set or advanced")
    func manual() {
        let clock = ManualClock(nanoTime: 100)
        #expect(clock.nanoTime() == 100)
        #expect(clock.nanoTime() == 100)
        #expect(clock.advance(by: 50) == 150)
        #expect(clock.advance(by: .microseconds(2)) == 2_150)
        clock.set(nanoTime: 7)
        #expect(clock.nanoTime() == 7)
        let asProtocol: any NanoClock = clock
        #expect(asProtocol.nanoTime() == 7)
    }
}

/// `timer.poll(now:)` as a free function, because `#expect` cannot call a mutating method.
private func poll(_ timer: inout PolledTimer, _ now: Int64) -> Bool {
    timer.poll(now: now)
}

@Suite("Timers")
struct TimerTests {
    @Test("PolledTimer fires once per elapsed interval")
    func firesOncePerInterval() {
        let clock = ManualClock(nanoTime: 1_000)
        var timer = PolledTimer(intervalNanos: 100, now: clock.nanoTime())
        #expect(timer.deadline == 1_100)
        #expect(!poll(&timer, clock.nanoTime()))
        clock.advance(by: 99)
        #expect(!poll(&timer, clock.nanoTime()))
        clock.advance(by: 1)
        #expect(poll(&timer, clock.nanoTime()))
        #expect(!poll(&timer, clock.nanoTime()))
        clock.advance(by: 50)
        #expect(!poll(&timer, clock.nanoTime()))
        clock.advance(by: 50)
        #expect(poll(&timer, clock.nanoTime()))
        #expect(timer.deadline == 1_300)
    }

    @Test("PolledTimer does not catch up after a long stall")
    func noCatchUp() {
        let clock = ManualClock()
        var timer = PolledTimer(intervalNanos: 100, now: clock.nanoTime())
        clock.advance(by: 10_050)
        #expect(poll(&timer, clock.nanoTime()))
        var fired = 0
        for _ in 0..<99 {
            clock.advance(by: 1)
            if poll(&timer, clock.nanoTime()) { fired += 1 }
        }
        #expect(fired == 0)
        clock.advance(by: 1)
        #expect(poll(&timer, clock.nanoTime()))
    }

    @Test("PolledTimer reset and setInterval reschedule")
    func resetAndSetInterval() {
        var timer = PolledTimer(interval: .nanoseconds(100), now: 0)
        timer.reset(now: 80)
        #expect(!poll(&timer, 100))
        #expect(poll(&timer, 180))
        timer.setInterval(10, now: 200)
        #expect(timer.intervalNanos == 10)
        #expect(timer.deadline == 210)
        timer.setInterval(30)
        #expect(timer.deadline == 230)
        #expect(!poll(&timer, 229))
        #expect(poll(&timer, 230))
    }

    @Test("Deadline expires once the clock reaches it")
    func deadline() {
        let clock = ManualClock(nanoTime: 500)
        let deadline = Deadline(after: 200, now: clock.nanoTime())
        #expect(deadline.expiresAt == 700)
        #expect(!deadline.isExpired(now: clock.nanoTime()))
        #expect(deadline.remaining(now: clock.nanoTime()) == 200)
        clock.advance(by: 199)
        #expect(!deadline.isExpired(now: clock.nanoTime()))
        #expect(deadline.remaining(now: clock.nanoTime()) == 1)
        clock.advance(by: 1)
        #expect(deadline.isExpired(now: clock.nanoTime()))
        #expect(deadline.remaining(now: clock.nanoTime()) == 0)
        clock.advance(by: 1_000)
        #expect(deadline.remaining(now: clock.nanoTime()) == 0)
        #expect(Deadline(after: .milliseconds(1), now: 0) == Deadline(at: 1_000_000))
        #expect(Deadline(after: Int64.max, now: 10).expiresAt == Int64.max)
        #expect(Deadline(at: 1) < Deadline(at: 2))
    }
}
