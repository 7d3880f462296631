import Foundation
import LeaderboardCore
import LeaderboardTestSupport
import PostgresClient
import Testing

@Suite struct WritePathTests {
    /// Submissions that arrive within the commit window of the first one are committed together:
    /// twelve at once make one group commit (the board's change number moves by one). (That the
    /// window counts from when the first was queued, so that a group queued during a commit is
    /// not held back again, is measured by Benchmarks/cost.sh's POST /scores row, not here.)
    @Test func submissionsWithinTheWindowAreCommittedTogether() async throws {
        let board = TestEnvironment.uniqueID("window")
        var config = TestEnvironment.config
        config.leaderboard.commitWindow = .seconds(2)
        try await withTestApp(config: config) { api, system in
            #expect(try await api.createBoard(board).status == .created)
            func changeNumber() async throws -> Int64 {
                try #require(try await system.postgres.query("SELECT change_seq FROM leaderboards WHERE id = $1", [board]).rows.first?.int64(0))
            }
            let before = try await changeNumber()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for player in 0..<12 {
                    group.addTask {
                        let response = try await api.post("/api/v1/scores", #"{"player_id": "w\#(player)", "score": \#(player), "game_id": "\#(board)"}"#)
                        guard response.status == .ok else { throw TestFailure("submit: \(response.status) \(response.json)") }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await changeNumber() == before + 1, "the twelve submissions were not one group commit")
            #expect(try await api.get("/api/v1/leaderboards/\(board)/top?limit=20").entries.count == 12)
        }
    }

    @Test func concurrentIncrementsToTheSamePlayersSumExactly() async throws {
        let board = TestEnvironment.uniqueID("concurrent")
        try await withTestApp { api, system in
            try await api.createBoard(board, "\"update_mode\": \"increment\"")
            let players = (0..<8).map { "hot\($0)" }
            let tasks = 64
            let perTask = 20
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<tasks {
                    group.addTask {
                        for step in 0..<perTask {
                            let player = players[(task + step) % players.count]
                            let body = "{\"player_id\": \"\(player)\", \"score\": \(task + 1), \"game_id\": \"\(board)\"}"
                            let response = try await api.post("/api/v1/scores", body)
                            guard response.status == .ok else { throw TestFailure("submit: \(response.status) \(response.json)") }
                        }
                    }
                }
                try await group.waitForAll()
            }
            var expected = [String: Int64]()
            for task in 0..<tasks {
                for step in 0..<perTask { expected[players[(task + step) % players.count], default: 0] += Int64(task + 1) }
            }
            for player in players {
                let entry = try await api.get("/api/v1/leaderboards/\(board)/player/\(player)").entry
                #expect(entry?.score == expected[player])
                let stored = try await system.postgres.query(
                    "SELECT score FROM player_scores WHERE leaderboard_id = $1 AND player_id = $2", [board, player]
                )
                #expect(try stored.rows.first?.int64(0) == expected[player])
            }
            let events = try await system.postgres.query("SELECT count(*) FROM score_events WHERE leaderboard_id = $1", [board])
            #expect(try events.rows[0].int64(0) == Int64(tasks * perTask))
        }
    }

    @Test func aBatchWithABadItemIsRejectedWholeNamingTheItem() async throws {
        let board = TestEnvironment.uniqueID("atomic")
        try await withTestApp { api, system in
            try await api.createBoard(board, "\"update_mode\": \"increment\"")
            try await api.submit(board, [("edge", ScoreRange.maximum - 5)])

            // Invalid by validation (before anything is queued).
            let invalid = try await api.post(
                "/api/v1/scores/batch",
                "{\"scores\": [{\"player_id\": \"a\", \"score\": 1, \"game_id\": \"\(board)\"}, {\"player_id\": \"b c\", \"score\": 1, \"game_id\": \"\(board)\"}]}"
            )
            #expect(invalid.status == .badRequest)
            #expect(invalid.errorCode == "invalid_request")
            #expect(invalid.errorMessage.contains("scores[1]"))

            // Invalid only once applied: the third item's increment leaves the score range.
            let overflow = try await api.post(
                "/api/v1/scores/batch",
                """
                {"scores": [{"player_id": "a", "score": 1, "game_id": "\(board)"}, {"player_id": "edge", "score": 3, "game_id": "\(board)"},
                 {"player_id": "edge", "score": 3, "game_id": "\(board)"}]}
                """
            )
            #expect(overflow.status == .badRequest)
            #expect(overflow.errorCode == "invalid_score")
            #expect(overflow.errorMessage.contains("scores[2]"))

            // Unknown board in the middle.
            let missing = try await api.post(
                "/api/v1/scores/batch",
                "{\"scores\": [{\"player_id\": \"a\", \"score\": 1, \"game_id\": \"\(board)\"}, {\"player_id\": \"a\", \"score\": 1, \"game_id\": \"\(board)-nope\"}]}"
            )
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "leaderboard_not_found")

            let top = try await api.get("/api/v1/leaderboards/\(board)/top")
            #expect(top.entries.map(\.playerID) == ["edge"])
            #expect(top.entries.first?.score == ScoreRange.maximum - 5)
            let stored = try await system.postgres.query("SELECT count(*) FROM score_events WHERE leaderboard_id = $1", [board])
            #expect(try stored.rows[0].int64(0) == 1)
        }
    }

