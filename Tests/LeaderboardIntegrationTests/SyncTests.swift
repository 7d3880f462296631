import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardService
import LeaderboardStore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import RedisClient
import Testing

/// The sync pass: shards corrupted directly in Redis are restored to PostgreSQL's truth by one pass,
/// and the official snapshot serves source=batch reads.
@Suite struct SyncTests {
    @Test(arguments: [#"{"strategy": "hash", "shards": 8}"#, #"{"strategy": "band", "bounds": [100, 300, 600]}"#])
    func onePassRepairsCorruptedShards(layout: String) async throws {
        let board = TestEnvironment.uniqueID("sync")
        try await withTestApp { api, system in
            try await api.createBoard(board, #""max_entries": 0, "layout": \#(layout)"#)
            var model = ReferenceBoard(order: .desc, mode: .replace)
            var scores: [(String, Int64)] = []
            for index in 0..<2000 {
                let score = Int64((index * 7919) % 900)
                scores.append(("s\(index)", score))
                model.submit("s\(index)", score)
            }
            try await api.submit(board, scores)
            let stored = try await system.service.directory.board(board)
            let router = stored.router

            // Another test's server starting up may rebuild this board from an older snapshot at any
            // moment (that is catch-up working); if it undid the damage before the pass, damage again.
            var report: [JSONValue] = []
            var counts: (removed: Int, changed: Int) = (0, 0)
            for _ in 0..<3 {
                counts = try await corrupt(board, scores, router, system)
                let pass = try await api.post("/api/v1/leaderboards/\(board)/sync", "")
                #expect(pass.status == .ok)
                #expect(pass.integer("snapshot_players") == 2000)
                guard case .array(let reports)? = pass["shards"] else {
                    Issue.record("no shard reports: \(pass.json)")
                    return
                }
                report = reports
                if Self.total(report, "strays") == 7, Self.total(report, "wrong_scores") == Int64(counts.changed),
                    Self.total(report, "missing") >= Int64(counts.removed)
                {
                    break
                }
            }
            #expect(Self.total(report, "strays") == 7)
            #expect(Self.total(report, "wrong_scores") == Int64(counts.changed))
            #expect(Self.total(report, "missing") >= Int64(counts.removed))
            #expect(Self.total(report, "repaired") == Self.total(report, "strays") + Self.total(report, "wrong_scores") + Self.total(report, "missing"))

            // Redis equals PostgreSQL again, through every read.
            let expected = model.ranked()
            for start in stride(from: 1, through: 2000, by: 1000) {
                let page = try await api.get("/api/v1/leaderboards/\(board)/range?start=\(start)&end=\(start + 999)")
                #expect(page.entries == Array(expected[(start - 1)..<(start + 999)]))
            }
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/ghost0").errorCode == "player_not_found")

            // A second pass over an unchanged board repairs nothing; GET returns the last report.
            let again = try await api.post("/api/v1/leaderboards/\(board)/sync", "")
            guard case .array(let second)? = again["shards"] else {
                Issue.record("no shard reports: \(again.json)")
                return
            }
            #expect(second.allSatisfy { $0.object?["repaired"] == .integer(0) })
            #expect(Self.total(second, "chunks_differing") == 0, "an unchanged board is compared by chunk digests only")
            #expect(second.reduce(Int64(0)) { sum, report in if case .integer(let value)? = report.object?["checked"] { sum + value } else { sum } } == 2000)
            let last = try await api.get("/api/v1/leaderboards/\(board)/sync")
            #expect(last["snapshot_as_of"] == again["snapshot_as_of"])
        }
    }

    static func total(_ reports: [JSONValue], _ field: String) -> Int64 {
        reports.reduce(0) { sum, report in if case .integer(let value)? = report.object?[field] { sum + value } else { sum } }
    }

    /// Empties the last shard, removes some members, changes some scores and adds 7 strays.
    func corrupt(_ board: String, _ scores: [(String, Int64)], _ router: ShardRouter, _ system: LeaderboardSystem) async throws -> (removed: Int, changed: Int) {
        let shards = router.shardCount
        // Versions move first too: a rebuild that read them earlier cannot switch in halfway through.
        for shard in 0..<shards {
            _ = try await system.redis(board: board, shard: shard).command("HINCRBY", RedisKeys.meta(board, shard: shard, of: shards), "version", "1")
        }
        let emptied = shards - 1
        _ = try await system.redis(board: board, shard: emptied).command("DEL", RedisKeys.realtime(board, shard: emptied, of: shards))
        var removed = 0
        var changed = 0
        for (index, (player, score)) in scores.enumerated() where index % 97 == 0 {
            let shard = router.shard(player: player, score: score)
            let redis = try await system.redis(board: board, shard: shard)
            let key = RedisKeys.realtime(board, shard: shard, of: shards)
            if index % 2 == 0 {
                _ = try await redis.command("ZREM", key, player)
                removed += 1
            } else {
                _ = try await redis.command("ZADD", key, String(score + 5), player)
                changed += 1
            }
        }
        for stray in 0..<7 {
            let shard = stray % shards
            _ = try await system.redis(board: board, shard: shard).command("ZADD", RedisKeys.realtime(board, shard: shard, of: shards), "450", "ghost\(stray)")
        }
        for shard in 0..<shards {
            _ = try await system.redis(board: board, shard: shard).command("HINCRBY", RedisKeys.meta(board, shard: shard, of: shards), "version", "1")
        }
        return (removed, changed)
    }

    @Test func onlyTheChunksThatDifferAreFetched() async throws {
        let board = TestEnvironment.uniqueID("chunks")
        var config = TestEnvironment.config
        config.sync.batchSize = 100
        try await withTestApp(config: config) { api, system in
            try await api.createBoard(board, #""max_entries": 0, "sort_order": "asc", "layout": {"strategy": "hash", "shards": 4}"#)
            let scores = (0..<4000).map { ("c\($0)", Int64(($0 * 31) % 1500)) }
            try await api.submit(board, scores)
            let clean = try await api.post("/api/v1/leaderboards/\(board)/sync", "")
            guard case .array(let first)? = clean["shards"] else { throw TestFailure("no shard reports: \(clean.json)") }
            #expect(Self.total(first, "checked") == 4000)
            #expect(Self.total(first, "chunks") >= 40)
            #expect(Self.total(first, "chunks_differing") == 0)
            #expect(Self.total(first, "repaired") == 0)

            // One score changed (the member moves within its shard) and one member removed.
            let router = try await system.service.directory.board(board).router
            let (moved, movedScore) = scores[1234]
            let (removed, removedScore) = scores[3210]
            var report: [JSONValue] = []
            for _ in 0..<3 {
                let movedShard = router.shard(player: moved, score: movedScore)
                let removedShard = router.shard(player: removed, score: removedScore)
                _ = try await system.redis(board: board, shard: movedShard).command(
                    "ZADD", RedisKeys.realtime(board, shard: movedShard, of: 4), String(movedScore + 700), moved
                )
                _ = try await system.redis(board: board, shard: removedShard).command("ZREM", RedisKeys.realtime(board, shard: removedShard, of: 4), removed)
                let pass = try await api.post("/api/v1/leaderboards/\(board)/sync", "")
                guard case .array(let reports)? = pass["shards"] else { throw TestFailure("no shard reports: \(pass.json)") }
                report = reports
                // (Another test's server may have rebuilt the board from PostgreSQL meanwhile: damage again.)
                if Self.total(report, "repaired") == 2 { break }
            }
            #expect(Self.total(report, "wrong_scores") == 1)
            #expect(Self.total(report, "missing") == 1)
            #expect(Self.total(report, "repaired") == 2)
            // The chunk the moved member left, the one it landed in, and the one that lost a member.
            #expect(Self.total(report, "chunks_differing") >= 2)
            #expect(Self.total(report, "chunks_differing") <= 3)
            let page = try await api.get("/api/v1/leaderboards/\(board)/player/\(moved)")
            #expect(page.entry?.score == movedScore)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/\(removed)").entry?.score == removedScore)
        }
    }

    @Test func aPassLongerThanTheRequestWaitAnswers202AndRunsOn() async throws {
        let board = TestEnvironment.uniqueID("accepted")
        var config = TestEnvironment.config
        config.sync.requestWait = .zero
        try await withTestApp(config: config) { api, _ in
            try await api.createBoard(board, #""layout": {"strategy": "hash", "shards": 4}"#)
            try await api.submit(board, (0..<3000).map { ("a\($0)", Int64($0)) })
            let started = try await api.post("/api/v1/leaderboards/\(board)/sync", "")
            #expect(started.status == .accepted)
            #expect(started["status"] == .string("running"))
            var report = try await api.get("/api/v1/leaderboards/\(board)/sync")
            for _ in 0..<100 where report["snapshot_as_of"] == nil {
                try await Task.sleep(for: .milliseconds(50))
                report = try await api.get("/api/v1/leaderboards/\(board)/sync")
            }
            #expect(report["status"] == .string("ok"))
            #expect(report.integer("snapshot_players") == 3000)
            #expect(try await api.get("/api/v1/leaderboards/\(board)/top?source=batch").integer("total") == 3000)
        }
    }

    @Test func syncFromDatabaseRebuildsOneShardAlone() async throws {
        let board = TestEnvironment.uniqueID("oneshard")
        try await withTestApp { api, system in
            try await api.createBoard(board, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 4}"#)
            let scores = (0..<800).map { ("o\($0)", Int64($0 % 97)) }
            try await api.submit(board, scores)
            let router = try await system.service.directory.board(board).router
            let key = { (shard: Int) in RedisKeys.realtime(board, shard: shard, of: 4) }
            let inShard1 = scores.filter { router.shard(player: $0.0, score: $0.1) == 1 }
            let inShard2 = scores.filter { router.shard(player: $0.0, score: $0.1) == 2 }
            let shard2 = try await system.redis(board: board, shard: 2)
            let version2 = { try await shard2.command("HGET", RedisKeys.meta(board, shard: 2, of: 4), "version").string }
            // Another test's server starting up may rebuild the whole board meanwhile (its catch-up
            // check); that moves shard 2's version, and the damage is done again.
            var untouched = false
            for _ in 0..<3 where !untouched {
                _ = try await system.redis(board: board, shard: 1).command("DEL", key(1))
                _ = try await shard2.command("ZREM", key(2), inShard2[0].0)
                let before = try await version2()
                #expect(try await system.recovery.rebuild(board, shards: [1]))
                // Shard 1 is whole again; shard 2 was not touched: its damage stays until a sync pass
                // or a full rebuild.
                let shard1Whole = try await system.redis(board: board, shard: 1).command("ZCARD", key(1)).integer == Int64(inShard1.count)
                let shard2Damaged = try await shard2.command("ZCARD", key(2)).integer == Int64(inShard2.count - 1)
                #expect(shard1Whole)
                untouched = try await version2() == before && shard2Damaged
            }
            #expect(untouched, "shard 2 kept being rebuilt by someone else")
            #expect(try await system.recovery.rebuild(board, shards: nil))
            #expect(try await system.redis(board: board, shard: 2).command("ZCARD", key(2)).integer == Int64(inShard2.count))
        }
    }

    /// A rebuild's catch-up replays every change committed while the rebuild ran, however many:
    /// more than one catch-up round takes (2,000) used to mark the board again, and on a big board
    /// under writes the next rebuild saw as many again, so it never came back. Here 2,100 changes
    /// are committed to PostgreSQL only (as if while a rebuild ran); the shards are then set back
    /// to the first change number, as a rebuild's switch leaves them (every step sets a score, so
    /// replaying them onto any content gives the final one), and the catch-up brings them all in.
    @Test func aRebuildsCatchUpReplaysMoreThanOneRound() async throws {
        let id = TestEnvironment.uniqueID("rounds")
        try await withTestApp { api, system in
            let (board, start, target) = try await Self.farBehind(id, api, system)
            #expect(try await system.service.sequencer.catchUpAfterRebuild(board, from: start, shards: nil))
            let after = try await system.service.realtime.appliedSequences(board)
            #expect(after.allSatisfy { ($0 ?? 0) >= target }, "\(after)")
            try await Self.expectTopEqualsPostgres(id, api, system)
        }
    }

    /// A write's catch-up that finds the shards far behind while the board's whole rebuild is
    /// pending or running takes up that rebuild's mark: a mark published then would outlive the
    /// rebuild and start another, which on a big board under writes sees as many again.
    @Test func aWriteFarBehindDuringARebuildTakesUpItsMark() async throws {
        let id = TestEnvironment.uniqueID("farmark")
        try await withTestApp { api, system in
            // Another process's rebuild: marked, its lease live, before the shards fall behind (so
            // no process's check marks the board for its lag first).
            let (board, _, target) = try await Self.farBehind(id, api, system) {
                // (In one statement: a server's loop would take a free lease within a second.)
                _ = try await system.postgres.query(
                    "INSERT INTO board_rebuilds (leaderboard_id, whole, holder, lease_until) VALUES ($1, true, 'another-rebuilder', now() + interval '60 seconds')",
                    [id]
                )
            }
            try await RebuildMarkChecks.expectCatchUpTakesUpTheMark(board, through: target, system, "the write marked the board again instead of taking up the rebuild's mark")
            // That process is gone: this one takes the lease over, rebuilds, and the board is whole.
            try await RebuildMarkChecks.expectLeaseTakenOverAndRebuilt(id, system)
            try await Self.expectTopEqualsPostgres(id, api, system)
        }
    }

    /// A hash-4 board whose shards are set back more than one catch-up round (2,000 changes)
    /// behind PostgreSQL: 2,100 changes committed to PostgreSQL only (as if while a rebuild ran),
    /// then the shards' change number set back to the first, as a rebuild's switch leaves them
    /// (every step sets a score, so replaying them onto any content gives the final one). `first`
    /// runs before the changes.
    static func farBehind(
        _ id: String, _ api: TestAPI, _ system: LeaderboardSystem, first: () async throws -> Void = {}
    ) async throws -> (StoredBoard, Int64, Int64) {
        let repository = system.service.repository
        try await api.createBoard(id, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 4}"#)
        try await api.submit(id, (0..<50).map { ("r\($0)", Int64($0)) })
        try await first()
        let board = try #require(try await repository.leaderboard(id))
        let start = try #require(try await repository.changeSequence(of: id)?.seq)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for index in 0..<525 {
                        _ = try await repository.commit([[ScoreCommand(leaderboardID: id, playerID: "r\((writer * 525 + index) % 300)", value: Int64(index * 4 + writer))]])
                    }
                }
            }
            try await group.waitForAll()
        }
        let target = try #require(try await repository.changeSequence(of: id)?.seq)
        #expect(target - start > ViewSequencer.mostReplayed)
        for shard in 0..<4 {
            _ = try await system.redis(board: id, shard: shard).command("HSET", RedisKeys.meta(id, shard: shard, of: 4), "seq", String(start))
        }
        // (Another process's check may catch the board up, or rebuild it, right after this.)
        print("far behind: shards at \(try await system.service.realtime.appliedSequences(board)), from \(start) through \(target)")
        return (board, start, target)
    }

    /// The board's top 20 read through the API (503s waited out) equals PostgreSQL's order.
    static func expectTopEqualsPostgres(_ id: String, _ api: TestAPI, _ system: LeaderboardSystem) async throws {
        let expected = try await system.postgres.query(
            "SELECT player_id FROM player_scores WHERE leaderboard_id = $1 ORDER BY score DESC, player_id DESC LIMIT 20", [id]
        ).rows.map { $0[0] ?? "" }
        var top = try await api.get("/api/v1/leaderboards/\(id)/top?limit=20")
        for _ in 0..<100 where top.status == .serviceUnavailable {
            try await Task.sleep(for: .milliseconds(100))
            top = try await api.get("/api/v1/leaderboards/\(id)/top?limit=20")
        }
        #expect(top.status == .ok, "\(top.json)")
        #expect(top.entries.map(\.playerID) == expected)
    }

    @Test func batchReadsServeTheOfficialSnapshot() async throws {
        let board = TestEnvironment.uniqueID("batch")
        try await withTestApp { api, _ in
            try await api.createBoard(board, #""sort_order": "asc", "layout": {"strategy": "hash", "shards": 4}"#)
            try await api.submit(board, [("a", 30), ("b", 10), ("c", 20)])
            // No pass has run: the first batch read takes the board's first snapshot.
            let first = try await api.get("/api/v1/leaderboards/\(board)/top?source=batch")
            #expect(first.entries.map(\.playerID) == ["b", "c", "a"])
            #expect(first["as_of"] != nil)
            try await api.submit(board, [("e", 15)])
            #expect(try await api.post("/api/v1/leaderboards/\(board)/sync", "").status == .ok)
            try await api.submit(board, [("e", 100)])
            // Newer scores reach the real-time view, not the snapshot.
            try await api.submit(board, [("d", 1)])

            let batch = try await api.get("/api/v1/leaderboards/\(board)/top?source=batch")
            #expect(batch["source"] == .string("batch"))
            #expect(batch.entries.map(\.playerID) == ["b", "e", "c", "a"], "the pass's snapshot, not the first one nor later scores")
            #expect(batch.integer("total") == 4)
            guard case .string(let asOf)? = batch["as_of"] else {
                Issue.record("no as_of: \(batch.json)")
                return
            }
            #expect(Timestamp.parse(asOf) != nil)
            let realtime = try await api.get("/api/v1/leaderboards/\(board)/top")
            #expect(realtime.entries.map(\.playerID) == ["d", "b", "c", "a", "e"])
            #expect(realtime["as_of"] == nil)

            let player = try await api.get("/api/v1/leaderboards/\(board)/player/c?source=batch")
            #expect(player.entry == LeaderboardEntry(rank: 3, playerID: "c", score: 20))
            #expect(player["as_of"] == .string(asOf))
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/d?source=batch").errorCode == "player_not_found")
            let around = try await api.get("/api/v1/leaderboards/\(board)/around/a?source=batch&range=1")
            #expect(around.entries.map(\.rank) == [3, 4])
            let range = try await api.get("/api/v1/leaderboards/\(board)/range?start=2&end=5&source=batch")
            #expect(range.entries.map(\.playerID) == ["e", "c", "a"])
        }
    }

    /// A `source=batch` read takes several statements (the player's rank, then the entry at it,
    /// then counts); a sync pass replacing the snapshot between two of them must not mix two
    /// snapshots. The snapshot alternates between two states in which every player's rank
    /// differs: each answer must be all of one state.
    @Test func batchReadsSeeOneSnapshotWhileItIsReplaced() async throws {
        let board = TestEnvironment.uniqueID("batch-swap")
        let players = 60
        // State 0: p<i> scores i; state 1: p<i> scores 1000 - i / 2 (pairs tie, for competition ranks).
        @Sendable func score(_ player: Int, _ state: Int) -> Int64 { state == 0 ? Int64(player) : Int64(1000 - player / 2) }
        @Sendable func state(_ state: Int) -> [(String, Int64)] { (0..<players).map { ("p\($0)", score($0, state)) } }
        // Per state, each player's expected (ordinal, competition) entry.
        let expected: [[String: (ordinal: LeaderboardEntry, competition: LeaderboardEntry)]] = (0..<2).map { number in
            var model = ReferenceBoard(order: .desc, mode: .replace)
            for (player, value) in state(number) { model.submit(player, value) }
            let ranked = model.ranked()
            return Dictionary(uniqueKeysWithValues: ranked.map { entry in
                let better = ranked.count { $0.score > entry.score }
                return (entry.playerID, (entry, LeaderboardEntry(rank: better + 1, playerID: entry.playerID, score: entry.score)))
            })
        }
        try await withTestApp { api, system in
            try await api.createBoard(board, "\"max_entries\": 0")
            try await api.submit(board, state(0))
            _ = try await system.service.repository.takeSnapshot(board: board)
            let swapping = NIOLockedValueBox(true)
            let swaps = Task {
                defer { swapping.withLockedValue { $0 = false } }
                for round in 1...40 {
                    try await api.submit(board, state(round % 2))
                    _ = try await system.service.repository.takeSnapshot(board: board)
                }
            }
            var checked = 0
            var wrong: [String] = []
            while swapping.withLockedValue({ $0 }) || checked == 0 {
                let player = Int.random(in: 0..<players)
                let competition = Bool.random()
                let answer = try await api.get("/api/v1/leaderboards/\(board)/player/p\(player)?source=batch\(competition ? "&rank=competition" : "")")
                guard let entry = answer.entry else {
                    wrong.append("no entry: \(answer.json)")
                    break
                }
                let got = LeaderboardEntry(rank: entry.rank, playerID: entry.playerID, score: entry.score)
                let fits = expected.contains { model in
                    guard let want = model["p\(player)"] else { return false }
                    return (competition ? want.competition : want.ordinal) == got
                }
                if !fits { wrong.append("p\(player) competition=\(competition): \(entry)") }
                checked += 1
                if checked > 5000 { break }
            }
            try await swaps.value
            print("batch-swap: \(checked) reads checked during 40 snapshot swaps, \(wrong.count) wrong")
            #expect(checked > 0)
            #expect(wrong.isEmpty, "\(wrong.prefix(5))")
        }
    }
}
