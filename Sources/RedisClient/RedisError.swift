/// An error of the Redis client: connecting, I/O, or an error reply from the server.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Could not connect or authenticate.
        case connection
        /// The connection failed while sending or reading (it is closed afterwards).
        case io
        /// The server answered with an error reply.
        case server
        /// The reply did not have the expected shape.
        case protocolViolation
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "redis \(kind): \(message)" }
}
