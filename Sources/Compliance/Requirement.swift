/// The level of a normative statement, after normalising RFC 2119 synonyms (SHALL → MUST, RECOMMENDED → SHOULD, …).
public enum RequirementLevel: String, Sendable, Hashable, CaseIterable, Comparable {
    case must = "MUST"
    case mustNot = "MUST NOT"
    case should = "SHOULD"
    case shouldNot = "SHOULD NOT"
    case may = "MAY"

    /// MUST and MUST NOT are mandatory; SHOULD and SHOULD NOT recommended; MAY optional.
    public var isMandatory: Bool { self == .must || self == .mustNot }

    /// Orders levels from the strongest.
    public static func < (lhs: RequirementLevel, rhs: RequirementLevel) -> Bool {
        let order = RequirementLevel.allCases
        return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
    }
}

/// One normative statement of a specification.
public struct Requirement: Sendable, Hashable {
    /// The stable ID, e.g. `WIRE-8.3-002`.
    public let id: String
    /// The spec prefix, e.g. `WIRE`.
    public let spec: String
    /// The section number, e.g. `8.3` or `B.1`.
    public let section: String
    /// The level.
    public let level: RequirementLevel
    /// The statement, with continuation lines joined by single spaces.
    public let text: String
    /// Where the statement is written.
    public let file: String
    /// The 1-based line of the statement's first line.
    public let line: Int

    /// Creates a requirement.
    public init(
        id: String, spec: String, section: String, level: RequirementLevel, text: String, file: String, line: Int
    ) {
        self.id = id
        self.spec = spec
        self.section = section
        self.level = level
        self.text = text
        self.file = file
        self.line = line
    }
}

/// A section heading of a specification.
public struct SpecSection: Sendable, Hashable {
    /// The section number, e.g. `8.3` or `B`.
    public let number: String
    /// The title.
    public let title: String
    /// The heading's 1-based line.
    public let line: Int
}

/// One parsed specification file.
public struct Specification: Sendable {
    /// The prefix of its requirement IDs (`spec:` in the front matter).
    public let prefix: String
    /// The title.
    public let title: String
    /// The version restated.
    public let version: String
    /// The reference file and revision restated.
    public let reference: String
    /// The file it was parsed from.
    public let file: String
    /// Its numbered sections in order.
    public let sections: [SpecSection]
    /// Its requirements in order.
    public let requirements: [Requirement]

    /// Requirement counts by level.
    public var countsByLevel: [RequirementLevel: Int] {
        Dictionary(grouping: requirements, by: \.level).mapValues(\.count)
    }
}

/// A specification file that breaks the format of `Specs/README.md`; names the file and line.
public struct SpecFormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file.
    public let file: String
    /// The 1-based line.
    public let line: Int
    /// What is wrong.
    public let message: String

    /// Creates an error.
    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message`.
    public var description: String { "\(file):\(line): \(message)" }
}
