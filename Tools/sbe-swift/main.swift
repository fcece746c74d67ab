import Foundation

/// `sbe-swift`: generates Swift flyweight codecs from an SBE message schema.
///
///     sbe-swift SCHEMA.xml --namespace NAME --output FILE.swift [--source-name PATH]
let usage = "usage: sbe-swift SCHEMA.xml --namespace NAME --output FILE.swift [--source-name PATH]"

var arguments = Array(CommandLine.arguments.dropFirst())
var input: String?
var namespace: String?
var output: String?
var sourceName: String?
while !arguments.isEmpty {
    let argument = arguments.removeFirst()
    switch argument {
    case "--namespace": namespace = arguments.isEmpty ? nil : arguments.removeFirst()
    case "--output": output = arguments.isEmpty ? nil : arguments.removeFirst()
    case "--source-name": sourceName = arguments.isEmpty ? nil : arguments.removeFirst()
    case "-h", "--help":
        print(usage)
        exit(0)
    default: input = argument
    }
}
guard let input, let namespace, let output else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
do {
    let schema = try SchemaParser.parse(contentsOf: URL(fileURLWithPath: input))
    let emitter = Emitter(schema: schema, namespace: namespace, sourceName: sourceName ?? input)
    let source = try emitter.emit()
    try source.write(toFile: output, atomically: true, encoding: .utf8)
} catch {
    FileHandle.standardError.write(Data("sbe-swift: \(input): \(error)\n".utf8))
    exit(1)
}
