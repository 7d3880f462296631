import LeaderboardCore
import Testing

@Suite struct TieBreakTests {
    /// Byte order of members is (tie key, player id) order, and a member splits back.
    @Test func membersSortByTieThenPlayer() throws {
        var generator = SystemRandomNumberGenerator()
        let special: [Int64] = [.min, .min + 1, -1, 0, 1, .max - 1, .max, -64, 63, 64]
        var pairs: [(tie: Int64, player: String)] = []
        for tie in special { pairs.append((tie, "p")) }
        for index in 0..<400 {
            let tie = index % 3 == 0 ? Int64.random(in: -5...5, using: &generator) : Int64.random(in: .min ... .max, using: &generator)
            pairs.append((tie, "p\(Int.random(in: 0..<50, using: &generator))\(index % 2 == 0 ? "" : "-x")"))
        }
        for pair in pairs {
            let member = MemberCodec.member(player: pair.player, tie: pair.tie)
            #expect(member.utf8.count == MemberCodec.prefixLength + pair.player.utf8.count)
            let split = try #require(MemberCodec.split(member))
            #expect(split.tie == pair.tie && split.player == pair.player)
        }
        for _ in 0..<4000 {
            let a = pairs.randomElement(using: &generator)!, b = pairs.randomElement(using: &generator)!
            let byBytes = Array(MemberCodec.member(player: a.player, tie: a.tie).utf8)
                .lexicographicallyPrecedes(Array(MemberCodec.member(player: b.player, tie: b.tie).utf8))
            let byParts = a.tie != b.tie ? a.tie < b.tie : Array(a.player.utf8).lexicographicallyPrecedes(Array(b.player.utf8))
            #expect(byBytes == byParts, "\(a) vs \(b)")
        }
    }

    @Test func malformedMembersDoNotSplit() {
        #expect(MemberCodec.split("") == nil)
        #expect(MemberCodec.split("-----------") == nil, "a prefix alone names no player")
        #expect(MemberCodec.split("G----------p") == nil, "the first digit holds 4 bits only")
        #expect(MemberCodec.split("----- -----p") == nil, "not a digit")
        #expect(MemberCodec.split("p1") == nil)
        #expect(MemberCodec.split(MemberCodec.prefix(0) + "p1")?.player == "p1")
    }

    @Test func tieKeysSortEarliestOrLatestFirstInTheBoardsDirection() {
        // desc boards sort tie keys descending, asc boards ascending: the earliest (smaller counter) first.
        #expect(TieBreak.earliest.tieKey(counter: 1, order: .desc) > TieBreak.earliest.tieKey(counter: 2, order: .desc))
        #expect(TieBreak.earliest.tieKey(counter: 1, order: .asc) < TieBreak.earliest.tieKey(counter: 2, order: .asc))
        #expect(TieBreak.latest.tieKey(counter: 2, order: .desc) > TieBreak.latest.tieKey(counter: 1, order: .desc))
        #expect(TieBreak.latest.tieKey(counter: 2, order: .asc) < TieBreak.latest.tieKey(counter: 1, order: .asc))
        #expect(TieBreak.playerID.tieKey(counter: 7, order: .desc) == 0)
    }

    func event(_ player: String, _ score: Int64, _ mode: UpdateMode, board: String = "b", request: Int = 0) -> GroupCommitPlan.Event {
        GroupCommitPlan.Event(
            request: request, command: ScoreCommand(leaderboardID: board, playerID: player, value: score), mode: mode, score: score
        )
    }

    @Test func aCommitNumbersTheEventsThatSetScoresInOrder() {
        let board = TieKeys.Board(tieBreak: .earliest, order: .desc, counter: 10)
        let keys = TieKeys(
            events: [event("a", 5, .replace), event("b", 5, .replace), event("a", 6, .replace), event("c", 1, .replace, board: "other")],
            current: [:], boards: ["b": board]
        )
        #expect(keys.keys == [PlayerKey("b", "a"): -13, PlayerKey("b", "b"): -12], "the last event of a player counts; other boards are skipped")
        #expect(keys.used == ["b": 3])
    }

    @Test func underBestASubmissionThatDoesNotImproveKeepsItsTime() {
        let board = TieKeys.Board(tieBreak: .latest, order: .desc, counter: 0)
        let keys = TieKeys(
            events: [event("a", 5, .best), event("b", 9, .best), event("c", 3, .best)],
            current: [PlayerKey("b", "a"): 5, PlayerKey("b", "b"): 7], boards: ["b": board]
        )
        #expect(keys.keys == [PlayerKey("b", "b"): 1, PlayerKey("b", "c"): 2], "a kept 5: no new time; b improved; c is new")
        let replaced = TieKeys(events: [event("a", 5, .replace)], current: [PlayerKey("b", "a"): 5], boards: ["b": board])
        #expect(replaced.keys == [PlayerKey("b", "a"): 1], "replace sets the score again, so its time is new")
    }

    @Test func theConfigShowsAndParsesTieBreak() throws {
        let config = try LeaderboardConfig.parse(.object(["id": .string("b"), "tie_break": .string("earliest")]))
        #expect(config.tieBreak == .earliest)
        #expect(try LeaderboardConfig.parse(.object(["id": .string("b")])).tieBreak == .playerID)
        #expect(throws: LeaderboardError.self) { try LeaderboardConfig.parse(.object(["id": .string("b"), "tie_break": .string("first")])) }
        #expect(throws: LeaderboardError.self) { try LeaderboardConfig.parse(.object(["id": .string("b"), "tie_break": .integer(1)])) }
    }
}
