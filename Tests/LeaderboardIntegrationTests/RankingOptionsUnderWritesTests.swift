import AsyncHTTPClient
import Foundation
import LeaderboardCore
import LeaderboardTestSupport
import NIOConcurrencyHelpers
import Testing

/// Friends lists, cutoffs and competition ranks on two server processes sharing the stores,
/// read from one while the other takes batches of new players (hash and band boards): every
/// 200 is a state of one sorted set (ranks distinct and ordered by score, each player's one
/// score, found ∪ missing = asked, a cutoff's entry at the rank asked), and once the writes stop
/// both processes answer exactly the model.
@Suite(.serialized) struct RankingOptionsUnderWritesTests {
    static let seeded = 3000
    static let batches = 30
    static let batchSize = 200
    static let spread: UInt64 = 500

    @Test(.timeLimit(.minutes(2)), arguments: [#"{"strategy": "hash", "shards": 4}"#, #"{"strategy": "band", "bounds": [100, 250, 400]}"#])
    func friendsAndCutoffsStayOneStateAcrossProcesses(layout: String) async throws {
        let client = HTTPClient.shared
        var random = SeededRandom(seed: UInt64.random(in: 1...UInt64.max / 2))
        let board = TestEnvironment.uniqueID("options")
        let initial = (0..<Self.seeded).map { ("s\($0)", Int64(random.next() % Self.spread)) }
        let arrivals = (0..<Self.batches).map { batch in (0..<Self.batchSize).map { ("n\(batch)-\($0)", Int64(random.next() % Self.spread)) } }
        var scoreOf: [String: Int64] = [:]
        for (player, score) in initial + arrivals.joined() { scoreOf[player] = score }
        let scores = scoreOf
        let friends = (0..<40).map { "s\(($0 * 61) % Self.seeded)" } + (0..<10).map { "n\($0 * 3)-\($0)" } + ["nobody"]

        let writer = try await ServerProcess.start(port: try freeLoopbackPort(), client: client)
        defer { writer.stop() }
        let reader = try await ServerProcess.start(port: try freeLoopbackPort(), client: client)
        defer { reader.stop() }
        let created = try await writer.call(
            client, .POST, "/api/v1/leaderboards", body: #"{"id": "\#(board)", "update_mode": "replace", "max_entries": 0, "layout": \#(layout)}"#
        )
        #expect(created.status == .created, "\(created.json)")
        for start in stride(from: 0, to: initial.count, by: 1000) {
            try await writer.submitBatch(client, board: board, Array(initial[start..<min(start + 1000, initial.count)]))
        }

        let problems = NIOLockedValueBox<[String]>([])
        let answered = NIOLockedValueBox<(ok: Int, unavailable: Int)>((0, 0))
        func note(_ problem: String) { problems.withLockedValue { if $0.count < 10 { $0.append(problem) } } }
        let writing = NIOLockedValueBox(true)
        let path = "/api/v1/leaderboards/\(board)"
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { writing.withLockedValue { $0 = false } }
                for batch in arrivals { try await writer.submitBatch(client, board: board, batch) }
            }
            for worker in 0..<2 {
                group.addTask {
                    var step = 0
                    while writing.withLockedValue({ $0 }), step < 2000 {
                        step += 1
                        let style = step % 2 == 0 ? "competition" : "ordinal"
                        let list = try await reader.call(client, .GET, "\(path)/players?ids=\(friends.joined(separator: ","))&rank=\(style)")
                        let cutoffRank = 1 + (step * 37 + worker) % Self.seeded
                        let cutoff = try await reader.call(client, .GET, "\(path)/cutoff?rank=\(cutoffRank)")
                        for answer in [list, cutoff] where answer.status == .serviceUnavailable {
                            answered.withLockedValue { $0.unavailable += 1 }
                        }
                        if list.status == .ok {
                            answered.withLockedValue { $0.ok += 1 }
                            if let problem = Self.checkFriends(list, asked: friends, scores: scores, competition: style == "competition") { note(problem) }
                        } else if list.status != .serviceUnavailable {
                            note("players answered \(list.status): \(list.json)")
                        }
                        if cutoff.status == .ok {
                            let entry = APIResponse.entryOrNil(cutoff["entry"])
                            if entry?.rank != cutoffRank || entry.map({ scores[$0.playerID] != $0.score }) ?? true {
                                note("cutoff rank \(cutoffRank): \(cutoff.json)")
                            }
                        } else if cutoff.status != .serviceUnavailable {
                            note("cutoff answered \(cutoff.status): \(cutoff.json)")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let found = problems.withLockedValue { $0 }
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
        let counts = answered.withLockedValue { $0 }
        #expect(counts.ok > 0, "no friends list answered 200 while the writes ran (\(counts.unavailable) answered 503)")

        // Settled: both processes answer exactly the model.
        var model = ReferenceBoard(order: .desc, mode: .replace)
        for (player, score) in scores { model.submit(player, score) }
        let ranking = model.ranked()
        let byPlayer = Dictionary(uniqueKeysWithValues: ranking.map { ($0.playerID, $0) })
        var firstRank: [Int64: Int] = [:]
        for entry in ranking where firstRank[entry.score] == nil { firstRank[entry.score] = entry.rank }
        let want = friends.compactMap { byPlayer[$0] }.sorted { $0.rank < $1.rank }
        for server in [writer, reader] {
            let list = try await server.call(client, .GET, "\(path)/players?ids=\(friends.joined(separator: ","))")
            #expect(list.entries == want)
            let competition = try await server.call(client, .GET, "\(path)/players?ids=\(friends.joined(separator: ","))&rank=competition")
            #expect(competition.entries.map(\.rank) == want.map { firstRank[$0.score]! })
            let percent = try await server.call(client, .GET, "\(path)/cutoff?top_percent=1")
            let rank = max(1, ranking.count / 100)
            #expect(APIResponse.entryOrNil(percent["entry"]) == ranking[rank - 1], "\(percent.json)")
            #expect(percent.integer("total") == Int64(ranking.count))
        }
    }

    /// Problems of one friends-list answer read while players arrive; nil when it is a valid state.
    static func checkFriends(_ answer: APIResponse, asked: [String], scores: [String: Int64], competition: Bool) -> String? {
        let entries = answer.entries
        guard case .array(let missingItems)? = answer["missing"] else { return "no missing: \(answer.json)" }
        let missing = missingItems.compactMap { item -> String? in if case .string(let id) = item { id } else { nil } }
        if Set(entries.map(\.playerID)).union(missing) != Set(asked) || entries.count + missing.count != asked.count {
            return "found and missing are not the ids asked: \(answer.json)"
        }
        if !missing.contains("nobody") { return "an absent player was found: \(answer.json)" }
        for (index, entry) in entries.enumerated() {
            if scores[entry.playerID] != entry.score { return "\(entry.playerID) with a score it never had: \(entry)" }
            guard index > 0 else { continue }
            let previous = entries[index - 1]
            if previous.score < entry.score { return "entries out of board order: \(previous) before \(entry)" }
            if competition {
                if previous.score == entry.score ? previous.rank != entry.rank : previous.rank >= entry.rank {
                    return "competition ranks do not fit the scores: \(previous), \(entry)"
                }
            } else if previous.rank >= entry.rank {
                return "ordinal ranks not strictly increasing: \(previous), \(entry)"
            }
        }
        return nil
    }
}

