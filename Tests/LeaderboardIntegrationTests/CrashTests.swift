import AsyncHTTPClient
import Foundation
import LeaderboardApp
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import PostgresClient
import Testing

/// The server binary killed with SIGKILL (and stopped with SIGTERM) in the middle of a stream of
/// submissions: every acknowledged score must be in PostgreSQL, and the restarted server must
/// serve PostgreSQL's scores from Redis.
@Suite(.serialized) struct CrashTests {
    /// Streams +1 increments from `workers` concurrent clients, each on its own players, until
    /// a request fails (the server is gone) or `limit` passes. Returns acknowledged counts per player.
    func stream(_ server: ServerProcess, _ client: HTTPClient, board: String, workers: Int, limit: Duration) async -> [String: Int] {
        let acknowledged = NIOLockedValueBox([String: Int]())
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    let deadline = ContinuousClock.now + limit
                    var step = 0
                    while ContinuousClock.now < deadline {
                        let player = "w\(worker)-p\(step % 5)"
                        let body: String
                        if step % 4 == 3 {  // some batches too: all or nothing
                            body = #"{"scores": [{"player_id": "\#(player)", "score": 1, "game_id": "\#(board)"}, {"player_id": "w\#(worker)-b", "score": 1, "game_id": "\#(board)"}]}"#
                        } else {
                            body = #"{"player_id": "\#(player)", "score": 1, "game_id": "\#(board)"}"#
                        }
                        let path = step % 4 == 3 ? "/api/v1/scores/batch" : "/api/v1/scores"
                        guard let (status, _) = try? await server.request(client, .POST, path, body: body) else { return }
                        if status == 200 {
                            acknowledged.withLockedValue { counts in
                                counts[player, default: 0] += 1
                                if step % 4 == 3 { counts["w\(worker)-b", default: 0] += 1 }
                            }
                        } else if status != 503 {
                            return
                        }
                        step += 1
                    }
                }
            }
        }
        return acknowledged.withLockedValue { $0 }
    }

    @Test func killDashNineLosesNoAcknowledgedScoreAndRestartServesPostgres() async throws {
        let client = HTTPClient.shared
        let board = TestEnvironment.uniqueID("crash")
        let port = Int.random(in: 20_000..<30_000)

        let first = try await ServerProcess.start(port: port, client: client)
        let (created, _) = try await first.request(client, .POST, "/api/v1/leaderboards", body: #"{"id": "\#(board)", "update_mode": "increment"}"#)
        #expect(created == 201)

        async let acknowledged = stream(first, client, board: board, workers: 16, limit: .seconds(20))
        try await Task.sleep(for: .milliseconds(1500))
        first.kill()
        let acked = await acknowledged
        #expect(acked.values.reduce(0, +) > 50, "the stream should have been acknowledged many times before the kill")

        try await withTestApp { _, system in
            let rows = try await system.postgres.query("SELECT player_id, score FROM player_scores WHERE leaderboard_id = $1", [board])
            var stored: [String: Int64] = [:]
            for row in rows.rows { stored[try row.text(0)] = try row.int64(1) }
            for (player, count) in acked {
                #expect(stored[player, default: 0] >= Int64(count), "\(player): \(count) acknowledged, \(stored[player, default: 0]) stored")
            }
            let events = try await system.postgres.query(
                "SELECT player_id, count(*) FROM score_events WHERE leaderboard_id = $1 GROUP BY player_id", [board]
            )
            for row in events.rows {
                #expect(stored[try row.text(0)] == (try row.int64(1)), "score equals the number of committed +1 events")
            }
        }

        // The restarted server catches Redis up with what PostgreSQL committed.
        let second = try await ServerProcess.start(port: port, client: client)
        let stored = try await withTestApp { _, system in
            try await system.postgres.query("SELECT player_id, score FROM player_scores WHERE leaderboard_id = $1", [board]).rows
        }
        for row in stored {
            let (status, body) = try await second.request(client, .GET, "/api/v1/leaderboards/\(board)/player/\(try row.text(0))")
            #expect(status == 200)
            #expect(body.contains("\"score\":\(try row.text(1))"), "\(body) vs \(row)")
        }

        // SIGTERM mid-stream: in-flight batches finish, the process exits 0, nothing acknowledged is lost.
        async let moreAcknowledged = stream(second, client, board: board, workers: 8, limit: .seconds(20))
        try await Task.sleep(for: .milliseconds(1000))
        let status = await second.terminate()
        _ = await moreAcknowledged
        #expect(status == 0, "graceful exit; log: \(second.log.suffix(2000))")
        let total = try await withTestApp { _, system in
            try await system.postgres.query("SELECT coalesce(sum(score), 0), (SELECT count(*) FROM score_events WHERE leaderboard_id = $1) FROM player_scores WHERE leaderboard_id = $1", [board]).rows[0]
        }
        #expect(total[0] == total[1])
    }
}
