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
        /// A submission, its waiting caller, and when it was queued.
        case scores(SubmissionRequest, CheckedContinuation<[Int64], any Error>, ContinuousClock.Instant)
    }

    private typealias Item = (request: SubmissionRequest, continuation: CheckedContinuation<[Int64], any Error>)

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
    /// With `idempotency`, a request whose key was used before is not applied again: it gets the
    /// first answer (409 when the requests differ).
    public func submit(_ commands: [ScoreCommand], idempotency: Idempotency? = nil) async throws -> [Int64] {
        precondition(!commands.isEmpty)
        return try await withCheckedThrowingContinuation { continuation in
            let now = ContinuousClock.now
            let (accepted, waiter) = state.withLockedValue { state -> (Bool, CheckedContinuation<Void, Never>?) in
                guard !state.shuttingDown, state.queuedEvents + commands.count <= configuration.maxQueuedEvents else {
                    return (false, nil)
                }
                state.queue.append(.scores(SubmissionRequest(commands, idempotency: idempotency), continuation, now))
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

    /// Commits until graceful shutdown, then finishes everything already queued. A group's Redis
    /// applies run beside the next commits (each board in its order, see ``ViewSequencer``), so a
    /// slow node delays the acknowledgements of its boards only.
    public func run() async throws {
        // Graceful shutdown and cancellation (the service group cancels every service when one of
        // them fails, e.g. the HTTP server that cannot bind its port) both end the loop.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    while let work = await nextWork() {
                        guard let (items, result) = await commit(work) else { continue }
                        group.addTask { await self.applyAndAcknowledge(items, result) }
                    }
                }
            } onGracefulShutdown: {
                self.stopTakingWork()
            }
        } onCancel: {
            stopTakingWork()
        }
        logger.info("write coordinator stopped")
    }

    /// From now on the loop finishes what is queued and returns.
    private func stopTakingWork() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.shuttingDown = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Waits for work; returns nil once shutting down with nothing queued.
    private func nextWork() async -> [Item]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLockedValue { state -> Bool in
                if state.head < state.queue.count || state.shuttingDown { return true }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
        // The group's first submission waits for others up to `window` from when it was queued:
        // under load it has mostly waited that long already, for the commit before.
        let wait = state.withLockedValue { state -> Duration in
            guard state.head < state.queue.count, !state.shuttingDown, state.queuedEvents < configuration.maxBatchEvents,
                case .scores(_, _, let queued) = state.queue[state.head]
            else { return .zero }
            return configuration.window - (ContinuousClock.now - queued)
        }
        if wait > .zero {
            try? await Task.sleep(for: wait)
        }
        return state.withLockedValue { state -> [Item]? in
            guard state.head < state.queue.count else { return nil }
            defer {
                // Compact the queue now and then instead of removing from its front each time.
                if state.head > 1024 || state.head == state.queue.count {
                    state.queue.removeFirst(state.head)
                    state.head = 0
                }
            }
            var items: [Item] = []
            var events = 0
            while state.head < state.queue.count, case .scores(let request, let continuation, _) = state.queue[state.head] {
                if !items.isEmpty, events + request.commands.count > configuration.maxBatchEvents { break }
                items.append((request, continuation))
                events += request.commands.count
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

    /// Commits one group; on failure answers its requests and returns nil.
    private func commit(_ items: [Item]) async -> ([Item], CommitResult)? {
        let started = ContinuousClock.now
        do {
            let result = try await repository.commit(items.map(\.request))
            let took = ContinuousClock.now - started
            Self.commitDuration.recordNanoseconds(took.components.seconds * 1_000_000_000 + took.components.attoseconds / 1_000_000_000)
            Self.commitEvents.record(result.plan.events.count)
            logger.debug(
                "group committed",
                metadata: ["requests": "\(items.count)", "events": "\(result.plan.events.count)", "took": "\(took)"]
            )
            return (items, result)
        } catch {
            Self.commitFailures.increment()
            let failure = LeaderboardError.fromStore(error)
            logger.error("group commit failed", metadata: ["requests": "\(items.count)", "error": "\(error)"])
            for item in items { item.continuation.resume(throwing: failure) }
            return nil
        }
    }

    /// Applies a committed group to Redis and acknowledges each request once the boards it names
    /// hold its change, so a client that reads after its write sees it. A Redis failure does not
    /// fail a request (it is durable): the board is caught up or rebuilt from PostgreSQL.
    ///
    /// A request answered from its key committed earlier; if that commit's apply was lost (its
    /// answer was a 503), Redis may still lack it, so its boards are caught up before it is
    /// answered — beside the group's applies, holding back only the replayed requests.
    private func applyAndAcknowledge(_ items: [Item], _ result: CommitResult) async {
        let batch = Self.realtimeBatch(from: result)
        var catchUps: [String: StoredBoard] = [:]
        var waiting: [(boards: Set<String>, index: Int)] = []
        for (index, item) in items.enumerated() {
            let named = Set(item.request.commands.map(\.leaderboardID))
            var boards = named.filter { batch.boards[$0] != nil }
            if result.replayed.contains(index), (try? result.outcomes[index].get()) != nil {
                for id in named where batch.boards[id] == nil && (result.sequencesBefore[id] ?? 0) > 0 && !sequencer.isMarkedStale(id) {
                    if let board = result.boards[id] {
                        catchUps[id] = board
                        boards.insert(id)
                    }
                }
            }
            if boards.isEmpty || (try? result.outcomes[index].get()) == nil {
                item.continuation.resume(with: result.outcomes[index].mapError { $0 as any Error })
            } else {
                waiting.append((boards, index))
            }
        }
        guard !waiting.isEmpty else {
            await sequencer.apply(batch)
            return
        }
        await withTaskGroup(of: String.self) { group in
            for (id, changes) in batch.boards {
                group.addTask {
                    var one = RealtimeBatch()
                    one.boards[id] = changes
                    await self.sequencer.apply(one)
                    return id
                }
            }
            for (id, board) in catchUps {
                let target = result.sequencesBefore[id] ?? 0
                group.addTask {
                    _ = try? await self.sequencer.catchUp(board, through: target)
                    return id
                }
            }
            var done: Set<String> = []
            for await id in group {
                done.insert(id)
                waiting.removeAll { entry in
                    guard entry.boards.isSubset(of: done) else { return false }
                    items[entry.index].continuation.resume(with: result.outcomes[entry.index].mapError { $0 as any Error })
                    return true
                }
            }
        }
        for entry in waiting {
            items[entry.index].continuation.resume(with: result.outcomes[entry.index].mapError { $0 as any Error })
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
