/// Parses the Markdown specifications of `Specs/` (format in `Specs/README.md`).
///
/// Reads front matter, numbered section headings and requirement items. Rejects, naming file and line: malformed
/// items and IDs, an ID of another spec's prefix, an ID whose section is not the section it sits in, duplicate IDs,
/// unknown levels, and a level the statement's text does not state. Keywords in informative prose are not flagged:
/// a restatement may mention them outside requirement items.
public enum SpecParser {
    /// Parses one file's text.
    public static func parse(_ text: String, file: String) throws(SpecFormatError) -> Specification {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var index = 0
        func fail(_ line: Int, _ message: String) -> SpecFormatError {
            SpecFormatError(file: file, line: line, message: message)
        }

        // Front matter.
        guard lines.first == "---" else { throw fail(1, "the file must start with a '---' front-matter block") }
        var fields: [String: String] = [:]
        index = 1
        while index < lines.count, lines[index] != "---" {
            let line = lines[index]
            guard let colon = line.firstIndex(of: ":") else { throw fail(index + 1, "front matter line without ':'") }
            let key = line[..<colon].trimmingSpaces
            let value = line[line.index(after: colon)...].trimmingSpaces
            fields[key] = value
            index += 1
        }
        guard index < lines.count else { throw fail(1, "the front-matter block is not closed with '---'") }
        index += 1
        for key in ["spec", "title", "version", "reference"] where (fields[key] ?? "").isEmpty {
            throw fail(1, "front matter needs '\(key):'")
        }
        let prefix = fields["spec"]!
        guard prefix.allSatisfy({ $0.isUppercase && $0.isASCII }) else {
            throw fail(1, "spec prefix '\(prefix)' must be upper-case ASCII letters")
        }

        var sections: [SpecSection] = []
        var requirements: [Requirement] = []
        var seen: [String: Int] = [:]
        var currentSection: String?
        var inCodeBlock = false

        while index < lines.count {
            let lineNumber = index + 1
            let line = lines[index]
            index += 1
            if line.hasPrefix("```") {
                inCodeBlock.toggle()
                continue
            }
            if inCodeBlock { continue }
            if line.hasPrefix("#") {
                if let section = sectionNumber(ofHeading: line) {
                    sections.append(SpecSection(number: section.number, title: section.title, line: lineNumber))
                    currentSection = section.number
                }
                continue
            }
            guard looksLikeRequirement(line) else { continue }
            guard let item = requirementItem(line) else {
                throw fail(
                    lineNumber, "malformed requirement item (expected '- **\(prefix)-<section>-<NNN>** (LEVEL) text')")
            }
            guard item.prefix == prefix else {
                throw fail(lineNumber, "requirement \(item.id) does not use this spec's prefix \(prefix)")
            }
            guard let level = RequirementLevel(rawValue: item.level) else {
                throw fail(lineNumber, "unknown level '\(item.level)' (MUST, MUST NOT, SHOULD, SHOULD NOT or MAY)")
            }
            guard let section = currentSection else {
                throw fail(lineNumber, "requirement \(item.id) before any numbered section")
            }
            guard item.section == section else {
                throw fail(lineNumber, "requirement \(item.id) sits in section \(section), not \(item.section)")
            }
            if let first = seen[item.id] {
                throw fail(lineNumber, "duplicate requirement ID \(item.id) (first at line \(first))")
            }
            seen[item.id] = lineNumber
            var text = item.text
            while index < lines.count, lines[index].hasPrefix("  "), !lines[index].trimmingSpaces.isEmpty {
                text += " " + lines[index].trimmingSpaces
                index += 1
            }
            guard statesLevel(text, level) else {
                throw fail(
                    lineNumber,
                    "requirement \(item.id) is \(level.rawValue) but its text does not say \(level.rawValue)")
            }
            requirements.append(
                Requirement(
                    id: item.id, spec: prefix, section: section, level: level, text: text, file: file, line: lineNumber)
            )
        }
        if inCodeBlock { throw fail(lines.count, "a code block is not closed") }
        return Specification(
            prefix: prefix, title: fields["title"]!, version: fields["version"]!, reference: fields["reference"]!,
            file: file, sections: sections, requirements: requirements)
    }

