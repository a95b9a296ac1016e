import Foundation
import Pipeline
import Synchronization
import TrafficModel
import VideoIO

/// How `roadwatch worker` runs.
public struct WorkerOptions: Sendable, Codable {
    /// Jobs processed at once by this process.
    public var jobs: Int
    /// Decoder threads per job.
    public var threads: Int
    /// A claimed job is this worker's for this long without a renewal; renewed every third of it.
    public var leaseSeconds: Double
    /// How long to wait before asking again when nothing is claimable.
    public var pollSeconds: Double
    /// A failed job is claimable again after this long (times the attempt number).
    public var retryDelaySeconds: Double
    /// Exit when the queue holds no pending, failed or running job, instead of waiting for more.
    public var once: Bool
    /// The shared folder evidence, tracks and signal files go to (the equivalent of a run folder).
    public var evidenceRoot: String
    public var evidence: Bool

    public init(jobs: Int, threads: Int, leaseSeconds: Double, pollSeconds: Double, retryDelaySeconds: Double, once: Bool, evidenceRoot: String,
                evidence: Bool) {
        self.jobs = jobs; self.threads = threads; self.leaseSeconds = leaseSeconds; self.pollSeconds = pollSeconds
        self.retryDelaySeconds = retryDelaySeconds; self.once = once; self.evidenceRoot = evidenceRoot; self.evidence = evidence
    }
}

/// A worker: claims jobs from the queue, processes each exactly as `roadwatch run` processes an input (the same
/// `InputProcessor`, writing evidence under the shared evidence root), and commits the records, evidence list and
/// job state in one transaction. The lease is renewed while a job runs; a worker killed outright leaves a lease
/// that expires, and the job becomes claimable again.
public final class FleetWorker: Sendable {
    public let db: FleetDatabase
    public let options: WorkerOptions
    public let name: String
    public let version: String
    let clipEncoder: String?
    let log: @Sendable (String) -> Void

    struct State {
        var stopping = false
        var held: [Int64: ClaimedJob] = [:]
        var processors: [String: InputProcessor] = [:]
        var done = 0
        var failed = 0
    }
    let state = Mutex(State())

    public init(db: FleetDatabase, options: WorkerOptions, version: String, clipEncoder: String?, log: @escaping @Sendable (String) -> Void) {
        self.db = db
        self.options = options
        self.version = version
        self.clipEncoder = clipEncoder
        self.log = log
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let hostName = String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        name = "\(hostName):\(getpid())"
    }

