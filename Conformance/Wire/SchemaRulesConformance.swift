import ConformanceSupport
import Foundation
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Wire spec §10.1: the schema's own rules for optional and variable-length fields, checked on `Specs/schemas/wire.xml`.
@Suite("Wire §10.1: schema rules for var data")
struct SchemaRulesConformance {
    static var schemaPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Specs/schemas/wire.xml").path
    }

    @Test(
        "no var-data field is optional; var data come after every fixed field and group, numbered after them",
        .verifies("WIRE-10.1-005", "WIRE-10.1-006"))
    func varDataRules() throws {
        let document = try XMLDocument(contentsOf: URL(fileURLWithPath: Self.schemaPath), options: [])
        let messages = try document.nodes(forXPath: "//*[local-name()='message']").compactMap { $0 as? XMLElement }
        #expect(messages.count >= 10)
        var checkedData = 0
        for message in messages {
            let name = message.attribute(forName: "name")?.stringValue ?? "?"
            let children = (message.children ?? []).compactMap { $0 as? XMLElement }
            guard let firstData = children.firstIndex(where: { $0.name == "data" }) else { continue }
            // Nothing but var data after the first var-data field.
            #expect(children[firstData...].allSatisfy { $0.name == "data" }, "\(name): a field or group after data")
            let data = children[firstData...]
            #expect(data.allSatisfy { $0.attribute(forName: "presence") == nil }, "\(name): optional var data")
            let fixedIds = children[..<firstData].compactMap { Int($0.attribute(forName: "id")?.stringValue ?? "") }
            let dataIds = data.compactMap { Int($0.attribute(forName: "id")?.stringValue ?? "") }
            #expect(dataIds.count == data.count && dataIds == dataIds.sorted(), "\(name): data ids")
            if let lastFixed = fixedIds.max(), let firstDataId = dataIds.min() {
                #expect(lastFixed < firstDataId, "\(name): data ids must follow the fixed ids")
            }
            checkedData += data.count
        }
        #expect(checkedData >= 8)  // announce URIs, hello and config channels, fallback URI, meta blobs…
    }
}
