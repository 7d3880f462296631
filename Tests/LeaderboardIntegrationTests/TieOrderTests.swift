import Foundation
import LeaderboardCore
import LeaderboardService
import LeaderboardStore
import LeaderboardTestSupport
import Testing

/// `tie_break` earliest/latest in PostgreSQL: the commit numbers the events that set scores, the
/// board's order is (score, commit order) among equal scores, and trimming keeps exactly the best
/// `max_entries` by that order — checked against a model, with the view rebuilt from the commits'
/// numbered changes (whose players are members: tie prefix + player id).
@Suite(.timeLimit(.minutes(3))) struct TieOrderTests {
    @Test(arguments: [
        (LeaderboardCore.SortOrder.desc, TieBreak.earliest, UpdateMode.replace), (.desc, .latest, .best), (.asc, .earliest, .best),
        (.asc, .latest, .increment), (.desc, .earliest, .increment),
        // The default: nothing about commit time may reach the order or the view's members.
        (.desc, .playerID, .best), (.asc, .playerID, .replace),
    ])
    func commitsOrderAndTrimEqualScoresByCommitTime(order: LeaderboardCore.SortOrder, tieBreak: TieBreak, mode: UpdateMode) async throws {
        try await withTestApp { _, system in
            let repository = system.service.repository
            let id = TestEnvironment.uniqueID("ties")
            let limit = 6
            let config = LeaderboardConfig(id: id, sortOrder: order, maxEntries: limit, updateMode: mode, tieBreak: tieBreak)
            let board = try await repository.createLeaderboard(config, placement: [], startedAt: Date().timeIntervalSince1970)
            // The model: each player's score and the number of the commit event that set it.
            var model = ReferenceBoard(order: order, mode: mode, tieBreak: tieBreak)
            // The real-time view as the numbered changes build it: member → score.
            var view: [String: Int64] = [:]
            func apply(_ step: ViewStep?) {
                guard let step else { return }
                for change in step.changes {
                    if change.before != nil { view[change.playerID] = nil }
                    if let after = change.after { view[change.playerID] = after }
                }
            }
            var generator = SystemRandomNumberGenerator()
            for round in 0..<120 {
                // Few distinct scores: most of the board ties.
                let value: () -> Int64 = { mode == .increment ? Int64.random(in: -1...1, using: &generator) : Int64.random(in: 0...2, using: &generator) }
                let players = (0..<Int.random(in: 1...3, using: &generator)).map { _ in "p\(Int.random(in: 0..<12, using: &generator))" }
                if round % 9 == 8, let gone = model.scores.keys.randomElement(using: &generator) {
                    let removed = try await repository.removePlayer(board: id, player: gone)
                    #expect(removed != nil)
                    apply(removed?.step)
                    model.remove(gone)
                    continue
                }
                // One request of several items (a batch): its items are committed in their order.
                let commands = players.map { ScoreCommand(leaderboardID: id, playerID: $0, value: value()) }
                let result = try await repository.commit([commands])
                for command in commands { model.submit(command.playerID, command.value) }
                apply(result.steps[id])

                let ranked = model.ranked().map(\.playerID)
                let stored = try await repository.currentScores(board: board, limit: 0)
                #expect(stored.map { board.playerID(ofMember: $0.playerID) } == ranked, "PostgreSQL's order after round \(round)")
                let expected = Dictionary(uniqueKeysWithValues: ranked.prefix(limit).map { ($0, model.scores[$0]!) })
                var viewByPlayer: [String: Int64] = [:]
                for (member, score) in view {
                    let split = try #require(board.split(member), "a view member without a tie prefix: \(member)")
                    if tieBreak == .playerID { #expect(split.player == member, "a player_id board's member is the id") } else { #expect(split.player != member) }
                    #expect(viewByPlayer.updateValue(score, forKey: split.player) == nil, "\(split.player) twice in the view")
                }
                #expect(viewByPlayer == expected, "the view after round \(round) is not the best \(limit)")
                if viewByPlayer != expected { return }
            }
        }
    }

    @Test func theOfficialSnapshotRanksTiesByCommitTime() async throws {
        try await withTestApp { _, system in
            let repository = system.service.repository
            let id = TestEnvironment.uniqueID("tiesnap")
            let config = LeaderboardConfig(id: id, maxEntries: 0, updateMode: .best, tieBreak: .earliest)
            _ = try await repository.createLeaderboard(config, placement: [], startedAt: Date().timeIntervalSince1970)
            // z, then a, then m reach 10; a's 5 does not improve (best), so a keeps its time; q leads.
            for (player, score) in [("z", 10), ("a", 10), ("m", 10), ("a", 5), ("q", 20)] as [(String, Int64)] {
                _ = try await repository.commit([[ScoreCommand(leaderboardID: id, playerID: player, value: score)]])
            }
            let page = try await system.service.rankedRange(.snapshot, board: id, start: 1, end: 10)
            #expect(page.page.entries.map(\.playerID) == ["q", "z", "a", "m"], "a's non-improving 5 kept its time")
            #expect(page.page.entries.map(\.rank) == [1, 2, 3, 4])
        }
    }
}
