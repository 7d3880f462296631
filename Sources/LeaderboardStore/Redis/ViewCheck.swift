import NIOConcurrencyHelpers
import RedisClient

/// What one read saw of a board's change sequence: every shard it asks reports, before and after
/// its commands of a round, the number of the last view change it applied. A read whose every
/// report is the same number k answered from the board exactly as it was after change k — one
/// state, even over several rounds and shards (a shard's content is a function of the changes it
/// applied). Any other report throws ``ViewMoved`` and the read is redone.
final class ViewCheck: Sendable {
    private let seen = NIOLockedValueBox<Int64?>(nil)

    init() {}

    /// Takes one report (the reply to `HGET meta seq`).
    func observe(_ reply: RedisReply, board: String) throws {
        if case .error(let message) = reply { throw RedisError(.server, message) }
        guard let text = reply.string else { throw RealtimeStoreError.boardMissing(board) }
        guard let seq = Int64(text), seq >= 0 else { throw RedisError(.protocolViolation, "a shard's change number is not a number") }
        try seen.withLockedValue { seen in
            if let earlier = seen, earlier != seq { throw ViewMoved() }
            seen = seq
        }
    }

    /// The change number every report named (nil before the first).
    var seq: Int64? { seen.withLockedValue { $0 } }
}

/// A read saw two states of a board (a change landed between its rounds, or between shards).
struct ViewMoved: Error, Sendable {}
