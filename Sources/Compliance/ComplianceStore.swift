import GRDB

/// The SQLite database of the compliance tracker: specifications, sections and requirements parsed from `Specs/`,
/// conformance cases and the requirements they verify, and the runs and results of those cases.
///
/// Migrations are versioned (`v1`, …) and applied on open, so an older database upgrades in place.
public final class ComplianceStore: Sendable {
    let database: DatabaseQueue

    /// Opens (creating if needed) the database at `path`, or an in-memory one when `path` is `nil`.
    public init(path: String? = nil) throws {
        database = try path.map { try DatabaseQueue(path: $0) } ?? DatabaseQueue()
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "spec") { table in
                table.primaryKey("prefix", .text)
                table.column("title", .text).notNull()
                table.column("version", .text).notNull()
                table.column("reference", .text).notNull()
                table.column("file", .text).notNull()
            }
            try db.create(table: "section") { table in
                table.column("spec", .text).notNull().references("spec", onDelete: .cascade)
                table.column("number", .text).notNull()
                table.column("title", .text).notNull()
                table.column("line", .integer).notNull()
                table.primaryKey(["spec", "number"])
            }
            try db.create(table: "requirement") { table in
                table.primaryKey("id", .text)
                table.column("spec", .text).notNull().references("spec", onDelete: .cascade)
                table.column("section", .text).notNull()
                table.column("level", .text).notNull()
                table.column("text", .text).notNull()
                table.column("textHash", .text).notNull()
                table.column("file", .text).notNull()
                table.column("line", .integer).notNull()
            }
            try db.create(table: "conformanceCase") { table in
                table.primaryKey("id", .text)
                table.column("file", .text).notNull()
                table.column("line", .integer).notNull()
                table.column("title", .text).notNull()
            }
            try db.create(table: "caseRequirement") { table in
                table.column("caseId", .text).notNull().references("conformanceCase", onDelete: .cascade)
                table.column("requirementId", .text).notNull()
                table.primaryKey(["caseId", "requirementId"])
            }
            try db.create(table: "run") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("startedAt", .text).notNull()
                table.column("gitRevision", .text).notNull()
                table.column("toolchain", .text).notNull()
                table.column("host", .text).notNull()
            }
            try db.create(table: "result") { table in
                table.column("runId", .integer).notNull().references("run", onDelete: .cascade)
                table.column("caseId", .text).notNull()
                table.column("status", .text).notNull()
                table.column("durationMs", .double)
                table.column("message", .text)
                table.primaryKey(["runId", "caseId"])
            }
        }
        return migrator
    }

    /// The migrations applied to the database, in order.
    public func appliedMigrations() throws -> [String] {
        try database.read { db in try Self.migrator.appliedMigrations(db) }
    }

    /// Replaces every specification, section and requirement with those of `catalog`, in one transaction.
    public func sync(_ catalog: SpecCatalog) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM requirement")
            try db.execute(sql: "DELETE FROM section")
            try db.execute(sql: "DELETE FROM spec")
            for specification in catalog.specifications {
                try db.execute(
                    sql: "INSERT INTO spec (prefix, title, version, reference, file) VALUES (?, ?, ?, ?, ?)",
                    arguments: [
                        specification.prefix, specification.title, specification.version, specification.reference,
                        specification.file,
                    ])
                for section in specification.sections {
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO section (spec, number, title, line) VALUES (?, ?, ?, ?)",
                        arguments: [specification.prefix, section.number, section.title, section.line])
                }
                for requirement in specification.requirements {
                    try db.execute(
                        sql: """
                            INSERT INTO requirement (id, spec, section, level, text, textHash, file, line)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [
                            requirement.id, requirement.spec, requirement.section, requirement.level.rawValue,
                            requirement.text, TextHash.of(requirement.text), requirement.file, requirement.line,
                        ])
                }
            }
        }
    }

    /// Requirement counts per specification prefix and level.
    public func requirementCounts() throws -> [String: [RequirementLevel: Int]] {
        try database.read { db in
            var counts: [String: [RequirementLevel: Int]] = [:]
            let rows = try Row.fetchAll(
                db, sql: "SELECT spec, level, COUNT(*) AS n FROM requirement GROUP BY spec, level")
            for row in rows {
                guard let level = RequirementLevel(rawValue: row["level"]) else { continue }
                counts[row["spec"], default: [:]][level] = row["n"]
            }
            return counts
        }
    }

    /// One requirement by ID, or `nil`.
    public func requirement(_ id: String) throws -> Requirement? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM requirement WHERE id = ?", arguments: [id]),
                let level = RequirementLevel(rawValue: row["level"])
            else { return nil }
            return Requirement(
                id: row["id"], spec: row["spec"], section: row["section"], level: level, text: row["text"],
                file: row["file"], line: row["line"])
        }
    }
}

/// A stable, dependency-free hash of a requirement's text (FNV-1a, 64 bits, as 16 hex digits), used to notice that
/// a requirement's text changed after its cases were linked.
public enum TextHash {
    /// The hash of `text`.
    public static func of(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
