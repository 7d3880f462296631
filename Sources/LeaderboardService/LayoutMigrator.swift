import Foundation
import LeaderboardCore
import LeaderboardStore
import Logging
import Metrics
import NIOConcurrencyHelpers
import ServiceLifecycle
import Synchronization

/// Changes a live board's layout (shard count, strategy, band bounds) while every process keeps
/// serving it.
///
/// The protocol, step by step (see DESIGN.md, "Changing a board's layout online"):
/// 1. **Start.** One transaction under the board's row lock records the target (new epoch, its
///    layout and placement) in the row and in `board_migrations`, with this process's lease.
///    Every commit reads the row under the same lock, so each change numbered after the start
///    is applied to the new epoch's shards as well (``ViewSequencer``), whichever process commits it.
/// 2. **Build.** A consistent snapshot of PostgreSQL (its players and the number of the last
///    change it includes) is written aside into the new epoch's shards, in the paced, bounded
///    rounds of a rebuild, and switched in there with the snapshot's number. Changes applied to
///    those shards before that were dropped (no metadata yet); those after it land in order.
/// 3. **Catch up.** The new shards are brought up to the board's last change from the change
///    log (each shard applies each change once, in order).
/// 4. **Switch.** Under the row lock (commits of the board wait, for milliseconds): bring the
///    new shards up to the locked change number, mark the old epoch's shards `retired` (a read
///    that sees the mark is redone on the new layout), and commit the new layout as the board's.
///    A failure before the commit rolls back and takes the marks back: never half-switched.
/// 5. **Clean up.** The old epoch's keys are queued for removal once no process can still hold
///    the old row (twice the board cache's lifetime); the recovery service removes them.
///
/// A process that dies mid-change leaves its lease to run out; any process then takes the change
/// over and redoes it from step 2 (the new shards are rebuilt from a new snapshot).
public final class LayoutMigrator: Service, Sendable {
    private let service: LeaderboardService
    private let logger: Logger
    /// This process's name on the leases it holds.
    public let holder: String
    public let lease: Duration
    /// How long after a switch the old epoch's keys stay (no process may still read them).
    let removalDelay: Duration
    private let running = NIOLockedValueBox<Set<String>>([])

    static let switches = Counter(label: "leaderboard_layout_switches_total")
    static let failures = Counter(label: "leaderboard_layout_migration_failures_total")
    static let active = Gauge(label: "leaderboard_layout_migrations_running")
    static let copiedGauge = Gauge(label: "leaderboard_layout_migration_copied")
    static let duration = Timer(label: "leaderboard_layout_migration_duration_seconds")
    static let switchPause = Timer(label: "leaderboard_layout_switch_seconds")

    public init(service: LeaderboardService, logger: Logger, lease: Duration = .seconds(6), removalDelay: Duration = .seconds(15), holder: String? = nil) {
        self.service = service
        self.logger = logger
        self.lease = lease
        self.removalDelay = removalDelay
        self.holder = holder ?? "layout-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: .min ... .max))"
    }

    private var leaseSeconds: Int { max(Int(lease.components.seconds), 1) }

    // MARK: - Requests

    /// What a request to change a layout got.
    public enum Change: Sendable, Equatable {
        case migrating(epoch: Int)
        case stable(epoch: Int)
    }

    /// Records a change of the board's layout and starts it in this process (`runHere`), or
    /// leaves it to whoever runs it (the CLI drives it itself). Throws `migration_in_progress`
    /// while another change of the board runs.
    public func change(board id: String, to layout: Layout, runHere: Bool = true) async throws -> Change {
        try Identifier.check(id, field: "leaderboard id")
        try layout.validate()
        let placement = service.topology.placement(board: id, shards: layout.shardCount)
        let started: PostgresScoreRepository.MigrationStart
        do {
            started = try await service.repository.startMigration(board: id, layout: layout, placement: placement, holder: holder, lease: leaseSeconds)
        } catch {
            throw LeaderboardError.fromStore(error)
        }
        switch started {
        case .notFound: throw LeaderboardError.leaderboardNotFound(id)
        case .unchanged(let epoch): return .stable(epoch: epoch)
        case .inProgress(let epoch): throw LeaderboardError.migrationInProgress(id, epoch: epoch)
        case .started(let epoch):
            service.directory.invalidate(id)
            logger.info("layout change recorded", metadata: ["board": "\(id)", "epoch": "\(epoch)", "layout": "\(layout.strategy)/\(layout.shardCount)"])
            if runHere { spawn(id, epoch) }
            return .migrating(epoch: epoch)
        }
    }

    /// Runs the change in the background of this process, unless it already runs here.
    private func spawn(_ id: String, _ epoch: Int) {
        guard running.withLockedValue({ $0.insert("\(id)#\(epoch)").inserted }) else { return }
        Task {
            defer { _ = running.withLockedValue { $0.remove("\(id)#\(epoch)") } }
            _ = try? await migrate(board: id, epoch: epoch)
        }
    }

