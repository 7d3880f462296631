import LeaderboardCore
import PostgresClient

/// The change log: each board's numbered view changes (`board_changes`, written by the group
/// commit and removals), read back by whichever process finds a shard behind, with the usernames
/// a replay writes again; and the boards' change numbers, checked every second.
extension PostgresScoreRepository {
    /// The board's numbered view changes after `seq` up to `through` (inclusive), in order; fewer
    /// when some are no longer kept (the caller then rebuilds instead).
    public func viewSteps(board id: String, after seq: Int64, through last: Int64) async throws -> [ViewStep] {
        try Self.viewSteps(try await pool.query(Self.viewStepsQuery, [id, String(seq), String(last)]))
    }

    /// ``viewSteps(board:after:through:)`` on a connection the caller holds (inside its transaction).
    static func viewSteps(board id: String, after seq: Int64, through last: Int64, on connection: PGConnection) throws -> [ViewStep] {
        try viewSteps(try connection.query(viewStepsQuery, [id, String(seq), String(last)]))
    }

    static let viewStepsQuery = """
        SELECT seq, reset, period, players, before_scores, after_scores, last_event_id FROM board_changes
        WHERE leaderboard_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq
        """

    static func viewSteps(_ rows: PGRows) throws -> [ViewStep] {
        try rows.rows.map { row in
            let players = PGArray.parse(try row.text(3)).map { $0 ?? "" }
            let before = PGArray.parse(try row.text(4)).map { $0.flatMap(Int64.init) }
            let after = PGArray.parse(try row.text(5)).map { $0.flatMap(Int64.init) }
            guard players.count == before.count, players.count == after.count else {
                throw PGError(.decoding, "a board_changes row has arrays of different lengths")
            }
            return ViewStep(
                seq: try row.int64(0), reset: try row.bool(1), period: Int(try row.int64(2)),
                changes: players.indices.map { ViewChange(playerID: players[$0], before: before[$0], after: after[$0]) },
                lastEventID: try row.int64(6)
            )
        }
    }

    /// The usernames PostgreSQL holds for `players` (ids without a username are left out): a
    /// replay of logged changes writes them again with the scores, since a shard that missed
    /// changes (a node restored from an old state, a promoted replica that missed writes, a new
    /// epoch's shard during a layout change) missed the usernames written with them too.
    public func usernames(of players: [String]) async throws -> [(playerID: String, username: String)] {
        guard !players.isEmpty else { return [] }
        return try Self.usernames(try await pool.query(Self.usernamesQuery, [PGArray.text(players)]))
    }

    /// ``usernames(of:)`` on a connection the caller holds (inside its transaction).
    static func usernames(of players: [String], on connection: PGConnection) throws -> [(playerID: String, username: String)] {
        guard !players.isEmpty else { return [] }
        return try usernames(try connection.query(usernamesQuery, [PGArray.text(players)]))
    }

    static let usernamesQuery = "SELECT player_id, username FROM players WHERE player_id = ANY($1::text[]) AND username IS NOT NULL ORDER BY player_id"

    static func usernames(_ rows: PGRows) throws -> [(playerID: String, username: String)] {
        try rows.rows.map { (try $0.text(0), try $0.text(1)) }
    }

    /// The newest number of each board's change sequence.
    public func changeSequences() async throws -> [String: Int64] {
        try await changeSequencesAndIncarnations().mapValues(\.seq)
    }

    /// Each board's newest change number, its incarnation and its layout epoch (a cheap query,
    /// for the per-second check).
    public func changeSequencesAndIncarnations() async throws -> [String: (seq: Int64, incarnation: Int64, epoch: Int)] {
        var sequences: [String: (seq: Int64, incarnation: Int64, epoch: Int)] = [:]
        for row in try await pool.query("SELECT id, change_seq, incarnation, layout_epoch FROM leaderboards").rows {
            sequences[try row.text(0)] = (try row.int64(1), try row.int64(2), Int(try row.int64(3)))
        }
        return sequences
    }

    /// One board's newest change number, incarnation and layout epoch (nil when it does not exist).
    public func changeSequence(of id: String) async throws -> (seq: Int64, incarnation: Int64, epoch: Int)? {
        guard let row = try await pool.query("SELECT change_seq, incarnation, layout_epoch FROM leaderboards WHERE id = $1", [id]).rows.first
        else { return nil }
        return (try row.int64(0), try row.int64(1), Int(try row.int64(2)))
    }

    /// Forgets view changes older than `seconds` (every shard has long applied them or been rebuilt).
    public func pruneViewSteps(olderThan seconds: Int) async throws {
        try await pool.query("DELETE FROM board_changes WHERE created_at < now() - make_interval(secs => $1)", [String(seconds)])
    }
}
