import Foundation
import LeaderboardCore
import PostgresClient

/// Consistent snapshots for rebuilds, the official snapshot (source=batch) and ranked reads of it and of archives.
extension PostgresScoreRepository {
    /// One consistent snapshot of a board for a rebuild: its row, its best `limit` players (as
    /// members: ``StoredBoard/member(_:tie:)``, what the shards hold) in
    /// the board's order (every player, in no particular order, when `limit` is nil), with
    /// usernames, the newest event id and the number of the last view change they include, all
    /// from one transaction.
    public func snapshot(board id: String, limit: Int?, pace: Double = Double(snapshotPace)) async throws -> BoardSnapshot? {
        try await readPool.withConnection { connection in
            try connection.transaction("ISOLATION LEVEL REPEATABLE READ READ ONLY") { connection in
                guard let row = try connection.query("SELECT \(Self.lockedColumns) FROM leaderboards WHERE id = $1", [id]).rows.first else {
                    return nil
                }
                let locked = try Self.locked(from: row)
                let board = locked.board
                let order = board.config.sortOrder.sqlOrder("s.")
                // Without a limit the order does not matter, and leaving it out lets PostgreSQL
                // scan and hash-join instead of walking the score index (about twice as fast).
                // Streamed with COPY (a 1M-row board: 1.5 s against 2.5 s through a cursor's
                // pages), with a rest after every page of rows as long as the page took (the
                // pace): the server stops once the socket's buffers are full, so a big board's
                // snapshot leaves the cores to the other boards' commits.
                // (One statement however long the board: bounded, but not by the 30 s default.)
                try connection.execute("SET LOCAL statement_timeout = '30min'")
                var entries: [LeaderboardEntry] = []
                var pageStarted = ContinuousClock.now
                try connection.copyOut(
                    """
                    COPY (SELECT s.player_id, s.score, p.username, s.tie_key FROM player_scores s LEFT JOIN players p ON p.player_id = s.player_id
                    WHERE s.leaderboard_id = \(try connection.literal(id)) \(limit.map { "ORDER BY \(order) LIMIT \($0)" } ?? "")) TO STDOUT
                    """
                ) { row in
                    guard row.count == 4, let player = row[0], let score = row[1].flatMap({ Int64($0) }), let tie = row[3].flatMap({ Int64($0) }) else {
                        throw PGError(.decoding, "a snapshot row of board \(id) is malformed")
                    }
                    entries.append(LeaderboardEntry(rank: entries.count + 1, playerID: board.member(player, tie: tie), score: score, username: row[2]))
                    if entries.count % Self.snapshotPage == 0, pace > 0 {
                        let took = ContinuousClock.now - pageStarted
                        usleep(UInt32(clamping: Int64(Double(took.components.seconds * 1_000_000 + took.components.attoseconds / 1_000_000_000_000) * pace)))
                        pageStarted = ContinuousClock.now
                    }
                }
                let last = try connection.query("SELECT coalesce(max(id), 0) FROM score_events WHERE leaderboard_id = $1", [id])
                return BoardSnapshot(board: board, entries: entries, lastEventID: try last.rows[0].int64(0), seq: locked.seq)
            }
        }
    }

    /// Rows per page of a rebuild's snapshot, and the rest after each page (times the page's time).
    static let snapshotPage = 50_000
    public static let snapshotPace = 1

    // MARK: - Official snapshots and sync

    /// SyncToDatabase: computes the board's standings in its total order (a window function over
    /// the score index) and stores them as the board's official snapshot, replacing the last one.
    public func takeSnapshot(board id: String) async throws -> SnapshotInfo? {
        try await readPool.withConnection { connection in
            try connection.transaction("ISOLATION LEVEL REPEATABLE READ") { connection in
                try Self.lockSnapshots(board: id, on: connection)
                return try Self.writeSnapshot(board: id, on: connection)
            }
        }
    }

    /// The board's official snapshot, taken now if it has none yet (the first `source=batch` read
    /// of a board no sync pass has reached). Concurrent callers take it once: they queue on an
    /// advisory lock and then find it.
    public func snapshotTakingIfMissing(board id: String) async throws -> SnapshotInfo? {
        if let info = try await snapshotInfo(board: id) { return info }
        return try await readPool.withConnection { connection in
            try connection.transaction { connection -> SnapshotInfo? in
                try Self.lockSnapshots(board: id, on: connection)
                if let info = try Self.snapshotInfo(board: id, on: connection) { return info }
                return try Self.writeSnapshot(board: id, on: connection)
            }
        }
    }

    /// Serializes the writers of a board's official snapshot (sync passes, first batch reads,
    /// resets), before any row lock: a transaction-scoped advisory lock.
    static func lockSnapshots(board id: String, on connection: PGConnection) throws {
        try connection.query("SELECT pg_advisory_xact_lock(4242002, hashtext($1))", [id])
    }

    static func writeSnapshot(board id: String, on connection: PGConnection) throws -> SnapshotInfo? {
        // No row lock: commits hold the board's row (FOR NO KEY UPDATE) and update it, so a lock here
        // would wait for them or, in REPEATABLE READ, fail; the snapshot is consistent without one, and
        // a delete meanwhile fails the insert (foreign key).
        guard let row = try connection.query("SELECT sort_order FROM leaderboards WHERE id = $1", [id]).rows.first else {
            return nil
        }
        let order = (SortOrder(rawValue: try row.text(0)) ?? .desc).sqlOrder()
        // One statement ranks and writes every player: minutes on a 10M-player board, far past the
        // statement timeout that bounds the request path (a 10M sync pass failed on it).
        try connection.execute("SET LOCAL statement_timeout = 0")
        let last = try connection.query("SELECT coalesce(max(id), 0) FROM score_events WHERE leaderboard_id = $1", [id]).rows[0].int64(0)
        try connection.query("DELETE FROM board_snapshots WHERE leaderboard_id = $1", [id])
        let taken = try connection.query(
            "INSERT INTO board_snapshots VALUES ($1, now(), 0, $2) RETURNING \(Self.utc("taken_at"))",
            [id, String(last)]
        )
        let inserted = try connection.query(
            """
            INSERT INTO snapshot_entries (leaderboard_id, rank, player_id, score)
            SELECT leaderboard_id, row_number() OVER (ORDER BY \(order)), player_id, score
            FROM player_scores WHERE leaderboard_id = $1
            """,
            [id]
        )
        try connection.query("UPDATE board_snapshots SET player_count = $2 WHERE leaderboard_id = $1", [id, String(inserted.affected)])
        return SnapshotInfo(asOf: try taken.rows[0].text(0), players: inserted.affected, lastEventID: last)
    }

    /// The board's official snapshot: when it was taken and how many players it ranks; nil if none yet.
    public func snapshotInfo(board id: String) async throws -> SnapshotInfo? {
        try await readPool.withConnection { try Self.snapshotInfo(board: id, on: $0) }
    }

    private static func snapshotInfo(board id: String, on connection: PGConnection) throws -> SnapshotInfo? {
        let rows = try connection.query(
            """
            SELECT \(Self.utc("taken_at")), player_count, last_event_id
            FROM board_snapshots WHERE leaderboard_id = $1
            """,
            [id]
        )
        guard let row = rows.rows.first else { return nil }
        return SnapshotInfo(asOf: try row.text(0), players: Int(try row.int64(1)), lastEventID: try row.int64(2))
    }
}
