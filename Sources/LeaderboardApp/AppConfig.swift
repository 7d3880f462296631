import Foundation
import LeaderboardCore
import LeaderboardService
import PostgresClient
import RedisClient
import Yams

/// The server's configuration: `config.yaml` with the seed's sections, every value overridable
/// by an environment variable `LEADERBOARD_<SECTION>_<KEY>` (e.g. `LEADERBOARD_REDIS_ADDR`).
public struct AppConfig: Sendable, Equatable {
    public struct Server: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var readTimeout: Duration = .seconds(5)
        public var writeTimeout: Duration = .seconds(10)
        /// A connection with no request in progress is closed after this long.
        public var idleTimeout: Duration = .seconds(60)
        /// Open connections at most (past it the longest-idle one makes room, or the new one is closed).
        public var maxConnections = 10_000
        /// How long a graceful shutdown (SIGTERM) may take before the process exits anyway.
        public var shutdownTimeout: Duration = .seconds(15)
        public var maxBodyBytes = 1 << 20
        public var logLevel = "info"
        /// `text` or `json` (one JSON object per line).
        public var logFormat = "text"
    }

    public struct Redis: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 6379
        public var password = ""
        public var db = 0
        public var poolSize = 4
        public var timeout: Duration = .seconds(2)
    }

    public struct Postgres: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 5432
        public var user = "leaderboard"
        public var password = "secret"
        public var database = "leaderboard"
        public var maxConnections = 8
        /// Connections of the pool for long reads (snapshots, source=batch, sync scans).
        public var readConnections = 4
        public var statementTimeout: Duration = .seconds(30)
        /// How long opening a connection may take (libpq's connect_timeout, whole seconds).
        public var connectTimeout: Duration = .seconds(3)
        /// How long a request waits for a free connection before it is answered 503.
        public var acquireTimeout: Duration = .seconds(5)
    }

    public struct Sync: Sendable, Equatable {
        public var interval: Duration = .seconds(1800)
        public var batchSize = 1000
        /// How long POST /leaderboards/{id}/sync waits for the pass before answering 202.
        public var requestWait: Duration = .seconds(10)
        /// A pass's lease on its board (renewed every third of it while the pass runs).
        public var lease: Duration = .seconds(60)
    }

    /// API keys by role (comma-separated lists in the file and environment); none = no access control.
    public struct Auth: Sendable, Equatable {
        public var adminKeys: [String] = []
        public var writerKeys: [String] = []
        public var readerKeys: [String] = []
        /// Whether reads need a key too (any role).
        public var protectReads = false

        public var policy: AccessPolicy {
            AccessPolicy(adminKeys: adminKeys, writerKeys: writerKeys, readerKeys: readerKeys, protectReads: protectReads)
        }
    }

    public struct Leaderboard: Sendable, Equatable {
        public var defaultLimit = 10
        public var maxLimit = 1000
        public var maxBatchSize = 1000
        public var commitWindow: Duration = .milliseconds(2)
        public var commitMaxEvents = 2000
        public var configCacheTTL: Duration = .seconds(5)
        /// A layout change's build: members per staging command, and the rest after each round
        /// (and each page of its snapshot) as a multiple of its time.
        public var migrationBatch = 500
        public var migrationPace = 1.0
    }

    public var server = Server()
    public var redis = Redis()
    public var postgres = Postgres()
    public var sync = Sync()
    public var auth = Auth()
    public var rateLimit = RateLimiter.Configuration()
    public var leaderboard = Leaderboard()
    /// Path of the topology file (Redis nodes and layouts); empty: one node, `redis.addr`.
    public var topology = ""

    public init() {}

    // MARK: - Derived configurations

    /// The topology file's, or one node at `redis.addr` when no file is named.
    public func loadTopology() throws -> Topology {
        guard !topology.isEmpty else {
            return Topology(nodes: [.init(id: "default", host: redis.host, port: redis.port, password: redis.password.isEmpty ? nil : redis.password)])
        }
        do { return try TopologyLoader.load(path: topology) } catch let error as TopologyError {
            throw ConfigError(key: "topology", problem: "\(topology): \(error.message)")
        }
    }

    /// The client of a Redis Cluster topology: its seeds and password, timeouts and pool sizes from `redis`.
    public func redisCluster(_ cluster: Topology.Cluster) -> RedisClusterClient.Configuration {
        .init(
            seeds: cluster.seeds.map { ClusterAddress(host: $0.host, port: $0.port) },
            password: cluster.password ?? (redis.password.isEmpty ? nil : redis.password), timeoutMilliseconds: Int(redis.timeout.milliseconds),
            poolSize: redis.poolSize
        )
    }

    /// The pool of one node: address and password from the topology, the rest from `redis`.
    public func redisPool(for node: Topology.Node) -> RedisConnectionPool.Configuration {
        .init(
            connection: .init(
                host: node.host, port: node.port, password: node.password ?? (redis.password.isEmpty ? nil : redis.password), database: redis.db,
                timeoutMilliseconds: Int(redis.timeout.milliseconds)
            ),
            poolSize: redis.poolSize
        )
    }

    public var postgresPool: PGConnectionPool.Configuration {
        .init(
            connection: .init(
                host: postgres.host, port: postgres.port, user: postgres.user, password: postgres.password, database: postgres.database,
                connectTimeoutSeconds: Int(max(postgres.connectTimeout.components.seconds, 1)), statementTimeoutMilliseconds: Int(postgres.statementTimeout.milliseconds)
            ),
            maxConnections: postgres.maxConnections,
            acquireTimeoutSeconds: Int(max(postgres.acquireTimeout.components.seconds, 1))
        )
    }

    /// The pool of long reads: the same database, its own connections.
    public var postgresReadPool: PGConnectionPool.Configuration {
        var pool = postgresPool
        pool.maxConnections = postgres.readConnections
        pool.connection.applicationName = "leaderboard-reads"
        return pool
    }

    public var service: LeaderboardService.Configuration {
        .init(
            limits: ReadLimits(defaultLimit: leaderboard.defaultLimit, maxLimit: leaderboard.maxLimit),
            maxBatchSize: leaderboard.maxBatchSize
        )
    }

    public var writer: WriteCoordinator.Configuration {
        .init(maxBatchEvents: leaderboard.commitMaxEvents, window: leaderboard.commitWindow)
    }
}

