import BlockingPool
import NIOCore

/// A pool of hiredis connections to one Redis server; every call runs on the pool's own threads.
public final class RedisConnectionPool: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var connection: RedisConnection.Configuration
        public var poolSize: Int

        public init(connection: RedisConnection.Configuration, poolSize: Int = 16) {
            self.connection = connection
            self.poolSize = poolSize
        }
    }

    public let configuration: Configuration
    private let pool: BlockingConnectionPool<RedisConnection>

    public init(configuration: Configuration) {
        self.configuration = configuration
        let connection = configuration.connection
        self.pool = BlockingConnectionPool(
            maxConnections: configuration.poolSize,
            acquireTimeout: .milliseconds(Int64(max(connection.timeoutMilliseconds, 100)))
        ) { try RedisConnection(configuration: connection) }
    }

    /// Sends the commands as one pipeline on one connection and returns the replies in order.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        return try await pool.withConnection { try $0.pipeline(commands) }
    }

    /// Sends one command and returns its reply.
    public func command(_ arguments: String...) async throws -> RedisReply {
        try await pipeline([arguments])[0]
    }

    /// Lends a connection to `body` (which runs on a pool thread) for multi-step work.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        try await pool.withConnection(body)
    }

    public func shutdown() async { await pool.shutdown() }
}
