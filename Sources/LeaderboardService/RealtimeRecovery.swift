import LeaderboardCore
import LeaderboardStore
import Logging
import ServiceLifecycle

/// Keeps the real-time view caught up with PostgreSQL between sync passes.
///
/// At start it compares each board's last applied event id in Redis with the newest event in
/// PostgreSQL and rebuilds the boards that differ (a restart after a crash between commit and
/// Redis write, a Redis that came back empty); then, every `interval`, it rebuilds the boards
/// marked stale by a failed Redis write or by a read that found the board missing.
///
/// A rebuild is safe while other writers (this process or others) keep applying: it reads the
/// view's version, takes a consistent PostgreSQL snapshot, builds it aside and switches it in only
/// if the version did not move meanwhile; otherwise it tries again with a newer snapshot.
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
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            for board in service.stale.all where !Task.isShuttingDownGracefully {
                await rebuild(board)
            }
        }
    }

    /// Rebuilds every board whose Redis view is not at PostgreSQL's newest event; boards whose
    /// metadata is gone are marked stale first, so reads answer 503 until they are back.
    public func checkAllBoards() async {
        do {
            for board in try await service.repository.listLeaderboards() {
                if Task.isShuttingDownGracefully || Task.isCancelled { return }
                let id = board.config.id
                let applied = try? await service.realtime.lastAppliedEventID(board)
                let newest = try await service.repository.lastEventID(board: id)
                guard applied != newest else { continue }
                if applied == nil { service.stale.mark(id) }
                await rebuild(id)
            }
        } catch {
            logger.warning("start-up check of the real-time view failed; will retry stale boards", metadata: ["error": "\(error)"])
        }
    }

    /// Rebuilds one board's real-time view from PostgreSQL. Returns true when the view was replaced.
    ///
    /// Each attempt runs between this process's group commits (so only other processes can make
    /// it retry); writes queue meanwhile.
    @discardableResult
    public func rebuild(_ id: String, attempts: Int = 5) async -> Bool {
        do {
            for _ in 0..<attempts {
                if Task.isShuttingDownGracefully || Task.isCancelled { return false }
                let outcome = try await service.writer.exclusive { try await self.attempt(id) }
                switch outcome {
                case .rebuilt, .gone: return outcome == .rebuilt
                case .changedMeanwhile: continue
                }
            }
            logger.info("rebuild deferred: the board kept changing", metadata: ["board": "\(id)"])
        } catch {
            logger.warning("rebuild failed; will retry", metadata: ["board": "\(id)", "error": "\(error)"])
        }
        return false
    }

    private enum Outcome: Sendable { case rebuilt, gone, changedMeanwhile }

    private func attempt(_ id: String) async throws -> Outcome {
        let started = ContinuousClock.now
        guard let board = try await service.repository.leaderboard(id) else {
            service.stale.clear(id)
            return .gone
        }
        let versions = try await service.realtime.viewVersions(board)
        let limit = board.config.maxEntries > 0 ? board.config.maxEntries : Int(Int32.max)
        guard let snapshot = try await service.repository.snapshot(board: id, limit: limit) else {
            service.stale.clear(id)
            return .gone
        }
        guard try await service.realtime.rebuild(snapshot.board, entries: snapshot.entries, lastEventID: snapshot.lastEventID, ifVersions: versions)
        else { return .changedMeanwhile }
        service.stale.clear(id)
        logger.info(
            "rebuilt real-time board from the database",
            metadata: ["board": "\(id)", "players": "\(snapshot.entries.count)", "took": "\(ContinuousClock.now - started)"]
        )
        return .rebuilt
    }
}
