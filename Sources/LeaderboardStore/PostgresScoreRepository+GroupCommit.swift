import Foundation
import LeaderboardCore
import PostgresClient

/// The write path: group commits of score submissions, and removals.
///
/// Every change of a board's real-time view is numbered in the board's change sequence
/// (`leaderboards.change_seq`), assigned in the commit while the transaction holds the board's
/// row lock, so the numbers are gapless and in PostgreSQL's commit order across every server
/// process. Each numbered change is also stored (`board_changes`): whichever process finds a
/// shard behind can apply what it missed. The change lists exactly what the view must do — the
/// view is the best `max_entries` players, so players entering or leaving it because others
/// moved are part of the change (``TopTrim``).
extension PostgresScoreRepository {
    /// Commits one group of requests in one transaction: locks the boards (in id order, so
    /// concurrent committers cannot deadlock), claims the requests' idempotency keys, reads the
    /// current scores, plans the update modes, writes the events, the scores and usernames, and
    /// numbers each board's view change.
    ///
    /// The answer is true: when the connection is lost during COMMIT, the transaction's fate is
    /// looked up on a fresh connection before returning (committed: the result; not committed:
    /// a retry). A group that certainly did not commit (a serialization failure, a connection
    /// lost before COMMIT) is tried once more. Throws ``CommitOutcomeUnknown`` when the fate
    /// cannot be learnt.
    public func commit(_ requests: [SubmissionRequest]) async throws -> CommitResult {
        var attempt = 0
        while true {
            attempt += 1
            do {
                switch try await pool.withConnection({ connection in try Self.commitOnce(requests, on: connection) }) {
                case .committed(let result):
                    return result
                case .replyLost(let transaction, let backend, let result):
                    if try await transactionCommitted(transaction, backend: backend) { return result }
                    throw PGError(.connection, "the connection was lost during COMMIT; the transaction did not commit")
                }
            } catch let error as PGError where attempt < 2 && (error.isSerializationFailure || error.kind == .connection) {
                continue
            }
        }
    }

    /// A group of plain submissions (no idempotency keys).
    public func commit(_ requests: [[ScoreCommand]]) async throws -> CommitResult {
        try await commit(requests.map { SubmissionRequest($0) })
    }

    private enum CommitAttempt: Sendable {
        case committed(CommitResult)
        /// COMMIT was sent but its answer never came: the transaction (its id, run by server
        /// process `backend`) may have committed.
        case replyLost(transaction: String, backend: Int32, CommitResult)
    }

    private static func commitOnce(_ requests: [SubmissionRequest], on connection: PGConnection) throws -> CommitAttempt {
        let backend = connection.backendPID
        try connection.execute("BEGIN")
        let result: CommitResult
        do {
            result = try commit(requests, on: connection)
        } catch {
            if !connection.isBroken { try? connection.execute("ROLLBACK") }
            throw error
        }
        do {
            try connection.execute("COMMIT")
        } catch {
            guard connection.isBroken else { throw error }
            // Nothing was written without a transaction id: nothing to find out.
            guard let transaction = result.transactionID else { return .committed(result) }
            return .replyLost(transaction: transaction, backend: backend, result)
        }
        return .committed(result)
    }

    /// Whether the transaction committed, asked on a fresh connection. If its server process
    /// still runs it (the COMMIT was lost on the way, and the backend has not noticed the
    /// connection is gone), that process is ended first: its transaction then aborts and its
    /// locks are released, instead of holding the board until a timeout. Then it waits while
    /// PostgreSQL still finishes it (a backend in the middle of its COMMIT), at most `patience`.
    func transactionCommitted(_ transaction: String, backend: Int32, patience: Duration = .seconds(5)) async throws -> Bool {
        let deadline = ContinuousClock.now + patience
        var ended = false
        while true {
            let status: String?
            do {
                if !ended, backend != 0 {
                    // Only that backend, and only while it still runs this transaction (a pid can be reused).
                    try await pool.query(
                        """
                        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                        WHERE pid = $1 AND backend_xid::text = ($2::text::numeric % 4294967296)::text
                        """,
                        [String(backend), transaction]
                    )
                    ended = true
                }
                status = try await pool.query("SELECT pg_xact_status($1::xid8)", [transaction]).rows.first?[0]
            } catch {
                throw CommitOutcomeUnknown(reason: "the connection was lost during COMMIT and the database cannot be asked: \(error)")
            }
            switch status {
            case "committed": return true
            case "aborted": return false
            case "in progress" where ContinuousClock.now < deadline: try await Task.sleep(for: .milliseconds(10))
            default: throw CommitOutcomeUnknown(reason: "transaction \(transaction) is \(status ?? "unknown") after \(patience)")
            }
        }
    }

