import LeaderboardCore
import LeaderboardStore
import Logging
import Metrics
import NIOConcurrencyHelpers
import PostgresClient
import ServiceLifecycle

/// The group commit of a server process's score submissions.
///
/// Submissions that arrive while a commit runs (or within `window`) are committed together in
/// one PostgreSQL transaction of at most `maxBatchEvents` events, then applied to Redis, and only
/// then acknowledged. The order in which changes reach Redis is the board's change sequence,
/// assigned in the commit (see ``ViewSequencer``), not this process's: other mutations (removals,
/// resets) need not run between groups.
public final class WriteCoordinator: Service, Sendable {
    public struct Configuration: Sendable, Equatable {
        /// Most events in one transaction.
        public var maxBatchEvents: Int
        /// How long the first submission of a group waits for others.
        public var window: Duration
        /// Most events waiting; beyond that submissions get 503 (back-pressure).
        public var maxQueuedEvents: Int

        public init(maxBatchEvents: Int = 1000, window: Duration = .milliseconds(2), maxQueuedEvents: Int = 100_000) {
            self.maxBatchEvents = maxBatchEvents
            self.window = window
            self.maxQueuedEvents = maxQueuedEvents
        }
    }

    private enum Work: Sendable {
        case scores([ScoreCommand], CheckedContinuation<[Int64], any Error>)
    }

    private struct State {
        var queue: [Work] = []
        var head = 0
        var queuedEvents = 0
        var waiter: CheckedContinuation<Void, Never>?
        var shuttingDown = false
    }

    private let state = NIOLockedValueBox(State())
    private let repository: PostgresScoreRepository
    private let sequencer: ViewSequencer
    private let configuration: Configuration
    private let logger: Logger

    public init(repository: PostgresScoreRepository, sequencer: ViewSequencer, configuration: Configuration, logger: Logger) {
        self.repository = repository
        self.sequencer = sequencer
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: - Submitting

    /// Commits `commands` as one unit with other concurrent submissions and returns each
    /// command's resulting score. Returns only after the commit; throws a contract error.
    public func submit(_ commands: [ScoreCommand]) async throws -> [Int64] {
        precondition(!commands.isEmpty)
        return try await withCheckedThrowingContinuation { continuation in
            let (accepted, waiter) = state.withLockedValue { state -> (Bool, CheckedContinuation<Void, Never>?) in
                guard !state.shuttingDown, state.queuedEvents + commands.count <= configuration.maxQueuedEvents else {
                    return (false, nil)
                }
                state.queue.append(.scores(commands, continuation))
                state.queuedEvents += commands.count
                defer { state.waiter = nil }
                return (true, state.waiter)
            }
            if accepted {
                waiter?.resume()
            } else {
                continuation.resume(throwing: LeaderboardError.unavailable("the write queue is full or the server is shutting down"))
            }
        }
    }

    // MARK: - Running

    /// Commits until graceful shutdown, then finishes everything already queued.
    public func run() async throws {
        await withGracefulShutdownHandler {
            while let work = await nextWork() {
                await commit(work)
            }
        } onGracefulShutdown: {
            let waiter = self.state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
                state.shuttingDown = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
        logger.info("write coordinator stopped")
    }

    /// Waits for work; returns nil once shutting down with nothing queued.
    private func nextWork() async -> [([ScoreCommand], CheckedContinuation<[Int64], any Error>)]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLockedValue { state -> Bool in
                if state.head < state.queue.count || state.shuttingDown { return true }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
        let shouldWait = state.withLockedValue { state -> Bool in
            guard state.head < state.queue.count, !state.shuttingDown else { return false }
            return state.queuedEvents < configuration.maxBatchEvents
        }
        if shouldWait, configuration.window > .zero {
            try? await Task.sleep(for: configuration.window)
        }
        return state.withLockedValue { state -> [([ScoreCommand], CheckedContinuation<[Int64], any Error>)]? in
            guard state.head < state.queue.count else { return nil }
            defer {
                // Compact the queue now and then instead of removing from its front each time.
                if state.head > 1024 || state.head == state.queue.count {
                    state.queue.removeFirst(state.head)
                    state.head = 0
                }
            }
            var items: [([ScoreCommand], CheckedContinuation<[Int64], any Error>)] = []
            var events = 0
            while state.head < state.queue.count, case .scores(let commands, let continuation) = state.queue[state.head] {
                if !items.isEmpty, events + commands.count > configuration.maxBatchEvents { break }
                items.append((commands, continuation))
                events += commands.count
                state.head += 1
            }
            state.queuedEvents -= events
            return items
        }
    }

    static let commitDuration = Timer(label: "leaderboard_group_commit_duration", preferredDisplayUnit: .seconds)
    /// Score events per group commit (a histogram).
    static let commitEvents = Recorder(label: "leaderboard_group_commit_events", aggregate: true)
    static let commitFailures = Counter(label: "leaderboard_group_commit_failures")

    private func commit(_ items: [([ScoreCommand], CheckedContinuation<[Int64], any Error>)]) async {
        let result: CommitResult
        let started = ContinuousClock.now
        do {
            result = try await commitWithRetry(items.map(\.0))
            let took = ContinuousClock.now - started
            Self.commitDuration.recordNanoseconds(took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000)
            Self.commitEvents.record(result.plan.events.count)
            logger.debug(
                "group committed",
                metadata: ["requests": "\(items.count)", "events": "\(result.plan.events.count)", "took": "\(ContinuousClock.now - started)"]
            )
        } catch {
            Self.commitFailures.increment()
            let failure = LeaderboardError.fromStore(error)
            logger.error("group commit failed", metadata: ["requests": "\(items.count)", "error": "\(error)"])
            for (_, continuation) in items { continuation.resume(throwing: failure) }
            return
        }
        // Committed: apply to Redis before acknowledging, so a client that reads after its
        // write sees it. A Redis failure does not fail the request (it is durable); the
        // board is marked stale and rebuilt from PostgreSQL.
        await sequencer.apply(Self.realtimeBatch(from: result))
        for (index, (_, continuation)) in items.enumerated() {
            continuation.resume(with: result.plan.outcomes[index].mapError { $0 as any Error })
        }
    }

    /// Retries a group once when PostgreSQL reports a deadlock or serialization failure.
    private func commitWithRetry(_ requests: [[ScoreCommand]]) async throws -> CommitResult {
        do {
            return try await repository.commit(requests)
        } catch let error as PGError where error.isSerializationFailure {
            return try await repository.commit(requests)
        }
    }

    /// The numbered view changes (and usernames) of a group commit, to apply.
    public static func realtimeBatch(from result: CommitResult) -> RealtimeBatch {
        var batch = RealtimeBatch()
        for (id, step) in result.steps {
            guard let board = result.boards[id] else { continue }
            batch.boards[id] = .init(board: board, steps: [step])
        }
        for event in result.plan.events {
            guard let username = event.command.username, let board = result.boards[event.command.leaderboardID] else { continue }
            batch.boards[board.config.id, default: .init(board: board)].usernames.append((event.command.playerID, username))
        }
        return batch
    }
}
