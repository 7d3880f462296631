/// Which shard of a board a player lives on.
public struct ShardRouter: Sendable, Equatable {
    public let layout: Layout
    /// Bytes before the player id in a member of the board's sorted sets: ``MemberCodec/prefixLength``
    /// on boards ordered by commit time, else 0.
    public let memberPrefix: Int

    public init(_ layout: Layout, memberPrefix: Int = 0) {
        self.layout = layout
        self.memberPrefix = memberPrefix
    }

    public var shardCount: Int { layout.shardCount }

    /// True when the shard depends on the score (a player can move between shards).
    public var routesByScore: Bool {
        if case .band = layout { return true }
        return false
    }

    /// The shard of a player with `score`: XXH3-64(player_id) mod N for hash layouts, the band
    /// holding the score for band layouts: (−∞, b1) is 0, [b1, b2) is 1, …, [bk, +∞) is k.
    @inlinable
    public func shard(player: String, score: Int64) -> Int {
        switch layout {
        case .single: return 0
        case .hash(let shards): return Int(XXH3.hash(player) % UInt64(shards))
        case .band(let bounds): return Self.band(of: score, bounds: bounds)
        }
    }

    /// The shard of a sorted-set member with `score`: that of the player id it carries (a player
    /// stays on its hash shard whatever its tie prefix).
    @inlinable
    public func shard(member: String, score: Int64) -> Int {
        guard memberPrefix > 0, case .hash(let shards) = layout else { return shard(player: member, score: score) }
        return Int(XXH3.hash(member, skipping: memberPrefix) % UInt64(shards))
    }

    /// Number of bounds ≤ score (binary search).
    @inlinable
    public static func band(of score: Int64, bounds: [Int64]) -> Int {
        var low = 0
        var high = bounds.count
        while low < high {
            let middle = (low + high) / 2
            if bounds[middle] <= score { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// For band layouts, the shards in the board's order (best band first); nil for other layouts.
    public func bandOrder(_ order: SortOrder) -> [Int]? {
        guard case .band(let bounds) = layout else { return nil }
        let ascending = Array(0...bounds.count)
        return order == .desc ? ascending.reversed() : ascending
    }
}
