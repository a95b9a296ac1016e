import ArgumentParser
import Foundation
import Pipeline
import TrafficModel
import VideoIO

/// Loads a pipeline file or exits with its errors (status 2), all of them, each with FILE:LINE:COL.
func loadPipeline(_ path: String) throws -> PipelineConfig {
    do { return try PipelineConfig.load(path: path) } catch let errors as ConfigErrors {
        printError(errors.description)
        printError("\(path): \(errors.diagnostics.count) error\(errors.diagnostics.count == 1 ? "" : "s")")
        throw ExitStatus.invalidConfig
    }
}

/// The footage a command works on: the files, folders and globs given or, with none, the pipeline's `inputs:`
/// (relative to its file), expanded; what names nothing is a warning.
func footage(_ inputs: [String], of config: PipelineConfig) -> [String] {
    let (files, problems) = inputs.isEmpty ? InputList.expand(config.inputs, relativeTo: config.directory) : InputList.expand(inputs, relativeTo: nil)
    for p in problems { printError("warning: \(p)") }
    return files
}

/// Exits (status 2) where the pipeline cannot serve these inputs, before any work (`checkAgainstInputs`).
func checkAgainstInputs(_ config: PipelineConfig, _ files: [String], _ pipeline: String) throws {
    try exitIfInvalid(config.checkAgainstInputs(files), pipeline)
}

/// Prints a pipeline's problems found against its inputs, each with FILE:LINE:COL, and exits with status 2; returns
/// where there are none.
func exitIfInvalid(_ problems: [ConfigDiagnostic], _ pipeline: String) throws {
    guard !problems.isEmpty else { return }
    for p in problems { printError(p.description) }
    printError("\(pipeline): \(problems.count) error\(problems.count == 1 ? "" : "s")")
    throw ExitStatus.invalidConfig
}

/// Says that neither the command line nor the pipeline names any footage; the exit status to throw.
func noFootage(_ pipeline: String) -> ExitCode {
    printError("error: no inputs: give footage on the command line or under inputs: in \(pipeline)")
    return ExitStatus.invalidConfig
}

/// Whether a path is a regular file: a pipe or device must never be opened to look at it (it can block forever).
func isRegularFile(_ path: String) -> Bool {
    (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType == .typeRegular
}

/// The path of this executable, which encodes evidence clips in child processes.
func ownExecutable() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The main job: detect, track and apply the rules to footage; write records, evidence and the store.",
        discussion: """
            Writes into --out: roadwatch.sqlite (the store), violations.jsonl and violations.csv, evidence/, \
            tracks/ and signal/ per input (for replay), and run.json. Running again into the same folder skips \
            inputs already done with the same pipeline and redoes the others. Exit status: 0 every input done, \
            3 some inputs failed (each named), 2 invalid pipeline, 5 the output cannot be written, 64 usage.
            """
    )

    @Argument(help: "The pipeline file (Pipelines/*.yaml).", completion: .file(extensions: ["yaml", "yml"]))
    var pipeline: String

    @Argument(help: "Footage: files, folders or globs (default: the pipeline's inputs).", completion: .file())
    var inputs: [String] = []

    @Option(help: "Output folder (created if missing; its parent must exist).")
    var out: String

    @Option(help: "Files processed at once.")
    var jobs = 1

    @Option(help: "Decoder threads per file (default: each job's share of the cores plus four, at most 6).")
    var threads: Int?

    @Flag(help: "Write no evidence stills or clips.")
    var noEvidence = false

    @Flag(help: "Plain log lines even on a terminal.")
    var plain = false

    @Option(help: "Sign run.json with this Ed25519 private key (from roadwatch keygen); writes run.json.sig.")
    var signKey: String?

    func validate() throws {
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be 1...64") }
        if let threads { guard (0...64).contains(threads) else { throw ValidationError("--threads must be 0...64") } }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let config = try loadPipeline(pipeline)
        let files = footage(inputs, of: config)
        guard !files.isEmpty else { throw noFootage(pipeline) }
        try checkAgainstInputs(config, files, pipeline)
        // Geometry against the picture, when the first input can be opened: before any work.
        if let first = files.first(where: isRegularFile), let reader = try? VideoReader(path: first) {
            try exitIfInvalid(config.checkAgainstPicture(width: reader.info.width, height: reader.info.height, video: first), pipeline)
        }
        do { try BatchRunner.prepareOutput(out) } catch {
            printError("error: \(error)")
            throw ExitStatus.outputFailed
        }
        let runner = BatchRunner(config: config, options: RunOptions(jobs: jobs, threads: threads ?? RunOptions.decoderThreads(jobs: jobs), evidence: !noEvidence),
                                 outputDirectory: out, version: RoadwatchVersion.string, clipEncoder: ownExecutable())
        let display = ProgressDisplay(progress: runner.progress, terminal: !plain && isatty(STDERR_FILENO) != 0)
        runner.log = { line in display.log(line) }
        display.start()
        let summary: RunSummary
        do {
            summary = try runner.run(inputs: files)
        } catch {
            display.stop()
            printError("error: \(error)")
            throw ExitStatus.outputFailed
        }
        display.stop()
        if let signKey {
            do { try RunSigning.sign(runDirectory: out, keyFile: signKey) } catch {
                printError("error: \(error)")
                throw ExitStatus.outputFailed
            }
        }
        print(RunReport.table(summary))
        print("\nrecords: \(out)/violations.jsonl, \(out)/violations.csv; evidence: \(out)/evidence/; store: \(out)/roadwatch.sqlite; run: \(out)/run.json")
        if summary.failed > 0 { throw ExitStatus.someInputsFailed }
    }
}

