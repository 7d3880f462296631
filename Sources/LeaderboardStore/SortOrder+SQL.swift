import LeaderboardCore

/// The board's total order in SQL (player ids use the "C" collation, so ties compare as bytes,
/// as in Redis).
extension SortOrder {
    /// `ORDER BY` terms of the board's order over columns `score` and `player_id` of `table` (a
    /// prefix such as "s.", or "").
    func sqlOrder(_ table: String = "") -> String {
        self == .asc ? "\(table)score ASC, \(table)player_id ASC" : "\(table)score DESC, \(table)player_id DESC"
    }

    /// A condition true for rows strictly behind ($s, $p) in the board's order, the parameters
    /// numbered `score` and `player`.
    func sqlBehind(score: Int, player: Int) -> String {
        "(score, player_id) \(self == .asc ? ">" : "<") ($\(score)::bigint, $\(player)::text COLLATE \"C\")"
    }

    /// A condition true for rows at or ahead of ($s, $p) in the board's order.
    func sqlAtOrAhead(score: Int, player: Int) -> String {
        "(score, player_id) \(self == .asc ? "<=" : ">=") ($\(score)::bigint, $\(player)::text COLLATE \"C\")"
    }
}
