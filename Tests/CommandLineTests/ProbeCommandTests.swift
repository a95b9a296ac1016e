import Foundation
import Pipeline
import Testing
import TrafficModel
import VideoIO

/// Runs the built `roadwatch` binary the way an operator would and checks what it prints and returns.
enum CLI {
    static let binary: URL = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("roadwatch"),
            packageRoot.appendingPathComponent(".build/debug/roadwatch"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[1]
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:], timeout: Double = 900) throws -> Result {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // A hung command must fail its test, not hang the suite: killed after `timeout` seconds.
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        // Read both pipes while the process runs so that neither can fill up and block it.
        nonisolated(unsafe) var errData = Data()
        let errReader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
        errReader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errReader.isFinished { usleep(1000) }
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }
}

let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let footageRoot: URL = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/footage")
let footageAvailable = FileManager.default.fileExists(atPath: footageRoot.appendingPathComponent("README.md").path)

/// The sample junction's pipeline analysed at `width` px (quicker than its 640), with the default smallest blob: for
/// tests of what the stages do, not of their accuracy.
func quickJunctionPipeline(width: Int) throws -> String {
    let text = try String(contentsOfFile: packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path, encoding: .utf8)
    let quick = text.replacingOccurrences(of: "analysis_width: 640", with: "analysis_width: \(width)")
        .replacingOccurrences(of: "min_area_px: 45", with: "min_area_px: 20")
    guard quick.contains("analysis_width: \(width)") && quick.contains("min_area_px: 20") else {
        throw CocoaError(.fileReadCorruptFile, userInfo: [NSLocalizedDescriptionKey: "sample-junction.yaml no longer sets analysis_width: 640 and min_area_px: 45"])
    }
    return quick
}

func withTemporaryDirectory<R>(_ body: (URL) throws -> R) throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

/// A small clip with a known creation time.
func writeSampleClip(_ path: String, frames: Int = 25, creationTime: String = "2026-01-02T03:04:05Z") throws {
    var settings = EncoderSettings(frameRate: FrameRate(25))
    settings.creationTime = ISO8601Instant.parse(creationTime)
    let writer = try VideoWriter(path: path, width: 160, height: 120, settings: settings)
    for i in 0..<frames {
        var picture = Picture(width: 160, height: 120, format: .yuv420p, fill: (UInt8(40 + i * 4), 128, 128))
        picture.planes[0][i * 160 + i] = 255
        try writer.write(picture)
    }
    try writer.finish()
}

