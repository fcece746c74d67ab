import Testing

@testable import Compliance

@Suite("Spec parser")
struct SpecParserTests {
    static let header = """
        ---
        spec: WIRE
        title: Wire
        version: 1.2
        reference: repo docs/x.md at abc
        ---
        """

    @Test("front matter, numbered sections, requirements with continuation lines and levels")
    func parsesAFile() throws {
        let text =
            Self.header + """

                # Wire specification

                ## 8. Header Ring

                Prose that mentions MUST in passing is informative.

                - **Pipeline clock** (the recommended choice): a bold label in an informative bullet is prose.

                ### 8.3 Commit Protocol

                - **WIRE-8.3-001** (MUST) The producer MUST store the word
                  with release ordering.
                - **WIRE-8.3-002** (MUST NOT) A consumer MUST NOT accept a torn frame.

                ```
                - **WIRE-8.3-009** (MUST) inside a code block: not a requirement
                ```

                ## Appendix B. Client Rules

                ### B.1 Correlation

                - **WIRE-B.1-001** (MAY) A client MAY seed ids.
                """
        let spec = try SpecParser.parse(text, file: "wire.md")
        #expect(spec.prefix == "WIRE")
        #expect(spec.version == "1.2")
        #expect(spec.sections.map(\.number) == ["8", "8.3", "B", "B.1"])
        #expect(spec.requirements.map(\.id) == ["WIRE-8.3-001", "WIRE-8.3-002", "WIRE-B.1-001"])
        #expect(spec.requirements[0].text == "The producer MUST store the word with release ordering.")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let expectedLine = try #require(lines.firstIndex { $0.hasPrefix("- **WIRE-8.3-001**") }) + 1
        #expect(spec.requirements[0].line == expectedLine)
        #expect(spec.requirements.map(\.level) == [.must, .mustNot, .may])
        #expect(spec.requirements[2].section == "B.1")
        #expect(spec.countsByLevel[.must] == 1)
    }

    @Test(
        "malformed input is rejected with the file and line",
        arguments: [
            ("## 8. A\n- **WIRE-8-1** (MUST) x MUST y", 8, "malformed requirement item"),
            ("## 8. A\n- **DRV-8-001** (MUST) x MUST y", 8, "does not use this spec's prefix"),
            ("## 8. A\n- **WIRE-8-001** (MUSTN'T) x", 8, "unknown level"),
            ("## 8. A\n- **WIRE-9-001** (MUST) x MUST y", 8, "sits in section 8, not 9"),
            (
                "## 8. A\n- **WIRE-8-001** (MUST) x MUST y\n- **WIRE-8-001** (MUST) z MUST w", 9,
                "duplicate requirement ID"
            ),
            ("## 8. A\n- **WIRE-8-001** (MUST NOT) x MUST y", 8, "does not say MUST NOT"),
            ("- **WIRE-8-001** (MUST) x MUST y", 7, "before any numbered section"),
        ])
    func malformed(body: String, line: Int, message: String) {
        do {
            _ = try SpecParser.parse(Self.header + "\n" + body, file: "bad.md")
            Issue.record("must be rejected: \(body)")
        } catch {
            #expect(error.file == "bad.md")
            #expect(error.line == line)
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test("front matter must be complete")
    func frontMatter() {
        #expect(throws: SpecFormatError.self) { try SpecParser.parse("# no front matter", file: "a.md") }
        #expect(throws: SpecFormatError.self) { try SpecParser.parse("---\nspec: WIRE\n---\n", file: "a.md") }
        #expect(throws: SpecFormatError.self) {
            try SpecParser.parse("---\nspec: wire\ntitle: t\nversion: 1\nreference: r\n---\n", file: "a.md")
        }
    }

    @Test("section numbers and levels", arguments: ["8", "8.3", "10.2.1", "B", "B.1"])
    func sectionNumbers(number: String) {
        #expect(SpecParser.isSectionNumber(number))
    }

    @Test("words, not substrings, state a level")
    func levelWords() {
        #expect(SpecParser.statesLevel("It MUST hold.", .must))
        #expect(!SpecParser.statesLevel("MUSTARD is not a keyword.", .must))
        #expect(SpecParser.statesLevel("It SHALL NOT hold.", .mustNot))
        #expect(!SpecParser.statesLevel("It MUST hold.", .mustNot))
        #expect(SpecParser.statesLevel("It is RECOMMENDED.", .should))
        #expect(SpecParser.statesLevel("It is OPTIONAL.", .may))
    }
}
