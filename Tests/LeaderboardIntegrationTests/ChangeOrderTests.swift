import Foundation
import LeaderboardCore
import LeaderboardService
import LeaderboardStore
import LeaderboardTestSupport
import Testing

/// The board's one order of changes, with faults injected on purpose: a change committed but never
/// applied (a process that crashed after its commit, or lost Redis's reply), changes applied in
/// the wrong order (two processes), and a shard set back to an older state (a node restored from
/// an old snapshot). Each is found and repaired within seconds; no read mixes states meanwhile.
@Suite(.timeLimit(.minutes(2))) struct ChangeOrderTests {
    /// The whole board as one read, checked for duplicates and order.
    static func wholeBoard(_ api: TestAPI, _ board: String) async throws -> [String: Int64]? {
        let page = try await api.get("/api/v1/leaderboards/\(board)/range?start=1&end=1000")
        guard page.status == .ok else { return nil }
        let entries = page.entries
        #expect(entries.map(\.rank) == Array(1...max(entries.count, 1)).prefix(entries.count).map { $0 })
        #expect(Set(entries.map(\.playerID)).count == entries.count, "a player twice: \(entries)")
        #expect(page.integer("total") == Int64(entries.count))
        return Dictionary(entries.map { ($0.playerID, $0.score) }, uniquingKeysWith: { a, _ in a })
    }

    @Test(arguments: [#"{"strategy": "hash", "shards": 4}"#, #"{"strategy": "band", "bounds": [100, 200]}"#])
    func aCommittedChangeNeverAppliedIsAppliedWithinSeconds(layout: String) async throws {
        try await withTestApp { api, system in
            let board = TestEnvironment.uniqueID("lost")
            #expect(try await api.createBoard(board, #""max_entries": 0, "layout": \#(layout)"#).status == .created)
            try await api.submit(board, (0..<20).map { ("p\($0)", Int64($0 * 10)) })
            // Committed in PostgreSQL, and not applied: as if the process died right after COMMIT.
            let lost = try await system.service.repository.commit([[ScoreCommand(leaderboardID: board, playerID: "p3", value: 250)]])
            #expect(lost.steps[board] != nil)
            let started = ContinuousClock.now
            var seen: Duration?
            while seen == nil, ContinuousClock.now - started < .seconds(10) {
                if let view = try await Self.wholeBoard(api, board), view["p3"] == 250 {
                    #expect(view.count == 20)
                    seen = ContinuousClock.now - started
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            print("a lost apply (\(layout)) was applied \(seen.map { "\($0)" } ?? "never") after its commit")
            #expect(seen != nil && seen! < .seconds(5), "the committed change was not applied within 5 s")
        }
    }

    @Test func changesAppliedOutOfOrderLandInCommitOrder() async throws {
        try await withTestApp { api, system in
            let board = TestEnvironment.uniqueID("reorder")
            #expect(try await api.createBoard(board, #""max_entries": 0, "layout": {"strategy": "band", "bounds": [100, 200]}"#).status == .created)
            try await api.submit(board, (0..<10).map { ("p\($0)", Int64($0)) })
            let repository = system.service.repository
            // Two commits (as two processes would make them): x to 150 (band 1), then to 250 (band 2).
            let first = try await repository.commit([[ScoreCommand(leaderboardID: board, playerID: "x", value: 150)]])
            let second = try await repository.commit([[ScoreCommand(leaderboardID: board, playerID: "x", value: 250)]])
            #expect(second.steps[board]!.seq == first.steps[board]!.seq + 1)
            // The later one reaches Redis first: the shards refuse it until the earlier one is there,
            // which the sequencer takes from the change log after a short wait.
            await system.service.sequencer.apply(WriteCoordinator.realtimeBatch(from: second))
            var view = try #require(try await Self.wholeBoard(api, board))
            #expect(view["x"] == 250)
            #expect(view.count == 11)
            // The earlier one arrives late and changes nothing.
            await system.service.sequencer.apply(WriteCoordinator.realtimeBatch(from: first))
            view = try #require(try await Self.wholeBoard(api, board))
            #expect(view["x"] == 250, "an older change overwrote a newer one")
            #expect(view.count == 11, "a player is in two bands: \(view)")
            let sequences = try await system.service.realtime.appliedSequences(try #require(try await repository.leaderboard(board)))
            #expect(sequences.allSatisfy { $0 == second.steps[board]!.seq })
        }
    }

    @Test func aShardSetBackToAnOlderStateCatchesUp() async throws {
        try await withTestApp { api, system in
            let board = TestEnvironment.uniqueID("rewind")
            #expect(try await api.createBoard(board, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 3}"#).status == .created)
            try await api.submit(board, (0..<30).map { ("p\($0)", Int64($0)) })
            let stored = try #require(try await system.service.repository.leaderboard(board))
            let shard = stored.router.shard(player: "p7", score: 0)
            try await api.submit(board, [("p7", 700)])
            // The shard as an old snapshot of its node would have it: p7 at its old score, one change back.
            let pool = try await system.redis(board: board, shard: shard)
            let meta = RedisKeys.meta(board, shard: shard, of: 3)
            let seq = try #require(try await pool.command("HGET", meta, "seq").string.flatMap(Int64.init))
            _ = try await pool.command("ZADD", RedisKeys.realtime(board, shard: shard, of: 3), "7", "p7")
            _ = try await pool.command("HSET", meta, "seq", String(seq - 1))
            // Reads meanwhile: 503 (the shards disagree) or the whole board, never a mix.
            let started = ContinuousClock.now
            var repaired: Duration?
            while repaired == nil, ContinuousClock.now - started < .seconds(10) {
                if let view = try await Self.wholeBoard(api, board) {
                    #expect(view.count == 30)
                    if view["p7"] == 700 { repaired = ContinuousClock.now - started }
                    else { #expect(view["p7"] == 7) }
                }
                if repaired == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            print("a shard set back one change caught up after \(repaired.map { "\($0)" } ?? "never")")
            #expect(repaired != nil && repaired! < .seconds(5))
        }
    }

    @Test func usernamesFollowAPlayerIntoAnotherBand() async throws {
        try await withTestApp { api, system in
            let board = TestEnvironment.uniqueID("names")
            #expect(try await api.createBoard(board, #""max_entries": 0, "layout": {"strategy": "band", "bounds": [100, 200]}"#).status == .created)
            let stored = try #require(try await system.service.repository.leaderboard(board))
            // The three bands sit on different nodes, so the move below crosses nodes.
            #expect(Set(stored.placement).count == 3)
            let name = "Name-\(UInt32.random(in: 0...UInt32.max))"
            let player = TestEnvironment.uniqueID("mover")
            #expect(try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": 50, "game_id": "\#(board)", "username": "\#(name)"}"#).status == .ok)
            for score in [150, 250, 20] {
                #expect(try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(score), "game_id": "\#(board)"}"#).status == .ok)
                let entry = try await api.get("/api/v1/leaderboards/\(board)/player/\(player)").entry
                #expect(entry?.score == Int64(score))
                #expect(entry?.username == name, "the username was lost after a move to score \(score)")
                let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=5").entries
                #expect(top.first?.username == name)
            }
        }
    }
}
