import LeaderboardCore
import LeaderboardStore
import Logging

/// `leaderboard-server import` (DESIGN.md, "Bulk import"): the rows go into PostgreSQL in one
/// transaction (``PostgresScoreRepository/importScores(board:rows:)``), which also marks the board
/// for a whole rebuild and gives this process the board's rebuild lease; then the board's shards
/// are built from PostgreSQL under that lease (``RealtimeRecovery/rebuildMarked(_:patience:progress:)``). Until they are, every server
/// process answers 503 for the board, never a view without the import.
///
/// If this process dies after the commit, the mark stays: a server process rebuilds the board
/// (within seconds of the lease running out), and so does the next import or server start.
public struct BulkImport: Sendable {
    public struct Report: Sendable, Equatable, Codable {
        public var board: String
        public var rows: Int
        public var players: Int
        public var added: Int
        /// Seconds in PostgreSQL (COPY and the transaction), and building the shards.
        public var postgresSeconds: Double
        public var redisSeconds: Double
    }

    private let service: LeaderboardService
    private let recovery: RealtimeRecovery

    public init(service: LeaderboardService, recovery: RealtimeRecovery) {
        self.service = service
        self.recovery = recovery
    }

    /// Imports the rows `next` hands out (nil at the end), then builds the shards, telling
    /// `building` how many members are written. Throws the source's error (a bad row) with
    /// nothing written, ``LeaderboardError`` when the board does not exist or changes its layout.
    public func run(
        board id: String, rows next: @escaping @Sendable () throws -> ImportedRow?,
        building: (@Sendable (_ written: Int, _ total: Int) -> Void)? = nil
    ) async throws -> Report {
        let started = ContinuousClock.now
        let commit = try await service.repository.importScores(
            board: id, rows: next, leaseHolder: recovery.leaseHolder, leaseSeconds: RealtimeRecovery.leaseSeconds
        )
        let committed = ContinuousClock.now
        if commit.seq != nil {
            guard try await recovery.rebuildMarked(id, progress: building) else {
                throw LeaderboardError.unavailable("the import committed, but the board's shards were not rebuilt in time; a server process will rebuild them")
            }
        }
        return Report(
            board: id, rows: commit.rows, players: commit.players, added: commit.added,
            postgresSeconds: Self.seconds(committed - started), redisSeconds: Self.seconds(ContinuousClock.now - committed)
        )
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
