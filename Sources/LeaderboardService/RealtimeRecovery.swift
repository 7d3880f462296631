import LeaderboardCore
import LeaderboardStore
import Logging
import ServiceLifecycle

/// Keeps the real-time view caught up with PostgreSQL between sync passes.
///
/// At start it compares each board's last applied event id in Redis with the newest event in
/// PostgreSQL and rebuilds the boards that differ (a restart after a crash, a Redis that came
/// back empty); then, every `interval`, it rebuilds the boards marked stale by a failed write or
/// a read that found the board missing. Rebuilds run through the ``WriteCoordinator`` so they are
/// ordered with the writes.
public final class RealtimeRecovery: Service, Sendable {
    private let service: LeaderboardService
    private let interval: Duration
    private let logger: Logger

    public init(service: LeaderboardService, interval: Duration = .seconds(1), logger: Logger) {
        self.service = service
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await checkAllBoards()
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await Task.sleep(for: interval)
            for board in service.stale.all {
                await rebuild(board)
            }
        }
    }

    /// Marks stale every board whose Redis view is not at PostgreSQL's newest event, and rebuilds them.
    public func checkAllBoards() async {
        do {
            for board in try await service.repository.listLeaderboards() {
                let id = board.config.id
                let applied = try? await service.realtime.lastAppliedEventID(id)
                let newest = try await service.repository.lastEventID(board: id)
                if applied != newest {
                    service.stale.mark(id)
                    await rebuild(id)
                }
            }
        } catch {
            logger.warning("start-up check of the real-time view failed; will retry stale boards", metadata: ["error": "\(error)"])
        }
    }

    /// Rebuilds one board's real-time view from PostgreSQL.
    public func rebuild(_ id: String) async {
        do {
            try await service.writer.exclusive {
                guard let board = try await self.service.repository.leaderboard(id) else {
                    self.service.stale.clear(id)
                    return
                }
                let started = ContinuousClock.now
                let lastEventID = try await self.service.repository.lastEventID(board: id)
                let limit = board.config.maxEntries > 0 ? board.config.maxEntries : Int(Int32.max)
                let entries = try await self.service.repository.standings(board: board, limit: limit, offset: 0)
                try await self.service.realtime.rebuild(board, entries: entries, lastEventID: lastEventID)
                self.service.stale.clear(id)
                self.logger.info(
                    "rebuilt real-time board from the database",
                    metadata: ["board": "\(id)", "players": "\(entries.count)", "took": "\(ContinuousClock.now - started)"]
                )
            }
        } catch {
            logger.warning("rebuild failed; will retry", metadata: ["board": "\(id)", "error": "\(error)"])
        }
    }
}
