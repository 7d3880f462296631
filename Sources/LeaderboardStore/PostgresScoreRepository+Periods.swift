import Foundation
import LeaderboardCore
import PostgresClient

/// Period resets and the archives they leave.
extension PostgresScoreRepository {
    /// Archives the board's current period (scores with their ranks) and starts the next one,
    /// numbering the view's change (it empties).
    ///
    /// The period ends at `time` (Unix seconds), where the next begins. A scheduled reset
    /// (`scheduled`: `time` is a period boundary) happens only if the period began before it, so
    /// several processes applying the same boundary reset once. Returns nil when the board does
    /// not exist or the scheduled reset is not due.
    public func resetLeaderboard(_ id: String, at time: Double, scheduled: Bool) async throws -> PeriodReset? {
        try await pool.withConnection { connection in
            try connection.transaction { connection -> PeriodReset? in
                // The board's snapshot lock first, as every snapshot writer takes it: the reset
                // rewrites the official snapshot, and without it a sync pass's snapshot and the
                // reset would wait on each other (the row lock against the snapshot row).
                try Self.lockSnapshots(board: id, on: connection)
                let found = try connection.query(
                    """
                    SELECT current_period, sort_order, to_timestamp($2::float8) AS ends,
                           NOT $3::boolean OR period_started_at < to_timestamp($2::float8) AS due
                    FROM leaderboards WHERE id = $1 FOR UPDATE
                    """,
                    [id, String(time), scheduled ? "true" : "false"]
                )
                guard let row = found.rows.first, try row.text(3) == "t" else { return nil }
                let period = Int(try row.int64(0))
                let order = (SortOrder(rawValue: try row.text(1)) ?? .desc).sqlOrder()
                let ends = try row.text(2)
                let count = try connection.query("SELECT count(*) FROM player_scores WHERE leaderboard_id = $1", [id]).rows[0].int64(0)
                try connection.query(
                    """
                    INSERT INTO leaderboard_periods (leaderboard_id, period, started_at, ended_at, player_count)
                    SELECT id, current_period, period_started_at, $3::timestamptz, $2 FROM leaderboards WHERE id = $1
                    """,
                    [id, String(count), ends]
                )
                try connection.query(
                    """
                    INSERT INTO archived_scores (leaderboard_id, period, player_id, score, rank, metadata)
                    SELECT leaderboard_id, $2, player_id, score, row_number() OVER (ORDER BY \(order)), metadata
                    FROM player_scores WHERE leaderboard_id = $1
                    """,
                    [id, String(period)]
                )
                try connection.query("DELETE FROM player_scores WHERE leaderboard_id = $1", [id])
                try connection.query(
                    "UPDATE leaderboards SET current_period = current_period + 1, period_started_at = $2::timestamptz, updated_at = now() WHERE id = $1",
                    [id, ends]
                )
                let event = try connection.query(
                    "INSERT INTO score_events (leaderboard_id, player_id, score, event_type, period) VALUES ($1, '*', 0, 'reset', $2) RETURNING id",
                    [id, String(period)]
                )
                let eventID = try event.rows[0].int64(0)
                let locked = try Self.locked(from: try connection.query("SELECT \(Self.lockedColumns) FROM leaderboards WHERE id = $1", [id]).rows[0])
                let step = try Self.numberChange(locked, changes: [], countAfter: 0, lastEventID: eventID, reset: true, on: connection)
                // The official snapshot is of the period just archived: source=batch now reads the
                // new period (empty) until the next sync pass, not the old standings.
                _ = try Self.writeSnapshot(board: id, on: connection)
                return PeriodReset(archived: period, current: period + 1, lastEventID: eventID, step: step)
            }
        }
    }

    /// The archived periods of a board, oldest first.
    public func periods(board id: String) async throws -> [ArchivedPeriod] {
        try await archivedPeriods(board: id, only: nil)
    }

    /// One archived period, nil when the board has no such archive (a primary-key lookup: every
    /// `period=` read asks it).
    public func period(board id: String, period: Int) async throws -> ArchivedPeriod? {
        try await archivedPeriods(board: id, only: period).first
    }

    private func archivedPeriods(board id: String, only period: Int?) async throws -> [ArchivedPeriod] {
        let rows = try await readPool.query(
            """
            SELECT period, \(Self.utc("started_at")), \(Self.utc("ended_at")), player_count
            FROM leaderboard_periods WHERE leaderboard_id = $1 AND ($2::bigint IS NULL OR period = $2::bigint) ORDER BY period
            """,
            [id, period.map(String.init)]
        )
        return try rows.rows.map {
            ArchivedPeriod(period: Int(try $0.int64(0)), startedAt: try $0.text(1), endedAt: try $0.text(2), players: Int(try $0.int64(3)))
        }
    }

    static func utc(_ column: String) -> String {
        "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    }
}
