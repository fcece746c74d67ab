import Compliance
import Testing

/// The restated specifications in `Specs/` must all parse, with unique prefixes and IDs.
@Suite("The Specs folder")
struct SpecsFolderTests {
    static var specsDirectory: String {
        // Tests/ComplianceTests/SpecsFolderTests.swift → repository root.
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path + "/Specs"
    }

    @Test("all seven specifications parse, each with requirements of every spec prefix")
    func allSpecsParse() throws {
        let catalog = try SpecCatalog.load(directory: Self.specsDirectory)
        let prefixes = Set(catalog.specifications.map(\.prefix))
        #expect(prefixes == ["WIRE", "DRV", "DISC", "BRG", "RL", "JB", "TL"])
        for specification in catalog.specifications {
            #expect(!specification.requirements.isEmpty, "\(specification.file) has no requirements")
            #expect(specification.reference.contains("AeronTensorPool.jl"))
        }
        let ids = catalog.requirements.map(\.id)
        #expect(Set(ids).count == ids.count)
    }
}
