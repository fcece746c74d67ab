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
        // Already in the graph through benchmark; named here so shm-compare can count its own mallocs.
        .package(url: "https://github.com/ordo-one/malloc-interposer.git", from: "1.5.0"),
        // Already in the graph through the root package (AeronPerf, TensorPoolDriver); named for driver-bench.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
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
        // The SHM fixture shared by ShmCore and shm-compare: a ring of pool slots under /dev/shm, writer and reader.
        .target(
            name: "ShmBenchSupport",
            dependencies: [.product(name: "TensorPoolSHM", package: root)],
            path: "Sources/ShmBenchSupport"
        ),
        // The SHM copy path vs memcpy into the same slots, alternating rounds; fails below 0.90 at 640 KiB.
        .executableTarget(
            name: "shm-compare",
            dependencies: [
                "CAffinity",
                "ShmBenchSupport",
                .product(name: "TensorPoolSHM", package: root),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ],
            path: "Sources/ShmCompare"
        ),
        // The SHM driver's control plane: attach round trip and attach/detach cycles per second, consumer and producer,
        // through DriverClient and through hand-encoded requests, over an embedded media driver.
        .executableTarget(
            name: "driver-bench",
            dependencies: [
                .product(name: "Aeron", package: root),
                .product(name: "Agents", package: root),
                .product(name: "SBE", package: root),
                .product(name: "TensorPoolWire", package: root),
                .product(name: "DriverConfig", package: root),
                .product(name: "TensorPoolDriver", package: root),
                .product(name: "DriverClient", package: root),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ],
            path: "Sources/DriverBench"
        ),
        // Producer → consumer across two processes through the SHM driver hosted in the parent (issue 7, item 7).
        .executableTarget(
            name: "system-bench",
            dependencies: [
                "CAffinity",
                .product(name: "Aeron", package: root),
                .product(name: "Agents", package: root),
                .product(name: "DriverConfig", package: root),
                .product(name: "TensorPoolDriver", package: root),
                .product(name: "TensorPoolSHM", package: root),
                .product(name: "TensorPoolClient", package: root),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ],
            path: "Sources/SystemBench"
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
        // SHM data plane: claim/commit, publish, read, readCopy and memcpy at 256 B … 4 MiB, with malloc counts.
        .executableTarget(
            name: "ShmCore",
            dependencies: [
                "ShmBenchSupport",
                .product(name: "TensorPoolSHM", package: root),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ShmCore",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
