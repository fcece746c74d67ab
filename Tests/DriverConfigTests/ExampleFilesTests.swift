import Foundation
import Testing

@testable import DriverConfig

/// The repository root: three levels above this file (`Tests/DriverConfigTests/<file>`).
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

private func examplePath(_ name: String) -> String {
    repositoryRoot.appendingPathComponent("Tools/config/\(name)").path
}

@Suite("Example configuration files")
struct ExampleFilesTests {
    @Test("Tools/config/driver-example.toml loads with the documented values")
    func example() throws {
        let config = try DriverConfiguration.load(path: examplePath("driver-example.toml"), environment: [:])
        #expect(config.driver.controlStreamId == 1000)
        #expect(config.driver.announceStreamId == 1001)
        #expect(config.driver.qosStreamId == 1200)
        #expect(config.driver.aeronDir == nil)
        #expect(config.driver.streamIdRange == StreamIdRange(lower: 20000, upper: 29999))
        #expect(config.driver.descriptorStreamIdRange == StreamIdRange(lower: 31000, upper: 31999))
        #expect(config.driver.controlStreamIdRange == StreamIdRange(lower: 32000, upper: 32999))
        #expect(config.shm.baseDirectory == "/dev/shm")
        #expect(config.policies.allowDynamicStreams)
        #expect(config.policies.defaultProfile == "raw")
        #expect(config.policies.shutdownToken == nil)
        #expect(config.profiles.map(\.name) == ["raw", "processed"])
        #expect(config.profile(named: "raw")?.payloadPools.map(\.strideBytes) == [1_048_576, 16_777_216])
        #expect(config.stream(id: 10000)?.profile == "raw")
    }

    @Test("Tools/config/driver-test.toml loads with the documented values")
    func testConfiguration() throws {
        let config = try DriverConfiguration.load(path: examplePath("driver-test.toml"), environment: [:])
        #expect(config.profiles.count == 1)
        #expect(config.profiles[0].headerNslots == 16)
        #expect(config.profiles[0].payloadPools.map(\.strideBytes) == [4096, 65536])
        #expect(config.streams.map(\.streamId) == [10000])
        #expect(config.shm.baseDirectory.hasPrefix("/dev/shm/"))
        #expect(config.policies.announcePeriodMs == 100)
        #expect(config.policies.leaseKeepaliveIntervalMs == 1000)
        #expect(config.policies.epochGcMinAgeNs == 300_000_000)
        #expect(config.policies.defaultProfile == "small")
    }

    @Test("the environment overrides a loaded file")
    func loadWithEnvironment() throws {
        let config = try DriverConfiguration.load(
            path: examplePath("driver-test.toml"), environment: ["POLICIES_ANNOUNCE_PERIOD_MS": "50"])
        #expect(config.policies.announcePeriodMs == 50)
    }

    @Test("a syntax error in a loaded file names the file")
    func syntaxErrorInFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("driver-config-\(UUID()).toml").path
        try "[driver\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try DriverConfiguration.load(path: path, environment: [:])
            Issue.record("a broken file loaded")
        } catch {
            #expect(error.key == ConfigurationError.documentKey)
            #expect(error.message.contains(path))
        }
    }

    @Test("every file in Tools/config loads")
    func everyFile() throws {
        let directory = repositoryRoot.appendingPathComponent("Tools/config").path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".toml") }
        #expect(files.count >= 3)
        for file in files {
            let config = try DriverConfiguration.load(path: examplePath(file), environment: [:])
            #expect(!config.profiles.isEmpty, "\(file)")
        }
    }
}
