import NIOConcurrencyHelpers

/// Boards whose real-time view may be behind PostgreSQL: reads answer 503 until RealtimeRecovery
/// has rebuilt them.
public final class StaleBoards: Sendable {
    /// What must be rebuilt.
    public enum Scope: Sendable, Equatable {
        /// Only the shards whose metadata vanished (a Redis node that came back empty): the
        /// others are intact.
        case missingShards
        /// Every shard: a write may have failed anywhere.
        case whole
    }

    private let boards = NIOLockedValueBox<[String: Scope]>([:])

    public init() {}

    /// Marks the whole board.
    public func mark(_ board: String) { boards.withLockedValue { $0[board] = .whole } }
    public func mark(_ set: Set<String>) { for board in set { mark(board) } }

    /// Marks the shards of the board that lost their metadata (unless the whole board is marked).
    public func markMissing(_ board: String) { boards.withLockedValue { $0[board] = $0[board] ?? .missingShards } }
    public func markMissing(_ set: Set<String>) { for board in set { markMissing(board) } }

    public func clear(_ board: String) { _ = boards.withLockedValue { $0.removeValue(forKey: board) } }

    /// Clears the mark if it is still `scope` (a mark widened meanwhile stays).
    public func clear(_ board: String, ifStill scope: Scope) {
        boards.withLockedValue { if $0[board] == scope { $0.removeValue(forKey: board) } }
    }

    public func contains(_ board: String) -> Bool { boards.withLockedValue { $0[board] != nil } }
    public func scope(_ board: String) -> Scope? { boards.withLockedValue { $0[board] } }
    public var all: Set<String> { boards.withLockedValue { Set($0.keys) } }
}
