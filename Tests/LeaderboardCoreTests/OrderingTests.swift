import LeaderboardCore
import Testing

@Suite struct OrderingTests {
    @Test func descRanksHigherScoresFirstAndTiesByPlayerIDDescending() {
        let order = SortOrder.desc
        #expect(order.precedes((10, "a"), (5, "z")))
        #expect(!order.precedes((5, "z"), (10, "a")))
        #expect(order.precedes((7, "b"), (7, "a")))
        #expect(order.precedes((7, "ab"), (7, "a")))
        #expect(!order.precedes((7, "a"), (7, "a")))
    }

    @Test func ascRanksLowerScoresFirstAndTiesByPlayerIDAscending() {
        let order = SortOrder.asc
        #expect(order.precedes((5, "z"), (10, "a")))
        #expect(order.precedes((7, "a"), (7, "b")))
        #expect(order.precedes((7, "A"), (7, "a")))  // bytes: 'A' (65) < 'a' (97)
    }

    @Test func isBetterFollowsTheOrder() {
        #expect(SortOrder.desc.isBetter(2, than: 1))
        #expect(!SortOrder.desc.isBetter(1, than: 1))
        #expect(SortOrder.asc.isBetter(1, than: 2))
    }

    @Test func identifiers() {
        #expect(Identifier.isValid("p"))
        #expect(Identifier.isValid("Player_1.2:3-x"))
        #expect(Identifier.isValid(String(repeating: "a", count: 64)))
        #expect(!Identifier.isValid(""))
        #expect(!Identifier.isValid(String(repeating: "a", count: 65)))
        #expect(!Identifier.isValid("a b"))
        #expect(!Identifier.isValid("a/b"))
        #expect(!Identifier.isValid("é"))
        #expect(throws: LeaderboardError.self) { try Identifier.check("a*", field: "player_id") }
    }

    @Test func xxh3IsStableAndSpreads() {
        #expect(XXH3.hash("player-1") == XXH3.hash("player-1"))
        #expect(XXH3.hash("player-1") != XXH3.hash("player-2"))
        // Known XXH3-64 value of the empty input (seed 0).
        #expect(XXH3.hash("") == 0x2D06_8005_38D3_94C2)
        var buckets = [Int](repeating: 0, count: 8)
        for index in 0..<8000 { buckets[Int(XXH3.hash("p\(index)") % 8)] += 1 }
        #expect(buckets.allSatisfy { $0 > 800 && $0 < 1200 })
    }
}
