import Fleet
import Foundation
import Pipeline
import PostgresNIO
import Testing
import VideoIO

/// The PostgreSQL the fleet tests use: `.ci/run` starts a throw-away server and sets ROADWATCH_TEST_DB_URL. Without
/// it the tests are skipped with that message, unless ROADWATCH_REQUIRE_PG=1 (set by CI), when they fail instead.
enum TestPostgres {
    static let adminURL = ProcessInfo.processInfo.environment["ROADWATCH_TEST_DB_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let required = ProcessInfo.processInfo.environment["ROADWATCH_REQUIRE_PG"] == "1"
    static let enabled = adminURL != nil || required

    /// A fresh database for one test (dropped afterwards), and its URL.
    static func withDatabase<R: Sendable>(_ body: @Sendable (String) async throws -> R) async throws -> R {
        let admin = try #require(adminURL, "no PostgreSQL for the fleet tests: run `eval \"$(.ci/postgres start)\"` (CI does)")
        let name = "rw_\(UUID().uuidString.prefix(8).lowercased())"
        try await sql(admin, "CREATE DATABASE \(name)")
        let url = admin.replacingOccurrences(of: #"/[A-Za-z0-9_]+(\?|$)"#, with: "/\(name)$1", options: .regularExpression)
        do {
            let r = try await body(url)
            try await sql(admin, "DROP DATABASE \(name) WITH (FORCE)")
            return r
        } catch {
            try? await sql(admin, "DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
    }

    /// Runs statements on a database (no result).
    static func sql(_ url: String, _ statements: String...) async throws {
        try await FleetDatabase.with(try DatabaseURL(parsing: url)) { db in
            for s in statements { try await db.client.query(PostgresQuery(unsafeSQL: s)) }
        }
    }

    /// The rows of a query, each column as text.
    static func rows(_ url: String, _ query: String) async throws -> [[String?]] {
        try await FleetDatabase.with(try DatabaseURL(parsing: url)) { db in
            var out: [[String?]] = []
            for try await row in try await db.client.query(PostgresQuery(unsafeSQL: query)) {
                out.append(row.makeRandomAccess().map { cell -> String? in
                    guard cell.bytes != nil else { return nil }
                    if [.int2, .int4, .int8].contains(cell.dataType), let v = try? cell.decode(Int.self) { return "\(v)" }
                    if let v = try? cell.decode(String.self), [.text, .varchar, .name, .bpchar].contains(cell.dataType) { return v }
                    if let v = try? cell.decode(Double.self) { return "\(v)" }
                    if let v = try? cell.decode(Bool.self) { return "\(v)" }
                    return "?"
                })
            }
            return out
        }
    }

    /// A login role with a password, for least-privilege tests (roles are per server: a unique name, dropped after).
    static func withRole<R: Sendable>(database url: String, _ body: @Sendable (_ roleURL: String, _ role: String) async throws -> R) async throws -> R {
        let role = "rw_role_\(UUID().uuidString.prefix(8).lowercased())"
        let password = UUID().uuidString
        try await sql(url, "CREATE ROLE \(role) LOGIN PASSWORD '\(password)'")
        let roleURL = url.replacingOccurrences(of: #"//[^@]+@"#, with: "//\(role):\(password)@", options: .regularExpression)
        defer {
            let cleanup = url
            Task { try? await sql(cleanup, "DROP OWNED BY \(role)", "DROP ROLE \(role)") }
        }
        return try await body(roleURL, role)
    }
}

func withTemporaryDirectoryAsync<R>(_ body: (URL) async throws -> R) async throws -> R {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("roadwatch-fleet-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// The queue against a real PostgreSQL: migrations, least privilege, enqueue, claims under contention, leases,
/// release, retries and parking.
@Suite(.enabled(if: TestPostgres.enabled, "no PostgreSQL: set ROADWATCH_TEST_DB_URL (`eval \"$(.ci/postgres start)\"`)"))
struct FleetQueueTests {
    @Test("migrate is idempotent; a worker role can work the queue but not change the schema or enqueue")
    func migrationsAndRoles() async throws {
        try await TestPostgres.withDatabase { url in
            let first = try CLI.run(["migrate", "--db", url])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.contains("applied v1"))
            let second = try CLI.run(["migrate", "--db", url])
            #expect(second.stdout.contains("schema version 1 (already current)"), "\(second.stdout)")
            let versions = try await TestPostgres.rows(url, "SELECT count(*) FROM roadwatch_schema")
            #expect(versions == [["1"]], "\(versions)")

            try await TestPostgres.withRole(database: url) { roleURL, role in
                let grant = try CLI.run(["migrate", "--db", url, "--grant-worker", role])
                #expect(grant.status == 0 && grant.stdout.contains("granted worker rights to \(role)"), "\(grant.stderr)")
                // The worker role reads the queue...
                let status = try CLI.run(["status", "--db", roleURL])
                #expect(status.status == 0, "\(status.stderr)")
                // ...but cannot alter the schema, create tables, or enqueue.
                await #expect(throws: (any Error).self) { try await TestPostgres.sql(roleURL, "ALTER TABLE jobs ADD COLUMN x INTEGER") }
                await #expect(throws: (any Error).self) { try await TestPostgres.sql(roleURL, "CREATE TABLE intruder (x INTEGER)") }
                await #expect(throws: (any Error).self) { try await TestPostgres.sql(roleURL, "DROP TABLE violations") }
                let enqueue = try CLI.run(["enqueue", "--db", roleURL, packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path])
                #expect(enqueue.status == 6, "\(enqueue.stdout) \(enqueue.stderr)")
                #expect(enqueue.stderr.contains("permission denied"), "\(enqueue.stderr)")
                // Its errors never print the password.
                #expect(!enqueue.stderr.contains(try #require(roleURL.split(separator: ":").dropFirst(2).first?.split(separator: "@").first)))
            }
        }
    }

    @Test("an unmigrated database, a wrong password and a malformed URL: one clear line each, password never shown")
    func connectionErrors() async throws {
        try await TestPostgres.withDatabase { url in
            let unmigrated = try CLI.run(["status", "--db", url])
            #expect(unmigrated.status == 6)
            #expect(unmigrated.stderr.contains("schema is at version 0, this roadwatch needs 1: run `roadwatch migrate`"), "\(unmigrated.stderr)")
            let wrong = url.replacingOccurrences(of: #":[^:@/]+@"#, with: ":not-the-password@", options: .regularExpression)
            let denied = try CLI.run(["status", "--db", wrong])
            #expect(denied.status == 6)
            #expect(denied.stderr.contains("password authentication failed"), "\(denied.stderr)")
            #expect(!denied.stderr.contains("not-the-password"))
            #expect(denied.stderr.contains(":***@"), "\(denied.stderr)")
            let malformed = try CLI.run(["status", "--db", "mysql://x@y/z"])
            #expect(malformed.status == 64)
            #expect(malformed.stderr.contains("must start with postgres://"))
            // From the environment and from a file, as in a Kubernetes secret.
            let fromEnvironment = try CLI.run(["migrate"], environment: ["ROADWATCH_DB_URL": url])
            #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
            try await withTemporaryDirectoryAsync { dir in
                let file = dir.appendingPathComponent("db-url").path
                try (url + "\n").write(toFile: file, atomically: true, encoding: .utf8)
                let fromFile = try CLI.run(["status", "--db-file", file], environment: ["ROADWATCH_DB_URL": ""])
                #expect(fromFile.status == 0, "\(fromFile.stderr)")
            }
        }
    }

    @Test("enqueue twice is a no-op; concurrent claims never share a job; leases expire, release and retries and parking work")
    func queueSemantics() async throws {
        try await withTemporaryDirectoryAsync { dir in
            try await TestPostgres.withDatabase { url in
                let files = (1...4).map { dir.appendingPathComponent("clip-\($0).mp4").path }
                for (k, f) in files.enumerated() { try Data(repeating: UInt8(k), count: 100 + k).write(to: URL(fileURLWithPath: f)) }
                let pipeline = try PipelineConfig.load(path: packageRoot.appendingPathComponent("Pipelines/sample-junction.yaml").path)
                try await FleetDatabase.with(try DatabaseURL(parsing: url)) { db in
                    try await db.migrate()
                    let inputs = files.map { (path: $0, size: Int64(100), sha256: String?.none) }
                    let added = try await db.enqueue(pipeline: pipeline, inputs: inputs, maxAttempts: 2)
                    #expect(added.added == 4 && added.alreadyQueued == 0)
                    let again = try await db.enqueue(pipeline: pipeline, inputs: inputs, maxAttempts: 2)
                    #expect(again.added == 0 && again.alreadyQueued == 4)

                    // Eight claimers at once over four jobs: four distinct jobs, four nils.
                    let claims = try await withThrowingTaskGroup(of: ClaimedJob?.self) { group in
                        for k in 0..<8 { group.addTask { try await db.claim(worker: "w\(k)", leaseSeconds: 30) } }
                        var all: [ClaimedJob?] = []
                        for try await c in group { all.append(c) }
                        return all
                    }
                    let held = claims.compactMap { $0 }
                    #expect(held.count == 4)
                    #expect(Set(held.map(\.id)).count == 4)
                    #expect(try await db.claim(worker: "late", leaseSeconds: 30) == nil)
                    let byPath = Dictionary(uniqueKeysWithValues: held.map { ($0.inputPath, $0) })
                    let a = try #require(byPath[files[0]]), b = try #require(byPath[files[1]]), c = try #require(byPath[files[2]])

                    // Renewal; release gives the job back without counting the attempt.
                    #expect(try await db.renew(a, leaseSeconds: 30))
                    #expect(try await db.release(a, reason: "SIGTERM"))
                    #expect(try await db.renew(a, leaseSeconds: 30) == false, "a released lease cannot be renewed")
                    let a2 = try #require(try await db.claim(worker: "w9", leaseSeconds: 1))
                    #expect(a2.id == a.id && a2.attempt == 1)

                    // An expired lease (a killed worker) is claimed again; the old holder can no longer commit.
                    try await Task.sleep(for: .seconds(1.5))
                    let a3 = try #require(try await db.claim(worker: "w10", leaseSeconds: 30))
                    #expect(a3.id == a.id && a3.attempt == 2)
                    await #expect(throws: FleetError.self) { try await db.complete(a2, result: nil, sha256: "x", key: "k", note: nil) }
                    let error = try await TestPostgres.rows(url, "SELECT last_error FROM jobs WHERE id = \(a.id)")
                    #expect(error.first?.first??.contains("lease of w9 expired") == true, "\(error)")

                    // Fails twice (max 2 attempts): failed, then parked with its error.
                    #expect(try await db.fail(b, error: "\(files[1]): not footage", retryDelay: 0, input: nil, statsJSON: nil) == "failed")
                    let b2 = try #require(try await db.claim(worker: "w11", leaseSeconds: 30))
                    #expect(b2.id == b.id && b2.attempt == 2)
                    #expect(try await db.fail(b2, error: "\(files[1]): not footage", retryDelay: 0, input: nil, statsJSON: nil) == "parked")
                    // A failure waits for its retry delay.
                    #expect(try await db.fail(c, error: "transient", retryDelay: 60, input: nil, statsJSON: nil) == "failed")
                    #expect(try await db.claim(worker: "w12", leaseSeconds: 30) == nil)

                    let status = try await db.status()
                    #expect(status.counts["parked"] == 1 && status.counts["failed"] == 1 && status.counts["running"] == 2)
                    #expect(status.failures.contains { $0.state == "parked" && $0.error == "\(files[1]): not footage" && $0.attempts == 2 })
                }
                let shown = try CLI.run(["status", "--db", url])
                #expect(shown.stdout.contains("not footage"), "\(shown.stdout)")
            }
        }
    }
}

/// A roadwatch process in the background, its standard error in a file to watch.
final class BackgroundCommand: @unchecked Sendable {
    let process = Process()
    let logPath: String

    init(_ arguments: [String], log: String) throws {
        logPath = log
        FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = CLI.binary
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the log holds `text` (true) or the time is up (false).
    func waitFor(_ text: String, timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            usleep(20_000)
        }
        return false
    }

    /// Waits for the exit (killing it after `timeout` seconds) and returns the status.
    func wait(timeout: Double) -> Int32 {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// The issue's scenario on one machine: three workers over twelve inputs, one killed outright mid-job, one stopped
/// with SIGTERM mid-job (giving its job back), a fourth stopped with SIGTERM and time to finish its job, a
/// replacement started as a scheduler would; every input is done exactly once and the
/// exported records, evidence list and evidence files are those of a local `run` over the same inputs.
@Suite(.enabled(if: TestPostgres.enabled, "no PostgreSQL: set ROADWATCH_TEST_DB_URL (`eval \"$(.ci/postgres start)\"`)"))
struct FleetEndToEndTests {
    @Test("an upstream detector's boxes per input through the queue: the export is the local run's, byte for byte; one file for many refused at enqueue")
    func fleetUpstreamBoxes() async throws {
        try await withTemporaryDirectoryAsync { dir in
            let footage = dir.appendingPathComponent("footage")
            _ = try RunCommandTests.upstreamFolder(footage)
            let pipeline = try RunCommandTests.externalPipeline(dir.appendingPathComponent("per-input.yaml").path, externalFile: "\"{dir}/{stem}.mot.csv\"")
            let fixed = try RunCommandTests.externalPipeline(dir.appendingPathComponent("fixed.yaml").path,
                                                             externalFile: footage.appendingPathComponent("junction-day.mot.csv").path)
            let localDir = dir.appendingPathComponent("local").path
            let local = try CLI.run(["run", pipeline, footage.path, "--out", localDir, "--plain"])
            #expect(local.status == 0, "\(local.stderr)")
            let expectedJSONL = try Data(contentsOf: URL(fileURLWithPath: localDir + "/violations.jsonl"))
            #expect(String(decoding: expectedJSONL, as: UTF8.self).components(separatedBy: "\"detections_sha256\"").count - 1 == 6)

            try await TestPostgres.withDatabase { url in
                #expect(try CLI.run(["migrate", "--db", url]).status == 0)
                let refused = try CLI.run(["enqueue", "--db", url, fixed, footage.path])
                #expect(refused.status == 2 && refused.stderr.contains("detection.external_file: names one file of boxes for 2 inputs"), "\(refused.stderr)")
                let enqueue = try CLI.run(["enqueue", "--db", url, pipeline, footage.path])
                #expect(enqueue.status == 0 && enqueue.stdout.contains("queued 2 jobs"), "\(enqueue.stdout) \(enqueue.stderr)")
                let root = dir.appendingPathComponent("shared").path
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                let worker = try CLI.run(["worker", "--db", url, "--evidence-root", root, "--once", "--threads", "1"])
                #expect(worker.status == 0, "\(worker.stdout) \(worker.stderr)")
                let exportDir = dir.appendingPathComponent("export").path
                let export = try CLI.run(["export", "--db", url, "--out", exportDir])
                #expect(export.status == 0, "\(export.stderr)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: exportDir + "/violations.jsonl")) == expectedJSONL)
            }
        }
    }

    @Test("workers SIGKILLed, SIGTERMed with and without grace mid-job: 12 inputs done once, export identical to a local run")
    func fleetMatchesLocalRun() async throws {
        try await withTemporaryDirectoryAsync { dir in
            let footage = dir.appendingPathComponent("footage")
            try FileManager.default.createDirectory(at: footage, withIntermediateDirectories: true)
            try KillResumeTests.pieces(into: footage, ranges: (0..<12).map { $0 * 50 ..< $0 * 50 + 150 })
            let pipeline = dir.appendingPathComponent("junction.yaml").path
            try quickJunctionPipeline(width: 240).write(toFile: pipeline, atomically: true, encoding: .utf8)
            let files = try FileManager.default.contentsOfDirectory(atPath: footage.path).sorted().map { footage.appendingPathComponent($0).path }
            #expect(files.count == 12)

            let localDir = dir.appendingPathComponent("local").path
            let local = try CLI.run(["run", pipeline] + files + ["--out", localDir, "--jobs", "2", "--plain"])
            #expect(local.status == 0, "\(local.stderr)")
            let expectedJSONL = try Data(contentsOf: URL(fileURLWithPath: localDir + "/violations.jsonl"))
            let expectedCSV = try Data(contentsOf: URL(fileURLWithPath: localDir + "/violations.csv"))
            #expect(!expectedJSONL.isEmpty, "the pieces should hold violations")
            let localStore = try Store(path: localDir + "/roadwatch.sqlite")
            let localEvidence = try localStore.evidence().map { "\($0.recordID) \($0.kind) \($0.path) \($0.sha256)" }.sorted()
            let localViolations = try localStore.violations(pipelineSha256: try PipelineConfig.load(path: pipeline).sha256).count

            try await TestPostgres.withDatabase { url in
                #expect(try CLI.run(["migrate", "--db", url]).status == 0)
                try await TestPostgres.withRole(database: url) { workerURL, role in
                    #expect(try CLI.run(["migrate", "--db", url, "--grant-worker", role]).status == 0)
                    let enqueue = try CLI.run(["enqueue", "--db", url, pipeline, footage.path])
                    #expect(enqueue.status == 0 && enqueue.stdout.contains("queued 12 jobs"), "\(enqueue.stdout) \(enqueue.stderr)")

                    let root = dir.appendingPathComponent("shared").path
                    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                    let common = ["worker", "--db", workerURL, "--evidence-root", root, "--once", "--lease", "3", "--poll", "0.3",
                                  "--retry-delay", "0", "--threads", "1"]
                    let logs = dir.appendingPathComponent("logs")
                    try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
                    let killed = try BackgroundCommand(common, log: logs.appendingPathComponent("killed.log").path)
                    let stopped = try BackgroundCommand(common + ["--grace", "0"], log: logs.appendingPathComponent("stopped.log").path)
                    let steady = try BackgroundCommand(common, log: logs.appendingPathComponent("steady.log").path)

                    #expect(killed.waitFor("claimed job", timeout: 120), "\(killed.log)")
                    kill(killed.process.processIdentifier, SIGKILL)
                    #expect(killed.wait(timeout: 30) == SIGKILL)
                    #expect(stopped.waitFor("claimed job", timeout: 120), "\(stopped.log)")
                    kill(stopped.process.processIdentifier, SIGTERM)
                    #expect(stopped.wait(timeout: 60) == 0, "\(stopped.log)")
                    #expect(stopped.log.contains("SIGTERM: stopping"), "\(stopped.log)")
                    // Stopped with time to finish: the job in hand is committed, then the worker exits 0.
                    let finisher = try BackgroundCommand(common + ["--grace", "120"], log: logs.appendingPathComponent("finisher.log").path)
                    #expect(finisher.waitFor("claimed job", timeout: 120), "\(finisher.log)")
                    kill(finisher.process.processIdentifier, SIGTERM)
                    #expect(finisher.wait(timeout: 180) == 0, "\(finisher.log)")
                    #expect(finisher.log.contains("SIGTERM: stopping; 1 job(s) in hand"), "\(finisher.log)")
                    #expect(finisher.log.contains(" done /"), "the stopped worker finished its job: \(finisher.log)")
                    #expect(!finisher.log.contains("released job"), "\(finisher.log)")
                    #expect(finisher.log.components(separatedBy: "claimed job").count == 2, "no job claimed after SIGTERM: \(finisher.log)")
                    // The scheduler replaces the lost workers with one.
                    let replacement = try BackgroundCommand(common, log: logs.appendingPathComponent("replacement.log").path)
                    #expect(steady.wait(timeout: 600) == 0, "\(steady.log)")
                    #expect(replacement.wait(timeout: 600) == 0, "\(replacement.log)")
                    // With --grace 0 the job in hand goes back to the queue at once (not counted as an attempt).
                    #expect(stopped.log.contains("released job"), "\(stopped.log)")

                    // Every job done, each committed exactly once; the killed worker's job was taken over.
                    let jobs = try await TestPostgres.rows(url, "SELECT state, commits, attempts, coalesce(last_error, '') FROM jobs ORDER BY id")
                    #expect(jobs.count == 12)
                    #expect(jobs.allSatisfy { $0[0] == "done" && $0[1] == "1" }, "\(jobs)")
                    let killedName = ":\(killed.process.processIdentifier) "
                    #expect(jobs.contains { $0[2] == "2" && $0[3]?.contains(killedName) == true && $0[3]?.contains("expired") == true }, "\(jobs)")
                    #expect(try await TestPostgres.rows(url, "SELECT count(*) FROM inputs WHERE status = 'done'") == [["12"]])
                    #expect(try await TestPostgres.rows(url, "SELECT count(*) FROM violations") == [["\(localViolations)"]])

                    // The export is byte for byte the local run's; so are the evidence list and files.
                    let exportDir = dir.appendingPathComponent("export").path
                    let export = try CLI.run(["export", "--db", url, "--out", exportDir])
                    #expect(export.status == 0, "\(export.stderr)")
                    #expect(try Data(contentsOf: URL(fileURLWithPath: exportDir + "/violations.jsonl")) == expectedJSONL)
                    #expect(try Data(contentsOf: URL(fileURLWithPath: exportDir + "/violations.csv")) == expectedCSV)
                    let fleetEvidence = try await TestPostgres.rows(url, "SELECT record_id, kind, path, sha256 FROM evidence")
                        .map { $0.map { $0 ?? "" }.joined(separator: " ") }.sorted()
                    #expect(fleetEvidence == localEvidence)
                    for line in localEvidence {
                        let parts = line.split(separator: " ")
                        let file = root + "/" + parts[2]
                        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
                        #expect(EvidenceWriter.sha256(Array(bytes)) == String(parts[3]), "\(file)")
                    }

                    let status = try CLI.run(["status", "--db", url])
                    #expect(status.stdout.contains("throughput overall: 12 jobs"), "\(status.stdout)")
                }
            }
        }
    }
}
