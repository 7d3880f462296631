import LeaderboardCore
import LeaderboardService

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

    struct Periods: Encodable {
        let leaderboardID: String
        let periods: [ArchivedPeriod]

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case periods
        }
    }

    /// Where a read's answer came from: `realtime` (Redis), `batch` (the official snapshot, with
    /// `as_of`), or `archive` (an archived period, with `period` and `as_of` = its end).
    struct Source: Encodable {
        let source: String
        let asOf: String?
        let period: Int?

        init(_ info: LeaderboardService.SourceInfo?) {
            source = info == nil ? "realtime" : info?.period == nil ? "batch" : "archive"
            asOf = info?.asOf
            period = info?.period
        }

        enum CodingKeys: String, CodingKey {
            case source
            case asOf = "as_of"
            case period
        }
    }

    struct Page: Encodable {
        let leaderboardID: String
        let page: LeaderboardPage
        let info: LeaderboardService.SourceInfo?

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case total, entries
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(leaderboardID, forKey: .leaderboardID)
            try container.encode(page.total, forKey: .total)
            try container.encode(page.entries, forKey: .entries)
            try Source(info).encode(to: encoder)
        }
    }

    /// A player's entry with `top_percent` (100 × rank / total, rounded up to 2 decimals).
    struct PlayerEntry: Encodable {
        let standing: PlayerStanding
        let leaderboardID: String
        let info: LeaderboardService.SourceInfo?

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case topPercent = "top_percent"
        }

        func encode(to encoder: any Encoder) throws {
            try standing.entry.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(leaderboardID, forKey: .leaderboardID)
            try container.encode(Double(standing.topPercentHundredths) / 100, forKey: .topPercent)
            try Source(info).encode(to: encoder)
        }
    }

    /// A friends list: those players in board order with global ranks, and the ids not on the board.
    struct Players: Encodable {
        let leaderboardID: String
        let page: LeaderboardPage
        let missing: [String]
        let info: LeaderboardService.SourceInfo?

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case total, entries, missing
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(leaderboardID, forKey: .leaderboardID)
            try container.encode(page.total, forKey: .total)
            try container.encode(page.entries, forKey: .entries)
            try container.encode(missing, forKey: .missing)
            try Source(info).encode(to: encoder)
        }
    }

    /// The entry a reward tier ends at; `entry` is null when the board has fewer players.
    struct Cutoff: Encodable {
        let leaderboardID: String
        let cutoff: RankCutoff
        let info: LeaderboardService.SourceInfo?

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case total, rank, entry
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(leaderboardID, forKey: .leaderboardID)
            try container.encode(cutoff.total, forKey: .total)
            try container.encode(cutoff.rank, forKey: .rank)
            if let entry = cutoff.entry { try container.encode(entry, forKey: .entry) } else { try container.encodeNil(forKey: .entry) }
            try Source(info).encode(to: encoder)
        }
    }

    struct Health: Encodable {
        let status: String
        let checks: [String: String]?
    }
}
