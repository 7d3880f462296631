import Foundation
import LeaderboardApp
import LeaderboardCore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import Testing

/// Random boards on every layout against one model sorted set: after each step of random
/// submissions, batches and removals, every read endpoint must answer exactly what one sorted set
/// answers. A third of the boards each break ties by player id, earliest and latest commit: there
/// the model orders equal scores by commit time (each submission, and each item of a batch in its
/// order, is one commit event), and a step of players submitting equal scores one after another
/// makes long runs of ties ordered by time only. Set LEADERBOARD_TEST_SEED to replay one case,
/// LEADERBOARD_TEST_CASES for more cases.
@Suite struct ShardedDifferentialTests {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")

    struct Case: Sendable, CustomStringConvertible {
        let seed: UInt64
        let order: LeaderboardCore.SortOrder
        let mode: UpdateMode
        let layout: Layout
        let maxEntries: Int
        let scoreSpread: Int64
        let tieBreak: TieBreak
        var description: String {
            "seed \(seed): \(order) \(mode) \(layout) max_entries=\(maxEntries) spread=\(scoreSpread) tie_break=\(tieBreak.rawValue)"
        }

        init(seed: UInt64) {
            var random = SeededRandom(seed: seed)
            self.seed = seed
            order = random.next() % 2 == 0 ? .desc : .asc
            switch random.next() % 5 {
            case 0: layout = .single
            case 1, 2: layout = .hash(shards: Int(random.next() % 15) + 2)
            default:
                // 1–8 ascending bounds, some of them beyond every score.
                let count = Int(random.next() % 8) + 1
                var bounds = Set<Int64>()
                while bounds.count < count { bounds.insert(Int64(random.next() % 140) - 20) }
                layout = .band(bounds: bounds.sorted())
            }
            // Trimmed boards in every mode: the real-time board must be exactly the best max_entries of
            // the model, also when top players drop (replace, negative increments) or are removed.
            maxEntries = random.next() % 3 == 0 ? Int(random.next() % 40) + 1 : 0
            mode = UpdateMode.allCases[Int(random.next() % 3)]
            scoreSpread = [1, 3, 10, 100][Int(random.next() % 4)]
            // (Drawn last, so the other fields of a seed stay what they were before tie_break.)
            tieBreak = TieBreak.allCases[Int(random.next() % 3)]
        }
    }

    static var cases: [Case] {
        let environment = ProcessInfo.processInfo.environment
        if let seed = environment["LEADERBOARD_TEST_SEED"].flatMap(UInt64.init) { return [Case(seed: seed)] }
        let count = environment["LEADERBOARD_TEST_CASES"].flatMap(Int.init) ?? 240
        let base = UInt64.random(in: 1...(UInt64.max / 2))
        return (0..<UInt64(count)).map { Case(seed: base + $0) }
    }

