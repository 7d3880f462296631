import LeaderboardCore
import Testing

@Suite struct ScoreHintsTests {
    @Test func aNoteIsReadBackPerBoardAndPlayer() {
        var hints = ScoreHints(capacity: 100)
        hints.note(board: "a", player: "p", score: 5)
        hints.note(board: "b", player: "p", score: 7)
        #expect(hints.score(board: "a", player: "p") == 5)
        #expect(hints.score(board: "b", player: "p") == 7)
        #expect(hints.score(board: "a", player: "q") == nil)
        hints.note(board: "a", player: "p", score: 9)
        #expect(hints.score(board: "a", player: "p") == 9)
        hints.forget(board: "a", player: "p")
        #expect(hints.score(board: "a", player: "p") == nil)
        #expect(hints.score(board: "b", player: "p") == 7)
    }

    @Test func itNeverHoldsMoreThanItsCapacityAndKeepsTheRecent() {
        var hints = ScoreHints(capacity: 10)
        var drops = 0
        for index in 0..<1_000 {
            if hints.note(board: "a", player: "p\(index)", score: Int64(index)) != nil { drops += 1 }
            #expect(hints.count <= 10)
        }
        // A generation (5 notes) turns over every 5 notes after the first 5.
        #expect(drops == 199)
        // The last capacity / 2 notes are always there, with their scores.
        for index in 995..<1_000 { #expect(hints.score(board: "a", player: "p\(index)") == Int64(index)) }
        #expect(hints.score(board: "a", player: "p0") == nil)
    }

    @Test func aRenotedOlderHintMovesToTheNewerGenerationWithItsNewScore() {
        var hints = ScoreHints(capacity: 4)
        hints.note(board: "a", player: "x", score: 1)
        hints.note(board: "a", player: "y", score: 2)
        // x and y are now the older generation; x is noted again with a new score.
        hints.note(board: "a", player: "z", score: 3)
        hints.note(board: "a", player: "x", score: 4)
        #expect(hints.score(board: "a", player: "x") == 4)
        #expect(hints.count <= 4)
        // Two more generations: x's old score must never come back.
        hints.note(board: "a", player: "u", score: 5)
        hints.note(board: "a", player: "v", score: 6)
        #expect(hints.score(board: "a", player: "x") != 1)
    }
}
