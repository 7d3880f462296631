import Foundation
import LeaderboardCore
import LeaderboardTestSupport
import Testing

/// 10,000 players with many ties on desc and asc boards in every update mode: every read
/// endpoint must equal a reference computed here.
@Suite struct RankingReferenceTests {
    static let cases: [(LeaderboardCore.SortOrder, UpdateMode)] = LeaderboardCore.SortOrder.allCases.flatMap { order in UpdateMode.allCases.map { (order, $0) } }

    @Test(arguments: cases)
    func tenThousandPlayersMatchTheReference(order: LeaderboardCore.SortOrder, mode: UpdateMode) async throws {
        let seed = UInt64.random(in: 1...UInt64.max)
        var random = SeededRandom(seed: seed)
        let board = TestEnvironment.uniqueID("ref-\(order)-\(mode)")
        var reference = ReferenceBoard(order: order, mode: mode)
        let players = (0..<10_000).map { "p\($0)-\(["a", "B", "z9", ".x", ":y"][$0 % 5])" }

        // Round 1: everyone once, scores from a small range so that ties are everywhere.
        var first: [(String, Int64)] = []
        for player in players {
            let score = Int64(random.next() % 400) - 100
            first.append((player, score))
            reference.submit(player, score)
        }
        // Round 2: a third of the players again, some twice within one batch.
        var second: [(String, Int64)] = []
        for _ in 0..<3_000 {
            let player = players[Int(random.next() % UInt64(players.count))]
            let score = Int64(random.next() % 400) - 100
            second.append((player, score))
            reference.submit(player, score)
        }

        let (firstRound, secondRound, expected) = (first, second, reference.ranked())
        var sample = [expected.first!, expected.last!]
        for _ in 0..<200 { sample.append(expected[Int(random.next() % UInt64(expected.count))]) }
        let sampled = sample

        try await withTestApp { api, _ in
            try await api.createBoard(
                board, "\"sort_order\": \"\(order.rawValue)\", \"update_mode\": \"\(mode.rawValue)\", \"max_entries\": 0"
            )
            try await api.submit(board, firstRound)
            try await api.submit(board, secondRound, batchSize: 500)
            let context = "seed \(seed), board \(board)"

            let top = try await api.get("/api/v1/leaderboards/\(board)/top?limit=1000")
            #expect(top.integer("total") == 10_000, "\(context)")
            #expect(top.entries == Array(expected.prefix(1000)), "\(context)")
            let defaultTop = try await api.get("/api/v1/leaderboards/\(board)/top")
            #expect(defaultTop.entries == Array(expected.prefix(10)), "\(context)")

            for (start, end) in [(1, 1), (4_501, 5_500), (9_001, 10_000), (9_995, 10_010), (10_001, 10_100)] {
                let page = try await api.get("/api/v1/leaderboards/\(board)/range?start=\(start)&end=\(end)")
                let want = start <= expected.count ? Array(expected[(start - 1)..<min(end, expected.count)]) : []
                #expect(page.entries == want, "range \(start)-\(end), \(context)")
                #expect(page.integer("total") == 10_000, "\(context)")
            }

            for entry in sampled {
                let answer = try await api.get("/api/v1/leaderboards/\(board)/player/\(entry.playerID)")
                #expect(answer.entry == entry, "\(context)")
            }

            for (entry, radius) in [(expected[0], 5), (expected[2], 5), (expected[9_999], 5), (expected[9_997], 3), (expected[5_000], 0), (expected[777], 50)] {
                let around = try await api.get("/api/v1/leaderboards/\(board)/around/\(entry.playerID)?range=\(radius)")
                let lower = max(entry.rank - radius, 1)
                let upper = min(entry.rank + radius, expected.count)
                #expect(around.entries == Array(expected[(lower - 1)..<upper]), "around \(entry.rank) ±\(radius), \(context)")
            }
        }
    }
}