    /// More equal scores on a shard than a rank read lists by name (64): the shard is counted by
    /// the tie-rule script instead; ranks and around still equal one sorted set's. On boards
    /// ordered by commit time the ties are ordered by the batch's item order.
    @Test(arguments: [
        (LeaderboardCore.SortOrder.desc, TieBreak.playerID), (.asc, .playerID), (.desc, .earliest), (.asc, .earliest), (.desc, .latest),
    ])
    func crowdedTiesOnEveryShard(order: LeaderboardCore.SortOrder, tieBreak: TieBreak) async throws {
        let board = TestEnvironment.uniqueID("crowded")
        try await withTestApp { api, _ async throws -> Void in
            try await api.createBoard(
                board, "\"sort_order\": \"\(order.rawValue)\", \"tie_break\": \"\(tieBreak.rawValue)\", \"layout\": {\"strategy\": \"hash\", \"shards\": 3}"
            )
            let players = (0..<420).map { "tie-\(($0 * 7919) % 1000)-\($0)" }
            let scores = players.enumerated().map { ($1, Int64($0 % 11 == 0 ? 9 : 5)) }
            try await api.submit(board, scores)
            var model = ReferenceBoard(order: order, mode: .replace, tieBreak: tieBreak)
            for (player, score) in scores { model.submit(player, score) }
            let expected = model.ranked().map { (score: $0.score, playerID: $0.playerID) }
            if tieBreak == .playerID {
                // (The model's order of a player_id board is one sorted set's.)
                let sortedSet = scores.map { (score: $0.1, playerID: $0.0) }.sorted { order.precedes($0, $1) }
                #expect(expected.map(\.playerID) == sortedSet.map(\.playerID))
            }
            let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=420")
            #expect(top.entries.map(\.playerID) == expected.map(\.playerID), "\(order) \(tieBreak): the whole board")
            for index in [0, 1, 37, 38, 39, 200, 381, 419] {
                let want = expected[index]
                let entry = try await api.get("/api/v1/leaderboards/\(board)/player/\(want.playerID)").entry
                #expect(entry?.rank == index + 1, "\(order) \(tieBreak) \(want.playerID)")
                #expect(entry?.score == want.score)
                let around = try await api.get("/api/v1/leaderboards/\(board)/around/\(want.playerID)?range=3").entries
                let lower = max(index - 3, 0)
                let upper = min(index + 3, expected.count - 1)
                #expect(around.map(\.playerID) == expected[lower...upper].map(\.playerID), "\(order) \(tieBreak) around \(want.playerID)")
                #expect(around.map(\.rank) == Array((lower + 1)...(upper + 1)))
            }
        }
    }

    @Test func everyReadEqualsOneSortedSet() async throws {
        try await Self.runCases(Self.cases, config: TestEnvironment.config)
    }

    /// The same on a Redis Cluster (Topology/cluster.yaml: 3 masters, a replica each): every
    /// shard's keys in one slot, each command sent to its slot's master.
    @Test func everyReadEqualsOneSortedSetOnACluster() async throws {
        try await Self.runCases(Array(Self.cases.prefix(ProcessInfo.processInfo.environment["LEADERBOARD_TEST_CLUSTER_CASES"].flatMap(Int.init) ?? 60)), config: TestEnvironment.clusterConfig)
    }

