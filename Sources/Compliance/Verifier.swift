/// The CI gate's rules (`tp-compliance verify`).
///
/// Verification fails when a linked case did not pass, when the lock does not match the requirements' texts, when a
/// requirement that the ratchet file does not list has no passing case, or when the ratchet file lists a requirement
/// that passes or does not exist (so the list only shrinks and stays true). Unknown links are refused earlier, when
/// cases are scanned.
public enum Verifier {
    /// Every violation, as one line each; empty when the gate passes.
    public static func violations(
        checklist: [ChecklistRow],
        results: [String: CaseStatus],
        lock: [String: String],
        hashes: [String: String],
        uncovered: Set<String>
    ) -> [String] {
        var problems: [String] = []
        let linkedCases = Set(checklist.flatMap(\.cases))
        for caseId in linkedCases.sorted() {
            let status = results[caseId]
            if status != .passed {
                problems.append(
                    "case \(caseId) \(status.map { "\($0.rawValue)" } ?? "has no result in the latest run")")
            }
        }
        for (id, hash) in hashes.sorted(by: { $0.key < $1.key }) where lock[id] != hash {
            problems.append(
                lock[id] == nil
                    ? "lock has no entry for \(id): run `tp-compliance lock`"
                    : "the text of \(id) changed since the lock: review its cases, then run `tp-compliance lock`")
        }
        for id in lock.keys.sorted() where hashes[id] == nil {
            problems.append("lock names \(id), which no spec defines: run `tp-compliance lock`")
        }
        let known = Set(checklist.map(\.requirement.id))
        for row in checklist where row.status != .passing && !uncovered.contains(row.requirement.id) {
            problems.append(
                "\(row.requirement.id) is \(row.status.rawValue) but not listed in Conformance/uncovered.txt")
        }
        for row in checklist where row.status == .passing && uncovered.contains(row.requirement.id) {
            problems.append("\(row.requirement.id) passes: remove it from Conformance/uncovered.txt")
        }
        for id in uncovered.sorted() where !known.contains(id) {
            problems.append("Conformance/uncovered.txt lists \(id), which no spec defines")
        }
        return problems
    }

    /// Parses the ratchet file: one ID per line; `#` comments and blank lines ignored.
    public static func parseUncovered(_ text: String) -> Set<String> {
        Set(
            text.split(separator: "\n").compactMap { line in
                let id =
                    line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first?
                    .trimmingSpaces ?? ""
                return id.isEmpty ? nil : id
            })
    }

    /// Parses the lock file: `{"ID": "hash", …}` as written by ``renderLock(_:)``.
    public static func parseLock(_ text: String) -> [String: String] {
        var lock: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "\"")
            if parts.count >= 4 { lock[String(parts[1])] = String(parts[3]) }
        }
        return lock
    }

    /// Renders the lock file: one `"ID": "hash"` per line, sorted, so diffs stay readable.
    public static func renderLock(_ hashes: [String: String]) -> String {
        let entries = hashes.sorted { $0.key < $1.key }.map { "  \"\($0.key)\": \"\($0.value)\"" }
        return "{\n" + entries.joined(separator: ",\n") + "\n}\n"
    }
}
