import ConformanceSupport
import Foundation
import TestProcesses
import Testing

/// Producer and consumer clients as separate processes (`tp-client`) over a `tp-driver` process.
@Suite("Clients across processes", .serialized)
struct ClientProcessConformance {
    static var tool: URL {
        get throws {
            try #require(BuiltExecutable.named("tp-client", environment: "TP_CLIENT_TOOL"), "tp-client not built")
        }
    }

    func arguments(_ driver: DriverProcess, descriptorStream: Int32, seconds: Int) -> [String] {
        [
            "--aeron-dir", driver.aeronDirectory, "--control-stream-id", "\(driver.controlStream)",
            "--announce-stream-id", "\(driver.announceStream)", "--descriptor-stream-id", "\(descriptorStream)",
            "--allowed-base", driver.directory + "/shm", "--seconds", "\(seconds)",
        ]
    }

    /// The number after `label` in `text` (e.g. "published" in "… 57000 frames published …").
    func number(before label: String, in text: String) -> Int? {
        guard let range = text.range(of: " \(label)") else { return nil }
        return Int(text[..<range.lowerBound].split(separator: " ").last ?? "")
    }

    /// The `key=value` numbers of the consumer's closing "consumer accounting:" line.
    struct Accounting {
        let values: [String: Int]

        init(_ output: String) throws {
            let line = try #require(
                output.split(separator: "\n").last { $0.hasPrefix("consumer accounting:") }, "no accounting: \(output)")
            var values: [String: Int] = [:]
            for field in line.split(separator: " ") {
                let parts = field.split(separator: "=")
                if parts.count == 2, let value = Int(parts[1]) { values[String(parts[0])] = value }
            }
            self.values = values
        }

