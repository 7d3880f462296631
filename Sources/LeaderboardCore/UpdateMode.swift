/// How a submitted score combines with the player's current one.
public enum UpdateMode: String, Sendable, Codable, CaseIterable {
    /// The submitted score replaces the current one.
    case replace
    /// The submitted score is added to the current one (negative allowed).
    case increment
    /// The better of the two by the board's order is kept; equal keeps the old.
    case best

    /// The player's score after submitting `value` on a board of `order`.
    ///
    /// - Parameter current: the current score, nil for a player not on the board.
    /// - Throws: `invalid_score` when the result leaves the representable range.
    public func apply(current: Int64?, value: Int64, order: SortOrder) throws(LeaderboardError) -> Int64 {
        guard let current else {
            try ScoreRange.check(value)
            return value
        }
        switch self {
        case .replace:
            try ScoreRange.check(value)
            return value
        case .best:
            try ScoreRange.check(value)
            return order.isBetter(value, than: current) ? value : current
        case .increment:
            let (sum, overflow) = current.addingReportingOverflow(value)
            guard !overflow, ScoreRange.contains(sum) else {
                throw .invalidScore("increment by \(value) would move the score \(current) outside ±\(ScoreRange.maximum)")
            }
            return sum
        }
    }
}
