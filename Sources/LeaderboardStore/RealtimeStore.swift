import LeaderboardCore

/// The real-time view of the boards: what the read endpoints answer from.
///
/// The service sees only this protocol; a board's layout (one sorted set or many shards) is the
/// store's business, and every answer is the one a single sorted set would give at one moment:
/// the board after one numbered change. Every write is a numbered change already committed in
/// PostgreSQL; a shard applies each once, in order.
public protocol RealtimeStore: Sendable {
    /// Records a new board's metadata on each of its shards, at change number `seq`.
    func prepareBoard(_ board: StoredBoard, seq: Int64) async throws
    /// Drops every key of the board (of that incarnation or an older one; a newer board of the
    /// same id keeps its keys).
    func deleteBoard(_ board: StoredBoard) async throws
    /// Applies numbered view changes, each shard only the one after its last. Returns, per board
    /// and shard asked, the number the shard holds afterwards (nil: its metadata is missing, the
    /// shard must be rebuilt).
    func apply(_ batch: RealtimeBatch) async throws -> [String: [Int: Int64?]]
    /// Replaces the content of the board's shards (only those in `only`, when given) with
    /// `entries` (a snapshot of PostgreSQL that includes the board's changes up to `seq`), each
    /// built aside and switched in at once. A shard already past `seq` is left as it is unless
    /// `force` (its content is wrong though its number is not, as for a shard ahead of
    /// PostgreSQL, or an operator's rebuild); changes after `seq` that a forced shard had applied
    /// are applied again by the caller from the change log. Returns false when a staging set
    /// vanished (the caller retries). `progress` hears how many members were written so far, and of how many;
    /// `pace` bounds the staging rounds.
    func rebuild(
        _ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64, seq: Int64, only: Set<Int>?, force: Bool,
        progress: (@Sendable (_ written: Int, _ total: Int) -> Void)?, pace: BuildPace
    ) async throws -> Bool
    /// Per shard, the number of the last view change it applied; nil where its metadata is missing.
    func appliedSequences(_ board: StoredBoard) async throws -> [Int64?]
    /// ``appliedSequences(_:)`` of several boards, in one round per node; nil for a board some of
    /// whose shards could not be asked.
    func appliedSequences(of boards: [StoredBoard]) async -> [[Int64?]?]

    /// Ranks start…end (1-based, inclusive) and the number of ranked players; entries numbered
    /// `ranking`'s way (competition ranks cost one more count, in the same state of the board).
    func range(_ board: StoredBoard, start: Int, end: Int, ranking: RankStyle) async throws -> LeaderboardPage
    /// The player's entry and the number of ranked players, nil when not on the board.
    func player(_ board: StoredBoard, playerID: String, ranking: RankStyle) async throws -> PlayerStanding?
    /// Ranks r−radius … r+radius around the player (clipped), nil when not on the board.
    func around(_ board: StoredBoard, playerID: String, radius: Int, ranking: RankStyle) async throws -> LeaderboardPage?
    /// The players of `ids` that are on the board, in board order with their global ranks, and
    /// the number of ranked players (a friends list): one round for the scores, one for the counts.
    func players(_ board: StoredBoard, ids: [String], ranking: RankStyle) async throws -> LeaderboardPage
    /// The entry at the rank `rank` computes from the number of ranked players, both read in one
    /// state of the board.
    func cutoff(_ board: StoredBoard, rank: @Sendable (Int) -> Int) async throws -> RankCutoff
    /// Number of ranked players.
    func count(_ board: StoredBoard) async throws -> Int

    /// Throws when a node is unreachable.
    func ping() async throws

    /// Marks every shard of the board's epoch retired (reads of it are redone on the new
    /// layout), or takes the mark back; shards without metadata are left alone.
    func retire(_ board: StoredBoard, _ retired: Bool) async throws
    /// Members of each shard of the board's epoch (ZCARD), in one round.
    func shardSizes(_ board: StoredBoard) async throws -> [Int]

