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
    let service: LeaderboardService
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

    /// How hard a change's build may push (the board keeps serving from its old epoch meanwhile,
    /// so it can go faster than a rebuild; `leaderboard.migration_batch` and `_pace`).
    let pace: BuildPace

    public init(
        service: LeaderboardService, logger: Logger, lease: Duration = .seconds(6), removalDelay: Duration = .seconds(15),
        pace: BuildPace = .rebuild, holder: String? = nil
    ) {
        self.service = service
        self.pace = pace
        self.logger = logger
        self.lease = lease
        self.removalDelay = removalDelay
        self.holder = holder ?? "layout-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: .min ... .max))"
    }

    var leaseSeconds: Int { max(Int(lease.components.seconds), 1) }

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
        case .running(let epoch): return .migrating(epoch: epoch)
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
        Self.active.record(running.withLockedValue { $0.count })
        Task {
            defer {
                let left = running.withLockedValue { running in
                    running.remove("\(id)#\(epoch)")
                    return running.count
                }
                Self.active.record(left)
            }
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
    /// cancelled, or the board is gone). Throws when every attempt failed; after
    /// ``mostFailedRuns`` such runs (here or in processes that took it over) the change is
    /// cancelled, so a change that cannot be built does not hold the board forever.
    @discardableResult
    public func migrate(board id: String, epoch: Int, progress: (@Sendable (_ copied: Int, _ total: Int) -> Void)? = nil) async throws -> Bool {
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
        if let runs = try? await service.repository.migrationFailed(board: id, epoch: epoch), runs >= Self.mostFailedRuns {
            if (try? await service.repository.cancelMigration(board: id, epoch: epoch)) == true {
                service.directory.invalidate(id)
                logger.error("layout change cancelled: it failed too often", metadata: ["board": "\(id)", "epoch": "\(epoch)", "error": "\(String(describing: lastError))"])
            }
        }
        throw lastError ?? Failure.notCaughtUp
    }

    /// Runs of a change (each of up to 8 attempts) that may fail before it is cancelled.
    static let mostFailedRuns = 3

    /// Renews this holder's lease every third of it while `body` runs, with the progress so far;
    /// `lost` turns true when another holder took the change (or it is no longer running).
    private final class LeaseKeeper: Sendable {
        let progress = Mutex((copied: 0, total: 0))
        let lost = Mutex(false)
        private let task = Mutex<Task<Void, Never>?>(nil)

        func start(_ migrator: LayoutMigrator, _ id: String, _ epoch: Int) {
            let repository = migrator.service.repository
            task.withLock {
                $0 = Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: migrator.lease / 3)
                        if Task.isCancelled { return }
                        let (copied, total) = self.progress.withLock { ($0.copied, $0.total) }
                        let renewed = try? await repository.renewMigration(
                            board: id, epoch: epoch, holder: migrator.holder, lease: migrator.leaseSeconds, copied: copied, total: total
                        )
                        // A database that does not answer keeps the lease as it is; only another holder ends it.
                        if renewed == false {
                            self.lost.withLock { $0 = true }
                            return
                        }
                    }
                }
            }
        }

        func stop() { task.withLock { $0?.cancel() } }

        func check() throws {
            if lost.withLock({ $0 }) { throw Failure.leaseLost }
        }
    }

    private func attemptMigration(_ id: String, _ epoch: Int, progress observer: (@Sendable (Int, Int) -> Void)?) async throws -> Bool {
        let repository = service.repository
        let realtime = service.realtime
        guard let row = try await repository.leaderboard(id), row.migration?.epoch == epoch else { return false }
        guard try await repository.renewMigration(board: id, epoch: epoch, holder: holder, lease: leaseSeconds, copied: 0, total: 0) else {
            throw Failure.leaseLost
        }
        // This holder has the lease and the switch has not happened, so no process is switching:
        // marks left on the current epoch by a switch that died before its rollback go now.
        try await realtime.retire(row.at(epoch: row.epoch, layout: row.config.layout, placement: row.placement), false)
        let keeper = LeaseKeeper()
        keeper.start(self, id, epoch)
        defer { keeper.stop() }

        let limit = row.config.maxEntries > 0 ? row.config.maxEntries : nil
        let began = ContinuousClock.now
        guard let snapshot = try await repository.snapshot(board: id, limit: limit, pace: pace.rest), let target = snapshot.board.migrationTarget,
            target.epoch == epoch
        else { return false }
        try keeper.check()
        let old = snapshot.board.at(epoch: snapshot.board.epoch, layout: snapshot.board.config.layout, placement: snapshot.board.placement)
        let total = snapshot.entries.count
        let snapshotTook = ContinuousClock.now - began
        keeper.progress.withLock { $0 = (0, total) }
        let built = try await realtime.rebuild(
            target, entries: snapshot.entries, lastEventID: snapshot.lastEventID, seq: snapshot.seq, only: nil, force: false,
            progress: { done, total in
                keeper.progress.withLock { $0 = (done, total) }
                Self.copiedGauge.record(done)
                observer?(done, total)
            },
            pace: pace
        )
        guard built else { throw Failure.targetLost }
        try keeper.check()
        observer?(total, total)
        logger.info(
            "layout built",
            metadata: [
                "board": "\(id)", "epoch": "\(epoch)", "members": "\(total)", "snapshot": "\(snapshotTook)",
                "staging": "\(ContinuousClock.now - began - snapshotTook)",
            ]
        )

        // Most of the gap closes before the lock is taken, so the switch itself has little to do.
        let now = try await repository.changeSequencesAndIncarnations()[id]
        guard let now, now.incarnation == snapshot.board.incarnation else {
            // Deleted (or deleted and created again) meanwhile: what the build wrote is the gone board's.
            try? await realtime.deleteBoard(target)
            return false
        }
        var reached = try await bringUp(target, through: now.seq)
        // The switch can fail for reasons of the moment (the lock not had within its bound, a slow
        // node): it is tried again, after catching up again, before the build is redone.
        for attempt in 0..<5 {
            try keeper.check()
            do {
                return try await switchOver(id, epoch, old: old, target: target, reached: reached)
            } catch Failure.targetLost {
                throw Failure.targetLost
            } catch {
                if attempt == 4 { throw error }
                logger.info("layout switch deferred; trying again", metadata: ["board": "\(id)", "epoch": "\(epoch)", "error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(100 << attempt))
                let latest = try await repository.changeSequencesAndIncarnations()[id]?.seq ?? reached
                reached = try await bringUp(target, through: latest)
            }
        }
        return false
    }

    /// Step 4: the switch, under the board's row lock. `reached`: the change the new shards hold
    /// (the lock's transaction reads the changes after it).
    private func switchOver(_ id: String, _ epoch: Int, old: StoredBoard, target: StoredBoard, reached: Int64) async throws -> Bool {
        let realtime = service.realtime
        let pending = Mutex<Task<Void, any Error>?>(nil)
        let started = ContinuousClock.now
        let switched: StoredBoard?
        do {
            switched = try await service.repository.switchLayout(
                board: id, epoch: epoch, holder: holder, removalDelay: Int(max(removalDelay.components.seconds, 1)), stepsAfter: reached
            ) { locked, seq, steps, usernames in
                // On PostgreSQL's thread, holding the lock: the Redis steps run as a task it waits
                // for, bounded, so commits of the board wait well under a second.
                let work = Task {
                    try await self.finish(target, through: seq, steps: steps, usernames: usernames)
                    try await realtime.retire(old, true)
                }
                pending.withLock { $0 = work }
                try Self.wait(for: work, within: Self.lockedBound)
            }
        } catch {
            // Only marks this attempt set are taken back, once its task has surely finished, and
            // only when the switch surely did not commit and the change is still this holder's
            // (another holder may be switching now, with marks of its own).
            guard let work = pending.withLock({ $0 }) else { throw error }
            _ = await work.result
            switch await switchOutcome(id, epoch) {
            case .switched:
                service.directory.invalidate(id)
                return true
            case .pending:
                if (try? await service.repository.renewMigration(board: id, epoch: epoch, holder: holder, lease: leaseSeconds, copied: 0, total: 0)) == true {
                    try? await realtime.retire(old, false)
                }
                throw error
            case .unknown:
                // The marks stay; whoever runs the change next takes them back first.
                throw error
            }
        }
        guard let switched else { return false }
        service.directory.update(id, switched)
        Self.switches.increment()
        Self.switchPause.record(duration: ContinuousClock.now - started)
        logger.info(
            "layout switched",
            metadata: ["board": "\(id)", "epoch": "\(epoch)", "layout": "\(target.config.layout.strategy)/\(target.config.layout.shardCount)", "switch": "\(ContinuousClock.now - started)"]
        )
        return true
    }

    /// How long the Redis work under the board's lock may take before the switch rolls back.
    static let lockedBound: Duration = .milliseconds(800)

    private enum Outcome { case switched, pending, unknown }

    /// Whether the board is now on `epoch`, asked until PostgreSQL answers (a few seconds at most).
    private func switchOutcome(_ id: String, _ epoch: Int) async -> Outcome {
        for attempt in 0..<10 {
            if let board = try? await service.repository.leaderboard(id) {
                return board.epoch == epoch ? .switched : (board.migration?.epoch == epoch ? .pending : .unknown)
            }
            try? await Task.sleep(for: .milliseconds(100 * (attempt + 1)))
        }
        return .unknown
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
    /// at most ``ViewSequencer/mostReplayed`` changes. Returns the change every shard then holds.
    @discardableResult
    func bringUp(_ target: StoredBoard, through seq: Int64) async throws -> Int64 {
        let id = target.config.id
        for _ in 0..<64 {
            let held = try await heldSequences(target)
            guard let lowest = held.min(), lowest < seq else { return held.min() ?? seq }
            let through = min(seq, lowest + ViewSequencer.mostReplayed)
            let steps = try await service.repository.viewSteps(board: id, after: lowest, through: through)
            try await applyContiguous(target, steps, after: lowest, through: through, held: held)
        }
        throw Failure.notCaughtUp
    }

    /// Under the lock: the new shards brought up to `seq` with `steps` (read on the lock's
    /// connection), and checked to hold it.
    private func finish(_ target: StoredBoard, through seq: Int64, steps: [ViewStep], usernames: [(playerID: String, username: String)]) async throws {
        let held = try await heldSequences(target)
        guard let lowest = held.min() else { throw Failure.targetLost }
        if lowest < seq {
            try await applyContiguous(target, steps.filter { $0.seq > lowest }, after: lowest, through: seq, held: held, usernames: usernames)
            guard try await heldSequences(target).allSatisfy({ $0 >= seq }) else { throw Failure.notCaughtUp }
        }
    }

    /// Each shard of the new epoch's change number (throws when one lost its metadata).
    private func heldSequences(_ target: StoredBoard) async throws -> [Int64] {
        let sequences = try await service.realtime.appliedSequences(target)
        guard sequences.allSatisfy({ $0 != nil }) else { throw Failure.targetLost }
        return sequences.map { $0! }
    }

    /// Applies `steps` (all of (after, through], in order) to the shards of `target` behind `through`.
    /// (`usernames`: those of the players the steps bring in, when already read; see ``ViewSequencer/replay(_:_:shards:usernames:)``.)
    private func applyContiguous(
        _ target: StoredBoard, _ steps: [ViewStep], after: Int64, through: Int64, held: [Int64], usernames: [(playerID: String, username: String)]? = nil
    ) async throws {
        guard steps.count == Int(through - after), steps.first?.seq == after + 1 else { throw Failure.logGap }
        let batch = try await service.sequencer.replay(target, steps, shards: Set(held.indices.filter { held[$0] < through }), usernames: usernames)
        let after = try await service.realtime.apply(batch)[target.config.id] ?? [:]
        guard after.values.allSatisfy({ $0 != nil }) else { throw Failure.targetLost }
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
