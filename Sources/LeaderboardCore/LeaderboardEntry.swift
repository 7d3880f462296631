/// One ranked player.
public struct LeaderboardEntry: Sendable, Equatable, Codable {
    /// 1-based position in the board's total order.
    public var rank: Int
    public var playerID: String
    public var score: Int64
    public var username: String?

    public init(rank: Int, playerID: String, score: Int64, username: String? = nil) {
        self.rank = rank
        self.playerID = playerID
        self.score = score
        self.username = username
    }

    enum CodingKeys: String, CodingKey {
        case rank
        case playerID = "player_id"
        case score, username
    }
}

/// A page of consecutive ranks and the number of players on the board.
public struct LeaderboardPage: Sendable, Equatable {
    public var total: Int
    public var entries: [LeaderboardEntry]

    public init(total: Int, entries: [LeaderboardEntry]) {
        self.total = total
        self.entries = entries
    }
}