    @Test func eventsAreRecordedWithMetadataTimestampAndUsername() async throws {
        let board = TestEnvironment.uniqueID("events")
        try await withTestApp { api, system in
            try await api.createBoard(board, "\"update_mode\": \"best\"")
            let first = try await api.post(
                "/api/v1/scores",
                #"{"player_id": "ann", "score": 10, "game_id": "\#(board)", "username": "Ann \"the\" Great", "metadata": {"map": "dust"}, "timestamp": "2026-03-01T10:00:00Z"}"#
            )
            #expect(first.status == .ok)
            #expect(first.integer("score") == 10)
            let worse = try await api.post("/api/v1/scores", #"{"player_id": "ann", "score": 5, "leaderboard_id": "\#(board)"}"#)
            #expect(worse.integer("score") == 10)

            let entry = try await api.get("/api/v1/leaderboards/\(board)/player/ann")
            #expect(entry.entry == LeaderboardEntry(rank: 1, playerID: "ann", score: 10, username: "Ann \"the\" Great"))
            let rows = try await system.postgres.query(
                """
                SELECT score, result_score, event_type, metadata->>'map', to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
                FROM score_events WHERE leaderboard_id = $1 ORDER BY id
                """,
                [board]
            )
            #expect(rows.rows == [["10", "10", "best", "dust", "2026-03-01 10:00"], ["5", "10", "best", nil, nil]])
            let metadata = try await system.postgres.query(
                "SELECT metadata->>'map' FROM player_scores WHERE leaderboard_id = $1 AND player_id = 'ann'", [board]
            )
            #expect(metadata.rows == [["dust"]])
        }
    }

    @Test func maxEntriesTrimsTheRealtimeBoardButKeepsEveryScoreInPostgres() async throws {
        let board = TestEnvironment.uniqueID("trim")
        try await withTestApp { api, system in
            try await api.createBoard(board, "\"max_entries\": 50, \"sort_order\": \"asc\"")
            var reference = ReferenceBoard(order: .asc, mode: .replace)
            var scores: [(String, Int64)] = []
            for index in 0..<200 {
                let score = Int64((index * 37) % 90)
                scores.append(("t\(index)", score))
                reference.submit("t\(index)", score)
            }
            try await api.submit(board, scores, batchSize: 30)
            let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=100")
            #expect(top.integer("total") == 50)
            #expect(top.entries == Array(reference.ranked().prefix(50)))
            let beyond = reference.ranked()[120]
            let missing = try await api.get("/api/v1/leaderboards/\(board)/player/\(beyond.playerID)")
            #expect(missing.errorCode == "player_not_found")
            let stored = try await system.postgres.query("SELECT count(*) FROM player_scores WHERE leaderboard_id = $1", [board])
            #expect(try stored.rows[0].int64(0) == 200)
        }
    }
}
