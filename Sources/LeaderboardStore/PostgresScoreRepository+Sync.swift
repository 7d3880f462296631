import Foundation
import LeaderboardCore
import PostgresClient

/// What the sync worker reads: current scores, leases, reports.
extension PostgresScoreRepository {
    /// The current scores of the board's best `limit` players (everyone when 0), for reconciling
    /// shards, each named by its member (``StoredBoard/member(_:tie:)``).
    public func currentScores(board: StoredBoard, limit: Int) async throws -> [(playerID: String, score: Int64)] {
        let rows = try await readPool.query(
            "SELECT player_id, score, tie_key FROM player_scores WHERE leaderboard_id = $1 ORDER BY \(board.config.sortOrder.sqlOrder()) LIMIT $2",
            [board.config.id, limit > 0 ? String(limit) : nil]
        )
        return try rows.rows.map { (board.member(try $0.text(0), tie: try $0.int64(2)), try $0.int64(1)) }
    }

    /// The scores the real-time view should hold for the players of the given members — those
    /// among the board's best `max_entries` (all players when unlimited) — keyed by each player's
    /// member now (a shard's member of an older tie key is then a stray, and the new one missing),
    /// and the number of the board's last view change they belong to, from one statement (one snapshot).
    public func viewScores(board: StoredBoard, players members: [String]) async throws -> (seq: Int64, scores: [String: Int64]) {
        let inView = board.config.sortOrder == .asc ? "<=" : ">="
        let players = Array(Set(members.map { board.playerID(ofMember: $0) }))
        let rows = try await pool.query(
            """
            SELECT l.change_seq, s.player_id, s.score, s.tie_key FROM leaderboards l
            LEFT JOIN player_scores s ON s.leaderboard_id = l.id AND s.player_id = ANY($2::text[])
                AND (l.max_entries = 0 OR l.cut_score IS NULL OR (s.score, s.tie_key, s.player_id) \(inView) (l.cut_score, coalesce(l.cut_tie, 0), l.cut_player))
            WHERE l.id = $1 AND l.incarnation = $3
            """,
            [board.config.id, PGArray.text(players), String(board.incarnation)]
        )
        // Gone, or deleted and created again: either way not the board being reconciled.
        guard let first = rows.rows.first else { throw LeaderboardError.leaderboardNotFound(board.config.id) }
        var scores: [String: Int64] = [:]
        for row in rows.rows where row[1] != nil { scores[board.member(try row.text(1), tie: try row.int64(3))] = try row.int64(2) }
        return (try first.int64(0), scores)
    }

    public func scores(board id: String, players: [String]) async throws -> [String: Int64] {
        guard !players.isEmpty else { return [:] }
        let rows = try await pool.query(
            "SELECT player_id, score FROM player_scores WHERE leaderboard_id = $1 AND player_id = ANY($2::text[])",
            [id, PGArray.text(players)]
        )
        var scores: [String: Int64] = [:]
        for row in rows.rows { scores[try row.text(0)] = try row.int64(1) }
        return scores
    }

    /// Takes (or renews) the board's sync lease for `holder` unless another holder's lease is live.
    public func acquireSyncLease(board id: String, holder: String, seconds: Int) async throws -> Bool {
        let rows = try await pool.query(
            """
            INSERT INTO sync_leases (leaderboard_id, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
            ON CONFLICT (leaderboard_id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
            WHERE sync_leases.expires_at < now() OR sync_leases.holder = EXCLUDED.holder
            RETURNING holder
            """,
            [id, holder, String(seconds)]
        )
        return !rows.isEmpty
    }

    public func releaseSyncLease(board id: String, holder: String) async throws {
        try await pool.query("DELETE FROM sync_leases WHERE leaderboard_id = $1 AND holder = $2", [id, holder])
    }

    public func storeSyncReport(board id: String, json: String) async throws {
        try await pool.query(
            """
            INSERT INTO sync_reports (leaderboard_id, report, finished_at) VALUES ($1, $2::jsonb, now())
            ON CONFLICT (leaderboard_id) DO UPDATE SET report = EXCLUDED.report, finished_at = EXCLUDED.finished_at
            """,
            [id, json]
        )
    }

    public func syncReport(board id: String) async throws -> String? {
        try await pool.query("SELECT report::text FROM sync_reports WHERE leaderboard_id = $1", [id]).rows.first?[0]
    }

    /// The id of the newest event of the board (any kind), 0 when none.
    public func lastEventID(board: String) async throws -> Int64 {
        let rows = try await pool.query("SELECT coalesce(max(id), 0) FROM score_events WHERE leaderboard_id = $1", [board])
        return try rows.rows[0].int64(0)
    }

}
