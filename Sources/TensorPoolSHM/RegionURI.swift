// The SHM region URI of wire spec v1.2 §15.22:
//
//     shm-uri  = "shm:file?path=" abs-path ["|" "require_hugepages=" bool]
//     abs-path = 1*( VCHAR except "?" and "|" and SP )
//     bool     = "true" / "false"
//
// Parsing works on the UTF-8 bytes of the text, never on `Character`s, so Unicode canonical equivalence can never make
// two different byte strings compare equal (a path is a byte string to the kernel).

/// A parsed `shm:file` region URI (wire spec v1.2 §15.22): `shm:file?path=<abs>[|require_hugepages=true|false]`.
///
/// Exactly one scheme exists in v1.2 (WIRE-15.22-005/007). Parameters are separated by `|`, never by `&`
/// (WIRE-15.22-013), so `&` and `=` are ordinary path characters. `path` is required and absolute; the optional
/// `require_hugepages` defaults to `false`. Any other parameter is rejected (WIRE-15.22-006/014). Both interop
/// spellings are accepted: tensor_pool_c's explicit `|require_hugepages=false` and AeronTensorPool.jl's omission.
///
/// Parsing validates syntax only. Before a region is mapped, the announced path must still pass the consumer
/// containment check of §15.21a.5; see ``PathPolicy``.
public struct RegionURI: Hashable, Sendable, CustomStringConvertible {
    /// The scheme and the `?` that opens the parameter list: the only prefix v1.2 accepts.
    public static let schemePrefix = "shm:file?"

    /// The name of the required parameter that carries the absolute path of the backing file.
    public static let pathKey = "path"

    /// The name of the optional boolean parameter that demands hugepage backing.
    public static let requireHugepagesKey = "require_hugepages"

    /// The absolute path of the backing file, exactly as announced (not canonicalised).
    public var path: String

    /// Whether the region must be backed by hugepages (WIRE-15.22-002); `false` when the parameter is absent.
    public var requireHugepages: Bool

    /// Creates a URI from its parts without validating them.
    ///
    /// Use ``init(validatingPath:requireHugepages:)`` to check the path against the ABNF, or ``init(parsing:)`` for
    /// announced text.
    /// - Parameters:
    ///   - path: The absolute path of the backing file.
    ///   - requireHugepages: Whether hugepage backing is required.
    public init(path: String, requireHugepages: Bool = false) {
        self.path = path
        self.requireHugepages = requireHugepages
    }

    /// Creates a URI from its parts after checking `path` against the `abs-path` rule of the ABNF.
    ///
    /// - Parameters:
    ///   - path: The absolute path of the backing file.
    ///   - requireHugepages: Whether hugepage backing is required.
    /// - Throws: ``RegionURIError/emptyPath``, ``RegionURIError/invalidPathCharacter(path:scalar:)`` or
    ///   ``RegionURIError/relativePath(_:)``.
    public init(validatingPath path: String, requireHugepages: Bool = false) throws(RegionURIError) {
        try Self.validate(path: path)
        self.init(path: path, requireHugepages: requireHugepages)
    }

    /// Parses an announced region URI.
    ///
    /// The text must start with exactly `shm:file?` (case-sensitive). The rest is a `|`-separated list of
    /// `key=value` parameters; each key may appear once, in any order (the ABNF puts `path` first; tensor_pool_c also
    /// accepts either order, and so does this reader). The value runs from the first `=` to the next `|`.
    ///
    /// - Parameter text: The URI as announced, e.g. `shm:file?path=/dev/shm/x|require_hugepages=false`.
    /// - Throws: A ``RegionURIError`` naming the first rule the text breaks.
    public init(parsing text: String) throws(RegionURIError) {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { throw .empty }
        let prefix = Array(Self.schemePrefix.utf8)
        guard bytes.starts(with: prefix) else { throw .unsupportedScheme(text) }

        let parameters = bytes[prefix.count...]
        if parameters.isEmpty { throw .missingPath }

        var path: String?
        var requireHugepages: Bool?
        // `omittingEmptySubsequences: false` keeps "a||b" and a trailing "|" visible as empty parameters.
        for parameter in parameters.split(separator: UInt8(ascii: "|"), omittingEmptySubsequences: false) {
            if parameter.isEmpty { throw .emptyParameter(text) }
            let parameterText = Self.string(parameter)
            guard let equals = parameter.firstIndex(of: UInt8(ascii: "=")), equals != parameter.startIndex else {
                throw .malformedParameter(parameterText)
            }
            let key = Self.string(parameter[..<equals])
            let value = Self.string(parameter[parameter.index(after: equals)...])
            switch key {
            case Self.pathKey:
                if path != nil { throw .duplicateParameter(key) }
                try Self.validate(path: value)
                path = value
            case Self.requireHugepagesKey:
                if requireHugepages != nil { throw .duplicateParameter(key) }
                switch value {
                case "true": requireHugepages = true
                case "false": requireHugepages = false
                default: throw .invalidBoolean(key: key, value: value)
                }
            default:
                throw .unknownParameter(key)
            }
        }
        guard let path else { throw .missingPath }
        self.init(path: path, requireHugepages: requireHugepages ?? false)
    }