    /// A board's row as the write path needs it, read under its lock.
    struct LockedBoard {
        var board: StoredBoard
        var seq: Int64
        var playerCount: Int
        /// The member at rank `max_entries` (see ``StoredBoard/member(_:tie:)``), nil while the board has fewer players.
        var cut: RankedMember?
        /// The last value of the board's tie counter (see ``TieBreak``).
        var tieCounter: Int64
    }

    static let lockedColumns = "\(boardColumns), change_seq, player_count, cut_score, cut_player, cut_tie, tie_counter"
    /// Columns of a ``lockedColumns`` row.
    private static let lockedColumnCount = 20

    static func locked(from row: [String?]) throws -> LockedBoard {
        let board = try board(from: row)
        let cut = try row[16].map { _ in
            RankedMember(playerID: board.member(try row.text(17), tie: try row[18].map { _ in try row.int64(18) } ?? 0), score: try row.int64(16))
        }
        return LockedBoard(board: board, seq: try row.int64(14), playerCount: Int(try row.int64(15)), cut: cut, tieCounter: try row.int64(19))
    }

    private static func commit(_ requests: [SubmissionRequest], on connection: PGConnection) throws -> CommitResult {
        let boardIDs = Array(Set(requests.flatMap(\.commands).map(\.leaderboardID))).sorted()
        var lockedBoards: [String: LockedBoard] = [:]
        var transactionID: String?
        // A board being imported is skipped, not waited for (see ``importGuard``).
        for row in try connection.query(
            """
            SELECT \(lockedColumns), pg_current_xact_id()::text FROM leaderboards
            WHERE id = ANY($1::text[]) AND \(importGuard("id", wanted: "id = ANY($1::text[])")) ORDER BY id FOR NO KEY UPDATE
            """,
            [PGArray.text(boardIDs)]
        ).rows {
            let board = try locked(from: row)
            lockedBoards[board.board.config.id] = board
            transactionID = try row.text(lockedColumnCount)
        }
        let boards = lockedBoards.mapValues(\.board)
        // Boards not locked: unknown, or being imported (rare, so asked only then).
        var importing: Set<String> = []
        if lockedBoards.count < boardIDs.count {
            let rest = boardIDs.filter { lockedBoards[$0] == nil }
            importing = Set(
                try connection.query("SELECT id FROM leaderboards WHERE id = ANY($1::text[])", [PGArray.text(rest)]).rows.map { try $0.text(0) }
            )
        }

        // Keys already used (by an earlier request, or a concurrent one that committed first)
        // replay their first answer; the others are claimed now, after the boards' locks.
        let keys = try IdempotencyClaims(requests, on: connection, transactionID: &transactionID)
        let fresh = requests.indices.filter { keys.isFresh($0) }
        let replayed = Set(requests.indices).subtracting(fresh)
        let freshRequests = fresh.map { requests[$0].commands }

        let players = Array(Set(freshRequests.joined().filter { boards[$0.leaderboardID] != nil }.map { PlayerKey($0.leaderboardID, $0.playerID) }))
        var current: [PlayerKey: Int64] = [:]
        var currentTies: [PlayerKey: Int64] = [:]
        if !players.isEmpty {
            // One primary-key lookup per player: the planner, guessing the size of unnest(),
            // would otherwise hash the whole table (a full scan per commit on a big board).
            try connection.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
            let rows = try connection.query(
                """
                SELECT s.leaderboard_id, s.player_id, s.score, s.tie_key
                FROM unnest($1::text[], $2::text[]) AS k(board, player)
                JOIN player_scores s ON s.leaderboard_id = k.board AND s.player_id = k.player
                """,
                [PGArray.text(players.map(\.leaderboardID)), PGArray.text(players.map(\.playerID))]
            )
            for row in rows.rows {
                let key = PlayerKey(try row.text(0), try row.text(1))
                current[key] = try row.int64(2)
                currentTies[key] = try row.int64(3)
            }
        }

        let rules = boards.mapValues { BoardRules(sortOrder: $0.config.sortOrder, updateMode: $0.config.updateMode) }
        let plan = GroupCommitPlan(requests: freshRequests, boards: rules, current: current, unavailable: importing)
        let outcomes = keys.outcomes(fresh: Dictionary(uniqueKeysWithValues: zip(fresh, plan.outcomes)), count: requests.count)
        try keys.record(outcomes, on: connection)
        var lastEventIDs: [String: Int64] = [:]
        guard !plan.events.isEmpty else {
            return CommitResult(
                plan: plan, outcomes: outcomes, boards: boards, lastEventIDs: lastEventIDs, previousScores: current, steps: [:],
                transactionID: transactionID, replayed: replayed, sequencesBefore: lockedBoards.mapValues(\.seq)
            )
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

        // Boards ordered by commit time number the events that set a score; a score set again
        // unchanged (`replace`) is a change of the player's tie key alone.
        let ties = TieKeys(
            events: events, current: current,
            boards: lockedBoards.filter { $0.value.board.hasTiePrefix }.mapValues {
                TieKeys.Board(tieBreak: $0.board.config.tieBreak, order: $0.board.config.sortOrder, counter: $0.tieCounter)
            }
        )
        var rows = plan.changedScores
        for key in ties.keys.keys where rows[key] == nil {
            if let score = current[key] { rows[key] = (score, nil) }
        }
        let changed = Array(rows)
        // The tie key each written row ends with.
        let tieAfter: (PlayerKey) -> Int64 = { ties.keys[$0] ?? currentTies[$0] ?? 0 }
        if !changed.isEmpty {
            try connection.query(
                """
                INSERT INTO player_scores (leaderboard_id, player_id, score, metadata, tie_key)
                SELECT board, player, score, metadata::jsonb, tie
                FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) AS s(board, player, score, metadata, tie)
                ON CONFLICT (leaderboard_id, player_id) DO UPDATE
                SET score = EXCLUDED.score, metadata = COALESCE(EXCLUDED.metadata, player_scores.metadata), tie_key = EXCLUDED.tie_key,
                    updated_at = now()
                """,
                [
                    PGArray.text(changed.map(\.key.leaderboardID)),
                    PGArray.text(changed.map(\.key.playerID)),
                    PGArray.int64(changed.map(\.value.score)),
                    PGArray.text(changed.map(\.value.metadataJSON)),
                    PGArray.int64(changed.map { tieAfter($0.key) }),
                ]
            )
        }
        for (id, used) in ties.used.sorted(by: { $0.key < $1.key }) {
            try connection.query("UPDATE leaderboards SET tie_counter = tie_counter + $2 WHERE id = $1", [id, String(used)])
        }
        if !plan.usernames.isEmpty {
            // In id order, as every committer does, so two commits cannot deadlock on these rows.
            let names = plan.usernames.sorted { $0.key < $1.key }
            try connection.query(
                """
                INSERT INTO players (player_id, username)
                SELECT * FROM unnest($1::text[], $2::text[])
                ON CONFLICT (player_id) DO UPDATE SET username = EXCLUDED.username, updated_at = now()
                """,
                [PGArray.text(names.map(\.key)), PGArray.text(names.map(\.value))]
            )
        }

        // Each board's view change, numbered. Its players are members (``StoredBoard/member(_:tie:)``):
        // a player whose member changes (a new tie key) leaves as the old one and enters as the new.
        var perBoard: [String: (changes: [TopTrim.Change], added: Int)] = [:]
        for (key, value) in changed {
            guard let board = lockedBoards[key.leaderboardID]?.board else { continue }
            let before = current[key].map { (member: board.member(key.playerID, tie: currentTies[key] ?? 0), score: $0) }
            let after = (member: board.member(key.playerID, tie: tieAfter(key)), score: value.score)
            var entry = perBoard[key.leaderboardID] ?? ([], 0)
            if let before, before.member != after.member {
                entry.changes.append(TopTrim.Change(playerID: before.member, before: before.score, after: nil))
                entry.changes.append(TopTrim.Change(playerID: after.member, before: nil, after: after.score))
            } else if before?.score != after.score {
                entry.changes.append(TopTrim.Change(playerID: after.member, before: before?.score, after: after.score))
            }
            if before == nil { entry.added += 1 }
            perBoard[key.leaderboardID] = entry
        }
        var steps: [String: ViewStep] = [:]
        for (id, entry) in perBoard where !entry.changes.isEmpty {
            guard let board = lockedBoards[id] else { continue }
            if let step = try numberChange(
                board, changes: entry.changes, countAfter: board.playerCount + entry.added, lastEventID: lastEventIDs[id] ?? 0, on: connection
            ) {
                steps[id] = step
            }
        }
        return CommitResult(
            plan: plan, outcomes: outcomes, boards: boards, lastEventIDs: lastEventIDs, previousScores: current, steps: steps,
            transactionID: transactionID, replayed: replayed, sequencesBefore: lockedBoards.mapValues(\.seq)
        )
    }

    /// Works out a board's view change from its players' changes (already written), records the
    /// board's new count and cut, and numbers and stores the change when the view changed.
    /// Returns the numbered change, nil when the view is unchanged (players moving behind the cut).
    static func numberChange(
        _ locked: LockedBoard, changes: [TopTrim.Change], countAfter: Int, lastEventID: Int64, reset: Bool = false,
        on connection: PGConnection
    ) throws -> ViewStep? {
        let board = locked.board
        let id = board.config.id
        let order = board.config.sortOrder
        var viewChanges: [ViewChange]
        var cutAfter: RankedMember? = nil
        if board.config.maxEntries == 0 {
            viewChanges = TopTrim.untrimmed(changes)
        } else {
            let trim = TopTrim(order: order, limit: board.config.maxEntries)
            switch trim.cutAfter(changes: changes, cutBefore: locked.cut, countAfter: countAfter) {
            case .none: cutAfter = nil
            case .same: cutAfter = locked.cut
            case .lookUp:
                let rows = try connection.query(
                    "SELECT score, player_id, tie_key FROM player_scores WHERE leaderboard_id = $1 ORDER BY \(order.sqlOrder()) OFFSET $2 LIMIT 1",
                    [id, String(board.config.maxEntries - 1)]
                )
                guard let row = rows.rows.first else { throw PGError(.decoding, "the board has fewer players than it counts") }
                cutAfter = RankedMember(playerID: board.member(try row.text(1), tie: try row.int64(2)), score: try row.int64(0))
            }
            var crossing: [RankedMember] = []
            let region = trim.crossing(cutBefore: locked.cut, cutAfter: cutAfter)
            let query: (String, [String?])?
            switch region {
            case .nothing: query = nil
            case .behind(let cut):
                query = ("\(order.sqlBehind(from: 2))", [id] + (try Self.orderParameters(cut, board)))
            case .between(let ahead, let behind):
                query = (
                    "\(order.sqlBehind(from: 2)) AND \(order.sqlAtOrAhead(from: 5))",
                    [id] + (try Self.orderParameters(ahead, board)) + (try Self.orderParameters(behind, board))
                )
            }
            if let (condition, parameters) = query {
                let rows = try connection.query(
                    "SELECT player_id, score, tie_key FROM player_scores WHERE leaderboard_id = $1 AND \(condition) ORDER BY \(order.sqlOrder())",
                    parameters
                )
                crossing = try rows.rows.map { RankedMember(playerID: board.member(try $0.text(0), tie: try $0.int64(2)), score: try $0.int64(1)) }
            }
            viewChanges = trim.viewChanges(changes: changes, crossing: crossing, cutBefore: locked.cut, cutAfter: cutAfter)
        }
        let cutParameters = try cutAfter.map { try Self.orderParameters($0, board) } ?? [nil, nil, nil]
        guard !viewChanges.isEmpty || reset else {
            try connection.query(
                "UPDATE leaderboards SET player_count = $2, cut_score = $3, cut_tie = $4, cut_player = $5 WHERE id = $1",
                [id, String(countAfter)] + cutParameters
            )
            return nil
        }
        let seq = try connection.query(
            """
            UPDATE leaderboards SET change_seq = change_seq + 1, player_count = $2, cut_score = $3, cut_tie = $4, cut_player = $5
            WHERE id = $1 RETURNING change_seq, current_period
            """,
            [id, String(countAfter)] + cutParameters
        ).rows[0]
        let step = ViewStep(
            seq: try seq.int64(0), reset: reset, period: Int(try seq.int64(1)), changes: viewChanges, lastEventID: lastEventID
        )
        try connection.query(
            """
            INSERT INTO board_changes (leaderboard_id, seq, reset, period, players, before_scores, after_scores, last_event_id)
            VALUES ($1, $2, $3, $4, $5::text[], $6::bigint[], $7::bigint[], $8)
            """,
            [
                id, String(step.seq), reset ? "true" : "false", String(step.period), PGArray.text(viewChanges.map(\.playerID)),
                PGArray.int64(viewChanges.map(\.before)), PGArray.int64(viewChanges.map(\.after)), String(lastEventID),
            ]
        )
        return step
    }

    /// The (score, tie key, player id) parameters of a member's place in the board's order.
    static func orderParameters(_ member: RankedMember, _ board: StoredBoard) throws -> [String?] {
        guard let (player, tie) = board.split(member.playerID) else {
            throw PGError(.decoding, "'\(member.playerID)' is not a member of board '\(board.config.id)'")
        }
        return [String(member.score), String(tie), player]
    }

    /// Removes a player from a board, recording a `remove` event and numbering the view's change.
    /// Returns the event id, the removed score, the board's row and the view's change (nil when the
    /// view did not change: the player was behind the cut), or nil when the player was not on the board.
    public func removePlayer(board: String, player: String) async throws -> (eventID: Int64, score: Int64, board: StoredBoard, step: ViewStep?)? {
        try await pool.withConnection { connection in
            try connection.transaction { connection -> (eventID: Int64, score: Int64, board: StoredBoard, step: ViewStep?)? in
                let found = try connection.query(
                    "SELECT \(Self.lockedColumns) FROM leaderboards WHERE id = $1 AND \(Self.importGuard("id", wanted: "id = $1")) FOR NO KEY UPDATE", [board]
                )
                guard let row = found.rows.first else {
                    if try !connection.query("SELECT 1 FROM leaderboards WHERE id = $1", [board]).rows.isEmpty { throw LeaderboardError.beingImported(board) }
                    throw LeaderboardError.leaderboardNotFound(board)
                }
                let locked = try Self.locked(from: row)
                let deleted = try connection.query(
                    "DELETE FROM player_scores WHERE leaderboard_id = $1 AND player_id = $2 RETURNING score, tie_key",
                    [board, player]
                )
                guard let score = deleted.rows.first else { return nil }
                let event = try connection.query(
                    """
                    INSERT INTO score_events (leaderboard_id, player_id, score, event_type, period)
                    VALUES ($1, $2, $3, 'remove', $4) RETURNING id
                    """,
                    [board, player, try score.text(0), String(locked.board.period)]
                )
                let eventID = try event.rows[0].int64(0)
                let step = try Self.numberChange(
                    locked,
                    changes: [TopTrim.Change(playerID: locked.board.member(player, tie: try score.int64(1)), before: try score.int64(0), after: nil)],
                    countAfter: max(locked.playerCount - 1, 0), lastEventID: eventID, on: connection
                )
                return (eventID, try score.int64(0), locked.board, step)
            }
        }
    }

    /// Forgets idempotency keys past their 24 hours (until then a retry with the key gets its first answer).
    public func pruneIdempotencyKeys() async throws {
        try await pool.query(
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => \(IdempotencyClaims.keptHours))"
        )
    }
}
