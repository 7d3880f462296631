import LeaderboardCore

/// The board's total order in SQL: (score, tie_key, player_id), every part in the board's
/// direction. `tie_key` is 0 on `player_id` boards, so there the order is (score, player id);
/// player ids use the "C" collation, so ties compare as bytes, as in Redis (see ``TieBreak``).
extension SortOrder {
    /// `ORDER BY` terms of the board's order over columns `score`, `tie_key` and `player_id` of
    /// `table` (a prefix such as "s.", or "").
    func sqlOrder(_ table: String = "") -> String {
        let direction = self == .asc ? "ASC" : "DESC"
        return "\(table)score \(direction), \(table)tie_key \(direction), \(table)player_id \(direction)"
    }

    /// A condition true for rows strictly behind ($score, $tie, $player) in the board's order,
    /// the parameters numbered `score`, `score + 1` (the tie key) and `score + 2` (the player id).
    func sqlBehind(from score: Int) -> String {
        "(score, tie_key, player_id) \(self == .asc ? ">" : "<") \(Self.triple(score))"
    }

    /// A condition true for rows at or ahead of ($score, $tie, $player), numbered as in ``sqlBehind(from:)``.
    func sqlAtOrAhead(from score: Int) -> String {
        "(score, tie_key, player_id) \(self == .asc ? "<=" : ">=") \(Self.triple(score))"
    }

    private static func triple(_ first: Int) -> String {
        "($\(first)::bigint, $\(first + 1)::bigint, $\(first + 2)::text COLLATE \"C\")"
    }
}