/// A configuration problem, naming the key.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let key: String
    public let problem: String
    public var description: String { "invalid configuration: \(key): \(problem)" }
}

extension AppConfig {
    /// Reads `path` (if it exists; a missing default file is fine) and applies the environment.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AppConfig {
        var values: [String: String] = [:]
        if let path {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigError(key: "config", problem: "cannot read \(path)")
            }
            values = try flatten(yaml: text)
        }
        for (name, value) in environment where name.hasPrefix("LEADERBOARD_") && name != "LEADERBOARD_CONFIG" {
            let rest = name.dropFirst("LEADERBOARD_".count).lowercased()
            if rest == "topology" {
                values["topology"] = value
                continue
            }
            // Only the configuration's sections: other LEADERBOARD_* variables (a test's, a script's) are not ours.
            // (Sections may hold an underscore themselves: LEADERBOARD_RATE_LIMIT_READ_BURST.)
            guard let section = sections.sorted(by: { $0.count > $1.count }).first(where: { rest.hasPrefix($0 + "_") }) else { continue }
            values["\(section).\(rest.dropFirst(section.count + 1))"] = value
        }
        return try AppConfig(values: values)
    }

    static let sections: Set<String> = ["server", "redis", "postgres", "sync", "leaderboard", "auth", "rate_limit"]

    /// `section.key` → text, from the YAML document.
    static func flatten(yaml text: String) throws -> [String: String] {
        let document: Any?
        do { document = try Yams.load(yaml: text) } catch {
            throw ConfigError(key: "config", problem: "not valid YAML: \(error)")
        }
        guard let document else { return [:] }
        guard let root = document as? [String: Any] else { throw ConfigError(key: "config", problem: "the document must be a mapping") }
        var values: [String: String] = [:]
        for (section, content) in root {
            if section == "topology" {
                guard let path = content as? String else { throw ConfigError(key: "topology", problem: "must be a file path") }
                values["topology"] = path
                continue
            }
            guard sections.contains(section) else { throw ConfigError(key: section, problem: "unknown section") }
            guard let mapping = content as? [String: Any] else {
                throw ConfigError(key: section, problem: "must be a mapping of keys to values")
            }
            for (key, value) in mapping {
                guard let text = scalarText(value) else { throw ConfigError(key: "\(section).\(key)", problem: "must be a scalar") }
                values["\(section).\(key)"] = text
            }
        }
        return values
    }

    private static func scalarText(_ value: Any) -> String? {
        switch value {
        case let text as String: text
        case let number as Int: String(number)
        case let number as Double: String(number)
        case let flag as Bool: String(flag)
        default: nil
        }
    }

    init(values: [String: String]) throws {
        var reader = ConfigReader(values: values)
        self.init()
        server.host = try reader.string("server.host", default: server.host)
        server.port = try reader.int("server.port", default: server.port, in: 1...65535)
        server.readTimeout = try reader.duration("server.read_timeout", default: server.readTimeout)
        server.writeTimeout = try reader.duration("server.write_timeout", default: server.writeTimeout)
        server.idleTimeout = try reader.duration("server.idle_timeout", default: server.idleTimeout)
        server.shutdownTimeout = try reader.duration("server.shutdown_timeout", default: server.shutdownTimeout)
        server.maxConnections = try reader.int("server.max_connections", default: server.maxConnections, in: 1...1_000_000)
        server.maxBodyBytes = try reader.int("server.max_body_bytes", default: server.maxBodyBytes, in: 1024...(64 << 20))
        server.logLevel = try reader.choice("server.log_level", default: server.logLevel, ["trace", "debug", "info", "notice", "warning", "error", "critical"])
        server.logFormat = try reader.choice("server.log_format", default: server.logFormat, ["text", "json"])

        let address = try reader.string("redis.addr", default: "\(redis.host):\(redis.port)")
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port),
            colon != address.startIndex
        else { throw ConfigError(key: "redis.addr", problem: "must be host:port") }
        redis.host = String(address[..<colon])
        redis.port = port
        redis.password = try reader.string("redis.password", default: redis.password)
        redis.db = try reader.int("redis.db", default: redis.db, in: 0...15)
        redis.poolSize = try reader.int("redis.pool_size", default: redis.poolSize, in: 1...512)
        redis.timeout = try reader.duration("redis.timeout", default: redis.timeout)

        postgres.host = try reader.string("postgres.host", default: postgres.host)
        postgres.port = try reader.int("postgres.port", default: postgres.port, in: 1...65535)
        postgres.user = try reader.string("postgres.user", default: postgres.user)
        postgres.password = try reader.string("postgres.password", default: postgres.password)
        postgres.database = try reader.string("postgres.database", default: postgres.database)
        postgres.maxConnections = try reader.int("postgres.max_connections", default: postgres.maxConnections, in: 2...512)
        postgres.readConnections = try reader.int("postgres.read_connections", default: postgres.readConnections, in: 1...512)
        postgres.statementTimeout = try reader.duration("postgres.statement_timeout", default: postgres.statementTimeout)
        postgres.acquireTimeout = try reader.duration("postgres.acquire_timeout", default: postgres.acquireTimeout)
        postgres.connectTimeout = try reader.duration("postgres.connect_timeout", default: postgres.connectTimeout)

        sync.interval = try reader.duration("sync.interval", default: sync.interval)
        sync.batchSize = try reader.int("sync.batch_size", default: sync.batchSize, in: 1...1_000_000)
        sync.requestWait = try reader.duration("sync.request_wait", default: sync.requestWait, allowZero: true)
        sync.lease = try reader.duration("sync.lease", default: sync.lease)

        var seen: Set<String> = []
        for (key, path) in [(\Auth.adminKeys, "auth.admin_keys"), (\Auth.writerKeys, "auth.writer_keys"), (\Auth.readerKeys, "auth.reader_keys")] {
            let list = try reader.string(path, default: "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for (index, value) in list.enumerated() {
                // The message names the key's place, never the key.
                guard value.count >= 16, value.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
                    throw ConfigError(key: path, problem: "key \(index + 1) must be at least 16 printable characters without spaces")
                }
                guard seen.insert(value).inserted else { throw ConfigError(key: path, problem: "key \(index + 1) is listed twice") }
            }
            auth[keyPath: key] = list
        }
        auth.protectReads = try reader.bool("auth.protect_reads", default: auth.protectReads)

        // Per route class: requests per second and burst; a rate of 0 (the default) is no limit.
        for (path, name) in [(\RateLimiter.Configuration.read, "read"), (\.write, "write"), (\.admin, "admin")] {
            let rate = try reader.double("rate_limit.\(name)_per_second", default: 0, in: 0...1_000_000)
            let burst = try reader.int("rate_limit.\(name)_burst", default: max(1, Int(rate.rounded(.up))), in: 1...1_000_000)
            rateLimit[keyPath: path] = rate > 0 ? RateLimiter.Limit(rate: rate, burst: burst) : nil
        }

        leaderboard.defaultLimit = try reader.int("leaderboard.default_limit", default: leaderboard.defaultLimit, in: 1...100_000)
        leaderboard.maxLimit = try reader.int("leaderboard.max_limit", default: leaderboard.maxLimit, in: 1...100_000)
        guard leaderboard.defaultLimit <= leaderboard.maxLimit else {
            throw ConfigError(key: "leaderboard.default_limit", problem: "must not exceed leaderboard.max_limit")
        }
        leaderboard.maxBatchSize = try reader.int("leaderboard.max_batch_size", default: leaderboard.maxBatchSize, in: 1...100_000)
        leaderboard.commitWindow = try reader.duration("leaderboard.commit_window", default: leaderboard.commitWindow, allowZero: true)
        leaderboard.commitMaxEvents = try reader.int("leaderboard.commit_max_events", default: leaderboard.commitMaxEvents, in: 1...100_000)
        guard leaderboard.commitMaxEvents >= leaderboard.maxBatchSize else {
            throw ConfigError(key: "leaderboard.commit_max_events", problem: "must be at least leaderboard.max_batch_size")
        }
        leaderboard.configCacheTTL = try reader.duration("leaderboard.config_cache_ttl", default: leaderboard.configCacheTTL)
        leaderboard.migrationBatch = try reader.int("leaderboard.migration_batch", default: leaderboard.migrationBatch, in: 1...100_000)
        leaderboard.migrationPace = try reader.double("leaderboard.migration_pace", default: leaderboard.migrationPace, in: 0...100)
        topology = try reader.string("topology", default: topology)
        if let unknown = reader.unread.sorted().first {
            throw ConfigError(key: unknown, problem: "unknown key")
        }
    }
}

