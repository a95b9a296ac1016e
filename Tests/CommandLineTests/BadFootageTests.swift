import Foundation
import Pipeline
import SceneSynth
import Testing
import VideoIO

/// A night's folder with broken files in it: a corpus mutated from SampleVideo with fixed seeds, beside good files.
/// Every bad file gets one clear line naming it and the reason (also in run.json and the store); every good file is
/// processed exactly as it is alone; no crash, no hang. `ROADWATCH_FUZZ_COUNT=N` adds N more mutations.
struct BadFootageTests {
    /// The first 40 frames of the day junction, H.264 in MP4 with its index first.
    static func goodClip(_ path: String, from start: Int = 0) throws {
        let source = try VideoReader(path: packageRoot.appendingPathComponent("SampleVideo/junction-day.mp4").path)
        let writer = try VideoWriter(path: path, width: 1280, height: 720, settings: EncoderSettings(frameRate: FrameRate(25), quality: 24, keyframeInterval: 10))
        while let frame = try source.nextFrame(), frame.index < start + 40 { if frame.index >= start { try writer.write(frame.picture()) } }
        try writer.finish()
    }

    static func offset(of pattern: String, in data: Data) -> Int? {
        let p = Array(pattern.utf8)
        let bytes = [UInt8](data)
        guard bytes.count >= p.count else { return nil }
        for i in 0...(bytes.count - p.count) where bytes[i] == p[0] && Array(bytes[i..<(i + p.count)]) == p { return i }
        return nil
    }

    /// name → bytes. At least 50 mutations of `clip`, plus files that are not video at all.
    static func corpus(_ clip: Data, extra: Int) throws -> [(String, Data)] {
        var g = SceneRandom(seed: 20_261_125)
        var out: [(String, Data)] = []
        let mdat = offset(of: "mdat", in: clip) ?? clip.count / 4
        let media = (mdat + 8)..<clip.count
        out.append(("zero.mp4", Data()))
        for size in [1024, 65_536, 300_000] {
            out.append(("random-\(size).mp4", Data((0..<size).map { _ in UInt8(truncatingIfNeeded: g.next()) })))
        }
        for share in [10, 50, 90] { out.append(("truncated-\(share).mp4", clip.prefix(clip.count * share / 100))) }
        // Bit flips and byte deletions inside the media data.
        for (k, flips) in [1, 10, 100, 1000, 5000].enumerated() {
            for seed in 0..<5 {
                var d = clip
                var local = SceneRandom(seed: UInt64(1000 * k + seed + 1))
                for _ in 0..<flips { let i = media.lowerBound + local.below(media.count); d[i] ^= UInt8(1 << local.below(8)) }
                out.append(("flips-\(flips)-\(seed).mp4", d))
            }
        }
        for (k, deletions) in [1, 5, 50, 500].enumerated() {
            for seed in 0..<5 {
                var d = clip
                var local = SceneRandom(seed: UInt64(5000 + 100 * k + seed))
                for _ in 0..<deletions {
                    let at = media.lowerBound + local.below(max(1, d.count - media.lowerBound - 16))
                    d.removeSubrange(at..<(at + 1 + local.below(8)))
                }
                out.append(("deleted-\(deletions)-\(seed).mp4", d))
            }
        }
        // Corrupted headers: the file type box, the movie box, the sample description.
        for (name, at) in [("ftyp", 0), ("moov", offset(of: "moov", in: clip) ?? 32), ("stsd", offset(of: "stsd", in: clip) ?? 64)] {
            var d = clip
            for i in at..<min(d.count, at + 48) { d[i] = UInt8(truncatingIfNeeded: g.next()) }
            out.append(("header-\(name).mp4", d))
        }
        // An unsupported codec (the sample entry renamed) and absurd dimensions in the sample entry.
        if let avc1 = offset(of: "avc1", in: clip) {
            out.append(("codec-unknown.avi", try unknownCodecAVI()))
            var e = clip
            for i in (avc1 + 28)..<(avc1 + 32) { e[i] = 0xFF }
            out.append(("size-65535.mp4", e))
        }
        // Not video at all.
        out.append(("notes.mp4", Data("These are the operator's notes, not a video.\n".utf8)))
        var wav = Data("RIFF".utf8) + le32(36 + 16000) + Data("WAVEfmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(8000) + le32(16000) + le16(2) + le16(16)
        wav += Data("data".utf8) + le32(16000) + Data(count: 16000)
        out.append(("audio-only.wav", wav))
        let still = try JPEGWriter().encode(Picture(width: 320, height: 240, format: .yuv420p, fill: (90, 128, 128)))
        out.append(("still.jpg", Data(still)))
        for k in 0..<extra {
            var d = clip
            var local = SceneRandom(seed: UInt64(90_000 + k))
            for _ in 0..<(1 + local.below(200)) { let i = local.below(d.count); d[i] = UInt8(truncatingIfNeeded: local.next()) }
            out.append(("extra-\(k).mp4", d))
        }
        return out
    }

    /// An MPEG-4 AVI whose codec tag is renamed to one no decoder claims.
    static func unknownCodecAVI() throws -> Data {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-codec-\(UUID().uuidString).avi").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try VideoWriter(path: path, width: 160, height: 120, settings: EncoderSettings(codec: .mpeg4, frameRate: FrameRate(25), quality: 5))
        for i in 0..<10 { try writer.write(Picture(width: 160, height: 120, format: .yuv420p, fill: (UInt8(40 + 10 * i), 128, 128))) }
        try writer.finish()
        var d = try Data(contentsOf: URL(fileURLWithPath: path))
        for tag in ["FMP4", "fmp4", "DIVX", "XVID", "mp4v"] {
            while let at = offset(of: tag, in: d) { d.replaceSubrange(at..<(at + 4), with: Array("QQQQ".utf8)) }
        }
        return d
    }

    static func le32(_ v: Int) -> Data { Data([UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8((v >> 24) & 0xFF)]) }
    static func le16(_ v: Int) -> Data { Data([UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)]) }

