import LeaderboardCore
import NIOConcurrencyHelpers
import Testing

/// Shards held in memory, sorted in the board's order: a pure model of what Redis answers.
final class MemoryShards: ShardReader, @unchecked Sendable {
    let shards: [[RankedMember]]
    let order: SortOrder
    let rounds = NIOLockedValueBox(0)
    /// The scores every scoreCounts call was asked to count, in all.
    let scoresCounted = NIOLockedValueBox(0)
    /// The members every `members(in:)` call returned, in all.
    let membersFetched = NIOLockedValueBox(0)

    init(_ members: [RankedMember], shardOf: (RankedMember) -> Int, count: Int, order: SortOrder) {
        var shards = [[RankedMember]](repeating: [], count: count)
        for member in members { shards[shardOf(member)].append(member) }
        self.shards = shards.map { $0.sorted { order.precedes(($0.score, $0.playerID), ($1.score, $1.playerID)) } }
        self.order = order
    }

    var shardCount: Int { shards.count }

    func cardinalities() async throws -> [Int] { shards.map(\.count) }

    func members(at positions: [Int?]) async throws -> [RankedMember?] {
        zip(shards, positions).map { shard, position in position.flatMap { $0 < shard.count ? shard[$0] : nil } }
    }

    func countsAhead(of pivots: [RankedMember]) async throws -> [[Int]] {
        shards.map { shard in
            pivots.map { pivot in shard.filter { order.precedes(($0.score, $0.playerID), (pivot.score, pivot.playerID)) }.count }
        }
    }

    /// The model probes around each shard's exact share of `start` (a reader only estimates it).
    func probe(start: Int, spacing: Int, count: Int) async throws -> [ShardProbe] {
        let total = shards.reduce(0) { $0 + $1.count }
        return shards.map { shard in
            guard !shard.isEmpty else { return ShardProbe(size: 0, members: []) }
            let center = total == 0 ? 0 : start * shard.count / total
            var positions: [Int] = []
            for j in 0..<count {
                let position = min(max(center + (2 * j - (count - 1)) * spacing / 2, 0), shard.count - 1)
                if position > (positions.last ?? -1) { positions.append(position) }
            }
            return ShardProbe(size: shard.count, members: positions.map { ($0, shard[$0]) })
        }
    }

    func scoreCounts(of scores: [Int64]) async throws -> [[ScoreCount]] {
        scoresCounted.withLockedValue { $0 += scores.count }
        // (Each shard is sorted in the board's order: its members with a better score come first,
        // then those with the score; found by bisection.)
        return shards.map { shard in
            scores.map { score in
                let better = Self.firstIndex(in: shard) { !order.isBetter($0.score, than: score) }
                let notWorse = Self.firstIndex(in: shard) { $0.score != score && !order.isBetter($0.score, than: score) }
                return ScoreCount(better: better, equal: notWorse - better)
            }
        }
    }

