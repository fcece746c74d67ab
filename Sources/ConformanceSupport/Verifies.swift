public import Testing

/// Declares which specification requirements a conformance case verifies.
///
/// ```swift
/// @Test("superblock is 64 bytes", .verifies("WIRE-7.1-001", "WIRE-7.1-002"))
/// func superblockSize() { … }
/// ```
///
/// The compliance tracker reads the IDs from the source (they must be string literals) without running the case,
/// and links the case to those requirements; at run time the trait also names them in the case's output.
public struct Verifies: TestTrait, SuiteTrait, Sendable {
    /// The requirement IDs, e.g. `WIRE-8.3-002`.
    public let requirementIDs: [String]

    /// Comments that name the requirements in test output.
    public var comments: [Comment] { [Comment(rawValue: "verifies " + requirementIDs.joined(separator: ", "))] }
}

extension Trait where Self == Verifies {
    /// The case verifies the requirements with these IDs (string literals).
    public static func verifies(_ requirementIDs: String...) -> Verifies {
        Verifies(requirementIDs: requirementIDs)
    }
}
