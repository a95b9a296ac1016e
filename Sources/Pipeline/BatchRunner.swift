import Crypto
import Foundation
import GRDB
import Rules
import TrafficModel
import Tracking
import VideoIO

/// How `roadwatch run` was asked to run.
public struct RunOptions: Sendable, Codable {
    public var jobs: Int
    public var threads: Int
    public var evidence: Bool
    public init(jobs: Int, threads: Int, evidence: Bool = true) {
        self.jobs = jobs; self.threads = threads; self.evidence = evidence
    }

    /// Decoder threads per file when not given: each job's share of the cores plus four, at most 6. FFmpeg's frame
    /// threads wait on each other's reference frames, so more threads than cores keep them busy while the analysis
    /// thread runs beside them (measured on 2 cores without evidence: one minute of 1080p at 6 Mbit/s, 2 threads
    /// 7.01 s, 3 6.44 s, 4 5.97 s, 6 5.5 s; the real 720p motorway ten times over, 3 threads 6.4 s, 4 6.3 s, 6 5.8 s,
    /// 8 6.1 s). Each thread holds a few frames (1080p with evidence: 178 MiB peak with 4, 195 with 6). Decoded pixels
    /// are the same whatever the count.
    public static func decoderThreads(jobs: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> Int {
        max(1, min(6, cores / max(1, jobs) + 4))
    }
}

/// The result of one input in this run.
public struct InputOutcome: Sendable, Codable {
    public var path: String
    public var sha256: String?
    public var size: Int64?
    /// SHA-256 of the input's upstream detector's boxes (`detection.source: external`); absent for the motion detector.
    public var detectionsSha256: String? = nil
    /// `done`, `skipped` (done by an earlier run into the same folder) or `failed`.
    public var status: String
    public var error: String?
    public var frames: Int
    public var durationS: Double
    public var seconds: Double
    public var violations: Int
    public var startTime: String?
    public var stages: [StageCount]
    public var rules: RuleStats?
    public var warnings: [String]
    /// Where the CPU time went, per stage (see `StageCPU` for what each figure holds).
    public var cpu: StageCPU? = nil
}

/// What a run did, for the summary table, run.json and the exit status.
public struct RunSummary: Sendable, Codable {
    public var schema = "roadwatch.run/1"
    public var version: String
    public var startedAt: String
    public var finishedAt: String
    public var wallSeconds: Double
    public var options: RunOptions
    public var pipeline: PipelineInfo
    public var inputs: [InputOutcome]
    public var violations: ViolationTotals
    /// This process's peak resident memory over the run, in MiB (VmHWM; evidence encoders, separate processes, not
    /// included). Absent in run.json files written before it was recorded.
    public var peakRSSMiB: Double?

    public struct PipelineInfo: Sendable, Codable {
        public var path: String
        public var sha256: String
        public var text: String
    }
    public struct ViolationTotals: Sendable, Codable {
        public var total: Int
        public var byRule: [String: Int]
        public var duplicatesAcrossInputs: Int
        public var jsonlSha256: String
        public var csvSha256: String
    }

    public var failed: Int { inputs.filter { $0.status == "failed" }.count }
    public var frames: Int { inputs.reduce(0) { $0 + $1.frames } }
}

/// Live figures for the progress display, shared between jobs and the reporter.
public struct ProgressState: Sendable {
    public struct Current: Sendable { public var name: String; public var frames: Int; public var expected: Int?; public var started: Date }
    public var totalInputs = 0
    public var finishedInputs = 0
    public var failedInputs = 0
    public var framesDone = 0
    public var violations = 0
    public var current: [Int: Current] = [:]
    public var expectedFrames = 0
}

/// The batch job: inputs of one pipeline, `jobs` at a time, each through the stage runner; results committed per
/// input to the store; then the exports (violations.jsonl, violations.csv, run.json) rewritten from the store.
/// Running again into the same folder skips inputs already done with the same pipeline and redoes the rest.
public final class BatchRunner: @unchecked Sendable {
    public let config: PipelineConfig
    public let options: RunOptions
    public let outputDirectory: String
    public let version: String
    public let runner: StageRunner
    public let processor: InputProcessor
    public let progress = LockedProgress()
    /// Called with one line for the log (input finished, failed, skipped), from any job's thread.
    public var log: @Sendable (String) -> Void = { _ in }

