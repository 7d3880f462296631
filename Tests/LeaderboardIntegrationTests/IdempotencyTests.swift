import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import Testing

/// `Idempotency-Key` on score submissions (Guarantee 8): a repeat gets the first answer and
/// changes nothing; the same key on another request is 409; a malformed key is 400.
@Suite struct IdempotencyTests {
    static func score(_ board: String, _ player: String, _ value: Int64) -> String {
        #"{"player_id": "\#(player)", "score": \#(value), "game_id": "\#(board)"}"#
    }

    @Test func aRepeatGetsTheFirstAnswerAndChangesNothing() async throws {
        let board = TestEnvironment.uniqueID("idem")
        try await withTestApp { api, system in
            try await api.createBoard(board, #""update_mode": "increment""#)
            let key = TestEnvironment.uniqueID("key")
            let first = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 5), idempotencyKey: key)
            #expect(first.status == .ok)
            #expect(first.integer("score") == 5)
            for _ in 0..<3 {
                let again = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 5), idempotencyKey: key)
                #expect(again.status == .ok)
                #expect(again.json == first.json)
            }
            // Without a key the same body is a new increment.
            #expect(try await api.post("/api/v1/scores", Self.score(board, "p", 5)).integer("score") == 10)

            let other = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 6), idempotencyKey: key)
            #expect(other.status == .conflict)
            #expect(other.errorCode == "idempotency_key_reused")
            // The same event on the batch endpoint is another request.
            let asBatch = try await api.request(
                .post, "/api/v1/scores/batch", body: #"{"scores": [\#(Self.score(board, "p", 5))]}"#, idempotencyKey: key
            )
            #expect(asBatch.errorCode == "idempotency_key_reused")

            let batchKey = TestEnvironment.uniqueID("key")
            let body = #"{"scores": [\#(Self.score(board, "a", 1)), \#(Self.score(board, "b", 2)), \#(Self.score(board, "a", 3))]}"#
            let batch = try await api.request(.post, "/api/v1/scores/batch", body: body, idempotencyKey: batchKey)
            #expect(batch.status == .ok)
            #expect(batch.integer("accepted") == 3)
            let batchAgain = try await api.request(.post, "/api/v1/scores/batch", body: body, idempotencyKey: batchKey)
            #expect(batchAgain.json == batch.json)

            let scores = try await postgresScores(system.service.repository.pool, board: board)
            #expect(scores == ["p": 10, "a": 4, "b": 2])
            let events = try await system.service.repository.pool.query(
                "SELECT count(*) FROM score_events WHERE leaderboard_id = $1", [board]
            ).rows[0].int64(0)
            #expect(events == 5)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/a").integer("score") == 4)
        }
    }

    @Test func aRejectedRequestKeepsItsAnswerToo() async throws {
        let board = TestEnvironment.uniqueID("idem-rej")
        try await withTestApp { api, _ in
            try await api.createBoard(board, #""update_mode": "increment""#)
            try await api.submit(board, [("p", 9_007_199_254_740_000)])
            let key = TestEnvironment.uniqueID("key")
            let first = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 10_000), idempotencyKey: key)
            #expect(first.errorCode == "invalid_score")
            let again = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 10_000), idempotencyKey: key)
            #expect(again.errorCode == "invalid_score")
            #expect(again.errorMessage == first.errorMessage)
        }
    }

    @Test func aMalformedKeyIsRefusedAndChangesNothing() async throws {
        let board = TestEnvironment.uniqueID("idem-bad")
        try await withTestApp { api, system in
            try await api.createBoard(board, #""update_mode": "increment""#)
            for key in ["has space", String(repeating: "k", count: 65), "ü", ""] {
                let answer = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 1), idempotencyKey: key)
                #expect(answer.status == .badRequest, "key \(key)")
                #expect(answer.errorCode == "invalid_request")
            }
            #expect(try await postgresScores(system.service.repository.pool, board: board).isEmpty)
            let unique = TestEnvironment.uniqueID("k")
            let longest = String(repeating: "k", count: 64 - unique.count) + unique
            let accepted = try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 1), idempotencyKey: longest)
            #expect(accepted.status == .ok)
        }
    }

    /// The same key sent many times at once (some land in one group commit, some in the next):
    /// applied once, and every answer is the first one.
    @Test func concurrentRepeatsApplyOnce() async throws {
        let board = TestEnvironment.uniqueID("idem-conc")
        try await withTestApp { api, system in
            try await api.createBoard(board, #""update_mode": "increment""#)
            for round in 0..<5 {
                let key = TestEnvironment.uniqueID("key\(round)")
                let answers = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                    for _ in 0..<16 {
                        group.addTask {
                            try await api.request(.post, "/api/v1/scores", body: Self.score(board, "p", 1), idempotencyKey: key)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(answers.allSatisfy { $0.status == .ok })
                #expect(Set(answers.compactMap { $0.integer("score") }) == [Int64(round + 1)])
            }
            #expect(try await postgresScores(system.service.repository.pool, board: board) == ["p": 5])
        }
    }
}
