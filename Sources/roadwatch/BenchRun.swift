import ArgumentParser
import Foundation
import Pipeline
import VideoIO

/// The whole pipeline against FFmpeg's decoder on the same clip: the performance issue's figures in one run.
struct BenchRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Full `roadwatch run` throughput and memory against `ffmpeg -threads N -i CLIP -f null -`, with a per-stage breakdown.",
        discussion: """
            Each --case PIPELINE=CLIP is measured in one go: the ffmpeg CLI decoding the clip, VideoReader decoding it in \
            full and as the analysis decodes it (no deblocking), then `roadwatch run` in a child process with evidence \
            and without (one job, its default decoder threads unless --run-threads), its wall time, and from its run.json its peak RSS (its own VmHWM) and the CPU \
            milliseconds per frame of each stage. Best of --repeats for every timing. With --markdown FILE the table \
            replaces the run section of that file (BENCHMARKS.md).
            """
    )

    @Option(name: .customLong("case"), help: "PIPELINE.yaml=CLIP (repeatable).")
    var cases: [String]

    @Option(help: "Threads for the ffmpeg CLI and for VideoReader's decode-only runs (the issue's yardstick: 2).")
    var threads = 2

    @Option(help: "Decoder threads for `roadwatch run` (default: run's own default, each job's share of the cores plus four, at most 6).")
    var runThreads: Int?

    @Option(help: "Runs of each measurement; the fastest counts (peak RSS: the largest).")
    var repeats = 1

    @Option(help: "Write the result table into this Markdown file (its run section is replaced).")
    var markdown: String?

    @Option(help: "The ffmpeg command to compare against.")
    var ffmpeg = "ffmpeg"

    func validate() throws {
        guard !cases.isEmpty else { throw ValidationError("give at least one --case PIPELINE=CLIP") }
        for c in cases where !c.contains("=") { throw ValidationError("--case \(c): expected PIPELINE.yaml=CLIP") }
        guard threads >= 1, repeats >= 1 else { throw ValidationError("--threads and --repeats must be at least 1") }
    }

    struct Row {
        var clip: String
        var size: String
        var frames: Int
        var ffmpegFPS: Double?
        var decodeFPS: Double
        var analysisDecodeFPS: Double
        var runFPS: Double
        var runNoEvidenceFPS: Double
        var peakRSSMiB: Double
        var peakRSSNoEvidenceMiB: Double
        var violations: Int
        var cpu: StageCPU?
    }

    func run() throws {
        let haveCLI = DecodeBenchmark.findExecutable(ffmpeg) != nil
        if !haveCLI { printError("warning: '\(ffmpeg)' not found; ratios to FFmpeg are not measured (`make bench` installs it)") }
        var rows: [Row] = []
        for c in cases {
            let parts = c.split(separator: "=", maxSplits: 1).map(String.init)
            do { rows.append(try measure(pipeline: parts[0], clip: parts[1], ffmpeg: haveCLI ? ffmpeg : nil)) } catch {
                printError("error: \(parts[1]): \(error)")
            }
        }
        let table = Self.markdown(rows, threads: threads, runThreads: runThreads ?? RunOptions.decoderThreads(jobs: 1))
        print("\n" + table)
        if let markdown {
            try DecodeBenchmark.replaceSection(in: markdown, name: "run", with: table)
            print("wrote \(markdown)")
        }
        if rows.count < cases.count { throw ExitStatus.someInputsFailed }
    }

    func measure(pipeline: String, clip: String, ffmpeg: String?) throws -> Row {
        let name = (clip as NSString).lastPathComponent
        var cli = Double.infinity, full = Double.infinity, fast = Double.infinity
        var withEvidence = Double.infinity, withoutEvidence = Double.infinity
        var rss = 0.0, rssNoEvidence = 0.0
        var frames = 0, size = "", violations = 0
        var cpu: StageCPU?
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-bench-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        for round in 0..<repeats {
            if let ffmpeg {
                cli = min(cli, try DecodeBenchmark.timeCommand(ffmpeg, ["-hide_banner", "-nostdin", "-loglevel", "error", "-threads", String(threads),
                                                                       "-i", clip, "-map", "0:v:0", "-f", "null", "-"]))
            }
            for analysis in [false, true] {
                let start = DecodeBenchmark.monotonicSeconds()
                let reader = try VideoReader(path: clip, options: DecodeOptions(threads: threads, forAnalysis: analysis))
                var count = 0, checksum = 0
                while let frame = try reader.nextFrame() { checksum &+= frame.withLuma { Int($0[0, 0]) }; count += 1 }
                let seconds = DecodeBenchmark.monotonicSeconds() - start
                if analysis { fast = min(fast, seconds) } else { full = min(full, seconds) }
                frames = count
                size = "\(reader.info.width)x\(reader.info.height)"
                _ = checksum
            }
            for evidence in [true, false] {
                try? FileManager.default.removeItem(atPath: scratch)
                var arguments = ["run", pipeline, clip, "--out", scratch, "--jobs", "1", "--plain"]
                if let runThreads { arguments += ["--threads", String(runThreads)] }
                if !evidence { arguments.append("--no-evidence") }
                let measured = try ChildProcess.run(ownExecutable(), arguments)
                guard measured.status == 0 else { throw ValidationError("roadwatch run exited with status \(measured.status)") }
                let summary = try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: scratch + "/run.json")))
                // The run's own VmHWM: wait4's ru_maxrss would include this bench process's peak, inherited at exec.
                let peak = summary.peakRSSMiB ?? .nan
                if evidence {
                    withEvidence = min(withEvidence, measured.seconds)
                    rss = max(rss, peak)
                    violations = summary.violations.total
                    if round == 0 || (summary.inputs.first?.cpu?.totalMs ?? .infinity) < (cpu?.totalMs ?? .infinity) { cpu = summary.inputs.first?.cpu }
                } else {
                    withoutEvidence = min(withoutEvidence, measured.seconds)
                    rssNoEvidence = max(rssNoEvidence, peak)
                }
            }
        }
        let f = Double(frames)
        let row = Row(clip: name, size: size, frames: frames, ffmpegFPS: ffmpeg == nil ? nil : f / cli, decodeFPS: f / full,
                      analysisDecodeFPS: f / fast, runFPS: f / withEvidence, runNoEvidenceFPS: f / withoutEvidence, peakRSSMiB: rss,
                      peakRSSNoEvidenceMiB: rssNoEvidence, violations: violations, cpu: cpu)
        print(String(format: "%@: %d frames; ffmpeg %@ fps; decode %.0f (analysis %.0f) fps; run %.0f fps with evidence, %.0f without; peak RSS %.0f MiB",
                     name, frames, row.ffmpegFPS.map { String(format: "%.0f", $0) } ?? "-", row.decodeFPS, row.analysisDecodeFPS, row.runFPS,
                     row.runNoEvidenceFPS, rss))
        return row
    }

    static func markdown(_ rows: [Row], threads: Int, runThreads: Int) -> String {
        func r(_ a: Double, _ b: Double?) -> String { b.map { String(format: "%.2f", a / $0) } ?? "-" }
        var lines = [
            "Measured \(DecodeBenchmark.timestamp()) at commit \(DecodeBenchmark.commit()) on \(DecodeBenchmark.machine()); ffmpeg and VideoReader with \(threads) threads, `roadwatch run` with one job and \(runThreads) decoder threads (its default here).",
            "",
            "| clip | size | frames | ffmpeg CLI fps | VideoReader fps (full / analysis) | run fps, no evidence | run fps, evidence | run / ffmpeg, evidence | peak RSS MiB (evidence / none) | violations |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for x in rows {
            lines.append("| \(x.clip) | \(x.size) | \(x.frames) | \(x.ffmpegFPS.map { String(format: "%.0f", $0) } ?? "-") | "
                + String(format: "%.0f / %.0f | %.0f | %.0f | ", x.decodeFPS, x.analysisDecodeFPS, x.runNoEvidenceFPS, x.runFPS)
                + "\(r(x.runFPS, x.ffmpegFPS)) | " + String(format: "%.0f / %.0f | %d |", x.peakRSSMiB, x.peakRSSNoEvidenceMiB, x.violations))
        }
        lines += ["", "CPU milliseconds per frame by stage (the run with evidence; decode includes FFmpeg's decoder threads, evidence the clip encoders):", "",
                  "| clip | decode | detection | tracking | signal | rules | evidence | output | total CPU | wall ms/frame |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for x in rows {
            guard let c = x.cpu else { continue }
            let values = [c.decodeMs, c.detectionMs, c.trackingMs, c.signalMs, c.rulesMs, c.evidenceMs, c.outputMs, c.totalMs].map { String(format: "%.2f", c.perFrame($0)) }
            lines.append("| \(x.clip) | " + values.joined(separator: " | ") + String(format: " | %.2f |", 1000 / x.runFPS))
        }
        return lines.joined(separator: "\n")
    }
}

/// A child process timed on the monotonic clock. Not its peak RSS: wait4's ru_maxrss for a posix_spawn'ed child
/// includes the parent's own high-water mark (the kernel carries the vforked address space's peak over at exec).
enum ChildProcess {
    struct Measured { var status: Int32; var seconds: Double }

    static func run(_ executable: String, _ arguments: [String]) throws -> Measured {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let start = DecodeBenchmark.monotonicSeconds()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw ValidationError("cannot start \(executable): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let seconds = DecodeBenchmark.monotonicSeconds() - start
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Measured(status: exit, seconds: seconds)
    }
}
