import ArgumentParser
import Compliance
import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// `tp-compliance`: syncs `Specs/` and `Conformance/` into the SQLite tracker, runs the conformance cases, prints
/// the checklist, writes reports, and is the CI gate (`verify`).
@main
struct ComplianceTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tp-compliance",
        abstract: "Compliance tracker of AeronTensorPool for Swift.",
        subcommands: [
            SyncCommand.self, RunCommand.self, ChecklistCommand.self, ShowCommand.self, ReportCommand.self,
            VerifyCommand.self, LockCommand.self, UncoveredCommand.self,
        ]
    )
}

/// Paths shared by every subcommand, relative to the repository root.
struct Paths: ParsableArguments {
    @Option(help: "Repository root.") var root = "."
    @Option(help: "The tracker's SQLite database.") var database = ".build/compliance/compliance.sqlite"

    var specs: String { root + "/Specs" }
    var conformance: String { root + "/Conformance" }
    var lockFile: String { root + "/Specs/spec-lock.json" }
    var uncoveredFile: String { root + "/Conformance/uncovered.txt" }
    var databasePath: String { database.hasPrefix("/") ? database : root + "/" + database }

    func openStore() throws -> ComplianceStore {
        try FileManager.default.createDirectory(
            atPath: (databasePath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return try ComplianceStore(path: databasePath)
    }

    func lock() -> [String: String] {
        (try? String(contentsOfFile: lockFile, encoding: .utf8)).map(Verifier.parseLock) ?? [:]
    }

    func uncovered() -> Set<String> {
        (try? String(contentsOfFile: uncoveredFile, encoding: .utf8)).map(Verifier.parseUncovered) ?? []
    }

    /// Parses the specs and scans the cases, refusing malformed files and unknown links.
    func load() throws -> (SpecCatalog, [ConformanceCase]) {
        let catalog = try SpecCatalog.load(directory: specs)
        var cases: [ConformanceCase] = []
        let enumerator = FileManager.default.enumerator(atPath: conformance)
        while let relative = enumerator?.nextObject() as? String {
            guard relative.hasSuffix(".swift") else { continue }
            let path = "Conformance/" + relative
            let text = try String(contentsOfFile: conformance + "/" + relative, encoding: .utf8)
            cases += try CaseScanner.scan(text, file: path)
        }
        try CaseScanner.validate(cases, against: catalog)
        return (catalog, cases.sorted { $0.id < $1.id })
    }

    /// Case id → source location, from the database.
    func caseLocations(_ cases: [ConformanceCase]) -> [String: CaseLocation] {
        Dictionary(uniqueKeysWithValues: cases.map { ($0.id, CaseLocation(file: $0.file, line: $0.line)) })
    }
}

struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Parse Specs/ and Conformance/ into the database.")
    @OptionGroup var paths: Paths

    func run() throws {
        let (catalog, cases) = try paths.load()
        let store = try paths.openStore()
        try store.sync(catalog)
        try store.sync(cases: cases)
        let links = cases.reduce(0) { $0 + $1.requirementIDs.count }
        print(
            "synced \(catalog.specifications.count) specs, \(catalog.requirements.count) requirements, "
                + "\(cases.count) cases, \(links) links")
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the conformance cases, or read their outcomes from a test run, and record one result per case.",
        discussion: """
            With --results, nothing is run: the outcomes of the conformance cases (test module `Conformance`) are read \
            from the Swift Testing JUnit file of a `swift test --xunit-output` run that already happened, so the \
            cases run once per `make test` and the verdict is computed from that run. A missing file means the test \
            process died before writing it: every case is recorded as crashed.
            """)
    @OptionGroup var paths: Paths
    @Flag(help: "Do not build first (the tests are already built).") var skipBuild = false
    @Option(help: "Record the outcomes in this Swift Testing JUnit file instead of running the cases.")
    var results: String?

    func run() throws {
        let (_, cases) = try paths.load()
        let store = try paths.openStore()
        if let results {
            let crashed = !FileManager.default.fileExists(atPath: results)
            let outcomes = JUnitOutcomes.parse(path: results, module: "Conformance")
            try record(cases, outcomes: outcomes, crashed: crashed, store: store, source: results)
            return
        }
        let outputDirectory = paths.root + "/.build/compliance"
        try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        let xunit = outputDirectory + "/conformance.xml"
        let swiftTestingXML = outputDirectory + "/conformance-swift-testing.xml"
        try? FileManager.default.removeItem(atPath: swiftTestingXML)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.currentDirectoryURL = URL(fileURLWithPath: paths.root)
        process.arguments =
            ["swift", "test"] + (skipBuild ? ["--skip-build"] : [])
            + ["--filter", "^Conformance\\.", "--xunit-output", xunit]
        // The cases' own output goes to a log, so the closing lines of `make test` stay those of the full test run.
        let logPath = outputDirectory + "/conformance.log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        defer { try? log.close() }
        process.standardOutput = log
        process.standardError = log
        try process.run()
        process.waitUntilExit()
        let crashed = process.terminationReason == .uncaughtSignal

        let outcomes = crashed ? [:] : JUnitOutcomes.parse(path: swiftTestingXML, module: "Conformance")
        try record(cases, outcomes: outcomes, crashed: crashed, store: store, source: logPath)
    }

    /// Records one result per case in a new run: its outcome, `crashed` when the test process died, else skipped
    /// when the run has no outcome for it.
    func record(
        _ cases: [ConformanceCase], outcomes: [String: JUnitOutcomes.Outcome], crashed: Bool, store: ComplianceStore,
        source: String
    ) throws {
        let run = try store.startRun(
            startedAt: ISO8601DateFormatter().string(from: Date()), gitRevision: gitRevision(),
            toolchain: toolchainVersion(), host: ProcessInfo.processInfo.hostName)
        var counts: [CaseStatus: Int] = [:]
        for conformanceCase in cases {
            let outcome = outcomes[conformanceCase.id]
            let status: CaseStatus = crashed ? .crashed : (outcome?.status ?? .skipped)
            try store.record(
                run: run, caseId: conformanceCase.id, status: status, durationMs: outcome?.durationMs,
                message: outcome?.message ?? (crashed ? "the test process crashed" : nil))
            counts[status, default: 0] += 1
        }
        print(
            "conformance run \(run): "
                + CaseStatus.allCases.map { "\(counts[$0] ?? 0) cases \($0.rawValue)" }.joined(separator: ", ")
                + " (from \(source))")
    }

    func gitRevision() -> String {
        capture(["git", "-C", paths.root, "rev-parse", "--short", "HEAD"]) ?? "unknown"
    }

    func toolchainVersion() -> String {
        capture(["swift", "--version"])?.split(separator: "\n").first.map(String.init) ?? "unknown"
    }

    func capture(_ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !text.isEmpty ? text : nil
    }
}

/// Outcomes per case id (`Suite.function`) read from Swift Testing's JUnit XML.
final class JUnitOutcomes: NSObject, XMLParserDelegate {
    struct Outcome {
        var status: CaseStatus
        var durationMs: Double?
        var message: String?
    }

