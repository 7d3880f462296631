import AsyncHTTPClient
import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardService
import LeaderboardTestSupport
import Testing

/// Token buckets per key and per client address, shared through Redis by several processes.
/// The only suite that configures limits; its buckets are cleared before each test.
@Suite(.serialized) struct RateLimitTests {
    let admin = "rl-admin-\(UInt64.random(in: .min ... .max))"
    let writer = "rl-writer-\(UInt64.random(in: .min ... .max))"

    func clear(_ system: LeaderboardSystem, _ buckets: [String]) async throws {
        let pool = system.redisNodes[system.topology.nodes[0].id]!
        for bucket in buckets { _ = try await pool.command("DEL", "ratelimit:" + bucket) }
    }

    @Test func aBurstOverTheLimitGets429AndWritesNothing() async throws {
        var config = TestEnvironment.config
        config.auth.adminKeys = [admin]
        config.auth.writerKeys = [writer]
        config.rateLimit = RateLimiter.Configuration(read: .init(rate: 0.001, burst: 3), write: .init(rate: 0.001, burst: 5))
        let board = TestEnvironment.uniqueID("limited")
        try await withTestApp(config: config) { api, system in
            try await clear(system, ["read:address:unknown"])
            #expect(try await api.request(.post, "/api/v1/leaderboards", body: #"{"id": "\#(board)"}"#, key: admin).status == .created)
            var accepted = 0
            var limited = 0
            for index in 0..<12 {
                let answer = try await api.request(.post, "/api/v1/scores", body: #"{"player_id": "p\#(index)", "score": 1, "game_id": "\#(board)"}"#, key: writer)
                switch answer.status {
                case .ok:
                    accepted += 1
                case .tooManyRequests:
                    limited += 1
                    #expect(answer.errorCode == "rate_limited")
                    #expect(answer.headers[.retryAfter].flatMap(Int.init).map { $0 >= 1 } == true, "Retry-After in seconds")
                default:
                    Issue.record("unexpected \(answer.status) \(answer.json)")
                }
            }
            #expect(accepted == 5, "the bucket holds 5")
            #expect(limited == 7)
            let stored = try await system.postgres.query("SELECT count(*) FROM player_scores WHERE leaderboard_id = $1", [board])
            #expect(try stored.rows[0].int64(0) == 5, "nothing refused was written")

            // Open reads are limited per client address.
            var reads: [Int] = []
            for _ in 0..<6 { reads.append(Int(try await api.get("/api/v1/leaderboards/\(board)/top").status.code)) }
            #expect(reads == [200, 200, 200, 429, 429, 429])
            #expect(try await api.get("/healthz").status == .ok, "health checks are never limited")
        }
    }

    /// A made-up Bearer token per request on an open read gets no bucket of its own: it counts
    /// against the client address, and leaves no key behind in Redis.
    @Test func randomTokensShareTheAddressBucket() async throws {
        var config = TestEnvironment.config
        config.auth.adminKeys = [admin]
        config.rateLimit = RateLimiter.Configuration(read: .init(rate: 0.001, burst: 3))
        let board = TestEnvironment.uniqueID("tokens")
        try await withTestApp(config: config) { api, system in
            try await clear(system, ["read:address:unknown"])
            #expect(try await api.request(.post, "/api/v1/leaderboards", body: #"{"id": "\#(board)"}"#, key: admin).status == .created)
            let pool = system.redisNodes[system.topology.nodes[0].id]!
            var reads: [Int] = []
            var tokens: [String] = []
            for _ in 0..<6 {
                let token = "made-up-\(UInt64.random(in: .min ... .max))"
                tokens.append(token)
                reads.append(Int(try await api.request(.get, "/api/v1/leaderboards/\(board)/top", key: token).status.code))
            }
            #expect(reads == [200, 200, 200, 429, 429, 429], "random tokens each got a bucket: \(reads)")
            for token in tokens {
                // The bucket a token would have had if it were counted by key.
                let bucket = "ratelimit:read:key:" + Digests.sha256Hex(token).prefix(32)
                #expect(try await pool.command("EXISTS", bucket).integer == 0, "a made-up token left a bucket in Redis")
            }
        }
    }

    @Test func twoServerProcessesShareOneLimit() async throws {
        let client = HTTPClient.shared
        let board = TestEnvironment.uniqueID("shared-limit")
        let environment = [
            "LEADERBOARD_AUTH_ADMIN_KEYS": admin, "LEADERBOARD_AUTH_WRITER_KEYS": writer,
            "LEADERBOARD_RATE_LIMIT_WRITE_PER_SECOND": "0.001", "LEADERBOARD_RATE_LIMIT_WRITE_BURST": "6",
        ]
        // Ports the kernel says are free (a random one in the ephemeral range can be a client socket's).
        let port = try freeLoopbackPort()
        var secondPort = try freeLoopbackPort()
        while secondPort == port { secondPort = try freeLoopbackPort() }
        let first = try await ServerProcess.start(port: port, extraEnvironment: environment, client: client)
        defer { first.kill() }
        let second = try await ServerProcess.start(port: secondPort, extraEnvironment: environment, client: client)
        defer { second.kill() }
        #expect(try await first.request(client, .POST, "/api/v1/leaderboards", body: #"{"id": "\#(board)"}"#, key: admin).0 == 201)
        var statuses: [Int] = []
        for index in 0..<16 {
            let server = index % 2 == 0 ? first : second
            statuses.append(try await server.request(client, .POST, "/api/v1/scores", body: #"{"player_id": "q\#(index)", "score": 2, "game_id": "\#(board)"}"#, key: writer).0)
        }
        #expect(statuses.filter { $0 == 200 }.count == 6, "one bucket of 6 across both processes: \(statuses)")
        #expect(statuses.filter { $0 == 429 }.count == 10)
        let stored = try await withTestApp { _, system in
            try await system.postgres.query("SELECT count(*) FROM player_scores WHERE leaderboard_id = $1", [board]).rows[0].int64(0)
        }
        #expect(stored == 6)
    }
}
