/// An error of the PostgreSQL client.
///
/// `description` names the kind and SQLSTATE only; the server's message (which can quote
/// data) is kept in `serverMessage` for logs that choose to show it.
public struct PGError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Could not connect, or the connection was lost.
        case connection
        /// The server rejected a statement (see `sqlState`).
        case query
        /// A result did not have the expected shape.
        case decoding
    }

    public let kind: Kind
    /// The five-character SQLSTATE, when the server gave one.
    public let sqlState: String?
    public let serverMessage: String

    public init(_ kind: Kind, sqlState: String? = nil, _ serverMessage: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.serverMessage = serverMessage
    }

    public var description: String {
        "postgres \(kind)\(sqlState.map { " (SQLSTATE \($0))" } ?? ""): \(serverMessage)"
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
    public var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }
}