    /// The canonical text: `shm:file?path=<path>`, followed by `|require_hugepages=true` only when hugepages are
    /// required (the default `false` is left out, as AeronTensorPool.jl writes it).
    public var description: String {
        var text = Self.schemePrefix + Self.pathKey + "=" + path
        if requireHugepages { text += "|" + Self.requireHugepagesKey + "=true" }
        return text
    }

    /// Checks a path against `abs-path = 1*( VCHAR except "?" and "|" and SP )` and the leading `/` of a POSIX
    /// absolute path.
    /// - Parameter path: The path to check.
    /// - Throws: ``RegionURIError/emptyPath``, ``RegionURIError/invalidPathCharacter(path:scalar:)`` or
    ///   ``RegionURIError/relativePath(_:)``.
    public static func validate(path: String) throws(RegionURIError) {
        if path.utf8.isEmpty { throw .emptyPath }
        for scalar in path.unicodeScalars {
            let value = scalar.value
            // VCHAR is %x21-7E; SP (%x20), controls and every non-ASCII scalar fall outside it.
            let isVisibleASCII = value >= 0x21 && value <= 0x7E
            if !isVisibleASCII || scalar == "?" || scalar == "|" {
                throw .invalidPathCharacter(path: path, scalar: scalar)
            }
        }
        if path.utf8.first != UInt8(ascii: "/") { throw .relativePath(path) }
    }

    /// Decodes bytes that came out of a `String`'s UTF-8 view. Splitting only at ASCII bytes keeps every slice valid
    /// UTF-8, so the repair path of `String(decoding:as:)` is never taken.
    private static func string(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}

/// Why a text is not a valid v1.2 region URI (§15.22). Each case carries the offending text.
public enum RegionURIError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The URI text is empty.
    case empty
    /// The text does not start with exactly `shm:file?` (WIRE-15.22-005/007); carries the whole text.
    case unsupportedScheme(String)
    /// No `path` parameter is present (including `shm:file?` with no parameters at all).
    case missingPath
    /// The `path` parameter has an empty value.
    case emptyPath
    /// The path does not start with `/`; carries the path.
    case relativePath(String)
    /// The path contains a character outside `VCHAR except "?" and "|"` (space, `?`, a control or a non-ASCII
    /// character); carries the path and the first such character.
    case invalidPathCharacter(path: String, scalar: Unicode.Scalar)
    /// A parameter other than `path` and `require_hugepages` (WIRE-15.22-006/014); carries its key.
    case unknownParameter(String)
    /// A parameter appears more than once; carries its key.
    case duplicateParameter(String)
    /// A boolean parameter whose value is not exactly `true` or `false`; carries the key and the value.
    case invalidBoolean(key: String, value: String)
    /// An empty parameter (`||`, a leading or a trailing `|`); carries the whole text.
    case emptyParameter(String)
    /// A parameter without `=` or with an empty key; carries the parameter.
    case malformedParameter(String)

    /// A one-line diagnostic naming the broken rule and the offending text.
    public var description: String {
        switch self {
        case .empty:
            return "region URI is empty"
        case .unsupportedScheme(let text):
            return
                "unsupported region URI scheme (only \(RegionURI.schemePrefix) is supported in v1.2): \(RegionDiagnostics.quoted(text))"
        case .missingPath:
            return "region URI has no path parameter"
        case .emptyPath:
            return "region URI path is empty"
        case .relativePath(let path):
            return "region URI path is not absolute: \(RegionDiagnostics.quoted(path))"
        case .invalidPathCharacter(let path, let scalar):
            let code = String(scalar.value, radix: 16, uppercase: true)
            let padded = String(repeating: "0", count: max(0, 4 - code.count)) + code
            return "region URI path contains a forbidden character U+\(padded): \(RegionDiagnostics.quoted(path))"
        case .unknownParameter(let key):
            return "unknown region URI parameter \(RegionDiagnostics.quoted(key))"
        case .duplicateParameter(let key):
            return "duplicate region URI parameter \(RegionDiagnostics.quoted(key))"
        case .invalidBoolean(let key, let value):
            return "region URI parameter \(key) must be true or false, not \(RegionDiagnostics.quoted(value))"
        case .emptyParameter(let text):
            return "region URI has an empty parameter: \(RegionDiagnostics.quoted(text))"
        case .malformedParameter(let parameter):
            return "region URI parameter is not key=value: \(RegionDiagnostics.quoted(parameter))"
        }
    }
}

/// Formatting shared by the diagnostics of this file and PathContainment.swift.
enum RegionDiagnostics {
    /// Quotes text for a diagnostic, escaping controls and non-ASCII so a hostile announcement cannot forge log lines.
    static func quoted(_ text: String) -> String {
        "\"" + text.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() + "\""
    }
}
