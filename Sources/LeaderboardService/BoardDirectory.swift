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

    /// Loads of rows asked for again now, one per board at a time (see ``fresh(_:loadedAfter:)``).
    private let loading = NIOLockedValueBox<[String: Task<StoredBoard?, any Error>]>([:])

    /// The board's row as loaded at or after `instant`: the cached one when it is that recent,
    /// else read from PostgreSQL — once for all the callers asking at the same time (every read
    /// that meets a layout switch asks), not once each. Nil when the board does not exist.
    public func fresh(_ id: String, loadedAfter instant: ContinuousClock.Instant) async throws -> StoredBoard? {
        if let entry = cache.withLockedValue({ $0[id] }), entry.loaded >= instant { return entry.board }
        let task = loading.withLockedValue { loading -> Task<StoredBoard?, any Error> in
            if let running = loading[id] { return running }
            let task = Task { [repository, cache] in
                let started = ContinuousClock.now
                let board = try await repository.leaderboard(id)
                cache.withLockedValue { $0[id] = Entry(board: board, loaded: started) }
                return board
            }
            loading[id] = task
            return task
        }
        defer { loading.withLockedValue { if $0[id] == task { $0[id] = nil } } }
        return try await task.value
    }

    /// Forgets the cached row, so the next lookup reads PostgreSQL.
    public func invalidate(_ id: String) {
        cache.withLockedValue { _ = $0.removeValue(forKey: id) }
    }
}
