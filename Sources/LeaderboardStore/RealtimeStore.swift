import LeaderboardCore

/// The real-time view of the boards: what the read endpoints answer from.
///
/// The service sees only this protocol; a board's layout (one sorted set or many shards) is the
/// store's business, and every answer is the one a single sorted set would give. Every write is
/// an absolute score already committed in PostgreSQL, so applying one twice is harmless.
public protocol RealtimeStore: Sendable {
    /// Records a new board's metadata on each of its shards.
    func prepareBoard(_ board: StoredBoard, lastEventID: Int64) async throws
    /// Drops every key of the board.
    func deleteBoard(_ board: StoredBoard) async throws
    /// Empties the board for a new period.
    func resetBoard(_ board: StoredBoard, lastEventID: Int64) async throws
    /// Applies committed changes. Returns the boards whose view turned out to be lost (to rebuild).
    func apply(_ batch: RealtimeBatch) async throws -> Set<String>
    /// Replaces the board's content with `entries` (a snapshot of PostgreSQL in the board's order),
    /// shard by shard (only the shards in `only`, when given), each only if its version is still
    /// the one in `expected` (read before the snapshot). Each shard is built aside and switched in
    /// at once. Returns false when some shard changed meanwhile: the caller takes a new snapshot.
    /// `progress` hears how many members were written so far.
    func rebuild(
        _ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64, ifVersions expected: [Int64?], only: Set<Int>?,
        progress: (@Sendable (Int) -> Void)?
    ) async throws -> Bool
    /// Per shard, a number that changes whenever the shard changes; nil where its metadata is missing.
    func viewVersions(_ board: StoredBoard) async throws -> [Int64?]
    /// The id of the last event applied to every shard of the board; nil when a shard has no metadata.
    func lastAppliedEventID(_ board: StoredBoard) async throws -> Int64?

    /// Ranks start…end (1-based, inclusive) and the number of ranked players.
    func range(_ board: StoredBoard, start: Int, end: Int) async throws -> LeaderboardPage
    /// The player's entry, nil when not on the board.
    func player(_ board: StoredBoard, playerID: String) async throws -> LeaderboardEntry?
    /// Ranks r−radius … r+radius around the player (clipped), nil when not on the board.
    func around(_ board: StoredBoard, playerID: String, radius: Int) async throws -> LeaderboardPage?
    /// Number of ranked players.
    func count(_ board: StoredBoard) async throws -> Int

    /// Throws when a node is unreachable.
    func ping() async throws

    /// Members of one shard at positions offset ..< offset + count (ascending score order), for reconciling.
    func shardMembers(_ board: StoredBoard, shard: Int, offset: Int, count: Int) async throws -> [RankedMember]
    /// Runs the chunk probes of one shard (one atomic script each, all in one round).
    func scanChunks(_ board: StoredBoard, shard: Int, probes: [ShardChunks.Probe]) async throws -> [ShardChunks.Scan]
    /// Applies repairs, each only if the member still holds what was observed (compare-and-set),
    /// so a write applied meanwhile is never undone. Returns how many were applied.
    func repair(_ board: StoredBoard, fixes: [ShardFix]) async throws -> Int
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

/// Committed changes to apply to the real-time view, grouped by board.
public struct RealtimeBatch: Sendable {
    public struct Score: Sendable, Equatable {
        public var playerID: String
        public var score: Int64
        /// The score before, when the player was on the board (a band board may move it).
        public var previous: Int64?

        public init(playerID: String, score: Int64, previous: Int64? = nil) {
            self.playerID = playerID
            self.score = score
            self.previous = previous
        }
    }

    public struct BoardChanges: Sendable {
        public var board: StoredBoard
        public var scores: [Score] = []
        /// Removed players with the score they had.
        public var removals: [(playerID: String, score: Int64)] = []
        /// Usernames to record, with the player's current score on this board (to find its shard).
        public var usernames: [(playerID: String, username: String, score: Int64)] = []
        public var lastEventID: Int64 = 0

        public init(board: StoredBoard) {
            self.board = board
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
}

extension RealtimeStore {
    /// Rebuilds every shard of the board, without progress reports.
    public func rebuild(_ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64, ifVersions expected: [Int64?]) async throws -> Bool {
        try await rebuild(board, entries: entries, lastEventID: lastEventID, ifVersions: expected, only: nil, progress: nil)
    }
}