    /// Checks the evidence root before any job is claimed: it must exist and be writable.
    public static func prepareEvidenceRoot(_ root: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw PipelineError.output(root, "the evidence root does not exist or is not a folder")
        }
        guard access(root, W_OK) == 0 else { throw PipelineError.output(root, "the evidence root is not writable") }
        InputProcessor.makeFolders(in: root)
    }

    /// Stops claiming; jobs in hand go on (see `releaseHeld`).
    public func requestStop() { state.withLock { $0.stopping = true } }
    public var heldJobs: Int { state.withLock { $0.held.count } }

    /// Gives back every job in hand (SIGTERM's grace is over): they become pending again at once.
    public func releaseHeld(reason: String) async {
        let held = state.withLock { Array($0.held.values) }
        for job in held.sorted(by: { $0.id < $1.id }) {
            let released = (try? await db.release(job, reason: reason)) ?? false
            log(released ? "released job \(job.id) \(job.inputPath): \(reason)" : "job \(job.id): could not be released (its lease will expire)")
        }
    }

    public struct Summary: Sendable { public var done: Int; public var failed: Int }

    /// Works until stopped, or with `once` until the queue holds nothing left to do.
    public func run() async throws -> Summary {
        try await db.requireCurrentSchema()
        let optionsJSON = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        let runID = try await db.startRun(version: version, worker: name, optionsJSON: optionsJSON)
        log("worker \(name): \(options.jobs) job\(options.jobs == 1 ? "" : "s") at once, lease \(Int(options.leaseSeconds)) s, evidence under \(options.evidenceRoot)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, options.jobs) {
                group.addTask { try await self.loop(runID: runID) }
            }
            try await group.waitForAll()
        }
        try? await db.finishRun(runID)
        return state.withLock { Summary(done: $0.done, failed: $0.failed) }
    }

    private var stopping: Bool { state.withLock { $0.stopping } }

    private func loop(runID: Int64) async throws {
        var databaseErrors = 0
        while !stopping {
            let claimed: ClaimedJob?
            do {
                claimed = try await db.claim(worker: name, leaseSeconds: options.leaseSeconds)
                databaseErrors = 0
            } catch {
                // A database that restarts or a network that drops for a moment: wait and ask again, up to ten times
                // in a row (about a minute), then give up (exit 6) and let the scheduler restart the worker.
                databaseErrors += 1
                if databaseErrors > 10 { throw error }
                log("warning: cannot claim (\(FleetError.describe(error))); retrying in \(databaseErrors * 5) s")
                try await Task.sleep(for: .seconds(databaseErrors * 5))
                continue
            }
            guard let job = claimed else {
                if options.once, try await !db.hasOpenJobs() { return }
                try await Task.sleep(for: .seconds(options.pollSeconds))
                continue
            }
            state.withLock { $0.held[job.id] = job }
            log("claimed job \(job.id) \(job.inputPath) (attempt \(job.attempt) of \(job.maxAttempts))")
            let renewal = Task { [db, options, log] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(options.leaseSeconds / 3))
                    if Task.isCancelled { return }
                    if let owned = try? await db.renew(job, leaseSeconds: options.leaseSeconds), !owned {
                        log("job \(job.id): lease lost to another worker; its result will be discarded")
                        return
                    }
                }
            }
            let outcome = await work(job, runID: runID)
            renewal.cancel()
            defer { state.withLock { _ = $0.held.removeValue(forKey: job.id) } }
            try await settle(job, outcome: outcome)
        }
    }

    enum Outcome: Sendable {
        case done(ProcessedInput?, sha256: String, key: String, note: String?)
        case inputFailed(String, row: InputRow?, statsJSON: String?)
        case outputFailed(Error & Sendable)
    }

    private func settle(_ job: ClaimedJob, outcome: Outcome) async throws {
        switch outcome {
        case .done(let result, let sha, let key, let note):
            do {
                try await db.complete(job, result: result, sha256: sha, key: key, note: note)
                state.withLock { $0.done += 1 }
                if let result { log("job \(job.id) \(result.logLine)") } else { log("job \(job.id) done \(job.inputPath): \(note ?? "")") }
            } catch let error as FleetError {
                log("job \(job.id): \(error)")
            } catch {
                // Nothing was committed (one transaction); the job comes back when its lease expires, or now.
                log("error: job \(job.id): cannot commit (\(FleetError.describe(error))); it will be processed again")
                _ = try? await db.release(job, reason: "commit failed: \(FleetError.describe(error))")
            }
        case .inputFailed(let message, let row, let stats):
            let retry = options.retryDelaySeconds * Double(job.attempt)
            switch try await db.fail(job, error: message, retryDelay: retry, input: row, statsJSON: stats) {
            case "parked"?:
                state.withLock { $0.failed += 1 }
                log("error: job \(job.id) parked after \(job.attempt) attempt\(job.attempt == 1 ? "" : "s"): \(message)")
            case let s?:
                log("error: job \(job.id) \(s) (attempt \(job.attempt) of \(job.maxAttempts), retried after \(Int(retry)) s): \(message)")
            case nil:
                log("job \(job.id): lease lost before its failure could be recorded")
            }
        case .outputFailed(let error):
            // The shared folder cannot be written (full, read-only): not the input's fault. Give the job back and stop.
            _ = try? await db.release(job, reason: "released: \(error)")
            requestStop()
            throw error
        }
    }

    /// Hashing, the pipeline and the input's processing, on a thread of its own (CPU work never blocks the
    /// concurrency pool, which renews leases).
    private func work(_ job: ClaimedJob, runID: Int64) async -> Outcome {
        let processor: InputProcessor
        do { processor = try await self.processor(for: job.pipelineSha256) } catch {
            return .inputFailed("\(job.inputPath): \(FleetError.describe(error))", row: nil, statsJSON: nil)
        }
        let hashed: (sha256: String, size: Int64)
        do {
            hashed = try await onThread { try fileSHA256(job.inputPath) }
        } catch {
            return .inputFailed("\(error)", row: failedRow(job, sha256: nil, size: job.size, error: "\(error)", runID: runID), statsJSON: nil)
        }
        if let expected = job.sha256, expected != hashed.sha256 {
            let message = "\(job.inputPath): the file changed since it was enqueued (sha256 \(hashed.sha256.prefix(12)), enqueued \(expected.prefix(12)))"
            return .inputFailed(message, row: failedRow(job, sha256: hashed.sha256, size: hashed.size, error: message, runID: runID), statsJSON: nil)
        }
        let external: UpstreamBoxes?
        do { external = try await onThread { try processor.runner.externalDetections(for: job.inputPath) } } catch {
            let message = InputProcessor.describe(error, path: job.inputPath)
            return .inputFailed(message, row: failedRow(job, sha256: hashed.sha256, size: hashed.size, error: message, runID: runID), statsJSON: nil)
        }
        let key = InputProcessor.inputKey(sha256: hashed.sha256, pipelineSha256: job.pipelineSha256, detectionsSha256: external?.sha256)
        if let other = try? await db.doneInput(key: key), other != job.inputPath {
            return .done(nil, sha256: hashed.sha256, key: key, note: "same content as \(other), done already")
        }
        let started = Date()
        do {
            let result = try await onThread {
                try processor.process(path: job.inputPath, sha256: hashed.sha256, size: hashed.size, key: key, runID: runID, started: started,
                                      external: external)
            }
            return .done(result, sha256: hashed.sha256, key: key, note: nil)
        } catch let error as PipelineError {
            if case .output = error { return .outputFailed(error) }
            let message = InputProcessor.describe(error, path: job.inputPath)
            return .inputFailed(message, row: failedRow(job, sha256: hashed.sha256, size: hashed.size, error: message, runID: runID), statsJSON: nil)
        } catch let error as VideoIOError where error.kind == .write {
            return .outputFailed(PipelineError.output(error.path, "cannot write: \(error.reason)"))
        } catch {
            let message = InputProcessor.describe(error, path: job.inputPath)
            return .inputFailed(message, row: failedRow(job, sha256: hashed.sha256, size: hashed.size, error: message, runID: runID), statsJSON: nil)
        }
    }

    private func failedRow(_ job: ClaimedJob, sha256: String?, size: Int64, error: String, runID: Int64) -> InputRow {
        InputRow(key: sha256.map { InputProcessor.inputKey(sha256: $0, pipelineSha256: job.pipelineSha256) } ?? "unreadable:\(job.inputPath)",
                 path: job.inputPath, sha256: sha256 ?? "", size: size, pipelineSha256: job.pipelineSha256, status: "failed", error: error,
                 frames: 0, durationS: 0, startTime: nil, runID: runID)
    }

    /// The processor of a pipeline, parsed once from the text the queue holds.
    private func processor(for sha256: String) async throws -> InputProcessor {
        if let p = state.withLock({ $0.processors[sha256] }) { return p }
        guard let pipeline = try await db.pipeline(sha256: sha256) else {
            throw FleetError.database("pipeline \(sha256.prefix(12)) is not in the database")
        }
        let config: PipelineConfig
        do { config = try PipelineConfig.parse(text: pipeline.text, path: pipeline.path) } catch {
            throw FleetError.usage("\(pipeline.path): the queued pipeline does not load: \(error)")
        }
        guard config.sha256 == sha256 else { throw FleetError.database("pipeline \(sha256.prefix(12)): its text does not match its hash") }
        let runner = StageRunner(config: config, decoderThreads: options.threads, clipEncoder: options.evidence ? clipEncoder : nil)
        let processor = InputProcessor(config: config, runner: runner, outputDirectory: options.evidenceRoot, version: version,
                                       evidence: options.evidence)
        state.withLock { $0.processors[sha256] = processor }
        return processor
    }
}

/// Runs blocking work on a new thread (8 MiB stack, as the batch runner's) and resumes with its result.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

extension FleetDatabase {
    /// Whether anything is left that a worker could still do: pending, failed (retried later) or running jobs.
    public func hasOpenJobs() async throws -> Bool {
        let rows = try await client.query("SELECT count(*) FROM jobs WHERE state IN ('pending', 'failed', 'running')", logger: logger)
        for try await (n) in rows.decode(Int.self) { return n > 0 }
        return false
    }
}
