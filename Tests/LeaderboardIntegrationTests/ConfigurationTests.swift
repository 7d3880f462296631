import Foundation
import LeaderboardApp
import Testing

@Suite struct ConfigurationTests {
    func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theShippedConfigLoadsWithTheSeedsSections() throws {
        let config = try AppConfig.load(path: "config.yaml", environment: [:])
        #expect(config.server.port == 8080)
        #expect(config.server.host == "127.0.0.1")
        #expect(config.redis.port == 6379)
        #expect(config.postgres.database == "leaderboard")
        #expect(config.sync.interval == .seconds(1800))
        #expect(config.leaderboard.defaultLimit == 10)
        #expect(config.leaderboard.maxLimit == 1000)
    }

    @Test func environmentOverridesTheFile() throws {
        let path = try write("redis:\n  addr: \"10.0.0.1:7000\"\nserver:\n  port: 9000\n")
        let config = try AppConfig.load(
            path: path,
            environment: [
                "LEADERBOARD_REDIS_ADDR": "127.0.0.1:6390", "LEADERBOARD_POSTGRES_MAX_CONNECTIONS": "12",
                "LEADERBOARD_SYNC_INTERVAL": "15m", "LEADERBOARD_LEADERBOARD_COMMIT_WINDOW": "0ms",
                "LEADERBOARD_TEST_SOMETHING": "ignored", "HOME": "/root",
            ]
        )
        #expect(config.redis.host == "127.0.0.1")
        #expect(config.redis.port == 6390)
        #expect(config.server.port == 9000)
        #expect(config.postgres.maxConnections == 12)
        #expect(config.sync.interval == .seconds(900))
        #expect(config.leaderboard.commitWindow == .zero)
    }

    @Test(arguments: [
        ("server:\n  port: 70000\n", "server.port"),
        ("server:\n  port: eighty\n", "server.port"),
        ("redis:\n  addr: nohost\n", "redis.addr"),
        ("redis:\n  pool_size: 0\n", "redis.pool_size"),
        ("sync:\n  interval: soon\n", "sync.interval"),
        ("leaderboard:\n  default_limit: 50\n  max_limit: 10\n", "leaderboard.default_limit"),
        ("server:\n  colour: blue\n", "server.colour"),
        ("servers:\n  port: 1\n", "servers"),
        ("server: [1, 2\n", "config"),
        ("server:\n  log_format: xml\n", "server.log_format"),
    ])
    func badConfigFailsNamingTheKey(yaml: String, key: String) throws {
        let path = try write(yaml)
        do {
            _ = try AppConfig.load(path: path, environment: [:])
            Issue.record("expected a configuration error for \(key)")
        } catch let error as ConfigError {
            #expect(error.key == key)
            #expect(error.description.contains(key))
        }
    }

    @Test func aBadEnvironmentValueNamesItsKey() {
        #expect(throws: ConfigError.self) { try AppConfig.load(path: nil, environment: ["LEADERBOARD_POSTGRES_PORT": "x"]) }
    }
}
