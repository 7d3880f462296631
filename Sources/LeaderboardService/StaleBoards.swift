import NIOConcurrencyHelpers

/// Boards whose real-time view may be behind PostgreSQL: reads answer 503 until a rebuild has
/// replaced them. This is the process's view of the marks; the marks themselves are shared
/// through PostgreSQL (`board_rebuilds`, see ``RealtimeRecovery``): a mark set here is published
/// there, every process learns the others' marks each second, and one process at a time rebuilds
/// a board.
public final class StaleBoards: Sendable {
    /// What must be rebuilt.
    public enum Scope: Sendable, Equatable {
        /// Only the shards whose metadata vanished (a Redis node that came back empty): the
        /// others are intact.
        case missingShards
        /// Every shard: a write may have failed anywhere.
        case whole
    }

    private struct Mark {
        var scope: Scope
        /// Bumped by every mark, so a rebuild clears only the marks it has covered.
        var generation: UInt64
        /// Set here and not yet recorded in PostgreSQL.
        var unpublished: Bool
    }

    private struct State {
        var marks: [String: Mark] = [:]
        var generation: UInt64 = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Marks the whole board.
    public func mark(_ board: String) { mark(board, .whole, publish: true) }
    public func mark(_ set: Set<String>) { for board in set { mark(board) } }

    /// Marks the shards of the board that lost their metadata (unless the whole board is marked).
    public func markMissing(_ board: String) { mark(board, .missingShards, publish: true) }
    public func markMissing(_ set: Set<String>) { for board in set { markMissing(board) } }

    /// A mark another process published (nothing to publish again).
    public func adopt(_ board: String, whole: Bool) {
        state.withLockedValue { state in
            if let mark = state.marks[board], mark.scope == .whole || !whole { return }
            state.generation += 1
            state.marks[board] = Mark(scope: whole ? .whole : .missingShards, generation: state.generation, unpublished: false)
        }
    }

    private func mark(_ board: String, _ scope: Scope, publish: Bool) {
        state.withLockedValue { state in
            state.generation += 1
            let widened: Scope = state.marks[board]?.scope == .whole ? .whole : scope
            state.marks[board] = Mark(scope: widened, generation: state.generation, unpublished: publish || state.marks[board]?.unpublished == true)
        }
    }

    public func clear(_ board: String) { _ = state.withLockedValue { $0.marks.removeValue(forKey: board) } }

    /// Clears the mark if it is still `scope` (a mark widened meanwhile stays).
    public func clear(_ board: String, ifStill scope: Scope) {
        state.withLockedValue { state in if state.marks[board]?.scope == scope { state.marks.removeValue(forKey: board) } }
    }

    /// The board's mark's generation (nil when unmarked): a rebuild that began at it covers it.
    public func generation(_ board: String) -> UInt64? { state.withLockedValue { $0.marks[board]?.generation } }

    /// Clears the mark unless it was set again after `generation` (a rebuild's start).
    public func clear(_ board: String, coveredBy generation: UInt64) {
        state.withLockedValue { state in
            if let mark = state.marks[board], mark.generation <= generation { state.marks.removeValue(forKey: board) }
        }
    }

    /// The marks set here since the last call, to record in PostgreSQL (whole: every shard).
    public func takeUnpublished() -> [String: Bool] {
        state.withLockedValue { state in
            var taken: [String: Bool] = [:]
            for (board, mark) in state.marks where mark.unpublished {
                taken[board] = mark.scope == .whole
                state.marks[board]?.unpublished = false
            }
            return taken
        }
    }

    /// Marks to record again (recording them failed).
    public func republish(_ boards: [String: Bool]) {
        state.withLockedValue { state in for board in boards.keys { state.marks[board]?.unpublished = true } }
    }

    /// Whether the mark still waits to be recorded in PostgreSQL.
    public func isUnpublished(_ board: String) -> Bool { state.withLockedValue { $0.marks[board]?.unpublished == true } }

    public func contains(_ board: String) -> Bool { state.withLockedValue { $0.marks[board] != nil } }
    public func scope(_ board: String) -> Scope? { state.withLockedValue { $0.marks[board]?.scope } }
    public var all: Set<String> { state.withLockedValue { Set($0.marks.keys) } }
}
