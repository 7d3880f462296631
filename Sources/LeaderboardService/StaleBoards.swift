import NIOConcurrencyHelpers

/// Boards whose real-time view is known to lag PostgreSQL (a Redis write failed, or Redis lost
/// the board). Reads of a stale board answer 503 instead of a possibly wrong rank, until the
/// recovery service rebuilds it.
public final class StaleBoards: Sendable {
    private let boards = NIOLockedValueBox<Set<String>>([])

    public init() {}

    public func mark(_ board: String) { _ = boards.withLockedValue { $0.insert(board) } }
    public func mark(_ set: Set<String>) { boards.withLockedValue { $0.formUnion(set) } }
    public func clear(_ board: String) { _ = boards.withLockedValue { $0.remove(board) } }
    public func contains(_ board: String) -> Bool { boards.withLockedValue { $0.contains(board) } }
    public var all: Set<String> { boards.withLockedValue { $0 } }
}
