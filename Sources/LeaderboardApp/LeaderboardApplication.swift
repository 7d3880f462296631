import Foundation
import Hummingbird
import LeaderboardCore
import LeaderboardHTTP
import LeaderboardService
import LeaderboardStore
import Logging
import PostgresClient
import RedisClient
import NIOCore
import ServiceLifecycle

/// Everything a running server holds, built from an ``AppConfig``.
public struct LeaderboardSystem: Sendable {
    public let service: LeaderboardService
    public let recovery: RealtimeRecovery
    public let sync: SyncWorker
    /// Online layout changes (and taking over those of a process that died).
    public let migrator: LayoutMigrator
    public let periods: PeriodScheduler
    public let rateLimiter: RateLimiter
    public let postgres: PGConnectionPool
    /// The pool of long reads (snapshots, source=batch, sync scans).
    public let postgresReads: PGConnectionPool
    /// One pool per Redis node of the topology.
    public let redisNodes: [String: RedisConnectionPool]
    /// The client of the Redis Cluster, when the topology names one.
    public var redisCluster: RedisClusterClient? = nil
    public let topology: Topology

    /// Opens the pools, applies the schema migrations (unless `migrate` is false) and wires the
    /// layers. `clock` is the time the period scheduler goes by (tests move it).
    public static func make(
        config: AppConfig, logger: Logger, migrate: Bool = true, clock: @escaping @Sendable () -> Date = Date.init
    ) async throws -> LeaderboardSystem {
        // Before any layer makes its metrics: one made before the bootstrap would count nowhere.
        Telemetry.bootstrap()
        let topology = try config.loadTopology()
        let postgres = PGConnectionPool(configuration: config.postgresPool)
        let postgresReads = PGConnectionPool(configuration: config.postgresReadPool)
        var redisNodes: [String: RedisConnectionPool] = [:]
        let cluster = topology.cluster.map { RedisClusterClient(configuration: config.redisCluster($0)) }
        for node in topology.nodes {
            var pool = config.redisPool(for: node)
            // (A cluster serves database 0 only.)
            if cluster != nil { pool.connection.database = 0 }
            redisNodes[node.id] = RedisConnectionPool(configuration: pool)
        }
        let repository = PostgresScoreRepository(pool: postgres, readPool: postgresReads)
        do {
            if migrate { try await repository.migrate() }
        } catch {
            await postgres.shutdown()
            await postgresReads.shutdown()
            for pool in redisNodes.values { await pool.shutdown() }
            await cluster?.shutdown()
            throw error
        }
        let realtime = cluster.map { RedisRealtimeStore(cluster: $0) } ?? RedisRealtimeStore(nodes: redisNodes, defaultNode: topology.nodes[0].id)
        let stale = StaleBoards()
        let sequencer = ViewSequencer(repository: repository, realtime: realtime, stale: stale, logger: logger)
        let writer = WriteCoordinator(repository: repository, sequencer: sequencer, configuration: config.writer, logger: logger)
        let service = LeaderboardService(
            configuration: config.service, repository: repository, realtime: realtime, writer: writer,
            directory: BoardDirectory(repository: repository, ttl: config.leaderboard.configCacheTTL), stale: stale, sequencer: sequencer,
            topology: topology, clock: clock, logger: logger
        )
        let recovery = RealtimeRecovery(service: service, logger: logger)
        let sync = SyncWorker(service: service, configuration: .init(interval: config.sync.interval, batchSize: config.sync.batchSize, requestWait: config.sync.requestWait, lease: config.sync.lease), logger: logger)
        let periods = PeriodScheduler(service: service, logger: logger)
        // An old layout epoch's keys stay until no process can still hold the board's old row.
        let migrator = LayoutMigrator(
            service: service, logger: logger, removalDelay: config.leaderboard.configCacheTTL * 2 + .seconds(1),
            pace: BuildPace(members: config.leaderboard.migrationBatch, rest: config.leaderboard.migrationPace)
        )
        // The buckets live on the topology's first node, shared by every process.
        let limiter = RateLimiter(
            configuration: config.rateLimit,
            store: cluster.map { RedisRateLimitStore(cluster: $0) } ?? RedisRateLimitStore(pool: redisNodes[topology.nodes[0].id]!), logger: logger
        )
        return LeaderboardSystem(
            service: service, recovery: recovery, sync: sync, migrator: migrator, periods: periods, rateLimiter: limiter, postgres: postgres,
            postgresReads: postgresReads, redisNodes: redisNodes, redisCluster: cluster, topology: topology
        )
    }

