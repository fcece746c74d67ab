/// A conformance case found in the source, with the requirements it declares.
public struct ConformanceCase: Sendable, Hashable {
    /// `<file name without extension>.<function name>`, unique across `Conformance/`.
    public let id: String
    /// The file.
    public let file: String
    /// The 1-based line of its `@Test`.
    public let line: Int
    /// Its display name, or the function name.
    public let title: String
    /// The requirement IDs of its `.verifies(…)` trait.
    public let requirementIDs: [String]
}

/// Finds conformance cases in Swift sources by reading them as text: each `@Test(…, .verifies("ID", …))` followed
/// by its `func name`. IDs must be string literals, so linking never needs to run a case.
public enum CaseScanner {
    /// Scans one file's text.
    public static func scan(_ text: String, file: String) throws(SpecFormatError) -> [ConformanceCase] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let stem = String((file.split(separator: "/").last ?? "").split(separator: ".").first ?? "")
        var cases: [ConformanceCase] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            guard let attribute = line.firstRange(of: "@Test") else {
                index += 1
                continue
            }
            let startLine = index + 1
            // Gather the attribute up to its function declaration.
            var declaration = String(line[attribute.lowerBound...])
            var cursor = index
            while !declaration.contains("func "), cursor + 1 < lines.count {
                cursor += 1
                declaration += "\n" + lines[cursor]
            }
            guard let funcRange = declaration.firstRange(of: "func ") else { break }
            let name = String(
                declaration[funcRange.upperBound...].prefix(while: { $0.isLetter || $0.isNumber || $0 == "_" }))
            let attributeText = String(declaration[..<funcRange.lowerBound])
            if let verifies = attributeText.firstRange(of: ".verifies(") {
                let arguments = attributeText[verifies.upperBound...].prefix(while: { $0 != ")" })
                let ids = try literals(in: String(arguments), file: file, line: startLine)
                guard !ids.isEmpty else {
                    throw SpecFormatError(file: file, line: startLine, message: ".verifies() names no requirement")
                }
                cases.append(
                    ConformanceCase(
                        id: "\(stem).\(name)", file: file, line: startLine, title: title(attributeText) ?? name,
                        requirementIDs: ids))
            }
            index = cursor + 1
        }
        return cases
    }

    /// Checks that every case names only known requirements and that case IDs are unique.
    public static func validate(_ cases: [ConformanceCase], against catalog: SpecCatalog) throws(SpecFormatError) {
        let known = Set(catalog.requirements.map(\.id))
        var seen: [String: ConformanceCase] = [:]
        for conformanceCase in cases {
            if let other = seen[conformanceCase.id] {
                throw SpecFormatError(
                    file: conformanceCase.file, line: conformanceCase.line,
                    message: "case \(conformanceCase.id) is declared twice (also at \(other.file):\(other.line))")
            }
            seen[conformanceCase.id] = conformanceCase
            for id in conformanceCase.requirementIDs where !known.contains(id) {
                throw SpecFormatError(
                    file: conformanceCase.file, line: conformanceCase.line,
                    message: "case \(conformanceCase.id) links unknown requirement \(id)")
            }
        }
    }

    /// The string literals of a `.verifies(…)` argument list; anything else is an error.
    static func literals(in arguments: String, file: String, line: Int) throws(SpecFormatError) -> [String] {
        var ids: [String] = []
        for part in arguments.split(separator: ",") {
            let trimmed = part.trimmingSpaces.trimmingCharacters(in: "\n ")
            guard trimmed.count >= 2, trimmed.first == "\"", trimmed.last == "\"" else {
                throw SpecFormatError(
                    file: file, line: line, message: ".verifies() arguments must be string literals, not \(trimmed)")
            }
            let id = String(trimmed.dropFirst().dropLast())
            guard SpecParser.requirementItem("- **\(id)** (MUST) x") != nil else {
                throw SpecFormatError(file: file, line: line, message: "malformed requirement ID \(id)")
            }
            ids.append(id)
        }
        return ids
    }

    /// The display name of `@Test("name", …)`, if any.
    static func title(_ attribute: String) -> String? {
        guard let open = attribute.firstRange(of: "@Test(\"") else { return nil }
        let rest = attribute[open.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop(while: { set.contains($0) }).reversed().drop(while: { set.contains($0) }).reversed())
    }
}
