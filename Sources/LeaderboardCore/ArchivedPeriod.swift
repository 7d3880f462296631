/// A finished period of a board, kept in PostgreSQL.
public struct ArchivedPeriod: Sendable, Equatable, Encodable {
    public var period: Int
    public var startedAt: String
    public var endedAt: String
    public var players: Int

    public init(period: Int, startedAt: String, endedAt: String, players: Int) {
        self.period = period
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.players = players
    }

    enum CodingKeys: String, CodingKey {
        case period
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case players = "player_count"
    }
}
