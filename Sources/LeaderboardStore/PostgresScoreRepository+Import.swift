import Foundation
import LeaderboardCore
import PostgresClient

/// One row of a bulk-import file: its line number and the submission it holds.
public struct ImportedRow: Sendable, Equatable {
    public var line: Int
    public var command: ScoreCommand

    public init(line: Int, command: ScoreCommand) {
        self.line = line
        self.command = command
    }
}

/// What an import committed.
public struct ImportCommit: Sendable, Equatable {
    /// Rows applied (one `import` event each).
    public var rows: Int
    /// Distinct players in the file.
    public var players: Int
    /// Players new to the board.
    public var added: Int
    /// The board's change number the import took (nil when the file held no rows: nothing changed).
    public var seq: Int64?
    /// The board as it was committed (its shards are rebuilt from it).
    public var board: StoredBoard
}

/// Bulk import (DESIGN.md, "Bulk import"): every row applied as a submission with the board's
/// update mode, in one transaction, all or nothing.
///
/// The rows are streamed with COPY into a temporary table before the board is locked, then,
/// under the board's row lock as a group commit takes it, folded set-based per player in file order: `replace` keeps the last row, `increment` adds
/// every row to the stored score (each prefix checked against ±2^53, the first row that leaves the
/// range named), `best` keeps the best by the board's order. Each row is an `import` event with the
/// score it produced; usernames and metadata are the last ones given. Boards ordered by commit
/// time number the rows that set a score in file order, after the board's counter, as a group
/// commit numbers a batch (``TieKeys``).
///
/// The import is one numbered change of the board's view that the change log does not hold (it
/// may be millions of players): a shard can only get past it by a rebuild. So the same
/// transaction marks the board for a whole rebuild, the importer holding its rebuild lease; every
/// process answers 503 for it from when it learns the mark (within a second of the commit) until
/// that rebuild has switched the new content in.
///
/// The locked part takes seconds per million rows. Writes must not queue behind it: a group
/// commit waiting for the board's row would hold up every board's writes in its process. So the
/// import first takes the board's import lock (``importGuard``), and a write to the board while it
/// is held is refused at once with 503, its group going on without it.
extension PostgresScoreRepository {
    /// A condition for a query that locks the rows of the boards `wanted` selects (by `column`):
    /// true, taking the board's import lock shared, unless an import holds it (then the row is
    /// skipped, and no lock is waited for). It is checked before the row is locked, and only on
    /// the rows `wanted` selects (the planner may order a query's conditions as it likes).
    static func importGuard(_ column: String, wanted: String) -> String {
        "CASE WHEN \(wanted) THEN pg_try_advisory_xact_lock_shared(\(importLockKey(column))) ELSE false END"
    }

    /// The key of a board's import lock (a transaction-scoped advisory lock): 64 bits of the id's
    /// hash, so two boards practically never share one.
    static func importLockKey(_ id: String) -> String { "hashtextextended(\(id), 4242003)" }

    /// A row the source refused (``ImportRows/RowError``) ends the import with nothing written.
    /// The board's rebuild lease goes to `holder` for `leaseSeconds` with the commit (unless
    /// another holder's lease is live), so the importer rebuilds the board it just changed.
    public func importScores(
        board id: String, rows next: @escaping @Sendable () throws -> ImportedRow?, leaseHolder holder: String, leaseSeconds: Int
    ) async throws -> ImportCommit {
        try await readPool.withConnection { connection -> ImportAttempt in
            let backend = connection.backendPID
            try connection.execute("BEGIN")
            let outcome: (commit: ImportCommit, transaction: String)
            do {
                outcome = try Self.importScores(board: id, rows: next, lease: (holder, leaseSeconds), on: connection)
            } catch {
                if !connection.isBroken { try? connection.execute("ROLLBACK") }
                throw error
            }
            do {
                try connection.execute("COMMIT")
            } catch {
                guard connection.isBroken else { throw error }
                return ImportAttempt.replyLost(outcome.transaction, backend, outcome.commit)
            }
            return ImportAttempt.committed(outcome.commit)
        }.resolve(with: self)
    }

    private enum ImportAttempt: Sendable {
        case committed(ImportCommit)
        case replyLost(String, Int32, ImportCommit)

