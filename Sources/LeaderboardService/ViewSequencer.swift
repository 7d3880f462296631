import LeaderboardCore
import LeaderboardStore
import Logging
import Metrics

/// Gets numbered view changes into every shard, in order, whichever process committed them.
///
/// A shard refuses a change that is not the next in its sequence. That happens when another
/// process committed the change before and has not applied it yet (it is about to: give it a few
/// milliseconds), or never will (it crashed, or its reply was lost). So a shard still behind
/// after a short wait is brought up to date from PostgreSQL's change log, by whoever noticed.
/// A shard whose metadata is gone is marked for a rebuild.
public final class ViewSequencer: Sendable {
    private let repository: PostgresScoreRepository
    private let realtime: any RealtimeStore
    private let stale: StaleBoards
    private let logger: Logger
    /// Waits before taking over another process's change (it is usually already on the wire).
    private let patience: [Duration]
    private let queue = BoardApplyQueue()

    static let catchUps = Counter(label: "leaderboard_view_catch_ups")
    /// Most changes a catch-up replays; a shard further behind is rebuilt.
    public static let mostReplayed: Int64 = 2000

    public init(
        repository: PostgresScoreRepository, realtime: any RealtimeStore, stale: StaleBoards, logger: Logger,
        patience: [Duration] = [.milliseconds(1), .milliseconds(4), .milliseconds(16)]
    ) {
        self.repository = repository
        self.realtime = realtime
        self.stale = stale
        self.logger = logger
        self.patience = patience
    }

    /// Applies the boards' steps. Returns once every shard holds its board's last step, or the
    /// board is marked for rebuild (a Redis failure does not fail the caller: the changes are
    /// durable, and the recovery service rebuilds the board).
    ///
    /// Each board goes through its own queue (``BoardApplyQueue``): a slow or hung node delays
    /// the boards on it only, and changes arriving while a board's apply runs go in its next one.
    public func apply(_ batch: RealtimeBatch) async {
        guard !batch.isEmpty else { return }
        await queue.apply(batch) { batch in await self.applyNow(batch) }
    }

    /// The queues of the new epochs' shards of boards whose layout is changing.
    private let targetQueue = BoardApplyQueue()

    /// A board whose layout is changing gets every change on its new epoch's shards too, in a
    /// round of its own that nobody waits for: those shards are the migration's business. Until
    /// they are built they have no metadata (a change to them is dropped; the build's catch-up
    /// brings it in); one that falls behind is caught up here, without ever marking the board for
    /// a rebuild; and the migration's switch brings them up to date under the board's lock anyway.
    /// So a slow, hung or missing node of the new layout never delays the board's acknowledgements.
    private func applyToTargets(of batch: RealtimeBatch) {
        var targets = RealtimeBatch()
        for (id, changes) in batch.boards {
            guard let target = changes.board.migrationTarget else { continue }
            var copy = changes
            copy.board = target
            copy.shards = nil
            targets.boards[id] = copy  // (a queue of their own: the board's id names them)
        }
        guard !targets.isEmpty else { return }
        Task {
            await targetQueue.apply(targets) { batch in
                let applied = try? await self.realtime.apply(batch)
                for (key, changes) in batch.boards {
                    guard let last = changes.steps.last?.seq else { continue }
                    let behind = (applied?[key] ?? [:]).filter { ($0.value ?? Int64.max) < last }
                    guard applied == nil || !behind.isEmpty else { continue }
                    // Another process's earlier change is probably landing right now.
                    try? await Task.sleep(for: self.patience.last ?? .milliseconds(16))
                    _ = try? await self.catchUp(changes.board, through: last, shards: applied == nil ? nil : Set(behind.keys), quiet: true)
                }
            }
        }
    }

