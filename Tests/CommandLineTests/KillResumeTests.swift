import Foundation
import Pipeline
import Testing
import VideoIO

/// A batch machine killed again and again: ten SIGKILLs at different moments (decoding, writing evidence,
/// committing) of a three-file run with `--jobs 2`, each followed by a resume; the end result is the same, byte for
/// byte, as an uninterrupted run, the store passes SQLite's integrity check after every kill, and no temporary file
/// is left.
struct KillResumeTests {
    /// Overlapping pieces of the day junction (three by default), each with its own creation_time.
    static func pieces(into dir: URL, ranges: [Range<Int>] = [0..<350, 175..<525, 400..<750]) throws {
        let source = try VideoReader(path: packageRoot.appendingPathComponent("SampleVideo/junction-day.mp4").path)
        let start = try #require(source.info.creationTime)
        var writers: [VideoWriter] = []
        for (k, r) in ranges.enumerated() {
            var settings = EncoderSettings(frameRate: FrameRate(25), quality: 20)
            settings.creationTime = start.addingTimeInterval(Double(r.lowerBound) / 25)
            writers.append(try VideoWriter(path: dir.appendingPathComponent(String(format: "piece-%02d.mp4", k + 1)).path, width: 1280, height: 720, settings: settings))
        }
        while let frame = try source.nextFrame() {
            let picture = frame.picture()
            for (k, r) in ranges.enumerated() where r.contains(frame.index) { try writers[k].write(picture) }
        }
        for w in writers { try w.finish() }
    }

    /// The three pieces in `dir/footage`, and the junction's pipeline analysed at 240 px (quicker) in `dir`.
    static func piecesAndPipeline(in dir: URL) throws -> (footage: URL, pipeline: String) {
        let footage = dir.appendingPathComponent("footage")
        try FileManager.default.createDirectory(at: footage, withIntermediateDirectories: true)
        try pieces(into: footage)
        let pipeline = dir.appendingPathComponent("junction.yaml").path
        try quickJunctionPipeline(width: 240).write(toFile: pipeline, atomically: true, encoding: .utf8)
        return (footage, pipeline)
    }

    func storeContents(_ dir: String) throws -> [String] {
        let store = try Store(path: dir + "/roadwatch.sqlite")
        let inputs = try store.inputs().map { "\($0.key) \($0.path) \($0.sha256) \($0.status) \($0.frames) \($0.durationS)" }
        let violations = try store.violations(pipelineSha256: try #require(try store.inputs().first?.pipelineSha256))
            .map { "\($0.id) \($0.inputKey) \($0.duplicateOf ?? "-") \($0.json)" }.sorted()
        let evidence = try store.evidence().map { "\($0.recordID) \($0.kind) \($0.path) \($0.sha256)" }
        return inputs + violations + evidence
    }

    @Test("ten kills and resumes end exactly where an uninterrupted run ends")
    func killTenTimes() throws {
        try withTemporaryDirectory { dir in
            let (footage, pipeline) = try Self.piecesAndPipeline(in: dir)

            let whole = dir.appendingPathComponent("whole").path
            let uninterrupted = try CLI.run(["run", pipeline, footage.path, "--out", whole, "--jobs", "2", "--plain"])
            #expect(uninterrupted.status == 0, "\(uninterrupted.stderr)")
            let expected = try Data(contentsOf: URL(fileURLWithPath: whole + "/violations.jsonl"))
            #expect(!expected.isEmpty, "the pieces should hold violations")

            let killed = dir.appendingPathComponent("killed").path
            var finishedEarly = 0
            for delay in [0.3, 1.0, 2.0, 3.5, 5.0, 6.5, 8.0, 2.5, 4.5, 7.0] {
                let process = Process()
                process.executableURL = CLI.binary
                process.arguments = ["run", pipeline, footage.path, "--out", killed, "--jobs", "2", "--plain"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                let deadline = Date(timeIntervalSinceNow: delay)
                while process.isRunning && Date() < deadline { usleep(20_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) } else { finishedEarly += 1 }
                process.waitUntilExit()
                if FileManager.default.fileExists(atPath: killed + "/roadwatch.sqlite") {
                    #expect(try Store(path: killed + "/roadwatch.sqlite").integrityCheck() == "ok", "after a kill at \(delay) s")
                }
                if finishedEarly > 0 { break }
            }
            let resumed = try CLI.run(["run", pipeline, footage.path, "--out", killed, "--jobs", "2", "--plain"])
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: killed + "/violations.jsonl")) == expected)
            #expect(try storeContents(killed) == storeContents(whole))
            let evidenceA = try FileManager.default.contentsOfDirectory(atPath: whole + "/evidence").sorted()
            let evidenceB = try FileManager.default.contentsOfDirectory(atPath: killed + "/evidence").sorted()
            #expect(evidenceA == evidenceB)
            for name in evidenceA {
                #expect(try Data(contentsOf: URL(fileURLWithPath: whole + "/evidence/" + name)) == Data(contentsOf: URL(fileURLWithPath: killed + "/evidence/" + name)), "\(name)")
            }
            let leftovers = FileManager.default.enumerator(atPath: killed)!.compactMap { $0 as? String }
                .filter { ($0 as NSString).lastPathComponent.hasPrefix(".") }
            #expect(leftovers.isEmpty, "\(leftovers)")
        }
    }
}
