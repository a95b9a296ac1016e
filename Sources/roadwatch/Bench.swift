import ArgumentParser
import Foundation
import Pipeline
import VideoIO

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure Roadwatch against FFmpeg on the same clips and machine.",
        subcommands: [BenchDecode.self, BenchTrack.self, BenchRules.self, BenchRun.self]
    )
}

struct BenchDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode-only throughput of VideoReader against `ffmpeg -threads N -i CLIP -f null -`.",
        discussion: """
            Runs the two decoders in alternation on each clip (best of --repeats runs each) and prints frames per \
            second and their ratio. With --markdown FILE the table replaces the decode section of that file \
            (BENCHMARKS.md), with date, commit and machine.
            """
    )

    @Option(help: "Decoder threads for both decoders.")
    var threads = 2

    @Option(help: "Runs of each decoder per clip; the fastest counts.")
    var repeats = 3

    @Option(help: "Write the result table into this Markdown file (its decode section is replaced).")
    var markdown: String?

    @Option(help: "The ffmpeg command to compare against.")
    var ffmpeg = "ffmpeg"

    @Argument(help: "Clips to decode.", completion: .file())
    var clips: [String]

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
    }

    func run() throws {
        let haveCLI = DecodeBenchmark.findExecutable(ffmpeg) != nil
        if !haveCLI { printError("warning: '\(ffmpeg)' not found; only Roadwatch is measured (`make bench` installs it)") }
        var results: [DecodeBenchmark.Result] = []
        for clip in clips {
            do {
                let result = try DecodeBenchmark.measure(clip: clip, threads: threads, repeats: repeats, ffmpeg: haveCLI ? ffmpeg : nil)
                results.append(result)
                print(result.line)
            } catch {
                printError("error: \(error)")
            }
        }
        let table = DecodeBenchmark.markdown(results, threads: threads)
        print("\n" + table)
        if let markdown {
            try DecodeBenchmark.replaceSection(in: markdown, name: "decode", with: table)
            print("wrote \(markdown)")
        }
        if results.count < clips.count { throw ExitStatus.someInputsFailed }
    }
}

enum DecodeBenchmark {
    struct Result {
        var clip: String
        var info: MediaInfo
        var frames: Int
        var roadwatchSeconds: Double
        var ffmpegSeconds: Double?
        /// This process's peak resident set after the clip, in MiB.
        var peakRSSMiB: Double

        var roadwatchFPS: Double { Double(frames) / roadwatchSeconds }
        var ffmpegFPS: Double? { ffmpegSeconds.map { Double(frames) / $0 } }
        var ratio: Double? { ffmpegSeconds.map { $0 / roadwatchSeconds } }
        var line: String {
            let name = (clip as NSString).lastPathComponent
            let cli = ffmpegFPS.map { String(format: "ffmpeg %.1f fps, ratio %.3f", $0, ratio!) } ?? "ffmpeg not measured"
            return String(format: "%@: %d frames, roadwatch %.1f fps, ", name, frames, roadwatchFPS) + cli
                + String(format: ", peak RSS %.1f MiB", peakRSSMiB)
        }
    }

    static func measure(clip: String, threads: Int, repeats: Int, ffmpeg: String?) throws -> Result {
        var best = Double.infinity, bestCLI = Double.infinity
        var frames = 0
        var info: MediaInfo?
        for _ in 0..<repeats {
            if let ffmpeg {
                bestCLI = min(bestCLI, try timeCommand(ffmpeg, ["-hide_banner", "-nostdin", "-loglevel", "error", "-threads", String(threads),
                                                               "-i", clip, "-map", "0:v:0", "-f", "null", "-"]))
            }
            let start = monotonicSeconds()
            let reader = try VideoReader(path: clip, options: DecodeOptions(threads: threads))
            var count = 0
            var checksum = 0
            while let frame = try reader.nextFrame() {
                checksum &+= frame.withLuma { Int($0[0, 0]) }
                count += 1
            }
            best = min(best, monotonicSeconds() - start)
            frames = count
            info = reader.info
            _ = checksum
        }
        return Result(clip: clip, info: info!, frames: frames, roadwatchSeconds: best, ffmpegSeconds: ffmpeg == nil ? nil : bestCLI,
                      peakRSSMiB: PeakMemory.residentMiB())
    }

    static func markdown(_ results: [Result], threads: Int) -> String {
        var lines = [
            "Measured \(timestamp()) at commit \(commit()) on \(machine()); decoder threads: \(threads); best of repeated runs.",
            "",
            "| clip | codec | size | frames | ffmpeg CLI fps | VideoReader fps | VideoReader / CLI | peak RSS MiB |",
            "|---|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in results {
            let cli = r.ffmpegFPS.map { String(format: "%.1f", $0) } ?? "-"
            let ratio = r.ratio.map { String(format: "%.3f", $0) } ?? "-"
            lines.append("| \((r.clip as NSString).lastPathComponent) | \(r.info.codec) | \(r.info.width)x\(r.info.height) | \(r.frames) | \(cli) | \(String(format: "%.1f", r.roadwatchFPS)) | \(ratio) | \(String(format: "%.0f", r.peakRSSMiB)) |")
        }
        return lines.joined(separator: "\n")
    }

    /// Replaces the text between `<!-- bench:NAME:begin -->` and `<!-- bench:NAME:end -->`, appending the section if absent.
    static func replaceSection(in path: String, name: String, with body: String) throws {
        let begin = "<!-- bench:\(name):begin -->", end = "<!-- bench:\(name):end -->"
        var text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "# Benchmarks\n"
        let block = "\(begin)\n\(body)\n\(end)"
        if let b = text.range(of: begin), let e = text.range(of: end), b.upperBound <= e.lowerBound {
            text.replaceSubrange(b.lowerBound..<e.upperBound, with: block)
        } else {
            text += "\n\(block)\n"
        }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func timeCommand(_ command: String, _ arguments: [String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: findExecutable(command) ?? command)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        let start = monotonicSeconds()
        try process.run()
        process.waitUntilExit()
        let elapsed = monotonicSeconds() - start
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(command) exited with status \(process.terminationStatus)")
        }
        return elapsed
    }

    static func findExecutable(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func output(_ command: String, _ arguments: [String]) -> String? {
        guard let executable = findExecutable(command) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    static func timestamp() -> String { ISO8601DateFormatter().string(from: Date()) }
    static func commit() -> String { output("git", ["rev-parse", "--short", "HEAD"]) ?? "unknown" }
    static func machine() -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let ffmpegVersion = output("ffmpeg", ["-version"])?.split(separator: " ").prefix(3).joined(separator: " ") ?? "ffmpeg CLI absent"
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu), \(ffmpegVersion)"
    }
}
