import Foundation
import LeaderboardCore
import Logging
import PostgresClient

/// The source of truth: boards, current scores, the event log and archived periods in PostgreSQL.
///
/// Every statement is parameterized; each method that writes is one transaction.
public final class PostgresScoreRepository: Sendable {
    /// The write path's connections (commits, removals, resets) and short lookups.
    public let pool: PGConnectionPool
    /// Connections for long reads — rebuild snapshots, official snapshots, `source=batch` and
    /// archive reads, the sync worker's scans — so they never hold a connection a commit needs.
    public let readPool: PGConnectionPool

    public init(pool: PGConnectionPool, readPool: PGConnectionPool? = nil) {
        self.pool = pool
        self.readPool = readPool ?? pool
    }

    // MARK: - Schema

    /// Applies the migrations not applied yet. Safe to run from several processes at once.
    public func migrate() async throws {
        try await pool.withConnection { connection in
            try connection.transaction { connection in
                try connection.query("SELECT pg_advisory_xact_lock(4242001)")
                try connection.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                let applied = Set(try connection.query("SELECT version FROM schema_migrations").rows.map { try $0.int64(0) })
                for migration in Migrations.all where !applied.contains(Int64(migration.version)) {
                    try connection.execute(migration.sql)
                    try connection.query("INSERT INTO schema_migrations (version) VALUES ($1)", [String(migration.version)])
                }
            }
        }
    }

    public func ping() async throws {
        try await pool.query("SELECT 1")
    }

    // MARK: - Boards

    static let boardColumns =
        """
        id, name, sort_order, reset_period, max_entries, update_mode, layout::text, current_period, placement::text, layout_epoch,
        floor(extract(epoch FROM period_started_at))::bigint, incarnation, migration_target::text, tie_break
        """

    /// Stores a new board with the node of each shard, its first period beginning at `startedAt`
    /// (Unix seconds). Throws `leaderboard_exists` when the id is taken.
    public func createLeaderboard(_ config: LeaderboardConfig, placement: [String], startedAt: Double) async throws -> StoredBoard {
        let layout = String(decoding: try JSONEncoder().encode(config.layout), as: UTF8.self)
        let nodes = String(decoding: try JSONEncoder().encode(placement), as: UTF8.self)
        let rows = try await pool.query(
            """
            INSERT INTO leaderboards (id, name, sort_order, reset_period, max_entries, update_mode, layout, placement, period_started_at, tie_break)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, to_timestamp($9::float8), $10)
            ON CONFLICT (id) DO NOTHING
            RETURNING \(Self.boardColumns)
            """,
            [
                config.id, config.name, config.sortOrder.rawValue, config.resetPeriod.rawValue, String(config.maxEntries),
                config.updateMode.rawValue, layout, nodes, String(startedAt), config.tieBreak.rawValue,
            ]
        )
        guard let row = rows.rows.first else { throw LeaderboardError.leaderboardExists(config.id) }
        return try Self.board(from: row)
    }

    public func listLeaderboards() async throws -> [StoredBoard] {
        try await pool.query("SELECT \(Self.boardColumns) FROM leaderboards ORDER BY id").rows.map(Self.board(from:))
    }

    /// The boards of the given ids that exist, in one query.
    public func leaderboards(_ ids: [String]) async throws -> [StoredBoard] {
        try await pool.query("SELECT \(Self.boardColumns) FROM leaderboards WHERE id = ANY($1::text[])", [PGArray.text(ids)]).rows.map(Self.board(from:))
    }

    public func leaderboard(_ id: String) async throws -> StoredBoard? {
        try await pool.query("SELECT \(Self.boardColumns) FROM leaderboards WHERE id = $1", [id]).rows.first.map(Self.board(from:))
    }

