/// The entry a reward tier ends at: the number of ranked players, the rank asked (fixed, or
/// computed from that number for a percentage), and the entry there (nil when the board has
/// fewer players), all from one state of the board.
public struct RankCutoff: Sendable, Equatable {
    public var total: Int
    public var rank: Int
    public var entry: LeaderboardEntry?

    public init(total: Int, rank: Int, entry: LeaderboardEntry?) {
        self.total = total
        self.rank = rank
        self.entry = entry
    }
}
