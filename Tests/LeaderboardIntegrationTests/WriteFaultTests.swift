import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import PostgresClient
import Testing

/// Faults on the write path, injected on purpose: a COMMIT or its answer lost (a proxy in front
/// of PostgreSQL), and PostgreSQL backends terminated at random moments during a burst. Every
/// answer must be true, nothing acknowledged may be lost, and nothing retried with its key may
/// be applied twice. Runs alone (it terminates backends of its database).
@Suite(.serialized) struct WriteFaultTests {
    static func score(_ board: String, _ player: String, _ value: Int64) -> String {
        #"{"player_id": "\#(player)", "score": \#(value), "game_id": "\#(board)"}"#
    }

    static func eventCount(_ pool: PGConnectionPool, _ board: String) async throws -> Int64 {
        try await pool.query("SELECT count(*) FROM score_events WHERE leaderboard_id = $1", [board]).rows[0].int64(0)
    }

    /// The server's answer to a COMMIT is lost after PostgreSQL committed: the submission is
    /// answered 200 (it did commit), Redis shows it, and a retry with its key changes nothing.
    @Test(.timeLimit(.minutes(2))) func aLostCommitAnswerIsFoundOutBeforeAnswering() async throws {
        let proxy = try PostgresFaultProxy(upstreamPort: TestEnvironment.config.postgres.port)
        defer { proxy.stop() }
        var config = TestEnvironment.config
        config.postgres.port = proxy.port
        let board = TestEnvironment.uniqueID("lost-reply")
        try await withTestApp(config: config) { api, system in
            try await api.createBoard(board, #""update_mode": "increment", "layout": {"strategy": "hash", "shards": 2}"#)
            let key = TestEnvironment.uniqueID("key")
            proxy.arm(.dropCommitReply)
            let answer = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 7), idempotencyKey: key)
            #expect(proxy.injected == 1)
            #expect(answer.status == .ok, "\(answer.json)")
            #expect(answer.integer("score") == 7)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/p").integer("score") == 7)
            let retried = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 7), idempotencyKey: key)
            #expect(retried.json == answer.json)

            // Without a key: still the truth (committed), applied once.
            proxy.arm(.dropCommitReply)
            let plain = try await api.post("/api/v1/scores", Self.score(board, "p", 3))
            #expect(proxy.injected == 2)
            #expect(plain.status == .ok, "\(plain.json)")
            #expect(plain.integer("score") == 10)
            #expect(try await postgresScores(system.service.repository.pool, board: board) == ["p": 10])
            #expect(try await Self.eventCount(system.service.repository.pool, board) == 2)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/p").integer("score") == 10)
        }
    }

    /// The COMMIT itself is lost (PostgreSQL rolls back): the group did not commit, so it is tried
    /// again once; lost twice, the answer is 503 and nothing changed anywhere.
    @Test(.timeLimit(.minutes(2))) func aLostCommitIsTriedAgainOrAnswered503() async throws {
        let proxy = try PostgresFaultProxy(upstreamPort: TestEnvironment.config.postgres.port)
        defer { proxy.stop() }
        var config = TestEnvironment.config
        config.postgres.port = proxy.port
        let board = TestEnvironment.uniqueID("lost-commit")
        try await withTestApp(config: config) { api, system in
            try await api.createBoard(board, #""update_mode": "increment""#)
            proxy.arm(.dropCommit)
            let once = try await api.post("/api/v1/scores", Self.score(board, "p", 4))
            #expect(proxy.injected == 1)
            #expect(once.status == .ok, "\(once.json)")
            #expect(once.integer("score") == 4)

            proxy.arm(.dropCommit)
            proxy.arm(.dropCommit)
            let twice = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 5), idempotencyKey: TestEnvironment.uniqueID("key"))
            #expect(proxy.injected == 3)
            #expect(twice.status == .serviceUnavailable)
            #expect(try await postgresScores(system.service.repository.pool, board: board) == ["p": 4])
            #expect(try await Self.eventCount(system.service.repository.pool, board) == 1)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/p").integer("score") == 4)
        }
    }

    /// The COMMIT is lost on the way and PostgreSQL does not notice: its backend stays idle in
    /// the transaction, holding the board's lock. The server ends that backend, learns the group
    /// did not commit, and commits it again; the next write to the board does not wait on the lock.
    @Test(.timeLimit(.minutes(2))) func aCommitLostOnTheWayDoesNotHoldTheBoard() async throws {
        let proxy = try PostgresFaultProxy(upstreamPort: TestEnvironment.config.postgres.port)
        defer { proxy.stop() }
        var config = TestEnvironment.config
        config.postgres.port = proxy.port
        let board = TestEnvironment.uniqueID("lost-way")
        try await withTestApp(config: config) { api, system in
            try await api.createBoard(board, #""update_mode": "increment""#)
            proxy.arm(.dropCommitKeepServer)
            let started = ContinuousClock.now
            let first = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 2), idempotencyKey: TestEnvironment.uniqueID("key"))
            #expect(proxy.injected == 1)
            #expect(first.status == .ok, "\(first.json)")
            #expect(first.integer("score") == 2)
            let next = try await api.post("/api/v1/scores", Self.score(board, "p", 3))
            #expect(next.integer("score") == 5)
            let took = ContinuousClock.now - started
            #expect(took < .seconds(4), "the lost COMMIT held the board for \(took)")
            #expect(try await postgresScores(system.service.repository.pool, board: board) == ["p": 5])
            #expect(try await Self.eventCount(system.service.repository.pool, board) == 2)
        }
    }

    struct Outcome: Sendable {
        var key: String
        var player: String
        var status: Int
    }

    /// Increments with keys, from 8 concurrent clients that retry on 503 with the same key, while
    /// PostgreSQL backends are terminated every few tens of milliseconds. Afterwards every key's
    /// increment is in PostgreSQL exactly once (acknowledged ⊆ PostgreSQL, no double apply), each
    /// key given up on either did not commit or is reflected, and Redis equals PostgreSQL.
    @Test(.timeLimit(.minutes(3))) func terminatedBackendsDuringABurst() async throws {
        let board = TestEnvironment.uniqueID("terminate")
        try await withTestApp { api, system in
            try await api.createBoard(board, #""update_mode": "increment", "layout": {"strategy": "hash", "shards": 4}"#)
            var injector = TestEnvironment.config.postgresPool
            injector.connection.applicationName = "fault-injector"
            injector.maxConnections = 1
            let killer = PGConnectionPool(configuration: injector)
            let stop = NIOLockedValueBox(false)
            let terminated = NIOLockedValueBox(0)
            let killing = Task {
                var rounds = 0
                while !stop.withLockedValue({ $0 }), rounds < 2_000 {
                    rounds += 1
                    try? await Task.sleep(for: .milliseconds(Int.random(in: 20...80)))
                    if let rows = try? await killer.query(
                        """
                        SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
                        WHERE datname = current_database() AND application_name = 'leaderboard' AND state <> 'idle'
                        """
                    ), let count = try? rows.rows[0].int64(0) {
                        terminated.withLockedValue { $0 += Int(count) }
                    }
                }
            }
            // At least 40 increments per client, and more (up to 200, for at most 20 s) until a few
            // backends have been terminated: a fast machine can finish 40 before the first kill.
            let perClient = 40
            let burstEnds = ContinuousClock.now + .seconds(20)
            let outcomes = await withTaskGroup(of: [Outcome].self) { group in
                for client in 0..<8 {
                    group.addTask {
                        var mine: [Outcome] = []
                        for index in 0..<200 {
                            if index >= perClient, terminated.withLockedValue({ $0 }) >= 3 || ContinuousClock.now > burstEnds { break }
                            let player = "p\((client + index) % 6)"
                            let key = TestEnvironment.uniqueID("t\(client)-\(index)")
                            var status = 0
                            for attempt in 0..<30 {
                                if attempt > 0 { try? await Task.sleep(for: .milliseconds(20)) }
                                guard
                                    let answer = try? await api.request(
                                        .post, "/api/v1/scores", body: Self.score(board, player, 1), idempotencyKey: key
                                    )
                                else { continue }
                                status = Int(answer.status.code)
                                if status != 503 { break }
                            }
                            mine.append(Outcome(key: key, player: player, status: status))
                        }
                        return mine
                    }
                }
                return await group.reduce(into: []) { $0 += $1 }
            }
            stop.withLockedValue { $0 = true }
            await killing.value
            await killer.shutdown()
            #expect(terminated.withLockedValue { $0 } > 0, "no backend was terminated: the test injected nothing")
            #expect(outcomes.allSatisfy { $0.status == 200 || $0.status == 503 }, "\(Set(outcomes.map(\.status)))")

            // Which keys committed, per PostgreSQL, read on connections of their own: the server's
            // pool may still hold a connection whose backend the last round terminated just after
            // its query (the server answers such a request 503; a check here would just fail).
            let pool = PGConnectionPool(configuration: TestEnvironment.config.postgresPool)
            let committed = Set(
                try await pool.query("SELECT key FROM idempotency_keys WHERE key = ANY($1::text[])", [PGArray.text(outcomes.map(\.key))])
                    .rows.map { try $0.text(0) }
            )
            for outcome in outcomes where outcome.status == 200 {
                #expect(committed.contains(outcome.key), "acknowledged \(outcome.key) is not in PostgreSQL")
            }
            var expected: [String: Int64] = [:]
            for outcome in outcomes where committed.contains(outcome.key) { expected[outcome.player, default: 0] += 1 }
            let scores = try await postgresScores(pool, board: board)
            #expect(scores == expected, "an increment was applied twice or lost")
            #expect(try await Self.eventCount(pool, board) == Int64(committed.count))
            #expect(outcomes.filter { $0.status == 200 }.count >= outcomes.count * 9 / 10, "too few submissions got through")

            // Redis catches up with PostgreSQL within seconds (committed-but-503'd ones too).
            var redis: [String: Int64] = [:]
            for _ in 0..<100 {
                let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=100")
                redis = Dictionary(uniqueKeysWithValues: top.entries.map { ($0.playerID, $0.score) })
                if top.status == .ok, redis == scores { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(redis == scores)
            await pool.shutdown()
        }
    }
}
