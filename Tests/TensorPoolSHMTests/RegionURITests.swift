import Testing

@testable import TensorPoolSHM

/// The region URI grammar of wire spec v1.2 §15.22.
@Suite("Region URI")
struct RegionURITests {
    // MARK: Valid forms

    @Test("the AeronTensorPool.jl form without require_hugepages defaults to false")
    func parsesPathOnly() throws {
        let uri = try RegionURI(parsing: "shm:file?path=/dev/shm/tensorpool-alice/default/1/7/header.ring")
        #expect(uri.path == "/dev/shm/tensorpool-alice/default/1/7/header.ring")
        #expect(uri.requireHugepages == false)
    }

    @Test("the tensor_pool_c form with an explicit require_hugepages=false")
    func parsesExplicitFalse() throws {
        let uri = try RegionURI(parsing: "shm:file?path=/dev/shm/a/1.pool|require_hugepages=false")
        #expect(uri == RegionURI(path: "/dev/shm/a/1.pool", requireHugepages: false))
    }

    @Test("require_hugepages=true")
    func parsesTrue() throws {
        let uri = try RegionURI(parsing: "shm:file?path=/dev/hugepages/a/1.pool|require_hugepages=true")
        #expect(uri == RegionURI(path: "/dev/hugepages/a/1.pool", requireHugepages: true))
    }

    @Test("require_hugepages may come before path, as tensor_pool_c also accepts")
    func parsesEitherOrder() throws {
        let uri = try RegionURI(parsing: "shm:file?require_hugepages=true|path=/dev/hugepages/x")
        #expect(uri == RegionURI(path: "/dev/hugepages/x", requireHugepages: true))
    }

    @Test("& and = are ordinary path characters, since parameters are separated by |")
    func ampersandAndEqualsBelongToThePath() throws {
        let uri = try RegionURI(parsing: "shm:file?path=/a&b=c")
        #expect(uri.path == "/a&b=c")
        #expect(uri.requireHugepages == false)
    }

    @Test("every printable ASCII character except ? and | is allowed in a path")
    func allVisibleASCIIAllowed() throws {
        let visible = (0x21...0x7E).map { Character(Unicode.Scalar(UInt8($0))) }.filter { $0 != "?" && $0 != "|" }
        let path = "/" + String(visible)
        let uri = try RegionURI(parsing: "shm:file?path=" + path)
        #expect(uri.path == path)
    }

    // MARK: Canonical text

    @Test(
        "description is canonical and parses back to the same value",
        arguments: [
            RegionURI(path: "/dev/shm/x"),
            RegionURI(path: "/dev/hugepages/y.pool", requireHugepages: true),
            RegionURI(path: "/a&b=c/./../d"),
        ])
    func roundTrip(_ uri: RegionURI) throws {
        #expect(try RegionURI(parsing: uri.description) == uri)
    }

