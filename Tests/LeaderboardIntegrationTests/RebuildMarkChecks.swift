import LeaderboardApp
import LeaderboardStore
import Testing

/// Checks of the shared rebuild marks (`board_rebuilds`) when another process's rebuild (an
/// import's, or a whole rebuild's) covers a board whose shards this process finds behind.
enum RebuildMarkChecks {
    /// A catch-up of `board` to `target` that the change log cannot serve takes up the standing
    /// mark: it does not finish, the board answers 503 here, and no mark of this process is
    /// published (the mark's time is the same after a round of sharing marks).
    static func expectCatchUpTakesUpTheMark(
        _ board: StoredBoard, through target: Int64, _ system: LeaderboardSystem, _ failure: Comment,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let id = board.config.id
        let markedAt = try #require(try await requestedAt(id, system), sourceLocation: sourceLocation)
        let caughtUp = try await system.service.sequencer.catchUp(board, through: target)
        #expect(!caughtUp, "the shards cannot hold the change before the rebuild", sourceLocation: sourceLocation)
        #expect(system.service.stale.contains(id), "reads here answer 503 until the rebuild", sourceLocation: sourceLocation)
        #expect(!system.service.stale.isUnpublished(id), failure, sourceLocation: sourceLocation)
        // Past a round of sharing marks: the standing mark is the one that stands.
        try await Task.sleep(for: .milliseconds(1500))
        #expect(try await requestedAt(id, system) == markedAt, sourceLocation: sourceLocation)
    }

    /// The mark's holder is gone (its lease ends now): this process takes the lease over and
    /// rebuilds, and the mark goes.
    static func expectLeaseTakenOverAndRebuilt(_ id: String, _ system: LeaderboardSystem, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        _ = try await system.postgres.query("UPDATE board_rebuilds SET lease_until = now() - interval '1 second' WHERE leaderboard_id = $1", [id])
        #expect(try await system.recovery.rebuildMarked(id, patience: .seconds(60)), sourceLocation: sourceLocation)
        #expect(try await system.service.repository.rebuildRequests()[id] == nil, sourceLocation: sourceLocation)
    }

    private static func requestedAt(_ id: String, _ system: LeaderboardSystem) async throws -> String? {
        try await system.postgres.query("SELECT requested_at::text FROM board_rebuilds WHERE leaderboard_id = $1", [id]).rows.first?[0] ?? nil
    }
}