    static func runCases(_ cases: [Case], config: AppConfig) async throws {
        let failures = NIOLockedValueBox<[String]>([])
        try await withTestApp(config: config) { api, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                for _ in 0..<min(4, cases.count) {
                    let item = cases[next]
                    next += 1
                    group.addTask { if let failure = try await Self.run(item, api) { failures.withLockedValue { $0.append(failure) } } }
                }
                while try await group.next() != nil, next < cases.count {
                    let item = cases[next]
                    next += 1
                    group.addTask { if let failure = try await Self.run(item, api) { failures.withLockedValue { $0.append(failure) } } }
                }
            }
        }
        let found = failures.withLockedValue { $0 }
        #expect(found.isEmpty, "\(found.count) of \(cases.count) cases differ; replay with LEADERBOARD_TEST_SEED:\n\(found.prefix(5).joined(separator: "\n"))")
    }

    /// Runs one case; returns a description of the first difference, or nil.
    static func run(_ item: Case, _ api: TestAPI) async throws -> String? {
        var random = SeededRandom(seed: item.seed &* 31)
        let board = TestEnvironment.uniqueID("diff")
        let layout: String
        switch item.layout {
        case .single: layout = #"{"strategy": "single"}"#
        case .hash(let shards): layout = #"{"strategy": "hash", "shards": \#(shards)}"#
        case .band(let bounds): layout = #"{"strategy": "band", "bounds": [\#(bounds.map(String.init).joined(separator: ", "))]}"#
        }
        try await api.createBoard(
            board,
            #""sort_order": "\#(item.order.rawValue)", "update_mode": "\#(item.mode.rawValue)", "max_entries": \#(item.maxEntries), "tie_break": "\#(item.tieBreak.rawValue)", "layout": \#(layout)"#
        )
        var model = ReferenceBoard(order: item.order, mode: item.mode, tieBreak: item.tieBreak)
        var ids = Set<String>()
        while ids.count < Int(random.next() % 150) + 10 {
            let length = [1, 2, 5, 12, 64][Int(random.next() % 5)]
            ids.insert(String((0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }))
        }
        let players = ids.sorted()
        func score() -> Int64 {
            // Around the band bounds, never worse than before in best/trimmed cases is handled by the mode.
            (item.mode == .increment ? -item.scoreSpread / 2 : 0) + Int64(random.next() % UInt64(item.scoreSpread)) * (item.scoreSpread == 100 ? 1 : 37)
        }

        for step in 0..<4 {
            // Submissions: a batch (repeats allowed), a few single ones, and removals.
            var batch: [(String, Int64)] = []
            for _ in 0..<Int(random.next() % 60) + 1 {
                let player = players[Int(random.next() % UInt64(players.count))]
                let value = score()
                batch.append((player, value))
            }
            // Sometimes an item repeated later in the batch (same player, same value): the
            // player's time is that of its last item.
            if random.next() % 2 == 0 { batch.append(batch[Int(random.next() % UInt64(batch.count))]) }
            for (player, value) in batch { model.submit(player, value) }
            try await api.submit(board, batch)
            for _ in 0..<3 {
                let player = players[Int(random.next() % UInt64(players.count))]
                let value = score()
                let answer = try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(value), "game_id": "\#(board)"}"#)
                let expected = model.submit(player, value)
                if answer.integer("score") != expected { return "\(item), step \(step): POST /scores answered \(answer.json), expected \(expected)" }
            }
            if let difference = try await equalScoresInTurn(item, api, board, &model, players, &random, step: step) { return difference }
            do {
                // Removals; on a trimmed board most of them of a player in the top.
                for _ in 0..<Int(random.next() % 3) {
                    let top = model.ranked().prefix(max(item.maxEntries, 1))
                    let player = item.maxEntries > 0 && !top.isEmpty && random.next() % 4 != 0
                        ? top[top.startIndex + Int(random.next() % UInt64(top.count))].playerID
                        : players[Int(random.next() % UInt64(players.count))]
                    let answer = try await api.delete("/api/v1/leaderboards/\(board)/player/\(player)")
                    let existed = model.scores[player] != nil
                    model.remove(player)
                    if (answer.status == .noContent) != existed { return "\(item), step \(step): DELETE \(player) answered \(answer.status)" }
                }
            }
            if let difference = try await compare(item, api, board, model, &random, step: step) { return difference }
        }
        try await api.delete("/api/v1/leaderboards/\(board)")
        return nil
    }

    /// Players submitting equal scores one after another (POST /scores, each after the previous
    /// answer): a few players take one value (replace, best: the same score, each later one
    /// committed later; best keeps the time of a player it does not improve), then a few players
    /// already on the board submit their own score again (replace: same score, new time; best: no
    /// change) or an increment of 0 (a new time, the score kept).
    static func equalScoresInTurn(
        _ item: Case, _ api: TestAPI, _ board: String, _ model: inout ReferenceBoard, _ players: [String], _ random: inout SeededRandom, step: Int
    ) async throws -> String? {
        var turns: [(String, Int64)] = []
        let value = (item.mode == .increment ? -item.scoreSpread / 2 : 0) + Int64(random.next() % UInt64(item.scoreSpread)) * (item.scoreSpread == 100 ? 1 : 37)
        for _ in 0..<Int(random.next() % 5) + 2 { turns.append((players[Int(random.next() % UInt64(players.count))], value)) }
        let present = model.scores.keys.sorted()
        for _ in 0..<(present.isEmpty ? 0 : Int(random.next() % 4) + 1) {
            let player = present[Int(random.next() % UInt64(present.count))]
            turns.append((player, item.mode == .increment ? 0 : model.scores[player]!))
        }
        for (player, value) in turns {
            let answer = try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(value), "game_id": "\#(board)"}"#)
            let expected = model.submit(player, value)
            if answer.integer("score") != expected {
                return "\(item), step \(step): equal scores in turn: POST /scores \(player) \(value) answered \(answer.json), expected \(expected)"
            }
        }
        return nil
    }

    /// Every read endpoint against the model's ranking (cut at max_entries).
    static func compare(_ item: Case, _ api: TestAPI, _ board: String, _ model: ReferenceBoard, _ random: inout SeededRandom, step: Int) async throws -> String? {
        var expected = model.ranked()
        if item.maxEntries > 0 { expected = Array(expected.prefix(item.maxEntries)) }
        let where_ = "\(item), step \(step)"
        let path = "/api/v1/leaderboards/\(board)"

        for limit in [1, 10, expected.count + 3, Int(random.next() % 50) + 1] {
            let top = try await api.get("\(path)/top?limit=\(max(1, min(limit, 1000)))")
            let want = Array(expected.prefix(max(1, min(limit, 1000))))
            if top.entries != want || top.integer("total") != Int64(expected.count) {
                return "\(where_): top \(limit): got total \(top.integer("total") ?? -1) \(top.entries.prefix(5)), want total \(expected.count) \(want.prefix(5))"
            }
        }
        for _ in 0..<5 {
            let start = Int(random.next() % UInt64(expected.count + 4)) + 1
            let end = start + Int(random.next() % 30)
            let page = try await api.get("\(path)/range?start=\(start)&end=\(end)")
            let want = start <= expected.count ? Array(expected[(start - 1)..<min(end, expected.count)]) : []
            if page.entries != want { return "\(where_): range \(start)-\(end): got \(page.entries.prefix(4)), want \(want.prefix(4))" }
        }
        var sample = expected.isEmpty ? [] : [expected[0], expected[expected.count - 1]]
        for _ in 0..<20 where !expected.isEmpty { sample.append(expected[Int(random.next() % UInt64(expected.count))]) }
        for entry in sample {
            let answer = try await api.get("\(path)/player/\(entry.playerID)")
            if answer.entry != entry { return "\(where_): player \(entry.playerID): got \(answer.json), want \(entry)" }
        }
        let ranked = Set(expected.map(\.playerID))
        for player in model.scores.keys.filter({ !ranked.contains($0) }).prefix(3) + ["absent-player"] {
            let answer = try await api.get("\(path)/player/\(player)")
            if answer.errorCode != "player_not_found" { return "\(where_): player \(player) should be not found (trimmed/absent): \(answer.json)" }
        }
        for entry in sample.prefix(6) {
            let radius = Int(random.next() % 8)
            let around = try await api.get("\(path)/around/\(entry.playerID)?range=\(radius)")
            let lower = max(entry.rank - radius, 1)
            let upper = min(entry.rank + radius, expected.count)
            let want = Array(expected[(lower - 1)..<upper])
            if around.entries != want { return "\(where_): around \(entry.playerID) ±\(radius): got \(around.entries.map(\.rank)), want \(want.map(\.rank))" }
        }
        return try await compareRankingOptions(api, path, where_, expected, model, sample, &random)
    }

    /// Competition ranks, friends lists, top_percent and cutoffs against the model.
    static func compareRankingOptions(
        _ api: TestAPI, _ path: String, _ where_: String, _ expected: [LeaderboardEntry], _ model: ReferenceBoard,
        _ sample: [LeaderboardEntry], _ random: inout SeededRandom
    ) async throws -> String? {
        // Competition rank: 1 + players with a strictly better score = the first rank of that score.
        var firstRank: [Int64: Int] = [:]
        for entry in expected where firstRank[entry.score] == nil { firstRank[entry.score] = entry.rank }
        let competition = expected.map { LeaderboardEntry(rank: firstRank[$0.score]!, playerID: $0.playerID, score: $0.score) }
        let top = try await api.get("\(path)/top?limit=50&rank=competition")
        if top.entries != Array(competition.prefix(50)) { return "\(where_): competition top: got \(top.entries.prefix(6)), want \(competition.prefix(6))" }
        for _ in 0..<3 {
            let start = Int(random.next() % UInt64(expected.count + 2)) + 1
            let end = start + Int(random.next() % 20)
            let page = try await api.get("\(path)/range?start=\(start)&end=\(end)&rank=competition")
            let want = start <= expected.count ? Array(competition[(start - 1)..<min(end, expected.count)]) : []
            if page.entries != want { return "\(where_): competition range \(start)-\(end): got \(page.entries.prefix(4)), want \(want.prefix(4))" }
        }
        for entry in sample.prefix(8) {
            let answer = try await api.get("\(path)/player/\(entry.playerID)?rank=competition")
            if answer.entry != competition[entry.rank - 1] { return "\(where_): competition player \(entry.playerID): got \(answer.json)" }
            let plain = try await api.get("\(path)/player/\(entry.playerID)")
            let hundredths = (10_000 * entry.rank + expected.count - 1) / expected.count
            let percent: Double? =
                switch plain["top_percent"] {
                case .number(let value)?: value
                case .integer(let value)?: Double(value)
                default: nil
                }
            guard let percent, Int((percent * 100).rounded()) == hundredths else {
                return "\(where_): top_percent of \(entry.playerID) (rank \(entry.rank) of \(expected.count)): got \(plain.json)"
            }
            let around = try await api.get("\(path)/around/\(entry.playerID)?range=2&rank=competition")
            let want = Array(competition[(max(entry.rank - 2, 1) - 1)..<min(entry.rank + 2, expected.count)])
            if around.entries != want { return "\(where_): competition around \(entry.playerID): got \(around.entries), want \(want)" }
        }
        // A friends list: some ranked players, some trimmed or removed ones, one never seen.
        let known = model.scores.keys.sorted()
        var ids = (0..<Int(random.next() % 12) + 1).map { _ in known.isEmpty ? "nobody" : known[Int(random.next() % UInt64(known.count))] }
        ids.append("absent-friend")
        var unique: [String] = []
        for id in ids where !unique.contains(id) { unique.append(id) }
        let rankOf = Dictionary(uniqueKeysWithValues: expected.map { ($0.playerID, $0) })
        let wantFriends = unique.compactMap { rankOf[$0] }.sorted { $0.rank < $1.rank }
        let wantMissing = unique.filter { rankOf[$0] == nil }
        for style in ["ordinal", "competition"] {
            let friends = try await api.get("\(path)/players?ids=\(ids.joined(separator: ","))&rank=\(style)")
            let want = style == "ordinal" ? wantFriends : wantFriends.map { competition[$0.rank - 1] }
            guard case .array(let missing)? = friends["missing"] else { return "\(where_): players: no missing in \(friends.json)" }
            if friends.entries != want || missing.compactMap { if case .string(let id) = $0 { id } else { nil } } != wantMissing || friends.integer("total") != Int64(expected.count) {
                return "\(where_): players \(style) \(ids): got \(friends.json), want \(want) missing \(wantMissing)"
            }
        }
        // Cutoffs: fixed ranks (also past the end) and percentages.
        for rank in [1, max(expected.count / 2, 1), expected.count, expected.count + 1] {
            let cutoff = try await api.get("\(path)/cutoff?rank=\(rank)")
            let want = rank <= expected.count ? expected[rank - 1] : nil
            if APIResponse.entryOrNil(cutoff["entry"]) != want || cutoff.integer("rank") != Int64(rank) {
                return "\(where_): cutoff rank \(rank): got \(cutoff.json), want \(String(describing: want))"
            }
        }
        for (text, tenThousandths) in [("1", 10_000), ("0.5", 5_000), ("33.33", 333_300), ("100", 1_000_000)] {
            let cutoff = try await api.get("\(path)/cutoff?top_percent=\(text)")
            let rank = max(1, expected.count * tenThousandths / 1_000_000)
            let want = rank <= expected.count ? expected[rank - 1] : nil
            if APIResponse.entryOrNil(cutoff["entry"]) != want || cutoff.integer("rank") != Int64(rank) || cutoff.integer("total") != Int64(expected.count) {
                return "\(where_): cutoff top_percent \(text): got \(cutoff.json), want rank \(rank) \(String(describing: want))"
            }
        }
        return nil
    }
}
