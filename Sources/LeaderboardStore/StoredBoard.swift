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

    public var router: ShardRouter { ShardRouter(config.layout) }
}
