import Foundation
import PostgresNIO

/// Where the fleet's PostgreSQL is: a `postgres://user:password@host:port/database?sslmode=...` URL, given with
/// `--db`, in the environment (`ROADWATCH_DB_URL`) or in a file (`--db-file`, first line; for a mounted secret).
/// The password is never printed: `description` shows the URL with it replaced by `***`.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public var username: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    /// `disable`, `prefer` (the default) or `require`.
    public var sslMode: String
    /// A Unix socket folder or file given as `?host=/run/postgresql`, used instead of TCP.
    public var socketPath: String?

    public static let environmentVariable = "ROADWATCH_DB_URL"

    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("postgres://") || trimmed.hasPrefix("postgresql://") else {
            throw FleetError.usage("the database URL must start with postgres:// (postgres://USER:PASSWORD@HOST:PORT/DATABASE)")
        }
        guard let components = URLComponents(string: trimmed), let user = components.user, !user.isEmpty else {
            throw FleetError.usage("the database URL is not of the form postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        username = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        host = components.host ?? ""
        port = components.port ?? 5432
        database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw FleetError.usage("the database URL names no database (…/DATABASE)") }
        var mode = "prefer"
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let v = item.value, ["disable", "prefer", "require"].contains(v) else {
                    throw FleetError.usage("sslmode must be disable, prefer or require")
                }
                mode = v
            case "host": socketPath = item.value
            default: throw FleetError.usage("unknown database URL parameter '\(item.name)' (known: sslmode, host)")
            }
        }
        sslMode = mode
        if host.isEmpty && socketPath == nil { throw FleetError.usage("the database URL names no host") }
    }

    /// The URL from `--db`, else from `--db-file`, else from `ROADWATCH_DB_URL`.
    public static func resolve(flag: String?, file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DatabaseURL {
        if let flag { return try DatabaseURL(parsing: flag) }
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw FleetError.usage("\(file): cannot read the database URL file")
            }
            let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            do { return try DatabaseURL(parsing: line) } catch let FleetError.usage(message) { throw FleetError.usage("\(file): \(message)") }
        }
        if let value = environment[environmentVariable], !value.isEmpty { return try DatabaseURL(parsing: value) }
        throw FleetError.usage("no database: give --db URL, --db-file FILE or set \(environmentVariable)")
    }

    public var description: String {
        let auth = password == nil ? username : "\(username):***"
        let place = socketPath.map { "?host=\($0)" } ?? ""
        return "postgres://\(auth)@\(host.isEmpty ? "" : "\(host):\(port)")/\(database)\(place)"
    }

    var connectionConfiguration: PostgresConnection.Configuration {
        get throws {
            if let socketPath {
                return .init(unixSocketPath: socketFile(socketPath), username: username, password: password, database: database)
            }
            let tls: PostgresConnection.Configuration.TLS
            switch sslMode {
            case "disable": tls = .disable
            case "require": tls = .require(try .init(configuration: .makeClientConfiguration()))
            default: tls = .prefer(try .init(configuration: .makeClientConfiguration()))
            }
            return .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
    }

    private func socketFile(_ path: String) -> String {
        path.hasSuffix(".s.PGSQL.\(port)") ? path : (path as NSString).appendingPathComponent(".s.PGSQL.\(port)")
    }

    var clientConfiguration: PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let socketPath {
            configuration = .init(unixSocketPath: socketFile(socketPath), username: username, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch sslMode {
            case "disable": tls = .disable
            case "require": tls = .require(.makeClientConfiguration())
            default: tls = .prefer(.makeClientConfiguration())
            }
            configuration = .init(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.maximumConnections = 8
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}

/// Errors of the fleet commands; their text never holds the connection string's password.
public enum FleetError: Error, CustomStringConvertible, Sendable {
    case usage(String)
    case database(String)
    case schema(String)
    case leaseLost(job: Int64)

    public var description: String {
        switch self {
        case .usage(let m), .database(let m), .schema(let m): return m
        case .leaseLost(let job): return "job \(job): the lease was lost (another worker took the job over); results discarded"
        }
    }

    /// A database error as a line for logs: the server's message and SQL state, never the connection details.
    public static func describe(_ error: Error) -> String {
        if let e = error as? FleetError { return e.description }
        if let e = error as? PSQLError {
            if let info = e.serverInfo, let message = info[.message] {
                return "PostgreSQL: \(message)\(info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")"
            }
            if e.code == .connectionError || e.code == .serverClosedConnection || e.code == .clientClosedConnection {
                return "PostgreSQL: cannot connect (\(e.code))"
            }
            return "PostgreSQL: \(e.code)"
        }
        return "\(error)"
    }
}
