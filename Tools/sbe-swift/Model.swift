/// The parts of an SBE 2.0 message schema that the generator understands.

/// An SBE primitive type.
enum Primitive: String {
    case char, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float, double

    var size: Int {
        switch self {
        case .char, .int8, .uint8: return 1
        case .int16, .uint16: return 2
        case .int32, .uint32, .float: return 4
        case .int64, .uint64, .double: return 8
        }
    }

    /// The Swift type that holds one value (characters are bytes).
    var swiftType: String {
        switch self {
        case .char, .uint8: return "UInt8"
        case .int8: return "Int8"
        case .int16: return "Int16"
        case .int32: return "Int32"
        case .int64: return "Int64"
        case .uint16: return "UInt16"
        case .uint32: return "UInt32"
        case .uint64: return "UInt64"
        case .float: return "Float"
        case .double: return "Double"
        }
    }

    var isFloatingPoint: Bool { self == .float || self == .double }

    /// SBE's default null value, as Swift source.
    var defaultNull: String {
        switch self {
        case .char: return "0"
        case .int8: return "Int8.min"
        case .int16: return "Int16.min"
        case .int32: return "Int32.min"
        case .int64: return "Int64.min"
        case .uint8: return "UInt8.max"
        case .uint16: return "UInt16.max"
        case .uint32: return "UInt32.max"
        case .uint64: return "UInt64.max"
        case .float: return "Float.nan"
        case .double: return "Double.nan"
        }
    }
}

enum Presence: String {
    case required, optional, constant
}

/// A `<type>`: a primitive, possibly an array, possibly constant or optional.
struct EncodedType {
    var name: String
    var primitive: Primitive
    var length: Int
    var presence: Presence
    var constantValue: String?
    var nullValue: String?
    var maxValue: String?
    var characterEncoding: String?
    var sinceVersion: Int
    var description: String?

    /// Bytes the type occupies in a block (constants occupy none).
    var encodedSize: Int { presence == .constant ? 0 : primitive.size * length }
}

/// An `<enum>`: named values of an integer encoding type.
struct EnumType {
    var name: String
    var encoding: Primitive
    var values: [(name: String, value: String, description: String?)]
    var description: String?
}

/// A `<composite>` of encoded types (message header, group dimensions, var-data encodings).
struct CompositeType {
    var name: String
    var members: [EncodedType]
    var description: String?

    func member(_ name: String) -> EncodedType? { members.first { $0.name == name } }
}

enum TypeDefinition {
    case encoded(EncodedType)
    case enumeration(EnumType)
    case composite(CompositeType)
}

/// A fixed-size `<field>` of a block, with its resolved type and offset.
struct Field {
    enum Kind {
        case primitive(EncodedType)
        case enumeration(EnumType)
        /// A composite inline in the block; `members` carry offsets relative to the composite's start.
        case composite(CompositeType, members: [Field])
    }

    var name: String
    var id: Int
    var kind: Kind
    var presence: Presence
    var nullValue: String?
    var constantValue: String?
    var sinceVersion: Int
    var description: String?
    var offset = 0

    var size: Int {
        switch kind {
        case .primitive(let type): return presence == .constant ? 0 : type.primitive.size * type.length
        case .enumeration(let type): return presence == .constant ? 0 : type.encoding.size
        case .composite(_, let members): return members.map(\.size).reduce(0, +)
        }
    }
}

/// A `<data>` field: a length prefix and bytes.
struct DataField {
    var name: String
    var id: Int
    var lengthType: Primitive
    var maximum: UInt64
    var isText: Bool
    var sinceVersion: Int
    var description: String?
}

/// A `<group>` or the root of a `<message>`: fixed fields, then groups, then var data.
struct Block {
    var name: String
    var id: Int
    var fields: [Field]
    var groups: [Block]
    var data: [DataField]
    var blockLength: Int
    var description: String?
    /// For groups: the dimension encoding's count type.
    var countType: Primitive = .uint16
    var sinceVersion = 0

    /// A var-data composite used as the block's last fixed field (the discovery `tags` entries): its length lies in
    /// the block and its bytes follow the length directly, so the entry extends past the block by that many bytes.
    var inlineVarData: (field: Field, lengthType: Primitive, maximum: UInt64)? {
        guard let last = fields.last(where: { $0.size > 0 }), case .composite(let composite, _) = last.kind,
            let length = composite.member("length"), let bytes = composite.member("varData"), bytes.length == 0
        else { return nil }
        let typeMaximum: UInt64 = length.primitive == .uint8 ? 255 : length.primitive == .uint16 ? 65_535 : 0xFFFF_FFFF
        let maximum = length.maxValue.flatMap { UInt64($0) } ?? typeMaximum
        return (last, length.primitive, min(maximum, typeMaximum))
    }

    /// The smallest acting block length whose fields cover every field of version 0.
    var minimumBlockLength: Int {
        fields.filter { $0.sinceVersion == 0 && $0.size > 0 }.map { $0.offset + $0.size }.max() ?? 0
    }
}

struct Schema {
    var package: String
    var id: Int
    var version: Int
    var semanticVersion: String?
    var description: String?
    var types: [String: TypeDefinition]
    var typeOrder: [String]
    var messages: [Block]
}

struct SchemaError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
