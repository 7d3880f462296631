import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardService
import LeaderboardStore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import RedisClient
import Testing

/// Boards that break ties by commit time (`earliest`, `latest`) rebuilt or repaired from
/// PostgreSQL: a sync pass over shards damaged directly in Redis (a shard's sorted set deleted,
/// members removed, wrong scores, members with a wrong tie prefix, strays); rebuilds of a board
/// whose keys were all deleted while writes went on, and forced while writes go on; changes
/// committed but never applied, replayed from the change log; a layout change online; a reset.
/// Afterwards the board's whole order (equal scores by commit time) equals the model's, through
/// every read, and a deleted board leaves no key (tie maps included).
@Suite struct TieBreakRepairTests {
    struct Spec: Sendable, CustomStringConvertible {
        let tieBreak: TieBreak
        let order: LeaderboardCore.SortOrder
        let layout: String
        /// Scores given (multiples of 10, never within 1 of a band bound: a wrong score of +1 stays
        /// on its band), few, so most of the board ties.
        let values: [Int64]
        var description: String { "\(tieBreak.rawValue) \(order.rawValue) \(layout)" }
    }

    static let specs = [
        Spec(tieBreak: .earliest, order: .desc, layout: #"{"strategy": "hash", "shards": 8}"#, values: [0, 10, 20, 30, 40]),
        Spec(tieBreak: .latest, order: .asc, layout: #"{"strategy": "band", "bounds": [15, 35]}"#, values: [0, 10, 20, 30, 40]),
    ]

    // MARK: - Sync

    @Test(.timeLimit(.minutes(3)), arguments: specs)
    func aSyncPassRestoresTheOrderOfEqualScores(spec: Spec) async throws {
        let board = TestEnvironment.uniqueID("tiesync")
        var config = TestEnvironment.config
        // The pass answers when it ends, also on a loaded machine (not 202 "runs on").
        config.sync.requestWait = .seconds(120)
        try await withTestApp(config: config) { api, system in
            var model = try await Self.seed(api, board, spec, players: 900)
            let before = try await Self.wholeBoard(api, board, size: 900)
            #expect(before == model.ranked(), "\(spec): the board before the damage differs from the model")
            let stored = try await system.service.directory.board(board)

            // Another test's server starting up may rebuild this board from PostgreSQL at any
            // moment (that is catch-up working); if it undid the damage before the pass, damage again.
            var report: [JSONValue] = []
            var damage = Damage()
            var repairedAll = false
            for _ in 0..<3 where !repairedAll {
                damage = try await Self.damage(board, stored, system)
                let pass = try await api.post("/api/v1/leaderboards/\(board)/sync", "")
                #expect(pass.status == .ok, "\(pass.json)")
                guard case .array(let reports)? = pass["shards"] else {
                    Issue.record("no shard reports: \(pass.json)")
                    return
                }
                report = reports
                repairedAll =
                    SyncTests.total(report, "strays") == Int64(damage.strays + damage.wrongTies)
                    && SyncTests.total(report, "wrong_scores") == Int64(damage.wrongScores)
                    && SyncTests.total(report, "missing") >= Int64(damage.removed + damage.wrongTies)
            }
            print("tie sync \(spec): damage \(damage); report strays \(SyncTests.total(report, "strays")), wrong_scores \(SyncTests.total(report, "wrong_scores")), missing \(SyncTests.total(report, "missing")), repaired \(SyncTests.total(report, "repaired"))")
            #expect(damage.wrongTies > 0 && damage.removed > 0 && damage.wrongScores > 0, "\(spec): the damage touched too little: \(damage)")
            // A member with a wrong tie prefix is a stray, and the player's true member is missing.
            #expect(SyncTests.total(report, "strays") == Int64(damage.strays + damage.wrongTies), "\(spec): \(damage)")
            #expect(SyncTests.total(report, "wrong_scores") == Int64(damage.wrongScores), "\(spec): \(damage)")
            #expect(SyncTests.total(report, "missing") >= Int64(damage.removed + damage.wrongTies), "\(spec): \(damage)")
            #expect(
                SyncTests.total(report, "repaired")
                    == SyncTests.total(report, "strays") + SyncTests.total(report, "wrong_scores") + SyncTests.total(report, "missing")
            )

            // The whole order is the model's again, the same as before the damage.
            let after = try await Self.wholeBoard(api, board, size: 900)
            #expect(after == model.ranked(), "\(spec): after the pass: \(Self.firstDifference(after, model.ranked()))")
            #expect(after == before, "\(spec): the order changed: \(Self.firstDifference(after, before))")
            // Reads by player id find the repaired players at their ranks (their members were
            // re-added, or added back under their true prefix).
            let byPlayer = Dictionary(uniqueKeysWithValues: model.ranked().map { ($0.playerID, $0) })
            for player in damage.players.sorted().prefix(60) {
                let answer = try await api.get("/api/v1/leaderboards/\(board)/player/\(player)")
                #expect(answer.entry == byPlayer[player], "\(spec): player \(player) after the pass: \(answer.json)")
            }
            for player in damage.players.sorted().prefix(8) {
                guard let entry = byPlayer[player] else { continue }
                let around = try await api.get("/api/v1/leaderboards/\(board)/around/\(player)?range=2")
                let want = model.ranked()[max(0, entry.rank - 3)..<min(900, entry.rank + 2)]
                #expect(around.entries == Array(want), "\(spec): around \(player)")
            }
            for ghost in damage.ghosts {
                #expect(try await api.get("/api/v1/leaderboards/\(board)/player/\(ghost)").errorCode == "player_not_found", "\(spec): stray \(ghost)")
            }

            // A second pass finds nothing to repair; a later write still takes its time.
            let again = try await api.post("/api/v1/leaderboards/\(board)/sync", "")
            guard case .array(let second)? = again["shards"] else {
                Issue.record("no shard reports: \(again.json)")
                return
            }
            #expect(SyncTests.total(second, "repaired") == 0, "\(spec): \(again.json)")
            let tied = model.ranked()[450]
            try await api.post("/api/v1/scores", #"{"player_id": "\#(tied.playerID)", "score": \#(tied.score), "game_id": "\#(board)"}"#)
            model.submit(tied.playerID, tied.score)
            let moved = model.ranked().first(where: { $0.playerID == tied.playerID })
            #expect(try await api.get("/api/v1/leaderboards/\(board)/player/\(tied.playerID)").entry == moved, "\(spec): a tied player's new time")
            #expect(try await Self.wholeBoard(api, board, size: 900) == model.ranked(), "\(spec): after a write that follows the repair")
            try await Self.deleteAndExpectNoKeysLeft(api, board, Array(system.redisNodes.values), "\(spec)")
        }
    }

    /// What ``damage(_:_:_:)`` did.
    struct Damage: Sendable, CustomStringConvertible {
        /// Members gone: a whole shard's and single ones.
        var removed = 0
        var wrongScores = 0
        /// Members replaced by the same player's member with another tie prefix (it ranks first
        /// among its equal scores).
        var wrongTies = 0
        /// Members of players not on the board.
        var strays = 0
        var players: Set<String> = []
        var ghosts: [String] = []
        var description: String { "\(removed) removed, \(wrongScores) wrong scores, \(wrongTies) wrong tie prefixes, \(strays) strays" }
    }

    /// Deletes shard 0's sorted set, and on the other shards removes some members, changes the
    /// score of some and gives some a wrong tie prefix (a member that ranks ahead of all its equal
    /// scores); adds strays (with a tie prefix, and one without).
    static func damage(_ board: String, _ stored: StoredBoard, _ system: LeaderboardSystem) async throws -> Damage {
        let shards = stored.router.shardCount
        let meta = { (shard: Int) in RedisKeys.meta(board, shard: shard, of: shards) }
        let key = { (shard: Int) in RedisKeys.realtime(board, shard: shard, of: shards) }
        // Versions move first too: a rebuild that read them earlier cannot switch in halfway through.
        for shard in 0..<shards { _ = try await system.redis(board: board, shard: shard).command("HINCRBY", meta(shard), "version", "1") }
        var damage = Damage()
        for shard in 0..<shards {
            let redis = try await system.redis(board: board, shard: shard)
            let members = try await Self.members(redis, key(shard))
            if shard == 0 {
                _ = try await redis.command("DEL", key(shard))
                damage.removed += members.count
                for (member, _) in members { damage.players.insert(stored.playerID(ofMember: member)) }
                continue
            }
            for (index, (member, score)) in members.enumerated() {
                guard let parts = stored.split(member), parts.player != member else { throw TestFailure("\(member) on a tie board has no tie prefix") }
                let (player, tie) = (parts.player, parts.tie)
                switch index % 23 {
                case 0:
                    _ = try await redis.command("ZREM", key(shard), member)
                    damage.removed += 1
                case 7:
                    _ = try await redis.command("ZADD", key(shard), String(score + 1), member)
                    damage.wrongScores += 1
                case 13:
                    // Ahead of every equal score: a larger tie key on desc boards, a smaller on asc.
                    let wrong = stored.member(player, tie: stored.config.sortOrder == .desc ? tie + 1_000_000 : tie - 1_000_000)
                    _ = try await redis.command("ZREM", key(shard), member)
                    _ = try await redis.command("ZADD", key(shard), String(score), wrong)
                    damage.wrongTies += 1
                default: continue
                }
                damage.players.insert(player)
            }
        }
        for stray in 0..<6 {
            let shard = stray % shards
            let ghost = "ghost\(stray)"
            // A well-formed member of a player never on the board, and (the last) one without a prefix.
            let member = stray == 5 ? ghost : stored.member(ghost, tie: Int64(stray))
            _ = try await system.redis(board: board, shard: shard).command("ZADD", key(shard), "20", member)
            damage.strays += 1
            damage.ghosts.append(ghost)
        }
        for shard in 0..<shards { _ = try await system.redis(board: board, shard: shard).command("HINCRBY", meta(shard), "version", "1") }
        return damage
    }

    /// Every member of a sorted set with its score.
    static func members(_ redis: RedisConnectionPool, _ key: String) async throws -> [(String, Int64)] {
        let items = try await redis.command("ZRANGE", key, "0", "-1", "WITHSCORES").array ?? []
        return stride(from: 0, to: items.count - 1, by: 2).compactMap { index in
            guard let member = items[index].string, let score = items[index + 1].double else { return nil }
            return (member, Int64(score))
        }
    }

    // MARK: - Rebuilds

    /// Every key of the board deleted from every node (as if its nodes came back empty) while a
    /// writer submits equal scores one after another, then a forced rebuild while the writer goes
    /// on: reads meanwhile answer 503 or a whole board in score order, never a part of it; then
    /// the board's order is the model's of the acknowledged writes.
    @Test(.timeLimit(.minutes(3)), arguments: specs)
    func rebuildsKeepTheOrderOfEqualScores(spec: Spec) async throws {
        let board = TestEnvironment.uniqueID("tierebuild")
        let size = 400
        try await withTestApp { api, system in
            let seeded = try await Self.seed(api, board, spec, players: size)
            #expect(try await Self.wholeBoard(api, board, size: size) == seeded.ranked(), "\(spec): the board before the loss differs from the model")
            let model = NIOLockedValueBox(seeded)
            let players = Set(seeded.scores.keys)
            let check = PageCheck(order: spec.order, tieBreak: spec.tieBreak)

            // 1. Every key of the board deleted after the writer's 10th acknowledged write.
            let phase1 = try await Self.withWriterAndReader(api, board, spec, model, players, check, writes: 50) { acknowledged in
                for _ in 0..<2000 where acknowledged() < 10 { try await Task.sleep(for: .milliseconds(10)) }
                let deleted = try await Self.deleteEveryKey(of: board, system)
                #expect(deleted > 0, "\(spec): no keys of the board found")
            }
            try await Self.expectBoardEqualsModel(api, board, size: size, model.withLockedValue { $0 }, "\(spec), after the keys were deleted: \(phase1)")

            // 2. Forced rebuilds of every shard, one after another, while the writer writes.
            let raced = NIOLockedValueBox((rebuilds: 0, writesDuring: 0))
            let phase2 = try await Self.withWriterAndReader(api, board, spec, model, players, check, writes: 80) { acknowledged in
                for _ in 0..<2000 where acknowledged() < 5 { try await Task.sleep(for: .milliseconds(10)) }
                for _ in 0..<8 where acknowledged() < 75 {
                    let before = acknowledged()
                    #expect(try await system.recovery.rebuild(board, shards: nil, force: true), "\(spec): a forced rebuild did not replace the board")
                    let during = acknowledged() - before
                    raced.withLockedValue { $0.rebuilds += 1; $0.writesDuring += during }
                }
            }
            let (rebuilds, writesDuring) = raced.withLockedValue { $0 }
            print("tie rebuild \(spec): \(rebuilds) forced rebuilds, \(writesDuring) writes acknowledged while one ran")
            try await Self.expectBoardEqualsModel(api, board, size: size, model.withLockedValue { $0 }, "\(spec), after the forced rebuilds: \(phase2)")
            try await Self.deleteAndExpectNoKeysLeft(api, board, Array(system.redisNodes.values), "\(spec)")
        }
    }

    /// Changes committed to PostgreSQL but never applied (as if each apply's reply had been lost:
    /// runs of equal scores, a player twice in one commit, removals and returns) are replayed from
    /// the change log, whose players are members: the shards catch up to the exact tie order.
    @Test(.timeLimit(.minutes(2)), arguments: specs)
    func changesCommittedButNotAppliedAreReplayedInTieOrder(spec: Spec) async throws {
        let board = TestEnvironment.uniqueID("tiecatch")
        try await withTestApp { api, system in
            var model = try await Self.seed(api, board, spec, players: 300)
            let repository = system.service.repository
            let stored = try #require(try await repository.leaderboard(board))
            var random = SeededRandom(seed: UInt64.random(in: 1...UInt64.max / 2))
            let players = model.scores.keys.sorted()
            var gone: [String] = []
            for round in 0..<40 {
                if round % 10 == 9 {
                    let player = players[Int(random.next() % UInt64(players.count))]
                    if model.scores[player] != nil {
                        #expect(try await repository.removePlayer(board: board, player: player) != nil)
                        model.remove(player)
                        gone.append(player)
                    }
                    continue
                }
                // Runs of one value; a player removed earlier comes back now and then.
                let value = spec.values[(round / 8) % spec.values.count]
                var commands = (0..<(round % 3 + 1)).map { _ in
                    ScoreCommand(leaderboardID: board, playerID: players[Int(random.next() % UInt64(players.count))], value: value)
                }
                if round % 7 == 3 { commands.append(commands[0]) }
                if round % 6 == 5, let back = gone.popLast() { commands.append(ScoreCommand(leaderboardID: board, playerID: back, value: value)) }
                _ = try await repository.commit([commands])
                for command in commands { model.submit(command.playerID, command.value) }
            }
            let target = try #require(try await repository.changeSequence(of: board)?.seq)
            // (The recovery loop may have caught the shards up already: then this finds nothing to do.)
            #expect(try await system.service.sequencer.catchUp(stored, through: target), "\(spec): the catch-up did not bring the shards to \(target)")
            let after = try await Self.wholeBoard(api, board, size: model.scores.count)
            #expect(after == model.ranked(), "\(spec): after the catch-up: \(Self.firstDifference(after, model.ranked()))")
            for entry in model.ranked().enumerated().filter({ $0.offset % 23 == 0 }).map(\.element) {
                #expect(try await api.get("/api/v1/leaderboards/\(board)/player/\(entry.playerID)").entry == entry, "\(spec): player \(entry.playerID)")
            }
            for player in gone {
                #expect(try await api.get("/api/v1/leaderboards/\(board)/player/\(player)").errorCode == "player_not_found", "\(spec): removed \(player)")
            }
            try await Self.deleteAndExpectNoKeysLeft(api, board, Array(system.redisNodes.values), "\(spec)")
        }
    }

    /// A layout changed online (hash ↔ band) while a writer submits equal scores: the new epoch's
    /// shards are built from PostgreSQL's members and the changes since, so the board reads in the
    /// same tie order before, while (a whole board in score order each time) and after; the old
    /// epoch's keys, tie maps included, are removed.
    @Test(.timeLimit(.minutes(3)), arguments: specs)
    func aLayoutChangeKeepsTheOrderOfEqualScores(spec: Spec) async throws {
        let board = TestEnvironment.uniqueID("tielayout")
        let size = 400
        let target = spec.layout.contains("hash") ? #"{"strategy": "band", "bounds": [5, 25]}"# : #"{"strategy": "hash", "shards": 4}"#
        try await withTestApp { api, system in
            let seeded = try await Self.seed(api, board, spec, players: size)
            let model = NIOLockedValueBox(seeded)
            let players = Set(seeded.scores.keys)
            let phase = try await Self.withWriterAndReader(
                api, board, spec, model, players, PageCheck(order: spec.order, tieBreak: spec.tieBreak), writes: 60
            ) { acknowledged in
                for _ in 0..<2000 where acknowledged() < 10 { try await Task.sleep(for: .milliseconds(10)) }
                let started = try await api.request(.put, "/api/v1/leaderboards/\(board)/layout", body: #"{"layout": \#(target)}"#)
                #expect(started.status == .accepted, "\(spec): \(started.json)")
                _ = try await LayoutChangeTests.waitForStable(api, board, epoch: 2)
            }
            try await Self.expectBoardEqualsModel(api, board, size: size, model.withLockedValue { $0 }, "\(spec), after the layout change to \(target): \(phase)")
            let nodes = LeaderboardSystemKeys(pools: Array(system.redisNodes.values))
            var left: [String] = []
            let deadline = ContinuousClock.now + .seconds(30)
            repeat {
                try await Task.sleep(for: .milliseconds(250))
                left = try await LayoutChangeTests.keys(of: board, nodes).filter { !$0.hasPrefix("leaderboard:\(board)#e2:") }
            } while !left.isEmpty && ContinuousClock.now < deadline
            #expect(left.isEmpty, "\(spec): \(left.count) keys of the old epoch remain, e.g. \(left.prefix(5))")
            try await api.delete("/api/v1/leaderboards/\(board)")
        }
    }

    /// After a reset the new period's equal scores are ordered by their own commits; players of
    /// the old period (whose tie prefixes the shards held) are not found unless they submit again.
    @Test(.timeLimit(.minutes(2)), arguments: specs)
    func aResetStartsTheTieOrderAfresh(spec: Spec) async throws {
        let board = TestEnvironment.uniqueID("tiereset")
        try await withTestApp { api, system in
            let old = try await Self.seed(api, board, spec, players: 200)
            let reset = try await api.post("/api/v1/leaderboards/\(board)/reset", "")
            #expect(reset.status == .ok, "\(reset.json)")
            #expect(try await api.get("/api/v1/leaderboards/\(board)/top").integer("total") == 0)
            var model = ReferenceBoard(order: spec.order, mode: .replace, tieBreak: spec.tieBreak)
            let returning = old.ranked().map(\.playerID).filter { $0.hasSuffix("7") }
            let newcomers = (0..<20).map { "new\($0)" }
            var random = SeededRandom(seed: UInt64.random(in: 1...UInt64.max / 2))
            // Interleaved, equal scores one after another, then a batch of them again in another order.
            let turn = (returning + newcomers).shuffled(using: &random)
            for player in turn {
                let answer = try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(spec.values[2]), "game_id": "\#(board)"}"#)
                #expect(answer.status == .ok, "\(answer.json)")
                model.submit(player, spec.values[2])
            }
            let batch = turn.shuffled(using: &random).prefix(15).map { ($0, spec.values[2]) }
            try await api.submit(board, batch)
            for (player, score) in batch { model.submit(player, score) }
            let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=1000")
            #expect(top.entries == model.ranked(), "\(spec): \(Self.firstDifference(top.entries, model.ranked()))")
            for entry in model.ranked() {
                #expect(try await api.get("/api/v1/leaderboards/\(board)/player/\(entry.playerID)").entry == entry, "\(spec): player \(entry.playerID)")
            }
            for player in old.ranked().map(\.playerID).filter({ model.scores[$0] == nil }).prefix(10) {
                #expect(try await api.get("/api/v1/leaderboards/\(board)/player/\(player)").errorCode == "player_not_found", "\(spec): \(player) of the old period")
            }
            try await Self.deleteAndExpectNoKeysLeft(api, board, Array(system.redisNodes.values), "\(spec)")
        }
    }

    /// What one phase's writer and reader saw.
    struct Phase: Sendable, CustomStringConvertible {
        var acknowledged = 0
        var unavailable = 0
        var reads = ReadTally()
        var problems: [String] = []
        var description: String { "writes: \(acknowledged) acknowledged, \(unavailable) answered 503; reads: \(reads)" }
    }

    /// Runs `action` while one writer submits `writes` equal scores one after another (each after
    /// the previous answer; the model takes each acknowledged one) and one reader reads the whole
    /// board and checks each answer; returns what they saw (problems are recorded as issues).
    static func withWriterAndReader(
        _ api: TestAPI, _ board: String, _ spec: Spec, _ model: NIOLockedValueBox<ReferenceBoard>, _ players: Set<String>, _ check: PageCheck,
        writes: Int, action: @escaping @Sendable (_ acknowledged: @escaping @Sendable () -> Int) async throws -> Void
    ) async throws -> Phase {
        let phase = NIOLockedValueBox(Phase())
        let writing = NIOLockedValueBox(true)
        let sortedPlayers = players.sorted()
        let seed = UInt64.random(in: 1...UInt64.max / 2)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { writing.withLockedValue { $0 = false } }
                var random = SeededRandom(seed: seed)
                // One value for runs of several writes: players reach it one after another.
                var value = spec.values[0]
                for index in 0..<writes {
                    if index % 5 == 0 { value = spec.values[Int(random.next() % UInt64(spec.values.count))] }
                    let player = sortedPlayers[Int(random.next() % UInt64(sortedPlayers.count))]
                    let answer = try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(value), "game_id": "\#(board)"}"#)
                    switch answer.status {
                    case .ok:
                        let expected = model.withLockedValue { $0.submit(player, value) }
                        phase.withLockedValue { $0.acknowledged += 1 }
                        if answer.integer("score") != expected {
                            phase.withLockedValue { $0.problems.append("POST \(player) \(value) answered \(answer.json), expected \(expected)") }
                        }
                    case .serviceUnavailable:
                        phase.withLockedValue { $0.unavailable += 1 }  // nothing changed (Guarantee 1)
                    default:
                        phase.withLockedValue { $0.problems.append("POST \(player) \(value) answered \(answer.status) \(answer.json)") }
                    }
                }
            }
            group.addTask {
                var rounds = 0
                while writing.withLockedValue({ $0 }), rounds < 2000 {
                    rounds += 1
                    let page = try await api.get("/api/v1/leaderboards/\(board)/top?limit=1000")
                    if page.status == .serviceUnavailable {
                        phase.withLockedValue { $0.reads.unavailable += 1 }
                    } else if page.status != .ok {
                        phase.withLockedValue { $0.reads.record("top", ["status \(page.status) \(page.json)"]) }
                    } else {
                        // Every player, in score order (equal scores in any order: writes run).
                        let problems = check.fullBoardProblems(page.entries, total: page.total, players: players)
                        phase.withLockedValue { $0.reads.record("top", problems) }
                    }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            group.addTask { try await action { phase.withLockedValue { $0.acknowledged } } }
            try await group.waitForAll()
        }
        let result = phase.withLockedValue { $0 }
        print("tie rebuild \(spec): \(result)")
        #expect(result.problems.isEmpty, "\(spec): \(result.problems.prefix(4))")
        #expect(result.reads.wrong == 0, "\(spec): \(result.reads.wrong) of \(result.reads.checked) reads wrong, e.g. \(result.reads.examples.prefix(3))")
        #expect(result.acknowledged > 0, "\(spec): no write acknowledged")
        return result
    }

    /// Deletes every key of the board from every node: on each node all of them in one DEL, so a
    /// shard goes from whole to absent at once (as a node that came back empty). Returns how many.
    static func deleteEveryKey(of board: String, _ system: LeaderboardSystem) async throws -> Int {
        var deleted = 0
        for (_, redis) in system.redisNodes {
            let keys = try await Self.keys(of: board, redis)
            guard !keys.isEmpty else { continue }
            var command = ["DEL"]
            command += keys
            deleted += Int(try await redis.pipeline([command])[0].integer ?? 0)
        }
        return deleted
    }

    /// Every key of a board (of every layout epoch) on one node.
    static func keys(of board: String, _ redis: RedisConnectionPool) async throws -> [String] {
        var keys: [String] = []
        var cursor = "0"
        repeat {
            let reply = try await redis.command("SCAN", cursor, "MATCH", "leaderboard:\(board)[:#]*", "COUNT", "1000").array ?? []
            guard reply.count == 2, let next = reply[0].string else { throw TestFailure("SCAN answered \(reply)") }
            cursor = next
            keys += (reply[1].array ?? []).compactMap(\.string)
        } while cursor != "0"
        return keys
    }

    /// Deletes the board and expects none of its keys (tie maps included) left on any node
    /// within 10 s (a delete drops them at once, or a removal queued in PostgreSQL soon).
    static func deleteAndExpectNoKeysLeft(_ api: TestAPI, _ board: String, _ pools: [RedisConnectionPool], _ what: String) async throws {
        let deleted = try await api.delete("/api/v1/leaderboards/\(board)")
        #expect(deleted.status == .noContent, "\(what): DELETE answered \(deleted.status) \(deleted.json)")
        var left: [String] = []
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            left = []
            for pool in pools { left += try await keys(of: board, pool) }
            if !left.isEmpty { try await Task.sleep(for: .milliseconds(250)) }
        } while !left.isEmpty && ContinuousClock.now < deadline
        #expect(left.isEmpty, "\(what): \(left.count) keys of the deleted board remain, e.g. \(left.sorted().prefix(5))")
    }

