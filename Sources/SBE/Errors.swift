/// Why a buffer could not be decoded as an SBE message. Decoding never reads out of bounds, traps or allocates:
/// a truncated buffer or a lying length yields one of these.
public enum SBEDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The buffer ends before `needed` bytes at `offset` could be read (`available` bytes remain).
    case truncated(what: StaticString, offset: Int, needed: Int, available: Int)
    /// The message header names another schema.
    case wrongSchema(expected: UInt16, actual: UInt16)
    /// The message header names another template.
    case wrongTemplate(expected: UInt16, actual: UInt16)
    /// The acting block length is shorter than the fields of the acting version need.
    case blockLengthTooShort(what: StaticString, actual: Int, minimum: Int)
    /// A variable-length field declares more bytes than its encoding allows.
    case lengthTooLarge(what: StaticString, length: UInt64, maximum: UInt64)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .truncated(let what, let offset, let needed, let available):
            return "truncated \(what): needs \(needed) bytes at offset \(offset), \(available) available"
        case .wrongSchema(let expected, let actual):
            return "schema id \(actual), expected \(expected)"
        case .wrongTemplate(let expected, let actual):
            return "template id \(actual), expected \(expected)"
        case .blockLengthTooShort(let what, let actual, let minimum):
            return "\(what) block length \(actual) is shorter than \(minimum)"
        case .lengthTooLarge(let what, let length, let maximum):
            return "\(what) length \(length) exceeds \(maximum)"
        }
    }

    /// Errors are equal when they describe the same failure.
    public static func == (lhs: SBEDecodeError, rhs: SBEDecodeError) -> Bool {
        lhs.description == rhs.description
    }
}

/// Why a message could not be encoded into a buffer. Encoding never writes out of bounds.
public enum SBEEncodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The buffer has no room for `needed` bytes at `offset` (`available` bytes remain).
    case insufficientCapacity(what: StaticString, offset: Int, needed: Int, available: Int)
    /// A value does not fit its encoding: a group count above 65535 or var data above its maximum length.
    case valueTooLarge(what: StaticString, value: Int, maximum: Int)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .insufficientCapacity(let what, let offset, let needed, let available):
            return "no room for \(what): needs \(needed) bytes at offset \(offset), \(available) available"
        case .valueTooLarge(let what, let value, let maximum):
            return "\(what) of \(value) exceeds \(maximum)"
        }
    }

    /// Errors are equal when they describe the same failure.
    public static func == (lhs: SBEEncodeError, rhs: SBEEncodeError) -> Bool {
        lhs.description == rhs.description
    }
}