    /// Members of one shard at positions offset ..< offset + count (ascending score order), for reconciling.
    func shardMembers(_ board: StoredBoard, shard: Int, offset: Int, count: Int) async throws -> [RankedMember]
    /// Runs the chunk probes of one shard (one atomic script each, all in one round).
    func scanChunks(_ board: StoredBoard, shard: Int, probes: [ShardChunks.Probe]) async throws -> [ShardChunks.Scan]
    /// Applies repairs, each only if the member still holds what was observed (compare-and-set),
    /// so a write applied meanwhile is never undone. Returns how many were applied.
    /// Only a shard still at view change `seq` (the one PostgreSQL's targets were read at) is
    /// repaired; `moved` tells that some shard was past it (its repairs were not applied).
    func repair(_ board: StoredBoard, fixes: [ShardFix], atSeq seq: Int64) async throws -> (repaired: Int, moved: Bool)
}

/// One repair of a shard: set `playerID` to `target` (nil: remove it), provided its score there is
/// still `observed` (nil: it is absent).
public struct ShardFix: Sendable, Equatable {
    public var shard: Int
    public var playerID: String
    public var observed: Int64?
    public var target: Int64?

    public init(shard: Int, playerID: String, observed: Int64?, target: Int64?) {
        self.shard = shard
        self.playerID = playerID
        self.observed = observed
        self.target = target
    }
}

/// Numbered view changes to apply, grouped by board.
public struct RealtimeBatch: Sendable {
    public struct BoardChanges: Sendable {
        public var board: StoredBoard
        /// The board's steps, in sequence order.
        public var steps: [ViewStep] = []
        /// The shards to send them to (nil: all).
        public var shards: Set<Int>?
        /// Usernames to record (player id, username).
        public var usernames: [(playerID: String, username: String)] = []
        /// The usernames only fill names missing in Redis (a replay's, read from PostgreSQL
        /// earlier: a newer name another process wrote meanwhile stays).
        public var usernamesFillOnly = false

        public init(board: StoredBoard, steps: [ViewStep] = [], shards: Set<Int>? = nil) {
            self.board = board
            self.steps = steps
            self.shards = shards
        }
    }

    public var boards: [String: BoardChanges] = [:]

    public init() {}

    public var isEmpty: Bool { boards.isEmpty }
}

/// Failures of the real-time view that are not I/O errors.
public enum RealtimeStoreError: Error, Sendable, Equatable {
    /// A shard's metadata is gone from Redis (the node restarted empty): the board must be rebuilt.
    case boardMissing(String)
    /// The board's placement names a node the topology does not have.
    case unknownNode(String)
    /// Every attempt of a read saw the board change under it (or a shard is behind the others).
    case unsettled(String)
    /// A shard holds another incarnation of the board (the board was deleted and created again).
    case otherIncarnation(String)
    /// The shards read belong to a layout epoch the board is switching away from: the read is
    /// redone on the board's current layout.
    case epochRetired(String)
}

extension RealtimeStore {
    /// Rebuilds every shard of the board, without progress reports.
    public func rebuild(_ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64, seq: Int64) async throws -> Bool {
        try await rebuild(board, entries: entries, lastEventID: lastEventID, seq: seq, only: nil, force: false, progress: nil, pace: .rebuild)
    }
}

extension RealtimeStore {
    /// Ranks start…end with ordinal ranks.
    public func range(_ board: StoredBoard, start: Int, end: Int) async throws -> LeaderboardPage {
        try await range(board, start: start, end: end, ranking: .ordinal)
    }

    /// The player's entry (ordinal rank), nil when not on the board.
    public func player(_ board: StoredBoard, playerID: String) async throws -> LeaderboardEntry? {
        try await player(board, playerID: playerID, ranking: .ordinal)?.entry
    }

    /// Ranks around the player (ordinal), nil when not on the board.
    public func around(_ board: StoredBoard, playerID: String, radius: Int) async throws -> LeaderboardPage? {
        try await around(board, playerID: playerID, radius: radius, ranking: .ordinal)
    }
}
