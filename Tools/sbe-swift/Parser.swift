import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A minimal element tree read with Foundation's `XMLParser`.
final class Element {
    let name: String
    let attributes: [String: String]
    var children: [Element] = []
    var text = ""

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    /// The element name without a namespace prefix (`sbe:message` → `message`).
    var localName: String { name.split(separator: ":").last.map(String.init) ?? name }

    func attribute(_ key: String) -> String? { attributes[key] }

    func require(_ key: String) throws -> String {
        guard let value = attributes[key], !value.isEmpty else {
            throw SchemaError("<\(name)> needs the attribute '\(key)'")
        }
        return value
    }
}

final class TreeBuilder: NSObject, XMLParserDelegate {
    var stack: [Element] = []
    var root: Element?

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes attributeDict: [String: String] = [:]
    ) {
        let element = Element(name: elementName, attributes: attributeDict)
        stack.last?.children.append(element)
        stack.append(element)
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        let element = stack.removeLast()
        if stack.isEmpty { root = element }
    }
}

enum SchemaParser {
    static func parse(contentsOf url: URL) throws -> Schema {
        let data = try Data(contentsOf: url)
        let parser = XMLParser(data: data)
        let builder = TreeBuilder()
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            throw SchemaError(
                "\(url.path): not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "unknown error")")
        }
        return try schema(from: root)
    }

    static func schema(from root: Element) throws -> Schema {
        guard root.localName == "messageSchema" else { throw SchemaError("the root element is not messageSchema") }
        if let order = root.attribute("byteOrder"), order != "littleEndian" {
            throw SchemaError("only littleEndian schemas are supported, not \(order)")
        }
        var types: [String: TypeDefinition] = [:]
        var order: [String] = []
        for section in root.children where section.localName == "types" {
            for element in section.children {
                let definition: TypeDefinition
                switch element.localName {
                case "type": definition = .encoded(try encodedType(element))
                case "enum": definition = .enumeration(try enumType(element))
                case "composite": definition = .composite(try compositeType(element))
                default: throw SchemaError("unsupported type element <\(element.name)>")
                }
                let name = try element.require("name")
                guard types[name] == nil else { throw SchemaError("type '\(name)' is defined twice") }
                types[name] = definition
                order.append(name)
            }
        }
        var schema = Schema(
            package: try root.require("package"), id: try integer(root.require("id")),
            version: Int(root.attribute("version") ?? "0") ?? 0, semanticVersion: root.attribute("semanticVersion"),
            description: root.attribute("description"), types: types, typeOrder: order, messages: [])
        var templateIds = Set<Int>()
        for element in root.children where element.localName == "message" {
            let message = try block(element, schema: schema, isGroup: false)
            guard templateIds.insert(message.id).inserted else {
                throw SchemaError("template id \(message.id) is used twice")
            }
            schema.messages.append(message)
        }
        return schema
    }

    static func integer(_ text: String) throws -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw SchemaError("'\(text)' is not an integer")
        }
        return value
    }

    static func primitive(_ text: String?) throws -> Primitive {
        guard let text, let primitive = Primitive(rawValue: text) else {
            throw SchemaError("unknown primitive type '\(text ?? "")'")
        }
        return primitive
    }

    static func encodedType(_ element: Element) throws -> EncodedType {
        let presence = Presence(rawValue: element.attribute("presence") ?? "required") ?? .required
        let text = element.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return EncodedType(
            name: try element.require("name"), primitive: try primitive(element.attribute("primitiveType")),
            length: try element.attribute("length").map(integer) ?? 1, presence: presence,
            constantValue: presence == .constant ? text : nil, nullValue: element.attribute("nullValue"),
            maxValue: element.attribute("maxValue"), characterEncoding: element.attribute("characterEncoding"),
            sinceVersion: try element.attribute("sinceVersion").map(integer) ?? 0,
            description: element.attribute("description"))
    }

    static func enumType(_ element: Element) throws -> EnumType {
        let encoding = try primitive(element.attribute("encodingType"))
        let values = try element.children.filter { $0.localName == "validValue" }.map { value in
            (
                name: try value.require("name"), value: value.text.trimmingCharacters(in: .whitespacesAndNewlines),
                description: value.attribute("description")
            )
        }
        return EnumType(
            name: try element.require("name"), encoding: encoding, values: values,
            description: element.attribute("description"))
    }

    static func compositeType(_ element: Element) throws -> CompositeType {
        CompositeType(
            name: try element.require("name"),
            members: try element.children.filter { $0.localName == "type" }.map(encodedType),
            description: element.attribute("description"))
    }

    static func block(_ element: Element, schema: Schema, isGroup: Bool) throws -> Block {
        let name = try element.require("name")
        var fields: [Field] = []
        var groups: [Block] = []
        var data: [DataField] = []
        var offset = 0
        for child in element.children {
            switch child.localName {
            case "field":
                guard groups.isEmpty, data.isEmpty else {
                    throw SchemaError("\(name): field '\(child.attribute("name") ?? "")' follows a group or data")
                }
                var field = try self.field(child, schema: schema)
                if let explicit = child.attribute("offset") { offset = try integer(explicit) }
                field.offset = offset
                offset += field.size
                fields.append(field)
            case "group":
                guard data.isEmpty else { throw SchemaError("\(name): a group follows var data") }
                groups.append(try block(child, schema: schema, isGroup: true))
            case "data":
                data.append(try dataField(child, schema: schema))
            default:
                continue
            }
        }
        let explicitLength = try element.attribute("blockLength").map(integer)
        if let explicitLength, explicitLength < offset {
            throw SchemaError("\(name): blockLength \(explicitLength) is shorter than its fields (\(offset))")
        }
        var result = Block(
            name: name, id: try integer(element.require("id")), fields: fields, groups: groups, data: data,
            blockLength: explicitLength ?? offset, description: element.attribute("description"))
        result.sinceVersion = try element.attribute("sinceVersion").map(integer) ?? 0
        if isGroup {
            let dimension = element.attribute("dimensionType") ?? "groupSizeEncoding"
            guard case .composite(let composite) = schema.types[dimension],
                let count = composite.member("numInGroup"), let length = composite.member("blockLength"),
                length.primitive == .uint16
            else {
                throw SchemaError("\(name): dimension type '\(dimension)' needs blockLength (uint16) and numInGroup")
            }
            result.countType = count.primitive
        }
        return result
    }

    static func field(_ element: Element, schema: Schema) throws -> Field {
        let name = try element.require("name")
        let typeName = try element.require("type")
        var presence = Presence(rawValue: element.attribute("presence") ?? "required") ?? .required
        let kind: Field.Kind
        var constantValue: String?
        if let primitive = Primitive(rawValue: typeName) {
            let length = try element.attribute("length").map(integer) ?? 1
            kind = .primitive(
                EncodedType(
                    name: typeName, primitive: primitive, length: length, presence: presence, constantValue: nil,
                    nullValue: nil, maxValue: nil, characterEncoding: nil, sinceVersion: 0, description: nil))
        } else {
            switch schema.types[typeName] {
            case .encoded(var type):
                if let length = element.attribute("length") { type.length = try integer(length) }
                if type.presence == .constant {
                    presence = .constant
                    constantValue = type.constantValue
                } else if type.presence == .optional, element.attribute("presence") == nil {
                    presence = .optional
                }
                kind = .primitive(type)
            case .enumeration(let type):
                kind = .enumeration(type)
            case .composite(let composite):
                // A composite used as a fixed field: its members lie inline in the block, one after the other.
                guard composite.members.allSatisfy({ $0.presence != .constant }) else {
                    throw SchemaError("field '\(name)': composites with constant members are not supported")
                }
                var fields: [Field] = []
                var memberOffset = 0
                for member in composite.members where member.encodedSize > 0 || member.length > 0 {
                    var memberField = Field(
                        name: name + Names.capitalized(member.name), id: 0, kind: .primitive(member),
                        presence: member.presence, nullValue: member.nullValue, constantValue: nil, sinceVersion: 0,
                        description: "Member `\(member.name)` of the composite `\(composite.name)` field `\(name)`.")
                    memberField.offset = memberOffset
                    memberOffset += memberField.size
                    fields.append(memberField)
                }
                return Field(
                    name: name, id: try integer(element.require("id")), kind: .composite(composite, members: fields),
                    presence: .required, nullValue: nil, constantValue: nil,
                    sinceVersion: try element.attribute("sinceVersion").map(integer) ?? 0,
                    description: element.attribute("description"))
            case nil:
                throw SchemaError("field '\(name)': unknown type '\(typeName)'")
            }
        }
        if presence == .constant, constantValue == nil {
            constantValue =
                element.attribute("valueRef") ?? element.text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var nullValue = element.attribute("nullValue")
        if nullValue == nil, case .primitive(let type) = kind { nullValue = type.nullValue }
        return Field(
            name: name, id: try integer(element.require("id")), kind: kind, presence: presence, nullValue: nullValue,
            constantValue: constantValue, sinceVersion: try element.attribute("sinceVersion").map(integer) ?? 0,
            description: element.attribute("description"))
    }

    static func dataField(_ element: Element, schema: Schema) throws -> DataField {
        let name = try element.require("name")
        let typeName = try element.require("type")
        guard case .composite(let composite) = schema.types[typeName], let length = composite.member("length"),
            let bytes = composite.member("varData")
        else {
            throw SchemaError("data '\(name)': type '\(typeName)' is not a var-data composite (length, varData)")
        }
        guard [.uint8, .uint16, .uint32].contains(length.primitive) else {
            throw SchemaError("data '\(name)': length type \(length.primitive.rawValue) is not supported")
        }
        let typeMaximum: UInt64 = length.primitive == .uint8 ? 255 : length.primitive == .uint16 ? 65_535 : 0xFFFF_FFFF
        let maximum = try length.maxValue.map { UInt64(try integer($0)) } ?? typeMaximum
        return DataField(
            name: name, id: try integer(element.require("id")), lengthType: length.primitive,
            maximum: min(maximum, typeMaximum), isText: bytes.characterEncoding != nil,
            sinceVersion: try element.attribute("sinceVersion").map(integer) ?? 0,
            description: element.attribute("description"))
    }
}
