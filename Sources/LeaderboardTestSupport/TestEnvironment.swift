import Foundation
import LeaderboardApp
import Logging

/// Where the test servers are, from the environment (defaults match `scripts/services.sh`).
///
/// Tests use their own PostgreSQL database and Redis db index so they never touch the demo's data.
public enum TestEnvironment {
    static let environment = ProcessInfo.processInfo.environment

    /// The configuration tests run the service with.
    public static var config: AppConfig {
        var config = AppConfig()
        config.postgres.host = environment["LEADERBOARD_TEST_PG_HOST"] ?? "127.0.0.1"
        config.postgres.port = environment["LEADERBOARD_TEST_PG_PORT"].flatMap(Int.init) ?? 5432
        config.postgres.database = environment["LEADERBOARD_TEST_PG_DATABASE"] ?? "leaderboard_test"
        config.postgres.user = environment["LEADERBOARD_TEST_PG_USER"] ?? "leaderboard"
        config.postgres.password = environment["LEADERBOARD_TEST_PG_PASSWORD"] ?? "secret"
        config.postgres.maxConnections = 4
        config.postgres.readConnections = 2
        // Many suites run at once on a 2-core machine: tests check answers, not how fast a
        // connection frees up, so a request waits longer before it is answered 503.
        config.postgres.acquireTimeout = .seconds(20)
        config.redis.host = environment["LEADERBOARD_TEST_REDIS_HOST"] ?? "127.0.0.1"
        config.redis.port = environment["LEADERBOARD_TEST_REDIS_PORT"].flatMap(Int.init) ?? 6379
        config.redis.db = environment["LEADERBOARD_TEST_REDIS_DB"].flatMap(Int.init) ?? 1
        config.redis.poolSize = 2
        // The same holds for Redis: with ~140 tests in one process on 2 cores, the event loops
        // were preempted for seconds at a time (perf, parallel phase: up to 5 s without a sample),
        // so the 2 s default timed out requests to healthy nodes, and each timeout rightly marked
        // its board for a rebuild (503). Tests of hung nodes set their own timeout.
        config.redis.timeout = .seconds(10)
        config.leaderboard.configCacheTTL = .seconds(1)
        config.topology = environment["LEADERBOARD_TEST_TOPOLOGY"] ?? "Topology/local.yaml"
        return config
    }

    /// A configuration whose PostgreSQL database and Redis db no other test uses (created by
    /// scripts/test.sh), for tests that act on every board, such as moving the clock.
    public static var isolatedConfig: AppConfig {
        var config = config
        config.postgres.database += "_isolated"
        config.redis.db += 1
        return config
    }

    /// The configuration with the Redis Cluster of Topology/cluster.yaml as the shard substrate
    /// (scripts/test.sh starts it; board ids are unique, so tests share its one Redis database),
    /// on a PostgreSQL database of its own: a process serves the boards of one topology, and its
    /// recovery loop acts on every board of its database.
    public static var clusterConfig: AppConfig {
        var config = config
        config.postgres.database += "_cluster"
        config.topology = environment["LEADERBOARD_TEST_CLUSTER_TOPOLOGY"] ?? "Topology/cluster.yaml"
        return config
    }

    /// Path of the built server binary, for tests that run it as a process.
    public static var serverBinary: String {
        environment["LEADERBOARD_TEST_SERVER_BIN"] ?? FileManager.default.currentDirectoryPath + "/.build/debug/leaderboard-server"
    }

    public static var logger: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = environment["LEADERBOARD_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        return logger
    }

    /// A board id no other test (or earlier run) uses.
    public static func uniqueID(_ prefix: String) -> String {
        "\(prefix)-\(UInt32.random(in: .min ... .max))-\(UInt32.random(in: .min ... .max))"
    }
}
