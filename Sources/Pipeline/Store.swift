import Foundation
import GRDB
import TrafficModel

/// One processed (or failed) input as the store keeps it.
public struct InputRow: Sendable, Equatable, Codable {
    /// sha256 of the file, then of the pipeline: an input is done once per pipeline.
    public var key: String
    public var path: String
    public var sha256: String
    public var size: Int64
    public var pipelineSha256: String
    /// `done` or `failed`.
    public var status: String
    public var error: String?
    public var frames: Int
    public var durationS: Double
    /// The footage clock's time of the first frame (ISO 8601), when known.
    public var startTime: String?
    public var runID: Int64

    public init(key: String, path: String, sha256: String, size: Int64, pipelineSha256: String, status: String, error: String?, frames: Int,
                durationS: Double, startTime: String?, runID: Int64) {
        self.key = key; self.path = path; self.sha256 = sha256; self.size = size; self.pipelineSha256 = pipelineSha256
        self.status = status; self.error = error; self.frames = frames; self.durationS = durationS; self.startTime = startTime; self.runID = runID
    }
}

/// The embedded store, `roadwatch.sqlite` in the run folder (SQLite through GRDB, WAL journal): runs, inputs,
/// violations and evidence. Each input's results are committed in one transaction, so an input is either wholly
/// in the store or not at all; schema versions are migrations applied in order.
public final class Store: @unchecked Sendable {
    public let path: String
    let queue: DatabaseQueue

    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try Self.migrator.migrate(queue)
        } catch {
            throw PipelineError.output(path, "cannot open the store: \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    started_at TEXT NOT NULL,
                    finished_at TEXT,
                    version TEXT NOT NULL,
                    pipeline_sha256 TEXT NOT NULL,
                    options_json TEXT NOT NULL
                );
                CREATE TABLE inputs (
                    key TEXT PRIMARY KEY,
                    path TEXT NOT NULL,
                    sha256 TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    pipeline_sha256 TEXT NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
                    error TEXT,
                    frames INTEGER NOT NULL,
                    duration_s REAL NOT NULL,
                    start_time TEXT,
                    stats_json TEXT,
                    run_id INTEGER NOT NULL REFERENCES runs(id)
                );
                CREATE TABLE violations (
                    id TEXT PRIMARY KEY,
                    input_key TEXT NOT NULL REFERENCES inputs(key) ON DELETE CASCADE,
                    rule TEXT NOT NULL,
                    lane TEXT,
                    absolute_s REAL,
                    pts_s REAL NOT NULL,
                    speed_kmh REAL,
                    record_json TEXT NOT NULL,
                    duplicate_of TEXT
                );
                CREATE INDEX violations_input ON violations(input_key);
                CREATE TABLE evidence (
                    record_id TEXT NOT NULL REFERENCES violations(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    path TEXT NOT NULL,
                    sha256 TEXT NOT NULL,
                    PRIMARY KEY (record_id, kind)
                );
                """)
        }
        return m
    }

    /// The schema version: the last migration applied.
    public func schemaVersion() throws -> String? {
        try queue.read { db in try Self.migrator.appliedMigrations(db).last }
    }

    public func startRun(version: String, pipelineSha256: String, optionsJSON: String, startedAt: String) throws -> Int64 {
        try queue.write { db in
            try db.execute(sql: "INSERT INTO runs (started_at, version, pipeline_sha256, options_json) VALUES (?, ?, ?, ?)",
                           arguments: [startedAt, version, pipelineSha256, optionsJSON])
            return db.lastInsertedRowID
        }
    }

    public func finishRun(_ id: Int64, at time: String) throws {
        try queue.write { db in try db.execute(sql: "UPDATE runs SET finished_at = ? WHERE id = ?", arguments: [time, id]) }
    }

    /// Whether this input has been processed to the end with this pipeline.
    public func isDone(key: String) throws -> Bool {
        try queue.read { db in
            try String.fetchOne(db, sql: "SELECT status FROM inputs WHERE key = ?", arguments: [key]) == "done"
        }
    }

    /// Replaces whatever the store held for this input with its new results, in one transaction. A result done
    /// replaces too what the store held for the same footage and pipeline under another key: the results of other
    /// upstream boxes (`InputProcessor.inputKey`), which new boxes supersede. Left beside them, their records stood
    /// as duplicates of the new ones, and which of the two the export kept went by the keys' order.
    public func commit(input: InputRow, statsJSON: String?, records: [(record: ViolationRecord, absolute: Double?, json: String)]) throws {
        try queue.write { db in
            if input.status == "done" {
                let superseded = "SELECT key FROM inputs WHERE sha256 = ? AND pipeline_sha256 = ? AND key != ?"
                let arguments: StatementArguments = [input.sha256, input.pipelineSha256, input.key]
                try db.execute(sql: "DELETE FROM evidence WHERE record_id IN (SELECT id FROM violations WHERE input_key IN (\(superseded)))", arguments: arguments)
                try db.execute(sql: "DELETE FROM violations WHERE input_key IN (\(superseded))", arguments: arguments)
                try db.execute(sql: "DELETE FROM inputs WHERE key IN (\(superseded))", arguments: arguments)
            }
            try db.execute(sql: "DELETE FROM evidence WHERE record_id IN (SELECT id FROM violations WHERE input_key = ?)", arguments: [input.key])
            try db.execute(sql: "DELETE FROM violations WHERE input_key = ?", arguments: [input.key])
            try db.execute(sql: """
                INSERT OR REPLACE INTO inputs (key, path, sha256, size, pipeline_sha256, status, error, frames, duration_s, start_time, stats_json, run_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [input.key, input.path, input.sha256, input.size, input.pipelineSha256, input.status, input.error,
                                 input.frames, input.durationS, input.startTime, statsJSON, input.runID])
            for r in records {
                try db.execute(sql: """
                    INSERT OR REPLACE INTO violations (id, input_key, rule, lane, absolute_s, pts_s, speed_kmh, record_json, duplicate_of)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)
                    """, arguments: [r.record.id, input.key, r.record.rule.rawValue, r.record.lane, r.absolute, r.record.ptsS, r.record.speedKmh, r.json])
                for e in r.record.evidence {
                    try db.execute(sql: "INSERT OR REPLACE INTO evidence (record_id, kind, path, sha256) VALUES (?, ?, ?, ?)",
                                   arguments: [r.record.id, e.kind, e.path, e.sha256])
                }
            }
        }
    }

    public func inputs() throws -> [InputRow] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM inputs ORDER BY path, key").map { row in
                InputRow(key: row["key"], path: row["path"], sha256: row["sha256"], size: row["size"], pipelineSha256: row["pipeline_sha256"],
                         status: row["status"], error: row["error"], frames: row["frames"], durationS: row["duration_s"],
                         startTime: row["start_time"], runID: row["run_id"])
            }
        }
    }

    /// A stored violation with what cross-file deduplication needs.
    public struct StoredViolation: Sendable {
        public var id: String
        public var inputKey: String
        public var rule: String
        public var lane: String?
        public var absolute: Double?
        public var pts: Double
        public var speed: Double?
        public var json: String
        public var duplicateOf: String?

        public init(id: String, inputKey: String, rule: String, lane: String?, absolute: Double?, pts: Double, speed: Double?, json: String,
                    duplicateOf: String?) {
            self.id = id; self.inputKey = inputKey; self.rule = rule; self.lane = lane; self.absolute = absolute; self.pts = pts
            self.speed = speed; self.json = json; self.duplicateOf = duplicateOf
        }
    }

    public func violations(pipelineSha256: String) throws -> [StoredViolation] {
        try queue.read { db in
            try Row.fetchAll(db, sql: """
                SELECT v.* FROM violations v JOIN inputs i ON i.key = v.input_key
                WHERE i.status = 'done' AND i.pipeline_sha256 = ?
                """, arguments: [pipelineSha256]).map { row in
                StoredViolation(id: row["id"], inputKey: row["input_key"], rule: row["rule"], lane: row["lane"], absolute: row["absolute_s"],
                                pts: row["pts_s"], speed: row["speed_kmh"], json: row["record_json"], duplicateOf: row["duplicate_of"])
            }
        }
    }

    public func markDuplicates(_ pairs: [(id: String, of: String?)]) throws {
        try queue.write { db in
            for p in pairs { try db.execute(sql: "UPDATE violations SET duplicate_of = ? WHERE id = ?", arguments: [p.of, p.id]) }
        }
    }

    public func evidence() throws -> [(recordID: String, kind: String, path: String, sha256: String)] {
        try queue.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM evidence ORDER BY record_id, kind").map { ($0["record_id"], $0["kind"], $0["path"], $0["sha256"]) }
        }
    }

    /// SQLite's own check of the file.
    public func integrityCheck() throws -> String {
        try queue.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "" }
    }
}
