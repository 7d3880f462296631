/// The order of a board: `desc` ranks higher scores first, `asc` lower scores first.
public enum SortOrder: String, Sendable, Codable, CaseIterable {
    case desc
    case asc

    /// True when `score` is strictly better than `other` on a board of this order.
    @inlinable
    public func isBetter(_ score: Int64, than other: Int64) -> Bool {
        self == .desc ? score > other : score < other
    }

    /// The board's total order: true when `a` ranks ahead of `b`.
    ///
    /// Equal scores rank by player id compared as bytes: descending on a `desc` board and
    /// ascending on an `asc` board, exactly as one Redis sorted set read with ZREVRANGE or ZRANGE.
    @inlinable
    public func precedes(_ a: (score: Int64, playerID: String), _ b: (score: Int64, playerID: String)) -> Bool {
        if a.score != b.score { return isBetter(a.score, than: b.score) }
        switch self {
        case .desc: return b.playerID.utf8.lexicographicallyPrecedes(a.playerID.utf8)
        case .asc: return a.playerID.utf8.lexicographicallyPrecedes(b.playerID.utf8)
        }
    }
}