/// Typed lookups that name the key on failure and remember what was read.
struct ConfigReader {
    let values: [String: String]
    private(set) var read: Set<String> = []

    init(values: [String: String]) {
        self.values = values
    }

    var unread: Set<String> { Set(values.keys).subtracting(read) }

    mutating func string(_ key: String, default fallback: String) throws -> String {
        read.insert(key)
        return values[key] ?? fallback
    }

    mutating func int(_ key: String, default fallback: Int, in bounds: ClosedRange<Int>) throws -> Int {
        read.insert(key)
        guard let raw = values[key] else { return fallback }
        guard let value = Int(raw.trimmingCharacters(in: .whitespaces)), bounds.contains(value) else {
            throw ConfigError(key: key, problem: "must be an integer from \(bounds.lowerBound) to \(bounds.upperBound), got '\(raw)'")
        }
        return value
    }

    mutating func double(_ key: String, default fallback: Double, in bounds: ClosedRange<Double>) throws -> Double {
        read.insert(key)
        guard let raw = values[key] else { return fallback }
        guard let value = Double(raw.trimmingCharacters(in: .whitespaces)), bounds.contains(value) else {
            throw ConfigError(key: key, problem: "must be a number from \(bounds.lowerBound) to \(bounds.upperBound), got '\(raw)'")
        }
        return value
    }

    mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        read.insert(key)
        guard let raw = values[key] else { return fallback }
        switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: throw ConfigError(key: key, problem: "must be true or false, got '\(raw)'")
        }
    }

    mutating func choice(_ key: String, default fallback: String, _ choices: [String]) throws -> String {
        read.insert(key)
        guard let raw = values[key] else { return fallback }
        guard choices.contains(raw) else { throw ConfigError(key: key, problem: "must be one of \(choices.joined(separator: ", "))") }
        return raw
    }

    /// `250ms`, `5s`, `30m`, `1h` (a bare number is seconds).
    mutating func duration(_ key: String, default fallback: Duration, allowZero: Bool = false) throws -> Duration {
        read.insert(key)
        guard let raw = values[key]?.trimmingCharacters(in: .whitespaces) else { return fallback }
        let units: [(String, Duration)] = [("ms", .milliseconds(1)), ("s", .seconds(1)), ("m", .seconds(60)), ("h", .seconds(3600))]
        for (suffix, unit) in units where raw.hasSuffix(suffix) {
            let number = raw.dropLast(suffix.count)
            if let value = Int(number), value > 0 || (allowZero && value == 0), value < 1_000_000_000 {
                return unit * value
            }
            break
        }
        if let seconds = Int(raw), seconds > 0 || (allowZero && seconds == 0), seconds < 1_000_000_000 { return .seconds(seconds) }
        throw ConfigError(key: key, problem: "must be a duration such as 250ms, 5s, 30m or 1h, got '\(raw)'")
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
