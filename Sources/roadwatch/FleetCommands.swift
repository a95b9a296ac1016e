import ArgumentParser
import Dispatch
import Fleet
import Foundation
import Pipeline
import TrafficModel
import VideoIO

/// Where the fleet's database is: `--db URL`, `--db-file FILE` or ROADWATCH_DB_URL (never printed with its password).
struct DatabaseOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL postgres://USER:PASSWORD@HOST:PORT/DATABASE[?sslmode=disable|prefer|require] (default: $ROADWATCH_DB_URL).")
    var db: String?

    @Option(help: "A file whose first line is the database URL (a mounted secret).")
    var dbFile: String?

    func resolve() throws -> DatabaseURL {
        do { return try DatabaseURL.resolve(flag: db, file: dbFile) } catch {
            printError("error: \(error)")
            throw ExitCode.validationFailure
        }
    }
}

/// Runs a fleet command against the database, turning its errors into one line and exit status 6.
func withFleetDatabase<T: Sendable>(_ options: DatabaseOptions, _ body: @Sendable (FleetDatabase) async throws -> T) async throws -> T {
    let url = try options.resolve()
    do { return try await FleetDatabase.with(url, body) } catch let error as ExitCode {
        throw error
    } catch let error as PipelineError {
        printError("error: \(error)")
        throw ExitStatus.outputFailed
    } catch {
        printError("error: \(FleetError.describe(error))")
        throw ExitStatus.databaseFailed
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the fleet's PostgreSQL schema (run with the owner role), and grant roles their rights.",
        discussion: "Applies the schema migrations not yet applied, each in one transaction under an advisory lock. Workers never change the schema."
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Grant this existing role what a worker needs, and no more.")
    var grantWorker: [String] = []
    @Option(help: "Grant this existing role what an operator needs (a worker's rights plus enqueue).")
    var grantOperator: [String] = []

    func run() async throws {
        let (workers, operators) = (grantWorker, grantOperator)
        let (applied, version) = try await withFleetDatabase(database) { db in
            let applied = try await db.migrate()
            for role in workers { try await db.grantWorker(role: role) }
            for role in operators { try await db.grantOperator(role: role) }
            return (applied, try await db.schemaVersion())
        }
        for name in applied { print("applied \(name)") }
        print("schema version \(version)\(applied.isEmpty ? " (already current)" : "")")
        for role in workers { print("granted worker rights to \(role)") }
        for role in operators { print("granted operator rights to \(role)") }
    }
}

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Queue footage for the fleet's workers: one job per input with this pipeline.",
        discussion: """
            Inputs are files, folders or globs as for `run` (default: the pipeline's inputs), named by the paths the workers \
            will open: put footage on storage every worker mounts at the same path. Enqueuing an input already queued with \
            the same pipeline does nothing. Exit status: 0 queued, 2 invalid pipeline, 3 some inputs are not files, 6 database.
            """
    )
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The pipeline file.", completion: .file(extensions: ["yaml", "yml"]))
    var pipeline: String
    @Argument(help: "Footage: files, folders or globs.", completion: .file())
    var inputs: [String] = []
    @Flag(help: "Hash every input now (else each worker hashes the input it claims).")
    var hash = false
    @Option(help: "Attempts before a failing job is parked.")
    var maxAttempts = 3

    func validate() throws {
        guard (1...100).contains(maxAttempts) else { throw ValidationError("--max-attempts must be 1...100") }
    }

    func run() async throws {
        let config = try loadPipeline(pipeline)
        let files = footage(inputs, of: config)
        try checkAgainstInputs(config, files, pipeline)
        var jobs: [(path: String, size: Int64, sha256: String?)] = []
        var refused = 0
        // Absolute paths: a worker on another machine has another working folder.
        let cwd = FileManager.default.currentDirectoryPath
        for file in files.map({ $0.hasPrefix("/") ? $0 : InputList.normalise((cwd as NSString).appendingPathComponent($0)) }) {
            guard isRegularFile(file), let size = (try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int64 else {
                printError("error: \(file): not a regular file; not queued")
                refused += 1
                continue
            }
            if hash {
                do { jobs.append((file, size, try fileSHA256(file).sha256)) } catch {
                    printError("error: \(error)")
                    refused += 1
                }
            } else {
                jobs.append((file, size, nil))
            }
        }
        guard !jobs.isEmpty else {
            printError("error: no inputs to queue")
            throw ExitStatus.someInputsFailed
        }
        let queued = jobs
        let attempts = maxAttempts
        let result = try await withFleetDatabase(database) { db in
            try await db.requireCurrentSchema()
            return try await db.enqueue(pipeline: config, inputs: queued, maxAttempts: attempts)
        }
        print("queued \(result.added) job\(result.added == 1 ? "" : "s") with \(pipeline) (sha256 \(config.sha256.prefix(12))); \(result.alreadyQueued) already queued")
        if refused > 0 { throw ExitStatus.someInputsFailed }
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Process queued jobs: claim, run like `roadwatch run`, commit records and evidence in one transaction.",
        discussion: """
            Start as many as the machines allow (Kubernetes Job, Slurm array, systemd): identical processes sharing the \
            database and an evidence root. SIGTERM or SIGINT: no new job is claimed; jobs in hand finish within --grace \
            seconds or are given back to the queue, and the worker exits 0. A worker killed outright leaves a lease that \
            expires after --lease seconds; the job is then claimed again. Exit status: 0, 5 the evidence root cannot be \
            written (the job is given back), 6 database.
            """
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "The shared folder evidence, tracks and signal files go to (record paths are relative to it).")
    var evidenceRoot: String
    @Flag(help: "Exit when the queue holds nothing left to do, instead of waiting for more jobs.")
    var once = false
    @Option(help: "Jobs processed at once by this worker.")
    var jobs = 1
    @Option(help: "Decoder threads per job (default: each job's share of the cores plus four, at most 6).")
    var threads: Int?
    @Option(help: "Lease length in seconds (renewed every third of it while a job runs).")
    var lease = 60.0
    @Option(help: "Seconds between polls of an empty queue.")
    var poll = 2.0
    @Option(help: "Seconds before a failed job is retried (times the attempt number).")
    var retryDelay = 30.0
    @Option(help: "Seconds a stopping worker (SIGTERM) gives its jobs to finish before giving them back.")
    var grace = 20.0
    @Flag(help: "Write no evidence stills or clips.")
    var noEvidence = false

    func validate() throws {
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be 1...64") }
        if let threads { guard (0...64).contains(threads) else { throw ValidationError("--threads must be 0...64") } }
        guard lease >= 1, lease <= 3600 else { throw ValidationError("--lease must be 1...3600 seconds") }
        guard poll > 0, poll <= 600 else { throw ValidationError("--poll must be more than 0 and at most 600 seconds") }
        guard retryDelay >= 0, grace >= 0 else { throw ValidationError("--retry-delay and --grace must not be negative") }
    }

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        let root = (evidenceRoot as NSString).standardizingPath
        do { try FleetWorker.prepareEvidenceRoot(root) } catch {
            printError("error: \(error)")
            throw ExitStatus.outputFailed
        }
        let options = WorkerOptions(jobs: jobs, threads: threads ?? RunOptions.decoderThreads(jobs: jobs), leaseSeconds: lease, pollSeconds: poll, retryDelaySeconds: retryDelay,
                                    once: once, evidenceRoot: root, evidence: !noEvidence)
        let graceSeconds = grace
        let encoder = ownExecutable()
        let summary = try await withFleetDatabase(database) { db in
            let worker = FleetWorker(db: db, options: options, version: RoadwatchVersion.string, clipEncoder: encoder) { line in
                printError("\(ISO8601Instant.format(Date())) \(line)")
            }
            let stop = StopSignals { name in
                worker.requestStop()
                printError("\(ISO8601Instant.format(Date())) \(name): stopping; \(worker.heldJobs) job(s) in hand get \(Int(graceSeconds)) s to finish")
                DispatchQueue.global().asyncAfter(deadline: .now() + graceSeconds) {
                    Task {
                        await worker.releaseHeld(reason: "\(name): the worker stopped before the job finished")
                        Foundation.exit(0)
                    }
                }
            }
            defer { stop.cancel() }
            return try await worker.run()
        }
        printError("\(ISO8601Instant.format(Date())) worker finished: \(summary.done) done, \(summary.failed) parked")
    }
}

