/// A proposed layout for a board and how its players would spread over the shards.
public struct LayoutPlan: Sendable, Equatable {
    public enum Strategy: String, Sendable, Equatable { case band, hash }

    public var strategy: Strategy
    public var layout: Layout
    /// Players per shard under the proposal, shard 0 first.
    public var members: [Int]

    public init(strategy: Strategy, layout: Layout, members: [Int]) {
        self.strategy = strategy
        self.layout = layout
        self.members = members
    }

    /// Largest shard over the mean (1 is perfect balance; 0 for an empty board).
    public var imbalance: Double { Self.imbalance(members) }

    public static func imbalance(_ members: [Int]) -> Double {
        let total = members.reduce(0, +)
        guard total > 0, let largest = members.max() else { return 0 }
        return Double(largest) / (Double(total) / Double(members.count))
    }

    /// Band bounds that split the players of `histogram` (distinct scores ascending, with their
    /// player counts) into `bands` bands of about equal size.
    ///
    /// Players of one score always share a band, so a bound can only sit at a distinct score
    /// (which then opens the band above). Bounds are chosen from the low end: each where the
    /// players below it come closest to the next band's share of those still unplaced, so a heavy
    /// tie takes a band of its own and the bands after it share the rest evenly. With fewer
    /// distinct scores than bands, fewer bands come out (bounds must be strictly ascending).
    public static func band(histogram: [(score: Int64, count: Int)], bands: Int) -> LayoutPlan {
        precondition(bands >= 2)
        // below[i]: the players whose score is under histogram[i].score.
        var below = [0]
        below.reserveCapacity(histogram.count + 1)
        for item in histogram { below.append(below[below.count - 1] + item.count) }
        let total = below[below.count - 1]
        var bounds: [Int64] = []
        var last = 0
        for band in 1..<bands {
            guard last + 1 < histogram.count else { break }
            let target = Double(below[last]) + Double(total - below[last]) / Double(bands - band + 1)
            var index = last + 1
            // Each band still to come keeps a distinct score of its own when there are enough.
            let highest = max(last + 1, histogram.count - (bands - band))
            while index + 1 <= highest, index + 1 < histogram.count,
                abs(Double(below[index + 1]) - target) <= abs(Double(below[index]) - target)
            {
                index += 1
            }
            bounds.append(histogram[index].score)
            last = index
        }
        guard !bounds.isEmpty else {
            // One distinct score (or none): nothing can split it.
            return LayoutPlan(strategy: .band, layout: .single, members: [total])
        }
        return LayoutPlan(strategy: .band, layout: .band(bounds: bounds), members: members(histogram, bounds: bounds))
    }

    /// Players per band of `bounds` for a histogram of distinct scores.
    public static func members(_ histogram: [(score: Int64, count: Int)], bounds: [Int64]) -> [Int] {
        var members = [Int](repeating: 0, count: bounds.count + 1)
        for (score, count) in histogram { members[ShardRouter.band(of: score, bounds: bounds)] += count }
        return members
    }

    /// A hash layout of `shards` shards, with the players per shard counted by the caller.
    public static func hash(shards: Int, members: [Int]) -> LayoutPlan {
        LayoutPlan(strategy: .hash, layout: shards == 1 ? .single : .hash(shards: shards), members: members)
    }
}
