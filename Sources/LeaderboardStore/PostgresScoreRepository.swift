import Foundation
import LeaderboardCore
import Logging
import PostgresClient

/// The source of truth: boards, current scores, the event log and archived periods in PostgreSQL.
///
/// Every statement is parameterized; each method that writes is one transaction.
public final class PostgresScoreRepository: Sendable {
    public let pool: PGConnectionPool

    public init(pool: PGConnectionPool) {
        self.pool = pool
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

    private static let boardColumns =
        """
        id, name, sort_order, reset_period, max_entries, update_mode, layout::text, current_period, placement::text, layout_epoch,
        floor(extract(epoch FROM period_started_at))::bigint
        """

    /// Stores a new board with the node of each shard, its first period beginning at `startedAt`
    /// (Unix seconds). Throws `leaderboard_exists` when the id is taken.
    public func createLeaderboard(_ config: LeaderboardConfig, placement: [String], startedAt: Double) async throws -> StoredBoard {
        let layout = String(decoding: try JSONEncoder().encode(config.layout), as: UTF8.self)
        let nodes = String(decoding: try JSONEncoder().encode(placement), as: UTF8.self)
        let rows = try await pool.query(
            """
            INSERT INTO leaderboards (id, name, sort_order, reset_period, max_entries, update_mode, layout, placement, period_started_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, to_timestamp($9::float8))
            ON CONFLICT (id) DO NOTHING
            RETURNING \(Self.boardColumns)
            """,
            [
                config.id, config.name, config.sortOrder.rawValue, config.resetPeriod.rawValue, String(config.maxEntries),
                config.updateMode.rawValue, layout, nodes, String(startedAt),
            ]
        )
        guard let row = rows.rows.first else { throw LeaderboardError.leaderboardExists(config.id) }
        return try Self.board(from: row)
    }

    public func listLeaderboards() async throws -> [StoredBoard] {
        try await pool.query("SELECT \(Self.boardColumns) FROM leaderboards ORDER BY id").rows.map(Self.board(from:))
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
                try connection.query("DELETE FROM score_events WHERE leaderboard_id = $1", [id])
                try connection.query("DELETE FROM archived_scores WHERE leaderboard_id = $1", [id])
                try connection.query("DELETE FROM leaderboards WHERE id = $1", [id])
                return true
            }
        }
    }

    /// Archives the board's current period (scores with their ranks) and starts the next one.
    ///
    /// The period ends at `time` (Unix seconds), where the next begins. A scheduled reset
    /// (`scheduled`: `time` is a period boundary) happens only if the period began before it, so
    /// several processes applying the same boundary reset once. Returns nil when the board does
    /// not exist or the scheduled reset is not due.
    public func resetLeaderboard(_ id: String, at time: Double, scheduled: Bool) async throws -> PeriodReset? {
        try await pool.withConnection { connection in
            try connection.transaction { connection -> PeriodReset? in
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
                let order = try row.text(1) == "asc" ? "score ASC, player_id ASC" : "score DESC, player_id DESC"
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
                return PeriodReset(archived: period, current: period + 1, lastEventID: try event.rows[0].int64(0))
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
        let rows = try await pool.query(
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

    // MARK: - Scores

    /// Commits one group of requests in one transaction: locks the boards (shared) and the
    /// players (advisory locks in key order, so concurrent committers cannot deadlock), reads the
    /// current scores, plans the update modes, then writes the events, the scores and usernames.
    public func commit(_ requests: [[ScoreCommand]]) async throws -> CommitResult {
        try await pool.withConnection { connection in
            try connection.transaction { connection in try Self.commit(requests, on: connection) }
        }
    }

    private static func commit(_ requests: [[ScoreCommand]], on connection: PGConnection) throws -> CommitResult {
        let boardIDs = Array(Set(requests.joined().map(\.leaderboardID))).sorted()
        var boards: [String: StoredBoard] = [:]
        for row in try connection.query(
            "SELECT \(boardColumns) FROM leaderboards WHERE id = ANY($1::text[]) ORDER BY id FOR SHARE",
            [PGArray.text(boardIDs)]
        ).rows {
            let board = try board(from: row)
            boards[board.config.id] = board
        }

        let keys = Array(Set(requests.joined().filter { boards[$0.leaderboardID] != nil }.map { PlayerKey($0.leaderboardID, $0.playerID) }))
        var current: [PlayerKey: Int64] = [:]
        if !keys.isEmpty {
            let lockKeys = Array(Set(keys.map { XXH3.hash(board: $0.leaderboardID, player: $0.playerID) })).sorted()
            try connection.query("SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k", [PGArray.int64(lockKeys)])
            // One primary-key lookup per player: the planner, guessing the size of unnest(),
            // would otherwise hash the whole table (a full scan per commit on a big board).
            try connection.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
            let rows = try connection.query(
                """
                SELECT s.leaderboard_id, s.player_id, s.score
                FROM unnest($1::text[], $2::text[]) AS k(board, player)
                JOIN player_scores s ON s.leaderboard_id = k.board AND s.player_id = k.player
                """,
                [PGArray.text(keys.map(\.leaderboardID)), PGArray.text(keys.map(\.playerID))]
            )
            for row in rows.rows {
                current[PlayerKey(try row.text(0), try row.text(1))] = try row.int64(2)
            }
        }

        let rules = boards.mapValues { BoardRules(sortOrder: $0.config.sortOrder, updateMode: $0.config.updateMode) }
        let plan = GroupCommitPlan(requests: requests, boards: rules, current: current)
        var lastEventIDs: [String: Int64] = [:]
        guard !plan.events.isEmpty else {
            return CommitResult(plan: plan, boards: boards, lastEventIDs: lastEventIDs, previousScores: current)
        }

        let events = plan.events
        let inserted = try connection.query(
            """
            INSERT INTO score_events (leaderboard_id, player_id, score, result_score, event_type, period, metadata, event_time)
            SELECT board, player, value, result, kind, period, metadata::jsonb, event_time::timestamptz
            FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::int[], $7::text[], $8::text[])
                AS e(board, player, value, result, kind, period, metadata, event_time)
            RETURNING leaderboard_id, id
            """,
            [
                PGArray.text(events.map(\.command.leaderboardID)),
                PGArray.text(events.map(\.command.playerID)),
                PGArray.int64(events.map(\.command.value)),
                PGArray.int64(events.map(\.score)),
                PGArray.text(events.map(\.mode.rawValue)),
                PGArray.int64(events.map { Int64(boards[$0.command.leaderboardID]!.period) }),
                PGArray.text(events.map(\.command.metadataJSON)),
                PGArray.text(events.map { $0.command.timestamp.map(Timestamp.format) }),
            ]
        )
        for row in inserted.rows {
            let board = try row.text(0)
            lastEventIDs[board] = max(lastEventIDs[board] ?? 0, try row.int64(1))
        }

        let changed = Array(plan.changedScores)
        if !changed.isEmpty {
            try connection.query(
                """
                INSERT INTO player_scores (leaderboard_id, player_id, score, metadata)
                SELECT board, player, score, metadata::jsonb
                FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS s(board, player, score, metadata)
                ON CONFLICT (leaderboard_id, player_id) DO UPDATE
                SET score = EXCLUDED.score, metadata = COALESCE(EXCLUDED.metadata, player_scores.metadata), updated_at = now()
                """,
                [
                    PGArray.text(changed.map(\.key.leaderboardID)),
                    PGArray.text(changed.map(\.key.playerID)),
                    PGArray.int64(changed.map(\.value.score)),
                    PGArray.text(changed.map(\.value.metadataJSON)),
                ]
            )
        }
        if !plan.usernames.isEmpty {
            let names = Array(plan.usernames)
            try connection.query(
                """
                INSERT INTO players (player_id, username)
                SELECT * FROM unnest($1::text[], $2::text[])
                ON CONFLICT (player_id) DO UPDATE SET username = EXCLUDED.username, updated_at = now()
                """,
                [PGArray.text(names.map(\.key)), PGArray.text(names.map(\.value))]
            )
        }
        return CommitResult(plan: plan, boards: boards, lastEventIDs: lastEventIDs, previousScores: current)
    }

    /// Removes a player from a board, recording a `remove` event.
    /// Returns the event id and the removed score, or nil when the player was not on the board.
    public func removePlayer(board: String, player: String) async throws -> (eventID: Int64, score: Int64)? {
        try await pool.withConnection { connection in
            try connection.transaction { connection -> (eventID: Int64, score: Int64)? in
                let found = try connection.query("SELECT current_period FROM leaderboards WHERE id = $1 FOR SHARE", [board])
                guard let row = found.rows.first else { throw LeaderboardError.leaderboardNotFound(board) }
                let period = try row.int64(0)
                try connection.query("SELECT pg_advisory_xact_lock($1)", [String(XXH3.hash(board: board, player: player))])
                let deleted = try connection.query(
                    "DELETE FROM player_scores WHERE leaderboard_id = $1 AND player_id = $2 RETURNING score",
                    [board, player]
                )
                guard let score = deleted.rows.first else { return nil }
                let event = try connection.query(
                    """
                    INSERT INTO score_events (leaderboard_id, player_id, score, event_type, period)
                    VALUES ($1, $2, $3, 'remove', $4) RETURNING id
                    """,
                    [board, player, try score.text(0), String(period)]
                )
                return (try event.rows[0].int64(0), try score.int64(0))
            }
        }
    }

    /// One consistent snapshot of a board for a rebuild: its row, its best `limit` players in
    /// the board's order (every player, in no particular order, when `limit` is nil), with
    /// usernames, and the newest event id, all from one transaction.
    public func snapshot(board id: String, limit: Int?) async throws -> (board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64)? {
        try await pool.withConnection { connection in
            try connection.transaction("ISOLATION LEVEL REPEATABLE READ READ ONLY") { connection in
                guard let row = try connection.query("SELECT \(Self.boardColumns) FROM leaderboards WHERE id = $1", [id]).rows.first else {
                    return nil
                }
                let board = try Self.board(from: row)
                let order = board.config.sortOrder == .asc ? "s.score ASC, s.player_id ASC" : "s.score DESC, s.player_id DESC"
                // Without a limit the order does not matter, and leaving it out lets PostgreSQL
                // scan and hash-join instead of walking the score index (about twice as fast).
                let rows = try connection.query(
                    """
                    SELECT s.player_id, s.score, p.username FROM player_scores s LEFT JOIN players p ON p.player_id = s.player_id
                    WHERE s.leaderboard_id = $1 \(limit == nil ? "" : "ORDER BY \(order) LIMIT $2")
                    """,
                    [id] + (limit.map { [String($0)] } ?? [])
                )
                let entries = try rows.rows.enumerated().map { index, row in
                    LeaderboardEntry(rank: index + 1, playerID: try row.text(0), score: try row.int64(1), username: row[2])
                }
                let last = try connection.query("SELECT coalesce(max(id), 0) FROM score_events WHERE leaderboard_id = $1", [id])
                return (board, entries, try last.rows[0].int64(0))
            }
        }
    }

    /// Band bounds that split the board's current players into `bands` bands of about equal size
    /// (scores at the quantiles i/bands; repeated scores make fewer bands), with each band's size.
    public func proposeBands(board: String, bands: Int) async throws -> (bounds: [Int64], sizes: [Int64]) {
        precondition(bands >= 2)
        let fractions = (1..<bands).map { String(Double($0) / Double(bands)) }
        let quantiles = try await pool.query(
            "SELECT percentile_disc($2::float8[]) WITHIN GROUP (ORDER BY score) FROM player_scores WHERE leaderboard_id = $1",
            [board, "{" + fractions.joined(separator: ",") + "}"]
        )
        guard let literal = quantiles.rows.first?[0] else { return ([], []) }
        let values = PGArray.parse(literal).compactMap { $0.flatMap(Int64.init) }
        var bounds: [Int64] = []
        for value in values where bounds.last.map({ value > $0 }) ?? true { bounds.append(value) }
        let sizes = try await pool.query(
            """
            SELECT band, count(*) FROM (
                SELECT (SELECT count(*) FROM unnest($2::bigint[]) AS u(bound) WHERE u.bound <= s.score) AS band
                FROM player_scores s WHERE s.leaderboard_id = $1
            ) banded GROUP BY band ORDER BY band
            """,
            [board, PGArray.int64(bounds)]
        )
        var counts = [Int64](repeating: 0, count: bounds.count + 1)
        for row in sizes.rows { counts[Int(try row.int64(0))] = try row.int64(1) }
        return (bounds, counts)
    }

    // MARK: - Official snapshots and sync

    /// SyncToDatabase: computes the board's standings in its total order (a window function over
    /// the score index) and stores them as the board's official snapshot, replacing the last one.
    public func takeSnapshot(board id: String) async throws -> SnapshotInfo? {
        try await pool.withConnection { connection in
            try connection.transaction("ISOLATION LEVEL REPEATABLE READ") { try Self.writeSnapshot(board: id, on: $0) }
        }
    }

    /// The board's official snapshot, taken now if it has none yet (the first `source=batch` read
    /// of a board no sync pass has reached). Concurrent callers take it once: they queue on an
    /// advisory lock and then find it.
    public func snapshotTakingIfMissing(board id: String) async throws -> SnapshotInfo? {
        if let info = try await snapshotInfo(board: id) { return info }
        return try await pool.withConnection { connection in
            try connection.transaction { connection -> SnapshotInfo? in
                try connection.query("SELECT pg_advisory_xact_lock(4242002, hashtext($1))", [id])
                if let info = try Self.snapshotInfo(board: id, on: connection) { return info }
                return try Self.writeSnapshot(board: id, on: connection)
            }
        }
    }

    private static func writeSnapshot(board id: String, on connection: PGConnection) throws -> SnapshotInfo? {
        guard let row = try connection.query("SELECT sort_order FROM leaderboards WHERE id = $1 FOR SHARE", [id]).rows.first else {
            return nil
        }
        let order = try row.text(0) == "asc" ? "score ASC, player_id ASC" : "score DESC, player_id DESC"
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
        try await pool.withConnection { try Self.snapshotInfo(board: id, on: $0) }
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

    /// Ranks first…last (1-based) of the official snapshot or of an archived period, with usernames.
    public func rankedEntries(_ table: RankedTable, board id: String, first: Int, last: Int) async throws -> [LeaderboardEntry] {
        let rows = try await pool.query(
            """
            SELECT e.rank, e.player_id, e.score, p.username FROM \(table.name) e LEFT JOIN players p ON p.player_id = e.player_id
            WHERE e.leaderboard_id = $1 AND \(table.filter(parameter: 4)) AND e.rank BETWEEN $2 AND $3 ORDER BY e.rank
            """,
            [id, String(first), String(last)] + table.parameters
        )
        return try rows.rows.map { LeaderboardEntry(rank: Int(try $0.int64(0)), playerID: try $0.text(1), score: try $0.int64(2), username: $0[3]) }
    }

    /// The player's rank in the official snapshot or an archived period, nil when absent.
    public func rank(_ table: RankedTable, board id: String, player: String) async throws -> Int? {
        let rows = try await pool.query(
            "SELECT e.rank FROM \(table.name) e WHERE e.leaderboard_id = $1 AND e.player_id = $2 AND \(table.filter(parameter: 3))",
            [id, player] + table.parameters
        )
        return try rows.rows.first.map { Int(try $0.int64(0)) }
    }

    /// The current scores of the board's best `limit` players (everyone when 0), for reconciling shards.
    public func currentScores(board id: String, order: LeaderboardCore.SortOrder, limit: Int) async throws -> [(playerID: String, score: Int64)] {
        let orderBy = order == .asc ? "score ASC, player_id ASC" : "score DESC, player_id DESC"
        let rows = try await pool.query(
            "SELECT player_id, score FROM player_scores WHERE leaderboard_id = $1 ORDER BY \(orderBy) LIMIT $2",
            [id, limit > 0 ? String(limit) : nil]
        )
        return try rows.rows.map { (try $0.text(0), try $0.int64(1)) }
    }

    /// The scores of the given players (those on the board), for checking what a shard holds.
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

    // MARK: - Decoding

    static func board(from row: [String?]) throws -> StoredBoard {
        guard let order = SortOrder(rawValue: try row.text(2)), let period = ResetPeriod(rawValue: try row.text(3)),
            let mode = UpdateMode(rawValue: try row.text(5)),
            let layout = try? JSONDecoder().decode(Layout.self, from: Data(try row.text(6).utf8))
        else { throw PGError(.decoding, "leaderboards row is malformed") }
        let config = LeaderboardConfig(
            id: try row.text(0), name: try row.text(1), sortOrder: order, resetPeriod: period,
            maxEntries: Int(try row.int64(4)), updateMode: mode, layout: layout
        )
        let placement = (try? JSONDecoder().decode([String].self, from: Data(try row.text(8).utf8))) ?? []
        return StoredBoard(
            config: config, period: Int(try row.int64(7)), placement: placement, epoch: Int(try row.int64(9)),
            periodStartedAt: try row.int64(10)
        )
    }
}

/// A board as stored: its configuration, current period, and where its shards are.
public struct StoredBoard: Sendable, Equatable {
    public var config: LeaderboardConfig
    public var period: Int
    /// The Redis node id of each shard; empty for boards made before placements existed (all on the default node).
    public var placement: [String]
    /// Version of the layout in use.
    public var epoch: Int
    /// When the current period began (Unix seconds, UTC).
    public var periodStartedAt: Int64

    public init(config: LeaderboardConfig, period: Int, placement: [String] = [], epoch: Int = 1, periodStartedAt: Int64 = 0) {
        self.config = config
        self.period = period
        self.placement = placement
        self.epoch = epoch
        self.periodStartedAt = periodStartedAt
    }

    public var router: ShardRouter { ShardRouter(config.layout) }
}

/// What a period reset did: the period archived, the one begun, and the reset's event id.
public struct PeriodReset: Sendable, Equatable {
    public var archived: Int
    public var current: Int
    public var lastEventID: Int64
}

/// A table of ranked players: the official snapshot, or one archived period.
public enum RankedTable: Sendable, Equatable {
    case snapshot
    case archive(period: Int)

    var name: String {
        switch self {
        case .snapshot: "snapshot_entries"
        case .archive: "archived_scores"
        }
    }

    /// The condition beyond the board id, its parameter (if any) numbered `index`.
    func filter(parameter index: Int) -> String {
        switch self {
        case .snapshot: "TRUE"
        case .archive: "e.period = $\(index)"
        }
    }

    var parameters: [String?] {
        switch self {
        case .snapshot: []
        case .archive(let period): [String(period)]
        }
    }
}

/// An official snapshot: when it was taken (RFC 3339, UTC), how many players it ranks, and the
/// newest event it includes.
public struct SnapshotInfo: Sendable, Equatable {
    public var asOf: String
    public var players: Int
    public var lastEventID: Int64
}

/// What a group commit did.
public struct CommitResult: Sendable {
    public var plan: GroupCommitPlan
    /// The boards the group named that exist.
    public var boards: [String: StoredBoard]
    /// Per board, the id of its newest event in this group.
    public var lastEventIDs: [String: Int64]
    /// The scores before the group (players that were on their board), e.g. to find a band move.
    public var previousScores: [PlayerKey: Int64]
}