    @Test("a folder of broken files and good ones: each bad file named once with its reason, the good ones as if alone, no crash")
    func corpusRun() throws {
        try withTemporaryDirectory { dir in
            let folder = dir.appendingPathComponent("night")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let clipPath = dir.appendingPathComponent("clip.mp4").path
            try Self.goodClip(clipPath)
            let clip = try Data(contentsOf: URL(fileURLWithPath: clipPath))
            let extra = ProcessInfo.processInfo.environment["ROADWATCH_FUZZ_COUNT"].flatMap(Int.init) ?? 0
            let corpus = try Self.corpus(clip, extra: extra)
            #expect(corpus.filter { $0.0.hasSuffix(".mp4") && !["zero.mp4", "notes.mp4"].contains($0.0) && !$0.0.hasPrefix("random") }.count >= 50)
            for (name, data) in corpus { try data.write(to: folder.appendingPathComponent(name)) }
            try Self.goodClip(folder.appendingPathComponent("good-a.mp4").path)
            try Self.goodClip(folder.appendingPathComponent("good-b.mp4").path, from: 200)
            // A quick pipeline: the junction's, analysed at 160 px.
            let pipeline = dir.appendingPathComponent("quick.yaml").path
            try quickJunctionPipeline(width: 160).write(toFile: pipeline, atomically: true, encoding: .utf8)

            let out = dir.appendingPathComponent("out").path
            let result = try CLI.run(["run", pipeline, folder.path, "--out", out, "--jobs", "2", "--no-evidence", "--plain"])
            if result.status != 3 { try? result.stderr.write(toFile: "/tmp/bad-stderr.txt", atomically: true, encoding: .utf8) }
            #expect(result.status == 3, "status \(result.status)")
            let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
            let lines = result.stderr.split(separator: "\n").map(String.init)
            let store = try Store(path: out + "/roadwatch.sqlite")
            let rows = Dictionary(try store.inputs().map { (($0.path as NSString).lastPathComponent, $0) }, uniquingKeysWith: { a, _ in a })
            var failed = 0
            for name in names {
                let path = folder.appendingPathComponent(name).path
                let errors = lines.filter { $0.hasPrefix("error: \(path): ") }
                let done = lines.filter { $0.hasPrefix("done \(path): ") }
                #expect(errors.count + done.count == 1, "\(name): \(errors) \(done)")
                let row = try #require(rows[name], "\(name) is not in the store")
                if !errors.isEmpty {
                    failed += 1
                    #expect(row.status == "failed" && row.error?.hasPrefix(path + ": ") == true, "\(name): \(row.error ?? "-")")
                } else {
                    #expect(row.status == "done")
                }
            }
            // These can never be footage.
            for name in ["zero.mp4", "random-1024.mp4", "random-65536.mp4", "random-300000.mp4", "notes.mp4", "audio-only.wav", "still.jpg",
                         "truncated-10.mp4", "codec-unknown.avi", "header-ftyp.mp4"] {
                #expect(rows[name]?.status == "failed", "\(name) was \(rows[name]?.status ?? "missing")")
            }
            #expect(rows["good-a.mp4"]?.status == "done" && rows["good-b.mp4"]?.status == "done")
            #expect(failed >= 10)
            let run = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/run.json"))) as! [String: Any]
            let inputs = run["inputs"] as! [[String: Any]]
            #expect(inputs.count == names.count)
            #expect(inputs.filter { $0["status"] as? String == "failed" }.allSatisfy { ($0["error"] as? String)?.isEmpty == false })
            #expect(try store.integrityCheck() == "ok")

            // The good files alone give the same analysis, byte for byte.
            let alone = dir.appendingPathComponent("alone").path
            let single = try CLI.run(["run", pipeline, folder.appendingPathComponent("good-a.mp4").path, folder.appendingPathComponent("good-b.mp4").path,
                                      "--out", alone, "--no-evidence", "--plain"])
            #expect(single.status == 0)
            let tracks = try FileManager.default.contentsOfDirectory(atPath: alone + "/tracks").filter { $0.hasSuffix(".json") }
            #expect(tracks.count == 2)
            for t in tracks {
                #expect(try Data(contentsOf: URL(fileURLWithPath: alone + "/tracks/" + t)) == Data(contentsOf: URL(fileURLWithPath: out + "/tracks/" + t)), "\(t)")
            }
        }
    }

