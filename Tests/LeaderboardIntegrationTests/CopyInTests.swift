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
