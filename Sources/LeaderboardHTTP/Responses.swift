import LeaderboardCore

/// The JSON shapes of the REST contract.
enum Responses {
    struct Leaderboards: Encodable {
        let leaderboards: [LeaderboardConfig]
    }

    struct Reset: Encodable {
        let leaderboardID: String
        let period: Int
        let archivedPeriod: Int

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case period
            case archivedPeriod = "archived_period"
        }
    }

    struct Score: Encodable {
        let leaderboardID: String
        let playerID: String
        let score: Int64

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case playerID = "player_id"
            case score
        }
    }

    struct Batch: Encodable {
        let accepted: Int
        let results: [Score]
    }

    struct Page: Encodable {
        let leaderboardID: String
        let total: Int
        let entries: [LeaderboardEntry]
        let source: String
        /// When the official snapshot was taken (source=batch only).
        let asOf: String?

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case total, entries, source
            case asOf = "as_of"
        }
    }

    struct PlayerEntry: Encodable {
        let entry: LeaderboardEntry
        let leaderboardID: String
        let source: String
        let asOf: String?

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case source
            case asOf = "as_of"
        }

        func encode(to encoder: any Encoder) throws {
            try entry.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(leaderboardID, forKey: .leaderboardID)
            try container.encode(source, forKey: .source)
            try container.encodeIfPresent(asOf, forKey: .asOf)
        }
    }

    struct Health: Encodable {
        let status: String
        let checks: [String: String]?
    }
}
