/// What ``WindowLocator`` asks of a sharded board: each call is one parallel round over the shards.
public protocol ShardReader: Sendable {
    /// Number of shards.
    var shardCount: Int { get }
    /// Members per shard.
    func cardinalities() async throws -> [Int]
    /// For each shard, the member at 0-based position `positions[i]` in the board's order (nil: none asked).
    func members(at positions: [Int?]) async throws -> [RankedMember?]
    /// For each shard i and pivot j, how many members of shard i rank strictly ahead of pivot j.
    func countsAhead(of pivots: [RankedMember]) async throws -> [[Int]]
    /// For each shard, its members at the positions of `ranges[i]` (positions past its end are
    /// simply absent), in the board's order, and its size where its range was not empty.
    func members(in ranges: [Range<Int>]) async throws -> (sizes: [Int?], lists: [[RankedMember]])
}

/// Finds the members at global positions start ..< start + count of a board split over shards,
/// without reading every member ahead of them.
///
/// It keeps, for each shard i, bounds lo[i] ≤ o[i] ≤ hi[i] on o[i], the number of shard i's
/// members among the first `start` of the board. Each round picks one pivot member per shard
/// inside its bounds (by interpolation, or bisection when interpolation stalls), counts on every
/// shard the members ahead of each pivot, and tightens the bounds: a pivot with fewer than
/// `start` members ahead is itself within the first `start`, so every member ahead of it is too;
/// otherwise no member behind it is. When the bounds are close it fetches, per shard,
/// lo[i] ..< hi[i] + count, merges, and skips start − Σ lo (the first start − Σ lo merged members
/// are exactly those among the first `start`).
public struct WindowLocator: Sendable {
    public let order: SortOrder
    /// Fetch directly, without searching, when start + count is at most this.
    public var directFetchLimit = 1024
    /// Stop searching once Σ (hi − lo) is at most this (plus twice the window).
    public var slack = 64

    public init(order: SortOrder) {
        self.order = order
    }

    /// The members at positions start ..< start + count (0-based), fewer at the end of the board,
    /// and the board's size. `rounds` counts the parallel rounds used.
    public func window(start: Int, count: Int, reader: some ShardReader) async throws -> (members: [RankedMember], total: Int, rounds: Int) {
        precondition(start >= 0 && count > 0)
        let shards = reader.shardCount
        if shards == 1 {
            let answer = try await reader.members(in: [start..<start + count])
            return (answer.lists[0], answer.sizes[0] ?? 0, 1)
        }
        if start + count <= directFetchLimit {
            // No sizes needed first: the first fetch reports them.
            let (merged, total, fetches) = try await mergedPrefix(from: [Int](repeating: 0, count: shards), sizes: nil, need: start + count, reader: reader)
            return (Array(merged.dropFirst(start)), total, fetches)
        }
        let sizes = try await reader.cardinalities()
        let total = sizes.reduce(0, +)
        guard start < total else { return ([], total, 1) }

        var low = [Int](repeating: 0, count: shards)
        var high = sizes.map { min($0, start) }
        var rounds = 1
        var bisect = false
        let threshold = slack + 2 * count
        while zip(high, low).reduce(0, { $0 + $1.0 - $1.1 }) > threshold {
            let before = zip(high, low).reduce(0, { $0 + $1.0 - $1.1 })
            let lowSum = low.reduce(0, +)
            let highSum = high.reduce(0, +)
            let fraction = highSum > lowSum ? Double(start - lowSum) / Double(highSum - lowSum) : 0.5
            let positions: [Int?] = (0..<shards).map { shard in
                let width = high[shard] - low[shard]
                guard width > 0 else { return nil }
                let offset = bisect ? width / 2 : Int(fraction * Double(width))
                return low[shard] + min(max(offset, 0), width - 1)
            }
            let pivots = try await reader.members(at: positions)
            let chosen = pivots.enumerated().compactMap { shard, member in member.map { (shard, $0) } }
            guard !chosen.isEmpty else { break }
            let counts = try await reader.countsAhead(of: chosen.map(\.1))
            rounds += 2
            for (index, (home, _)) in chosen.enumerated() {
                let ahead = (0..<shards).reduce(0) { $0 + counts[$1][index] }
                if ahead < start {
                    for shard in 0..<shards { low[shard] = max(low[shard], counts[shard][index]) }
                    low[home] = max(low[home], counts[home][index] + 1)
                } else {
                    for shard in 0..<shards { high[shard] = min(high[shard], counts[shard][index]) }
                }
            }
            let after = zip(high, low).reduce(0, { $0 + $1.0 - $1.1 })
            bisect = after * 2 > before
        }
        let skip = start - low.reduce(0, +)
        let (merged, _, fetches) = try await mergedPrefix(from: low, sizes: sizes, need: skip + count, reader: reader)
        return (Array(merged.dropFirst(skip)), total, rounds + fetches)
    }

    /// The first `need` members of the merge of every shard's members from position `lows[i]` on,
    /// and the board's size.
    ///
    /// It fetches about a fair share from each shard (1.5 × need / shards), merges, and checks the
    /// prefix: a shard with members left beyond what was fetched could still place one of them
    /// before the need-th member unless its last fetched member sits at or after that position;
    /// such shards get more (doubling) until the prefix is certain. Without `sizes`, the first
    /// fetch (which asks every shard) reports them. Returns the number of fetch rounds (usually one).
    func mergedPrefix(from lows: [Int], sizes known: [Int]?, need: Int, reader: some ShardReader) async throws -> ([RankedMember], Int, Int) {
        let shards = lows.count
        let share = need * 3 / (2 * shards) + 4
        var ends = (0..<shards).map { lows[$0] + min(need, share) }
        if let known { ends = (0..<shards).map { min(known[$0], ends[$0]) } }
        let first = try await reader.members(in: (0..<shards).map { lows[$0]..<ends[$0] })
        guard let sizes = known ?? (first.sizes.allSatisfy { $0 != nil } ? first.sizes.map { $0! } : nil) else {
            throw LocatorError.missingSizes
        }
        var lists = first.lists
        ends = (0..<shards).map { min(sizes[$0], ends[$0]) }
        var rounds = 1
        while true {
            let (merged, origins) = order.mergeWithOrigins(lists)
            var lastPosition = [Int](repeating: -1, count: shards)
            for (position, origin) in origins.enumerated() { lastPosition[origin] = position }
            let short = (0..<shards).filter { ends[$0] < sizes[$0] && lastPosition[$0] < need - 1 }
            if short.isEmpty { return (Array(merged.prefix(need)), sizes.reduce(0, +), rounds) }
            var ranges = lows.map { $0..<$0 }
            for shard in short {
                let more = max(ends[shard] - lows[shard], share)
                ranges[shard] = ends[shard]..<min(sizes[shard], ends[shard] + more)
            }
            let extra = try await reader.members(in: ranges).lists
            rounds += 1
            for shard in short {
                lists[shard] += extra[shard]
                ends[shard] = ranges[shard].upperBound
            }
        }
    }
}

/// A reader that broke its contract.
public enum LocatorError: Error, Sendable {
    /// A fetch over every shard did not report every shard's size.
    case missingSizes
}
