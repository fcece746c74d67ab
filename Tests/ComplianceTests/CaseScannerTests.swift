import Testing

@testable import Compliance

@Suite("Case scanner")
struct CaseScannerTests {
    static let source = """
        import ConformanceSupport
        import Testing

        @Suite struct Superblock {
            @Test("the superblock is 64 bytes", .verifies("WIRE-7-001", "WIRE-7-002"))
            func size() {}

            @Test(
                "magic value",
                .verifies("WIRE-7-003")
            )
            func magic() {}

            @Test func notLinked() {}
        }
        """

    @Test("cases are found with their requirement IDs, title, file and line")
    func scan() throws {
        let cases = try CaseScanner.scan(Self.source, file: "Conformance/Wire/SuperblockTests.swift")
        #expect(cases.map(\.id) == ["SuperblockTests.size", "SuperblockTests.magic"])
        #expect(cases[0].requirementIDs == ["WIRE-7-001", "WIRE-7-002"])
        #expect(cases[0].title == "the superblock is 64 bytes")
        #expect(cases[0].line == 5)
        #expect(cases[1].requirementIDs == ["WIRE-7-003"])
        #expect(cases[1].line == 8)
    }

    @Test("IDs must be well-formed string literals")
    func literalsOnly() {
        #expect(throws: SpecFormatError.self) {
            try CaseScanner.scan("@Test(.verifies(someConstant))\nfunc a() {}", file: "a.swift")
        }
        #expect(throws: SpecFormatError.self) {
            try CaseScanner.scan("@Test(.verifies(\"WIRE-7-1\"))\nfunc a() {}", file: "a.swift")
        }
    }

    @Test("a link to an unknown requirement is refused with the case's file and line")
    func unknownID() throws {
        let catalog = SpecCatalog(specifications: [
            try SpecParser.parse(
                "---\nspec: WIRE\ntitle: T\nversion: 1\nreference: r\n---\n## 7. S\n- **WIRE-7-001** (MUST) a MUST b",
                file: "wire.md")
        ])
        let cases = try CaseScanner.scan(Self.source, file: "Conformance/Wire/SuperblockTests.swift")
        do {
            try CaseScanner.validate(cases, against: catalog)
            Issue.record("WIRE-7-002 is unknown")
        } catch {
            #expect(error.file == "Conformance/Wire/SuperblockTests.swift")
            #expect(error.line == 5)
            #expect(error.message.contains("WIRE-7-002"))
        }
    }
}
