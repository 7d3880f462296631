import LeaderboardCore
import Testing

@Suite struct RankingOptionsTests {
    func entry(_ rank: Int, _ score: Int64) -> LeaderboardEntry { LeaderboardEntry(rank: rank, playerID: "p\(rank)", score: score) }

    @Test func aPageNeedsOneCountAtMost() {
        let page = [entry(5, 9), entry(6, 9), entry(7, 8), entry(8, 8), entry(9, 7)]
        #expect(RankStyle.scoresToCount(page) == [9])
        #expect(RankStyle.competition(page, better: [9: 2])?.map(\.rank) == [3, 3, 7, 7, 9])
        #expect(RankStyle.competition(page, better: [:]) == nil, "a needed count is missing")
        #expect(RankStyle.competition(page, better: [9: 7]) == nil, "more better players than the rank allows")
        #expect(RankStyle.scoresToCount([entry(1, 9), entry(2, 9)]).isEmpty)
    }

    @Test func aFriendsListCountsEachDistinctScoreItCannotSettle() {
        let friends = [entry(3, 9), entry(10, 8), entry(11, 8), entry(40, 2), entry(41, 1)]
        #expect(RankStyle.scoresToCount(friends) == [9, 8, 2])
        #expect(RankStyle.competition(friends, better: [9: 0, 8: 6, 2: 30])?.map(\.rank) == [1, 7, 7, 31, 41])
    }

    @Test func topPercentRoundsUp() {
        #expect(RewardCutoff.topPercentHundredths(rank: 1, total: 3) == 3334)
        #expect(RewardCutoff.topPercentHundredths(rank: 3, total: 3) == 10_000)
        #expect(RewardCutoff.topPercentHundredths(rank: 1, total: 1_000_000) == 1)
        #expect(RewardCutoff.topPercentHundredths(rank: 12, total: 21) == 5715)
    }

    @Test func percentTiersAreExact() throws {
        #expect(try RewardCutoff.Percent.parse("1").rank(of: 1_000_000) == 10_000)
        #expect(try RewardCutoff.Percent.parse("0.5").rank(of: 999) == 4)
        #expect(try RewardCutoff.Percent.parse("33.333333333333333").rank(of: 3) == 1)
        #expect(try RewardCutoff.Percent.parse("100").rank(of: 7) == 7)
        #expect(try RewardCutoff.Percent.parse("0.001").rank(of: 10) == 1, "never below rank 1")
        for bad in ["0", "0.0", "100.01", "101", "-1", "1e2", ".5", "5.", "", "1.0000000000000001", "abc"] {
            #expect(throws: LeaderboardError.self, "\(bad)") { try RewardCutoff.Percent.parse(bad) }
        }
        #expect(throws: LeaderboardError.self) { try RewardCutoff.Tier.parse(rank: "1", topPercent: "1") }
        #expect(throws: LeaderboardError.self) { try RewardCutoff.Tier.parse(rank: nil, topPercent: nil) }
        #expect(try RewardCutoff.Tier.parse(rank: "7", topPercent: nil) == .rank(7))
        #expect(throws: LeaderboardError.self) { try RewardCutoff.Tier.parse(rank: "+5", topPercent: nil) }
        #expect(try RewardCutoff.Percent.parse("99.999999999999999").rank(of: 2_000_000_000) == 1_999_999_999, "past 2^64 in between")
    }
}