/// SIGTERM and SIGINT delivered to a handler on a dispatch queue instead of ending the process.
final class StopSignals: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []

    init(_ handler: @escaping @Sendable (String) -> Void) {
        for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let fired = Flag()
            source.setEventHandler { if fired.setOnce() { handler(name) } }
            source.resume()
            sources.append(source)
        }
    }

    func cancel() { for s in sources { s.cancel() } }

    final class Flag: @unchecked Sendable {
        private var set = false
        private let lock = NSLock()
        func setOnce() -> Bool { lock.lock(); defer { lock.unlock() }; if set { return false }; set = true; return true }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The fleet's queue: jobs pending, running, done, failed and parked; throughput; failures with their reasons."
    )
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Print JSON instead of tables.")
    var json = false
    @Flag(name: .customLong("list"), help: "List every job with its state, attempts and commits.")
    var listJobs = false

    func run() async throws {
        let list = listJobs
        let status = try await withFleetDatabase(database) { db in
            try await db.requireCurrentSchema()
            return try await db.status(listJobs: list)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(status), as: UTF8.self))
            return
        }
        let states = ["pending", "running", "done", "failed", "parked"]
        print(TextTable(header: states + ["total", "violations"], rows: [states.map { "\(status.counts[$0] ?? 0)" } + ["\(status.total)", "\(status.violations)"]]).render())
        for (label, t) in [("overall", status.overall), ("last 10 min", status.lastTenMinutes)] {
            guard let t else { continue }
            print(String(format: "throughput %@: %d jobs in %.1f s: %.1f jobs/min, %.0f frames/s", label, t.jobs, t.seconds, t.jobsPerMinute, t.framesPerSecond))
        }
        if !status.running.isEmpty {
            print("\nrunning:")
            print(TextTable(header: ["job", "input", "worker", "attempt", "lease left s"],
                            rows: status.running.map { ["\($0.id)", $0.path, $0.worker, "\($0.attempt)", String(format: "%.1f", $0.leaseRemainingS)] }).render())
        }
        if !status.failures.isEmpty {
            print("\nfailures:")
            print(TextTable(header: ["job", "state", "attempts", "input", "error"],
                            rows: status.failures.map { ["\($0.id)", $0.state, "\($0.attempts)/\($0.maxAttempts)", $0.path, String($0.error.prefix(100))] }).render())
        }
        if let jobs = status.jobs {
            print("\njobs:")
            print(TextTable(header: ["job", "state", "attempts", "commits", "violations", "input"],
                            rows: jobs.map { ["\($0.id)", $0.state, "\($0.attempts)", "\($0.commits)", $0.violations.map(String.init) ?? "-", $0.path] }).render())
        }
    }
}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write violations.jsonl and violations.csv from the fleet's database, as a local run writes them.",
        discussion: "Evidence paths in the records are relative to the workers' evidence root."
    )
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Output folder (created if missing).")
    var out: String
    @Option(help: "Only the records of this pipeline file (default: every pipeline's).")
    var pipeline: String?

    func run() async throws {
        let sha = try pipeline.map { try loadPipeline($0).sha256 }
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            printError("error: \(out): cannot create the output folder: \((error as NSError).localizedDescription)")
            throw ExitStatus.outputFailed
        }
        let folder = out
        let totals = try await withFleetDatabase(database) { db in
            try await db.requireCurrentSchema()
            return try await db.export(into: folder, pipelineSha256: sha)
        }
        let rules = totals.byRule.keys.sorted().map { "\($0) \(totals.byRule[$0]!)" }.joined(separator: ", ")
        print("exported \(totals.total) violation\(totals.total == 1 ? "" : "s") (\(rules.isEmpty ? "none" : rules); \(totals.duplicatesAcrossInputs) duplicates across inputs) to \(out)/violations.jsonl and \(out)/violations.csv")
    }
}