    private var outcomes: [String: Outcome] = [:]
    private var current: String?

    /// Only test cases of this module (the first part of `classname`), or all when `nil`.
    private var module: String?

    /// The outcomes in the file at `path`, of the cases of `module` only when given (a full `swift test` run's file
    /// holds every test target's cases); empty when the file is missing or unreadable.
    static func parse(path: String, module: String? = nil) -> [String: Outcome] {
        guard let parser = XMLParser(contentsOf: URL(fileURLWithPath: path)) else { return [:] }
        let delegate = JUnitOutcomes()
        delegate.module = module
        parser.delegate = delegate
        _ = parser.parse()
        return delegate.outcomes
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        switch elementName {
        case "testcase":
            // classname "Conformance.Suite", name "function()" or "function(argument:)".
            let classname = attributes["classname"] ?? ""
            if let module, classname.split(separator: ".").first.map(String.init) != module {
                current = nil
                return
            }
            let suite = classname.split(separator: ".").last.map(String.init) ?? ""
            let function = (attributes["name"] ?? "").prefix { $0 != "(" }
            let id = "\(suite).\(function)"
            current = id
            let duration = attributes["time"].flatMap(Double.init).map { $0 * 1000 }
            if outcomes[id] == nil { outcomes[id] = Outcome(status: .passed, durationMs: duration) }
        case "failure", "error":
            if let current {
                outcomes[current]?.status = .failed
                outcomes[current]?.message = attributes["message"]
            }
        case "skipped":
            if let current, outcomes[current]?.status == .passed { outcomes[current]?.status = .skipped }
        default: break
        }
    }
}

struct Filters: ParsableArguments {
    @Option(help: "Only this spec prefix (e.g. WIRE).") var spec: String?
    @Option(help: "Only this section (e.g. 8.3).") var section: String?
    @Option(help: "Only this level (MUST, MUST NOT, SHOULD, SHOULD NOT, MAY).") var level: String?
    @Option(help: "Only this status (uncovered, failing, passing, stale).") var status: String?

    func apply(_ rows: [ChecklistRow]) -> [ChecklistRow] {
        rows.filter { row in
            (spec == nil || row.requirement.spec == spec) && (section == nil || row.requirement.section == section)
                && (level == nil || row.requirement.level.rawValue == level)
                && (status == nil || row.status.rawValue == status)
        }
    }
}

struct ChecklistCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checklist", abstract: "Print requirement → level → cases → latest status.")
    @OptionGroup var paths: Paths
    @OptionGroup var filters: Filters
    @Flag(help: "Print only the counts per spec and level.") var summary = false