struct ProbeCommandTests {
    @Test("probe prints one table row per file")
    func table() throws {
        try withTemporaryDirectory { dir in
            let a = dir.appendingPathComponent("cam one.mp4").path, b = dir.appendingPathComponent("cam-two.mkv").path
            try writeSampleClip(a)
            try writeSampleClip(b, frames: 10)
            let result = try CLI.run(["probe", a, b])
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == 4, "header, rule and two rows:\n\(result.stdout)")
            #expect(lines[0].hasPrefix("file"))
            #expect(lines[2].contains("cam one.mp4") && lines[2].contains("h264") && lines[2].contains("160x120") && lines[2].contains("2026-01-02T03:04:05"))
            #expect(lines[3].contains("cam-two.mkv") && lines[3].contains("matroska"))
        }
    }

    @Test("probe --json gives machines every field")
    func json() throws {
        try withTemporaryDirectory { dir in
            let a = dir.appendingPathComponent("clip.mp4").path
            try writeSampleClip(a, frames: 25)
            let result = try CLI.run(["probe", "--json", a])
            #expect(result.status == 0)
            let array = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
            let info = try #require(array.first)
            #expect(info["codec"] as? String == "h264")
            #expect(info["width"] as? Int == 160 && info["height"] as? Int == 120)
            #expect(info["frameCount"] as? Int == 25)
            #expect(info["pixelFormat"] as? String == "yuv420p")
            #expect((info["averageFrameRate"] as? Double).map { abs($0 - 25) < 0.01 } == true)
            #expect((info["duration"] as? Double).map { abs($0 - 1.0) < 0.05 } == true)
            #expect(info["creationTime"] as? String == "2026-01-02T03:04:05Z")
        }
    }

    @Test("a bad file is named on stderr, the others are still probed, and the status is 3")
    func badFileAmongGood() throws {
        try withTemporaryDirectory { dir in
            let good = dir.appendingPathComponent("good.mp4").path
            let bad = dir.appendingPathComponent("bad.mp4").path
            try writeSampleClip(good)
            try "not video".write(toFile: bad, atomically: true, encoding: .utf8)
            let result = try CLI.run(["probe", bad, good, "/nonexistent/missing.avi"])
            #expect(result.status == 3)
            #expect(result.stderr.contains("error: \(bad): cannot open: Invalid data found when processing input"), "\(result.stderr)")
            #expect(result.stderr.contains("error: /nonexistent/missing.avi: cannot open: No such file or directory"), "\(result.stderr)")
            #expect(result.stdout.contains("good.mp4"))
            #expect(!result.stderr.contains("[h264"), "FFmpeg's own log must not leak into the output")
        }
    }

    @Test("probe reads every real clip", .enabled(if: footageAvailable, "../shared/footage is absent"))
    func realFootage() throws {
        let clips = try FileManager.default.subpathsOfDirectory(atPath: footageRoot.path)
            .filter { $0.hasSuffix(".mp4") || $0.hasSuffix(".avi") }.map { footageRoot.appendingPathComponent($0).path }
        #expect(clips.count >= 7)
        let result = try CLI.run(["probe"] + clips)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "damaged clips must not spray FFmpeg's log: \(result.stderr.prefix(300))")
        for codec in ["h264", "mjpeg", "cinepak", "mpeg4"] { #expect(result.stdout.contains(codec)) }
        #expect(result.stdout.contains("2022-09-03T19:32:03"))
    }

    @Test("usage errors exit with status 64 and say what is wrong")
    func usage() throws {
        let result = try CLI.run(["probe"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("Missing expected argument"))
    }
}

struct BenchCommandTests {
    @Test("bench decode measures and writes its Markdown section")
    func benchDecode() throws {
        try withTemporaryDirectory { dir in
            let clip = dir.appendingPathComponent("bench.mp4").path
            try writeSampleClip(clip, frames: 50)
            let markdown = dir.appendingPathComponent("BENCHMARKS.md").path
            try "# Benchmarks\n\nintro stays\n".write(toFile: markdown, atomically: true, encoding: .utf8)
            for _ in 0..<2 {
                let result = try CLI.run(["bench", "decode", "--repeats", "1", "--markdown", markdown, clip])
                #expect(result.status == 0, "\(result.stderr)")
                #expect(result.stdout.contains("bench.mp4: 50 frames, roadwatch"))
            }
            let text = try String(contentsOfFile: markdown, encoding: .utf8)
            #expect(text.contains("intro stays"))
            #expect(text.components(separatedBy: "<!-- bench:decode:begin -->").count == 2, "the section is replaced, not appended twice")
            #expect(text.contains("| bench.mp4 | h264 | 160x120 | 50 |"))
        }
    }

    @Test("bench track measures detection and tracking per frame against decoding")
    func benchTrack() throws {
        try withTemporaryDirectory { dir in
            let clip = dir.appendingPathComponent("stages.mp4").path
            try writeSampleClip(clip, frames: 50)
            let markdown = dir.appendingPathComponent("BENCHMARKS.md").path
            let result = try CLI.run(["bench", "track", "--repeats", "3", "--markdown", markdown, clip])
            #expect(result.status == 0, "\(result.stderr)")
            let row = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("| stages.mp4 | 160x120 | 50 |") })
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(cells.count == 7 && cells[3...].allSatisfy { Double($0).map { $0 >= 0 } == true }, "\(row)")
            let text = try String(contentsOfFile: markdown, encoding: .utf8)
            #expect(text.contains("<!-- bench:track:begin -->") && text.contains("medians of 3 alternated runs"))
            let none = try CLI.run(["bench", "track", "--repeats", "0", clip])
            #expect(none.status != 0 && none.stderr.contains("--repeats must be at least 1"), "\(none.stderr)")
        }
    }
}

