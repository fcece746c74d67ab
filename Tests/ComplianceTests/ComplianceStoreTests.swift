import Testing

@testable import Compliance

@Suite("Compliance store")
struct ComplianceStoreTests {
    static func catalog(_ bodies: [(prefix: String, body: String)]) throws -> SpecCatalog {
        SpecCatalog(
            specifications: try bodies.map { prefix, body in
                try SpecParser.parse(
                    "---\nspec: \(prefix)\ntitle: T\nversion: 1\nreference: r\n---\n" + body, file: "\(prefix).md")
            })
    }

    @Test("migrations are versioned and applied on open")
    func migrations() throws {
        let store = try ComplianceStore()
        #expect(try store.appliedMigrations() == ["v1"])
    }

    @Test("sync stores every requirement with its level, text and text hash, and replaces the previous sync")
    func sync() throws {
        let store = try ComplianceStore()
        try store.sync(
            Self.catalog([
                ("WIRE", "## 8. A\n- **WIRE-8-001** (MUST) a MUST b\n- **WIRE-8-002** (MAY) c MAY d"),
                ("DRV", "## 4. B\n- **DRV-4-001** (SHOULD NOT) e SHOULD NOT f"),
            ]))
        let counts = try store.requirementCounts()
        #expect(counts["WIRE"]?[.must] == 1)
        #expect(counts["WIRE"]?[.may] == 1)
        #expect(counts["DRV"]?[.shouldNot] == 1)
        let requirement = try #require(try store.requirement("WIRE-8-001"))
        #expect(requirement.text == "a MUST b")
        #expect(requirement.level == .must)

        try store.sync(Self.catalog([("WIRE", "## 8. A\n- **WIRE-8-001** (MUST) a MUST b, changed")]))
        #expect(try store.requirement("DRV-4-001") == nil)
        #expect(try store.requirementCounts()["WIRE"]?[.must] == 1)
        #expect(try store.requirement("WIRE-8-001")?.text == "a MUST b, changed")
    }

    @Test("text hashes are stable and change with the text")
    func textHash() {
        #expect(TextHash.of("") == "cbf29ce484222325")
        #expect(TextHash.of("a") == "af63dc4c8601ec8c")
        #expect(TextHash.of("a MUST b") != TextHash.of("a MUST b "))
        #expect(TextHash.of("x").count == 16)
    }
}
