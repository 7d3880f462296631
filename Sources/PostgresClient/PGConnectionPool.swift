import BlockingPool
import NIOCore

/// A pool of libpq connections; every call runs on the pool's own threads.
public final class PGConnectionPool: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var connection: PGConnection.Configuration
        public var maxConnections: Int
        /// How long a caller waits for a free connection before failing with `PoolError.acquireTimeout`.
        public var acquireTimeoutSeconds: Int

        public init(connection: PGConnection.Configuration, maxConnections: Int = 8, acquireTimeoutSeconds: Int = 5) {
            self.connection = connection
            self.maxConnections = maxConnections
            self.acquireTimeoutSeconds = acquireTimeoutSeconds
        }
    }

    public let configuration: Configuration
    private let pool: BlockingConnectionPool<PGConnection>

    public init(configuration: Configuration) {
        self.configuration = configuration
        let connection = configuration.connection
        self.pool = BlockingConnectionPool(
            maxConnections: configuration.maxConnections,
            acquireTimeout: .seconds(Int64(max(configuration.acquireTimeoutSeconds, 1)))
        ) { try PGConnection(configuration: connection) }
    }

    /// Lends a connection to `body`, which runs on a pool thread; a transaction is one `body`.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await pool.withConnection(body)
    }

    /// Runs one statement on a pooled connection.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) async throws -> PGRows {
        try await pool.withConnection { try $0.query(sql, parameters) }
    }

    public func shutdown() async { await pool.shutdown() }
}
