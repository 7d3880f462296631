import AsyncHTTPClient
import LeaderboardCore
import LeaderboardTestSupport
import Testing

/// Deep ranges of hash boards read twice, through the server binary: the first read locates the
/// page by counts, the second is answered by the score span the first found (the window script's
/// `scores` mode, one round) — on desc and asc boards, on boards ordered by commit time (members
/// with a tie prefix) and on a trimmed board. Every page equals the reference both times, usernames
/// included (a third of the players have one: the first read fetches the shards' members without
/// names and then the page's own names, the second reads them with its span), and the server
/// counts the second reads as answered by their span.
@Suite struct SpanReadTests {
    struct Case: Sendable {
        var order: SortOrder
        var tieBreak: TieBreak
        var shards: Int
        var maxEntries: Int
    }

    @Test(.timeLimit(.minutes(2))) func deepPagesReadAgainEqualTheReference() async throws {
        let client = HTTPClient.shared
        let server = try await ServerProcess.start(port: try freeLoopbackPort(), client: client)
        defer { server.stop() }
        var random = SeededRandom(seed: 42)
        let cases = [
            Case(order: .desc, tieBreak: .playerID, shards: 8, maxEntries: 0), Case(order: .asc, tieBreak: .playerID, shards: 8, maxEntries: 0),
            Case(order: .desc, tieBreak: .earliest, shards: 8, maxEntries: 0), Case(order: .asc, tieBreak: .latest, shards: 5, maxEntries: 0),
            Case(order: .desc, tieBreak: .playerID, shards: 4, maxEntries: 1_500),
        ]
        let players = 2_400
        let width = 50
        var pagesReadTwice = 0
        let before = try await HashReadsUnderWritesTests.spanReads(server, client)
        for (index, item) in cases.enumerated() {
            let board = TestEnvironment.uniqueID("span-\(index)")
            let created = try await server.call(
                client, .POST, "/api/v1/leaderboards",
                body: #"""
                    {"id": "\#(board)", "sort_order": "\#(item.order.rawValue)", "tie_break": "\#(item.tieBreak.rawValue)", "update_mode": "replace",
                     "max_entries": \#(item.maxEntries), "layout": {"strategy": "hash", "shards": \#(item.shards)}}
                    """#
            )
            #expect(created.status == .created, "\(created.json)")
            // About six players per score: ties at every span's ends.
            var model = ReferenceBoard(order: item.order, mode: .replace, tieBreak: item.tieBreak)
            // Player ids of this board only: a username belongs to the player, on every board, and
            // other suites running beside this one use ids like "p27".
            let scores = (0..<players).map { ("\(board)-\($0)", Int64(random.next() % 400)) }
            func username(_ player: String) -> String? { Int(player.split(separator: "-").last!)! % 3 == 0 ? "name of \(player)" : nil }
            for start in stride(from: 0, to: players, by: 800) {
                let chunk = Array(scores[start..<min(start + 800, players)])
                let items = chunk.map { player, score in
                    #"{"player_id": "\#(player)", "score": \#(score), "game_id": "\#(board)""# + (username(player).map { #", "username": "\#($0)"}"# } ?? "}")
                }
                let answer = try await server.call(client, .POST, "/api/v1/scores/batch", body: #"{"scores": [\#(items.joined(separator: ","))]}"#)
                #expect(answer.status == .ok, "\(answer.json)")
                for (player, score) in chunk { model.submit(player, score) }
            }
            let ranked = model.ranked().map { entry in
                var named = entry
                named.username = username(entry.playerID)
                return named
            }
            let visible = item.maxEntries > 0 ? Array(ranked.prefix(item.maxEntries)) : ranked
            for start in [1_100, 1_450, 1_480, 2_000, players - width + 1] where start <= visible.count {
                let want = Array(visible[(start - 1)..<min(visible.count, start - 1 + width)])
                for read in 1...2 {
                    let page = try await server.get(client, "/api/v1/leaderboards/\(board)/range?start=\(start)&end=\(start + width - 1)")
                    #expect(page.total == visible.count, "case \(index), start \(start), read \(read): total")
                    #expect(
                        page.entries == want,
                        "case \(index), start \(start), read \(read): first difference \(zip(page.entries, want).first { $0 != $1 }.map { "\($0.0) instead of \($0.1)" } ?? "in length (\(page.entries.count) of \(want.count))")"
                    )
                }
                pagesReadTwice += 1
            }
        }
        let after = try await HashReadsUnderWritesTests.spanReads(server, client)
        #expect(after.hit - before.hit >= pagesReadTwice, "\(pagesReadTwice) pages read twice, \(after.hit - before.hit) answered by their span")
        #expect(!server.crashed, "\(server.crashReport)")
    }
}