enum RunReport {
    static func table(_ s: RunSummary) -> String {
        let done = s.inputs.filter { $0.status == "done" }.count
        let skipped = s.inputs.filter { $0.status == "skipped" }.count
        let frames = s.frames
        var rows: [[String]] = s.inputs.map { i in
            [(i.path as NSString).lastPathComponent, i.status, "\(i.frames)", String(format: "%.1f", i.durationS),
             i.seconds > 0 && i.frames > 0 ? String(format: "%.0f", Double(i.frames) / i.seconds) : "-", "\(i.violations)",
             i.error.map { String($0.prefix(60)) } ?? ""]
        }
        rows.append(["total", "\(done) ok, \(s.failed) failed, \(skipped) skipped", "\(frames)", "", String(format: "%.0f", Double(frames) / max(s.wallSeconds, 1e-3)),
                     "\(s.violations.total)", ""])
        let table = TextTable(header: ["input", "status", "frames", "footage s", "fps", "violations", "error"], rows: rows).render()
        let rules = s.violations.byRule.keys.sorted().map { "\($0) \(s.violations.byRule[$0]!)" }.joined(separator: ", ")
        return table + String(format: "\n\nviolations: %d (%@); duplicates across inputs: %d; wall time %.1f s", s.violations.total,
                              rules.isEmpty ? "none" : rules, s.violations.duplicatesAcrossInputs, s.wallSeconds)
    }
}

/// Progress on a terminal (redrawn in place, per file and overall, with ETA) or plain log lines every 10 s.
final class ProgressDisplay: @unchecked Sendable {
    let progress: LockedProgress
    let terminal: Bool
    private let lock = NSLock()
    private var running = false
    private var drawnLines = 0
    private var thread: Thread?
    private let started = Date()

    init(progress: LockedProgress, terminal: Bool) {
        self.progress = progress
        self.terminal = terminal
    }

    func start() {
        running = true
        let t = Thread { [self] in
            var lastPlain = Date()
            while self.isRunning {
                Thread.sleep(forTimeInterval: terminal ? 0.5 : 1)
                if terminal { redraw() } else if Date().timeIntervalSince(lastPlain) >= 10 { lastPlain = Date(); log(statusLine()) }
            }
        }
        thread = t
        t.start()
    }

    var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    func stop() {
        lock.lock(); running = false; lock.unlock()
        Thread.sleep(forTimeInterval: terminal ? 0.6 : 0)
        lock.lock(); clear(); lock.unlock()
    }

    func statusLine() -> String {
        let p = progress.snapshot
        let elapsed = Date().timeIntervalSince(started)
        let fps = Double(p.framesDone) / max(elapsed, 1e-3)
        let eta: String
        if p.finishedInputs > 0 && p.finishedInputs < p.totalInputs {
            eta = String(format: ", ETA %.0f s", elapsed / Double(p.finishedInputs) * Double(p.totalInputs - p.finishedInputs))
        } else { eta = "" }
        return String(format: "progress: %d/%d files (%d failed), %d frames, %.0f fps, %d violations%@", p.finishedInputs, p.totalInputs,
                      p.failedInputs, p.framesDone, fps, p.violations, eta)
    }

