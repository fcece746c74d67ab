import Testing

@testable import Compliance

@Suite("Reports")
struct ReportTests {
    static func rows() -> [ChecklistRow] {
        func requirement(_ id: String, _ level: RequirementLevel, _ text: String) -> Requirement {
            Requirement(id: id, spec: "WIRE", section: "7", level: level, text: text, file: "wire.md", line: 1)
        }
        return [
            ChecklistRow(
                requirement: requirement("WIRE-7-001", .must, "a MUST b"), cases: ["Cases.one"], status: .passing),
            ChecklistRow(
                requirement: requirement("WIRE-7-002", .should, "c SHOULD \"d\""), cases: [], status: .uncovered),
        ]
    }

    static let cases = ["Cases.one": CaseLocation(file: "Conformance/Wire/Cases.swift", line: 4)]

    @Test("Markdown: coverage per spec and one row per requirement with case links")
    func markdown() {
        #expect(
            Reports.markdown(Self.rows(), cases: Self.cases, title: "Report") == """
                # Report

                ## Coverage

                | spec | MUST passing | SHOULD passing | MAY passing |
                |---|---:|---:|---:|
                | WIRE | 1/1 | 0/1 | 0/0 |

                ## Requirements

                | requirement | level | status | cases |
                |---|---|---|---|
                | WIRE-7-001 | MUST | passing | [Cases.one](Conformance/Wire/Cases.swift#L4) |
                | WIRE-7-002 | SHOULD | uncovered |  |

                """)
    }

    @Test("JSON: coverage and requirements with escaped text and case locations")
    func json() {
        #expect(
            Reports.json(Self.rows(), cases: Self.cases, title: "Report") == """
                {
                  "title": "Report",
                  "coverage": [
                    {"spec": "WIRE", "must": 1, "mustPassing": 1, "should": 1, "shouldPassing": 0, "may": 0, "mayPassing": 0}
                  ],
                  "requirements": [
                    {"id": "WIRE-7-001", "spec": "WIRE", "section": "7", "level": "MUST", "status": "passing", "text": "a MUST b", "cases": [{"id": "Cases.one", "file": "Conformance/Wire/Cases.swift", "line": 4}]},
                    {"id": "WIRE-7-002", "spec": "WIRE", "section": "7", "level": "SHOULD", "status": "uncovered", "text": "c SHOULD \\"d\\"", "cases": []}
                  ]
                }

                """)
    }

    @Test("JUnit: passing requirements pass, uncovered ones are skipped")
    func junit() {
        let xml = Reports.junit(Self.rows())
        #expect(xml.contains("<testsuite name=\"WIRE\" tests=\"2\" failures=\"0\" skipped=\"1\">"))
        #expect(xml.contains("<testcase classname=\"WIRE\" name=\"WIRE-7-001\" />"))
        #expect(xml.contains("<skipped message=\"no conformance case\" />"))
    }

    @Test("HTML: one self-contained page with coverage bars, escaped text, filters and source links")
    func html() {
        let page = Reports.html(Self.rows(), cases: Self.cases, title: "Report", sourceBase: "file:///repo/")
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(!page.contains("<link") && !page.contains("src=\""))  // no external resources
        #expect(page.contains("width:100%"))  // WIRE MUST coverage bar full
        #expect(page.contains("c SHOULD &quot;d&quot;"))
        #expect(page.contains("href=\"file:///repo/Conformance/Wire/Cases.swift#L4\""))
        #expect(page.contains("<select id=\"status\">"))
    }
}
