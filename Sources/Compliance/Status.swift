import GRDB

/// The outcome of one conformance case in one run. A crashed or skipped case is never recorded as passed.
public enum CaseStatus: String, Sendable, Hashable, CaseIterable {
    case passed, failed, skipped, crashed
}

/// The status of a requirement in the checklist.
public enum RequirementStatus: String, Sendable, Hashable, CaseIterable {
    /// No case verifies it.
    case uncovered
    /// A linked case failed, crashed, was skipped or has no result in the latest run.
    case failing
    /// Every linked case passed in the latest run.
    case passing
    /// Its text changed since the lock was written: its cases must be reviewed.
    case stale
}

/// One row of the checklist.
public struct ChecklistRow: Sendable, Hashable {
    /// The requirement.
    public let requirement: Requirement
    /// The cases linked to it.
    public let cases: [String]
    /// Its status.
    public let status: RequirementStatus
}

extension ComplianceStore {
    /// Replaces every conformance case and link with `cases`.
    public func sync(cases: [ConformanceCase]) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM caseRequirement")
            try db.execute(sql: "DELETE FROM conformanceCase")
            for conformanceCase in cases {
                try db.execute(
                    sql: "INSERT INTO conformanceCase (id, file, line, title) VALUES (?, ?, ?, ?)",
                    arguments: [conformanceCase.id, conformanceCase.file, conformanceCase.line, conformanceCase.title])
                for id in Set(conformanceCase.requirementIDs) {
                    try db.execute(
                        sql: "INSERT INTO caseRequirement (caseId, requirementId) VALUES (?, ?)",
                        arguments: [conformanceCase.id, id])
                }
            }
        }
    }

    /// Starts a run and returns its id.
    public func startRun(startedAt: String, gitRevision: String, toolchain: String, host: String) throws -> Int64 {
        try database.write { db in
            try db.execute(
                sql: "INSERT INTO run (startedAt, gitRevision, toolchain, host) VALUES (?, ?, ?, ?)",
                arguments: [startedAt, gitRevision, toolchain, host])
            return db.lastInsertedRowID
        }
    }

    /// Records one case's result in a run; a case reported several times (parameterised) keeps its worst outcome.
    public func record(run: Int64, caseId: String, status: CaseStatus, durationMs: Double?, message: String?) throws {
        try database.write { db in
            let previous = try String.fetchOne(
                db, sql: "SELECT status FROM result WHERE runId = ? AND caseId = ?", arguments: [run, caseId])
            if let previous, let previousStatus = CaseStatus(rawValue: previous), previousStatus != .passed { return }
            try db.execute(
                sql:
                    "INSERT OR REPLACE INTO result (runId, caseId, status, durationMs, message) VALUES (?, ?, ?, ?, ?)",
                arguments: [run, caseId, status.rawValue, durationMs, message])
        }
    }

    /// The id of the latest run, if any.
    public func latestRun() throws -> Int64? {
        try database.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM run") }
    }

    /// The results of a run by case id.
    public func results(run: Int64) throws -> [String: CaseStatus] {
        try database.read { db in
            var results: [String: CaseStatus] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT caseId, status FROM result WHERE runId = ?", arguments: [run])
            {
                results[row["caseId"]] = CaseStatus(rawValue: row["status"]) ?? .failed
            }
            return results
        }
    }

    /// Every requirement with its linked cases and its status in the latest run; `lock` maps IDs to the text hashes
    /// their cases were reviewed against (a requirement missing from a non-empty lock, or with another hash, is stale).
    public func checklist(lock: [String: String]) throws -> [ChecklistRow] {
        let results = try latestRun().map { try self.results(run: $0) } ?? [:]
        return try database.read { db in
            var links: [String: [String]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT requirementId, caseId FROM caseRequirement ORDER BY caseId") {
                links[row["requirementId"], default: []].append(row["caseId"])
            }
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM requirement ORDER BY spec, file, line")
            return rows.compactMap { row -> ChecklistRow? in
                guard let level = RequirementLevel(rawValue: row["level"]) else { return nil }
                let requirement = Requirement(
                    id: row["id"], spec: row["spec"], section: row["section"], level: level, text: row["text"],
                    file: row["file"], line: row["line"])
                let cases = links[requirement.id] ?? []
                let hash: String = row["textHash"]
                let status: RequirementStatus
                if cases.isEmpty {
                    status = .uncovered
                } else if !lock.isEmpty, lock[requirement.id] != hash {
                    status = .stale
                } else if cases.allSatisfy({ results[$0] == .passed }) {
                    status = .passing
                } else {
                    status = .failing
                }
                return ChecklistRow(requirement: requirement, cases: cases, status: status)
            }
        }
    }

    /// The text hash of every requirement, for the lock file.
    public func textHashes() throws -> [String: String] {
        try database.read { db in
            var hashes: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, textHash FROM requirement") {
                hashes[row["id"]] = row["textHash"]
            }
            return hashes
        }
    }
}

extension ComplianceStore {
    /// Every recorded result of a case, oldest run first.
    public func history(caseId: String) throws -> [(run: Int64, status: CaseStatus)] {
        try database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT runId, status FROM result WHERE caseId = ? ORDER BY runId", arguments: [caseId]
            ).map { row in (row["runId"], CaseStatus(rawValue: row["status"]) ?? .failed) }
        }
    }
}
