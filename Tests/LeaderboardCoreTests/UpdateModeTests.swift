import LeaderboardCore
import Testing

@Suite struct UpdateModeTests {
    @Test func newPlayerTakesTheValueInEveryMode() throws {
        for mode in UpdateMode.allCases {
            #expect(try mode.apply(current: nil, value: 42, order: .desc) == 42)
        }
    }

    @Test func replaceSets() throws {
        #expect(try UpdateMode.replace.apply(current: 100, value: 5, order: .desc) == 5)
    }

    @Test func incrementAddsNegativeToo() throws {
        #expect(try UpdateMode.increment.apply(current: 100, value: 5, order: .desc) == 105)
        #expect(try UpdateMode.increment.apply(current: 100, value: -150, order: .asc) == -50)
    }

    @Test func bestKeepsTheBetterByOrderAndEqualKeepsOld() throws {
        #expect(try UpdateMode.best.apply(current: 100, value: 150, order: .desc) == 150)
        #expect(try UpdateMode.best.apply(current: 100, value: 50, order: .desc) == 100)
        #expect(try UpdateMode.best.apply(current: 100, value: 50, order: .asc) == 50)
        #expect(try UpdateMode.best.apply(current: 100, value: 150, order: .asc) == 100)
        #expect(try UpdateMode.best.apply(current: 100, value: 100, order: .asc) == 100)
    }

    @Test func scoresOutsideTheDoubleExactRangeAreRejected() {
        let max = ScoreRange.maximum
        #expect(max == 9_007_199_254_740_991)
        #expect(throws: LeaderboardError.invalidScore("score 9007199254740992 is outside ±9007199254740991")) {
            try UpdateMode.replace.apply(current: nil, value: max + 1, order: .desc)
        }
        #expect(throws: LeaderboardError.self) { try UpdateMode.best.apply(current: 0, value: -max - 1, order: .asc) }
        #expect((try? UpdateMode.replace.apply(current: nil, value: -max, order: .desc)) == -max)
    }

    @Test func incrementsThatLeaveTheRangeAreRejected() {
        let max = ScoreRange.maximum
        #expect(throws: LeaderboardError.self) { try UpdateMode.increment.apply(current: max, value: 1, order: .desc) }
        #expect(throws: LeaderboardError.self) { try UpdateMode.increment.apply(current: -max, value: -1, order: .desc) }
        #expect(throws: LeaderboardError.self) { try UpdateMode.increment.apply(current: max, value: Int64.max, order: .desc) }
        #expect((try? UpdateMode.increment.apply(current: max - 1, value: 1, order: .desc)) == max)
    }
}
