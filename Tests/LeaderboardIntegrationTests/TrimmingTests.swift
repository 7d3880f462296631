import Foundation
import LeaderboardCore
import LeaderboardTestSupport
import Testing

/// Trimmed boards (DESIGN.md, "Guarantees" 7): with max_entries M the real-time board is always
/// the best M of PostgreSQL's current scores. When a top player drops (a low replace, a negative
/// increment) or is removed, the next one comes back; players beyond M are absent from ranges and
/// 404 for player and around; total = min(M, players). On every layout and in every update mode,
/// checked against the model after every step. (The differential tests trim only `best` boards
/// without removals, where nothing trimmed can ever come back.) LEADERBOARD_TEST_SEED replays a
/// failure's sequences (the seed is in the failure message).
@Suite struct TrimmingTests {
    /// Layouts under test; the band bounds lie inside the scores used (0…200, negative after increments).
    static let layouts: [String: String] = [
        "single": #"{"strategy": "single"}"#,
        "hash-3": #"{"strategy": "hash", "shards": 3}"#,
        "band": #"{"strategy": "band", "bounds": [50, 85, 150]}"#,
    ]

    /// Layouts of the exact case: its band bound puts b, c, d and e in one band (more than M);
    /// on 3 hash shards a…e fall 2, 2, 1, so no shard holds more than M there.
    static let exactLayouts: [String: String] = [
        "single": #"{"strategy": "single"}"#,
        "hash-3": #"{"strategy": "hash", "shards": 3}"#,
        "band": #"{"strategy": "band", "bounds": [95]}"#,
    ]

