// swift-tools-version:6.0
import Foundation
import PackageDescription

// Detection's per-pixel loops are compiled for AVX2 (Haswell, 2013, and every later x86-64 server CPU): about a
// quarter less detection time at 1080p, with the same results to the bit, as the loops use no fused or reordered
// arithmetic (BENCHMARKS.md, docs/determinism.md). `roadwatch` refuses to start on a CPU without AVX2 rather than
// crash in the detector; ROADWATCH_PORTABLE=1 builds for any x86-64 instead.
#if arch(x86_64)
let avx2 = ProcessInfo.processInfo.environment["ROADWATCH_PORTABLE"] != "1"
#else
let avx2 = false
#endif
let detectionCPU: [SwiftSetting] = avx2 ? [.unsafeFlags(["-target-cpu", "haswell"])] : []
let needsAVX2: [SwiftSetting] = avx2 ? [.define("ROADWATCH_AVX2")] : []

let package = Package(
    name: "Roadwatch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "roadwatch", targets: ["roadwatch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // FFmpeg's C libraries, found with pkg-config; `make` installs them with apt-get when missing.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        // The only module that imports CFFmpeg: demux, decode, pixel conversion, JPEG and video writing.
        .target(name: "VideoIO", dependencies: ["CFFmpeg", "TrafficModel"]),
        // Plain value types every stage shares: geometry, camera, homography, time, signal phases.
        .target(name: "TrafficModel"),
        // Renders sample footage of roadside scenes with exact ground truth.
        .target(name: "SceneSynth", dependencies: ["TrafficModel", "VideoIO", "Yams"]),
        // Motion detector and signal-lamp reader over luma planes. Optimised in debug builds too: the tests run the
        // samples through it end to end, and unoptimised its per-pixel loops took most of the test run.
        .target(name: "Detection", dependencies: ["TrafficModel", "VideoIO"], swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))] + detectionCPU),
        // The multi-object tracker.
        .target(name: "Tracking", dependencies: ["TrafficModel"]),
        // The optimised core: speed and red-light rules over columnar tracks, deduplication.
        .target(name: "Rules", dependencies: ["TrafficModel"]),
        // Config loading and validation, the stage runner (the one place that knows the stage order), the batch
        // runner, the store and the outputs.
        .target(
            name: "Pipeline",
            dependencies: [
                "TrafficModel", "VideoIO", "Detection", "Tracking", "Rules", "Yams",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The fleet: PostgreSQL as the shared job queue and store for many workers on many machines (enqueue, worker,
        // status, export). The only module that talks to PostgreSQL.
        .target(
            name: "Fleet",
            dependencies: [
                "Pipeline", "TrafficModel",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Measures records and tracks against a scene's truth (`roadwatch score`).
        .target(name: "Scoring", dependencies: ["TrafficModel", "SceneSynth"]),
        // The command-line tool, kept thin.
        .executableTarget(
            name: "roadwatch",
            dependencies: [
                "VideoIO",
                "TrafficModel",
                "SceneSynth",
                "Scoring",
                "Detection",
                "Tracking",
                "Rules",
                "Pipeline",
                "Fleet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: needsAVX2
        ),
        .testTarget(name: "VideoIOTests", dependencies: ["VideoIO", "TrafficModel"]),
        .testTarget(name: "TrafficModelTests", dependencies: ["TrafficModel"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "Pipeline", "VideoIO", "TrafficModel", "SceneSynth", "Scoring"]),
        .testTarget(name: "TrackingTests", dependencies: ["Tracking", "Detection", "VideoIO", "TrafficModel", "SceneSynth", "Scoring"]),
        .testTarget(name: "ScoringTests", dependencies: ["Scoring", "SceneSynth", "TrafficModel"]),
        .testTarget(name: "SceneSynthTests", dependencies: ["SceneSynth", "VideoIO", "TrafficModel"]),
        .testTarget(name: "RulesTests", dependencies: ["Rules", "TrafficModel"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Rules", "TrafficModel", "VideoIO", "Scoring", "SceneSynth"]),
        .testTarget(
            name: "CommandLineTests",
            dependencies: [
                "VideoIO", "TrafficModel", "Pipeline", "Scoring", "SceneSynth", "Fleet", "roadwatch",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
