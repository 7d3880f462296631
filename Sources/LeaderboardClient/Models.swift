import Foundation

/// How a board orders players.
public enum SortOrder: String, Codable, Sendable {
    case desc, asc
}

/// How a submitted score combines with the player's current one.
public enum UpdateMode: String, Codable, Sendable {
    case replace, increment, best
}

/// How equal scores are ordered: by player id, or by when the score was committed.
public enum TieBreak: String, Codable, Sendable {
    case playerID = "player_id"
    case earliest, latest
}

public enum ResetPeriod: String, Codable, Sendable {
    case never, daily, weekly, monthly
}

/// Where a board's players live in Redis.
public enum Layout: Codable, Sendable, Equatable {
    case single
    case hash(shards: Int)
    case band(bounds: [Int64])

    private enum CodingKeys: String, CodingKey { case strategy, shards, bounds }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .strategy) {
        case "hash": self = .hash(shards: try container.decode(Int.self, forKey: .shards))
        case "band": self = .band(bounds: try container.decode([Int64].self, forKey: .bounds))
        default: self = .single
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .single:
            try container.encode("single", forKey: .strategy)
        case .hash(let shards):
            try container.encode("hash", forKey: .strategy)
            try container.encode(shards, forKey: .shards)
        case .band(let bounds):
            try container.encode("band", forKey: .strategy)
            try container.encode(bounds, forKey: .bounds)
        }
    }
}

/// A board's configuration: what `createLeaderboard` sends (nil = the server's default) and
/// what the server answers (every field filled in).
public struct LeaderboardConfig: Codable, Sendable, Equatable {
    public var id: String
    public var name: String?
    public var sortOrder: SortOrder?
    public var resetPeriod: ResetPeriod?
    public var maxEntries: Int?
    public var updateMode: UpdateMode?
    /// The server refuses `earliest` and `latest` for now.
    public var tieBreak: TieBreak?
    public var layout: Layout?

    public init(
        id: String, name: String? = nil, sortOrder: SortOrder? = nil, resetPeriod: ResetPeriod? = nil, maxEntries: Int? = nil,
        updateMode: UpdateMode? = nil, tieBreak: TieBreak? = nil, layout: Layout? = nil
    ) {
        self.id = id
        self.name = name
        self.sortOrder = sortOrder
        self.resetPeriod = resetPeriod
        self.maxEntries = maxEntries
        self.updateMode = updateMode
        self.tieBreak = tieBreak
        self.layout = layout
    }

    enum CodingKeys: String, CodingKey {
        case id, name, layout
        case sortOrder = "sort_order"
        case resetPeriod = "reset_period"
        case maxEntries = "max_entries"
        case updateMode = "update_mode"
        case tieBreak = "tie_break"
    }
}

/// One score submission.
public struct ScoreEvent: Encodable, Sendable {
    public var leaderboardID: String
    public var playerID: String
    public var score: Int64
    public var username: String?
    /// A JSON object, kept with the event.
    public var metadata: [String: String]?
    public var timestamp: Date?

    public init(leaderboardID: String, playerID: String, score: Int64, username: String? = nil, metadata: [String: String]? = nil, timestamp: Date? = nil) {
        self.leaderboardID = leaderboardID
        self.playerID = playerID
        self.score = score
        self.username = username
        self.metadata = metadata
        self.timestamp = timestamp
    }

    enum CodingKeys: String, CodingKey {
        case leaderboardID = "leaderboard_id"
        case playerID = "player_id"
        case score, username, metadata, timestamp
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(leaderboardID, forKey: .leaderboardID)
        try container.encode(playerID, forKey: .playerID)
        try container.encode(score, forKey: .score)
        try container.encodeIfPresent(username, forKey: .username)
        try container.encodeIfPresent(metadata, forKey: .metadata)
        if let timestamp { try container.encode(ISO8601DateFormatter().string(from: timestamp), forKey: .timestamp) }
    }
}

/// A player's score after a submission (after the board's update mode).
public struct ScoreResult: Decodable, Sendable, Equatable {
    public var leaderboardID: String
    public var playerID: String
    public var score: Int64

    public init(leaderboardID: String, playerID: String, score: Int64) {
        self.leaderboardID = leaderboardID
        self.playerID = playerID
        self.score = score
    }

    enum CodingKeys: String, CodingKey {
        case leaderboardID = "leaderboard_id"
        case playerID = "player_id"
        case score
    }
}

/// One ranked player.
public struct Entry: Decodable, Sendable, Equatable {
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
        case rank, score, username
        case playerID = "player_id"
    }
}

