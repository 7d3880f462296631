import LeaderboardApp
import LeaderboardTestSupport
import PostgresClient
import Testing

/// `COPY … FROM STDIN` through libpq (the bulk import's way into PostgreSQL).
@Suite struct CopyInTests {
    static func connection() throws -> PGConnection {
        try PGConnection(configuration: TestEnvironment.config.postgresPool.connection)
    }

    @Test func awkwardTextArrivesUnchangedAndManyRowsInChunks() throws {
        let connection = try Self.connection()
        defer { connection.close() }
        try connection.transaction { connection in
            try connection.execute("CREATE TEMP TABLE copied (line bigint, player text, score bigint, username text) ON COMMIT DROP")
            let awkward: [String?] = ["back\\slash", "tab\tin", "new\nline", "cr\rx", "\\N", "\\.", "\\x41", "ünï €", "", nil]
            var rows: [[String?]] = awkward.enumerated().map { [String($0.offset), "p\($0.offset)", "-\($0.offset)", $0.element] }
            // Over 1 MB in all, so the rows go in several chunks.
            for line in awkward.count..<60_000 { rows.append([String(line), "player-\(line)", String(line * 3), "name \(line)"]) }
            #expect(try connection.copyIn("COPY copied (line, player, score, username) FROM STDIN", rows: rows) == 60_000)
            let back = try connection.query("SELECT username FROM copied WHERE line < $1 ORDER BY line", [String(awkward.count)])
            #expect(back.rows.map { $0[0] } == awkward)
            let sums = try connection.query("SELECT count(*), sum(score) FROM copied WHERE line >= $1", [String(awkward.count)])
            let expected = (awkward.count..<60_000).reduce(0) { $0 + $1 * 3 }
            #expect(sums.rows[0] == [String(60_000 - awkward.count), String(expected)])
        }
    }

    /// `COPY … TO STDOUT` (a rebuild's snapshot): every row back as it was stored, in chunks; a
    /// refused statement and a row the reader refuses leave the connection usable.
    @Test func rowsComeBackUnchangedThroughCopyOut() throws {
        let connection = try Self.connection()
        defer { connection.close() }
        try connection.transaction { connection in
            try connection.execute("CREATE TEMP TABLE stored (line bigint, username text) ON COMMIT DROP")
            let awkward: [String?] = ["back\\slash", "tab\tin", "new\nline", "cr\rx", "\\N", "\\.", "\\x41", "ünï €", "", nil, "\u{8}\u{C}\u{B}"]
            var rows: [[String?]] = awkward.enumerated().map { [String($0.offset), $0.element] }
            for line in awkward.count..<50_000 { rows.append([String(line), "name \(line)"]) }
            try connection.copyIn("COPY stored (line, username) FROM STDIN", rows: rows)
            var back: [[String?]] = []
            let count = try connection.copyOut("COPY (SELECT line, username FROM stored ORDER BY line) TO STDOUT") { back.append($0) }
            #expect(count == rows.count)
            #expect(back == rows)
            // The same board id quoted by libpq, as a snapshot names it.
            #expect(try connection.literal("it's") == "'it''s'")
            var quoted: [[String?]] = []
            try connection.copyOut("COPY (SELECT \(try connection.literal("o'k")) AS x) TO STDOUT") { quoted.append($0) }
            #expect(quoted == [["o'k"]])
        }
        struct Refused: Error {}
        var seen = 0
        #expect(throws: Refused.self) {
            try connection.copyOut("COPY (SELECT g FROM generate_series(1, 20000) g) TO STDOUT") { _ in
                seen += 1
                if seen == 3 { throw Refused() }
            }
        }
        #expect(seen == 3)
        #expect(!connection.isBroken)
        #expect(throws: PGError.self) { try connection.copyOut("SELECT 1") { _ in } }
        #expect(throws: PGError.self) { try connection.copyOut("COPY (SELECT 1/0) TO STDOUT") { _ in } }
        // An error after some rows were sent (as a statement timeout mid-snapshot would be).
        var before: [[String?]] = []
        do {
            try connection.copyOut("COPY (SELECT 12 / (g - 3) FROM generate_series(1, 5) g) TO STDOUT") { before.append($0) }
            Issue.record("a COPY that failed midway succeeded")
        } catch let error as PGError {
            #expect(error.kind == .query)
            #expect(error.sqlState == "22012", "\(error)")
        }
        #expect(before == [["-6"], ["-12"]])
        #expect(!connection.isBroken)
        // A binary COPY is refused, and that connection is not used again.
        let binary = try Self.connection()
        defer { binary.close() }
        #expect(throws: PGError.self) { try binary.copyOut("COPY (SELECT 1) TO STDOUT (FORMAT binary)") { _ in } }
        #expect(binary.isBroken)
        #expect(try connection.query("SELECT 2").rows == [["2"]])
    }

    @Test func aBadRowStoresNothingAndTheConnectionStaysUsable() throws {
        let connection = try Self.connection()
        defer { connection.close() }
        try connection.execute("CREATE TEMP TABLE strict_copy (line bigint PRIMARY KEY, score bigint NOT NULL)")
        // The bad row first, then more than 1 MB: the error comes back while rows are still sent.
        var rows: [[String?]] = [["1", "not a number"]]
        for line in 2..<100_000 { rows.append([String(line), String(line)]) }
        do {
            try connection.copyIn("COPY strict_copy (line, score) FROM STDIN", rows: rows)
            Issue.record("a COPY with a bad row succeeded")
        } catch let error as PGError {
            #expect(error.kind == .query)
            #expect(error.sqlState == "22P02", "\(error)")
        }
        #expect(!connection.isBroken)
        #expect(try connection.query("SELECT count(*) FROM strict_copy").rows[0] == ["0"])
        let duplicate: [[String?]] = [["1", "10"], ["1", "11"]]
        #expect(throws: PGError.self) { try connection.copyIn("COPY strict_copy (line, score) FROM STDIN", rows: duplicate) }
        #expect(try connection.query("SELECT count(*) FROM strict_copy").rows[0] == ["0"])
        #expect(try connection.copyIn("COPY strict_copy (line, score) FROM STDIN", rows: [["5", "50"]]) == 1)
        // Not a COPY statement, or not text format: an error, and the connection still answers.
        #expect(throws: PGError.self) { try connection.copyIn("SELECT 1", rows: [[String?]]()) }
        #expect(throws: PGError.self) { try connection.copyIn("COPY strict_copy (line, score) FROM STDIN (FORMAT binary)", rows: [["6", "60"]]) }
        #expect(try connection.query("SELECT score FROM strict_copy").rows == [["50"]])
    }
}