    /// The board (503s waited out, at most 30 s) equals the model: the whole board, and player and
    /// around reads of some players.
    static func expectBoardEqualsModel(_ api: TestAPI, _ board: String, size: Int, _ model: ReferenceBoard, _ what: String) async throws {
        let want = model.ranked()
        var got: [LeaderboardEntry] = []
        let deadline = ContinuousClock.now + .seconds(30)
        repeat {
            let page = try await api.get("/api/v1/leaderboards/\(board)/top?limit=1000")
            if page.status == .ok {
                got = page.entries
                if got == want { break }
            }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        #expect(got == want, "\(what): \(firstDifference(got, want))")
        guard got == want else { return }
        for entry in want.enumerated().filter({ $0.offset % 37 == 0 }).map(\.element) {
            let answer = try await api.get("/api/v1/leaderboards/\(board)/player/\(entry.playerID)")
            #expect(answer.entry == entry, "\(what): player \(entry.playerID): \(answer.json)")
            let around = try await api.get("/api/v1/leaderboards/\(board)/around/\(entry.playerID)?range=2")
            #expect(around.entries == Array(want[max(0, entry.rank - 3)..<min(want.count, entry.rank + 2)]), "\(what): around \(entry.playerID)")
        }
    }

    // MARK: - Shared

    /// Creates the board (replace, untrimmed) and gives it `players` players with few distinct
    /// scores: batches in item order, a batch re-submitting many players' own scores in another
    /// order (new times), equal scores submitted one after another, and players removed, some of
    /// whom come back (with a new time). Returns the model.
    static func seed(_ api: TestAPI, _ board: String, _ spec: Spec, players count: Int) async throws -> ReferenceBoard {
        try await api.createBoard(
            board,
            #""sort_order": "\#(spec.order.rawValue)", "update_mode": "replace", "max_entries": 0, "tie_break": "\#(spec.tieBreak.rawValue)", "layout": \#(spec.layout)"#
        )
        var model = ReferenceBoard(order: spec.order, mode: .replace, tieBreak: spec.tieBreak)
        var random = SeededRandom(seed: UInt64.random(in: 1...UInt64.max / 2))
        let players = (0..<count).map { "t\(($0 * 7919) % count)" }
        let first = players.map { ($0, spec.values[Int(random.next() % UInt64(spec.values.count))]) }
        try await api.submit(board, first, batchSize: 250)
        for (player, score) in first { model.submit(player, score) }
        // Their own scores again, in another order: ties now ordered by this batch.
        let again = players.shuffled(using: &random).prefix(count / 3).map { ($0, model.scores[$0]!) }
        try await api.submit(board, again)
        for (player, score) in again { model.submit(player, score) }
        // Equal scores one after another.
        let value = spec.values[1]
        for _ in 0..<15 {
            let player = players[Int(random.next() % UInt64(count))]
            let answer = try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(value), "game_id": "\#(board)"}"#)
            guard answer.status == .ok else { throw TestFailure("POST /scores: \(answer.status) \(answer.json)") }
            model.submit(player, value)
        }
        let removed = players.shuffled(using: &random).prefix(8)
        for player in removed {
            let answer = try await api.delete("/api/v1/leaderboards/\(board)/player/\(player)")
            guard answer.status == .noContent else { throw TestFailure("DELETE \(player): \(answer.status) \(answer.json)") }
            model.remove(player)
        }
        // Removed, then back (all of them: the tests read boards of `count` players), with a new time:
        // half one after another with the equal score, half in one batch.
        for player in removed.prefix(4) {
            let answer = try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(value), "game_id": "\#(board)"}"#)
            guard answer.status == .ok else { throw TestFailure("POST /scores: \(answer.status) \(answer.json)") }
            model.submit(player, value)
        }
        let back = removed.dropFirst(4).map { ($0, spec.values[0]) }
        try await api.submit(board, back)
        for (player, score) in back { model.submit(player, score) }
        return model
    }

    /// The whole board of `size` players, read by ranges of 500.
    static func wholeBoard(_ api: TestAPI, _ board: String, size: Int) async throws -> [LeaderboardEntry] {
        var entries: [LeaderboardEntry] = []
        for start in stride(from: 1, through: size, by: 500) {
            let page = try await api.get("/api/v1/leaderboards/\(board)/range?start=\(start)&end=\(start + 499)")
            guard page.status == .ok else { throw TestFailure("range \(start): \(page.status) \(page.json)") }
            entries += page.entries
        }
        return entries
    }

    /// Where two rankings first differ, described.
    static func firstDifference(_ got: [LeaderboardEntry], _ want: [LeaderboardEntry]) -> String {
        if let index = zip(got, want).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            return "\(got.count) entries, want \(want.count); first difference at rank \(index + 1): got \(got[index]), want \(want[index])"
        }
        return got.count == want.count ? "equal" : "\(got.count) entries, want \(want.count)"
    }
}
