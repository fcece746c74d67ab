// Recovering the order in which tables are defined. TOMLKit's tables (toml++ `std::map`s) iterate in key order, so the
// order of `[profiles.<name>]` sections in the file is lost after parsing; this scanner finds it again in the source
// text. It runs only on a document toml++ already accepted, so it can rely on the text being valid TOML. It follows
// comments, basic and literal strings (single- and multi-line) and multi-line array values, and recognises table and
// array-of-tables headers at the start of a line.

/// Spelling of configuration keys in error messages.
enum KeyPath {
    /// `name` as a TOML key component: bare when it is made only of `A-Z a-z 0-9 _ -`, quoted otherwise.
    static func component(_ name: String) -> String {
        if !name.isEmpty, name.unicodeScalars.allSatisfy(isBareKeyScalar) { return name }
        var quoted = "\""
        for scalar in name.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// The dotted key `table.<name>.field` (or `table.<name>` without `field`), quoting `name` when needed.
    static func join(_ table: String, _ name: String, _ field: String? = nil) -> String {
        let head = "\(table).\(component(name))"
        guard let field else { return head }
        return "\(head).\(field)"
    }

    static func isBareKeyScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }
}

/// Finds the table headers of a TOML document in source order.
enum TableHeaderScanner {
    /// For each direct child `<name>` of the top-level table `root`, the position (0, 1, …) of the first header that
    /// opens it or one of its sub-tables: `[root.<name>]`, `[root.<name>.x]` or `[[root.<name>.x]]`.
    ///
    /// - Parameters:
    ///   - source: A valid TOML document.
    ///   - root: A top-level key, e.g. `profiles`.
    /// - Returns: Positions by child name; children defined without such a header are absent.
    static func firstHeaderPositions(in source: String, root: String) -> [String: Int] {
        var positions: [String: Int] = [:]
        for header in headers(in: source) where header.count >= 2 && header[0] == root {
            if positions[header[1]] == nil { positions[header[1]] = positions.count }
        }
        return positions
    }

    /// Sorts `names` by their first header position under `root`; names without a header follow, sorted by name.
    static func ordered(_ names: [String], root: String, source: String) -> [String] {
        let positions = firstHeaderPositions(in: source, root: root)
        return names.sorted { lhs, rhs in
            switch (positions[lhs], positions[rhs]) {
            case (let left?, let right?): left < right
            case (.some, nil): true
            case (nil, .some): false
            case (nil, nil): Array(lhs.utf8).lexicographicallyPrecedes(Array(rhs.utf8))
            }
        }
    }