struct MemoryFlatnessTests {
    /// Peak RSS in MiB from a `bench decode` line ("..., peak RSS 74.2 MiB").
    func peak(_ output: String) -> Double? {
        guard let range = output.range(of: "peak RSS ") else { return nil }
        return Double(output[range.upperBound...].prefix { $0.isNumber || $0 == "." })
    }

    @Test("decoding a clip 12 times peaks no higher than decoding it twice")
    func flatMemory() throws {
        try withTemporaryDirectory { dir in
            let clip = dir.appendingPathComponent("flat.mp4").path
            var settings = EncoderSettings(frameRate: FrameRate(25))
            settings.keyframeInterval = 12
            let writer = try VideoWriter(path: clip, width: 640, height: 360, settings: settings)
            for i in 0..<100 { try writer.write(Picture(width: 640, height: 360, format: .yuv420p, fill: (UInt8(16 + i), UInt8(128 + i % 20), 128))) }
            try writer.finish()
            // Each repeat opens the file afresh and decodes all 100 frames (345 KB each); a leak of one frame per
            // repeat would add 3.4 MB over ten repeats, a leaked decoder far more.
            // The child reports VmHWM, its own image's peak: ru_maxrss (used before) also carried this test runner's
            // peak over into the child at exec (posix_spawn is a vfork), so the later of the two commands reported
            // the runner's growing RSS under the parallel suite (27.7 MiB "growth" in CI).
            let short = try CLI.run(["bench", "decode", "--repeats", "2", "--ffmpeg", "/nonexistent/ffmpeg", clip])
            let long = try CLI.run(["bench", "decode", "--repeats", "12", "--ffmpeg", "/nonexistent/ffmpeg", clip])
            #expect(short.status == 0 && long.status == 0, "\(short.stderr) \(long.stderr)")
            let a = try #require(peak(short.stdout)), b = try #require(peak(long.stdout))
            #expect(b - a < 3, "peak RSS grew from \(a) MiB to \(b) MiB")
        }
    }

    @Test("a command's peak RSS is its own, not that of the process that started it")
    func ownPeak() throws {
        // This runner touches 400 MiB, then starts `bench decode` (a ~65 MiB process) and `run`: both must report
        // their own peaks, as run.json's peakRSSMiB and bench run's table rely on.
        let ballast = UnsafeMutableRawBufferPointer.allocate(byteCount: 400 << 20, alignment: 4096)
        defer { ballast.deallocate() }
        for offset in stride(from: 0, to: ballast.count, by: 4096) { ballast[offset] = 1 }
        let decode = try CLI.run(["bench", "decode", "--repeats", "1", "--ffmpeg", "/nonexistent/ffmpeg", packageRoot.appendingPathComponent("SampleVideo/junction-day.mp4").path])
        let peakDecode = try #require(peak(decode.stdout), "\(decode.stdout) \(decode.stderr)")
        #expect(peakDecode > 20 && peakDecode < 300, "bench decode reported \(peakDecode) MiB")
        try withTemporaryDirectory { dir in
            let out = dir.appendingPathComponent("out").path
            let run = try CLI.run(["run", packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path, packageRoot.appendingPathComponent("SampleVideo/junction-day.mp4").path, "--out", out, "--no-evidence", "--plain"])
            #expect(run.status == 0, "\(run.stderr)")
            let summary = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/run.json")))
            let peakRun = try #require(summary.peakRSSMiB)
            #expect(peakRun > 20 && peakRun < 300, "run.json reports \(peakRun) MiB")
        }
        _ = ballast[0]
    }
}
