import LeaderboardCore

/// The seed's key patterns, extended per shard.
///
/// A one-shard board keeps the seed's keys; shard s of a sharded board has its own sorted set and
/// metadata hash on the node the board's placement names.
public enum RedisKeys {
    /// Sorted set of a board's scores (shard `shard` of `shards`).
    public static func realtime(_ board: String, shard: Int = 0, of shards: Int = 1, epoch: Int = 1) -> String {
        shards == 1 ? "\(prefix(board, epoch))realtime" : "\(prefix(board, epoch))realtime:\(shard)"
    }

    /// Hash of a shard's metadata (order, limits, layout, epoch, period, last applied event id, version).
    public static func meta(_ board: String, shard: Int = 0, of shards: Int = 1, epoch: Int = 1) -> String {
        shards == 1 ? "\(prefix(board, epoch))meta" : "\(prefix(board, epoch))meta:\(shard)"
    }

    /// The keys of layout epoch 1 (every board's first) are the seed's; a later epoch (a layout
    /// changed online) names its own, so both can live side by side while the board migrates.
    /// The epoch follows a `#`, which no board id holds (ids may hold `:`, so `:e2:` could be
    /// another board's name).
    static func prefix(_ board: String, _ epoch: Int) -> String {
        epoch <= 1 ? "leaderboard:\(board):" : "leaderboard:\(board)#e\(epoch):"
    }

    /// The sorted set of a shard on a Redis Cluster: every key of a shard carries one hash tag,
    /// `{board#e<epoch>/<shard>}`, so its set, metadata, tie map, names and staging sets share a
    /// slot (a shard's scripts touch one slot) and the cluster spreads shards over its masters.
    public static func clusterRealtime(_ board: String, shard: Int, epoch: Int) -> String { "leaderboard:{\(board)#e\(epoch)/\(shard)}:realtime" }

    /// The metadata hash of a shard on a Redis Cluster (see ``clusterRealtime(_:shard:epoch:)``).
    public static func clusterMeta(_ board: String, shard: Int, epoch: Int) -> String { "leaderboard:{\(board)#e\(epoch)/\(shard)}:meta" }

    /// The usernames of a shard's players on a Redis Cluster (player id → username), in the
    /// shard's slot: scripts read names there instead of from ``playerInfo(_:)``, which lives in
    /// a slot of its own.
    public static func names(_ meta: String) -> String { "\(meta):names" }

    /// Hash of a player's info (username), on every node that holds one of the player's shards.
    public static func playerInfo(_ player: String) -> String { "player:\(player):info" }

    /// Buckets of each shard's tie map on a board of `shards` shards: 8192 for the whole board
    /// (at least 64 a shard), so a board of a million players keeps about 122 a bucket, within
    /// what Redis keeps as a compact listpack (`hash-max-listpack-entries` 128), and dropping or
    /// emptying a board's maps names at most about 8,192 keys whatever its shard count.
    public static func tieBucketCount(shards: Int) -> Int { max(64, 8192 / max(shards, 1)) }

    /// One bucket of a shard's tie map, on boards ordered by commit time: player id → the tie
    /// prefix(es) of its member (see ``MemberCodec``), so a read by player id finds the member.
    /// `meta` is the shard's metadata key (whose hash tag, on a cluster, it shares); the bucket
    /// comes from the player id alone.
    public static func tieBucket(_ meta: String, player: String, buckets: Int) -> String {
        "\(meta):t:\((XXH3.hash(player) >> 20) % UInt64(max(buckets, 1)))"
    }

    /// Every bucket name of a shard's tie map (to drop them with the shard).
    public static func tieBuckets(_ meta: String, buckets: Int) -> [String] {
        (0..<max(buckets, 1)).map { "\(meta):t:\($0)" }
    }

    /// The set of rebuilds staging a shard right now (a token each, put in by every staging piece
    /// and taken out by the rebuild's switch, or its failure; it expires an hour after the last
    /// piece): while it stands, the shard's tie map only gains prefixes (a staged set may hold a
    /// member whose prefix a live change would otherwise drop).
    public static func tieStaging(_ meta: String) -> String { "\(meta):t:staging" }

    /// Where one rebuild attempt of a shard writes before it switches over: beside the shard's
    /// set, so in its slot on a Redis Cluster.
    static func rebuilding(_ shardKey: String, attempt: UInt64) -> String { "\(shardKey):rebuild:\(attempt)" }
}
