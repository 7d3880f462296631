import LeaderboardCore
import Testing

@Suite struct GroupCommitPlanTests {
    let boards: [String: BoardRules] = [
        "inc": BoardRules(sortOrder: .desc, updateMode: .increment),
        "best": BoardRules(sortOrder: .asc, updateMode: .best),
        "set": BoardRules(sortOrder: .desc, updateMode: .replace),
    ]

    func command(_ board: String, _ player: String, _ value: Int64) -> ScoreCommand {
        ScoreCommand(leaderboardID: board, playerID: player, value: value)
    }

    @Test func eventsApplyInOrderAcrossRequests() throws {
        let plan = GroupCommitPlan(
            requests: [[command("inc", "a", 5)], [command("inc", "a", 7), command("inc", "b", 1)], [command("inc", "a", -2)]],
            boards: boards,
            current: [PlayerKey("inc", "a"): 100]
        )
        #expect(try plan.outcomes.map { try $0.get() } == [[105], [112, 1], [110]])
        #expect(plan.events.map(\.score) == [105, 112, 1, 110])
        #expect(plan.changedScores[PlayerKey("inc", "a")]?.score == 110)
        #expect(plan.changedScores[PlayerKey("inc", "b")]?.score == 1)
    }

    @Test func aRejectedRequestChangesNothingAndLaterOnesDoNotSeeIt() throws {
        let plan = GroupCommitPlan(
            requests: [
                [command("inc", "a", 1), command("inc", "a", ScoreRange.maximum)],  // leaves the range at its 2nd event
                [command("inc", "a", 2)],
                [command("set", "x", 1), command("missing", "x", 1)],
            ],
            boards: boards,
            current: [PlayerKey("inc", "a"): 10]
        )
        guard case .failure(let first) = plan.outcomes[0], case .failure(let third) = plan.outcomes[2] else {
            Issue.record("expected rejections, got \(plan.outcomes)")
            return
        }
        #expect(first.code == .invalidScore)
        #expect(first.message.hasPrefix("scores[1]"))
        #expect(third.code == .leaderboardNotFound)
        #expect(try plan.outcomes[1].get() == [12])
        #expect(plan.events.count == 1)
        #expect(plan.changedScores.count == 1)
        #expect(plan.changedScores[PlayerKey("set", "x")] == nil)
    }

    @Test func bestKeepsTheBetterAndUnchangedScoresAreNotRewritten() throws {
        let plan = GroupCommitPlan(
            requests: [[command("best", "a", 50)], [command("best", "a", 10)], [command("best", "b", 3)]],
            boards: boards,
            current: [PlayerKey("best", "a"): 20, PlayerKey("best", "b"): 3]
        )
        #expect(try plan.outcomes.map { try $0.get() } == [[20], [10], [3]])
        #expect(plan.changedScores[PlayerKey("best", "a")]?.score == 10)
        #expect(plan.changedScores[PlayerKey("best", "b")] == nil)
        #expect(plan.events.count == 3)
    }

    @Test func usernamesKeepTheLastOne() {
        var first = command("set", "a", 1)
        first.username = "old"
        var second = command("set", "a", 2)
        second.username = "new"
        let plan = GroupCommitPlan(requests: [[first], [second]], boards: boards, current: [:])
        #expect(plan.usernames == ["a": "new"])
    }

    /// Random groups against a sequential model: the plan must equal applying each request
    /// alone, in order, dropping the rejected ones.
    @Test func randomGroupsMatchSequentialApplication() throws {
        for seed in UInt64(1)...200 {
            var random = SplitMix(seed: seed)
            var current: [PlayerKey: Int64] = [:]
            let names = ["inc", "best", "set", "gone"]
            for player in 0..<4 where random.next() % 2 == 0 {
                current[PlayerKey("inc", "p\(player)")] = Int64(random.next() % 100)
            }
            var requests: [[ScoreCommand]] = []
            for _ in 0..<Int(random.next() % 8 + 1) {
                requests.append(
                    (0..<Int(random.next() % 3 + 1)).map { _ in
                        let big = random.next() % 10 == 0
                        let value = big ? ScoreRange.maximum : Int64(random.next() % 200) - 100
                        return command(names[Int(random.next() % 4)], "p\(random.next() % 4)", value)
                    }
                )
            }
            let plan = GroupCommitPlan(requests: requests, boards: boards, current: current)
            var model = current
            for (index, request) in requests.enumerated() {
                var staged = model
                var results: [Int64] = []
                var failed = false
                for command in request {
                    guard let rules = boards[command.leaderboardID] else {
                        failed = true
                        break
                    }
                    let key = PlayerKey(command.leaderboardID, command.playerID)
                    guard let after = try? rules.updateMode.apply(current: staged[key], value: command.value, order: rules.sortOrder) else {
                        failed = true
                        break
                    }
                    staged[key] = after
                    results.append(after)
                }
                switch plan.outcomes[index] {
                case .success(let scores):
                    #expect(!failed, "seed \(seed)")
                    #expect(scores == results, "seed \(seed)")
                    model = staged
                case .failure:
                    #expect(failed, "seed \(seed)")
                }
            }
            for (key, value) in plan.changedScores {
                #expect(model[key] == value.score, "seed \(seed)")
            }
            for (key, value) in model where current[key] != value {
                #expect(plan.changedScores[key]?.score == value, "seed \(seed)")
            }
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