    private func applyNow(_ batch: RealtimeBatch) async {
        applyToTargets(of: batch)
        var applied: [String: [Int: Int64?]]
        do {
            applied = try await realtime.apply(batch)
        } catch {
            // A lost reply or a slow node: the steps may or may not have landed. Applying them again
            // is safe (a shard takes each once), so catch each board up; only a board that cannot be
            // caught up is rebuilt.
            logger.warning("real-time apply failed; catching up", metadata: ["error": "\(error)"])
            await withTaskGroup(of: Void.self) { group in
                for (id, changes) in batch.boards {
                    // Usernames are not in the change log: a rebuild writes them. A board already
                    // marked is rebuilt anyway (and a hung node would only make this wait again).
                    guard let target = changes.steps.last?.seq, changes.usernames.isEmpty, !stale.contains(id) else {
                        stale.mark(id)
                        continue
                    }
                    group.addTask {
                        // (A catch-up that cannot finish has marked the board, or taken up the
                        // mark that covers it; only a failed one is marked here.)
                        guard let caughtUp = try? await self.catchUp(changes.board, through: target) else {
                            self.stale.mark(id)
                            return
                        }
                        if !caughtUp, !self.stale.contains(id) { self.stale.mark(id) }
                    }
                }
            }
            return
        }
        for (id, changes) in batch.boards {
            guard let target = changes.steps.last?.seq else { continue }
            var shards = applied[id] ?? [:]
            if shards.values.contains(where: { $0 == nil }) {
                stale.markMissing(id)
                shards = shards.filter { $0.value != nil }
            }
            var behind = Set(shards.filter { ($0.value ?? 0) < target }.keys)
            guard !behind.isEmpty else { continue }
            // Another process's earlier change is probably landing right now.
            for delay in patience where !behind.isEmpty {
                try? await Task.sleep(for: delay)
                guard let last = changes.steps.last else { break }
                var retry = RealtimeBatch()
                retry.boards[id] = .init(board: changes.board, steps: [last], shards: behind)
                guard let again = try? await realtime.apply(retry)[id] else { break }
                behind = Set(again.filter { ($0.value ?? Int64.max) < target }.keys)
            }
            guard !behind.isEmpty else { continue }
            do {
                try await catchUp(changes.board, through: target, shards: behind)
            } catch {
                logger.warning("catching up a board failed; marked for rebuild", metadata: ["board": "\(id)", "error": "\(error)"])
                stale.mark(id)
            }
        }
    }

    /// Whether the board waits for a rebuild (applying to it can wait: the rebuild brings it in).
    public func isMarkedStale(_ id: String) -> Bool { stale.contains(id) }

    /// Brings the given shards of the board (all when nil) up to change `target` from the change
    /// log. Returns true when they hold it; marks the board for rebuild when the log no longer has
    /// what they miss (unless `quiet`: the shards of a layout change's new epoch, which the
    /// migration rebuilds itself).
    @discardableResult
    public func catchUp(_ board: StoredBoard, through target: Int64, shards: Set<Int>? = nil, quiet: Bool = false) async throws -> Bool {
        let id = board.config.id
        let sequences = try await realtime.appliedSequences(board)
        let asked = shards ?? Set(sequences.indices)
        var lowest = target
        for shard in asked where shard < sequences.count {
            guard let seq = sequences[shard] else {
                if !quiet { stale.markMissing(id) }
                continue
            }
            lowest = min(lowest, seq)
        }
        let lagging = Set(asked.filter { $0 < sequences.count && (sequences[$0] ?? target) < target })
        guard !lagging.isEmpty else { return true }
        // Far behind (a node restored from an old snapshot): a rebuild is cheaper than replaying
        // that many changes in one round.
        guard target - lowest <= Self.mostReplayed else {
            logger.warning("a shard is far behind; rebuilding", metadata: ["board": "\(id)", "behind": "\(target - lowest)"])
            return quiet ? false : try await markUnlessCovered(board, lagging: lagging, target: target)
        }
        let steps = try await repository.viewSteps(board: id, after: lowest, through: target)
        guard steps.count == Int(target - lowest), steps.first?.seq == lowest + 1 else {
            logger.info("the change log does not have what a shard misses; rebuilding", metadata: ["board": "\(id)", "from": "\(lowest)"])
            return quiet ? false : try await markUnlessCovered(board, lagging: lagging, target: target)
        }
        Self.catchUps.increment()
        logger.info(
            "applying changes another process committed",
            metadata: ["board": "\(id)", "shards": "\(lagging.sorted())", "from": "\(lowest + 1)", "through": "\(target)"]
        )
        let batch = try await replay(board, steps, shards: lagging)
        let after = try await realtime.apply(batch)[id] ?? [:]
        if after.values.contains(where: { $0 == nil }) { if !quiet { stale.markMissing(id) } }
        return after.values.allSatisfy { ($0 ?? Int64.min) >= target }
    }