    /// The exact case: M = 3, replace; a 100, b 90, c 80, d 70, e 60. a drops to 10: the top is
    /// b, c, d. b is removed: the top is c, d, e, total 3.
    @Test(arguments: ["single", "hash-3", "band"])
    func aDroppedOrRemovedTopPlayerLetsTheNextOneBackIn(layout: String) async throws {
        let board = TestEnvironment.uniqueID("trim-exact")
        try await withTestApp { api, _ async throws -> Void in
            try await api.createBoard(board, #""update_mode": "replace", "max_entries": 3, "layout": \#(Self.exactLayouts[layout]!)"#)
            let path = "/api/v1/leaderboards/\(board)"
            for (player, score) in [("a", 100), ("b", 90), ("c", 80), ("d", 70), ("e", 60)] {
                try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(score), "game_id": "\#(board)"}"#)
            }
            var top = try await api.get("\(path)/top?limit=10")
            #expect(top.entries.map(\.playerID) == ["a", "b", "c"], "\(layout): top after the five submissions")

            try await api.post("/api/v1/scores", #"{"player_id": "a", "score": 10, "game_id": "\#(board)"}"#)
            top = try await api.get("\(path)/top?limit=10")
            #expect(top.entries.map(\.playerID) == ["b", "c", "d"], "\(layout): a dropped to 10: \(top.entries)")
            #expect(top.total == 3, "\(layout): total after a dropped")
            #expect(try await api.get("\(path)/player/d").entry == LeaderboardEntry(rank: 3, playerID: "d", score: 70), "\(layout): d is back at rank 3")
            #expect(try await api.get("\(path)/player/a").errorCode == "player_not_found", "\(layout): a (rank 5) is trimmed")

            #expect(try await api.delete("\(path)/player/b").status == .noContent)
            top = try await api.get("\(path)/top?limit=10")
            #expect(top.entries.map(\.playerID) == ["c", "d", "e"], "\(layout): b removed: \(top.entries)")
            #expect(top.total == 3, "\(layout): total after b was removed")
            let range = try await api.get("\(path)/range?start=1&end=5")
            #expect(range.entries == [
                LeaderboardEntry(rank: 1, playerID: "c", score: 80), LeaderboardEntry(rank: 2, playerID: "d", score: 70),
                LeaderboardEntry(rank: 3, playerID: "e", score: 60),
            ], "\(layout): range 1–5 after b was removed")
            #expect(try await api.get("\(path)/around/e?range=1").entries.map(\.playerID) == ["d", "e"], "\(layout): around e")
        }
    }

    /// Sequences of drops, removals, new players and rises on boards with M = 3 and M = 10, in
    /// every update mode; every read equals the best M of the model after every step.
    @Test(arguments: ["single", "hash-3", "band"])
    func theBoardIsAlwaysTheBestMaxEntries(layout: String) async throws {
        let seed = ProcessInfo.processInfo.environment["LEADERBOARD_TEST_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64.max / 2)
        let failures = try await withTestApp { api, _ in
            var failures: [String] = []
            for mode in UpdateMode.allCases {
                for maxEntries in [3, 10] {
                    if let failure = try await Self.run(layout: layout, mode: mode, maxEntries: maxEntries, seed: seed, api) { failures.append(failure) }
                }
            }
            return failures
        }
        #expect(failures.isEmpty, "\(layout), seed \(seed): \(failures.count) of \(UpdateMode.allCases.count * 2) cases differ:\n\(failures.joined(separator: "\n"))")
    }

    /// One sequence; the first difference from the model, or nil.
    static func run(layout: String, mode: UpdateMode, maxEntries: Int, seed: UInt64, _ api: TestAPI) async throws -> String? {
        var random = SeededRandom(seed: seed &+ UInt64(maxEntries) &* 7 &+ UInt64(UpdateMode.allCases.firstIndex(of: mode)!))
        let board = TestEnvironment.uniqueID("trim")
        try await api.createBoard(board, #""update_mode": "\#(mode.rawValue)", "max_entries": \#(maxEntries), "layout": \#(layouts[layout]!)"#)
        let path = "/api/v1/leaderboards/\(board)"
        var model = ReferenceBoard(order: .desc, mode: mode)
        var created = 0
        func newPlayer() -> String {
            created += 1
            return "p\(created)"
        }
        func submit(_ player: String, _ value: Int64) async throws -> String? {
            let answer = try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(value), "game_id": "\#(board)"}"#)
            let want = model.submit(player, value)
            return answer.integer("score") == want ? nil : "POST \(player) \(value) answered \(answer.status) \(answer.json), expected \(want)"
        }

        // 3M + 6 players to start with, in one batch: more than M on each of 3 hash shards, so
        // that per-shard trimming would lose players the board needs later.
        var initial: [(String, Int64)] = []
        for _ in 0..<(3 * maxEntries + 6) {
            let player = newPlayer()
            initial.append((player, Int64(random.next() % 200)))
            model.submit(player, initial.last!.1)
        }
        try await api.submit(board, initial)
        var log = ["batch of \(initial.count)"]
        if let difference = try await compare(api, path, model, maxEntries) { return describe(layout, mode, maxEntries, log, difference) }

        for step in 0..<14 {
            let ranked = model.ranked()
            let top = ranked.prefix(maxEntries)
            guard !top.isEmpty else { return describe(layout, mode, maxEntries, log, "the model ran out of players") }
            let leader = top[top.startIndex + Int(random.next() % UInt64(min(2, top.count)))].playerID
            var problem: String?
            switch step % 4 {
            case 0:  // a top player drops (best: a worse score changes nothing, so it is removed instead)
                switch mode {
                case .replace:
                    log.append("\(leader) replaced by a low score")
                    problem = try await submit(leader, Int64(random.next() % 20))
                case .increment:
                    log.append("\(leader) incremented by a big negative amount")
                    problem = try await submit(leader, -150 - Int64(random.next() % 100))
                case .best:
                    log.append("\(leader) submits a worse score, then is removed")
                    problem = try await submit(leader, 0)
                    if problem == nil {
                        let answer = try await api.delete("\(path)/player/\(leader)")
                        model.remove(leader)
                        if answer.status != .noContent { problem = "DELETE \(leader) answered \(answer.status)" }
                    }
                }
            case 1:  // a player inside the top is removed
                let player = top[top.startIndex + Int(random.next() % UInt64(top.count))].playerID
                log.append("\(player) removed")
                let answer = try await api.delete("\(path)/player/\(player)")
                model.remove(player)
                if answer.status != .noContent { problem = "DELETE \(player) answered \(answer.status)" }
            case 2:  // a new player, sometimes good enough for the top
                let player = newPlayer()
                let value = Int64(random.next() % 200)
                log.append("new \(player) with \(value)")
                problem = try await submit(player, value)
            default:  // a trimmed player rises (increment: by a positive amount)
                let below = ranked.dropFirst(maxEntries)
                guard let player = below.isEmpty ? nil : below[below.startIndex + Int(random.next() % UInt64(below.count))].playerID else { continue }
                let value: Int64 = mode == .increment ? 100 + Int64(random.next() % 100) : 150 + Int64(random.next() % 60)
                log.append("\(player) rises with \(value)")
                problem = try await submit(player, value)
            }
            if let problem { return describe(layout, mode, maxEntries, log, problem) }
            if let difference = try await compare(api, path, model, maxEntries) { return describe(layout, mode, maxEntries, log, difference) }
        }
        try await api.delete(path)
        return nil
    }

    static func describe(_ layout: String, _ mode: UpdateMode, _ maxEntries: Int, _ log: [String], _ difference: String) -> String {
        "\(layout) \(mode) max_entries=\(maxEntries), after [\(log.suffix(4).joined(separator: ", "))] (step \(log.count - 1)): \(difference)"
    }

    /// Every read endpoint against the model's best `maxEntries`; the first difference, or nil.
    static func compare(_ api: TestAPI, _ path: String, _ model: ReferenceBoard, _ maxEntries: Int) async throws -> String? {
        let expected = model.ranked(maxEntries: maxEntries)
        let top = try await api.get("\(path)/top?limit=\(maxEntries + 5)")
        if top.entries != expected || top.total != expected.count {
            return "top: \(top.status) \(top.errorCode ?? "") \(top.errorCode == nil ? "" : "\(top.json)") total \(top.total.map(String.init) ?? "nil") \(top.entries.map { "\($0.playerID):\($0.score)" }), want total \(expected.count) \(expected.map { "\($0.playerID):\($0.score)" })"
        }
        for (start, end) in [(1, maxEntries + 5), (maxEntries, maxEntries + 3), (maxEntries + 1, maxEntries + 10)] {
            let page = try await api.get("\(path)/range?start=\(start)&end=\(end)")
            let want = start <= expected.count ? Array(expected[(start - 1)..<min(end, expected.count)]) : []
            if page.entries != want || page.total != expected.count {
                return "range \(start)–\(end): \(page.status) \(page.errorCode ?? "") total \(page.total.map(String.init) ?? "nil") \(page.entries.map { "\($0.rank):\($0.playerID)" }), want \(want.map { "\($0.rank):\($0.playerID)" })"
            }
        }
        // Ranks at the top, the middle and the cut, and around them.
        let middle = (maxEntries + 1) / 2
        for entry in expected where [1, 2, middle, maxEntries - 1, maxEntries].contains(entry.rank) {
            let answer = try await api.get("\(path)/player/\(entry.playerID)")
            if answer.entry != entry { return "player \(entry.playerID): \(answer.status) \(answer.json), want \(entry)" }
            guard [1, middle, maxEntries].contains(entry.rank) else { continue }
            let around = try await api.get("\(path)/around/\(entry.playerID)?range=2")
            let want = Array(expected[max(0, entry.rank - 3)..<min(expected.count, entry.rank + 2)])
            if around.entries != want || around.total != expected.count {
                return "around \(entry.playerID): \(around.entries.map { "\($0.rank):\($0.playerID)" }), want \(want.map { "\($0.rank):\($0.playerID)" })"
            }
        }
        // The best trimmed players are the ones a wrong board shows.
        for player in model.ranked().dropFirst(maxEntries).prefix(3).map(\.playerID) {
            let answer = try await api.get("\(path)/player/\(player)")
            if answer.errorCode != "player_not_found" { return "player \(player) is beyond max_entries but answered \(answer.status) \(answer.json)" }
            let around = try await api.get("\(path)/around/\(player)?range=2")
            if around.errorCode != "player_not_found" { return "around \(player) is beyond max_entries but answered \(around.status) \(around.json)" }
        }
        return nil
    }
}