    /// The key paths of every `[…]` and `[[…]]` header, in source order, keys unquoted.
    static func headers(in source: String) -> [[String]] {
        let bytes = Array(source.utf8)
        var headers: [[String]] = []
        var index = 0
        var atLineStart = true
        var arrayDepth = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\n"):
                atLineStart = true
                index += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                index += 1
            case UInt8(ascii: "#"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                atLineStart = false
                index = skipString(bytes, at: index)
            case UInt8(ascii: "["):
                if atLineStart && arrayDepth == 0, let (keys, end) = parseHeader(bytes, at: index) {
                    headers.append(keys)
                    index = end
                } else {
                    arrayDepth += 1
                    index += 1
                }
                atLineStart = false
            case UInt8(ascii: "]"):
                arrayDepth = max(0, arrayDepth - 1)
                atLineStart = false
                index += 1
            default:
                atLineStart = false
                index += 1
            }
        }
        return headers
    }

    /// The index just past the string value that starts at `start` (a `"` or `'`).
    private static func skipString(_ bytes: [UInt8], at start: Int) -> Int {
        let quote = bytes[start]
        let isBasic = quote == UInt8(ascii: "\"")
        if hasTripleQuote(bytes, at: start, quote: quote) {
            var index = start + 3
            while index < bytes.count {
                if isBasic && bytes[index] == UInt8(ascii: "\\") {
                    index += 2
                } else if hasTripleQuote(bytes, at: index, quote: quote) {
                    index += 3
                    // Up to two more quotes right before the delimiter belong to the content.
                    var extra = 0
                    while extra < 2 && index < bytes.count && bytes[index] == quote {
                        index += 1
                        extra += 1
                    }
                    return index
                } else {
                    index += 1
                }
            }
            return index
        }
        var index = start + 1
        while index < bytes.count && bytes[index] != UInt8(ascii: "\n") {
            if isBasic && bytes[index] == UInt8(ascii: "\\") {
                index += 2
                continue
            }
            if bytes[index] == quote { return index + 1 }
            index += 1
        }
        return index
    }

    private static func hasTripleQuote(_ bytes: [UInt8], at index: Int, quote: UInt8) -> Bool {
        index + 2 < bytes.count && bytes[index] == quote && bytes[index + 1] == quote && bytes[index + 2] == quote
    }

    /// Parses the header that starts at `start` (its first `[`): returns its keys and the index past its last `]`.
    private static func parseHeader(_ bytes: [UInt8], at start: Int) -> ([String], Int)? {
        let isArrayOfTables = start + 1 < bytes.count && bytes[start + 1] == UInt8(ascii: "[")
        var index = start + (isArrayOfTables ? 2 : 1)
        var keys: [String] = []
        while true {
            index = skipBlanks(bytes, from: index)
            guard index < bytes.count, let (key, end) = parseKey(bytes, at: index) else { return nil }
            keys.append(key)
            index = skipBlanks(bytes, from: end)
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: ".") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { return nil }
            index += 1
            if isArrayOfTables {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "]") else { return nil }
                index += 1
            }
            return (keys, index)
        }
    }

    private static func skipBlanks(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index < bytes.count && (bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t")) {
            index += 1
        }
        return index
    }

    /// Parses a bare, basic-quoted or literal-quoted key at `start`.
    private static func parseKey(_ bytes: [UInt8], at start: Int) -> (String, Int)? {
        let first = bytes[start]
        if first == UInt8(ascii: "'") {
            var index = start + 1
            while index < bytes.count && bytes[index] != UInt8(ascii: "'") && bytes[index] != UInt8(ascii: "\n") {
                index += 1
            }
            guard index < bytes.count, bytes[index] == UInt8(ascii: "'") else { return nil }
            return (String(decoding: bytes[(start + 1)..<index], as: UTF8.self), index + 1)
        }
        if first == UInt8(ascii: "\"") {
            return parseBasicKey(bytes, at: start)
        }
        var index = start
        while index < bytes.count, let scalar = Unicode.Scalar(Int(bytes[index])), bytes[index] < 0x80,
            KeyPath.isBareKeyScalar(scalar)
        {
            index += 1
        }
        guard index > start else { return nil }
        return (String(decoding: bytes[start..<index], as: UTF8.self), index)
    }

    /// Parses a basic-quoted key, decoding its escapes.
    private static func parseBasicKey(_ bytes: [UInt8], at start: Int) -> (String, Int)? {
        var decoded = ""
        var pending: [UInt8] = []
        var index = start + 1
        func flush() {
            decoded += String(decoding: pending, as: UTF8.self)
            pending.removeAll()
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                flush()
                return (decoded, index + 1)
            case UInt8(ascii: "\n"):
                return nil
            case UInt8(ascii: "\\"):
                guard index + 1 < bytes.count else { return nil }
                let escape = bytes[index + 1]
                index += 2
                switch escape {
                case UInt8(ascii: "b"): pending.append(0x08)
                case UInt8(ascii: "t"): pending.append(0x09)
                case UInt8(ascii: "n"): pending.append(0x0A)
                case UInt8(ascii: "f"): pending.append(0x0C)
                case UInt8(ascii: "r"): pending.append(0x0D)
                case UInt8(ascii: "e"): pending.append(0x1B)
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): pending.append(escape)
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let length = escape == UInt8(ascii: "u") ? 4 : 8
                    guard index + length <= bytes.count,
                        let value = UInt32(String(decoding: bytes[index..<(index + length)], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(value)
                    else { return nil }
                    pending.append(contentsOf: Array(String(Character(scalar)).utf8))
                    index += length
                default:
                    return nil
                }
            default:
                pending.append(byte)
                index += 1
            }
        }
        return nil
    }
}
