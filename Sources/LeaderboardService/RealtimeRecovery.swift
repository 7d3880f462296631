import LeaderboardCore
import LeaderboardStore
import Logging
import ServiceLifecycle
import Synchronization

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
                if applied == nil { service.stale.markMissing(id) }
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
        (try? await rebuild(id, shards: nil, attempts: attempts)) ?? false
    }

    /// SyncFromDatabase: rebuilds the board, or only the given shards, from PostgreSQL, logging
    /// progress. Returns true when rebuilt; throws when a store fails.
    @discardableResult
    public func rebuild(_ id: String, shards: Set<Int>?, attempts: Int = 5) async throws -> Bool {
        do {
            for _ in 0..<attempts {
                if Task.isShuttingDownGracefully || Task.isCancelled { return false }
                let outcome = try await service.writer.exclusive { try await self.attempt(id, shards: shards) }
                switch outcome {
                case .rebuilt, .gone: return outcome == .rebuilt
                case .changedMeanwhile: continue
                }
            }
            logger.info("rebuild deferred: the board kept changing", metadata: ["board": "\(id)"])
        } catch {
            logger.warning("rebuild failed; will retry", metadata: ["board": "\(id)", "error": "\(error)"])
            throw error
        }
        return false
    }

    private enum Outcome: Sendable { case rebuilt, gone, changedMeanwhile }

    private func attempt(_ id: String, shards: Set<Int>?) async throws -> Outcome {
        let started = ContinuousClock.now
        guard let board = try await service.repository.leaderboard(id) else {
            service.stale.clear(id)
            return .gone
        }
        let versions = try await service.realtime.viewVersions(board)
        // A board marked only for shards that lost their metadata gets those shards rebuilt; the
        // others are intact (a Redis node that came back empty holds only some of the shards).
        let scope = service.stale.scope(id)
        var shards = shards
        if shards == nil, scope == .missingShards {
            let missing = Set(versions.indices.filter { versions[$0] == nil })
            if !missing.isEmpty, missing.count < versions.count { shards = missing }
        }
        let limit = board.config.maxEntries > 0 ? board.config.maxEntries : nil
        guard let snapshot = try await service.repository.snapshot(board: id, limit: limit) else {
            service.stale.clear(id)
            return .gone
        }
        let progress = RebuildProgress(board: id, logger: logger)
        guard
            try await service.realtime.rebuild(
                snapshot.board, entries: snapshot.entries, lastEventID: snapshot.lastEventID, ifVersions: versions, only: shards,
                progress: progress.report
            )
        else { return .changedMeanwhile }
        if shards == nil {
            service.stale.clear(id)
        } else if scope == .missingShards {
            service.stale.clear(id, ifStill: .missingShards)
        }
        logger.info(
            "rebuilt real-time board from the database",
            metadata: [
                "board": "\(id)", "shards": "\(shards.map { $0.sorted().map(String.init).joined(separator: ",") } ?? "all")",
                "players": "\(snapshot.entries.count)", "took": "\(ContinuousClock.now - started)",
            ]
        )
        return .rebuilt
    }
}

/// Logs a rebuild's progress every 100,000 members written.
final class RebuildProgress: Sendable {
    private let board: String
    private let logger: Logger
    private let logged = Mutex(0)
    static let step = 100_000

    init(board: String, logger: Logger) {
        self.board = board
        self.logger = logger
    }

    var report: @Sendable (Int) -> Void {
        { [self] written in
            let due = logged.withLock { logged in
                guard written / Self.step > logged / Self.step else { return false }
                logged = written
                return true
            }
            if due { logger.info("rebuild progress", metadata: ["board": "\(board)", "written": "\(written)"]) }
        }
    }
}
