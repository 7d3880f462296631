import BlockingPool
import LeaderboardCore
import PostgresClient
import RedisClient

extension LeaderboardError {
    /// Maps a failure of a store (PostgreSQL, Redis, a pool) to the contract's `unavailable`;
    /// contract errors pass through unchanged. Messages name the component, never its data.
    public static func fromStore(_ error: any Error) -> LeaderboardError {
        switch error {
        case let error as LeaderboardError: error
        case is CommitOutcomeUnknown:
            .unavailable("the database connection was lost during the commit and whether it committed is not known; retry with the same Idempotency-Key")
        case is PGError: .unavailable("the database is unavailable")
        case is RedisError: .unavailable("the real-time store is unavailable")
        case is PoolError: .unavailable("the service is overloaded or shutting down")
        default: .unavailable("a store is unavailable")
        }
    }
}
