/// A player's entry and the number of ranked players it was read with (one state of the board),
/// what `top_percent` is computed from.
public struct PlayerStanding: Sendable, Equatable {
    public var entry: LeaderboardEntry
    public var total: Int

    public init(entry: LeaderboardEntry, total: Int) {
        self.entry = entry
        self.total = total
    }

    /// 100 × rank / total rounded up to 2 decimals, in hundredths of a percent.
    public var topPercentHundredths: Int { RewardCutoff.topPercentHundredths(rank: entry.rank, total: total) }
}
