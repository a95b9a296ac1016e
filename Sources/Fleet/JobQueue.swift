import Foundation
import Logging
import Pipeline
import PostgresNIO

/// A job as a worker holds it: one input with one pipeline, under a lease identified by `token`.
public struct ClaimedJob: Sendable {
    public var id: Int64
    public var inputPath: String
    public var size: Int64
    public var sha256: String?
    public var pipelineSha256: String
    public var attempt: Int
    public var maxAttempts: Int
    public var token: String
}

/// The queue's operations. Every state change of a running job names its lease token, so a worker that lost its
/// lease (it stalled past the expiry and another worker took the job over) can change nothing.
extension FleetDatabase {
    // MARK: - Enqueue

    public struct EnqueueResult: Sendable { public var added: Int; public var alreadyQueued: Int }

    /// Registers the pipeline (its text, by hash) and one job per input; an input already queued with this pipeline
    /// is left as it is. `sha256` per input when hashed up front, else nil (the worker hashes).
    public func enqueue(pipeline: PipelineConfig, inputs: [(path: String, size: Int64, sha256: String?)], maxAttempts: Int) async throws -> EnqueueResult {
        try await transaction { c in
            try await c.query("""
                INSERT INTO pipelines (sha256, path, text, camera) VALUES (\(pipeline.sha256), \(pipeline.path), \(pipeline.text), \(pipeline.camera.id))
                ON CONFLICT (sha256) DO NOTHING
                """, logger: logger)
            var added = 0
            for input in inputs {
                let rows = try await c.query("""
                    INSERT INTO jobs (input_path, size, sha256, pipeline_sha256, max_attempts)
                    VALUES (\(input.path), \(input.size), \(input.sha256), \(pipeline.sha256), \(maxAttempts))
                    ON CONFLICT (input_path, pipeline_sha256) DO NOTHING RETURNING id
                    """, logger: logger)
                for try await _ in rows.decode(Int64.self) { added += 1 }
            }
            return EnqueueResult(added: added, alreadyQueued: inputs.count - added)
        }
    }

    /// The text and path of a registered pipeline.
    public func pipeline(sha256: String) async throws -> (path: String, text: String)? {
        let rows = try await client.query("SELECT path, text FROM pipelines WHERE sha256 = \(sha256)", logger: logger)
        for try await (path, text) in rows.decode((String, String).self) { return (path, text) }
        return nil
    }

    // MARK: - Claim and lease

    /// Parks running jobs whose lease expired on their last attempt (their worker died every time), then claims the
    /// oldest claimable job: pending, failed and due for a retry, or running with an expired lease (its worker was
    /// killed). `FOR UPDATE SKIP LOCKED`: workers claiming at once never wait for each other nor take the same job.
    public func claim(worker: String, leaseSeconds: Double) async throws -> ClaimedJob? {
        try await client.query("""
            UPDATE jobs SET state = 'parked', lease_token = NULL, lease_expires_at = NULL, finished_at = now(),
                last_error = 'the lease of ' || coalesce(worker, '?') || ' expired on attempt ' || attempts || ' of ' || max_attempts || ' (worker killed or stalled)'
            WHERE state = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
            """, logger: logger)
        let token = UUID().uuidString.lowercased()
        let rows = try await client.query("""
            UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_token = \(token), worker = \(worker),
                lease_expires_at = now() + make_interval(secs => \(leaseSeconds)), started_at = now(),
                last_error = CASE WHEN state = 'running' THEN 'the lease of ' || coalesce(worker, '?') || ' expired (worker killed or stalled)' ELSE last_error END
            WHERE id = (
                SELECT id FROM jobs
                WHERE (state IN ('pending', 'failed') AND not_before <= now()) OR (state = 'running' AND lease_expires_at < now())
                ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING id, input_path, size, sha256, pipeline_sha256, attempts, max_attempts
            """, logger: logger)
        for try await (id, path, size, sha, pipeline, attempts, maxAttempts) in rows.decode((Int64, String, Int64, String?, String, Int, Int).self) {
            return ClaimedJob(id: id, inputPath: path, size: size, sha256: sha, pipelineSha256: pipeline, attempt: attempts,
                              maxAttempts: maxAttempts, token: token)
        }
        return nil
    }

    /// Extends the lease; false when it is no longer this worker's.
    public func renew(_ job: ClaimedJob, leaseSeconds: Double) async throws -> Bool {
        let rows = try await client.query("""
            UPDATE jobs SET lease_expires_at = now() + make_interval(secs => \(leaseSeconds))
            WHERE id = \(job.id) AND lease_token = \(job.token) AND state = 'running' RETURNING id
            """, logger: logger)
        for try await _ in rows.decode(Int64.self) { return true }
        return false
    }

    /// Gives the job back untouched (a worker stopping on SIGTERM): pending again, the attempt not counted.
    @discardableResult
    public func release(_ job: ClaimedJob, reason: String) async throws -> Bool {
        let rows = try await client.query("""
            UPDATE jobs SET state = 'pending', attempts = greatest(attempts - 1, 0), lease_token = NULL, lease_expires_at = NULL,
                not_before = now(), note = \(reason)
            WHERE id = \(job.id) AND lease_token = \(job.token) AND state = 'running' RETURNING id
            """, logger: logger)
        for try await _ in rows.decode(Int64.self) { return true }
        return false
    }

