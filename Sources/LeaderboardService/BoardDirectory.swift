import LeaderboardCore
import LeaderboardStore
import NIOConcurrencyHelpers

/// The boards' configurations, cached from PostgreSQL so that reads need no database round trip.
///
/// Entries expire after `ttl`, so a board created or deleted by another server process is seen
/// within that time; this process's own changes update the cache at once.
public final class BoardDirectory: Sendable {
    private struct Entry {
        var board: StoredBoard?
        var loaded: ContinuousClock.Instant
    }

    private let repository: PostgresScoreRepository
    private let ttl: Duration
    private let cache = NIOLockedValueBox<[String: Entry]>([:])

    public init(repository: PostgresScoreRepository, ttl: Duration = .seconds(5)) {
        self.repository = repository
        self.ttl = ttl
    }

    /// The board, or `leaderboard_not_found`.
    public func board(_ id: String) async throws -> StoredBoard {
        let now = ContinuousClock.now
        if let entry = cache.withLockedValue({ $0[id] }), now - entry.loaded < ttl {
            guard let board = entry.board else { throw LeaderboardError.leaderboardNotFound(id) }
            return board
        }
        let board: StoredBoard?
        do {
            board = try await repository.leaderboard(id)
        } catch {
            // PostgreSQL is down: a stale entry is better than no answer for reads.
            if let stale = cache.withLockedValue({ $0[id] })?.board { return stale }
            throw LeaderboardError.fromStore(error)
        }
        cache.withLockedValue { $0[id] = Entry(board: board, loaded: now) }
        guard let board else { throw LeaderboardError.leaderboardNotFound(id) }
        return board
    }

    /// Records what this process just wrote (nil: deleted).
    public func update(_ id: String, _ board: StoredBoard?) {
        cache.withLockedValue { $0[id] = Entry(board: board, loaded: .now) }
    }

    /// Forgets the cached row, so the next lookup reads PostgreSQL.
    public func invalidate(_ id: String) {
        cache.withLockedValue { _ = $0.removeValue(forKey: id) }
    }
}
