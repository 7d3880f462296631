import LeaderboardCore
import RedisClient

/// What a layout change needs of the shards of one epoch: the retired mark of the switch, and
/// the members per shard (for `GET .../layout`).
extension RedisRealtimeStore {
    public func retire(_ board: StoredBoard, _ retired: Bool) async throws {
        let shards = try shards(board)
        try RedisReplies.check(
            try await round(
                shards.map { ($0.node, ["EVALSHA", Scripts.retire.sha1, "1", $0.meta, String(board.incarnation), retired ? "1" : "0"]) }
            )
        )
    }

    public func shardSizes(_ board: StoredBoard) async throws -> [Int] {
        let shards = try shards(board)
        let replies = try await round(shards.map { ($0.node, ["ZCARD", $0.key]) })
        try RedisReplies.check(replies)
        guard replies.count == shards.count else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
        return try replies.map { reply in
            guard let count = reply.integer, count >= 0 else { throw RedisError(.protocolViolation, "ZCARD answered no count") }
            return Int(count)
        }
    }
}
