import LeaderboardCore

/// What a period reset did: the period archived, the one begun, and the reset's event id.
public struct PeriodReset: Sendable, Equatable {
    public var archived: Int
    public var current: Int
    public var lastEventID: Int64
    /// The view's change (it empties); nil only when nothing was numbered.
    public var step: ViewStep?
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
    /// The plan of the requests not answered from their idempotency key.
    public var plan: GroupCommitPlan
    /// Each request's answer, in the group's order: planned now, or the first answer to its key.
    public var outcomes: [Result<[Int64], LeaderboardError>]
    /// The boards the group named that exist.
    public var boards: [String: StoredBoard]
    /// Per board, the id of its newest event in this group.
    public var lastEventIDs: [String: Int64]
    /// The scores before the group (players that were on their board), e.g. to find a band move.
    public var previousScores: [PlayerKey: Int64]
    /// Per board, its numbered view change, where the view changed.
    public var steps: [String: ViewStep]
    /// The transaction's id (`pg_current_xact_id()`), nil when it wrote nothing.
    public var transactionID: String?
    /// The requests answered from their idempotency key (not applied by this group).
    public var replayed: Set<Int> = []
    /// Each locked board's change number before this group: what a replayed request's earlier
    /// commit is at most.
    public var sequencesBefore: [String: Int64] = [:]
}

/// A COMMIT whose answer was lost, and whose fate PostgreSQL could not be asked about: the
/// group may or may not have committed (a retry with the same idempotency key tells).
public struct CommitOutcomeUnknown: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { "the outcome of a commit is unknown: \(reason)" }
}

/// A consistent snapshot of a board for a rebuild.
public struct BoardSnapshot: Sendable {
    public var board: StoredBoard
    /// Its players (the best `max_entries`, in order, on a trimmed board).
    public var entries: [LeaderboardEntry]
    public var lastEventID: Int64
    /// The number of the last view change the snapshot includes.
    public var seq: Int64
}
