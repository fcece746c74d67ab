import ArgumentParser
import ConformanceSupport
import DriverConfig
import Foundation
import TensorPoolClient
import Testing

@testable import ClientTool
@testable import SupervisorTool

/// The repository root: two levels above this file (`Conformance/Driver/<file>`).
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// One default stream id per kind of traffic, the same in every component: the values both peers' examples use.
@Suite("Default stream ids agree across the client library, the driver and the tools")
struct StreamDefaultsConformance {
    /// Control/attach 1000, `ShmPoolAnnounce` 1001, `FrameDescriptor` 1100, QoS 1200, metadata 1300.
    static let control: Int32 = 1000
    static let announce: Int32 = 1001
    static let descriptors: Int32 = 1100
    static let qos: Int32 = 1200
    static let metadata: Int32 = 1300

    /// A driver configuration that sets no stream id.
    static var minimalDriver: String { StreamMappingConformance.minimalDriver }

    @Test(
        "TensorPoolContext, the driver configuration's defaults, the shipped driver configurations, tp-client and tp-supervisor all use control 1000, announces 1001, descriptors 1100, QoS 1200 and metadata 1300",
        .verifies("WIRE-15.11-001"))
    func defaultsAgree() throws {
        let context = TensorPoolContext()
        #expect(context.controlStreamId == Self.control && context.announceStreamId == Self.announce)
        #expect(context.descriptorStreamId == Self.descriptors)
        #expect(context.qosStreamId == Self.qos && context.metadataStreamId == Self.metadata)

        let driver = try DriverConfiguration.parse(Self.minimalDriver).driver
        #expect(driver.controlStreamId == Self.control && driver.announceStreamId == Self.announce)
        #expect(driver.qosStreamId == Self.qos)
        for name in ["driver-example.toml", "driver-demo.toml", "driver-test.toml"] {
            let path = repositoryRoot.appendingPathComponent("Tools/config/\(name)").path
            let shipped = try DriverConfiguration.load(path: path, environment: [:]).driver
            #expect(shipped.controlStreamId == Self.control && shipped.announceStreamId == Self.announce, "\(name)")
            #expect(shipped.qosStreamId == Self.qos, "\(name)")
        }

        let client = try Endpoint.parse([])  // tp-client produce|consume
        #expect(client.controlStreamId == Self.control && client.announceStreamId == Self.announce)
        #expect(client.descriptorStreamId == Self.descriptors)

        let supervisor = try Run.parse([])  // tp-supervisor run
        #expect(supervisor.controlStreamId == Self.control && supervisor.announceStreamId == Self.announce)
        #expect(supervisor.qosStreamId == Self.qos && supervisor.metadataStreamId == Self.metadata)
    }
}