        func resolve(with repository: PostgresScoreRepository) async throws -> ImportCommit {
            switch self {
            case .committed(let commit): return commit
            case .replyLost(let transaction, let backend, let commit):
                guard try await repository.transactionCommitted(transaction, backend: backend) else {
                    throw PGError(.connection, "the connection was lost during COMMIT; the import did not commit")
                }
                return commit
            }
        }
    }

    /// The COPY's row source: records the source's error (and stops) instead of throwing, which
    /// a `Sequence` cannot.
    private final class CopyRows: Sequence, IteratorProtocol, @unchecked Sendable {
        // Used by one thread at a time: the connection's, during the COPY, then read after it.
        private let source: @Sendable () throws -> ImportedRow?
        private(set) var failure: (any Error)?
        private(set) var count = 0

        init(_ source: @escaping @Sendable () throws -> ImportedRow?) { self.source = source }

        func next() -> [String?]? {
            guard failure == nil else { return nil }
            do {
                guard let row = try source() else { return nil }
                count += 1
                let command = row.command
                return [
                    String(row.line), command.playerID, String(command.value), command.username, command.metadataJSON,
                    command.timestamp.map(Timestamp.format),
                ]
            } catch {
                failure = error
                return nil
            }
        }
    }

    private static func importScores(
        board id: String, rows next: @escaping @Sendable () throws -> ImportedRow?, lease: (holder: String, seconds: Int),
        on connection: PGConnection
    ) throws -> (commit: ImportCommit, transaction: String) {
        // One statement may run for minutes on millions of rows; sorts get room in memory.
        try connection.execute("SET LOCAL statement_timeout = 0; SET LOCAL work_mem = '256MB'")
        try connection.execute(
            """
            CREATE TEMP TABLE import_rows (
                line bigint NOT NULL, player_id text COLLATE "C" NOT NULL, value bigint NOT NULL,
                username text, metadata jsonb, event_time timestamptz
            ) ON COMMIT DROP
            """
        )
        let rows = CopyRows(next)
        try connection.copyIn("COPY import_rows FROM STDIN", rows: rows)
        if let failure = rows.failure { throw failure }

        // The import lock first (waiting for the writes that hold it shared), then the board's row:
        // from here to the commit, writes to the board are refused (503), not queued.
        try connection.query("SELECT pg_advisory_xact_lock(\(Self.importLockKey("$1")))", [id])
        let found = try connection.query(
            "SELECT \(lockedColumns), pg_current_xact_id()::text FROM leaderboards WHERE id = $1 FOR NO KEY UPDATE", [id]
        )
        guard let row = found.rows.first else { throw LeaderboardError.leaderboardNotFound(id) }
        let locked = try locked(from: row)
        let transaction = try row.text(20)
        let board = locked.board
        if let migration = board.migration { throw LeaderboardError.migrationInProgress(id, epoch: migration.epoch) }
        guard rows.count > 0 else {
            return (ImportCommit(rows: 0, players: 0, added: 0, seq: nil, board: board), transaction)
        }

        try fold(board: locked, on: connection)
        if let error = try firstIncrementOutOfRange(board: board, on: connection) { throw error }
        let tally = try connection.query(
            """
            SELECT count(*), count(*) FILTER (WHERE stored IS NULL), COALESCE(max(last_number), 0) FROM import_players
            """
        ).rows[0]
        let players = Int(try tally.int64(0))
        let added = Int(try tally.int64(1))
        // Only boards ordered by time use their counter (``TieKeys``).
        let numbered = board.config.tieBreak.ordersByTime ? try tally.int64(2) : 0

        try connection.query(
            """
            INSERT INTO score_events (leaderboard_id, player_id, score, result_score, event_type, period, metadata, event_time)
            SELECT $1, player_id, value, result, 'import', $2, metadata, event_time FROM import_results ORDER BY line
            """,
            [id, String(board.period)]
        )
        try writeScores(board: locked, known: players - added, on: connection)
        // In id order, as every committer writes usernames, so two writers cannot deadlock on them;
        // only the names that change, so the rows of players who keep theirs are not locked until
        // the commit (a write naming such a player would wait for it).
        try connection.execute(
            """
            INSERT INTO players (player_id, username)
            SELECT given.player_id, given.username
            FROM (
                SELECT DISTINCT ON (player_id) player_id, username FROM import_results WHERE username IS NOT NULL
                ORDER BY player_id, line DESC
            ) given LEFT JOIN players known ON known.player_id = given.player_id
            WHERE known.username IS DISTINCT FROM given.username
            ORDER BY given.player_id
            ON CONFLICT (player_id) DO UPDATE SET username = EXCLUDED.username, updated_at = now()
            """
        )

        let count = locked.playerCount + added
        var cut: [String?] = [nil, nil, nil]
        let limit = board.config.maxEntries
        if limit > 0, count > limit {
            let rows = try connection.query(
                "SELECT score, tie_key, player_id FROM player_scores WHERE leaderboard_id = $1 ORDER BY \(board.config.sortOrder.sqlOrder()) OFFSET $2 LIMIT 1",
                [id, String(limit - 1)]
            )
            guard let found = rows.rows.first else { throw PGError(.decoding, "the board has fewer players than it counts") }
            cut = [try found.text(0), try found.text(1), try found.text(2)]
        }
        // The import's change is numbered but not logged: a shard behind it is rebuilt (the
        // catch-up finds the gap), and the mark makes every process wait for that rebuild.
        let seq = try connection.query(
            """
            UPDATE leaderboards SET change_seq = change_seq + 1, tie_counter = tie_counter + $2, player_count = $3,
                cut_score = $4, cut_tie = $5, cut_player = $6
            WHERE id = $1 RETURNING change_seq
            """,
            [id, String(numbered), String(count)] + cut
        ).rows[0]
        // The clock, not now(): that is the transaction's start, and an import may run for
        // minutes, so a lease counted from it would have run out at the commit.
        let leaseLive = "board_rebuilds.holder IS NOT NULL AND board_rebuilds.holder <> EXCLUDED.holder AND board_rebuilds.lease_until >= clock_timestamp()"
        try connection.query(
            """
            INSERT INTO board_rebuilds (leaderboard_id, whole, holder, lease_until, requested_at)
            VALUES ($1, true, $2, clock_timestamp() + make_interval(secs => $3), clock_timestamp())
            ON CONFLICT (leaderboard_id) DO UPDATE SET whole = true, requested_at = clock_timestamp(),
                holder = CASE WHEN \(leaseLive) THEN board_rebuilds.holder ELSE EXCLUDED.holder END,
                lease_until = CASE WHEN \(leaseLive) THEN board_rebuilds.lease_until ELSE EXCLUDED.lease_until END
            """,
            [id, lease.holder, String(lease.seconds)]
        )
        return (
            ImportCommit(rows: rows.count, players: players, added: added, seq: try seq.int64(0), board: board), transaction
        )
    }