    /// Deletes a board with its scores, events and archives. Returns false when it did not exist.
    public func deleteLeaderboard(_ id: String) async throws -> Bool {
        try await pool.withConnection { connection in
            try connection.transaction { connection in
                let found = try connection.query("SELECT id FROM leaderboards WHERE id = $1 FOR UPDATE", [id])
                guard !found.isEmpty else { return false }
                // Its Redis keys are dropped after the commit; until that is done, this row says so.
                // (And the keys of the epoch a layout change was building, if one ran.)
                try connection.query(
                    """
                    INSERT INTO board_removals (leaderboard_id, incarnation, layout, placement, epoch, tie_break)
                    SELECT id, incarnation, layout::text, placement::text, layout_epoch, tie_break FROM leaderboards WHERE id = $1
                    UNION ALL
                    SELECT id, incarnation, (migration_target->'layout')::text, (migration_target->'placement')::text,
                        (migration_target->>'epoch')::int, tie_break
                    FROM leaderboards WHERE id = $1 AND migration_target IS NOT NULL
                    ON CONFLICT DO NOTHING
                    """,
                    [id]
                )
                try connection.query("DELETE FROM score_events WHERE leaderboard_id = $1", [id])
                try connection.query("DELETE FROM archived_scores WHERE leaderboard_id = $1", [id])
                // (No foreign key cascades to player_scores: migration 13.)
                try connection.query("DELETE FROM player_scores WHERE leaderboard_id = $1", [id])
                try connection.query("DELETE FROM leaderboards WHERE id = $1", [id])
                return true
            }
        }
    }

    /// Deleted boards whose Redis keys may remain (as rows with only what names their keys).
    public func pendingRemovals() async throws -> [StoredBoard] {
        // Oldest attempt first; a row that fails goes to the back (see ``removalFailed(_:)``).
        // A retired layout epoch's row waits until no process can still read that epoch (`not_before`).
        try await pool.query(
            "SELECT leaderboard_id, incarnation, layout, placement, epoch, tie_break FROM board_removals WHERE not_before <= now() ORDER BY removed_at LIMIT 100"
        ).rows.compactMap { row in
            guard let layout = try? JSONDecoder().decode(Layout.self, from: Data(try row.text(2).utf8)) else { return nil }
            let placement = (try? JSONDecoder().decode([String].self, from: Data(try row.text(3).utf8))) ?? []
            return StoredBoard(
                config: LeaderboardConfig(id: try row.text(0), tieBreak: TieBreak(rawValue: try row.text(5)) ?? .playerID, layout: layout), period: 1,
                placement: placement, epoch: Int(try row.int64(4)),
                incarnation: try row.int64(1)
            )
        }
    }

    /// Dropping the keys failed this time: the row goes behind the others.
    public func removalFailed(_ board: StoredBoard) async throws {
        try await pool.query(
            "UPDATE board_removals SET removed_at = now() WHERE leaderboard_id = $1 AND incarnation = $2 AND epoch = $3",
            [board.config.id, String(board.incarnation), String(board.epoch)]
        )
    }

    /// The deleted board's Redis keys are gone.
    public func removalDone(_ board: StoredBoard) async throws {
        try await pool.query(
            "DELETE FROM board_removals WHERE leaderboard_id = $1 AND incarnation = $2 AND epoch = $3",
            [board.config.id, String(board.incarnation), String(board.epoch)]
        )
    }

    // MARK: - Decoding

    static func board(from row: [String?]) throws -> StoredBoard {
        guard let order = SortOrder(rawValue: try row.text(2)), let period = ResetPeriod(rawValue: try row.text(3)),
            let mode = UpdateMode(rawValue: try row.text(5)), let tieBreak = TieBreak(rawValue: try row.text(13)),
            let layout = try? JSONDecoder().decode(Layout.self, from: Data(try row.text(6).utf8))
        else { throw PGError(.decoding, "leaderboards row is malformed") }
        let config = LeaderboardConfig(
            id: try row.text(0), name: try row.text(1), sortOrder: order, resetPeriod: period,
            maxEntries: Int(try row.int64(4)), updateMode: mode, tieBreak: tieBreak, layout: layout
        )
        let placement = (try? JSONDecoder().decode([String].self, from: Data(try row.text(8).utf8))) ?? []
        let migration = try row[12].map { text -> LayoutTarget in
            guard let target = try? JSONDecoder().decode(LayoutTarget.self, from: Data(text.utf8)) else {
                throw PGError(.decoding, "leaderboards.migration_target is malformed")
            }
            return target
        }
        return StoredBoard(
            config: config, period: Int(try row.int64(7)), placement: placement, epoch: Int(try row.int64(9)),
            periodStartedAt: try row.int64(10), incarnation: try row.int64(11), migration: migration
        )
    }
}