    func log(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        clear()
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    private func clear() {
        guard terminal, drawnLines > 0 else { return }
        var s = ""
        for _ in 0..<drawnLines { s += "\u{1B}[1A\u{1B}[2K" }
        FileHandle.standardError.write(Data(s.utf8))
        drawnLines = 0
    }

    private func redraw() {
        lock.lock()
        defer { lock.unlock() }
        guard running else { return }
        clear()
        let p = progress.snapshot
        var lines = p.current.keys.sorted().compactMap { k -> String? in
            guard let c = p.current[k] else { return nil }
            let secs = Date().timeIntervalSince(c.started)
            let fps = Double(c.frames) / max(secs, 1e-3)
            guard let expected = c.expected, expected > 0 else { return String(format: "  %@: %d frames, %.0f fps", c.name, c.frames, fps) }
            let eta = fps > 0 ? String(format: ", ETA %.0f s", Double(max(0, expected - c.frames)) / fps) : ""
            return String(format: "  %@: %d/%d frames (%.0f%%), %.0f fps%@", c.name, c.frames, expected, 100 * Double(c.frames) / Double(expected), fps, eta)
        }
        lines.append(statusLine())
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        drawnLines = lines.count
    }
}

struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check pipeline files: every error, each as FILE:LINE:COL: error: key.path: what is wrong.",
        discussion: "Also checks lines, lanes and lamps against the picture size of each pipeline's first input, when it can be opened."
    )

    @Argument(help: "Pipeline files.", completion: .file(extensions: ["yaml", "yml"]))
    var pipelines: [String]

    func run() throws {
        var bad = 0
        for path in pipelines {
            do {
                let config = try PipelineConfig.load(path: path)
                var problems: [ConfigDiagnostic] = []
                var camera = ""
                let (files, _) = InputList.expand(config.inputs, relativeTo: config.directory)
                if let first = files.first(where: isRegularFile), let reader = try? VideoReader(path: first) {
                    problems = config.checkAgainstPicture(width: reader.info.width, height: reader.info.height, video: first)
                    // The camera the calibration implies, a check on its points that the reprojection error is not:
                    // wrong world coordinates fit as well as right ones, but imply no camera a road would have.
                    let implied = ImpliedCamera(calibration: config.calibration, imageWidth: reader.info.width, imageHeight: reader.info.height)
                    if let c = implied, (2...60).contains(c.height), (200...20_000).contains(c.focalPixels) {
                        camera = String(format: ", implied camera %.1f m up, focal %.0f px, %.1f° down", c.height, c.focalPixels, c.tiltDegrees)
                    } else {
                        let what = implied.map { String(format: "imply a camera %.1f m above the road with a %.0f px focal length", $0.height, $0.focalPixels) }
                            ?? "imply no pinhole camera over one plane"
                        printError("\(path): warning: calibration: the calibration points \(what); check them on a frame with roadwatch calibrate")
                    }
                }
                if problems.isEmpty {
                    let errors = config.calibration.imageErrors
                    let rules = [config.speeding != nil ? "speeding" : nil, config.redLight != nil ? "red_light" : nil].compactMap { $0 }
                    print(String(format: "%@: ok (camera %@, %d calibration points, reprojection error max %.2f px%@, %d lanes, rules: %@)", path,
                                 config.camera.id, config.calibration.points.count, errors.max() ?? 0, camera, config.lanes.count,
                                 rules.isEmpty ? "none" : rules.joined(separator: ", ")))
                } else {
                    bad += 1
                    for p in problems { printError(p.description) }
                    printError("\(path): \(problems.count) error\(problems.count == 1 ? "" : "s")")
                }
            } catch let errors as ConfigErrors {
                bad += 1
                printError(errors.description)
                printError("\(path): \(errors.diagnostics.count) error\(errors.diagnostics.count == 1 ? "" : "s")")
            }
        }
        if bad > 0 { throw ExitStatus.invalidConfig }
    }
}

