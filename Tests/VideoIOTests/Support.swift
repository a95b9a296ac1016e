import Foundation
import Testing
import VideoIO

/// The package root, found from this file's path (tests may run from any directory).
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Real footage from other people's cameras, read from ../shared/footage (never copied into the repository).
enum Footage {
    static let root: URL = {
        if let override = ProcessInfo.processInfo.environment["ROADWATCH_SHARED"] {
            return URL(fileURLWithPath: override).appendingPathComponent("footage")
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/footage")
    }()

    static var available: Bool { FileManager.default.fileExists(atPath: root.appendingPathComponent("README.md").path) }
    static let skipNote: Comment = "../shared/footage is absent: real-footage tests skipped"

    static func path(_ folder: String, _ file: String) -> String { root.appendingPathComponent(folder).appendingPathComponent(file).path }
}

/// A fresh temporary directory, removed when the closure returns.
func withTemporaryDirectory<R>(_ body: (URL) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// A test pattern whose every pixel is known: a diagonal luma gradient, two colour ramps,
/// and a bright square that moves 4 px right per frame.
func testPattern(width: Int, height: Int, frame: Int) -> Picture {
    var picture = Picture(width: width, height: height, format: .rgb24)
    picture.planes[0].withUnsafeMutableBufferPointer { rgb in
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                let g = 32 + (x + y) * 180 / (width + height)
                rgb[i] = UInt8(g)
                rgb[i + 1] = UInt8(32 + x * 160 / width)
                rgb[i + 2] = UInt8(32 + y * 160 / height)
            }
        }
        let side = max(8, height / 6)
        let x0 = (16 + frame * 4) % max(1, width - side), y0 = height / 3
        for y in y0..<min(height, y0 + side) {
            for x in x0..<min(width, x0 + side) {
                let i = (y * width + x) * 3
                rgb[i] = 240; rgb[i + 1] = 240; rgb[i + 2] = 240
            }
        }
    }
    return picture
}

/// Luma (BT.601, video range) of an RGB picture, for comparing with decoded frames.
func lumaOf(_ picture: Picture) -> [UInt8] {
    precondition(picture.format == .rgb24)
    var out = [UInt8](repeating: 0, count: picture.width * picture.height)
    for i in 0..<out.count {
        let r = Double(picture.planes[0][3 * i]), g = Double(picture.planes[0][3 * i + 1]), b = Double(picture.planes[0][3 * i + 2])
        out[i] = UInt8((16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255).rounded())
    }
    return out
}

/// Mean absolute difference between a frame's luma and an expected plane of the same size.
func meanAbsoluteLumaDifference(_ frame: VideoFrame, _ expected: [UInt8]) -> Double {
    frame.withLuma { luma in
        var total = 0
        for y in 0..<luma.height {
            let row = luma.row(y)
            for x in 0..<luma.width { total += abs(Int(row[x]) - Int(expected[y * luma.width + x])) }
        }
        return Double(total) / Double(luma.width * luma.height)
    }
}

/// All frames of a file, with the reader's final state.
func decodeAll(_ path: String, threads: Int = 2) throws -> (frames: [VideoFrame], reader: VideoReader) {
    let reader = try VideoReader(path: path, options: DecodeOptions(threads: threads))
    var frames: [VideoFrame] = []
    while let frame = try reader.nextFrame() { frames.append(frame) }
    return (frames, reader)
}

/// A PCM WAV file with one second of a tone: audio only, no video stream.
func writeWAV(to path: String) throws {
    let rate = 8000, samples = rate
    var data = Data()
    func le32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { data.append(contentsOf: $0) } }
    func le16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { data.append(contentsOf: $0) } }
    data.append(contentsOf: Array("RIFF".utf8)); le32(36 + samples * 2); data.append(contentsOf: Array("WAVE".utf8))
    data.append(contentsOf: Array("fmt ".utf8)); le32(16); le16(1); le16(1); le32(rate); le32(rate * 2); le16(2); le16(16)
    data.append(contentsOf: Array("data".utf8)); le32(samples * 2)
    for i in 0..<samples { le16(Int(Int16(8000 * sin(Double(i) * 2 * .pi * 440 / Double(rate)))) & 0xFFFF) }
    try data.write(to: URL(fileURLWithPath: path))
}

/// Deterministic pseudo-random bytes (SplitMix64).
func pseudoRandomBytes(count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt8(truncatingIfNeeded: z ^ (z >> 31))
    }
}