    @Test("description omits require_hugepages=false and writes require_hugepages=true")
    func descriptionForm() throws {
        #expect(RegionURI(path: "/dev/shm/x").description == "shm:file?path=/dev/shm/x")
        #expect(
            RegionURI(path: "/dev/shm/x", requireHugepages: true).description
                == "shm:file?path=/dev/shm/x|require_hugepages=true")
        let explicitFalse = try RegionURI(parsing: "shm:file?path=/dev/shm/x|require_hugepages=false")
        #expect(explicitFalse.description == "shm:file?path=/dev/shm/x")
    }

    @Test("init(validatingPath:) applies the abs-path rule")
    func validatingInitialiser() throws {
        #expect(try RegionURI(validatingPath: "/dev/shm/x", requireHugepages: true).requireHugepages)
        #expect(throws: RegionURIError.relativePath("x")) { try RegionURI(validatingPath: "x") }
        #expect(throws: RegionURIError.emptyPath) { try RegionURI(validatingPath: "") }
    }

    // MARK: Rejections

    @Test("empty text")
    func rejectsEmpty() {
        #expect(throws: RegionURIError.empty) { try RegionURI(parsing: "") }
    }

    @Test(
        "any scheme other than shm:file (WIRE-15.22-005/007)",
        arguments: [
            "aeron:ipc", "aeron:udp?endpoint=localhost:40123", "file:///dev/shm/x", "shm:anon?name=x",
            "shm:file", "shm:filepath=/dev/shm/x", "SHM:FILE?path=/dev/shm/x", "shm:file:path=/x",
            " shm:file?path=/x", "/dev/shm/x",
        ])
    func rejectsOtherSchemes(_ text: String) {
        #expect(throws: RegionURIError.unsupportedScheme(text)) { try RegionURI(parsing: text) }
    }

    @Test("no path parameter")
    func rejectsMissingPath() {
        #expect(throws: RegionURIError.missingPath) { try RegionURI(parsing: "shm:file?") }
        #expect(throws: RegionURIError.missingPath) { try RegionURI(parsing: "shm:file?require_hugepages=true") }
    }

    @Test("empty path value")
    func rejectsEmptyPath() {
        #expect(throws: RegionURIError.emptyPath) { try RegionURI(parsing: "shm:file?path=") }
        #expect(throws: RegionURIError.emptyPath) {
            try RegionURI(parsing: "shm:file?path=|require_hugepages=false")
        }
    }

    @Test("relative path")
    func rejectsRelativePath() {
        #expect(throws: RegionURIError.relativePath("dev/shm/x")) { try RegionURI(parsing: "shm:file?path=dev/shm/x") }
        #expect(throws: RegionURIError.relativePath("./x")) { try RegionURI(parsing: "shm:file?path=./x") }
        #expect(throws: RegionURIError.relativePath("C:\\aeron\\x")) {
            try RegionURI(parsing: "shm:file?path=C:\\aeron\\x")
        }
    }

    @Test("unknown parameter (WIRE-15.22-006/014)")
    func rejectsUnknownParameter() {
        #expect(throws: RegionURIError.unknownParameter("size")) {
            try RegionURI(parsing: "shm:file?path=/dev/shm/x|size=4096")
        }
        #expect(throws: RegionURIError.unknownParameter("PATH")) { try RegionURI(parsing: "shm:file?PATH=/x") }
        #expect(throws: RegionURIError.unknownParameter("requireHugepages")) {
            try RegionURI(parsing: "shm:file?path=/x|requireHugepages=true")
        }
    }

    @Test("duplicate parameter")
    func rejectsDuplicateParameter() {
        #expect(throws: RegionURIError.duplicateParameter("path")) {
            try RegionURI(parsing: "shm:file?path=/a|path=/b")
        }
        #expect(throws: RegionURIError.duplicateParameter("require_hugepages")) {
            try RegionURI(parsing: "shm:file?path=/a|require_hugepages=false|require_hugepages=false")
        }
    }

    @Test(
        "require_hugepages must be exactly true or false",
        arguments: ["TRUE", "True", "1", "0", "yes", "", "true ", "false|", "truex"])
    func rejectsBadBoolean(_ value: String) {
        let text = "shm:file?path=/x|require_hugepages=" + value
        if value.hasSuffix("|") {
            #expect(throws: RegionURIError.emptyParameter(text)) { try RegionURI(parsing: text) }
        } else {
            #expect(throws: RegionURIError.invalidBoolean(key: "require_hugepages", value: value)) {
                try RegionURI(parsing: text)
            }
        }
    }

    @Test("empty parameter: trailing, leading or doubled |")
    func rejectsEmptyParameter() {
        for text in [
            "shm:file?path=/x|", "shm:file?|path=/x", "shm:file?path=/x||require_hugepages=true", "shm:file?|",
        ] {
            #expect(throws: RegionURIError.emptyParameter(text)) { try RegionURI(parsing: text) }
        }
    }

    @Test("parameter that is not key=value")
    func rejectsMalformedParameter() {
        #expect(throws: RegionURIError.malformedParameter("path")) { try RegionURI(parsing: "shm:file?path") }
        #expect(throws: RegionURIError.malformedParameter("=/x")) { try RegionURI(parsing: "shm:file?=/x") }
        #expect(throws: RegionURIError.malformedParameter("require_hugepages")) {
            try RegionURI(parsing: "shm:file?path=/x|require_hugepages")
        }
    }

    @Test("? in the path")
    func rejectsQuestionMarkInPath() {
        #expect(throws: RegionURIError.invalidPathCharacter(path: "/a?b", scalar: "?")) {
            try RegionURI(parsing: "shm:file?path=/a?b")
        }
    }

    @Test("space in the path")
    func rejectsSpaceInPath() {
        #expect(throws: RegionURIError.invalidPathCharacter(path: "/a b", scalar: " ")) {
            try RegionURI(parsing: "shm:file?path=/a b")
        }
        #expect(throws: RegionURIError.invalidPathCharacter(path: " /a", scalar: " ")) {
            try RegionURI(parsing: "shm:file?path= /a")
        }
    }

    @Test(
        "control, DEL, NUL and non-ASCII characters in the path",
        arguments: ["\t", "\n", "\r", "\u{0}", "\u{1B}", "\u{7F}", "\u{A0}", "é", "\u{301}", "\u{2215}", "🙂"]
            as [Unicode.Scalar])
    func rejectsNonVisibleCharacters(_ scalar: Unicode.Scalar) {
        let path = "/dev/shm/a" + String(Character(scalar)) + "b"
        #expect(throws: RegionURIError.invalidPathCharacter(path: path, scalar: scalar)) {
            try RegionURI(parsing: "shm:file?path=" + path)
        }
    }

    @Test("every error has a distinct diagnostic that quotes the offending text safely")
    func diagnostics() {
        let errors: [RegionURIError] = [
            .empty, .unsupportedScheme("aeron:ipc"), .missingPath, .emptyPath, .relativePath("x"),
            .invalidPathCharacter(path: "/a\nb", scalar: "\n"), .unknownParameter("size"),
            .duplicateParameter("path"), .invalidBoolean(key: "require_hugepages", value: "yes"),
            .emptyParameter("shm:file?path=/x|"), .malformedParameter("path"),
        ]
        let descriptions = errors.map(\.description)
        #expect(Set(descriptions).count == errors.count)
        #expect(descriptions.allSatisfy { !$0.contains("\n") })
        #expect(RegionURIError.invalidPathCharacter(path: "/a\nb", scalar: "\n").description.contains("U+000A"))
        #expect(RegionURIError.unsupportedScheme("aeron:ipc").description.contains("\"aeron:ipc\""))
    }
}
