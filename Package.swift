// swift-tools-version: 6.1
//
// AeronTensorPool for Swift: the SHM Tensor Pool protocol family over real Aeron.
//
// Layering, lowest first (a lower layer never imports a higher one):
//   CAeron (C client + C media driver) → Aeron (Swift wrapper) → … → Agents → roles → CLIs
// Benchmarks live in their own package under Benchmarks/ so this build stays lean.
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "AeronTensorPool",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Aeron", targets: ["Aeron"]),
        .library(name: "Agents", targets: ["Agents"]),
        .library(name: "AeronPerf", targets: ["AeronPerf"]),
        .library(name: "SBE", targets: ["SBE"]),
        .library(name: "TensorPoolWire", targets: ["TensorPoolWire"]),
        .library(name: "TensorPoolSHM", targets: ["TensorPoolSHM"]),
        .library(name: "DriverConfig", targets: ["DriverConfig"]),
        .library(name: "TensorPoolDriver", targets: ["TensorPoolDriver"]),
        .library(name: "DriverClient", targets: ["DriverClient"]),
        .library(name: "TensorPoolClient", targets: ["TensorPoolClient"]),
        .library(name: "TensorPoolSupervisor", targets: ["TensorPoolSupervisor"]),
        .library(name: "Compliance", targets: ["Compliance"]),
        .library(name: "ConformanceSupport", targets: ["ConformanceSupport"]),
        .executable(name: "tp-aeron", targets: ["AeronTool"]),
        .executable(name: "sbe-swift", targets: ["sbe-swift"]),
        .executable(name: "tp-compliance", targets: ["ComplianceTool"]),
        .executable(name: "tp-shm", targets: ["ShmTool"]),
        .executable(name: "tp-driver", targets: ["DriverTool"]),
        .executable(name: "tp-client", targets: ["ClientTool"]),
        .executable(name: "tp-supervisor", targets: ["SupervisorTool"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // The Aeron C client and C media driver, installed by Tools/aeron/install.sh and found through pkg-config.
        .systemLibrary(
            name: "CAeron",
            path: "Sources/CAeron",
            pkgConfig: "aeron",
            providers: [.apt(["uuid-dev"])]
        ),
        // Thin, typed, non-allocating Swift wrapper over the Aeron C client and embedded media driver.
        .target(
            name: "Aeron",
            dependencies: ["CAeron", .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: strictSwift
        ),
        // SBE runtime: bounds-checked little-endian access, message header, groups and var data for generated codecs.
        .target(
            name: "SBE",
            swiftSettings: strictSwift
        ),
        // Codecs of the six schemas of the protocol family, generated from Specs/schemas by sbe-swift.
        .target(
            name: "TensorPoolWire",
            dependencies: ["SBE"],
            swiftSettings: strictSwift
        ),
        // statfs/fstatfs and file-system magic numbers (hugetlbfs checks), which Glibc's Swift module leaves out.
        .systemLibrary(name: "CLinuxVFS", path: "Sources/CLinuxVFS"),
        // The swift-log categories of the roles and their levels (environment and API).
        .target(
            name: "TensorPoolLogging", dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSwift),
        // CRC32C (Castagnoli) for meta-blob checksums: the SSE4.2 instruction where the CPU has it, a table otherwise.
        .target(name: "CCRC32C", path: "Sources/CCRC32C"),
        // The SHM core: regions, superblocks, the seqlock commit protocol, slot writer and reader, validation, URIs
        // and path containment, and the consumer's mapping/epoch state machine.
        .target(
            name: "TensorPoolSHM",
            dependencies: [
                "SBE", "TensorPoolWire", "CLinuxVFS", .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: strictSwift
        ),
        // `tp-shm`: inspect regions, and the multi-process torn-read stress (writer, reader, orchestrator).
        .executableTarget(
            name: "ShmTool",
            dependencies: [
                "TensorPoolSHM", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: strictSwift
        ),
        // The driver's canonical TOML configuration (driver spec §17), environment overrides and startup validation.
        .target(
            name: "DriverConfig",
            dependencies: ["TensorPoolSHM", .product(name: "TOMLKit", package: "TOMLKit")],
            swiftSettings: strictSwift
        ),
        // The client side of the driver control plane: attach, keepalive, detach, revocations, response validation.
        .target(
            name: "DriverClient",
            dependencies: ["Aeron", "Agents", "SBE", "TensorPoolWire", "TensorPoolSHM"],
            swiftSettings: strictSwift
        ),
        // Producer and consumer clients: attach over the driver, publish and receive frames zero-copy.
        .target(
            name: "TensorPoolClient",
            dependencies: [
                "Aeron", "Agents", "SBE", "TensorPoolWire", "TensorPoolSHM", "DriverClient", "CCRC32C",
                "TensorPoolLogging",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // The supervisor role: watches announces, hellos, QoS and metadata, tracks liveness, steers consumers.
        .target(
            name: "TensorPoolSupervisor",
            dependencies: [
                "Aeron", "Agents", "SBE", "TensorPoolWire", "TensorPoolClient", "TensorPoolLogging",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // The SHM driver role: leases, epochs, provisioning, announces, stream-id ranges, epoch GC, shutdown.
        .target(
            name: "TensorPoolDriver",
            dependencies: [
                "Aeron", "Agents", "SBE", "TensorPoolWire", "TensorPoolSHM", "DriverConfig", "TensorPoolLogging",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // `tp-driver`: runs the driver from a TOML file, optionally with an embedded media driver.
        .executableTarget(
            name: "DriverTool",
            dependencies: [
                "TensorPoolDriver", "DriverConfig", "DriverClient", "Aeron", "Agents",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        // `tp-client`: a producer or consumer of a synthetic 2-D tensor stream (demo and system tests).
        .executableTarget(
            name: "ClientTool",
            dependencies: [
                "TensorPoolClient", "TensorPoolSHM", "TensorPoolWire", "Aeron", "Agents",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        // `tp-supervisor`: prints what a supervisor sees and can force consumers into RATE_LIMITED (demo, system tests).
        .executableTarget(
            name: "SupervisorTool",
            dependencies: [
                "TensorPoolSupervisor", "TensorPoolClient", "TensorPoolWire", "Aeron", "Agents",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        // Child processes for multi-process tests (posix_spawn with a clean signal mask, output captured).
        .target(
            name: "TestProcesses",
            dependencies: ["Aeron"],
            path: "Tests/TestProcesses",
            swiftSettings: strictSwift
        ),
        // The compliance tracker: parses Specs/ into requirements (the SQLite store and CLI follow).
        .target(
            name: "Compliance",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strictSwift
        ),
        // `tp-compliance`: sync, run, checklist, show, report, verify, lock, uncovered.
        .executableTarget(
            name: "ComplianceTool",
            dependencies: ["Compliance", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strictSwift
        ),
        // The `.verifies("ID", …)` trait conformance cases declare their requirements with.
        .target(
            name: "ConformanceSupport",
            swiftSettings: strictSwift
        ),
        // The SBE code generator: `make generate` runs it over Specs/schemas/*.xml.
        .executableTarget(
            name: "sbe-swift",
            path: "Tools/sbe-swift"
        ),
        // Agrona-style agents: Agent, AgentRunner, AgentInvoker, idle strategies, clocks, polled timers.
        .target(
            name: "Agents",
            swiftSettings: strictSwift
        ),
        // Ping-pong latency and throughput loops over the wrapper: the baseline of every later benchmark.
        .target(
            name: "AeronPerf",
            dependencies: ["Aeron", "Agents", .product(name: "Histogram", package: "hdrhistogram-swift")],
            swiftSettings: strictSwift
        ),
        // `tp-aeron`: embedded driver, ping-pong, send/receive and counters tools.
        .executableTarget(
            name: "AeronTool",
            dependencies: [
                "Aeron",
                "Agents",
                "AeronPerf",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AeronTests",
            dependencies: ["Aeron", "Agents", "AeronTool", "TestProcesses"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "TensorPoolWireTests",
            dependencies: [
                "TensorPoolWire", "SBE", .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            exclude: ["Schemas"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "TensorPoolSHMTests",
            dependencies: ["TensorPoolSHM", "TensorPoolWire", "SBE", "ShmTool", "TestProcesses"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "DriverConfigTests",
            dependencies: ["DriverConfig"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "TensorPoolDriverTests",
            dependencies: [
                "TensorPoolDriver", "DriverClient", "DriverConfig", "Aeron", "Agents", "TensorPoolSHM",
                "TensorPoolWire",
                "SBE", "DriverTool", "TestProcesses",
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "TensorPoolClientTests",
            dependencies: [
                "TensorPoolClient", "TensorPoolDriver", "DriverClient", "DriverConfig", "Aeron", "Agents",
                "TensorPoolSHM", "TestProcesses", "TensorPoolLogging", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "TensorPoolSupervisorTests",
            dependencies: [
                "TensorPoolSupervisor", "TensorPoolClient", "TensorPoolWire", "SBE", "Aeron", "Agents", "TestProcesses",
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "ComplianceTests",
            dependencies: ["Compliance", "ComplianceTool"],
            swiftSettings: strictSwift
        ),
        // Conformance cases: each names the spec requirements it verifies with `.verifies("ID", …)`.
        .testTarget(
            name: "Conformance",
            dependencies: [
                "ConformanceSupport", "SBE", "TensorPoolWire", "TensorPoolSHM", "ShmTool", "TestProcesses",
                "TensorPoolDriver", "DriverClient", "DriverConfig", "DriverTool", "Aeron", "Agents", "TensorPoolClient",
                "ClientTool", "TensorPoolSupervisor", "SupervisorTool",
            ],
            path: "Conformance",
            exclude: ["uncovered.txt"],
            swiftSettings: strictSwift
        ),
        // The tools' own options and checks, without processes.
        .testTarget(
            name: "ClientToolTests",
            dependencies: ["ClientTool", "TensorPoolSHM"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AgentsTests",
            dependencies: ["Agents"],
            swiftSettings: strictSwift
        ),
    ],
    swiftLanguageModes: [.v6]
)
