/// An error of the contract: a code from the REST API's list and a message safe to show clients.
public struct LeaderboardError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The contract's error codes.
    public enum Code: String, Sendable, CaseIterable {
        case invalidRequest = "invalid_request"
        case invalidScore = "invalid_score"
        case leaderboardNotFound = "leaderboard_not_found"
        case playerNotFound = "player_not_found"
        case leaderboardExists = "leaderboard_exists"
        case migrationInProgress = "migration_in_progress"
        case idempotencyKeyReused = "idempotency_key_reused"
        case payloadTooLarge = "payload_too_large"
        case unauthorized = "unauthorized"
        case forbidden = "forbidden"
        case rateLimited = "rate_limited"
        case unavailable = "unavailable"
    }

    public let code: Code
    public let message: String
    /// Seconds a client should wait before retrying (`Retry-After`), for 429 and 503.
    public let retryAfterSeconds: Int?

    public init(_ code: Code, _ message: String, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func invalidRequest(_ message: String) -> Self { .init(.invalidRequest, message) }
    public static func invalidScore(_ message: String) -> Self { .init(.invalidScore, message) }
    public static func leaderboardNotFound(_ id: String) -> Self { .init(.leaderboardNotFound, "leaderboard '\(id)' does not exist") }
    public static func playerNotFound(_ player: String, in board: String) -> Self {
        .init(.playerNotFound, "player '\(player)' is not on leaderboard '\(board)'")
    }
    public static func leaderboardExists(_ id: String) -> Self { .init(.leaderboardExists, "leaderboard '\(id)' already exists") }
    public static func idempotencyKeyReused(_ key: String) -> Self {
        .init(.idempotencyKeyReused, "Idempotency-Key '\(key)' was already used for a different request")
    }
    public static func migrationInProgress(_ id: String, epoch: Int) -> Self {
        .init(.migrationInProgress, "leaderboard '\(id)' is already changing its layout (to epoch \(epoch)); wait for it to finish")
    }
    /// A bulk import holds the board: its writes are refused until the import commits.
    public static func beingImported(_ id: String) -> Self {
        .unavailable("leaderboard '\(id)' is being imported; retry shortly", retryAfterSeconds: 2)
    }
    public static func payloadTooLarge(_ message: String) -> Self { .init(.payloadTooLarge, message) }
    public static func unavailable(_ message: String, retryAfterSeconds: Int = 1) -> Self {
        .init(.unavailable, message, retryAfterSeconds: retryAfterSeconds)
    }

    /// The same error with its message prefixed, e.g. by the index of a batch item.
    public func prefixed(_ prefix: String) -> Self { .init(code, "\(prefix): \(message)", retryAfterSeconds: retryAfterSeconds) }
}