    /// `import_results`: each row with the score it produces and, on boards ordered by time, its
    /// number (nil for a `best` row that does not improve); `import_players`: each player's final
    /// score, stored score and tie key, and the number of its last numbered row.
    private static func fold(board locked: LockedBoard, on connection: PGConnection) throws {
        let board = locked.board
        let desc = board.config.sortOrder == .desc
        let running: String
        switch board.config.updateMode {
        case .replace: running = "value"
        case .increment: running = "COALESCE(stored, 0) + sum(value) OVER w"
        // GREATEST and LEAST skip NULL: a new player's best is its best row.
        case .best: running = desc ? "GREATEST(stored, max(value) OVER w)" : "LEAST(stored, min(value) OVER w)"
        }
        // A row sets a score unless, under `best`, it keeps the score the player already had.
        let sets =
            board.config.updateMode == .best
            ? "result IS DISTINCT FROM COALESCE(lag(result) OVER (PARTITION BY player_id ORDER BY line), stored)" : "true"
        try connection.query(
            """
            CREATE TEMP TABLE import_results ON COMMIT DROP AS
            WITH joined AS (
                SELECT i.*, s.score AS stored, s.tie_key AS stored_tie
                FROM import_rows i LEFT JOIN player_scores s ON s.leaderboard_id = $1 AND s.player_id = i.player_id
            ), results AS (
                SELECT *, \(running) AS result FROM joined
                WINDOW w AS (PARTITION BY player_id ORDER BY line ROWS UNBOUNDED PRECEDING)
            ), flagged AS (
                SELECT *, \(sets) AS sets FROM results
            )
            SELECT line, player_id, value, username, metadata, event_time, stored, stored_tie, result,
                CASE WHEN sets THEN count(*) FILTER (WHERE sets) OVER (ORDER BY line ROWS UNBOUNDED PRECEDING) END AS number
            FROM flagged
            """,
            [board.config.id]
        )
        // The tie key of the commit numbered n (``TieBreak/tieKey(counter:order:)``), in SQL.
        let tie: String
        switch (board.config.tieBreak, board.config.sortOrder) {
        case (.playerID, _): tie = "COALESCE(stored_tie, 0)"
        case (.earliest, .desc), (.latest, .asc): tie = "COALESCE(-($1::bigint + last_number), stored_tie, 0)"
        case (.earliest, .asc), (.latest, .desc): tie = "COALESCE($1::bigint + last_number, stored_tie, 0)"
        }
        try connection.query(
            """
            CREATE TEMP TABLE import_players ON COMMIT DROP AS
            WITH last AS (
                SELECT DISTINCT ON (player_id) player_id, result, stored, stored_tie,
                    max(number) OVER (PARTITION BY player_id) AS last_number
                FROM import_results ORDER BY player_id, line DESC
            ), metadata AS (
                SELECT DISTINCT ON (player_id) player_id, metadata FROM import_results WHERE metadata IS NOT NULL
                ORDER BY player_id, line DESC
            )
            SELECT l.player_id, l.result AS score, l.stored, l.stored_tie, l.last_number, m.metadata, \(tie) AS tie
            FROM last l LEFT JOIN metadata m USING (player_id)
            """,
            board.config.tieBreak.ordersByTime ? [String(locked.tieCounter)] : []
        )
    }

