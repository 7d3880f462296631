import LeaderboardCore

/// The real-time view of the boards: what the read endpoints answer from.
///
/// The HTTP layer and the service see only this protocol, so a sharded store can replace the
/// single-sorted-set one without touching them. Every write is an absolute score already
/// committed in PostgreSQL, so applying one twice is harmless.
public protocol RealtimeStore: Sendable {
    /// Records a new (or reset) board's metadata.
    func prepareBoard(_ board: StoredBoard, lastEventID: Int64) async throws
    /// Drops every key of the board.
    func deleteBoard(_ id: String) async throws
    /// Empties the board for a new period.
    func resetBoard(_ board: StoredBoard, lastEventID: Int64) async throws
    /// Applies committed changes: scores, removals, usernames, trimming and the last event ids.
    /// Returns the boards whose view turned out to be lost (they need a rebuild).
    func apply(_ batch: RealtimeBatch) async throws -> Set<String>
    /// Replaces the board's content at once with `entries` (a snapshot of PostgreSQL), provided the
    /// view's version is still `expected` (read before the snapshot was taken). Returns false,
    /// changing nothing, when changes were applied meanwhile: the caller takes a new snapshot.
    func rebuild(_ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64, ifVersion expected: Int64?) async throws -> Bool
    /// A number that changes whenever the board's view changes; nil when its metadata is missing.
    func viewVersion(_ board: String) async throws -> Int64?
    /// The id of the last event applied to the board, nil when the board has no metadata (lost or new).
    func lastAppliedEventID(_ board: String) async throws -> Int64?

    /// Ranks start…end (1-based, inclusive) and the board's total.
    func range(_ board: LeaderboardConfig, start: Int, end: Int) async throws -> LeaderboardPage
    /// The player's entry, nil when not on the board.
    func player(_ board: LeaderboardConfig, playerID: String) async throws -> LeaderboardEntry?
    /// Ranks r−radius … r+radius around the player (clipped), nil when not on the board.
    func around(_ board: LeaderboardConfig, playerID: String, radius: Int) async throws -> LeaderboardPage?
    /// Players on the board.
    func count(_ board: LeaderboardConfig) async throws -> Int

    /// Throws when a node is unreachable.
    func ping() async throws
}

/// Committed changes to apply to the real-time view, grouped by board.
public struct RealtimeBatch: Sendable {
    public struct BoardChanges: Sendable {
        public var config: LeaderboardConfig
        public var scores: [(playerID: String, score: Int64)] = []
        public var removals: [String] = []
        public var lastEventID: Int64 = 0

        public init(config: LeaderboardConfig) {
            self.config = config
        }
    }

    public var boards: [String: BoardChanges] = [:]
    public var usernames: [String: String] = [:]

    public init() {}

    public var isEmpty: Bool { boards.isEmpty && usernames.isEmpty }
}

/// Failures of the real-time view that are not I/O errors.
public enum RealtimeStoreError: Error, Sendable, Equatable {
    /// The board's metadata is gone from Redis (the node restarted empty): the view must be rebuilt.
    case boardMissing(String)
}
