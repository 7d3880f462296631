import Foundation
import Synchronization
import LeaderboardApp
import LeaderboardCore
import LeaderboardService
import LeaderboardStore
import LeaderboardTestSupport
import PostgresClient
import Testing

/// Bulk import (DESIGN.md, "Bulk import") against the write path it must equal: the same rows
/// imported into one board and submitted one request each into a twin board give the same
/// PostgreSQL state (scores, tie keys, metadata, counts, cut, tie counter, each event's result);
/// the imported board's reads equal that state on every layout; a bad row writes nothing.
@Suite(.timeLimit(.minutes(5))) struct ImportTests {
    static let layouts = [
        #"{"strategy": "single"}"#, #"{"strategy": "hash", "shards": 4}"#, #"{"strategy": "band", "bounds": [-20, 0, 20]}"#,
    ]

    /// Writes `text` to a fresh file and returns its path.
    static func file(_ text: String, suffix: String) throws -> String {
        let path = NSTemporaryDirectory() + "import-\(UUID().uuidString).\(suffix)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Rows of `count` submissions over `players` players (so most repeat), with usernames and,
    /// in NDJSON, metadata on some; scores in a narrow range, so many tie.
    static func rows(
        count: Int, players: Int, mode: UpdateMode, seed: UInt64, prefix: String
    ) -> [(player: String, value: Int64, name: String?, metadata: String?)] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { index in
            let player = "\(prefix)-i\(Int.random(in: 0..<players, using: &random))"
            let value = mode == .increment ? Int64.random(in: -5...5, using: &random) : Int64.random(in: -30...30, using: &random)
            let name = index % 3 == 0 ? "n\(index)" : nil
            let metadata = index % 5 == 0 ? #"{"round":\#(index)}"# : nil
            return (player, value, name, metadata)
        }
    }

    static func text(_ rows: [(player: String, value: Int64, name: String?, metadata: String?)], format: ImportRows.Format) -> String {
        switch format {
        case .csv:
            return "player_id,score,username\n" + rows.map { "\($0.player),\($0.value)\($0.name.map { "," + $0 } ?? "")" }.joined(separator: "\n") + "\n"
        case .ndjson:
            return rows.map { row in
                var fields = [#""player_id":"\#(row.player)""#, #""score":\#(row.value)"#]
                if let name = row.name { fields.append(#""username":"\#(name)""#) }
                if let metadata = row.metadata { fields.append(#""metadata":\#(metadata)"#) }
                return "{" + fields.joined(separator: ",") + "}"
            }.joined(separator: "\n")
        }
    }

    /// What PostgreSQL holds of a board: its players (score, tie key, metadata), its row's counters, and its events' results.
    struct BoardState: Equatable {
        var players: [String]
        var counters: [String?]
        var results: [String]
    }

    static func state(_ id: String, _ system: LeaderboardSystem) async throws -> BoardState {
        let players = try await system.postgres.query(
            "SELECT player_id || ' ' || score || ' ' || tie_key || ' ' || COALESCE(metadata::text, '-') FROM player_scores WHERE leaderboard_id = $1 ORDER BY player_id",
            [id]
        ).rows.map { $0[0] ?? "" }
        let counters = try await system.postgres.query(
            "SELECT player_count, cut_score, cut_tie, cut_player, tie_counter FROM leaderboards WHERE id = $1", [id]
        ).rows.first ?? []
        let results = try await system.postgres.query(
            "SELECT player_id || ' ' || score || ' ' || result_score FROM score_events WHERE leaderboard_id = $1 AND event_type <> 'seed' ORDER BY id",
            [id]
        ).rows.map { $0[0] ?? "" }
        return BoardState(players: players, counters: counters, results: results)
    }

    /// Imports the file in this process, as the command does.
    static func importFile(_ path: String, format: ImportRows.Format, board: String, _ system: LeaderboardSystem) async throws -> BulkImport.Report {
        let reader = try ImportFileReader(path: path, format: format, board: board)
        return try await BulkImport(service: system.service, recovery: system.recovery).run(board: board, rows: { try reader.next() })
    }

    @Test(arguments: [UpdateMode.replace, .increment, .best], [ImportRows.Format.csv, .ndjson])
    func anImportEqualsTheSameRowsSubmittedOneByOne(mode: UpdateMode, format: ImportRows.Format) async throws {
        try await withTestApp { api, system in
            for (index, layout) in Self.layouts.enumerated() {
                let order: LeaderboardCore.SortOrder = index == 1 ? .asc : .desc
                let imported = TestEnvironment.uniqueID("imp-\(mode.rawValue)")
                let twin = TestEnvironment.uniqueID("twin-\(mode.rawValue)")
                // Trimmed to 40 of ~60 players: the cut and the view's edge are part of the check.
                let extra = #""sort_order": "\#(order.rawValue)", "update_mode": "\#(mode.rawValue)", "max_entries": 40, "layout": \#(layout)"#
                try await api.createBoard(imported, extra)
                try await api.createBoard(twin, extra)
                // Players already on both boards before the import.
                let seeded = (0..<25).map { ("\(imported.suffix(8))-i\($0 * 2)", Int64($0 % 7) - 3) }
                try await api.submit(imported, seeded)
                try await api.submit(twin, seeded)
                let rows = Self.rows(count: 400, players: 60, mode: mode, seed: UInt64(index * 10 + (format == .csv ? 1 : 2)), prefix: String(imported.suffix(8)))
                let written = format == .csv ? rows.map { ($0.player, $0.value, $0.name, nil as String?) } : rows
                let path = try Self.file(Self.text(written, format: format), suffix: format.rawValue)
                defer { try? FileManager.default.removeItem(atPath: path) }

                let before = try await Self.state(imported, system)
                let report = try await Self.importFile(path, format: format, board: imported, system)
                #expect(report.rows == 400)
                #expect(report.players == Set(rows.map(\.player)).count)
                _ = try await system.service.repository.commit(
                    written.map { [ScoreCommand(leaderboardID: twin, playerID: $0.player, value: $0.value, username: $0.name, metadataJSON: $0.metadata)] }
                )
                let after = try await Self.state(imported, system)
                let expected = try await Self.state(twin, system)
                #expect(after.players == expected.players, "\(layout)")
                #expect(after.counters == expected.counters, "\(layout)")
                #expect(Array(after.results.dropFirst(before.results.count)) == Array(expected.results.dropFirst(before.results.count)), "\(layout)")
                let kinds = try await system.postgres.query(
                    "SELECT event_type, count(*) FROM score_events WHERE leaderboard_id = $1 GROUP BY 1 ORDER BY 1", [imported]
                ).rows.map { "\($0[0] ?? "") \($0[1] ?? "")" }
                #expect(Set(kinds) == ["\(mode.rawValue) 25", "import 400"])

                // The imported board reads as the twin's PostgreSQL order says, usernames included.
                let top = try await api.get("/api/v1/leaderboards/\(imported)/top?limit=100")
                #expect(top.status == .ok, "\(top.json)")
                let ordered = try await system.postgres.query(
                    """
                    SELECT s.player_id, s.score, p.username FROM player_scores s LEFT JOIN players p USING (player_id)
                    WHERE s.leaderboard_id = $1 ORDER BY s.score \(order == .desc ? "DESC" : "ASC"), s.player_id \(order == .desc ? "DESC" : "ASC") LIMIT 40
                    """,
                    [twin]
                ).rows
                #expect(top.entries.map(\.playerID) == ordered.map { $0[0] ?? "" }, "\(layout)")
                #expect(top.entries.map(\.score) == ordered.map { Int64($0[1] ?? "") ?? 0 }, "\(layout)")
                #expect(top.entries.map(\.username) == ordered.map { $0[2] }, "\(layout)")
                // The view holds the best 40 (max_entries).
                #expect(top.integer("total") == min(40, Int64(after.counters.first.flatMap { $0 }.flatMap(Int64.init) ?? -1)))
                let marks = try await system.service.repository.rebuildRequests()
                #expect(marks[imported] == nil, "the import's rebuild mark is still there")
            }
        }
    }

    /// Boards ordered by commit time: the import numbers the rows that set a score in file order,
    /// exactly as one request per row does (checked in PostgreSQL: tie keys, counter, cut).
    @Test(arguments: [
        (LeaderboardCore.SortOrder.desc, TieBreak.earliest, UpdateMode.best), (.asc, .latest, .replace), (.desc, .latest, .increment),
        (.asc, .earliest, .best),
    ])
    func anImportNumbersTiesAsTheWritePathDoes(order: LeaderboardCore.SortOrder, tieBreak: TieBreak, mode: UpdateMode) async throws {
        try await withTestApp { _, system in
            let repository = system.service.repository
            let imported = TestEnvironment.uniqueID("imp-ties")
            let twin = TestEnvironment.uniqueID("twin-ties")
            for id in [imported, twin] {
                let config = LeaderboardConfig(id: id, sortOrder: order, maxEntries: 10, updateMode: mode, tieBreak: tieBreak)
                _ = try await repository.createLeaderboard(config, placement: [], startedAt: Date().timeIntervalSince1970)
                _ = try await repository.commit((0..<8).map { [ScoreCommand(leaderboardID: id, playerID: "i\($0)", value: Int64($0 % 3))] })
            }
            // Values 0...2 and 30 players: nearly every score ties.
            var random = SeededRandom(seed: 7)
            let rows = (0..<300).map { _ in ("i\(Int.random(in: 0..<30, using: &random))", Int64.random(in: 0...2, using: &random)) }
            let path = try Self.file(Self.text(rows.map { ($0.0, $0.1, nil, nil) }, format: .csv), suffix: "csv")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let reader = try ImportFileReader(path: path, format: .csv, board: imported)
            let commit = try await repository.importScores(board: imported, rows: { try reader.next() }, leaseHolder: "test", leaseSeconds: 1)
            #expect(commit.rows == 300)
            _ = try await repository.commit(rows.map { [ScoreCommand(leaderboardID: twin, playerID: $0.0, value: $0.1)] })
            let after = try await Self.state(imported, system)
            let expected = try await Self.state(twin, system)
            #expect(after.players == expected.players)
            #expect(after.counters == expected.counters)
            #expect(after.results == expected.results)
        }
    }

    /// A bad row anywhere (here line 301 of 600) stops the import naming its line; nothing is
    /// written: no scores, no events, no change number, no rebuild mark, the same reads.
    @Test(arguments: [ImportRows.Format.csv, .ndjson])
    func aBadRowWritesNothing(format: ImportRows.Format) async throws {
        try await withTestApp { api, system in
            let board = TestEnvironment.uniqueID("imp-bad")
            try await api.createBoard(board, #""layout": {"strategy": "hash", "shards": 2}"#)
            try await api.submit(board, [("a", 5), ("b", 7)])
            var lines = (0..<600).map { "{\"player_id\": \"p\($0)\", \"score\": \($0)}" }
            var csv = ["player_id,score"] + (0..<600).map { "p\($0),\($0)" }
            lines[300] = #"{"player_id": "p300", "score": 1.5}"#
            csv[300] = "p299,1.5"
            let path = try Self.file((format == .csv ? csv : lines).joined(separator: "\n"), suffix: format.rawValue)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let before = try await Self.state(board, system)
            let seq = try await system.service.repository.changeSequences()[board]
            await #expect {
                _ = try await Self.importFile(path, format: format, board: board, system)
            } throws: { error in
                (error as? ImportRows.RowError)?.line == 301
            }
            #expect(try await Self.state(board, system) == before)
            #expect(try await system.service.repository.changeSequences()[board] == seq)
            #expect(try await system.service.repository.rebuildRequests()[board] == nil)
            let top = try await api.get("/api/v1/leaderboards/\(board)/top")
            #expect(top.entries.map(\.playerID) == ["b", "a"])
        }
    }

    /// While an import holds a board (its locked phase takes seconds per million rows), a write to
    /// that board is refused at once with 503, and the process's writes to other boards go on: a
    /// group commit that waited for the board's row would have held them all up. A refused write
    /// applied nothing, so its Idempotency-Key is free for the retry. (The import's lock is held
    /// here by a connection of the test, with the board's row, as an import holds them from before
    /// its locked phase to its commit.)
    @Test func writesToABoardBeingImportedAreRefusedAndOthersGoOn() async throws {
        try await withTestApp { api, system in
            let held = TestEnvironment.uniqueID("imp-held")
            let other = TestEnvironment.uniqueID("imp-free")
            try await api.createBoard(held)
            try await api.createBoard(other)
            try await api.submit(held, [("a", 1)])
            let lock = try PGConnection(configuration: TestEnvironment.config.postgresPool.connection)
            try lock.execute("BEGIN")
            // As an import holds them: its lock, then the board's row.
            _ = try lock.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 4242003))", [held])
            _ = try lock.query("SELECT 1 FROM leaderboards WHERE id = $1 FOR NO KEY UPDATE", [held])

            let started = ContinuousClock.now
            let refused = try await api.request(
                .post, "/api/v1/scores", body: #"{"player_id": "b", "score": 5, "game_id": "\#(held)"}"#, idempotencyKey: "imp-held-\(held)"
            )
            #expect(refused.status == .serviceUnavailable, "\(refused.json)")
            #expect(refused.headers[.retryAfter] != nil)
            #expect("\(refused.json)".contains("being imported"))
            let removal = try await api.delete("/api/v1/leaderboards/\(held)/player/a")
            #expect(removal.status == .serviceUnavailable, "\(removal.json)")
            // The other board's writes, in one batch with the held board's and on their own.
            let mixed = try await api.post(
                "/api/v1/scores/batch", #"{"scores": [{"player_id": "c", "score": 3, "game_id": "\#(other)"}, {"player_id": "c", "score": 3, "game_id": "\#(held)"}]}"#
            )
            #expect(mixed.status == .serviceUnavailable, "a batch is all or nothing: \(mixed.json)")
            for index in 0..<5 {
                let free = try await api.post("/api/v1/scores", #"{"player_id": "f\#(index)", "score": \#(index), "game_id": "\#(other)"}"#)
                #expect(free.status == .ok, "\(free.json)")
            }
            // Refused at once, not after the statement timeout.
            #expect(ContinuousClock.now - started < .seconds(20))
            #expect(try await Self.state(held, system).players.count == 1)

            try lock.execute("COMMIT")
            let retried = try await api.request(
                .post, "/api/v1/scores", body: #"{"player_id": "b", "score": 5, "game_id": "\#(held)"}"#, idempotencyKey: "imp-held-\(held)"
            )
            #expect(retried.status == .ok, "the key was bound to the refusal: \(retried.json)")
            #expect(try await Self.state(held, system).players.count == 2)
            #expect(try await api.delete("/api/v1/leaderboards/\(held)/player/a").status == .noContent)
            let top = try await api.get("/api/v1/leaderboards/\(other)/top?limit=10")
            #expect(top.entries.map(\.playerID) == ["f4", "f3", "f2", "f1", "f0"])
        }
    }

    /// A process that sees an import's change number before it has learnt of the import's shared
    /// mark finds the change log without that change. It must take up the import's mark, not
    /// publish one of its own: a mark published while the importer rebuilds outlives that
    /// rebuild, and every process then answers 503 for one more, needless, rebuild (a CI run
    /// found the mark still there after the import).
    @Test func aProcessThatSeesTheImportFirstAdoptsItsMark() async throws {
        try await withTestApp { api, system in
            let repository = system.service.repository
            let id = TestEnvironment.uniqueID("imp-seen")
            try await api.createBoard(id, #""layout": {"strategy": "hash", "shards": 4}"#)
            try await api.submit(id, (0..<20).map { ("p\($0)", Int64($0)) })
            // Another importer's commit: its lease is live, so nobody here rebuilds meanwhile.
            let rows = (0..<30).map { ImportedRow(line: $0 + 2, command: ScoreCommand(leaderboardID: id, playerID: "p\($0)", value: 100 + Int64($0))) }
            let next = Mutex(0)
            let commit = try await repository.importScores(
                board: id,
                rows: { next.withLock { index in defer { index += 1 }; return index < rows.count ? rows[index] : nil } },
                leaseHolder: "another-importer", leaseSeconds: 60
            )
            let seq = try #require(commit.seq)
            let board = try #require(try await repository.leaderboard(id))
            try await RebuildMarkChecks.expectCatchUpTakesUpTheMark(board, through: seq, system, "the gap was marked again instead of taking up the import's mark")

            // The importer is gone: this process takes its lease over and rebuilds (here, or in its
            // recovery loop, which runs beside the test: then this process's own mark goes at the
            // loop's next round, so the read may answer 503 for up to a second or so).
            try await RebuildMarkChecks.expectLeaseTakenOverAndRebuilt(id, system)
            #expect(try await system.service.sequencer.catchUp(board, through: seq))
            var top = try await api.get("/api/v1/leaderboards/\(id)/top?limit=3")
            for _ in 0..<100 where top.status == .serviceUnavailable {
                try await Task.sleep(for: .milliseconds(100))
                top = try await api.get("/api/v1/leaderboards/\(id)/top?limit=3")
            }
            #expect(top.status == .ok, "\(top.json)")
            #expect(top.entries.map(\.playerID) == ["p29", "p28", "p27"])
        }
    }

    /// Under `increment`, the first row whose running sum leaves ±2^53 is named, and nothing is written.
    @Test func anIncrementOutOfRangeNamesItsLine() async throws {
        try await withTestApp { api, system in
            let board = TestEnvironment.uniqueID("imp-range")
            try await api.createBoard(board, #""update_mode": "increment""#)
            try await api.submit(board, [("a", 9_007_199_254_740_000)])
            let path = try Self.file("player_id,score\nb,5\na,900\na,92\na,1\nc,2\n", suffix: "csv")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let before = try await Self.state(board, system)
            await #expect {
                _ = try await Self.importFile(path, format: .csv, board: board, system)
            } throws: { error in
                guard let error = error as? ImportRows.RowError else { return false }
                return error.line == 4 && error.message.contains("would move the score 9007199254740900")
            }
            #expect(try await Self.state(board, system) == before)
        }
    }

    /// An import while a writer submits to the same board (other players): every acknowledged
    /// write stays, every imported row lands, and the rebuilt view equals PostgreSQL.
    @Test func anImportDuringWritesKeepsEveryAcknowledgedWrite() async throws {
        try await withTestApp { api, system in
            let board = TestEnvironment.uniqueID("imp-live")
            try await api.createBoard(board, #""max_entries": 0, "layout": {"strategy": "hash", "shards": 4}"#)
            let rows = (0..<20_000).map { ("f\($0)", Int64(($0 * 7919) % 10_000)) }
            let path = try Self.file("player_id,score\n" + rows.map { "\($0.0),\($0.1)" }.joined(separator: "\n"), suffix: "csv")
            defer { try? FileManager.default.removeItem(atPath: path) }
            // The writer goes on until the import has returned and it has written 20 more times
            // (bounded by 400 steps and 60 s), so some of its writes land before, during and after.
            let imported = Mutex(false)
            let writer = Task { () -> (acknowledged: [String: Int64], attempted: Set<String>, afterImport: Int, refused: [String: Int]) in
                var acknowledged: [String: Int64] = [:]
                var refused: [String: Int] = [:]
                var attempted: Set<String> = []
                var afterImport = 0
                let deadline = ContinuousClock.now + .seconds(60)
                for step in 0..<400 where ContinuousClock.now < deadline && afterImport < 20 {
                    let player = "w\(step % 50)"
                    let done = imported.withLock { $0 }
                    attempted.insert(player)
                    let response = try await api.post("/api/v1/scores", #"{"player_id": "\#(player)", "score": \#(step), "game_id": "\#(board)"}"#)
                    if response.status == .ok || response.status == .created { acknowledged[player] = Int64(step) }
                    if done { afterImport += 1 }
                    if response.status != .ok && response.status != .created { refused["\(response.status.code)", default: 0] += 1 }
                    if Task.isCancelled { break }
                }
                return (acknowledged, attempted, afterImport, refused)
            }
            try await Task.sleep(for: .milliseconds(200))
            let report = try await Self.importFile(path, format: .csv, board: board, system)
            imported.withLock { $0 = true }
            let (acknowledged, attempted, afterImport, refused) = try await writer.value
            print("import during writes: \(acknowledged.count) players acknowledged, \(afterImport) writes after the import, refused by status: \(refused)")
            #expect(report.rows == 20_000)
            #expect(afterImport > 0, "the writer did not write after the import within 60 s")
            #expect(!acknowledged.isEmpty)
            let stored = try await system.postgres.query(
                "SELECT player_id, score FROM player_scores WHERE leaderboard_id = $1", [board]
            ).rows
            var scores: [String: Int64] = [:]
            for row in stored { scores[row[0] ?? ""] = Int64(row[1] ?? "") }
            // Every imported row and every acknowledged write is there, and nothing else.
            let writers = Set(scores.keys.filter { $0.hasPrefix("w") })
            #expect(Set(scores.keys).subtracting(writers) == Set(rows.map(\.0)))
            #expect(writers.isSubset(of: attempted) && Set(acknowledged.keys).isSubset(of: writers))
            for (player, score) in acknowledged { #expect(scores[player] == score, "\(player)") }
            for (player, score) in rows.prefix(500) { #expect(scores[player] == score, "\(player)") }
            // The view: every player, in PostgreSQL's order (reads may answer 503 while a last
            // catch-up or rebuild runs). Its last 100 ranks and one player's rank.
            var reference = ReferenceBoard(order: .desc, mode: .replace)
            for (player, score) in scores { reference.submit(player, score) }
            let expected = reference.ranked()
            let total = expected.count
            let deadline = ContinuousClock.now + .seconds(30)
            var checked = false
            while !checked, ContinuousClock.now < deadline {
                let page = try await api.get("/api/v1/leaderboards/\(board)/range?start=\(total - 99)&end=\(total)")
                if page.status == .serviceUnavailable {
                    try await Task.sleep(for: .milliseconds(200))
                    continue
                }
                #expect(page.status == .ok, "\(page.json)")
                #expect(page.integer("total") == Int64(total))
                #expect(page.entries.map(\.playerID) == expected.suffix(100).map(\.playerID))
                let player = try await api.get("/api/v1/leaderboards/\(board)/player/f123")
                #expect(player.entry?.rank == expected.first { $0.playerID == "f123" }?.rank)
                checked = true
            }
            #expect(checked, "the board answered 503 for 30 s after the import")
        }
    }
}
