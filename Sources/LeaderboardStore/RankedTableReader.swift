import LeaderboardCore
import PostgresClient

/// Reads of one board's official snapshot or one of its archived periods, all on one connection
/// inside one REPEATABLE READ transaction (``PostgresScoreRepository/readRanked(_:board:_:)``):
/// they see the same snapshot even when a sync pass replaces it between two of them, so a rank
/// read first and the entry read at that rank are of one table.
public struct RankedTableReader {
    let connection: PGConnection
    public let table: RankedTable
    public let board: String

    /// How many players the table ranks, and as of when (the snapshot's time, or the period's
    /// end); nil when there is no snapshot, or no such archived period.
    public func head() throws -> (players: Int, asOf: String)? {
        let sql =
            switch table {
            case .snapshot:
                "SELECT player_count, \(PostgresScoreRepository.utc("taken_at")) FROM board_snapshots WHERE leaderboard_id = $1"
            case .archive:
                "SELECT player_count, \(PostgresScoreRepository.utc("ended_at")) FROM leaderboard_periods WHERE leaderboard_id = $1 AND period = $2"
            }
        guard let row = try connection.query(sql, [board] + table.parameters).rows.first else { return nil }
        return (Int(try row.int64(0)), try row.text(1))
    }

    /// Ranks first…last (1-based), with usernames.
    public func entries(first: Int, last: Int) throws -> [LeaderboardEntry] {
        guard first <= last else { return [] }
        let rows = try connection.query(
            """
            SELECT e.rank, e.player_id, e.score, p.username FROM \(table.name) e LEFT JOIN players p ON p.player_id = e.player_id
            WHERE e.leaderboard_id = $1 AND \(table.filter(parameter: 4)) AND e.rank BETWEEN $2 AND $3 ORDER BY e.rank
            """,
            [board, String(first), String(last)] + table.parameters
        )
        return try Self.entries(rows)
    }

    /// The player's rank, nil when absent.
    public func rank(of player: String) throws -> Int? {
        let rows = try connection.query(
            "SELECT e.rank FROM \(table.name) e WHERE e.leaderboard_id = $1 AND e.player_id = $2 AND \(table.filter(parameter: 3))",
            [board, player] + table.parameters
        )
        return try rows.rows.first.map { Int(try $0.int64(0)) }
    }

    /// The players of `ids` that the table ranks, in rank order, with usernames.
    public func players(_ ids: [String]) throws -> [LeaderboardEntry] {
        let rows = try connection.query(
            """
            SELECT e.rank, e.player_id, e.score, p.username FROM \(table.name) e LEFT JOIN players p ON p.player_id = e.player_id
            WHERE e.leaderboard_id = $1 AND e.player_id = ANY($2::text[]) AND \(table.filter(parameter: 3)) ORDER BY e.rank
            """,
            [board, PGArray.text(ids)] + table.parameters
        )
        return try Self.entries(rows)
    }

    /// For each of `scores`, how many players rank with a strictly better score: the first rank
    /// holding that score, less one (ranks follow the board's order, so every better score ranks
    /// before it). Scores nobody holds are left out.
    public func betterCounts(_ scores: [Int64]) throws -> [Int64: Int] {
        guard !scores.isEmpty else { return [:] }
        let rows = try connection.query(
            """
            SELECT e.score, min(e.rank) FROM \(table.name) e
            WHERE e.leaderboard_id = $1 AND e.score = ANY($2::bigint[]) AND \(table.filter(parameter: 3)) GROUP BY e.score
            """,
            [board, PGArray.int64(scores)] + table.parameters
        )
        var counts: [Int64: Int] = [:]
        for row in rows.rows { counts[try row.int64(0)] = Int(try row.int64(1)) - 1 }
        return counts
    }

    private static func entries(_ rows: PGRows) throws -> [LeaderboardEntry] {
        try rows.rows.map { LeaderboardEntry(rank: Int(try $0.int64(0)), playerID: try $0.text(1), score: try $0.int64(2), username: $0[3]) }
    }
}

extension PostgresScoreRepository {
    /// Runs `body`'s reads of the board's snapshot or archived period in one REPEATABLE READ
    /// READ ONLY transaction (see ``RankedTableReader``).
    public func readRanked<T: Sendable>(
        _ table: RankedTable, board id: String, _ body: @escaping @Sendable (RankedTableReader) throws -> T
    ) async throws -> T {
        try await readPool.withConnection { connection in
            try connection.transaction("ISOLATION LEVEL REPEATABLE READ READ ONLY") { connection in
                try body(RankedTableReader(connection: connection, table: table, board: id))
            }
        }
    }
}
