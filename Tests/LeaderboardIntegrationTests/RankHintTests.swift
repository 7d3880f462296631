import AsyncHTTPClient
import Foundation
import LeaderboardCore
import LeaderboardTestSupport
import Testing

/// A hash board's rank read takes one round when the process still knows the player's score
/// (its hint, from its last read) and the score read in that round equals it; a stale hint
/// (another process, or this one, changed the score since) must fall back to counting with the
/// score read. Two server processes write and read the same players in turns, many of them tied
/// (some shards crowded past the tie list), and every rank is checked against a model.
@Suite(.timeLimit(.minutes(3))) struct RankHintTests {
    @Test func ranksStayExactWhenHintsGoStale() async throws {
        let client = HTTPClient.shared
        let seed = UInt64.random(in: 1...UInt64.max / 2)
        print("rank-hints: seed \(seed)")
        var random = SeededRandom(seed: seed)
        let board = TestEnvironment.uniqueID("hints")
        let a = try await ServerProcess.start(port: try freeLoopbackPort(), client: client)
        defer { a.stop() }
        let b = try await ServerProcess.start(port: try freeLoopbackPort(), client: client)
        defer { b.stop() }
        let created = try await a.call(
            client, .POST, "/api/v1/leaderboards", body: #"{"id": "\#(board)", "max_entries": 0, "layout": {"strategy": "hash", "shards": 4}}"#
        )
        #expect(created.status == .created, "\(created.json)")
        // 300 players on one score: about 75 per shard, more than the 64 ties a count lists.
        let players = (0..<360).map { "h\($0)" }
        var model = ReferenceBoard(order: .desc, mode: .replace)
        let initial = players.enumerated().map { ($0.element, $0.offset < 300 ? Int64(500) : Int64(random.next() % 1000)) }
        for (player, score) in initial { model.submit(player, score) }
        try await a.submitBatch(client, board: board, initial)
        let processes = [a, b]
        let path = "/api/v1/leaderboards/\(board)"

        /// Waits until both processes' whole board (a range read, which uses no hints) is the model's.
        func converge() async throws {
            let expected = model.ranked().map { "\($0.playerID):\($0.score)" }
            for process in processes {
                var seen: [String] = []
                for _ in 0..<100 {
                    let page = try await process.get(client, "\(path)/top?limit=1000")
                    seen = page.entries.map { "\($0.playerID):\($0.score)" }
                    if seen == expected { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(seen == expected, "process on \(process.port) did not converge")
            }
        }

        var checked = 0
        for round in 0..<40 {
            // Change some players' scores through one process (sometimes back onto the crowded score).
            let writer = processes[round % 2]
            var changes: [(String, Int64)] = []
            for _ in 0..<6 {
                let player = players[Int(random.next() % UInt64(players.count))]
                let score: Int64 = random.next() % 3 == 0 ? 500 : Int64(random.next() % 1000)
                changes.append((player, score))
            }
            try await writer.submitBatch(client, board: board, changes)
            for (player, score) in changes { model.submit(player, score) }
            if round % 10 == 9 {
                let gone = players[Int(random.next() % UInt64(players.count))]
                if model.scores[gone] != nil {
                    #expect(try await writer.call(client, .DELETE, "\(path)/player/\(gone)").status == .noContent)
                    model.remove(gone)
                    changes.append((gone, -1))
                }
            }
            try await converge()
            let ranks = Dictionary(uniqueKeysWithValues: model.ranked().map { ($0.playerID, $0) })
            // The changed players (stale hints on both processes) and a few unchanged ones (hits),
            // each read twice on each process.
            let asked = changes.map(\.0) + (0..<4).map { _ in players[Int(random.next() % UInt64(players.count))] }
            for player in asked {
                for process in processes + processes {
                    let answer = try await process.get(client, "\(path)/player/\(player)")
                    if let expected = ranks[player] {
                        #expect(answer.status == .ok, "\(player): \(answer.status)")
                        #expect(answer.entry?.rank == expected.rank && answer.entry?.score == expected.score,
                                "round \(round): \(player) is \(expected.rank) with \(expected.score), process \(process.port) said \(answer.json)")
                        // top_percent carries the board's size the read counted.
                        let percent = Double(RewardCutoff.topPercentHundredths(rank: expected.rank, total: model.scores.count)) / 100
                        #expect(answer["top_percent"] == .number(percent) || answer["top_percent"] == .integer(Int64(percent)), "\(player): \(answer.json)")
                    } else {
                        #expect(answer.status == .notFound, "\(player) was removed: \(answer.json)")
                    }
                    checked += 1
                }
            }
        }
        #expect(checked >= 40 * 10 * 4)
    }
}
