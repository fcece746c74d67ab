#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The specifications of a `Specs/` folder, parsed together.
public struct SpecCatalog: Sendable {
    /// The specifications, ordered by file name.
    public let specifications: [Specification]

    /// Every requirement of every specification.
    public var requirements: [Requirement] { specifications.flatMap(\.requirements) }

    /// Parses every `*.md` file of `directory` except `README.md`.
    ///
    /// - Throws: ``SpecFormatError`` for the first malformed file, or when two files share a prefix.
    public static func load(directory: String) throws(SpecFormatError) -> SpecCatalog {
        var specifications: [Specification] = []
        var prefixes: [String: String] = [:]
        for name in markdownFiles(in: directory) {
            let path = directory + "/" + name
            guard let text = readFile(path) else {
                throw SpecFormatError(file: path, line: 0, message: "cannot read the file")
            }
            let specification = try SpecParser.parse(text, file: path)
            if let other = prefixes[specification.prefix] {
                throw SpecFormatError(
                    file: path, line: 1, message: "prefix \(specification.prefix) is also used by \(other)")
            }
            prefixes[specification.prefix] = path
            specifications.append(specification)
        }
        return SpecCatalog(specifications: specifications)
    }

    static func markdownFiles(in directory: String) -> [String] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasSuffix(".md"), name != "README.md" { names.append(name) }
        }
        return names.sorted()
    }

    static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