    /// A batch replaying logged `steps` on `shards` of the board, with the usernames PostgreSQL
    /// holds for the players they bring in (`usernames`, or read here when nil): a shard that
    /// missed changes missed the usernames written with them too (on a Redis Cluster they live in
    /// the shard's slot, so a promoted replica that lost writes, or a new epoch's shard, has none
    /// of them). They only fill names that are missing: another process may have written a newer
    /// one since they were read, and a replay must not put the older back.
    public func replay(
        _ board: StoredBoard, _ steps: [ViewStep], shards: Set<Int>?, usernames: [(playerID: String, username: String)]? = nil
    ) async throws -> RealtimeBatch {
        var changes = RealtimeBatch.BoardChanges(board: board, steps: steps, shards: shards)
        if let usernames { changes.usernames = usernames } else { changes.usernames = try await repository.usernames(of: board.playersEntering(steps)) }
        changes.usernamesFillOnly = true
        var batch = RealtimeBatch()
        batch.boards[board.config.id] = changes
        return batch
    }

    /// A rebuild's catch-up: the shards were just switched in at change `start` (its snapshot),
    /// and every change committed since is replayed, up to the board's newest (read again after
    /// each round, so a write whose own apply found the shards far behind meanwhile, and left its
    /// change to this rebuild, is in before the rebuild clears its mark), in rounds of at most
    /// ``mostReplayed``: answering many with another rebuild would never end on a big board that
    /// takes writes (the next rebuild takes as long, and sees as many). False when a round could
    /// not finish; the board is then marked again (so the rebuild does not clear its mark).
    public func catchUpAfterRebuild(_ board: StoredBoard, from start: Int64, shards: Set<Int>?) async throws -> Bool {
        let id = board.config.id
        var caught = start
        for _ in 0..<1000 {
            // Deleted, created again or moved to another layout: the rebuild sees to that.
            guard let newest = try await repository.changeSequence(of: id), newest.incarnation == board.incarnation,
                newest.epoch == board.epoch, newest.seq > caught
            else { return true }
            let through = min(newest.seq, caught + Self.mostReplayed)
            guard try await catchUp(board, through: through, shards: shards) else {
                stale.mark(id)
                return false
            }
            caught = through
        }
        return true
    }

    /// Marks the board for a rebuild of shards the change log cannot bring up to `target` (it
    /// lacks the steps, or they are too many for one round), unless that is already in hand.
    /// Returns true when the shards turn out to hold `target` after all.
    ///
    /// - A whole mark in PostgreSQL is taken up, not published again. A change without log steps
    ///   (a bulk import) is committed together with such a mark, and a process may find the gap
    ///   before it has learnt of the mark; and a big board being rebuilt under writes has its
    ///   shards far behind until the rebuild's catch-up, which replays every change up to the
    ///   board's newest (``RealtimeRecovery``). A mark published meanwhile would outlive that
    ///   rebuild and start another, which would see as many again: the board would never come back.
    /// - With no mark, the shards are looked at again (a rebuild may have just ended) before the
    ///   board is marked.
    private func markUnlessCovered(_ board: StoredBoard, lagging: Set<Int>, target: Int64) async throws -> Bool {
        let id = board.config.id
        if try await repository.rebuildRequests()[id] == true {
            stale.adopt(id, whole: true)
            return false
        }
        let now = try await realtime.appliedSequences(board)
        guard lagging.contains(where: { $0 >= now.count || (now[$0] ?? Int64.min) < target }) else { return true }
        stale.mark(id)
        return false
    }
}
