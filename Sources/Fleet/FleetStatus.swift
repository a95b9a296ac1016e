import Foundation
import Logging
import Pipeline
import PostgresNIO

/// The queue at a glance, for `roadwatch status` (as a table, or JSON with `--json`).
public struct QueueStatus: Codable, Sendable {
    public struct Throughput: Codable, Sendable {
        /// The span the figures cover: first start to last finish of the jobs counted.
        public var seconds: Double
        public var jobs: Int
        public var frames: Int
        public var jobsPerMinute: Double
        public var framesPerSecond: Double
    }
    public struct Running: Codable, Sendable {
        public var id: Int64
        public var path: String
        public var worker: String
        public var attempt: Int
        public var leaseRemainingS: Double
    }
    public struct Failure: Codable, Sendable {
        public var id: Int64
        public var path: String
        public var state: String
        public var attempts: Int
        public var maxAttempts: Int
        public var error: String
    }
    public struct Job: Codable, Sendable {
        public var id: Int64
        public var path: String
        public var state: String
        public var attempts: Int
        public var commits: Int
        public var violations: Int?
    }
    public var schemaVersion: Int
    /// Jobs per state: pending, running, done, failed (to be retried), parked (failed on every attempt).
    public var counts: [String: Int]
    public var total: Int
    public var violations: Int
    /// Over every done job, and over those done in the last 10 minutes.
    public var overall: Throughput?
    public var lastTenMinutes: Throughput?
    public var running: [Running]
    public var failures: [Failure]
    /// Every job with its state, attempts and commits (with `--jobs`).
    public var jobs: [Job]?
}

extension FleetDatabase {
    public func status(listJobs: Bool = false) async throws -> QueueStatus {
        var counts = ["pending": 0, "running": 0, "done": 0, "failed": 0, "parked": 0]
        for try await (state, n) in try await client.query("SELECT state, count(*) FROM jobs GROUP BY state", logger: logger).decode((String, Int).self) {
            counts[state] = n
        }
        var violations = 0
        for try await (n) in try await client.query("SELECT count(*) FROM violations", logger: logger).decode(Int.self) { violations = n }
        func throughput(_ window: String) async throws -> QueueStatus.Throughput? {
            let rows = try await client.query(PostgresQuery(unsafeSQL: """
                SELECT count(*), coalesce(sum(frames), 0), coalesce(extract(epoch FROM max(finished_at) - min(started_at))::float8, 0)
                FROM jobs WHERE state = 'done' AND commits > 0 \(window)
                """), logger: logger)
            for try await (jobs, frames, seconds) in rows.decode((Int, Int, Double).self) where jobs > 0 {
                return .init(seconds: seconds, jobs: jobs, frames: frames, jobsPerMinute: Double(jobs) / max(seconds, 1e-3) * 60,
                             framesPerSecond: Double(frames) / max(seconds, 1e-3))
            }
            return nil
        }
        let overall = try await throughput("")
        let recent = try await throughput("AND finished_at > now() - interval '10 minutes'")
        var running: [QueueStatus.Running] = []
        for try await (id, path, worker, attempt, left) in try await client.query("""
            SELECT id, input_path, coalesce(worker, ''), attempts, extract(epoch FROM lease_expires_at - now())::float8
            FROM jobs WHERE state = 'running' ORDER BY id
            """, logger: logger).decode((Int64, String, String, Int, Double).self) {
            running.append(.init(id: id, path: path, worker: worker, attempt: attempt, leaseRemainingS: (left * 10).rounded() / 10))
        }
        var failures: [QueueStatus.Failure] = []
        for try await (id, path, state, attempts, maxAttempts, error) in try await client.query("""
            SELECT id, input_path, state, attempts, max_attempts, coalesce(last_error, '') FROM jobs WHERE state IN ('failed', 'parked') ORDER BY id
            """, logger: logger).decode((Int64, String, String, Int, Int, String).self) {
            failures.append(.init(id: id, path: path, state: state, attempts: attempts, maxAttempts: maxAttempts, error: error))
        }
        var jobs: [QueueStatus.Job]?
        if listJobs {
            var list: [QueueStatus.Job] = []
            for try await (id, path, state, attempts, commits, v) in try await client.query("""
                SELECT id, input_path, state, attempts, commits, violations FROM jobs ORDER BY id
                """, logger: logger).decode((Int64, String, String, Int, Int, Int?).self) {
                list.append(.init(id: id, path: path, state: state, attempts: attempts, commits: commits, violations: v))
            }
            jobs = list
        }
        return QueueStatus(schemaVersion: try await schemaVersion(), counts: counts, total: counts.values.reduce(0, +), violations: violations,
                           overall: overall, lastTenMinutes: recent, running: running, failures: failures, jobs: jobs)
    }

    /// Writes violations.jsonl and violations.csv into `directory`, exactly as a local run writes them, from every
    /// done input (or those of one pipeline), and stores the cross-input duplicate marks.
    public func export(into directory: String, pipelineSha256: String?) async throws -> RunSummary.ViolationTotals {
        var violations: [Store.StoredViolation] = []
        let filter = pipelineSha256
        for try await (id, key, rule, lane, absolute, pts, speed, json, duplicateOf) in try await client.query("""
            SELECT v.id, v.input_key, v.rule, v.lane, v.absolute_s, v.pts_s, v.speed_kmh, v.record_json, v.duplicate_of
            FROM violations v JOIN inputs i ON i.key = v.input_key
            WHERE i.status = 'done' AND (\(filter)::text IS NULL OR i.pipeline_sha256 = \(filter))
            """, logger: logger).decode((String, String, String, String?, Double?, Double, Double?, String, String?).self) {
            violations.append(.init(id: id, inputKey: key, rule: rule, lane: lane, absolute: absolute, pts: pts, speed: speed, json: json,
                                    duplicateOf: duplicateOf))
        }
        var inputs: [InputRow] = []
        for try await (key, path, sha, size, pipeline, status, error, frames, duration, start, run) in try await client.query("""
            SELECT key, path, sha256, size, pipeline_sha256, status, error, frames, duration_s, start_time, run_id FROM inputs
            """, logger: logger).decode((String, String, String, Int64, String, String, String?, Int, Double, String?, Int64).self) {
            inputs.append(InputRow(key: key, path: path, sha256: sha, size: size, pipelineSha256: pipeline, status: status, error: error,
                                   frames: frames, durationS: duration, startTime: start, runID: run))
        }
        let result = try RecordExport.write(violations: violations, inputs: inputs, into: directory)
        if !result.marks.isEmpty {
            try await transaction { c in
                for m in result.marks {
                    try await c.query("UPDATE violations SET duplicate_of = \(m.of) WHERE id = \(m.id)", logger: logger)
                }
            }
        }
        return result.totals
    }
}
