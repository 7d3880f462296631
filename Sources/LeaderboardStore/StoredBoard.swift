import LeaderboardCore

/// A board as stored: its configuration, current period, and where its shards are.
public struct StoredBoard: Sendable, Equatable {
    public var config: LeaderboardConfig
    public var period: Int
    /// The Redis node id of each shard; empty for boards made before placements existed (all on the default node).
    public var placement: [String]
    /// Version of the layout in use.
    public var epoch: Int
    /// When the current period began (Unix seconds, UTC).
    public var periodStartedAt: Int64
    /// Which board of this id it is: a board deleted and created again is another incarnation,
    /// and Redis keys left from the old one are recognised as not its own.
    public var incarnation: Int64
    /// The layout the board is migrating to, while a layout change runs.
    public var migration: LayoutTarget?

    public init(
        config: LeaderboardConfig, period: Int, placement: [String] = [], epoch: Int = 1, periodStartedAt: Int64 = 0, incarnation: Int64 = 0,
        migration: LayoutTarget? = nil
    ) {
        self.migration = migration
        self.incarnation = incarnation
        self.config = config
        self.period = period
        self.placement = placement
        self.epoch = epoch
        self.periodStartedAt = periodStartedAt
    }

    public var router: ShardRouter { ShardRouter(config.layout, memberPrefix: hasTiePrefix ? MemberCodec.prefixLength : 0) }
}

extension StoredBoard {
    /// Whether the board's members carry a tie prefix (``MemberCodec``): `tie_break` earliest or latest.
    public var hasTiePrefix: Bool { config.tieBreak.ordersByTime }

    /// The sorted-set member of `player` with tie key `tie`: the player id itself on `player_id`
    /// boards (their bytes never change), ``MemberCodec`` prefix + id on boards ordered by time.
    public func member(_ player: String, tie: Int64) -> String {
        hasTiePrefix ? MemberCodec.member(player: player, tie: tie) : player
    }

    /// Buckets of each shard's tie map (``RedisKeys/tieBucketCount(shards:)``).
    public var tieBuckets: Int { RedisKeys.tieBucketCount(shards: config.layout.shardCount) }

    /// The players (ids, sorted, once each) that `steps` put on this board's view: those whose
    /// usernames a replay of the steps writes again.
    public func playersEntering(_ steps: [ViewStep]) -> [String] {
        var players = Set<String>()
        for step in steps { for change in step.changes where change.after != nil { players.insert(playerID(ofMember: change.playerID)) } }
        return players.sorted()
    }

    /// The player id a member of this board carries (the member itself where it has no prefix).
    public func playerID(ofMember member: String) -> String {
        guard hasTiePrefix else { return member }
        return MemberCodec.split(member)?.player ?? member
    }

    /// The player id and tie key of a member of this board; nil for a member this board could not hold.
    public func split(_ member: String) -> (player: String, tie: Int64)? {
        guard hasTiePrefix else { return (member, 0) }
        return MemberCodec.split(member).map { ($0.player, $0.tie) }
    }
}