    func run() throws {
        let rows = filters.apply(try paths.openStore().checklist(lock: paths.lock()))
        if summary {
            print(
                "spec  "
                    + RequirementLevel.allCases.map { $0.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0) }
                    .joined() + "total  passing")
            for coverage in Dictionary(grouping: rows, by: \.requirement.spec).sorted(by: { $0.key < $1.key }) {
                let counts = RequirementLevel.allCases.map { level in
                    String(coverage.value.filter { $0.requirement.level == level }.count)
                        .padding(toLength: 11, withPad: " ", startingAt: 0)
                }
                let passing = coverage.value.filter { $0.status == .passing }.count
                print(
                    coverage.key.padding(toLength: 6, withPad: " ", startingAt: 0) + counts.joined()
                        + String(coverage.value.count).padding(toLength: 7, withPad: " ", startingAt: 0) + "\(passing)")
            }
            print("total \(rows.count)")
            return
        }
        for row in rows {
            print(
                "\(row.requirement.id)\t\(row.requirement.level.rawValue)\t\(row.status.rawValue)\t"
                    + (row.cases.isEmpty ? "-" : row.cases.joined(separator: ",")))
        }
    }
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "One requirement with its text, cases and result history.")
    @OptionGroup var paths: Paths
    @Argument(help: "A requirement ID, e.g. WIRE-8.3-001.") var id: String

    func run() throws {
        let store = try paths.openStore()
        guard let requirement = try store.requirement(id) else { throw ValidationError("unknown requirement \(id)") }
        let row = try store.checklist(lock: paths.lock()).first { $0.requirement.id == id }
        print("\(requirement.id) (\(requirement.level.rawValue)) — \(requirement.file):\(requirement.line)")
        print(requirement.text)
        print("status: \(row?.status.rawValue ?? "unknown")")
        for caseId in row?.cases ?? [] {
            let history = try store.history(caseId: caseId)
            print("case \(caseId): " + history.map { "run \($0.run) \($0.status.rawValue)" }.joined(separator: ", "))
        }
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write the conformance report (md, html, json or junit).")
    @OptionGroup var paths: Paths
    @Option(help: "md, html, json or junit.") var format = "md"
    @Option(help: "Where to write the report.") var output: String

    func run() throws {
        let (_, cases) = try paths.load()
        let rows = try paths.openStore().checklist(lock: paths.lock())
        let locations = paths.caseLocations(cases)
        let title = "AeronTensorPool for Swift — conformance report"
        let text: String
        switch format {
        case "md": text = Reports.markdown(rows, cases: locations, title: title)
        case "json": text = Reports.json(rows, cases: locations, title: title)
        case "junit": text = Reports.junit(rows)
        case "html":
            let root = URL(fileURLWithPath: paths.root).standardizedFileURL.path
            text = Reports.html(rows, cases: locations, title: title, sourceBase: "file://" + root + "/")
        default: throw ValidationError("unknown format '\(format)' (md, html, json or junit)")
        }
        try text.write(toFile: output, atomically: true, encoding: .utf8)
        print("wrote \(output)")
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "The CI gate: fail on failing cases, a stale lock or a false ratchet.")
    @OptionGroup var paths: Paths

    func run() throws {
        // Judge the files as they are now, not a database synced before an edit.
        let (catalog, cases) = try paths.load()
        let store = try paths.openStore()
        try store.sync(catalog)
        try store.sync(cases: cases)
        guard let run = try store.latestRun() else { throw ValidationError("no run recorded: run `tp-compliance run`") }
        let lock = paths.lock()
        let rows = try store.checklist(lock: lock)
        let problems = Verifier.violations(
            checklist: rows, results: try store.results(run: run), lock: lock, hashes: try store.textHashes(),
            uncovered: paths.uncovered())
        let passing = rows.filter { $0.status == .passing }.count
        guard problems.isEmpty else {
            for problem in problems { print("verify: \(problem)") }
            print("compliance verdict: FAILED (\(problems.count) problems)")
            throw ExitCode(1)
        }
        print(
            "compliance verdict: PASSED — \(passing) of \(rows.count) requirements verified by passing cases, "
                + "\(rows.count - passing) listed as not yet covered")
    }
}

struct LockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Write Specs/spec-lock.json, the text hash of every requirement.")
    @OptionGroup var paths: Paths

    func run() throws {
        let hashes = try paths.openStore().textHashes()
        try Verifier.renderLock(hashes).write(toFile: paths.lockFile, atomically: true, encoding: .utf8)
        print("wrote \(paths.lockFile) (\(hashes.count) requirements)")
    }
}

struct UncoveredCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uncovered",
        abstract: "Write Conformance/uncovered.txt: every requirement that has no passing case yet.")
    @OptionGroup var paths: Paths

    func run() throws {
        let rows = try paths.openStore().checklist(lock: paths.lock()).filter { $0.status != .passing }
        let text =
            "# Requirements without a passing conformance case. This list may only shrink: `tp-compliance verify`\n"
            + "# fails when a requirement missing from it has no passing case, or when it lists one that passes.\n"
            + rows.map(\.requirement.id).joined(separator: "\n") + "\n"
        try text.write(toFile: paths.uncoveredFile, atomically: true, encoding: .utf8)
        print("wrote \(paths.uncoveredFile) (\(rows.count) requirements)")
    }
}
