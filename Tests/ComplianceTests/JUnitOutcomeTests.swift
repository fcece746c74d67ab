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
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("junit-\(UUID().uuidString).xml").path
        try xml.write(toFile: path, atomically: true, encoding: .utf8)
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
}