    /// Takes over the changes whose process died (their lease ran out), once a second.
    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if let claimed = try? await service.repository.claimAbandonedMigrations(holder: holder, lease: leaseSeconds) {
                for (id, epoch) in claimed {
                    logger.info("taking over an abandoned layout change", metadata: ["board": "\(id)", "epoch": "\(epoch)"])
                    spawn(id, epoch)
                }
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    // MARK: - The migration

    enum Failure: Error {
        /// A shard of the new epoch lost its metadata (its node restarted): build again.
        case targetLost
        /// The change log does not reach back to what the new shards miss: build again.
        case logGap
        /// Catching up did not reach the board's last change in its rounds.
        case notCaughtUp
        /// The lease went to another process (or the change was cancelled).
        case leaseLost
        /// A blocking bridge step did not finish within its bound.
        case timedOut
    }

    /// Runs the change of board `id` to `epoch` to its switch; `progress` hears members copied of how many.
    /// Returns true when switched, false when the change is no longer this holder's (taken over,
    /// cancelled, or the board is gone). Throws when it failed too often (the lease then runs out
    /// and the change is taken over).
    @discardableResult
    public func migrate(board id: String, epoch: Int, progress: (@Sendable (_ copied: Int, _ total: Int) -> Void)? = nil) async throws -> Bool {
        Self.active.record(running.withLockedValue { $0.count })
        let started = ContinuousClock.now
        var lastError: (any Error)?
        for attempt in 0..<8 {
            if Task.isCancelled { return false }
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(200 * (1 << min(attempt, 4)))) }
            do {
                guard try await attemptMigration(id, epoch, progress: progress) else { return false }
                Self.duration.record(duration: ContinuousClock.now - started)
                return true
            } catch Failure.leaseLost {
                return false
            } catch {
                Self.failures.increment()
                lastError = error
                logger.warning("layout change attempt failed; retrying", metadata: ["board": "\(id)", "epoch": "\(epoch)", "error": "\(error)"])
            }
        }
        throw lastError ?? Failure.notCaughtUp
    }

    private func attemptMigration(_ id: String, _ epoch: Int, progress observer: (@Sendable (Int, Int) -> Void)?) async throws -> Bool {
        let repository = service.repository
        let realtime = service.realtime
        guard let row = try await repository.leaderboard(id), row.migration?.epoch == epoch else { return false }
        guard try await repository.renewMigration(board: id, epoch: epoch, holder: holder, lease: leaseSeconds, copied: 0, total: 0) else {
            throw Failure.leaseLost
        }
        let limit = row.config.maxEntries > 0 ? row.config.maxEntries : nil
        guard let snapshot = try await repository.snapshot(board: id, limit: limit), let target = snapshot.board.migrationTarget,
            target.epoch == epoch
        else { return false }
        let old = snapshot.board.at(epoch: snapshot.board.epoch, layout: snapshot.board.config.layout, placement: snapshot.board.placement)

        // The lease is renewed, with the progress, while the build runs.
        let copied = Mutex((0, snapshot.entries.count))
        let renewer = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: lease / 3)
                if Task.isCancelled { return false }
                let (done, total) = copied.withLock { $0 }
                if (try? await repository.renewMigration(board: id, epoch: epoch, holder: holder, lease: leaseSeconds, copied: done, total: total)) == false {
                    return true
                }
            }
            return false
        }
        defer { renewer.cancel() }
        let built = try await realtime.rebuild(
            target, entries: snapshot.entries, lastEventID: snapshot.lastEventID, seq: snapshot.seq, only: nil, force: false,
            progress: { done, total in
                copied.withLock { $0 = (done, total) }
                Self.copiedGauge.record(done)
                observer?(done, total)
            }
        )
        guard built else { throw Failure.targetLost }
        renewer.cancel()
        if await renewer.value { throw Failure.leaseLost }
        let total = snapshot.entries.count
        guard try await repository.renewMigration(board: id, epoch: epoch, holder: holder, lease: leaseSeconds, copied: total, total: total) else {
            throw Failure.leaseLost
        }
        observer?(total, total)

        // Most of the gap closes before the lock is taken, so the switch itself has little to do.
        let now = try await repository.changeSequencesAndIncarnations()[id]
        guard let now, now.incarnation == snapshot.board.incarnation else { return false }
        try await bringUp(target, through: now.seq)

        return try await switchOver(id, epoch, old: old, target: target)
    }

    /// Step 4: the switch, under the board's row lock.
    private func switchOver(_ id: String, _ epoch: Int, old: StoredBoard, target: StoredBoard) async throws -> Bool {
        let realtime = service.realtime
        let pending = Mutex<Task<Void, any Error>?>(nil)
        let started = ContinuousClock.now
        let switched: StoredBoard?
        do {
            switched = try await service.repository.switchLayout(
                board: id, epoch: epoch, holder: holder, removalDelay: Int(max(removalDelay.components.seconds, 1))
            ) { locked, seq in
                // On PostgreSQL's thread, holding the lock: the Redis steps run as a task it waits for.
                let target = target
                let work = Task {
                    try await self.bringUp(target, through: seq)
                    try await realtime.retire(old, true)
                }
                pending.withLock { $0 = work }
                try Self.wait(for: work, within: .seconds(3))
            }
        } catch {
            // Rolled back (or the commit's outcome is unknown): unless the board now has the new
            // epoch, the old one is still the board's view, so its marks are taken back once the
            // marking task has surely finished.
            if let work = pending.withLock({ $0 }) { _ = await work.result }
            if (try? await service.repository.leaderboard(id))?.epoch != epoch {
                try? await realtime.retire(old, false)
                throw error
            }
            service.directory.invalidate(id)
            return true
        }
        guard let switched else {
            if let work = pending.withLock({ $0 }) { _ = await work.result }
            try? await realtime.retire(old, false)
            return false
        }
        service.directory.update(id, switched)
        Self.switches.increment()
        Self.switchPause.record(duration: ContinuousClock.now - started)
        logger.info(
            "layout switched",
            metadata: ["board": "\(id)", "epoch": "\(epoch)", "layout": "\(target.config.layout.strategy)/\(target.config.layout.shardCount)", "switch": "\(ContinuousClock.now - started)"]
        )
        return true
    }

    /// Waits on a blocking thread (PostgreSQL's) for an async task, at most `bound`.
    private static func wait(for task: Task<Void, any Error>, within bound: Duration) throws {
        let semaphore = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        Task {
            let result = await task.result
            outcome.withLock { $0 = result }
            semaphore.signal()
        }
        let milliseconds = Int(bound.components.seconds * 1000 + bound.components.attoseconds / 1_000_000_000_000_000)
        guard semaphore.wait(timeout: .now() + .milliseconds(milliseconds)) == .success else {
            task.cancel()
            throw Failure.timedOut
        }
        try outcome.withLock { $0 }?.get()
    }

    /// Brings every shard of the new epoch up to change `seq` from the change log, in rounds of
    /// at most ``ViewSequencer/mostReplayed`` changes.
    func bringUp(_ target: StoredBoard, through seq: Int64) async throws {
        let id = target.config.id
        for _ in 0..<64 {
            let sequences = try await service.realtime.appliedSequences(target)
            guard sequences.allSatisfy({ $0 != nil }) else { throw Failure.targetLost }
            let held = sequences.map { $0! }
            guard let lowest = held.min(), lowest < seq else { return }
            let through = min(seq, lowest + ViewSequencer.mostReplayed)
            let steps = try await service.repository.viewSteps(board: id, after: lowest, through: through)
            guard steps.count == Int(through - lowest), steps.first?.seq == lowest + 1 else { throw Failure.logGap }
            var batch = RealtimeBatch()
            batch.boards[id] = .init(board: target, steps: steps, shards: Set(held.indices.filter { held[$0] < through }))
            let after = try await service.realtime.apply(batch)[id] ?? [:]
            guard after.values.allSatisfy({ $0 != nil }) else { throw Failure.targetLost }
        }
        throw Failure.notCaughtUp
    }

    // MARK: - Status

    /// `GET .../layout`: the board's epoch, layout and members per shard, and the running change.
    public func status(board id: String) async throws -> LayoutStatus {
        try Identifier.check(id, field: "leaderboard id")
        service.directory.invalidate(id)
        let board = try await service.directory.board(id)
        let sizes: [Int]
        do {
            sizes = try await service.realtime.shardSizes(board)
        } catch {
            throw LeaderboardError.fromStore(error)
        }
        let migration: PostgresScoreRepository.LayoutMigration?
        do {
            migration = try await service.repository.latestMigration(board: id)
        } catch {
            throw LeaderboardError.fromStore(error)
        }
        let running = migration.flatMap { $0.state == "migrating" && board.migration?.epoch == $0.epoch ? $0 : nil }
        let defaultNode = service.topology.nodes.first?.id ?? "default"
        return LayoutStatus(
            epoch: board.epoch, layout: board.config.layout,
            shards: sizes.enumerated().map { index, size in
                .init(shard: index, node: index < board.placement.count ? board.placement[index] : defaultNode, members: size)
            },
            migration: running
        )
    }
}

/// A board's layout as `GET .../layout` answers it.
public struct LayoutStatus: Sendable {
    public struct Shard: Sendable {
        public var shard: Int
        public var node: String
        public var members: Int
    }

    public var epoch: Int
    public var layout: Layout
    public var shards: [Shard]
    public var migration: PostgresScoreRepository.LayoutMigration?
}
