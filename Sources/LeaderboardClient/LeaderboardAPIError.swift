/// An error answer of the leaderboard API, typed by the contract's code.
public struct LeaderboardAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case invalidRequest
        case invalidScore
        case leaderboardNotFound
        case playerNotFound
        case leaderboardExists
        case idempotencyKeyReused
        case payloadTooLarge
        case unauthorized
        case forbidden
        case rateLimited
        case unavailable
        /// A code this client does not know (a newer server), or a server fault.
        case other(String)

        init(_ text: String) {
            switch text {
            case "invalid_request": self = .invalidRequest
            case "invalid_score": self = .invalidScore
            case "leaderboard_not_found": self = .leaderboardNotFound
            case "player_not_found": self = .playerNotFound
            case "leaderboard_exists": self = .leaderboardExists
            case "idempotency_key_reused": self = .idempotencyKeyReused
            case "payload_too_large": self = .payloadTooLarge
            case "unauthorized": self = .unauthorized
            case "forbidden": self = .forbidden
            case "rate_limited": self = .rateLimited
            case "unavailable": self = .unavailable
            default: self = .other(text)
            }
        }
    }

    public var code: Code
    public var message: String
    /// The HTTP status.
    public var status: Int
    /// Seconds the server asked to wait (429, 503).
    public var retryAfter: Int?

    public var description: String { "\(status) \(code): \(message)" }
}

/// A failure that is not an answer of the API: the server could not be reached, or answered
/// something that is not the contract's JSON.
public enum LeaderboardClientError: Error, Sendable {
    case transport(String)
    case unexpectedAnswer(status: Int, body: String)
}
