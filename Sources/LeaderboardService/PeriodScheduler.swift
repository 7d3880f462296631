import Foundation
import LeaderboardCore
import LeaderboardStore
import Logging
import ServiceLifecycle

/// Starts new periods of boards with a `reset_period` at their UTC boundaries.
///
/// At start it applies every boundary missed while no server ran (one reset per board, ending the
/// old period at the latest boundary passed; no empty periods are made for the ones between),
/// then sleeps until the next boundary of any board (at most `pollInterval`, so boards created
/// meanwhile are seen). A scheduled reset is conditional in PostgreSQL (the period must have
/// begun before the boundary), so several server processes reset a board once.
public final class PeriodScheduler: Service, Sendable {
    private let service: LeaderboardService
    /// The time it goes by: the service's clock unless a test gives another.
    private let clock: @Sendable () -> Date
    private let pollInterval: Duration
    private let logger: Logger

    public init(service: LeaderboardService, clock: (@Sendable () -> Date)? = nil, pollInterval: Duration = .seconds(30), logger: Logger) {
        self.service = service
        self.clock = clock ?? service.clock
        self.pollInterval = pollInterval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let next = await applyDue()
            let now = clock().timeIntervalSince1970
            var wait = pollInterval
            if let next {
                // A little past the boundary, so the clock reads at or after it on waking.
                let until = Duration.milliseconds(max(0, Int64((Double(next) - now) * 1000)) + 5)
                wait = min(wait, until)
            }
            try? await cancelWhenGracefulShutdown { [wait] in try await Task.sleep(for: wait) }
        }
    }

    /// Resets every board whose current period began before its latest boundary. Returns the next
    /// boundary of any board (Unix seconds), nil when no board has a reset period.
    @discardableResult
    public func applyDue() async -> Int64? {
        let now = Int64(clock().timeIntervalSince1970.rounded(.down))
        guard let boards = try? await service.repository.listLeaderboards() else {
            logger.warning("period check skipped: the database is unavailable")
            return now + 1
        }
        var next: Int64?
        for board in boards {
            let period = board.config.resetPeriod
            guard let boundary = period.boundary(atOrBefore: now), let following = period.boundary(after: now) else { continue }
            if board.periodStartedAt < boundary {
                do {
                    _ = try await service.resetLeaderboard(board.config.id, boundary: boundary)
                } catch {
                    logger.warning("scheduled reset failed; will retry", metadata: ["board": "\(board.config.id)", "error": "\(error)"])
                    next = min(next ?? now + 1, now + 1)
                }
            }
            next = min(next ?? following, following)
        }
        return next
    }
}
