import LeaderboardCore
import Testing

@Suite struct ImportRowsTests {
    /// Every row of `text`, with its line number; the first error, if any.
    private func read(_ format: ImportRows.Format, _ text: String) -> (rows: [(Int, ScoreCommand)], error: ImportRows.RowError?) {
        var reader = ImportRows(format: format, board: "b1")
        var rows: [(Int, ScoreCommand)] = []
        // Split on the byte, as a file reader does ("\r\n" is one Character in Swift).
        for (index, bytes) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            do {
                if let row = try reader.row(Substring(bytes), number: index + 1) { rows.append((index + 1, row)) }
            } catch {
                return (rows, error)
            }
        }
        return (rows, nil)
    }

    @Test func csvWithAndWithoutUsernames() {
        let plain = read(.csv, "player_id,score\np1,10\r\np2,-5\n\n")
        #expect(plain.error == nil)
        #expect(plain.rows.map(\.0) == [2, 3])
        #expect(plain.rows.map(\.1) == [
            ScoreCommand(leaderboardID: "b1", playerID: "p1", value: 10), ScoreCommand(leaderboardID: "b1", playerID: "p2", value: -5),
        ])
        let named = read(.csv, "\u{FEFF}Player_ID, score ,username\np1,10,\"Ann, \"\"the\"\" Great\"\np2,3\np3,4,")
        #expect(named.error == nil)
        #expect(named.rows.map(\.1.username) == ["Ann, \"the\" Great", nil, nil])
        #expect(named.rows.map(\.1.value) == [10, 3, 4])
    }

    @Test func csvScoresAndDelimitersNextToCombiningMarks() {
        let result = read(.csv, "player_id,score,username\np1,+5\np2,05\np3, -0 \np4,7,\u{0301}x")
        #expect(result.error == nil)
        #expect(result.rows.map(\.1.value) == [5, 5, 0, 7])
        // A comma followed by a combining mark is one Character in Swift, but still a delimiter.
        #expect(result.rows.last?.1.username == "\u{0301}x")
        let huge = read(.csv, "player_id,score\np1,123456789012345678901")
        #expect(huge.error?.message.contains("outside") == true, "\(huge.error?.description ?? "no error")")
        let word = read(.csv, "player_id,score\np1,1e3")
        #expect(word.error?.message.contains("not an integer") == true)
    }

    /// The header is required: a CSV file without one (empty, or blank lines only) is refused at
    /// its end; an empty NDJSON file holds no rows.
    @Test func aCSVFileWithoutItsHeaderIsRefusedAtItsEnd() throws {
        for (text, line) in [("", 1), ("\n\n", 3)] {
            var reader = ImportRows(format: .csv, board: "b1")
            let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
            for (index, bytes) in lines.enumerated() { #expect(try reader.row(Substring(bytes), number: index + 1) == nil) }
            #expect(throws: ImportRows.RowError.self) { try reader.finish(lines: lines.count) }
            do { try reader.finish(lines: lines.count) } catch { #expect(error.line == line && error.message.contains("no header"), "\(error)") }
        }
        var headed = ImportRows(format: .csv, board: "b1")
        #expect(try headed.row("player_id,score", number: 1) == nil)
        #expect(throws: Never.self) { try headed.finish(lines: 1) }
        #expect(throws: Never.self) { try ImportRows(format: .ndjson, board: "b1").finish(lines: 0) }
    }

    @Test func badCSVRowsNameTheirLine() {
        let cases: [(String, Int, String)] = [
            ("score,player_id\np1,1", 1, "header"),
            ("player_id,score\np1,1\np2,1.5", 3, "not an integer"),
            ("player_id,score\np1,", 2, "score is required"),
            ("player_id,score\np1,1,extra", 2, "expected 2 fields"),
            ("player_id,score\np1,9007199254740993", 2, "outside"),
            ("player_id,score\n,1", 2, "player_id"),
            ("player_id,score\n\"p1,1", 2, "not closed"),
            ("player_id,score\n\"p1\"x,1", 2, "closing quote"),
            ("player_id,score\np\"1,1", 2, "quote inside"),
            ("player_id,score,username\np1,1,\(String(repeating: "n", count: 65))", 2, "username"),
        ]
        for (text, line, words) in cases {
            let result = read(.csv, text)
            #expect(result.error?.line == line, "\(text)")
            #expect(result.error?.message.contains(words) == true, "\(text): \(result.error?.description ?? "no error")")
        }
    }

    @Test func ndjsonEventsMayLeaveTheBoardOutButNotNameAnother() {
        let good = read(
            .ndjson,
            """
            {"player_id": "p1", "score": 7, "username": "Ann", "metadata": {"level": 2}}
            {"player_id": "p2", "score": 1, "game_id": "b1"}

            {"player_id": "p3", "score": 2, "leaderboard_id": "b1"}
            """
        )
        #expect(good.error == nil)
        #expect(good.rows.map(\.0) == [1, 2, 4])
        #expect(good.rows.map(\.1.playerID) == ["p1", "p2", "p3"])
        #expect(good.rows[0].1.username == "Ann")
        #expect(good.rows[0].1.metadataJSON == #"{"level":2}"#)
        #expect(good.rows.allSatisfy { $0.1.leaderboardID == "b1" })
        let marked = read(.ndjson, "\u{FEFF}" + #"{"player_id": "p1", "score": 2, "game_id": "b1", "leaderboard_id": "b1"}"#)
        #expect(marked.error == nil)
        #expect(marked.rows.map(\.1.value) == [2])

        let cases: [(String, Int, String)] = [
            (#"{"player_id": "p1", "score": 1}"# + "\n" + #"{"player_id": "p2", "score": 1, "game_id": "other"}"#, 2, "game_id must be 'b1'"),
            (#"{"player_id": "p1", "score": 1, "leaderboard_id": 5}"#, 1, "leaderboard_id must be 'b1'"),
            (#"{"player_id": "p1", "score": 1, "game_id": "b1", "leaderboard_id": "b2"}"#, 1, "leaderboard_id must be 'b1'"),
            (#"{"player_id": "p1", "score": 1.5}"#, 1, "integer"),
            (#"{"player_id": "p1", "score": 1, "colour": "red"}"#, 1, "unknown field"),
            (#"[1, 2]"#, 1, "JSON object"),
            (#"{"player_id": "p1", "#, 1, "not JSON"),
        ]
        for (text, line, words) in cases {
            let result = read(.ndjson, text)
            #expect(result.error?.line == line, "\(text)")
            #expect(result.error?.message.contains(words) == true, "\(text): \(result.error?.description ?? "no error")")
        }
    }

    @Test func theFormatFollowsTheFileName() {
        #expect(ImportRows.Format(fileName: "/tmp/Players.CSV") == .csv)
        #expect(ImportRows.Format(fileName: "events.ndjson") == .ndjson)
        #expect(ImportRows.Format(fileName: "events.jsonl") == .ndjson)
        #expect(ImportRows.Format(fileName: "events.json") == nil)
    }
}
