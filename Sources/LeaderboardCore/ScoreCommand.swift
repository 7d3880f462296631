import Foundation

/// A validated score submission, ready for the write path.
public struct ScoreCommand: Sendable, Equatable {
    public var leaderboardID: String
    public var playerID: String
    public var value: Int64
    public var username: String?
    /// The metadata object re-encoded as JSON text (JSONB in PostgreSQL).
    public var metadataJSON: String?
    /// When the client says the score happened (RFC 3339), if it said.
    public var timestamp: Date?

    public init(
        leaderboardID: String, playerID: String, value: Int64, username: String? = nil, metadataJSON: String? = nil, timestamp: Date? = nil
    ) {
        self.leaderboardID = leaderboardID
        self.playerID = playerID
        self.value = value
        self.username = username
        self.metadataJSON = metadataJSON
        self.timestamp = timestamp
    }

    public static let maxUsernameLength = 64
    public static let maxMetadataBytes = 4096

    /// Validates one ScoreEvent object of the contract. Errors name the field.
    public static func parse(_ json: JSONValue) throws(LeaderboardError) -> ScoreCommand {
        guard let object = json.object else { throw .invalidRequest("score event must be a JSON object") }
        let known: Set<String> = ["player_id", "score", "game_id", "leaderboard_id", "timestamp", "metadata", "username"]
        if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalidRequest("unknown field '\(unknown)'")
        }
        guard case .string(let playerID)? = object["player_id"] else {
            throw .invalidRequest("player_id is required and must be a string")
        }
        try Identifier.check(playerID, field: "player_id")

        let board: String
        switch (object["game_id"], object["leaderboard_id"]) {
        case (.string(let game)?, .string(let leaderboard)?):
            guard game == leaderboard else { throw .invalidRequest("game_id and leaderboard_id differ") }
            board = game
        case (.string(let game)?, nil): board = game
        case (nil, .string(let leaderboard)?): board = leaderboard
        default: throw .invalidRequest("game_id (or leaderboard_id) is required and must be a string")
        }
        try Identifier.check(board, field: "game_id")

        let value: Int64
        switch object["score"] {
        case .integer(let score)?:
            try ScoreRange.check(score)
            value = score
        case .number(let number)?:
            if number.rounded() == number {
                throw .invalidScore("score \(number) is outside ±\(ScoreRange.maximum)")
            }
            throw .invalidScore("score must be an integer")
        case nil:
            throw .invalidRequest("score is required")
        case let other?:
            throw .invalidScore("score must be an integer, not a \(other.typeName)")
        }

        var command = ScoreCommand(leaderboardID: board, playerID: playerID, value: value)
        if let raw = object["username"], raw != .null {
            guard case .string(let username) = raw, !username.isEmpty, username.count <= maxUsernameLength,
                !username.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else {
                throw .invalidRequest("username must be a string of 1-\(maxUsernameLength) printable characters")
            }
            command.username = username
        }
        if let raw = object["metadata"], raw != .null {
            guard raw.object != nil else { throw .invalidRequest("metadata must be a JSON object") }
            guard !raw.containsNUL else { throw .invalidRequest("metadata must not contain NUL characters") }
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            guard let data = try? encoder.encode(raw), data.count <= maxMetadataBytes else {
                throw .invalidRequest("metadata must be at most \(maxMetadataBytes) bytes of JSON")
            }
            command.metadataJSON = String(decoding: data, as: UTF8.self)
        }
        if let raw = object["timestamp"], raw != .null {
            guard case .string(let text) = raw, let date = Timestamp.parse(text) else {
                throw .invalidRequest("timestamp must be an RFC 3339 date-time such as 2026-01-02T03:04:05Z")
            }
            command.timestamp = date
        }
        return command
    }
}

/// RFC 3339 timestamps.
public enum Timestamp {
    /// Parses `2026-01-02T03:04:05Z`, with optional fractional seconds and a numeric offset.
    public static func parse(_ text: String) -> Date? {
        guard text.utf8.count <= 64 else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return valid(date) }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text).flatMap(valid)
    }

    /// Formats a date as RFC 3339 in UTC with milliseconds.
    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// Years 1–9999 only, which PostgreSQL and every client can hold.
    private static func valid(_ date: Date) -> Date? {
        let seconds = date.timeIntervalSince1970
        return seconds > -62_135_596_800 && seconds < 253_402_300_799 ? date : nil
    }
}
