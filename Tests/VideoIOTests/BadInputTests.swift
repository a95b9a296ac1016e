import Foundation
import Testing
import VideoIO

/// Files that are not footage, or are damaged, give a clear error naming the file, or decode what can be
/// decoded with a warning; nothing crashes.
struct BadInputTests {
    /// A 4-second H.264 clip with a moving pattern.
    static func writeClip(_ path: String, frames: Int = 100, fastStart: Bool = true) throws {
        var settings = EncoderSettings(quality: 20)
        settings.fastStart = fastStart
        settings.keyframeInterval = 25
        let writer = try VideoWriter(path: path, width: 320, height: 240, settings: settings)
        for i in 0..<frames { try writer.write(testPattern(width: 320, height: 240, frame: i)) }
        try writer.finish()
    }

    func expectOpenError(_ path: String, kind: VideoIOError.Kind, mentioning words: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let reader = try VideoReader(path: path)
            Issue.record("\(path) opened as \(reader.info.container)/\(reader.info.codec)", sourceLocation: sourceLocation)
        } catch let error as VideoIOError {
            #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix("\(path): "), "the message must start with the file: \(error)", sourceLocation: sourceLocation)
            #expect(error.description.lowercased().contains(words.lowercased()), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("untyped error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func missingFile() {
        expectOpenError("/nonexistent/clip.mp4", kind: .unreadable, mentioning: "No such file")
    }

    @Test func zeroBytes() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("empty.mp4").path
            _ = FileManager.default.createFile(atPath: path, contents: Data())
            expectOpenError(path, kind: .unrecognisedFormat, mentioning: "invalid data")
        }
    }

    @Test func randomBytes() throws {
        try withTemporaryDirectory { dir in
            for seed in UInt64(1)...8 {
                let path = dir.appendingPathComponent("random-\(seed).mp4").path
                _ = FileManager.default.createFile(atPath: path, contents: Data(pseudoRandomBytes(count: 64 * 1024, seed: seed)))
                do {
                    let (frames, _) = try decodeAll(path)
                    // Random bytes may be mistaken for a raw stream; then nothing plausible may come out.
                    Issue.record("random bytes decoded to \(frames.count) frames")
                } catch let error as VideoIOError {
                    #expect(error.description.hasPrefix("\(path): "))
                }
            }
        }
    }

    @Test func textFileNamedMP4() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("notes.mp4").path
            try "camera 7 footage goes here\n".write(toFile: path, atomically: true, encoding: .utf8)
            expectOpenError(path, kind: .unrecognisedFormat, mentioning: "invalid data")
        }
    }

    @Test func audioOnly() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("siren.wav").path
            try writeWAV(to: path)
            expectOpenError(path, kind: .noVideoStream, mentioning: "audio (pcm_s16le)")
        }
    }

    @Test func directory() throws {
        try withTemporaryDirectory { dir in
            expectOpenError(dir.path, kind: .unreadable, mentioning: "is a directory")
        }
    }

    @Test("a clip cut at 50 % with its index first decodes up to the cut and says so")
    func truncatedFastStart() throws {
        try withTemporaryDirectory { dir in
            let full = dir.appendingPathComponent("full.mp4").path
            try Self.writeClip(full)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: full))
            let cut = dir.appendingPathComponent("cut.mp4").path
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
            let (frames, reader) = try decodeAll(cut)
            #expect(frames.count > 10 && frames.count < 90, "decoded \(frames.count) of 100 frames")
            #expect(reader.stats.truncated)
            #expect(reader.warnings.contains { $0.hasPrefix("\(cut): truncated") }, "\(reader.warnings)")
            #expect(zip(frames, frames.dropFirst()).allSatisfy { $0.pts < $1.pts })
        }
    }

    @Test("a clip cut at 50 % with its index last cannot be opened, and the error names it")
    func truncatedIndexLast() throws {
        try withTemporaryDirectory { dir in
            let full = dir.appendingPathComponent("full.mp4").path
            try Self.writeClip(full, fastStart: false)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: full))
            let cut = dir.appendingPathComponent("cut-index-last.mp4").path
            try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
            expectOpenError(cut, kind: .unrecognisedFormat, mentioning: "invalid data")
        }
    }

    @Test("bytes flipped inside the media data are counted, and decoding goes on to the end")
    func bitFlips() throws {
        try withTemporaryDirectory { dir in
            let full = dir.appendingPathComponent("full.mp4").path
            try Self.writeClip(full)
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: full)))
            let noise = pseudoRandomBytes(count: 400, seed: 42)
            // Flip bytes in the second half, well past the header and index.
            for k in 0..<200 {
                let position = bytes.count / 2 + (Int(noise[2 * k]) << 8 | Int(noise[2 * k + 1])) % (bytes.count / 2 - 16)
                bytes[position] ^= 0xFF
            }
            let damaged = dir.appendingPathComponent("damaged.mp4").path
            try Data(bytes).write(to: URL(fileURLWithPath: damaged))
            let (frames, reader) = try decodeAll(damaged)
            #expect(frames.count >= 50, "decoding must go on past damage: \(frames.count) frames")
            #expect((frames.last?.pts ?? 0) > 3.6, "decoding must reach the end (3.96 s): last frame at \(frames.last?.pts ?? 0) s")
            #expect(reader.stats.decoderErrors + reader.stats.corruptPackets + reader.stats.corruptFrames > 0)
            #expect(reader.warnings.contains { $0.hasPrefix("\(damaged): damaged stream") }, "\(reader.warnings)")
        }
    }
}
