import Foundation
import LeaderboardCore
import LeaderboardStore
import LeaderboardTestSupport
import PostgresClient
import RedisClient
import Testing

@Suite struct AdminTests {
    @Test func createListAndDeleteRemovesRowsAndKeys() async throws {
        let board = TestEnvironment.uniqueID("admin")
        try await withTestApp { api, system in
            let created = try await api.createBoard(board, "\"name\": \"Spring Cup\", \"reset_period\": \"weekly\"")
            #expect(created["name"] == .string("Spring Cup"))
            #expect(created["reset_period"] == .string("weekly"))
            #expect(created["layout"] == .object(["strategy": .string("single")]))

            let again = try await api.post("/api/v1/leaderboards", "{\"id\": \"\(board)\"}")
            #expect(again.status == .conflict)
            #expect(again.errorCode == "leaderboard_exists")

            let list = try await api.get("/api/v1/leaderboards")
            guard case .array(let boards)? = list["leaderboards"] else {
                Issue.record("no leaderboards array: \(list.json)")
                return
            }
            #expect(boards.contains { $0.object?["id"] == .string(board) })

            try await api.submit(board, [("a", 1), ("b", 2)])
            let redis = try await system.redis(board: board)
            #expect(try await redis.command("EXISTS", RedisKeys.realtime(board)).integer == 1)

            let deleted = try await api.delete("/api/v1/leaderboards/\(board)")
            #expect(deleted.status == .noContent)
            #expect(try await redis.command("EXISTS", RedisKeys.realtime(board), RedisKeys.meta(board)).integer == 0)
            for table in ["leaderboards WHERE id", "player_scores WHERE leaderboard_id", "score_events WHERE leaderboard_id"] {
                let count = try await system.postgres.query("SELECT count(*) FROM \(table) = $1", [board])
                #expect(try count.rows[0].int64(0) == 0, "\(table)")
            }
            let gone = try await api.get("/api/v1/leaderboards/\(board)/top")
            #expect(gone.errorCode == "leaderboard_not_found")
            #expect(try await api.delete("/api/v1/leaderboards/\(board)").errorCode == "leaderboard_not_found")
        }
    }

    /// `tie_break` is shown (default `player_id`), `earliest` and `latest` are stored and listed as
    /// given, and an unknown value is refused with 400, creating nothing.
    @Test func tieBreakIsShownAndUnknownValuesAreRefused() async throws {
        try await withTestApp { api, system in
            let plain = TestEnvironment.uniqueID("tieb")
            #expect(try await api.createBoard(plain)["tie_break"] == .string("player_id"))
            for value in ["player_id", "earliest", "latest"] {
                let named = TestEnvironment.uniqueID("tieb")
                #expect(try await api.createBoard(named, "\"tie_break\": \"\(value)\"")["tie_break"] == .string(value))
                let listed = try await api.get("/api/v1/leaderboards")
                guard case .array(let boards)? = listed["leaderboards"] else {
                    Issue.record("no list: \(listed.json)")
                    continue
                }
                let shown = boards.first { if case .object(let fields) = $0 { fields["id"] == .string(named) } else { false } }
                guard case .object(let fields)? = shown else {
                    Issue.record("\(named) is not listed")
                    continue
                }
                #expect(fields["tie_break"] == .string(value))
            }
            for value in ["\"first\"", "1", "null"] {
                let board = TestEnvironment.uniqueID("tieb")
                let refused = try await api.post("/api/v1/leaderboards", "{\"id\": \"\(board)\", \"tie_break\": \(value)}")
                #expect(refused.status == .badRequest, "tie_break \(value)")
                #expect(refused.errorCode == "invalid_request")
                let rows = try await system.postgres.query("SELECT count(*) FROM leaderboards WHERE id = $1", [board])
                #expect(try rows.rows[0].int64(0) == 0, "a refused tie_break \(value) created the board")
            }
        }
    }

    @Test func resetArchivesThePeriodAndEmptiesTheBoard() async throws {
        let board = TestEnvironment.uniqueID("reset")
        try await withTestApp { api, system in
            try await api.createBoard(board)
            try await api.submit(board, [("a", 10), ("b", 30), ("c", 20)])
            let reset = try await api.post("/api/v1/leaderboards/\(board)/reset", "")
            #expect(reset.status == .ok)
            #expect(reset["leaderboard_id"] == .string(board))
            #expect(reset.integer("period") == 2)
            #expect(reset.integer("archived_period") == 1)

            let top = try await api.get("/api/v1/leaderboards/\(board)/top")
            #expect(top.integer("total") == 0)
            #expect(top.entries.isEmpty)
            let archived = try await system.postgres.query(
                "SELECT player_id, score, rank FROM archived_scores WHERE leaderboard_id = $1 AND period = 1 ORDER BY rank", [board]
            )
            #expect(archived.rows == [["b", "30", "1"], ["c", "20", "2"], ["a", "10", "3"]])

            // The new period starts from scratch and its events carry the new period.
            try await api.submit(board, [("a", 5)])
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/a").entry?.rank == 1)
            let period = try await system.postgres.query(
                "SELECT period FROM score_events WHERE leaderboard_id = $1 AND player_id = 'a' ORDER BY id DESC LIMIT 1", [board]
            )
            #expect(period.rows == [["2"]])
        }
    }

