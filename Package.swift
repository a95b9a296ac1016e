// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Roadwatch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "roadwatch", targets: ["roadwatch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // FFmpeg's C libraries, found with pkg-config; `make` installs them with apt-get when missing.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libswscale-dev", "libavutil-dev"])]
        ),
        // The only module that imports CFFmpeg: demux, decode, pixel conversion, JPEG and video writing.
        .target(name: "VideoIO", dependencies: ["CFFmpeg"]),
        // The command-line tool, kept thin.
        .executableTarget(
            name: "roadwatch",
            dependencies: [
                "VideoIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "VideoIOTests", dependencies: ["VideoIO"]),
        .testTarget(name: "CommandLineTests", dependencies: ["VideoIO", "roadwatch"]),
    ],
    swiftLanguageModes: [.v6]
)
