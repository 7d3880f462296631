/// How a read numbers its entries: `ordinal` (every player a distinct rank, the default) or
/// `competition` ("1224": 1 + the number of players with a strictly better score, so equal
/// scores share a rank). Entries keep the board's order either way.
public enum RankStyle: String, Sendable, CaseIterable {
    case ordinal
    case competition

    /// The `rank` query parameter: absent means `ordinal`.
    public static func parse(_ raw: String?) throws(LeaderboardError) -> RankStyle {
        guard let raw else { return .ordinal }
        guard let style = RankStyle(rawValue: raw) else { throw .invalidRequest("rank must be ordinal or competition") }
        return style
    }

    /// The scores whose count of strictly better players a competition numbering of `entries`
    /// needs. In a page of consecutive ranks only the first score can need one: an entry whose
    /// score differs from the one before it has exactly its ordinal rank − 1 players better, and
    /// an entry equal to the one before shares its rank. Entries that are not consecutive (a
    /// friends list) need one per distinct score unless their neighbour settles it.
    public static func scoresToCount(_ entries: [LeaderboardEntry]) -> [Int64] {
        var scores: [Int64] = []
        for (index, entry) in entries.enumerated() {
            if entry.rank == 1 { continue }
            if index > 0 {
                let previous = entries[index - 1]
                if previous.score == entry.score { continue }
                if previous.rank == entry.rank - 1 { continue }
            }
            if !scores.contains(entry.score) { scores.append(entry.score) }
        }
        return scores
    }

    /// `entries` (in board order, ordinal ranks) renumbered as competition ranks, given the count
    /// of strictly better players for each score of ``scoresToCount(_:)``. Nil when a count is
    /// missing or does not fit the ordinal ranks (so the caller never shows a rank it cannot stand
    /// behind).
    public static func competition(_ entries: [LeaderboardEntry], better: [Int64: Int]) -> [LeaderboardEntry]? {
        var result = entries
        for index in result.indices {
            let entry = entries[index]
            let rank: Int
            if entry.rank == 1 {
                rank = 1
            } else if index > 0, entries[index - 1].score == entry.score {
                rank = result[index - 1].rank
            } else if index > 0, entries[index - 1].rank == entry.rank - 1 {
                rank = entry.rank
            } else {
                guard let count = better[entry.score] else { return nil }
                rank = count + 1
            }
            // 1 + better can never exceed the ordinal rank: every better player ranks ahead.
            guard rank >= 1, rank <= entry.rank else { return nil }
            result[index].rank = rank
        }
        return result
    }
}
