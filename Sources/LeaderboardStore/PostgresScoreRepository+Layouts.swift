import Foundation
import LeaderboardCore
import PostgresClient

/// Online layout changes (`board_migrations`, and `leaderboards.migration_target`): starting one,
/// its progress and lease, the switch, and giving one up.
///
/// The target layout is written into the board's row in the transaction that starts the change,
/// under the row's lock. Every commit reads that row under the same lock, so every change
/// numbered after the start knows it must reach the new epoch's shards too; the switch is one
/// transaction under the lock as well, after which commits know only the new layout.
extension PostgresScoreRepository {
    /// One layout change of a board, as recorded.
    public struct LayoutMigration: Sendable, Equatable {
        public var epoch: Int
        public var fromEpoch: Int
        public var layout: Layout
        public var placement: [String]
        /// `migrating`, `switched` (done) or `cancelled`.
        public var state: String
        public var copied: Int
        public var total: Int
        /// RFC 3339, UTC.
        public var startedAt: String
        public var holder: String?
    }

    /// What asking for a layout change did.
    public enum MigrationStart: Sendable, Equatable {
        /// Recorded: the new epoch is being built.
        case started(epoch: Int)
        /// The same change already runs (its epoch): a repeated request.
        case running(epoch: Int)
        /// The layout asked for is already the board's (its epoch).
        case unchanged(epoch: Int)
        /// Another change of the board runs (its epoch).
        case inProgress(epoch: Int)
        case notFound
    }

    static let migrationColumns =
        """
        epoch, from_epoch, layout::text, placement::text, state, copied, total,
        to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), holder
        """

    static func migration(from row: [String?]) throws -> LayoutMigration {
        guard let layout = try? JSONDecoder().decode(Layout.self, from: Data(try row.text(2).utf8)),
            let placement = try? JSONDecoder().decode([String].self, from: Data(try row.text(3).utf8))
        else { throw PGError(.decoding, "board_migrations row is malformed") }
        return LayoutMigration(
            epoch: Int(try row.int64(0)), fromEpoch: Int(try row.int64(1)), layout: layout, placement: placement, state: try row.text(4),
            copied: Int(try row.int64(5)), total: Int(try row.int64(6)), startedAt: try row.text(7), holder: row[8]
        )
    }

    /// Records a change of the board's layout to `layout` (its shards on `placement`), held by
    /// `holder` for `lease` seconds. The epoch is one past every epoch the board ever had.
    public func startMigration(board id: String, layout: Layout, placement: [String], holder: String, lease: Int) async throws -> MigrationStart {
        let layoutText = String(decoding: try JSONEncoder().encode(layout), as: UTF8.self)
        let placementText = String(decoding: try JSONEncoder().encode(placement), as: UTF8.self)
        return try await pool.withConnection { connection in
            try connection.transaction { connection in
                let rows = try connection.query(
                    "SELECT \(Self.boardColumns) FROM leaderboards WHERE id = $1 FOR UPDATE", [id]
                ).rows
                guard let row = rows.first else { return .notFound }
                let board = try Self.board(from: row)
                if let running = board.migration {
                    // The same change asked for again (a retried request): the one that runs.
                    return running.layout == layout ? .running(epoch: running.epoch) : .inProgress(epoch: running.epoch)
                }
                if board.config.layout == layout { return .unchanged(epoch: board.epoch) }
                let used = try connection.query(
                    "SELECT coalesce(max(epoch), 0) FROM board_migrations WHERE leaderboard_id = $1", [id]
                ).rows[0].int64(0)
                let epoch = max(board.epoch, Int(used)) + 1
                let target = LayoutTarget(epoch: epoch, layout: layout, placement: placement)
                let targetText = String(decoding: try JSONEncoder().encode(target), as: UTF8.self)
                try connection.query("UPDATE leaderboards SET migration_target = $2::jsonb WHERE id = $1", [id, targetText])
                try connection.query(
                    """
                    INSERT INTO board_migrations (leaderboard_id, epoch, from_epoch, layout, placement, state, holder, lease_until)
                    VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, 'migrating', $6, now() + make_interval(secs => $7))
                    """,
                    [id, String(epoch), String(board.epoch), layoutText, placementText, holder, String(lease)]
                )
                return .started(epoch: epoch)
            }
        }
    }

    /// The board's running layout change, or else its last one; nil when it never had one.
    public func latestMigration(board id: String) async throws -> LayoutMigration? {
        try await pool.query(
            "SELECT \(Self.migrationColumns) FROM board_migrations WHERE leaderboard_id = $1 ORDER BY (state = 'migrating') DESC, epoch DESC LIMIT 1",
            [id]
        ).rows.first.map(Self.migration(from:))
    }

    /// Renews `holder`'s lease on the running change to `epoch` and records its progress. False
    /// when the change no longer runs or another process holds it (the caller stops).
    public func renewMigration(board id: String, epoch: Int, holder: String, lease: Int, copied: Int, total: Int) async throws -> Bool {
        try await !pool.query(
            """
            UPDATE board_migrations SET lease_until = now() + make_interval(secs => $4), copied = $5, total = $6
            WHERE leaderboard_id = $1 AND epoch = $2 AND holder = $3 AND state = 'migrating'
            RETURNING epoch
            """,
            [id, String(epoch), holder, String(lease), String(copied), String(total)]
        ).rows.isEmpty
    }

