import Foundation
import LeaderboardCore
import LeaderboardStore
import LeaderboardTestSupport
import RedisClient
import Testing

/// Sharded ranges and around merge members read from several shards: every entry carries its own
/// player's name — also deep ranges located by counts, and while scores change. (Names are per
/// player, not per board, so the ids carry the board's id: other suites' players stay unnamed.)
@Suite(.timeLimit(.minutes(3))) struct ShardedUsernameTests {
    static let players = 1_500

    /// Players divisible by 3 never send a name; the others always send the same one.
    static func name(_ index: Int) -> String? { index % 3 == 0 ? nil : "Name \(index) ✓" }

    static func batch(_ board: String, _ items: [(index: Int, score: Int64)]) -> String {
        let scores = items.map { item in
            let name = Self.name(item.index).map { ", \"username\": \"\($0)\"" } ?? ""
            return "{\"player_id\": \"\(board)-p\(item.index)\", \"score\": \(item.score), \"game_id\": \"\(board)\"\(name)}"
        }
        return "{\"scores\": [\(scores.joined(separator: ","))]}"
    }

    @Test(arguments: [
        ("{\"strategy\": \"hash\", \"shards\": 4}", false), ("{\"strategy\": \"band\", \"bounds\": [300, 600]}", false),
        ("{\"strategy\": \"hash\", \"shards\": 4}", true),
    ])
    func everyEntryCarriesItsOwnName(layout: String, cluster: Bool) async throws {
        try await withTestApp(config: cluster ? TestEnvironment.clusterConfig : TestEnvironment.config) { api, _ in
            let board = TestEnvironment.uniqueID("names")
            try await api.createBoard(board, "\"layout\": \(layout), \"max_entries\": 0")
            var random = SystemRandomNumberGenerator()
            let all = (0..<Self.players).map { ($0, Int64.random(in: 0..<900, using: &random)) }
            for start in stride(from: 0, to: all.count, by: 500) {
                let answer = try await api.post("/api/v1/scores/batch", Self.batch(board, Array(all[start..<min(start + 500, all.count)])))
                #expect(answer.status == .ok)
            }
            func check(_ answer: APIResponse, _ what: String) -> Int {
                guard answer.status == .ok else {
                    #expect(answer.status == .serviceUnavailable, "\(what): \(answer.status) \(answer.json)")
                    return 0
                }
                let entries = answer.entries
                #expect(!entries.isEmpty, "\(what): no entries")
                for entry in entries {
                    let index = entry.playerID.hasPrefix(board + "-p") ? Int(entry.playerID.dropFirst(board.count + 2)) : nil
                    #expect(index != nil && entry.username == index.flatMap(Self.name), "\(what): \(entry.playerID) named \(entry.username ?? "nil")")
                }
                return entries.count
            }
            // Scores keep changing while the reads run (bounded in count and time; the bound is
            // loose, so a slow machine still reads enough to check).
            let deadline = ContinuousClock.now + .seconds(60)
            let writer = Task {
                var random = SystemRandomNumberGenerator()
                for _ in 0..<150 where ContinuousClock.now < deadline {
                    let items = (0..<20).map { _ in (Int.random(in: 0..<Self.players, using: &random), Int64.random(in: 0..<900, using: &random)) }
                    _ = try? await api.post("/api/v1/scores/batch", Self.batch(board, items))
                }
            }
            var named = 0
            for step in 0..<60 where ContinuousClock.now < deadline {
                // Deep ranges (past the direct-fetch limit: located by counts), the top, around.
                let start = step % 2 == 0 ? Int.random(in: 1_030...1_400, using: &random) : 1
                named += check(try await api.get("/api/v1/leaderboards/\(board)/range?start=\(start)&end=\(start + 49)"), "range at \(start)")
                named += check(try await api.get("/api/v1/leaderboards/\(board)/top?limit=100"), "top")
                let player = "\(board)-p\(Int.random(in: 0..<Self.players, using: &random))"
                named += check(try await api.get("/api/v1/leaderboards/\(board)/around/\(player)?range=5"), "around \(player)")
            }
            await writer.value
            #expect(named > 1_000, "too few entries were read: \(named)")
        }
    }

    /// A shard that missed changes (a node restored from an older state, or on a Redis Cluster a
    /// promoted replica that missed the last writes) is caught up from PostgreSQL's change log:
    /// the players those changes brought in come back with their usernames, not without.
    @Test(arguments: [false, true])
    func aShardThatMissedAChangeGetsItsUsernamesBack(cluster: Bool) async throws {
        try await withTestApp(config: cluster ? TestEnvironment.clusterConfig : TestEnvironment.config) { api, system in
            let board = TestEnvironment.uniqueID("missed-names")
            #expect(try await api.createBoard(board, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 3}"#).status == .created)
            try await api.submit(board, (0..<30).map { ("\(board)-p\($0)", Int64($0)) })
            let player = "\(board)-late"
            let name = "Late \(UInt32.random(in: 0...UInt32.max))"
            // A second player of the same shard, in the same change, renamed meanwhile (another
            // process's newer name, written after the replay read PostgreSQL's): the replay only
            // fills missing names, so that one stays.
            let stored = try #require(try await system.service.repository.leaderboard(board))
            let shard = stored.router.shard(player: player, score: 77)
            let renamed = try #require((0..<64).lazy.map { "\(board)-renamed\($0)" }.first { stored.router.shard(player: $0, score: 0) == shard })
            let batch = #"{"scores": [{"player_id": "\#(player)", "score": 77, "game_id": "\#(board)", "username": "\#(name)"}, "#
                + #"{"player_id": "\#(renamed)", "score": 66, "game_id": "\#(board)", "username": "Old name"}]}"#
            #expect(try await api.post("/api/v1/scores/batch", batch).status == .ok)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/\(player)").entry?.username == name)
            // The shard as it was before that change: no players, no name, one change back.
            let key = cluster ? RedisKeys.clusterRealtime(board, shard: shard, epoch: 1) : RedisKeys.realtime(board, shard: shard, of: 3)
            let meta = cluster ? RedisKeys.clusterMeta(board, shard: shard, epoch: 1) : RedisKeys.meta(board, shard: shard, of: 3)
            let send: @Sendable ([String]) async throws -> RedisReply
            if cluster {
                let client = try #require(system.redisCluster)
                send = { command in try await client.pipeline([command], keys: [command[1]])[0] }
            } else {
                let pool = try await system.redis(board: board, shard: shard)
                send = { command in try await pool.pipeline([command])[0] }
            }
            let seq = try #require(try await send(["HGET", meta, "seq"]).string.flatMap(Int64.init))
            _ = try await send(["ZREM", key, player, renamed])
            _ = try await send(cluster ? ["HDEL", RedisKeys.names(meta), player] : ["HDEL", RedisKeys.playerInfo(player), "username"])
            _ = try await send(cluster ? ["HSET", RedisKeys.names(meta), renamed, "New name"] : ["HSET", RedisKeys.playerInfo(renamed), "username", "New name"])
            _ = try await send(["HSET", meta, "seq", String(seq - 1)])
            // Caught up within seconds by the recovery loop, with the name.
            let started = ContinuousClock.now
            var entry: LeaderboardEntry?
            while ContinuousClock.now - started < .seconds(10) {
                entry = try await api.get("/api/v1/leaderboards/\(board)/player/\(player)").entry
                if entry?.score == 77 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(entry?.score == 77, "the missed change was not caught up")
            #expect(entry?.username == name, "caught up without its username: \(String(describing: entry))")
            let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=2").entries
            #expect(top.first?.playerID == player && top.first?.username == name)
            #expect(top.last?.playerID == renamed && top.last?.username == "New name", "a replay put an older name back: \(top)")
            try await api.delete("/api/v1/leaderboards/\(board)")
        }
    }
}
