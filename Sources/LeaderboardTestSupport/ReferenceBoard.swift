import LeaderboardCore

/// An independent model of one board, for differential tests: a dictionary of scores, sorted on
/// demand by the contract's total order.
public struct ReferenceBoard: Sendable {
    public let order: SortOrder
    public let mode: UpdateMode
    public private(set) var scores: [String: Int64] = [:]

    public init(order: SortOrder, mode: UpdateMode) {
        self.order = order
        self.mode = mode
    }

    /// Applies one submission; returns the resulting score.
    @discardableResult
    public mutating func submit(_ player: String, _ value: Int64) -> Int64 {
        let result: Int64
        switch (mode, scores[player]) {
        case (_, nil), (.replace, _): result = value
        case (.increment, let current?): result = current + value
        case (.best, let current?):
            switch order {
            case .desc: result = Swift.max(current, value)
            case .asc: result = Swift.min(current, value)
            }
        }
        scores[player] = result
        return result
    }

    public mutating func remove(_ player: String) { scores[player] = nil }

    /// Every player in rank order, as entries.
    public func ranked() -> [LeaderboardEntry] {
        let sorted = scores.sorted { a, b in
            if a.value != b.value { return order == .desc ? a.value > b.value : a.value < b.value }
            let aBytes = Array(a.key.utf8), bBytes = Array(b.key.utf8)
            return order == .desc ? bBytes.lexicographicallyPrecedes(aBytes) : aBytes.lexicographicallyPrecedes(bBytes)
        }
        return sorted.enumerated().map { LeaderboardEntry(rank: $0.offset + 1, playerID: $0.element.key, score: $0.element.value) }
    }
}

/// A small deterministic generator (SplitMix64), so a failing case can be replayed from its seed.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
