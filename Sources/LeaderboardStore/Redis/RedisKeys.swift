/// The seed's key patterns, extended per shard.
///
/// A one-shard board keeps the seed's keys; shard s of a sharded board has its own sorted set and
/// metadata hash on the node the board's placement names.
public enum RedisKeys {
    /// Sorted set of a board's scores (shard `shard` of `shards`).
    public static func realtime(_ board: String, shard: Int = 0, of shards: Int = 1) -> String {
        shards == 1 ? "leaderboard:\(board):realtime" : "leaderboard:\(board):realtime:\(shard)"
    }

    /// Hash of a shard's metadata (order, limits, layout, epoch, period, last applied event id, version).
    public static func meta(_ board: String, shard: Int = 0, of shards: Int = 1) -> String {
        shards == 1 ? "leaderboard:\(board):meta" : "leaderboard:\(board):meta:\(shard)"
    }

    /// Hash of a player's info (username), on every node that holds one of the player's shards.
    public static func playerInfo(_ player: String) -> String { "player:\(player):info" }

    /// Where one rebuild attempt of a shard writes before it switches over.
    static func rebuilding(_ board: String, shard: Int, attempt: UInt64) -> String { "leaderboard:\(board):rebuild:\(shard):\(attempt)" }
}
