import Foundation
import Logging
import PostgresNIO

/// The fleet's PostgreSQL database: the shared job queue and store. Open it with `FleetDatabase.with(url)`, which
/// runs the connection pool for the body's lifetime.
///
/// Schema versions are migrations applied in order, each in its own transaction under an advisory lock (two
/// `roadwatch migrate` at once apply each once), recorded in `roadwatch_schema`. Only `roadwatch migrate` changes
/// the schema; the other commands check that it is at the version they know and stop otherwise, so a worker role
/// needs no right to create or alter anything (`roadwatch migrate --grant-worker ROLE`).
public final class FleetDatabase: Sendable {
    public let client: PostgresClient
    public let url: DatabaseURL
    let logger: Logger

    init(url: DatabaseURL) {
        self.url = url
        var logger = Logger(label: "roadwatch.fleet")
        logger.logLevel = .critical
        self.logger = logger
        client = PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger)
    }

    /// Runs `body` with an open database; the pool closes when it returns.
    public static func with<T: Sendable>(_ url: DatabaseURL, _ body: @Sendable (FleetDatabase) async throws -> T) async throws -> T {
        let db = FleetDatabase(url: url)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await db.client.run(); return nil }
            defer { group.cancelAll() }
            do {
                try await db.ping()
                return try await body(db)
            } catch let error as FleetError {
                throw error
            } catch {
                throw FleetError.database("\(url): \(FleetError.describe(error))")
            }
        }
    }

    /// One direct connection first: a wrong password or host is reported at once, with the server's reason, instead
    /// of the pool retrying until its circuit breaker trips.
    func ping() async throws {
        do {
            let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration, id: 0, logger: logger)
            defer { Task { try? await connection.close() } }
            try await connection.query("SELECT 1", logger: logger)
        } catch {
            throw FleetError.database("\(url): cannot connect: \(FleetError.describe(error))")
        }
    }

    /// A transaction whose errors come out as thrown inside it (not wrapped in PostgresTransactionError).
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do { return try await client.withTransaction(logger: logger) { c in try await body(c) } } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }

    // MARK: - Schema

    /// The schema version this build knows.
    public static var currentVersion: Int { migrations.count }

    /// Each migration: its name and statements (one statement per string: the extended protocol takes one at a time).
    static let migrations: [(name: String, statements: [String])] = [
        ("v1: pipelines, jobs, runs, inputs, violations, evidence", [
            """
            CREATE TABLE pipelines (
                sha256 TEXT PRIMARY KEY,
                path TEXT NOT NULL,
                text TEXT NOT NULL,
                camera TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE jobs (
                id BIGSERIAL PRIMARY KEY,
                input_path TEXT NOT NULL,
                size BIGINT NOT NULL,
                sha256 TEXT,
                pipeline_sha256 TEXT NOT NULL REFERENCES pipelines(sha256),
                state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed', 'parked')),
                attempts INTEGER NOT NULL DEFAULT 0,
                max_attempts INTEGER NOT NULL DEFAULT 3,
                not_before TIMESTAMPTZ NOT NULL DEFAULT now(),
                lease_token TEXT,
                lease_expires_at TIMESTAMPTZ,
                worker TEXT,
                last_error TEXT,
                enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                started_at TIMESTAMPTZ,
                finished_at TIMESTAMPTZ,
                input_key TEXT,
                frames INTEGER,
                seconds DOUBLE PRECISION,
                violations INTEGER,
                commits INTEGER NOT NULL DEFAULT 0,
                note TEXT,
                UNIQUE (input_path, pipeline_sha256)
            )
            """,
            "CREATE INDEX jobs_open ON jobs (id) WHERE state IN ('pending', 'failed', 'running')",
            """
            CREATE TABLE runs (
                id BIGSERIAL PRIMARY KEY,
                started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                finished_at TIMESTAMPTZ,
                version TEXT NOT NULL,
                worker TEXT NOT NULL,
                options_json TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE inputs (
                key TEXT PRIMARY KEY,
                path TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                size BIGINT NOT NULL,
                pipeline_sha256 TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
                error TEXT,
                frames INTEGER NOT NULL,
                duration_s DOUBLE PRECISION NOT NULL,
                start_time TEXT,
                stats_json TEXT,
                run_id BIGINT NOT NULL REFERENCES runs(id),
                job_id BIGINT REFERENCES jobs(id)
            )
            """,
            """
            CREATE TABLE violations (
                id TEXT PRIMARY KEY,
                input_key TEXT NOT NULL REFERENCES inputs(key) ON DELETE CASCADE,
                rule TEXT NOT NULL,
                lane TEXT,
                absolute_s DOUBLE PRECISION,
                pts_s DOUBLE PRECISION NOT NULL,
                speed_kmh DOUBLE PRECISION,
                record_json TEXT NOT NULL,
                duplicate_of TEXT
            )
            """,
            "CREATE INDEX violations_input ON violations (input_key)",
            """
            CREATE TABLE evidence (
                record_id TEXT NOT NULL REFERENCES violations(id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                path TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                PRIMARY KEY (record_id, kind)
            )
            """,
        ]),
    ]

    /// The applied schema version (0: an empty database).
    public func schemaVersion() async throws -> Int {
        let exists = try await client.query("SELECT to_regclass('roadwatch_schema') IS NOT NULL", logger: logger)
        for try await (present) in exists.decode(Bool.self) where !present { return 0 }
        let rows = try await client.query("SELECT coalesce(max(version), 0) FROM roadwatch_schema", logger: logger)
        for try await (v) in rows.decode(Int.self) { return v }
        return 0
    }

    /// Applies the migrations not yet applied; returns their names.
    @discardableResult
    public func migrate() async throws -> [String] {
        var applied: [String] = []
        for (index, migration) in Self.migrations.enumerated() {
            let version = index + 1
            let done: Bool = try await transaction { c in
                // One migrator at a time, whichever process: the lock is held to the end of the transaction.
                try await c.query("SELECT pg_advisory_xact_lock(7415001)", logger: logger)
                try await c.query("""
                    CREATE TABLE IF NOT EXISTS roadwatch_schema (
                        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                    """, logger: logger)
                let rows = try await c.query("SELECT count(*) FROM roadwatch_schema WHERE version = \(version)", logger: logger)
                var present = false
                for try await (n) in rows.decode(Int.self) { present = n > 0 }
                if present { return false }
                for sql in migration.statements { try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
                try await c.query("INSERT INTO roadwatch_schema (version, name) VALUES (\(version), \(migration.name))", logger: logger)
                return true
            }
            if done { applied.append(migration.name) }
        }
        return applied
    }

    /// Stops with a clear message unless the schema is exactly the version this build knows.
    public func requireCurrentSchema() async throws {
        let version = try await schemaVersion()
        if version < Self.currentVersion {
            throw FleetError.schema("\(url): the database schema is at version \(version), this roadwatch needs \(Self.currentVersion): run `roadwatch migrate` with the owner role first")
        }
        if version > Self.currentVersion {
            throw FleetError.schema("\(url): the database schema is at version \(version), newer than this roadwatch knows (\(Self.currentVersion)): upgrade roadwatch")
        }
    }

    /// Grants a role what a worker needs and nothing more: read the queue and pipelines, update its jobs, write
    /// runs, inputs, violations and evidence. No CREATE, ALTER or DROP; no INSERT into jobs or pipelines.
    public func grantWorker(role: String) async throws {
        let r = try Self.quoteIdentifier(role)
        for sql in [
            "GRANT SELECT ON roadwatch_schema, pipelines TO \(r)",
            "GRANT SELECT, UPDATE ON jobs TO \(r)",
            "GRANT SELECT, INSERT, UPDATE ON runs TO \(r)",
            "GRANT SELECT, INSERT, UPDATE, DELETE ON inputs, violations, evidence TO \(r)",
            "GRANT USAGE ON SEQUENCE runs_id_seq TO \(r)",
        ] { try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
    }

    /// Grants a role what an operator needs: a worker's rights plus enqueueing (jobs, pipelines) and requeueing.
    public func grantOperator(role: String) async throws {
        try await grantWorker(role: role)
        let r = try Self.quoteIdentifier(role)
        for sql in [
            "GRANT SELECT, INSERT, UPDATE ON jobs, pipelines TO \(r)",
            "GRANT USAGE ON SEQUENCE jobs_id_seq TO \(r)",
        ] { try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger) }
    }

    static func quoteIdentifier(_ name: String) throws -> String {
        guard !name.isEmpty, name.count <= 63, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw FleetError.usage("'\(name)' is not a plain role name (letters, digits and _)")
        }
        return "\"\(name)\""
    }
}
