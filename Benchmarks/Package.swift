// swift-tools-version: 6.1
//
// Benchmarks of AeronTensorPool for Swift, in their own package so the main build stays lean.
//   make bench   (from the repository root) builds the C baseline, runs aeron-compare and the ordo-one benchmarks.
import Foundation
import PackageDescription

// A path dependency is identified by its folder's name, which is whatever the checkout is called.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "AeronTensorPoolBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: [
        // CPU pinning for aeron-compare's processes.
        .target(name: "CAffinity", path: "Sources/CAffinity"),
        // Swift vs C: throughput and ping-pong through the wrapper and through c/aeron_baseline.c.
        .executableTarget(
            name: "aeron-compare",
            dependencies: [
                "CAffinity",
                .product(name: "Aeron", package: root),
                .product(name: "AeronPerf", package: root),
            ],
            path: "Sources/AeronCompare"
        ),
        // Hot-path benchmarks with malloc counts (ordo-one/benchmark).
        .executableTarget(
            name: "AeronBaseline",
            dependencies: [
                .product(name: "Aeron", package: root),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/AeronBaseline",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Generated SBE codecs: encode+decode with malloc counts.
        .executableTarget(
            name: "WireCodecs",
            dependencies: [
                .product(name: "SBE", package: root),
                .product(name: "TensorPoolWire", package: root),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/WireCodecs",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