    @Test("a decoder that gives no frame within the stall limit is abandoned: its input fails as stalled, the run goes on")
    func stallWatchdog() throws {
        try withTemporaryDirectory { dir in
            let clip = dir.appendingPathComponent("slow.mp4").path
            try Self.goodClip(clip)
            let out = dir.appendingPathComponent("out").path
            let started = Date()
            let result = try CLI.run(["run", packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path, clip, "--out", out, "--plain",
                                      "--no-evidence"], environment: ["ROADWATCH_STALL_SECONDS": "1", "ROADWATCH_TEST_DECODE_DELAY_MS": "3000"])
            #expect(result.status == 3, "\(result.stderr)")
            #expect(result.stderr.contains("error: \(clip): stalled: the decoder gave no frame for 1 s after frame 0; abandoned"), "\(result.stderr)")
            #expect(Date().timeIntervalSince(started) < 30)
            #expect(try Store(path: out + "/roadwatch.sqlite").inputs().first?.status == "failed")
        }
    }

    @Test("a pipe among the inputs is refused at once, not read forever (nor opened to check the geometry)")
    func pipeInput() throws {
        try withTemporaryDirectory { dir in
            let fifo = dir.appendingPathComponent("camera.mp4").path
            #expect(mkfifo(fifo, 0o644) == 0)
            let out = dir.appendingPathComponent("out").path
            let result = try CLI.run(["run", packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path, fifo, "--out", out, "--plain"], timeout: 60)
            #expect(result.status == 3)
            #expect(result.stderr.contains("error: \(fifo): not a regular file (a pipe or socket)"), "\(result.stderr)")
        }
    }
}
