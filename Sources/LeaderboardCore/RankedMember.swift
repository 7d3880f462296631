/// A member of a shard: a player and its score.
public struct RankedMember: Sendable, Equatable, Hashable {
    public var playerID: String
    public var score: Int64
    public var username: String?

    public init(playerID: String, score: Int64, username: String? = nil) {
        self.playerID = playerID
        self.score = score
        self.username = username
    }
}

extension SortOrder {
    /// Merges lists that are each sorted in this order into one sorted list (k-way merge).
    public func merge(_ lists: [[RankedMember]]) -> [RankedMember] { mergeWithOrigins(lists).members }

    /// ``merge(_:)``, also telling which list each merged member came from.
    public func mergeWithOrigins(_ lists: [[RankedMember]]) -> (members: [RankedMember], origins: [Int]) {
        var heads = [Int](repeating: 0, count: lists.count)
        var merged: [RankedMember] = []
        var origins: [Int] = []
        merged.reserveCapacity(lists.reduce(0) { $0 + $1.count })
        origins.reserveCapacity(merged.capacity)
        while true {
            var best: Int?
            for list in lists.indices where heads[list] < lists[list].count {
                guard let current = best else {
                    best = list
                    continue
                }
                let candidate = lists[list][heads[list]]
                let leader = lists[current][heads[current]]
                if precedes((candidate.score, candidate.playerID), (leader.score, leader.playerID)) { best = list }
            }
            guard let best else { return (merged, origins) }
            merged.append(lists[best][heads[best]])
            origins.append(best)
            heads[best] += 1
        }
    }
}