    public init(config: PipelineConfig, options: RunOptions, outputDirectory: String, version: String, clipEncoder: String?) {
        self.config = config
        self.options = options
        self.outputDirectory = outputDirectory
        self.version = version
        runner = StageRunner(config: config, decoderThreads: options.threads, clipEncoder: options.evidence ? clipEncoder : nil)
        processor = InputProcessor(config: config, runner: runner, outputDirectory: outputDirectory, version: version, evidence: options.evidence)
    }

    /// Checks that the output folder can be made and written, before any work.
    public static func prepareOutput(_ dir: String) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else { throw PipelineError.output(dir, "exists and is not a folder") }
        } else {
            let parent = (dir as NSString).deletingLastPathComponent
            let parentPath = parent.isEmpty ? "." : parent
            guard fm.fileExists(atPath: parentPath, isDirectory: &isDir), isDir.boolValue else {
                throw PipelineError.output(dir, "the parent folder \(parentPath) does not exist")
            }
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: false) } catch {
                throw PipelineError.output(dir, "cannot create the output folder: \(InputProcessor.reason(error))")
            }
        }
        let probe = (dir as NSString).appendingPathComponent(".roadwatch-write-test-\(getpid())")
        guard fm.createFile(atPath: probe, contents: Data("ok".utf8)) else {
            throw PipelineError.output(dir, "the output folder is not writable")
        }
        try? fm.removeItem(atPath: probe)
        InputProcessor.makeFolders(in: dir)
        // Temporary files of a run that was killed (every file is written under a hidden name and renamed into
        // place): never part of the results, removed before work starts.
        for sub in ["", "evidence", "tracks", "signal"] {
            let folder = sub.isEmpty ? dir : (dir as NSString).appendingPathComponent(sub)
            for name in (try? fm.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(".") {
                try? fm.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
            }
        }
    }

    public func run(inputs: [String]) throws -> RunSummary {
        let started = Date()
        let misfits = config.checkAgainstInputs(inputs)
        guard misfits.isEmpty else { throw ConfigErrors(diagnostics: misfits) }
        // One run at a time per folder: a second one would race on the same files.
        let lockPath = (outputDirectory as NSString).appendingPathComponent("roadwatch.lock")
        try? FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: false)
        let lock = open(lockPath, O_RDWR | O_CREAT, 0o644)
        guard lock >= 0 else { throw PipelineError.output(lockPath, "cannot open the lock file: \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        guard flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            throw PipelineError.output(outputDirectory, "another roadwatch run is writing into this folder")
        }
        try Self.prepareOutput(outputDirectory)
        let store = try Store(path: (outputDirectory as NSString).appendingPathComponent("roadwatch.sqlite"))
        let optionsJSON = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        let runID = try store.startRun(version: version, pipelineSha256: config.sha256, optionsJSON: optionsJSON, startedAt: ISO8601Instant.format(started))
        progress.mutate { $0.totalInputs = inputs.count }

        // First every input's hash (the identity of its records), so that two names for the same bytes are one input
        // whichever job reaches them first: the first name in sorted order is processed, the others skipped.
        let hashes = LockedBox<[Int: Result<(sha256: String, size: Int64), Error>]>([:])
        parallel(count: inputs.count) { i, _ in
            let h = Result { try fileSHA256(inputs[i]) }
            hashes.mutate { $0[i] = h }
        }
        var firstWithContent: [String: String] = [:]
        var duplicateOf: [Int: String] = [:]
        for i in inputs.indices {
            guard case .success(let h)? = hashes.value[i] else { continue }
            if let first = firstWithContent[h.sha256] { duplicateOf[i] = first } else { firstWithContent[h.sha256] = inputs[i] }
        }

        let sameAs = duplicateOf
        let outcomes = LockedBox<[Int: InputOutcome]>([:])
        let storeError = LockedBox<Error?>(nil)
        parallel(count: inputs.count) { [self] i, slot in
            guard storeError.value == nil else { return }
            do {
                let outcome = try self.process(inputs[i], hash: hashes.value[i]!, sameAs: sameAs[i], slot: slot, store: store, runID: runID)
                outcomes.mutate { $0[i] = outcome }
            } catch let error as DatabaseError {
                storeError.value = PipelineError.output(store.path, "cannot write the store: \(error.message ?? "\(error)")")
            } catch {
                // Only output failures end the run (a full disk): nothing half-written stays behind.
                storeError.value = error
            }
        }
        if let error = storeError.value { throw error }

        let totals = try export(store: store)
        let finished = Date()
        try store.finishRun(runID, at: ISO8601Instant.format(finished))
        let ordered = (0..<inputs.count).compactMap { outcomes.value[$0] }
        let summary = RunSummary(version: version, startedAt: ISO8601Instant.format(started), finishedAt: ISO8601Instant.format(finished),
                                 wallSeconds: finished.timeIntervalSince(started), options: options,
                                 pipeline: .init(path: config.path, sha256: config.sha256, text: config.text), inputs: ordered, violations: totals,
                                 peakRSSMiB: (PeakMemory.residentMiB() * 10).rounded() / 10)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeAtomically(try encoder.encode(summary), to: "run.json")
        return summary
    }

    // MARK: - One input

    /// Runs `body(index, worker)` for every index, on `options.jobs` threads, each taking the next index.
    private func parallel(count: Int, _ body: @escaping @Sendable (Int, Int) -> Void) {
        let next = LockedBox(0)
        let group = DispatchGroup()
        for w in 0..<max(1, min(options.jobs, count)) {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                while true {
                    let i: Int = next.mutate { n in let v = n; n += 1; return v }
                    guard i < count else { return }
                    body(i, w)
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
    }

    private func process(_ path: String, hash: Result<(sha256: String, size: Int64), Error>, sameAs: String?, slot: Int, store: Store,
                         runID: Int64) throws -> InputOutcome {
        let started = Date()
        let name = (path as NSString).lastPathComponent
        var outcome = InputOutcome(path: path, sha256: nil, size: nil, status: "failed", error: nil, frames: 0, durationS: 0, seconds: 0,
                                   violations: 0, startTime: nil, stages: [], rules: nil, warnings: [])
        let hashed: (sha256: String, size: Int64)
        switch hash {
        case .failure(let error):
            outcome.error = "\(error)"
            return try fail(outcome, store: store, runID: runID, key: "unreadable:\(path)")
        case .success(let h):
            hashed = h
        }
        outcome.sha256 = hashed.sha256
        outcome.size = hashed.size
        if let sameAs {
            outcome.status = "skipped"
            outcome.error = "same content as \(sameAs)"
            progress.mutate { $0.finishedInputs += 1 }
            log("skipped \(path): same content as \(sameAs)")
            return outcome
        }
        // An upstream detector's boxes are part of what the records are made from: read and hashed before the key.
        let external: UpstreamBoxes?
        do { external = try processor.runner.externalDetections(for: path) } catch {
            outcome.error = InputProcessor.describe(error, path: path)
            return try fail(outcome, store: store, runID: runID, key: inputKey(sha256: hashed.sha256))
        }
        outcome.detectionsSha256 = external?.sha256
        let key = inputKey(sha256: hashed.sha256, detectionsSha256: external?.sha256)
        if try store.isDone(key: key) {
            outcome.status = "skipped"
            outcome.seconds = Date().timeIntervalSince(started)
            progress.mutate { $0.finishedInputs += 1 }
            log("skipped \(path): already done with this pipeline (sha256 \(hashed.sha256.prefix(12)))")
            return outcome
        }
        do {
            progress.mutate { $0.current[slot] = .init(name: name, frames: 0, expected: nil, started: started) }
            let done = try processor.process(path: path, sha256: hashed.sha256, size: hashed.size, key: key, runID: runID, started: started,
                                             external: external) {
                [progress] frames, expected in
                progress.mutate { p in
                    let before = p.current[slot]?.frames ?? 0
                    p.framesDone += frames - before
                    p.current[slot]?.frames = frames
                    p.current[slot]?.expected = expected
                }
            }
            try store.commit(input: done.row, statsJSON: done.statsJSON, records: done.records.map { ($0.record, $0.absolute, $0.json) })
            progress.mutate { p in
                p.current[slot] = nil
                p.finishedInputs += 1
                p.violations += done.records.count
            }
            log(done.logLine)
            for w in done.outcome.warnings { log("warning: \(w)") }
            return done.outcome
        } catch let error as PipelineError where isOutputFailure(error) {
            // The output cannot be written (disk full, read-only): stop the run; what is committed stays whole.
            progress.mutate { $0.current[slot] = nil }
            throw error
        } catch let error as VideoIOError where error.kind == .write {
            progress.mutate { $0.current[slot] = nil }
            throw PipelineError.output(error.path, "cannot write: \(error.reason)")
        } catch let error as DatabaseError {
            progress.mutate { $0.current[slot] = nil }
            throw PipelineError.output(store.path, "cannot write the store: \(error.message ?? "\(error)")")
        } catch {
            progress.mutate { $0.current[slot] = nil }
            outcome.error = InputProcessor.describe(error, path: path)
            outcome.seconds = Date().timeIntervalSince(started)
            return try fail(outcome, store: store, runID: runID, key: key)
        }
    }

    private func isOutputFailure(_ error: PipelineError) -> Bool {
        if case .output = error { return true }
        return false
    }

    private func fail(_ outcome: InputOutcome, store: Store, runID: Int64, key: String) throws -> InputOutcome {
        var o = outcome
        o.status = "failed"
        progress.mutate { $0.finishedInputs += 1; $0.failedInputs += 1 }
        log("error: \(o.error ?? "\(o.path): failed")")
        let row = InputRow(key: key, path: o.path, sha256: o.sha256 ?? "", size: o.size ?? 0, pipelineSha256: config.sha256, status: "failed",
                           error: o.error, frames: o.frames, durationS: o.durationS, startTime: nil, runID: runID)
        try store.commit(input: row, statsJSON: try statsJSON(o), records: [])
        return o
    }

    private func statsJSON(_ o: InputOutcome) throws -> String { try InputProcessor.statsJSON(o) }

    // MARK: - Names, ids and times

    func inputKey(sha256: String, detectionsSha256: String? = nil) -> String {
        InputProcessor.inputKey(sha256: sha256, pipelineSha256: config.sha256, detectionsSha256: detectionsSha256)
    }
    public static func fileStem(_ path: String, sha256: String) -> String { InputProcessor.fileStem(path, sha256: sha256) }

    func writeAtomically(_ data: Data, to relative: String) throws {
        try InputProcessor.writeAtomically(data, to: (outputDirectory as NSString).appendingPathComponent(relative))
    }

    // MARK: - Exports

    /// Marks records that another input already holds (cross-input deduplication), then writes violations.jsonl
    /// and violations.csv from the store.
    func export(store: Store) throws -> RunSummary.ViolationTotals {
        let result = try RecordExport.write(violations: try store.violations(pipelineSha256: config.sha256), inputs: try store.inputs(),
                                            into: outputDirectory)
        if !result.marks.isEmpty { try store.markDuplicates(result.marks) }
        return result.totals
    }
}

/// Progress shared between the jobs and the display.
public final class LockedProgress: @unchecked Sendable {
    private var state = ProgressState()
    private let lock = NSLock()
    public init() {}
    public var snapshot: ProgressState { lock.lock(); defer { lock.unlock() }; return state }
    public func mutate(_ body: (inout ProgressState) -> Void) { lock.lock(); body(&state); lock.unlock() }
}

/// SHA-256 and size of a file, read in 1 MiB blocks.
public func fileSHA256(_ path: String) throws -> (sha256: String, size: Int64) {
    // Pipes, sockets and devices never end (or never start): refused before anything reads them.
    if let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType,
       type != .typeRegular && type != .typeDirectory && type != .typeSymbolicLink {
        throw PipelineError.input(path, "not a regular file (\(type == .typeCharacterSpecial || type == .typeBlockSpecial ? "a device" : "a pipe or socket")); footage must be files")
    }
    guard let handle = FileHandle(forReadingAtPath: path) else {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            throw PipelineError.input(path, isDir.boolValue ? "is a folder, not a video" : "cannot open: permission denied")
        }
        throw PipelineError.input(path, "cannot open: No such file or directory")
    }
    defer { try? handle.close() }
    var hasher = SHA256()
    var size: Int64 = 0
    while true {
        let chunk: Data
        do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
            throw PipelineError.input(path, "cannot read: \((error as NSError).localizedDescription)")
        }
        if chunk.isEmpty { break }
        size += Int64(chunk.count)
        hasher.update(data: chunk)
    }
    return (hasher.finalize().map { String(format: "%02x", $0) }.joined(), size)
}
