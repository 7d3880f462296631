import Foundation
import LeaderboardApp
import LeaderboardTestSupport
import Testing

/// Each error code of the contract, reached through the real API, and nothing written by a rejected request.
@Suite struct ErrorContractTests {
    @Test func invalidRequestInvalidScoreNotFoundExistsAndTooLarge() async throws {
        let board = TestEnvironment.uniqueID("errors")
        var config = TestEnvironment.config
        config.server.maxBodyBytes = 64 * 1024
        config.leaderboard.maxBatchSize = 10
        config.leaderboard.maxLimit = 100
        try await withTestApp(config: config) { api, system in
            try await api.createBoard(board)
            let cases: [(String, String, String?, Int, String)] = [
                ("POST", "/api/v1/scores", "not json", 400, "invalid_request"),
                ("POST", "/api/v1/scores", "", 400, "invalid_request"),
                ("POST", "/api/v1/scores", #"{"player_id": "p", "score": 1}"#, 400, "invalid_request"),
                ("POST", "/api/v1/scores", #"{"player_id": "p", "score": 1.25, "game_id": "\#(board)"}"#, 400, "invalid_score"),
                ("POST", "/api/v1/scores", #"{"player_id": "p", "score": 9007199254740992, "game_id": "\#(board)"}"#, 400, "invalid_score"),
                ("POST", "/api/v1/scores", #"{"player_id": "p", "score": 1, "game_id": "\#(board)-missing"}"#, 404, "leaderboard_not_found"),
                ("POST", "/api/v1/scores/batch", #"{"scores": []}"#, 400, "invalid_request"),
                ("POST", "/api/v1/scores/batch", #"{"items": []}"#, 400, "invalid_request"),
                ("POST", "/api/v1/leaderboards", #"{"id": "\#(board)"}"#, 409, "leaderboard_exists"),
                ("POST", "/api/v1/leaderboards", #"{"id": "x", "layout": {"strategy": "hash", "shards": 0}}"#, 400, "invalid_request"),
                ("POST", "/api/v1/leaderboards", #"{"id": "x", "layout": {"strategy": "band", "bounds": [3, 1]}}"#, 400, "invalid_request"),
                ("POST", "/api/v1/leaderboards", #"{"id": "bad id"}"#, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)-missing/top", nil, 404, "leaderboard_not_found"),
                ("GET", "/api/v1/leaderboards/bad%20id/top", nil, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)/player/nobody", nil, 404, "player_not_found"),
                ("GET", "/api/v1/leaderboards/\(board)/around/nobody", nil, 404, "player_not_found"),
                ("DELETE", "/api/v1/leaderboards/\(board)/player/nobody", nil, 404, "player_not_found"),
                ("GET", "/api/v1/leaderboards/\(board)/top?limit=0", nil, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)/top?limit=101", nil, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)/top?limit=abc", nil, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)/around/p?range=-1", nil, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)/range?start=5&end=4", nil, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)/range?start=1", nil, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)/range?start=1&end=101", nil, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)/top?source=cache", nil, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)/top?period=3", nil, 400, "invalid_request"),
                ("GET", "/api/v1/leaderboards/\(board)/top?period=4611686018427387905", nil, 400, "invalid_request"),
                ("POST", "/api/v1/leaderboards", #"{"id": "x", "layout": {"strategy": "band", "bounds": [1], "shards": 2}}"#, 400, "invalid_request"),
                ("POST", "/api/v1/leaderboards/\(board)-missing/reset", "", 404, "leaderboard_not_found"),
                ("DELETE", "/api/v1/leaderboards/\(board)-missing", nil, 404, "leaderboard_not_found"),
            ]
            for (method, path, body, status, code) in cases {
                let response = try await api.request(.init(method)!, path, body: body)
                #expect(Int(response.status.code) == status, "\(method) \(path) \(body ?? "")")
                #expect(response.errorCode == code, "\(method) \(path) \(body ?? ""): \(response.json)")
                #expect(!response.errorMessage.isEmpty)
            }

            // payload_too_large: a body over server.max_body_bytes, and a batch over max_batch_size.
            let huge = #"{"player_id": "p", "score": 1, "game_id": "\#(board)", "username": "\#(String(repeating: "x", count: 70_000))"}"#
            let tooLarge = try await api.post("/api/v1/scores", huge)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.errorCode == "payload_too_large")
            let items = (0..<11).map { #"{"player_id": "p\#($0)", "score": 1, "game_id": "\#(board)"}"# }
            let tooMany = try await api.post("/api/v1/scores/batch", #"{"scores": [\#(items.joined(separator: ","))]}"#)
            #expect(tooMany.status == .contentTooLarge)
            #expect(tooMany.errorCode == "payload_too_large")

            // Nothing of the above was written.
            let events = try await system.postgres.query("SELECT count(*) FROM score_events WHERE leaderboard_id = $1", [board])
            #expect(try events.rows[0].int64(0) == 0)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/top").integer("total") == 0)
        }
    }

    @Test func postgresUnreachableGives503AndWritesNothing() async throws {
        var config = TestEnvironment.config
        config.postgres.port = 1  // nothing listens there
        try await withTestApp(config: config, migrate: false) { api, _ in
            let created = try await api.post("/api/v1/leaderboards", #"{"id": "never-created"}"#)
            #expect(created.status == .serviceUnavailable)
            #expect(created.errorCode == "unavailable")
            #expect(created.headers[.retryAfter] == "1")
            let submitted = try await api.post("/api/v1/scores", #"{"player_id": "p", "score": 1, "game_id": "never-created"}"#)
            #expect(submitted.status == .serviceUnavailable)
            #expect(submitted.errorCode == "unavailable")
            let ready = try await api.get("/readyz")
            #expect(ready.status == .serviceUnavailable)
            #expect(ready["checks"] == .object(["postgres": .string("unreachable"), "redis": .string("ok")]))
            #expect(try await api.get("/healthz").status == .ok)
        }
        let check = try await withTestApp { _, system in
            try await system.postgres.query("SELECT count(*) FROM leaderboards WHERE id = 'never-created'")
        }
        #expect(try check.rows[0].int64(0) == 0)
    }

    @Test func redisUnreachableStillCommitsWritesButReadsAnswer503() async throws {
        let board = TestEnvironment.uniqueID("no-redis")
        var config = TestEnvironment.config
        config.topology = ""  // one node, at redis.addr: nothing listens there
        config.redis.port = 1
        config.redis.timeout = .milliseconds(200)
        // Rate limits live in Redis too: without it they let requests through.
        config.rateLimit = .init(read: .init(rate: 1, burst: 1), write: .init(rate: 1, burst: 1), admin: .init(rate: 1, burst: 1))
        try await withTestApp(config: config) { api, system in
            try await api.createBoard(board)
            let submitted = try await api.post("/api/v1/scores", #"{"player_id": "p", "score": 7, "game_id": "\#(board)"}"#)
            #expect(submitted.status == .ok)
            let stored = try await system.postgres.query("SELECT score FROM player_scores WHERE leaderboard_id = $1", [board])
            #expect(stored.rows == [["7"]])
            let read = try await api.get("/api/v1/leaderboards/\(board)/player/p")
            #expect(read.status == .serviceUnavailable)
            #expect(read.errorCode == "unavailable")
            #expect(try await api.get("/readyz").status == .serviceUnavailable)
        }
    }
}
