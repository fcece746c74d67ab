import Testing

@testable import Compliance

/// The four ways the gate must fail (deleting a case, breaking a case, editing a requirement's text, linking an
/// unknown ID) and the ratchet's rules, on a small catalog stored in an in-memory database.
@Suite("Verify")
struct VerifierTests {
    static let spec = """
        ---
        spec: WIRE
        title: T
        version: 1
        reference: r
        ---
        ## 7. S
        - **WIRE-7-001** (MUST) a MUST b
        - **WIRE-7-002** (MUST) c MUST d
        """

    static let cases = """
        @Test("one", .verifies("WIRE-7-001"))
        func one() {}
        """

    struct Fixture {
        let store: ComplianceStore
        let catalog: SpecCatalog
        let hashes: [String: String]

        init(spec: String = VerifierTests.spec, cases: String = VerifierTests.cases, passed: Bool = true) throws {
            store = try ComplianceStore()
            catalog = SpecCatalog(specifications: [try SpecParser.parse(spec, file: "wire.md")])
            let scanned = try CaseScanner.scan(cases, file: "Conformance/Wire/Cases.swift")
            try CaseScanner.validate(scanned, against: catalog)
            try store.sync(catalog)
            try store.sync(cases: scanned)
            let run = try store.startRun(startedAt: "now", gitRevision: "abc", toolchain: "6.3", host: "h")
            for conformanceCase in scanned {
                try store.record(
                    run: run, caseId: conformanceCase.id, status: passed ? .passed : .failed, durationMs: 1,
                    message: nil)
            }
            hashes = try store.textHashes()
        }

        func violations(lock: [String: String]? = nil, uncovered: Set<String> = ["WIRE-7-002"]) throws -> [String] {
            let run = try #require(try store.latestRun())
            return Verifier.violations(
                checklist: try store.checklist(lock: lock ?? hashes), results: try store.results(run: run),
                lock: lock ?? hashes, hashes: hashes, uncovered: uncovered)
        }
    }

    @Test("a passing case, a true ratchet and a current lock pass the gate")
    func passes() throws {
        #expect(try Fixture().violations().isEmpty)
    }

    @Test("deleting a case fails the gate")
    func deletedCase() throws {
        let problems = try Fixture(cases: "").violations()
        #expect(problems.contains { $0.contains("WIRE-7-001 is uncovered") })
    }

    @Test("breaking a case fails the gate")
    func brokenCase() throws {
        let problems = try Fixture(passed: false).violations()
        #expect(problems.contains { $0.contains("case Cases.one failed") })
    }

    @Test("editing a requirement's text fails the gate until the lock is refreshed")
    func editedText() throws {
        let original = try Fixture()
        let edited = try Fixture(spec: Self.spec.replacingOccurrences("a MUST b", "a MUST b, edited"))
        let problems = try edited.violations(lock: original.hashes)
        #expect(problems.contains { $0.contains("the text of WIRE-7-001 changed since the lock") })
        #expect(try edited.store.checklist(lock: original.hashes).first?.status == .stale)
        #expect(try edited.violations(lock: edited.hashes).isEmpty)
    }

    @Test("linking an unknown ID fails before the gate, naming the case's file and line")
    func unknownLink() throws {
        do {
            _ = try Fixture(cases: "@Test(\"x\", .verifies(\"WIRE-7-009\"))\nfunc x() {}")
            Issue.record("an unknown ID must be refused")
        } catch let error as SpecFormatError {
            #expect(error.message.contains("unknown requirement WIRE-7-009"))
            #expect(error.line == 1)
        }
    }

    @Test("the ratchet only shrinks and stays true")
    func ratchet() throws {
        let fixture = try Fixture()
        #expect(try fixture.violations(uncovered: ["WIRE-7-001", "WIRE-7-002"]).contains { $0.contains("remove it") })
        #expect(try fixture.violations(uncovered: []).contains { $0.contains("WIRE-7-002 is uncovered") })
        #expect(
            try fixture.violations(uncovered: ["WIRE-7-002", "WIRE-9-001"]).contains { $0.contains("no spec defines") })
    }

    @Test("lock and ratchet files round-trip")
    func files() {
        let hashes = ["WIRE-7-002": "22", "WIRE-7-001": "11"]
        #expect(Verifier.parseLock(Verifier.renderLock(hashes)) == hashes)
        #expect(
            Verifier.parseUncovered("# header\nWIRE-7-001\n\nWIRE-7-002  # reason\n") == ["WIRE-7-001", "WIRE-7-002"])
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        return self[..<range.lowerBound] + replacement + self[range.upperBound...]
    }
}
