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

    @Test(
        "a producer process and a consumer process stream frames through the driver: every frame checked, none corrupt",
        .verifies("WIRE-10.2.1-001", "WIRE-10.2.1-011", "DRV-2.2-001", "DRV-2.3-001"))
    func twoProcesses() throws {
        let driver = try DriverProcess()
        try driver.start()
        let descriptorStream = TestMediaDriver.uniqueStreamId()
        let consumer = try Child(
            try Self.tool, ["consume"] + arguments(driver, descriptorStream: descriptorStream, seconds: 4))
        #expect(waitFor(timeout: .seconds(20)) { consumer.output.contains("consumer attached") }, "\(consumer.output)")
        let producer = try Child(
            try Self.tool,
            ["produce", "--rows", "16", "--columns", "1024", "--rate", "1000"]  // a pace a debug-built consumer keeps
                + arguments(driver, descriptorStream: descriptorStream, seconds: 2))
        #expect(producer.wait(timeout: .seconds(30)) == 0, "producer: \(producer.output)")
        #expect(consumer.wait(timeout: .seconds(30)) == 0, "consumer: \(consumer.output)")
        let published = try #require(number(before: "frames published", in: producer.output), "\(producer.output)")
        let unsent = number(before: "descriptors not sent", in: producer.output) ?? 0
        let checked = try #require(number(before: "frames checked", in: consumer.output), "\(consumer.output)")
        let corrupt = try #require(
            number(before: "corrupt", in: consumer.output.components(separatedBy: "consumer done").last ?? ""))
        #expect(published > 1_000 && published <= 2_100)
        #expect(corrupt == 0)
        #expect(
            checked + unsent >= published * 99 / 100, "published \(published), unsent \(unsent), checked \(checked)")
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
                + arguments(driver, descriptorStream: descriptorStream, seconds: 4))
        #expect(waitFor(timeout: .seconds(20)) { consumer.output.contains("consumer attached") }, "\(consumer.output)")
        let producer = try Child(
            try Self.tool,
            ["produce", "--rows", "4", "--columns", "256", "--rate", "500"]
                + arguments(driver, descriptorStream: descriptorStream, seconds: 2))
        #expect(producer.wait(timeout: .seconds(30)) == 0, "producer: \(producer.output)")
        #expect(consumer.wait(timeout: .seconds(30)) == 0, "consumer: \(consumer.output)")
        let published = try #require(number(before: "frames published", in: producer.output), "\(producer.output)")
        let checked = try #require(number(before: "frames checked", in: consumer.output), "\(consumer.output)")
        #expect(published > 500)
        #expect(checked >= 20 && checked <= 50, "20 Hz for about 2 s: \(checked) of \(published)")
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
                "--announce-stream-id", "\(driver.announceStream)", "--seconds", "5", "--rate-limit-after", "2",
                "--require",
            ])
        let descriptorStream = TestMediaDriver.uniqueStreamId()
        let consumer = try Child(
            try Self.tool, ["consume"] + arguments(driver, descriptorStream: descriptorStream, seconds: 5))
        #expect(waitFor(timeout: .seconds(20)) { consumer.output.contains("consumer attached") }, "\(consumer.output)")
        let producer = try Child(
            try Self.tool,
            ["produce", "--rows", "4", "--columns", "256", "--rate", "500"]
                + arguments(driver, descriptorStream: descriptorStream, seconds: 3))
        #expect(producer.wait(timeout: .seconds(30)) == 0, "producer: \(producer.output)")
        #expect(consumer.wait(timeout: .seconds(30)) == 0, "consumer: \(consumer.output)")
        #expect(supervisor.wait(timeout: .seconds(30)) == 0, "supervisor: \(supervisor.output)")
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
            ["consume", "--expect-blob"] + arguments(driver, descriptorStream: descriptorStream, seconds: 5))
        #expect(waitFor(timeout: .seconds(20)) { consumer.output.contains("consumer attached") }, "\(consumer.output)")
        let producer = try Child(
            try Self.tool,
            ["produce", "--rows", "4", "--columns", "256", "--rate", "100", "--meta-blob-bytes", "10485760"]
                + arguments(driver, descriptorStream: descriptorStream, seconds: 2))
        #expect(producer.wait(timeout: .seconds(30)) == 0, "producer: \(producer.output)")
        #expect(consumer.wait(timeout: .seconds(30)) == 0, "consumer: \(consumer.output)")
        #expect(producer.output.contains("1 meta blobs sent"), "\(producer.output)")
        #expect(consumer.output.contains("meta blob received: 10485760 bytes"), "\(consumer.output)")
        #expect(consumer.output.contains("pattern intact") && !consumer.output.contains("discarded"))
    }
}