    /// Takes over running changes whose holder's lease ran out (a process that crashed or
    /// stopped mid-change): at most `limit`, each now held by `holder`. Returns (board, epoch).
    public func claimAbandonedMigrations(holder: String, lease: Int, limit: Int = 4) async throws -> [(board: String, epoch: Int)] {
        try await pool.query(
            """
            UPDATE board_migrations m SET holder = $1, lease_until = now() + make_interval(secs => $2)
            FROM (
                SELECT leaderboard_id, epoch FROM board_migrations
                WHERE state = 'migrating' AND (lease_until IS NULL OR lease_until < now())
                ORDER BY started_at LIMIT $3 FOR UPDATE SKIP LOCKED
            ) due
            WHERE m.leaderboard_id = due.leaderboard_id AND m.epoch = due.epoch
            RETURNING m.leaderboard_id, m.epoch
            """,
            [holder, String(lease), String(limit)]
        ).rows.map { (try $0.text(0), Int(try $0.int64(1))) }
    }

    /// The switch: under the board's row lock (every commit of the board waits meanwhile), runs
    /// `underLock` with the board's last change number (it brings the new epoch up to it and
    /// retires the old one; throwing rolls everything back), then makes the target the board's
    /// layout and queues the old epoch's keys for removal after `removalDelay` seconds. Returns
    /// the board as switched, or nil when the change is no longer `holder`'s to switch.
    public func switchLayout(
        board id: String, epoch: Int, holder: String, removalDelay: Int, stepsAfter: Int64,
        underLock: @escaping @Sendable (_ board: StoredBoard, _ seq: Int64, _ steps: [ViewStep], _ usernames: [(playerID: String, username: String)]) throws
            -> Void
    ) async throws -> StoredBoard? {
        try await pool.withConnection { connection in
            try connection.transaction { connection in
                // Commits wait for the lock; a switch that cannot get it soon gives up and retries.
                try connection.execute("SET LOCAL lock_timeout = '1s'")
                guard let row = try connection.query("SELECT \(Self.lockedColumns) FROM leaderboards WHERE id = $1 FOR UPDATE", [id]).rows.first
                else { return nil }
                let locked = try Self.locked(from: row)
                guard let target = locked.board.migration, target.epoch == epoch else { return nil }
                let held = try connection.query(
                    "SELECT 1 FROM board_migrations WHERE leaderboard_id = $1 AND epoch = $2 AND holder = $3 AND state = 'migrating' FOR UPDATE",
                    [id, String(epoch), holder]
                )
                guard !held.isEmpty else { return nil }
                // The changes the new epoch may still miss, and the usernames of the players they
                // bring in, read here: the step under the lock then needs no other connection of
                // the pool (which commits waiting for this lock may hold).
                let steps = try Self.viewSteps(board: id, after: min(stepsAfter, locked.seq), through: locked.seq, on: connection)
                let names = try Self.usernames(of: locked.board.playersEntering(steps), on: connection)
                try underLock(locked.board, locked.seq, steps, names)
                let layoutText = String(decoding: try JSONEncoder().encode(target.layout), as: UTF8.self)
                let placementText = String(decoding: try JSONEncoder().encode(target.placement), as: UTF8.self)
                try connection.query(
                    """
                    INSERT INTO board_removals (leaderboard_id, incarnation, layout, placement, epoch, not_before, tie_break)
                    SELECT id, incarnation, layout::text, placement::text, layout_epoch, now() + make_interval(secs => $2), tie_break
                    FROM leaderboards WHERE id = $1
                    ON CONFLICT DO NOTHING
                    """,
                    [id, String(removalDelay)]
                )
                let switched = try connection.query(
                    """
                    UPDATE leaderboards SET layout = $2::jsonb, placement = $3::jsonb, layout_epoch = $4, migration_target = NULL
                    WHERE id = $1 RETURNING \(Self.boardColumns)
                    """,
                    [id, layoutText, placementText, String(epoch)]
                )
                try connection.query(
                    "UPDATE board_migrations SET state = 'switched', finished_at = now(), copied = greatest(copied, total) WHERE leaderboard_id = $1 AND epoch = $2",
                    [id, String(epoch)]
                )
                return try Self.board(from: switched.rows[0])
            }
        }
    }

    /// Counts a run of the change that gave up (every attempt failed); returns the count so far.
    public func migrationFailed(board id: String, epoch: Int) async throws -> Int {
        try await pool.query(
            "UPDATE board_migrations SET failures = failures + 1 WHERE leaderboard_id = $1 AND epoch = $2 RETURNING failures",
            [id, String(epoch)]
        ).rows.first.map { Int(try $0.int64(0)) } ?? 0
    }

    /// Gives up the running change to `epoch` (the board keeps its layout); its new shards' keys
    /// are queued for removal. False when it no longer ran.
    public func cancelMigration(board id: String, epoch: Int) async throws -> Bool {
        try await pool.withConnection { connection in
            try connection.transaction { connection in
                guard let row = try connection.query("SELECT \(Self.boardColumns) FROM leaderboards WHERE id = $1 FOR UPDATE", [id]).rows.first,
                    let target = try Self.board(from: row).migration, target.epoch == epoch
                else { return false }
                try connection.query(
                    """
                    INSERT INTO board_removals (leaderboard_id, incarnation, layout, placement, epoch, tie_break)
                    SELECT id, incarnation, (migration_target->'layout')::text, (migration_target->'placement')::text, $2, tie_break
                    FROM leaderboards WHERE id = $1
                    ON CONFLICT DO NOTHING
                    """,
                    [id, String(epoch)]
                )
                try connection.query("UPDATE leaderboards SET migration_target = NULL WHERE id = $1", [id])
                try connection.query(
                    "UPDATE board_migrations SET state = 'cancelled', finished_at = now() WHERE leaderboard_id = $1 AND epoch = $2",
                    [id, String(epoch)]
                )
                return true
            }
        }
    }
}
