import LeaderboardCore
import LeaderboardStore
import Logging

/// `leaderboard-server import` (DESIGN.md, "Bulk import"): the rows go into PostgreSQL in one
/// transaction (``PostgresScoreRepository/importScores(board:rows:)``), which also marks the board
/// for a whole rebuild and gives this process the board's rebuild lease; then the board's shards
/// are built from PostgreSQL under that lease (``RealtimeRecovery/rebuildMarked(_:patience:progress:)``). From when a server
/// process learns the mark (within a second of the commit: until then it may still serve the
/// board as it was before the import, a committed state) until they are built, it answers 503
/// for the board; never a mix of the two.
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

    /// What went wrong once the import may have committed: running it again would apply the rows
    /// twice (an `increment` board would add them twice), so these say what to do instead.
    public enum Failure: Error, CustomStringConvertible {
        /// Committed; the shards were not built here (a server process builds them).
        case committedNotBuilt(rows: Int, reason: String)
        /// The reply to COMMIT was lost and the database could not say what became of it.
        case outcomeUnknown(String)

        public var description: String {
            switch self {
            case .committedNotBuilt(let rows, let reason):
                return "the import committed (\(rows) rows), but the board's shards were not built here (\(reason)); "
                    + "a server process rebuilds them (the board answers 503 until then); do not import the file again"
            case .outcomeUnknown(let reason):
                return "\(reason); the import may have committed: look for the board's events of type 'import' before importing the file again"
            }
        }
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
        let commit: ImportCommit
        do {
            commit = try await service.repository.importScores(
                board: id, rows: next, leaseHolder: recovery.leaseHolder, leaseSeconds: RealtimeRecovery.leaseSeconds
            )
        } catch let error as CommitOutcomeUnknown {
            throw Failure.outcomeUnknown("\(error)")
        }
        let committed = ContinuousClock.now
        if commit.seq != nil {
            let built: Bool
            do { built = try await recovery.rebuildMarked(id, pace: .bulkImport, progress: building) } catch {
                throw Failure.committedNotBuilt(rows: commit.rows, reason: "\(error)")
            }
            guard built else { throw Failure.committedNotBuilt(rows: commit.rows, reason: "not rebuilt in time") }
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