    /// `## 8. Header Ring` → (`8`, `Header Ring`); `### 10.2.1 Rules` → (`10.2.1`, …); `## Appendix B. Client` →
    /// (`B`, …); `### B.1 Ids` → (`B.1`, …). Headings without a number return `nil`.
    static func sectionNumber(ofHeading line: String) -> (number: String, title: String)? {
        var rest = Substring(line.drop(while: { $0 == "#" })).trimmingSpaces[...]
        if rest.hasPrefix("Appendix ") { rest = rest.dropFirst("Appendix ".count) }
        let token = rest.prefix(while: { !$0.isWhitespace })
        var number = String(token)
        if number.hasSuffix(".") { number.removeLast() }
        guard isSectionNumber(number) else { return nil }
        return (number, rest.dropFirst(token.count).trimmingSpaces)
    }

    /// Whether a line is meant as a requirement item: a list item whose bold text has the shape of an ID
    /// (`- **WIRE-…**`). Bold labels of informative bullets (`- **Pipeline clock** (…)`) are prose.
    static func looksLikeRequirement(_ line: String) -> Bool {
        guard line.hasPrefix("- **") else { return false }
        let bold = line.dropFirst(4).prefix(while: { $0 != "*" })
        guard let dash = bold.firstIndex(of: "-") else { return false }
        let prefix = bold[..<dash]
        return !prefix.isEmpty && prefix.allSatisfy({ $0.isASCII && $0.isUppercase }) && !bold.contains(" ")
    }

    /// `8`, `8.3`, `10.2.1`, `B`, `B.1`.
    static func isSectionNumber(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty else { return false }
        let firstIsLetter = first.count == 1 && first.first!.isUppercase && first.first!.isASCII
        guard firstIsLetter || first.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return parts.dropFirst().allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
    }

    struct Item {
        let id: String
        let prefix: String
        let section: String
        let level: String
        let text: String
    }

    /// Parses `- **WIRE-8.3-002** (MUST) text`.
    static func requirementItem(_ line: String) -> Item? {
        guard line.hasPrefix("- **") else { return nil }
        let afterStars = line.dropFirst(4)
        guard let closing = afterStars.firstRange(of: "** (") else { return nil }
        let id = String(afterStars[..<closing.lowerBound])
        let afterId = afterStars[closing.upperBound...]
        guard let levelEnd = afterId.firstIndex(of: ")") else { return nil }
        let level = String(afterId[..<levelEnd])
        let text = afterId[afterId.index(after: levelEnd)...].trimmingSpaces
        let parts = id.split(separator: "-")
        guard parts.count == 3, parts[2].count == 3, parts[2].allSatisfy({ $0.isASCII && $0.isNumber }),
            parts[0].allSatisfy({ $0.isASCII && $0.isUppercase }), isSectionNumber(String(parts[1])), !text.isEmpty
        else { return nil }
        return Item(id: id, prefix: String(parts[0]), section: String(parts[1]), level: level, text: text)
    }

    /// Whether `text` states `level` in capitals (MUST NOT must not be satisfied by a bare MUST, and so on).
    static func statesLevel(_ text: String, _ level: RequirementLevel) -> Bool {
        switch level {
        case .must: return containsWord(text, "MUST") || containsWord(text, "SHALL") || containsWord(text, "REQUIRED")
        case .mustNot: return text.contains("MUST NOT") || text.contains("SHALL NOT")
        case .should: return containsWord(text, "SHOULD") || containsWord(text, "RECOMMENDED")
        case .shouldNot: return text.contains("SHOULD NOT") || text.contains("NOT RECOMMENDED")
        case .may: return containsWord(text, "MAY") || containsWord(text, "OPTIONAL")
        }
    }

    static func containsWord(_ text: String, _ word: String) -> Bool {
        var searchStart = text.startIndex
        while let range = text[searchStart...].firstRange(of: word) {
            let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
            let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
            if !(before?.isLetter ?? false), !(after?.isLetter ?? false) { return true }
            searchStart = range.upperBound
        }
        return false
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
