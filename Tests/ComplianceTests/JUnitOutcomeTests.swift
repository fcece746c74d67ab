import Foundation
import Testing

@testable import ComplianceTool

@Suite("Reading Swift Testing's JUnit output")
struct JUnitOutcomeTests {
    @Test("passes, failures, skips and parameterised cases map to case ids; a failure is never overwritten")
    func outcomes() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites><testsuite name="TestResults" tests="5">
              <testcase classname="Conformance.Layout" name="size()" time="0.002" />
              <testcase classname="Conformance.Layout" name="magic()" time="0.001"><failure message="expected 1" /></testcase>
              <testcase classname="Conformance.Layout" name="later()"><skipped /></testcase>
              <testcase classname="Conformance.Layout" name="each(value:)" />
              <testcase classname="Conformance.Layout" name="each(value:)"><failure message="case 2" /></testcase>
            </testsuite></testsuites>
            """
        let path = try write(xml)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let outcomes = JUnitOutcomes.parse(path: path)
        #expect(outcomes["Layout.size"]?.status == .passed)
        #expect(outcomes["Layout.size"]?.durationMs == 2)
        #expect(outcomes["Layout.magic"]?.status == .failed)
        #expect(outcomes["Layout.magic"]?.message == "expected 1")
        #expect(outcomes["Layout.later"]?.status == .skipped)
        #expect(outcomes["Layout.each"]?.status == .failed)
        #expect(JUnitOutcomes.parse(path: path + ".missing").isEmpty)
    }

    @Test("with a module, only that module's cases are read: a unit suite of the same name cannot stand in for a case")
    func moduleFilter() throws {
        let xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <testsuites><testsuite name="TestResults" tests="4">
              <testcase classname="TensorPoolSHMTests.Layout" name="size()"><failure message="unit failed" /></testcase>
              <testcase classname="Conformance.Layout" name="size()" time="0.003" />
              <testcase classname="Conformance.Layout" name="magic()"><failure message="case failed" /></testcase>
              <testcase classname="AeronTests.Only" name="unit()" />
            </testsuite></testsuites>
            """
        let path = try write(xml)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let cases = JUnitOutcomes.parse(path: path, module: "Conformance")
        #expect(cases.count == 2)
        #expect(cases["Layout.size"]?.status == .passed && cases["Layout.size"]?.durationMs == 3)
        #expect(cases["Layout.magic"]?.status == .failed && cases["Layout.magic"]?.message == "case failed")
        #expect(cases["Only.unit"] == nil)
        // Without a module every test counts, and the unit failure comes first under the same id.
        let all = JUnitOutcomes.parse(path: path)
        #expect(all["Layout.size"]?.status == .failed && all["Only.unit"]?.status == .passed)
    }

    /// Writes `xml` to a new temporary file and returns its path.
    func write(_ xml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("junit-\(UUID().uuidString).xml").path
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