/// Where an answer comes from.
public enum ReadSource: String, Sendable {
    /// Redis, up to date (the default).
    case realtime
    /// The official snapshot of the last sync pass, in PostgreSQL.
    case batch
}

/// A page of ranked players.
public struct Page: Decodable, Sendable, Equatable {
    public var leaderboardID: String
    /// Players ranked on the board (within max_entries).
    public var total: Int
    public var entries: [Entry]
    /// realtime, batch or archive.
    public var source: String
    /// When the snapshot was taken (batch), or the period ended (archive).
    public var asOf: String?
    public var period: Int?

    enum CodingKeys: String, CodingKey {
        case leaderboardID = "leaderboard_id"
        case total, entries, source, period
        case asOf = "as_of"
    }
}

/// A player's entry with where it comes from.
public struct PlayerRank: Decodable, Sendable, Equatable {
    public var entry: Entry
    public var leaderboardID: String
    public var source: String
    public var asOf: String?
    /// 100 × rank / total, rounded up to 2 decimals.
    public var topPercent: Double?

    enum CodingKeys: String, CodingKey {
        case leaderboardID = "leaderboard_id"
        case source
        case asOf = "as_of"
        case topPercent = "top_percent"
    }

    public init(from decoder: any Decoder) throws {
        entry = try Entry(from: decoder)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        leaderboardID = try container.decode(String.self, forKey: .leaderboardID)
        source = try container.decode(String.self, forKey: .source)
        asOf = try container.decodeIfPresent(String.self, forKey: .asOf)
        topPercent = try container.decodeIfPresent(Double.self, forKey: .topPercent)
    }
}

/// How a read numbers its entries: distinct ordinal ranks, or competition ranks ("1224").
public enum RankNumbering: String, Sendable {
    case ordinal
    case competition
}

/// A friends list: the players found, in board order with global ranks, and the ids missing.
public struct PlayerList: Decodable, Sendable, Equatable {
    public var leaderboardID: String
    public var total: Int
    public var entries: [Entry]
    public var missing: [String]
    public var source: String

    enum CodingKeys: String, CodingKey {
        case leaderboardID = "leaderboard_id"
        case total, entries, missing, source
    }
}

/// The entry a reward tier ends at (nil when the board has fewer players).
public struct Cutoff: Decodable, Sendable, Equatable {
    public var leaderboardID: String
    public var total: Int
    public var rank: Int
    public var entry: Entry?
    public var source: String

    enum CodingKeys: String, CodingKey {
        case leaderboardID = "leaderboard_id"
        case total, rank, entry, source
    }
}

public struct BatchResult: Decodable, Sendable, Equatable {
    public var accepted: Int
    public var results: [ScoreResult]
}

public struct ResetResult: Decodable, Sendable, Equatable {
    public var leaderboardID: String
    /// The period begun.
    public var period: Int
    /// The period archived.
    public var archivedPeriod: Int

    public init(leaderboardID: String, period: Int, archivedPeriod: Int) {
        self.leaderboardID = leaderboardID
        self.period = period
        self.archivedPeriod = archivedPeriod
    }

    enum CodingKeys: String, CodingKey {
        case leaderboardID = "leaderboard_id"
        case period
        case archivedPeriod = "archived_period"
    }
}

public struct ArchivedPeriod: Decodable, Sendable, Equatable {
    public var period: Int
    public var startedAt: String
    public var endedAt: String
    public var playerCount: Int

    enum CodingKeys: String, CodingKey {
        case period
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case playerCount = "player_count"
    }
}

/// What a sync pass did to one shard.
public struct ShardSyncReport: Decodable, Sendable, Equatable {
    public var shard: Int
    public var node: String
    public var checked: Int
    public var chunks: Int
    public var chunksDiffering: Int
    public var missing: Int
    public var strays: Int
    public var wrongScores: Int
    public var repaired: Int

    enum CodingKeys: String, CodingKey {
        case shard, node, checked, chunks, missing, strays, repaired
        case chunksDiffering = "chunks_differing"
        case wrongScores = "wrong_scores"
    }
}

/// A sync pass's report, or its status while it runs (or before any has run).
public struct SyncReport: Decodable, Sendable, Equatable {
    public var leaderboardID: String
    public var status: String
    public var snapshotAsOf: String?
    public var snapshotPlayers: Int?
    public var shards: [ShardSyncReport]?
    public var durationMilliseconds: Int?

    enum CodingKeys: String, CodingKey {
        case leaderboardID = "leaderboard_id"
        case status, shards
        case snapshotAsOf = "snapshot_as_of"
        case snapshotPlayers = "snapshot_players"
        case durationMilliseconds = "duration_ms"
    }
}