    /// The first index of `sorted` where `predicate` holds (it holds from some index on).
    static func firstIndex(in sorted: [RankedMember], where predicate: (RankedMember) -> Bool) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if predicate(sorted[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    func members(in ranges: [Range<Int>]) async throws -> (sizes: [Int?], lists: [[RankedMember]]) {
        let lists = zip(shards, ranges).map { shard, range in Array(shard[min(range.lowerBound, shard.count)..<min(range.upperBound, shard.count)]) }
        membersFetched.withLockedValue { $0 += lists.reduce(0) { $0 + $1.count } }
        return (zip(shards, ranges).map { $1.isEmpty ? nil : $0.count }, lists)
    }
}

@Suite struct WindowLocatorTests {
    func board(_ count: Int, distinctScores: Int, random: inout SplitMix) -> [RankedMember] {
        (0..<count).map { RankedMember(playerID: "p\($0)-\(random.next() % 7)", score: Int64(random.next() % UInt64(distinctScores))) }
    }

    @Test func randomBoardsAndWindowsMatchTheSortedBoard() async throws {
        for seed in UInt64(1)...60 {
            var random = SplitMix(seed: seed)
            let order: SortOrder = seed % 2 == 0 ? .desc : .asc
            let members = board(Int(random.next() % 5000) + 1, distinctScores: [1, 3, 50, 100_000][Int(seed % 4)], random: &random)
            let shardCount = Int(random.next() % 16) + 1
            let bounds: [Int64] = [10, 40]
            let byBand = seed % 3 == 0
            let shards = MemoryShards(
                members,
                shardOf: { byBand ? ShardRouter.band(of: $0.score, bounds: bounds) : Int(XXH3.hash($0.playerID) % UInt64(shardCount)) },
                count: byBand ? 3 : shardCount,
                order: order
            )
            let sorted = members.sorted { order.precedes(($0.score, $0.playerID), ($1.score, $1.playerID)) }
            var locator = WindowLocator(order: order)
            locator.directFetchLimit = seed % 2 == 0 ? 1024 : 0
            for _ in 0..<8 {
                let start = Int(random.next() % UInt64(members.count + 10))
                let count = Int(random.next() % 60) + 1
                let result = try await locator.window(start: start, count: count, reader: shards)
                let expected = start < sorted.count ? Array(sorted[start..<min(start + count, sorted.count)]) : []
                #expect(result.members == expected, "seed \(seed), start \(start), count \(count)")
                #expect(result.total == members.count)
            }
        }
    }

    @Test func deepWindowsOnUniformShardsNeedFewRounds() async throws {
        var random = SplitMix(seed: 7)
        let members = (0..<200_000).map { RankedMember(playerID: "p\($0)", score: Int64(random.next() % 1_000_000)) }
        let shards = MemoryShards(members, shardOf: { Int(XXH3.hash($0.playerID) % 8) }, count: 8, order: .desc)
        let result = try await WindowLocator(order: .desc).window(start: 100_000, count: 50, reader: shards)
        let sorted = members.sorted { SortOrder.desc.precedes(($0.score, $0.playerID), ($1.score, $1.playerID)) }
        #expect(result.members == Array(sorted[100_000..<100_050]))
        // Probe, score counts, fetch.
        #expect(result.rounds == 3, "rounds: \(result.rounds)")
        // Only the probed members the probes themselves leave undecided (and the nearest placed ones) are counted: fewer than the 32 probed.
        let counted = shards.scoresCounted.withLockedValue { $0 }
        print("scores counted: \(counted) of 32, members fetched: \(shards.membersFetched.withLockedValue { $0 })")
        #expect(counted > 0 && counted < 32, "counted \(counted)")
    }

    /// On two shards the probes alone often place every probed member, but only within their
    /// spacing: the nearest placed ones are counted, or two more rounds follow (5.6 on average
    /// here instead of 3.9).
    @Test func deepWindowsOnTwoShardsCountTheNearestPlacedMembers() async throws {
        var random = SplitMix(seed: 7)
        let members = (0..<200_000).map { RankedMember(playerID: "p\($0)", score: Int64(random.next() % 100_000_000)) }
        let shards = MemoryShards(members, shardOf: { Int(XXH3.hash($0.playerID) % 2) }, count: 2, order: .desc)
        let sorted = members.sorted { SortOrder.desc.precedes(($0.score, $0.playerID), ($1.score, $1.playerID)) }
        var rounds = 0
        let starts = (0..<16).map { 4_000 + $0 * 12_111 }
        for start in starts {
            let result = try await WindowLocator(order: .desc).window(start: start, count: 50, reader: shards)
            #expect(result.members == Array(sorted[start..<start + 50]), "start \(start)")
            rounds += result.rounds
        }
        #expect(shards.scoresCounted.withLockedValue { $0 } > 0)
        #expect(rounds <= 4 * starts.count, "\(Double(rounds) / Double(starts.count)) rounds on average")
    }

    @Test func deepWindowsWhereEveryScoreTiesOrShardsAreSkewed() async throws {
        var random = SplitMix(seed: 11)
        let tied = (0..<6_000).map { (index: Int) -> RankedMember in RankedMember(playerID: "t\(index)-\(random.next() % 1000)", score: 7) }
        // Skewed: shard 0 holds most of the board's top, shard 3 nothing near it.
        let skewed = (0..<6_000).map { (index: Int) -> RankedMember in
            let score: Int = index % 3 == 0 ? 10_000 + index : index / 7
            return RankedMember(playerID: "s\(index)", score: Int64(score))
        }
        let tiedShard: @Sendable (RankedMember) -> Int = { Int(XXH3.hash($0.playerID) % 5) }
        let skewedShard: @Sendable (RankedMember) -> Int = { $0.score >= 10_000 ? 0 : Int(XXH3.hash($0.playerID) % 3) + 1 }
        let cases: [([RankedMember], @Sendable (RankedMember) -> Int)] = [(tied, tiedShard), (skewed, skewedShard)]
        for (members, shardOf) in cases {
            for order in [SortOrder.desc, .asc] {
                let shards = MemoryShards(members, shardOf: shardOf, count: 5, order: order)
                let sorted = members.sorted { order.precedes(($0.score, $0.playerID), ($1.score, $1.playerID)) }
                for start in [1_024, 1_999, 3_000, 4_321, 5_950, 5_999] {
                    let result = try await WindowLocator(order: order).window(start: start, count: 50, reader: shards)
                    #expect(result.members == Array(sorted[start..<min(start + 50, sorted.count)]), "start \(start), \(order)")
                }
            }
        }
    }

    @Test func mergeKeepsTheOrderAndTies() {
        let a = [RankedMember(playerID: "b", score: 5), RankedMember(playerID: "a", score: 5), RankedMember(playerID: "z", score: 1)]
        let b = [RankedMember(playerID: "c", score: 5), RankedMember(playerID: "y", score: 2)]
        #expect(SortOrder.desc.merge([a, b]).map(\.playerID) == ["c", "b", "a", "y", "z"])
    }

    @Test func routing() {
        let band = ShardRouter(.band(bounds: [0, 100]))
        #expect(band.shard(player: "x", score: -1) == 0)
        #expect(band.shard(player: "x", score: 0) == 1)
        #expect(band.shard(player: "x", score: 99) == 1)
        #expect(band.shard(player: "x", score: 100) == 2)
        #expect(band.bandOrder(.desc) == [2, 1, 0])
        let hash = ShardRouter(.hash(shards: 8))
        #expect(hash.shard(player: "p1", score: 0) == Int(XXH3.hash("p1") % 8))
        #expect(hash.shard(player: "p1", score: 0) == hash.shard(player: "p1", score: 999))
        #expect(!hash.routesByScore && band.routesByScore)
    }

    @Test func placementSpreadsShardsOverNodes() throws {
        let topology = Topology(nodes: ["a", "b", "c", "d"].map { Topology.Node(id: $0, host: "127.0.0.1", port: 6379) })
        let placement = topology.placement(board: "cup", shards: 8)
        #expect(placement.count == 8)
        #expect(Set(placement) == ["a", "b", "c", "d"])
        #expect(topology.placement(board: "cup", shards: 8) == placement)
        #expect(throws: TopologyError.self) { try Topology(nodes: []).validate() }
        #expect(throws: TopologyError.self) {
            try Topology(nodes: [.init(id: "a", host: "h", port: 1), .init(id: "a", host: "h", port: 2)]).validate()
        }
    }
}