        subscript(_ key: String) -> Int { values[key] ?? -1 }
    }

    @Test(
        "a producer process and a consumer process stream frames through the driver: every frame checked or counted, none corrupt",
        .verifies("WIRE-10.2.1-001", "WIRE-10.2.1-011", "DRV-2.2-001", "DRV-2.3-001"))
    func twoProcesses() throws {
        let driver = try DriverProcess()
        try driver.start()
        let descriptorStream = TestMediaDriver.uniqueStreamId()
        // The consumer runs until it is told to stop; it then reads what is left in the logs and accounts for it.
        let consumer = try Child(
            try Self.tool, ["consume"] + arguments(driver, descriptorStream: descriptorStream, seconds: 600))
        #expect(
            waitFor(timeout: TestTiming.hangGuard) { consumer.output.contains("consumer attached") },
            "\(consumer.output)")
        let producer = try Child(
            try Self.tool,
            ["produce", "--rows", "16", "--columns", "1024", "--rate", "1000", "--subscriber-wait", "60"]
                + arguments(driver, descriptorStream: descriptorStream, seconds: 2))
        #expect(producer.wait(timeout: TestTiming.hangGuard) == 0, "producer: \(producer.output)")
        consumer.send(SIGINT)
        #expect(consumer.wait(timeout: TestTiming.hangGuard) == 0, "consumer: \(consumer.output)")
        let published = try #require(number(before: "frames published", in: producer.output), "\(producer.output)")
        let unsent = try #require(number(before: "descriptors not sent", in: producer.output), "\(producer.output)")
        let counts = try Accounting(consumer.output)
        // 1000 frames/s for 2 s: a slow machine publishes fewer, never more.
        #expect(published > 0 && published <= 2_002)
        #expect(counts["corrupt"] == 0)
        #expect(counts["checked"] > 0, "\(consumer.output)")
        // Every frame handed over was checked, found overwritten, or gated; overwrites are the reader's late drops.
        #expect(
            counts["accepted"]
                == counts["checked"] + counts["overwritten"] + counts["rate_limited"] + counts["progress_dropped"],
            "\(consumer.output)")
        #expect(counts["overwritten"] == counts["overwritten_after_accept"], "\(consumer.output)")
        // Accounting: every published frame's descriptor was either read by the consumer (delivered or dropped with a
        // reason) or never sent (the producer counts it); a gap the consumer saw is one of the unsent.
        #expect(
            counts["seen"] + unsent == published,
            "published \(published), unsent \(unsent), consumer: \(counts.values)")
        #expect(counts["gap"] <= unsent, "\(counts.values)")
    }

    @Test(
        "a tp-client consumer asking for RATE_LIMITED on a per-consumer stream gets it and receives about max_rate_hz",
        .verifies("WIRE-11-004", "WIRE-5-006"))
    func rateLimitedProcess() throws {
        let driver = try DriverProcess()
        try driver.start()
        let descriptorStream = TestMediaDriver.uniqueStreamId()
        let perConsumer = 31_000 + Int.random(in: 0..<1_000)
        let consumer = try Child(
            try Self.tool,
            ["consume", "--max-rate-hz", "20", "--descriptor-stream", "\(perConsumer)"]
                + arguments(driver, descriptorStream: descriptorStream, seconds: 600))
        #expect(
            waitFor(timeout: TestTiming.hangGuard) { consumer.output.contains("consumer attached") },
            "\(consumer.output)")
        let producer = try Child(
            try Self.tool,
            ["produce", "--rows", "4", "--columns", "256", "--rate", "500", "--subscriber-wait", "60"]
                + arguments(driver, descriptorStream: descriptorStream, seconds: 2))
        #expect(producer.wait(timeout: TestTiming.hangGuard) == 0, "producer: \(producer.output)")
        consumer.send(SIGINT)
        #expect(consumer.wait(timeout: TestTiming.hangGuard) == 0, "consumer: \(consumer.output)")
        let published = try #require(number(before: "frames published", in: producer.output), "\(producer.output)")
        let checked = try #require(number(before: "frames checked", in: consumer.output), "\(consumer.output)")
        #expect(published > 0 && published <= 1_002)
        // 20 Hz against the frames' own timestamps, which span under 2 s: about 41 pass the gates (one more may slip
        // through at the switch to the per-consumer stream); a slow machine lets fewer through, never more.
        #expect(checked >= 1 && checked <= 50, "20 Hz over 2 s: \(checked) of \(published)")
        #expect(consumer.output.contains("per-consumer descriptor stream aeron:ipc?term-length=4m#\(perConsumer)"))
        #expect(consumer.output.contains("configured RATE_LIMITED"), "\(consumer.output)")
    }

    @Test(
        "a tp-supervisor process sees a producer process and a consumer process and forces the consumer into RATE_LIMITED",
        .verifies("WIRE-10.5-001", "WIRE-10.5-002"))
    func supervisorAcrossProcesses() throws {
        let driver = try DriverProcess()
        try driver.start()
        let supervisorTool = try #require(
            BuiltExecutable.named("tp-supervisor", environment: "TP_SUPERVISOR_TOOL"), "tp-supervisor not built")
        let supervisor = try Child(
            supervisorTool,
            [
                "run", "--aeron-dir", driver.aeronDirectory, "--control-stream-id", "\(driver.controlStream)",
                "--announce-stream-id", "\(driver.announceStream)", "--seconds", "600", "--rate-limit-after", "2",
                "--require",
            ])
        let descriptorStream = TestMediaDriver.uniqueStreamId()
        let consumer = try Child(
            try Self.tool, ["consume"] + arguments(driver, descriptorStream: descriptorStream, seconds: 600))
        #expect(
            waitFor(timeout: TestTiming.hangGuard) { consumer.output.contains("consumer attached") },
            "\(consumer.output)")
        let producer = try Child(
            try Self.tool,
            ["produce", "--rows", "4", "--columns", "256", "--rate", "500"]
                + arguments(driver, descriptorStream: descriptorStream, seconds: 600))
        // Everyone runs until the supervisor has forced the consumer, the consumer follows, and its gate drops frames.
        let gated = waitFor(timeout: TestTiming.hangGuard) {
            let output = consumer.output
            return supervisor.output.contains("is RATE_LIMITED") && output.contains("mode RATE_LIMITED at 30 Hz")
                && output.split(separator: "\n").contains { line in
                    line.hasPrefix("consumer:") && !line.hasSuffix("rate-limited 0")
                        && line.contains("mode RATE_LIMITED")
                }
        }
        #expect(gated, "supervisor: \(supervisor.output)\nconsumer: \(consumer.output)")
        for child in [producer, consumer, supervisor] { child.send(SIGINT) }
        #expect(producer.wait(timeout: TestTiming.hangGuard) == 0, "producer: \(producer.output)")
        #expect(consumer.wait(timeout: TestTiming.hangGuard) == 0, "consumer: \(consumer.output)")
        #expect(supervisor.wait(timeout: TestTiming.hangGuard) == 0, "supervisor: \(supervisor.output)")
        #expect(supervisor.output.contains("1 producers and 1 consumers seen"), "\(supervisor.output)")
        #expect(supervisor.output.contains("is RATE_LIMITED"), "\(supervisor.output)")
        #expect(consumer.output.contains("mode RATE_LIMITED at 30 Hz"), "\(consumer.output)")
        #expect(consumer.output.contains("configured RATE_LIMITED"), "\(consumer.output)")
        // Frames the consumer's gate dropped once it was RATE_LIMITED ("… rate-limited N, …" in its last line).
        let limited = Int((consumer.output.components(separatedBy: "rate-limited ").last ?? "").prefix { $0.isNumber })
        #expect((limited ?? 0) > 0, "\(consumer.output)")
    }

    @Test(
        "a 10 MiB meta blob crosses from a producer process to a consumer process intact (CRC32C checked)",
        .verifies("WIRE-10.3.3-003", "WIRE-15.9-005"))
    func metaBlobAcrossProcesses() throws {
        let driver = try DriverProcess()
        try driver.start()
        let descriptorStream = TestMediaDriver.uniqueStreamId()
        let consumer = try Child(
            try Self.tool,
            ["consume", "--expect-blob"] + arguments(driver, descriptorStream: descriptorStream, seconds: 600))
        #expect(
            waitFor(timeout: TestTiming.hangGuard) { consumer.output.contains("consumer attached") },
            "\(consumer.output)")
        let producer = try Child(
            try Self.tool,
            ["produce", "--rows", "4", "--columns", "256", "--rate", "100", "--meta-blob-bytes", "10485760"]
                + arguments(driver, descriptorStream: descriptorStream, seconds: 2))
        #expect(producer.wait(timeout: TestTiming.hangGuard) == 0, "producer: \(producer.output)")
        // The producer left only after the blob's last chunk was sent; the consumer stops once it has the blob.
        #expect(
            waitFor(timeout: TestTiming.hangGuard) {
                consumer.output.contains("meta blob received") || consumer.output.contains("meta blob discarded")
            }, "\(consumer.output)")
        consumer.send(SIGINT)
        #expect(consumer.wait(timeout: TestTiming.hangGuard) == 0, "consumer: \(consumer.output)")
        #expect(producer.output.contains("1 meta blobs sent"), "\(producer.output)")
        #expect(consumer.output.contains("meta blob received: 10485760 bytes"), "\(consumer.output)")
        #expect(consumer.output.contains("pattern intact") && !consumer.output.contains("discarded"))
    }
}
