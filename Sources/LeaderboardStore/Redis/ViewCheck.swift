import LeaderboardCore
import NIOConcurrencyHelpers
import RedisClient

/// What one read saw of a board: every shard it asks reports, before and after its commands of a
/// round, the number of the last view change it applied (`seq`), its content version (bumped by
/// every change of its members: applies, rebuild switches, sync repairs) and the board's
/// incarnation. A read whose every report names the same number k, each shard always the same
/// version, answered from the board exactly as it was after change k — one state, even over
/// several rounds and shards (a shard's content is a function of the changes it applied). Any
/// other report throws ``ViewMoved`` and the read is redone.
final class ViewCheck: Sendable {
    private struct Seen {
        var seq: Int64?
        var versions: [Int: Int64] = [:]
    }

    private let seen = NIOLockedValueBox(Seen())
    private let board: String
    private let incarnation: String

    init(board: StoredBoard) {
        self.board = board.config.id
        incarnation = String(board.incarnation)
    }

    /// The fields of a shard report, as ``observe(_:shard:)`` reads them.
    static let reportFields = ["seq", "version", "incarnation", "retired"]

    /// Takes one report (the reply to `HMGET meta seq version incarnation retired`) of shard `shard`.
    func observe(_ reply: RedisReply, shard: Int) throws {
        if case .error(let message) = reply { throw RedisError(.server, message) }
        guard let items = reply.array, items.count == 4 else { throw RedisError(.protocolViolation, "unexpected reply to a shard report") }
        guard let text = items[0].string else { throw RealtimeStoreError.boardMissing(board) }
        guard items[2].string == incarnation else { throw RealtimeStoreError.otherIncarnation(board) }
        // The board's layout is switching (or switched) to another epoch: this one is no longer its view.
        guard items[3].string == nil else { throw RealtimeStoreError.epochRetired(board) }
        guard let seq = Int64(text), seq >= 0 else { throw RedisError(.protocolViolation, "a shard's change number is not a number") }
        let version = items[1].string.flatMap(Int64.init) ?? 0
        try seen.withLockedValue { seen in
            if let earlier = seen.seq, earlier != seq { throw ViewMoved() }
            if let earlier = seen.versions[shard], earlier != version { throw ViewMoved() }
            seen.seq = seq
            seen.versions[shard] = version
        }
    }

    /// The change number every report named (nil before the first).
    var seq: Int64? { seen.withLockedValue { $0.seq } }
}

/// A read saw two states of a board (a change landed between its rounds, or between shards).
struct ViewMoved: Error, Sendable {}
