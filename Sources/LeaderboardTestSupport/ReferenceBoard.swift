import LeaderboardCore

/// An independent model of one board, for differential tests: a dictionary of scores, sorted on
/// demand by the contract's total order.
///
/// On boards that break ties by commit time (`tie_break` earliest or latest) every submission is
/// one commit event: the model's clock moves by one per ``submit(_:_:)`` call (apply the items of a
/// batch one by one, in their order), and a player's time is that of the event that set its
/// current score. Under `best` a submission that does not strictly improve keeps the old time
/// (and score); under `replace` and `increment` every submission takes a new time, even one that
/// leaves the score as it was. A removed player is forgotten: when it comes back it gets a new time.
public struct ReferenceBoard: Sendable {
    public let order: SortOrder
    public let mode: UpdateMode
    public let tieBreak: TieBreak
    public private(set) var scores: [String: Int64] = [:]
    /// Per player, the number of the commit event that set its current score (1, 2, …).
    public private(set) var times: [String: Int] = [:]
    /// The number of the last commit event.
    public private(set) var clock = 0

    public init(order: SortOrder, mode: UpdateMode, tieBreak: TieBreak = .playerID) {
        self.order = order
        self.mode = mode
        self.tieBreak = tieBreak
    }

    /// Applies one submission (one commit event); returns the resulting score.
    @discardableResult
    public mutating func submit(_ player: String, _ value: Int64) -> Int64 {
        clock += 1
        let result: Int64
        var setsScore = true
        switch (mode, scores[player]) {
        case (_, nil), (.replace, _): result = value
        case (.increment, let current?): result = current + value
        case (.best, let current?):
            setsScore = order.isBetter(value, than: current)
            result = setsScore ? value : current
        }
        scores[player] = result
        if setsScore { times[player] = clock }
        return result
    }

    public mutating func remove(_ player: String) {
        scores[player] = nil
        times[player] = nil
    }

    /// True when `a` ranks ahead of `b` on this board (both players on it).
    public func precedes(_ a: String, _ b: String) -> Bool {
        Self.precedes((a, scores[a] ?? 0, times[a] ?? 0), (b, scores[b] ?? 0, times[b] ?? 0), order: order, tieBreak: tieBreak)
    }

    /// The board's total order over (player, score, commit time): the better score first; equal
    /// scores by commit time on boards ordered by time, else (and between equal times, which one
    /// board never holds) by player id as bytes in the board's direction, as one sorted set.
    public static func precedes(
        _ a: (player: String, score: Int64, time: Int), _ b: (player: String, score: Int64, time: Int), order: SortOrder, tieBreak: TieBreak
    ) -> Bool {
        if a.score != b.score { return order.isBetter(a.score, than: b.score) }
        switch tieBreak {
        case .earliest where a.time != b.time: return a.time < b.time
        case .latest where a.time != b.time: return a.time > b.time
        default: return order.precedes((a.score, a.player), (b.score, b.player))
        }
    }

    /// Every player in rank order, as entries.
    public func ranked() -> [LeaderboardEntry] {
        let sorted = scores.map { (player: $0.key, score: $0.value, time: times[$0.key] ?? 0) }
            .sorted { Self.precedes($0, $1, order: order, tieBreak: tieBreak) }
        return sorted.enumerated().map { LeaderboardEntry(rank: $0.offset + 1, playerID: $0.element.player, score: $0.element.score) }
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