    /// Closes the pools (for commands that run without the service group).
    public func close() async {
        await postgres.shutdown()
        await postgresReads.shutdown()
        for pool in redisNodes.values { await pool.shutdown() }
        await redisCluster?.shutdown()
    }

    /// The long-running parts, in start order; graceful shutdown runs in reverse, so the HTTP
    /// server (added after these) stops first, then the writer drains, then the pools close.
    public var services: [any Service] {
        [PoolCloser(postgres: [postgres, postgresReads], redis: Array(redisNodes.values), cluster: redisCluster), service.writer, recovery, migrator, periods, sync]
    }
}

/// Closes the connection pools when the service group shuts down.
struct PoolCloser: Service {
    let postgres: [PGConnectionPool]
    let redis: [RedisConnectionPool]
    let cluster: RedisClusterClient?

    func run() async throws {
        try? await gracefulShutdown()
        for pool in postgres { await pool.shutdown() }
        for pool in redis { await pool.shutdown() }
        await cluster?.shutdown()
    }
}

/// Builds the HTTP application over a system.
public func buildApplication(config: AppConfig, system: LeaderboardSystem, logger: Logger) -> some ApplicationProtocol {
    Telemetry.bootstrap()
    let router = Router(context: LeaderboardRequestContext.self)
    router.middlewares.add(RequestIDMiddleware())
    router.middlewares.add(MetricsMiddleware())
    router.middlewares.add(APIErrorMiddleware())
    router.middlewares.add(AccessMiddleware(policy: config.auth.policy))
    router.middlewares.add(RateLimitMiddleware(limiter: system.rateLimiter, policy: config.auth.policy))
    router.middlewares.add(LogRequestsMiddleware(.debug))
    LeaderboardRoutes(service: system.service, sync: system.sync, maxBodyBytes: config.server.maxBodyBytes).register(on: router)
    LayoutRoutes(migrator: system.migrator, planner: LayoutPlanner(service: system.service), maxBodyBytes: config.server.maxBodyBytes)
        .register(on: router)
    router.get("openapi.yaml") { _, _ in
        Response(status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: APIDocument.yaml)))
    }
    router.get("docs") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: APIDocsPage.html)))
    }
    router.get("metrics") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: Telemetry.text()))
    }
    let limits = EdgeLimits(
        readTimeout: .init(config.server.readTimeout), writeTimeout: .init(config.server.writeTimeout),
        idleTimeout: .init(config.server.idleTimeout), maxConnections: config.server.maxConnections,
        drainBytes: 4 * config.server.maxBodyBytes + (8 << 20)
    )
    return Application(
        router: router,
        server: .guardedHTTP1(limits: limits, registry: ConnectionRegistry(limit: config.server.maxConnections)),
        configuration: .init(address: .hostname(config.server.host, port: config.server.port), serverName: "leaderboard"),
        services: system.services,
        logger: logger
    )
}

/// Sets up swift-log from the configuration (text or one JSON object per line).
public func makeLogger(config: AppConfig) -> Logger {
    let level = Logger.Level(rawValue: config.server.logLevel) ?? .info
    if config.server.logFormat == "json" {
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    } else {
        LoggingSystem.bootstrap { label in
            var handler = TextLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
    var logger = Logger(label: "leaderboard")
    logger.logLevel = level
    return logger
}