    @Test func removingAPlayerDropsItFromReadsAndPostgres() async throws {
        let board = TestEnvironment.uniqueID("remove")
        try await withTestApp { api, system in
            try await api.createBoard(board)
            try await api.submit(board, [("a", 10), ("b", 30), ("c", 20)])
            #expect(try await api.delete("/api/v1/leaderboards/\(board)/player/b").status == .noContent)
            let top = try await api.get("/api/v1/leaderboards/\(board)/top")
            #expect(top.entries.map(\.playerID) == ["c", "a"])
            #expect(top.entries.map(\.rank) == [1, 2])
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/b").errorCode == "player_not_found")
            #expect(try await api.delete("/api/v1/leaderboards/\(board)/player/b").errorCode == "player_not_found")
            let events = try await system.postgres.query(
                "SELECT event_type FROM score_events WHERE leaderboard_id = $1 AND player_id = 'b' ORDER BY id", [board]
            )
            #expect(events.rows == [["replace"], ["remove"]])
        }
    }

    @Test func aBoardLostFromRedisIsRebuiltWithinSeconds() async throws {
        let board = TestEnvironment.uniqueID("lost")
        try await withTestApp { api, system in
            try await api.createBoard(board, "\"update_mode\": \"increment\"")
            try await api.post(
                "/api/v1/scores", "{\"player_id\": \"named\", \"score\": 3, \"game_id\": \"\(board)\", \"username\": \"Nell\"}"
            )
            try await api.submit(board, (0..<500).map { ("r\($0)", Int64($0 % 17)) })
            let before = try await api.get("/api/v1/leaderboards/\(board)/top?limit=1000")

            // Simulate a Redis node that restarted empty for this board.
            _ = try await system.redis(board: board).pipeline([
                ["DEL", RedisKeys.realtime(board), RedisKeys.meta(board)], ["DEL", RedisKeys.playerInfo("named")],
            ])
            let during = try await api.get("/api/v1/leaderboards/\(board)/top?limit=1000")
            #expect(during.status == .serviceUnavailable || during.entries == before.entries)
            if during.status == .serviceUnavailable {
                #expect(during.errorCode == "unavailable")
                #expect(during.headers[.retryAfter] != nil)
            }

            var after = during
            for _ in 0..<50 where after.status != .ok {
                try await Task.sleep(for: .milliseconds(200))
                after = try await api.get("/api/v1/leaderboards/\(board)/top?limit=1000")
            }
            #expect(after.status == .ok)
            #expect(after.entries == before.entries)
            #expect(after.integer("total") == 501)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/named").entry?.username == "Nell")
        }
    }
}

@Suite struct CatchUpTests {
    /// A crash between the PostgreSQL commit and the Redis write leaves Redis behind; the next
    /// start finds the board's last applied event behind PostgreSQL's and rebuilds it.
    @Test func eventsCommittedButNotAppliedAreCaughtUpAtStart() async throws {
        let board = TestEnvironment.uniqueID("catch-up")
        try await withTestApp { api, system in
            try await api.createBoard(board)
            try await api.submit(board, [("a", 10), ("b", 20)])
            // Commit behind the service's back, as if the process died before applying to Redis.
            // (Another test's server starting meanwhile may already catch it up: that is the same mechanism.)
            _ = try await system.service.repository.commit([[ScoreCommand(leaderboardID: board, playerID: "c", value: 30)]])
        }
        try await withTestApp { api, _ in
            var entry = try await api.get("/api/v1/leaderboards/\(board)/player/c")
            for _ in 0..<50 where entry.status != .ok {
                try await Task.sleep(for: .milliseconds(100))
                entry = try await api.get("/api/v1/leaderboards/\(board)/player/c")
            }
            #expect(entry.entry == LeaderboardEntry(rank: 1, playerID: "c", score: 30))
            #expect(try await api.get("/api/v1/leaderboards/\(board)/top").entries.map(\.playerID) == ["c", "b", "a"])
        }
    }
}