/// Internal: encodes raw 4:2:0 frames from standard input into an H.264 MP4 (one encoder per process keeps
/// libx264 byte-reproducible). Used by `run` for evidence clips.
struct EncodeClip: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "encode-clip", abstract: "Internal: raw 4:2:0 frames on stdin to an H.264 clip.",
                                                    shouldDisplay: false)
    @Option var width: Int
    @Option var height: Int
    @Option var rate: String = "25/1"
    @Argument var output: String

    func run() throws {
        let parts = rate.split(separator: "/").compactMap { Int($0) }
        guard width > 0, height > 0, parts.count == 2, parts[0] > 0, parts[1] > 0 else { throw ValidationError("bad size or rate") }
        let writer = try VideoWriter(path: output, width: width, height: height,
                                     settings: EncoderSettings(codec: .h264, frameRate: FrameRate(parts[0], parts[1]), quality: 23, keyframeInterval: 50, threads: 1))
        let cw = (width + 1) / 2, ch = (height + 1) / 2
        let frameBytes = width * height + 2 * cw * ch
        let input = FileHandle.standardInput
        // Standard input also ends when the parent is killed: then the clip is incomplete and must not be put in
        // place (a resumed run writes it again). A parent that died leaves this process re-parented.
        let parent = getppid()
        while true {
            var data = Data()
            while data.count < frameBytes {
                guard let chunk = try input.read(upToCount: frameBytes - data.count), !chunk.isEmpty else { break }
                data.append(chunk)
            }
            if data.count < frameBytes { break }
            let bytes = [UInt8](data)
            let planes = [Array(bytes[0..<(width * height)]), Array(bytes[(width * height)..<(width * height + cw * ch)]),
                          Array(bytes[(width * height + cw * ch)...])]
            try writer.write(Picture(width: width, height: height, format: .yuv420p, planes: planes))
        }
        guard getppid() == parent else { throw ExitCode(1) }  // the writer's temporary file goes with it
        try writer.finish()
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-apply the rules to a run's stored tracks and signal timelines, without decoding; show what changes.",
        discussion: """
            With --pipeline, the rules, lanes, geometry and dedup of another pipeline file are applied to the same \
            tracks (detection and tracking settings are not re-run: that needs decoding). Prints the violations \
            that appear, disappear or change against the run's violations.jsonl. --out writes the replayed records.
            """
    )

    @Argument(help: "A run folder (written by roadwatch run).", completion: .directory)
    var runDirectory: String

    @Option(help: "A pipeline file to apply instead of the run's own.")
    var pipeline: String?

    @Option(help: "Write the replayed records to this JSON-lines file.")
    var out: String?

    func run() throws {
        let started = Date()
        let config = try pipeline.map(loadPipeline)
        let result: Replay.Result
        do { result = try Replay.run(runDirectory: runDirectory, pipeline: config, version: RoadwatchVersion.string) } catch let e as ConfigErrors {
            printError(e.description)
            throw ExitStatus.invalidConfig
        }
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "replayed %d inputs, %d tracks in %.2f s: %d violations before, %d after", result.inputs, result.tracks, seconds,
                     result.before.count, result.after.count))
        print("rules: " + result.stats.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        func line(_ sign: String, _ r: ViolationRecord) -> String {
            var s = "\(sign) \(r.id)  \(r.rule.rawValue)  \((r.input.path as NSString).lastPathComponent)  pts \(String(format: "%.3f", r.ptsS))  lane \(r.lane ?? "-")"
            if let v = r.speedKmh { s += String(format: "  %.2f km/h", v) }
            if let t = r.signal?.timeIntoRedS { s += String(format: "  %.2f s into red", t) }
            return s
        }
        for r in result.appeared { print(line("+", r)) }
        for r in result.disappeared { print(line("-", r)) }
        for c in result.changed { print("~ \(c.id)  changed: \(c.fields.joined(separator: ", "))") }
        if result.appeared.isEmpty && result.disappeared.isEmpty && result.changed.isEmpty { print("no change") }
        if let out {
            let text = try result.after.map { try $0.jsonLine() + "\n" }.joined()
            try Data(text.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
            print("replayed records: \(out)")
        }
    }
}

struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Draw a pipeline's geometry on a frame: 5 m ground grid, lanes, stop line, zone, lamps, calibration points and their errors."
    )

    @Argument(help: "The pipeline file.", completion: .file(extensions: ["yaml", "yml"]))
    var pipeline: String

    @Argument(help: "A video from this camera.", completion: .file())
    var video: String

    @Option(help: "The overlay picture to write (JPEG).")
    var out: String

    @Option(help: "Seconds into the video for the frame.")
    var at = 0.0

    func run() throws {
        let config = try loadPipeline(pipeline)
        let (picture, pts) = try CalibrationOverlay.render(config: config, video: video, at: at)
        try JPEGWriter(quality: 3).write(picture, to: out)
        let c = config.calibration
        for (i, p) in c.points.enumerated() {
            print(String(format: "point %d: image (%.1f, %.1f) world (%.2f, %.2f) m: reprojection error %.2f px, %.3f m", i + 1, p.image.x, p.image.y,
                         p.world.x, p.world.y, c.imageErrors[i], c.worldErrors[i]))
        }
        if let camera = ImpliedCamera(calibration: c, imageWidth: picture.width, imageHeight: picture.height) {
            print(String(format: "implied camera: %.2f m above the road at (%.1f, %.1f) m, focal length %.0f px, %.1f° below the horizon (principal point at the centre); car-sized boxes drawn in each lane",
                         camera.height, camera.groundPosition.x, camera.groundPosition.y, camera.focalPixels, camera.tiltDegrees))
        } else {
            print("implied camera: none; no pinhole camera over one plane fits the calibration points (check them)")
        }
        print(String(format: "frame at %.3f s -> %@", pts, out))
    }
}

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "For auditors: re-hash a run's exports, evidence and inputs, and re-run inputs to compare the records field by field.",
        discussion: "Prints MATCH or MISMATCH per file and input, with what differs. Exit status 0 only when everything matches, 4 otherwise. Run it from the folder the run was started in (records name inputs as given)."
    )

    @Argument(help: "A run folder.", completion: .directory)
    var runDirectory: String

    @Option(help: "Re-run this many inputs (chosen by their hashes).")
    var sample = 1

    @Flag(help: "Re-run every input.")
    var all = false

    @Flag(help: "Check hashes only; re-run nothing.")
    var hashesOnly = false

    @Option(help: "Check run.json's Ed25519 signature (run.json.sig) with this public key.")
    var publicKey: String?

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let verify = Verify(runDirectory: runDirectory, version: RoadwatchVersion.string, clipEncoder: ownExecutable())
        var findings = try verify.checkFiles()
        if let publicKey { findings.insert(try RunSigning.check(runDirectory: runDirectory, publicKeyFile: publicKey), at: 0) }
        let unreadable = findings.contains { $0.subject == "run.json" && !$0.match && $0.detail == Verify.unreadableRunSummary }
        if !hashesOnly && !unreadable { findings += try verify.rerun(sample: all ? nil : sample) }
        for f in findings where !f.match || !f.subject.hasPrefix("evidence/") {
            print("\(f.match ? "MATCH   " : "MISMATCH") \(f.subject): \(f.detail)")
        }
        let evidence = findings.filter { $0.subject.hasPrefix("evidence/") }
        print("evidence files: \(evidence.filter(\.match).count) of \(evidence.count) match their records")
        let bad = findings.filter { !$0.match }.count
        print(bad == 0 ? "verified: everything matches" : "verification failed: \(bad) mismatch\(bad == 1 ? "" : "es")")
        if bad > 0 { throw ExitStatus.verificationFailed }
    }
}

struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Debug video: boxes, track ids, speeds, signal state, lines and violations as they happen."
    )

    @Argument(help: "The pipeline file.", completion: .file(extensions: ["yaml", "yml"]))
    var pipeline: String

    @Argument(help: "A video from this camera.", completion: .file())
    var video: String

    @Option(help: "The annotated video to write (.mp4).")
    var out: String

    @Option(help: "Decoder threads.")
    var threads = 2

    func run() throws {
        let config = try loadPipeline(pipeline)
        let started = Date()
        let s = try DebugRender.render(config: config, video: video, out: out, threads: threads)
        print(String(format: "%d frames, %d tracks, %d violations in %.1f s -> %@", s.frames, s.tracks, s.violations, Date().timeIntervalSince(started), out))
    }
}

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make an Ed25519 key pair for signing runs: PREFIX.key (private, mode 600) and PREFIX.pub."
    )

    @Option(help: "Path prefix of the two key files.")
    var out: String

    func run() throws {
        let (priv, pub) = try RunSigning.generateKeys(prefix: out)
        print("private key: \(priv) (keep it on the machines that sign)\npublic key: \(pub) (give it to auditors)")
    }
}
