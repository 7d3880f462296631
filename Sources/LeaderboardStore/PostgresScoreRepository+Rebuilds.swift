import LeaderboardCore
import PostgresClient

/// Rebuild marks shared by every server process (`board_rebuilds`): a process that finds a board's
/// view broken records it; every process reads the marks (and answers 503 for those boards); one
/// process at a time holds a board's rebuild lease and rebuilds it.
extension PostgresScoreRepository {
    /// A lease on a board's rebuild: who holds it, and the newest mark it covers.
    public struct RebuildLease: Sendable, Equatable {
        public var holder: String
        /// When the newest mark was made (PostgreSQL's text, exact to the microsecond).
        public var requestedAt: String
        public var whole: Bool
    }

    /// Records that the board must be rebuilt (whole: every shard; else the shards without
    /// metadata). A mark widens, never narrows. A whole mark made while a rebuild runs asks for
    /// another (it may be of a failure after that rebuild's snapshot); a mark of missing shards
    /// does not (the running rebuild writes them, and a shard lost again afterwards is found
    /// again by the per-second check). Ignored for a board that no longer exists.
    public func requestRebuilds(_ marks: [String: Bool]) async throws {
        guard !marks.isEmpty else { return }
        let ids = marks.keys.sorted()
        try await pool.query(
            """
            INSERT INTO board_rebuilds (leaderboard_id, whole)
            SELECT m.id, m.whole FROM unnest($1::text[], $2::bool[]) AS m(id, whole) JOIN leaderboards l ON l.id = m.id
            ORDER BY m.id
            ON CONFLICT (leaderboard_id) DO UPDATE
            SET whole = board_rebuilds.whole OR EXCLUDED.whole,
                requested_at = CASE WHEN EXCLUDED.whole THEN clock_timestamp() ELSE board_rebuilds.requested_at END
            """,
            [PGArray.text(ids), "{" + ids.map { marks[$0]! ? "t" : "f" }.joined(separator: ",") + "}"]
        )
    }

    /// Every board marked for a rebuild, and whether wholly.
    public func rebuildRequests() async throws -> [String: Bool] {
        var marks: [String: Bool] = [:]
        for row in try await pool.query("SELECT leaderboard_id, whole FROM board_rebuilds").rows {
            marks[try row.text(0)] = try row.bool(1)
        }
        return marks
    }

    /// Takes (or renews) the board's rebuild lease for `holder` unless another's is live; nil when
    /// another process holds it or the board has no mark.
    public func takeRebuildLease(board id: String, holder: String, seconds: Int) async throws -> RebuildLease? {
        let rows = try await pool.query(
            """
            UPDATE board_rebuilds SET holder = $2, lease_until = now() + make_interval(secs => $3)
            WHERE leaderboard_id = $1 AND (holder IS NULL OR holder = $2 OR lease_until < now())
            RETURNING requested_at::text, whole
            """,
            [id, holder, String(seconds)]
        )
        guard let row = rows.rows.first else { return nil }
        return RebuildLease(holder: holder, requestedAt: try row.text(0), whole: try row.bool(1))
    }

    /// Ends a rebuild: the mark goes when no newer one came meanwhile; the lease goes either way.
    /// Returns true when the mark is gone.
    @discardableResult
    public func finishRebuild(board id: String, lease: RebuildLease, rebuilt: Bool) async throws -> Bool {
        if rebuilt {
            let deleted = try await pool.query(
                "DELETE FROM board_rebuilds WHERE leaderboard_id = $1 AND holder = $2 AND requested_at <= $3::timestamptz RETURNING 1",
                [id, lease.holder, lease.requestedAt]
            )
            if !deleted.isEmpty { return true }
        }
        try await pool.query(
            "UPDATE board_rebuilds SET holder = NULL, lease_until = NULL WHERE leaderboard_id = $1 AND holder = $2", [id, lease.holder]
        )
        return false
    }
}