    /// Records a failed attempt: `failed` (claimable again after `retryDelay` seconds) or, on the last attempt,
    /// `parked` with its error, plus a failed input row for the store (as a local run keeps one).
    /// Returns the new state, or nil when the lease was lost.
    public func fail(_ job: ClaimedJob, error: String, retryDelay: Double, input: InputRow?, statsJSON: String?) async throws -> String? {
        try await transaction { c in
            let rows = try await c.query("""
                UPDATE jobs SET state = CASE WHEN attempts >= max_attempts THEN 'parked' ELSE 'failed' END,
                    last_error = \(error), lease_token = NULL, lease_expires_at = NULL, finished_at = now(),
                    not_before = now() + make_interval(secs => \(retryDelay))
                WHERE id = \(job.id) AND lease_token = \(job.token) AND state = 'running' RETURNING state
                """, logger: logger)
            var state: String?
            for try await (s) in rows.decode(String.self) { state = s }
            guard let state else { return nil }
            if state == "parked", let input {
                try await upsertInput(input, statsJSON: statsJSON, jobID: job.id, onlyIfNotDone: true, connection: c)
            }
            return state
        }
    }

    /// Commits an input's results and marks its job done, in one transaction: the input row, its violations
    /// (upserted by id: a re-processed input never duplicates a record) and evidence. Throws `leaseLost` (and
    /// commits nothing) when the job is no longer this worker's.
    public func complete(_ job: ClaimedJob, result: ProcessedInput?, sha256: String, key: String, note: String?) async throws {
        try await transaction { c in
            let frames = result?.outcome.frames ?? 0
            let seconds = result?.outcome.seconds ?? 0
            let count = result?.records.count ?? 0
            let rows = try await c.query("""
                UPDATE jobs SET state = 'done', lease_token = NULL, lease_expires_at = NULL, finished_at = now(), sha256 = \(sha256),
                    input_key = \(key), frames = \(frames), seconds = \(seconds), violations = \(count), commits = commits + 1, note = \(note)
                WHERE id = \(job.id) AND lease_token = \(job.token) AND state = 'running' RETURNING id
                """, logger: logger)
            var owned = false
            for try await _ in rows.decode(Int64.self) { owned = true }
            guard owned else { throw FleetError.leaseLost(job: job.id) }
            guard let result else { return }
            try await c.query("DELETE FROM evidence WHERE record_id IN (SELECT id FROM violations WHERE input_key = \(key))", logger: logger)
            try await c.query("DELETE FROM violations WHERE input_key = \(key)", logger: logger)
            try await upsertInput(result.row, statsJSON: result.statsJSON, jobID: job.id, onlyIfNotDone: false, connection: c)
            for r in result.records {
                try await c.query("""
                    INSERT INTO violations (id, input_key, rule, lane, absolute_s, pts_s, speed_kmh, record_json, duplicate_of)
                    VALUES (\(r.record.id), \(key), \(r.record.rule.rawValue), \(r.record.lane), \(r.absolute), \(r.record.ptsS), \(r.record.speedKmh), \(r.json), NULL)
                    ON CONFLICT (id) DO UPDATE SET input_key = EXCLUDED.input_key, rule = EXCLUDED.rule, lane = EXCLUDED.lane,
                        absolute_s = EXCLUDED.absolute_s, pts_s = EXCLUDED.pts_s, speed_kmh = EXCLUDED.speed_kmh, record_json = EXCLUDED.record_json
                    """, logger: logger)
                for e in r.record.evidence {
                    try await c.query("""
                        INSERT INTO evidence (record_id, kind, path, sha256) VALUES (\(r.record.id), \(e.kind), \(e.path), \(e.sha256))
                        ON CONFLICT (record_id, kind) DO UPDATE SET path = EXCLUDED.path, sha256 = EXCLUDED.sha256
                        """, logger: logger)
                }
            }
        }
    }

    private func upsertInput(_ input: InputRow, statsJSON: String?, jobID: Int64, onlyIfNotDone: Bool, connection c: PostgresConnection) async throws {
        let guardClause = onlyIfNotDone ? " WHERE inputs.status <> 'done'" : ""
        try await c.query("""
            INSERT INTO inputs (key, path, sha256, size, pipeline_sha256, status, error, frames, duration_s, start_time, stats_json, run_id, job_id)
            VALUES (\(input.key), \(input.path), \(input.sha256), \(input.size), \(input.pipelineSha256), \(input.status), \(input.error),
                    \(input.frames), \(input.durationS), \(input.startTime), \(statsJSON), \(input.runID), \(jobID))
            ON CONFLICT (key) DO UPDATE SET path = EXCLUDED.path, sha256 = EXCLUDED.sha256, size = EXCLUDED.size, status = EXCLUDED.status,
                error = EXCLUDED.error, frames = EXCLUDED.frames, duration_s = EXCLUDED.duration_s, start_time = EXCLUDED.start_time,
                stats_json = EXCLUDED.stats_json, run_id = EXCLUDED.run_id, job_id = EXCLUDED.job_id\(unescaped: guardClause)
            """, logger: logger)
    }

    /// Whether this content was already done with this pipeline (the same bytes under another name).
    public func doneInput(key: String) async throws -> String? {
        let rows = try await client.query("SELECT path FROM inputs WHERE key = \(key) AND status = 'done'", logger: logger)
        for try await (path) in rows.decode(String.self) { return path }
        return nil
    }

    // MARK: - Runs

    public func startRun(version: String, worker: String, optionsJSON: String) async throws -> Int64 {
        let rows = try await client.query("""
            INSERT INTO runs (version, worker, options_json) VALUES (\(version), \(worker), \(optionsJSON)) RETURNING id
            """, logger: logger)
        for try await (id) in rows.decode(Int64.self) { return id }
        throw FleetError.database("no run id returned")
    }

    public func finishRun(_ id: Int64) async throws {
        try await client.query("UPDATE runs SET finished_at = now() WHERE id = \(id)", logger: logger)
    }
}
