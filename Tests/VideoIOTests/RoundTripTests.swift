import Foundation
import Testing
import TrafficModel
import VideoIO

/// Clips written by VideoWriter in the test itself, read back by VideoReader: frame counts, timestamps,
/// metadata and pixels survive within the codec's tolerance, in every container and pixel format Roadwatch meets.
struct RoundTripTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        var codec: EncoderSettings.Codec
        var pixelFormat: String?
        /// Mean absolute luma error allowed after the round trip.
        var tolerance: Double
        var expectConverted: Bool
        var testDescription: String { "\(file) \(codec.rawValue) \(pixelFormat ?? "default")" }
    }

    static let cases: [Case] = [
        Case(file: "a.mp4", codec: .h264, pixelFormat: nil, tolerance: 2.0, expectConverted: false),
        Case(file: "b.mkv", codec: .h264, pixelFormat: "yuv444p", tolerance: 2.0, expectConverted: true),
        Case(file: "c.mp4", codec: .h264, pixelFormat: "yuv420p10le", tolerance: 2.0, expectConverted: true),
        Case(file: "d.mkv", codec: .hevc, pixelFormat: nil, tolerance: 2.5, expectConverted: false),
        Case(file: "e.avi", codec: .mpeg4, pixelFormat: nil, tolerance: 3.0, expectConverted: false),
        Case(file: "f.ts", codec: .h264, pixelFormat: nil, tolerance: 2.0, expectConverted: false),
        Case(file: "g.mov", codec: .mjpeg, pixelFormat: "yuvj422p", tolerance: 2.5, expectConverted: true),
        Case(file: "h.mkv", codec: .ffv1, pixelFormat: "bgr0", tolerance: 1.0, expectConverted: true),
        Case(file: "i.mkv", codec: .ffv1, pixelFormat: "gray", tolerance: 1.0, expectConverted: false),
        Case(file: "j.avi", codec: .rawvideo, pixelFormat: "yuv420p", tolerance: 0.6, expectConverted: false),
    ]

    @Test("write, read back, compare", arguments: cases)
    func roundTrip(_ c: Case) throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent(c.file).path
            let width = 320, height = 240, count = 30
            let start = try #require(ISO8601Instant.parse("2026-03-14T08:30:00Z"))
            var settings = EncoderSettings(codec: c.codec, frameRate: FrameRate(25), pixelFormat: c.pixelFormat, quality: c.codec == .h264 || c.codec == .hevc ? 18 : 3)
            settings.keyframeInterval = 10
            settings.creationTime = start
            let writer = try VideoWriter(path: path, width: width, height: height, settings: settings)
            let pictures = (0..<count).map { testPattern(width: width, height: height, frame: $0) }
            for p in pictures { try writer.write(p) }
            try writer.finish()
            #expect(writer.framesWritten == count)
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent(".\(c.file).partial").path))

            let (frames, reader) = try decodeAll(path)
            #expect(frames.count == count)
            #expect(reader.info.width == width && reader.info.height == height)
            #expect(reader.stats.decoderErrors == 0 && reader.stats.corruptPackets == 0)
            #expect((reader.stats.convertedFrames > 0) == c.expectConverted, "pixel format \(reader.info.pixelFormat)")
            for (i, frame) in frames.enumerated() {
                #expect(abs(frame.pts - Double(i) / 25) < 0.002, "frame \(i) at \(frame.pts) s")
            }
            #expect(frames.filter(\.isKeyFrame).count >= 3 || c.codec == .mjpeg || c.codec == .ffv1 || c.codec == .rawvideo)
            for i in [0, count / 2, count - 1] {
                let frame = frames[i]
                let expected = lumaOf(pictures[i])
                let error = frame.isFullRange ? videoRangeLumaDifference(frame, expected: expected) : meanAbsoluteLumaDifference(frame, expected)
                #expect(error < c.tolerance, "frame \(i): mean luma error \(error)")
            }
            if path.hasSuffix(".mp4") || path.hasSuffix(".mov") || path.hasSuffix(".mkv") {
                #expect(reader.info.creationTime == start, "creation_time \(reader.info.creationTimeText ?? "missing")")
            }
        }
    }

    @Test("the moving square is where it was drawn")
    func squarePosition() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("square.mp4").path
            let writer = try VideoWriter(path: path, width: 320, height: 240, settings: EncoderSettings(quality: 18))
            for i in 0..<20 { try writer.write(testPattern(width: 320, height: 240, frame: i)) }
            try writer.finish()
            let (frames, _) = try decodeAll(path)
            for frame in frames {
                // Brightest column run on the square's middle row starts at x = 16 + 4 * index.
                let x = frame.withLuma { luma -> Int in
                    let row = luma.row(240 / 3 + 20)
                    return (0..<luma.width).first { row[$0] > 200 } ?? -1
                }
                #expect(abs(x - (16 + 4 * frame.index)) <= 1, "frame \(frame.index): square at x=\(x)")
            }
        }
    }

    @Test("JPEG stills decode back to the picture")
    func jpegRoundTrip() throws {
        try withTemporaryDirectory { dir in
            let picture = testPattern(width: 333, height: 201, frame: 5)
            let path = dir.appendingPathComponent("still.jpg").path
            let bytes = try JPEGWriter(quality: 2).write(picture, to: path)
            #expect(bytes.prefix(2) == [0xFF, 0xD8] && bytes.suffix(2) == [0xFF, 0xD9], "JPEG starts with SOI and ends with EOI")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data(bytes))
            let (frames, reader) = try decodeAll(path)
            #expect(reader.info.codec == "mjpeg")
            let frame = try #require(frames.first)
            #expect(frame.width == 333 && frame.height == 201)
            #expect(videoRangeLumaDifference(frame, expected: lumaOf(picture)) < 1.5)
            // Same picture, same bytes: stills are reproducible evidence.
            #expect(try JPEGWriter(quality: 2).encode(picture) == bytes)
        }
    }

    @Test("a writer dropped before finish leaves no file behind")
    func abandonedWriter() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("abandoned.mp4").path
            do {
                let writer = try VideoWriter(path: path, width: 64, height: 64)
                try writer.write(Picture(width: 64, height: 64, format: .yuv420p))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        }
    }

    @Test("writer errors name the file")
    func writerErrors() throws {
        #expect(throws: VideoIOError.self) { try VideoWriter(path: "/nonexistent-dir/x.mp4", width: 64, height: 64) }
        do {
            _ = try VideoWriter(path: "/nonexistent-dir/x.mp4", width: 64, height: 64)
        } catch let error as VideoIOError {
            #expect(error.description.hasPrefix("/nonexistent-dir/x.mp4: "))
            #expect(error.kind == .write)
        }
        do {
            _ = try VideoWriter(path: "/tmp/x.unknownext", width: 64, height: 64)
        } catch let error as VideoIOError {
            #expect(error.kind == .invalidArgument)
            #expect(error.description.contains("unknownext"))
        }
    }
}

/// Mean absolute luma difference of a full-range frame, mapped to video range, against expected video-range luma.
func videoRangeLumaDifference(_ frame: VideoFrame, expected: [UInt8]) -> Double {
    frame.withLuma { luma in
        var total = 0.0
        for y in 0..<luma.height {
            let row = luma.row(y)
            for x in 0..<luma.width { total += abs(16 + Double(row[x]) * 219 / 255 - Double(expected[y * luma.width + x])) }
        }
        return total / Double(luma.width * luma.height)
    }
}