    /// Under `increment`, the first row whose running sum leaves ±2^53 (as a submission would be refused).
    private static func firstIncrementOutOfRange(board: StoredBoard, on connection: PGConnection) throws -> ImportRows.RowError? {
        guard board.config.updateMode == .increment else { return nil }
        let rows = try connection.query(
            "SELECT line, value, result - value FROM import_results WHERE abs(result) > $1 ORDER BY line LIMIT 1",
            [String(ScoreRange.maximum)]
        )
        guard let row = rows.rows.first else { return nil }
        return ImportRows.RowError(
            line: Int(try row.int64(0)),
            message: "increment by \(try row.text(1)) would move the score \(try row.text(2)) outside ±\(ScoreRange.maximum)"
        )
    }

    /// Writes every player whose score, tie key or metadata the import changed: the players new
    /// to the board by a plain INSERT (in id order), the others by an UPDATE. No other transaction
    /// can write a score of this board meanwhile (every writer of `player_scores` holds the board's
    /// row lock, which this one holds), so the new players need no conflict check, which cost a
    /// quarter of the write (1M new players: 8.7 s as an upsert, 6.4 s inserted), and the UPDATE's
    /// row order cannot deadlock with anyone. (Were that rule ever broken, the INSERT would fail on
    /// the primary key and the import roll back: loud, never a lost score.)
    /// (`known`: how many of the file's players the board had.)
    private static func writeScores(board locked: LockedBoard, known: Int, on connection: PGConnection) throws {
        try connection.query(
            """
            INSERT INTO player_scores (leaderboard_id, player_id, score, metadata, tie_key)
            SELECT $1, player_id, score::bigint, metadata, tie FROM import_players WHERE stored IS NULL
            ORDER BY player_id
            """,
            [locked.board.config.id]
        )
        guard known > 0 else { return }
        try connection.query(
            """
            UPDATE player_scores s
            SET score = i.score::bigint, metadata = COALESCE(i.metadata, s.metadata), tie_key = i.tie, updated_at = now()
            FROM import_players i
            WHERE s.leaderboard_id = $1 AND s.player_id = i.player_id
                AND i.stored IS NOT NULL AND (i.stored <> i.score OR i.stored_tie <> i.tie OR i.metadata IS NOT NULL)
            """,
            [locked.board.config.id]
        )
    }
}
