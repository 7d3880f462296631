import LeaderboardCore
import LeaderboardStore
import NIOConcurrencyHelpers

/// One queue per board in front of the Redis applies of a server process.
///
/// A board has at most one apply on the wire; the changes that arrive meanwhile wait and go
/// together in the next one (coalesced, in change order). So a board whose node is slow or hung
/// holds up only that board's writers, never the group commit nor other boards, and a busy board
/// costs one round per apply, not one per group.
final class BoardApplyQueue: Sendable {
    private struct Queue {
        var pending: [RealtimeBatch.BoardChanges] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
        var running = false
    }

    private let queues = NIOLockedValueBox<[String: Queue]>([:])

    /// Applies one board's coalesced changes (it never throws: failures are its business).
    typealias Perform = @Sendable (RealtimeBatch) async -> Void

    init() {}

    /// Applies the boards' changes, each through its board's queue; returns when all have been applied.
    func apply(_ batch: RealtimeBatch, using perform: @escaping Perform) async {
        if batch.boards.count == 1, let (id, changes) = batch.boards.first {
            await apply(id, changes, using: perform)
            return
        }
        await withTaskGroup(of: Void.self) { group in
            for (id, changes) in batch.boards {
                group.addTask { await self.apply(id, changes, using: perform) }
            }
        }
    }

    /// Queues one board's changes and returns once they were applied.
    func apply(_ id: String, _ changes: RealtimeBatch.BoardChanges, using perform: @escaping Perform) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let drain = queues.withLockedValue { queues -> Bool in
                var queue = queues[id] ?? Queue()
                queue.pending.append(changes)
                queue.waiters.append(continuation)
                defer { queue.running = true; queues[id] = queue }
                return !queue.running
            }
            if drain {
                Task { await self.drain(id, perform) }
            }
        }
    }

    /// Applies what the board's queue holds, round after round, until it is empty.
    private func drain(_ id: String, _ perform: Perform) async {
        while true {
            let taken = queues.withLockedValue { queues -> ([RealtimeBatch.BoardChanges], [CheckedContinuation<Void, Never>])? in
                guard var queue = queues[id], !queue.pending.isEmpty else {
                    queues[id] = nil
                    return nil
                }
                defer {
                    queue.pending = []
                    queue.waiters = []
                    queues[id] = queue
                }
                return (queue.pending, queue.waiters)
            }
            guard let (pending, waiters) = taken else { return }
            for changes in Self.coalesce(pending) {
                var batch = RealtimeBatch()
                batch.boards[id] = changes
                await perform(batch)
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Most player changes in one coalesced apply (a round stays well within the Redis timeout).
    static let mostChangesPerApply = 4096

    /// Merges consecutive changes of one incarnation of the board into one (steps in change order),
    /// at most ``mostChangesPerApply`` player changes each.
    static func coalesce(_ pending: [RealtimeBatch.BoardChanges]) -> [RealtimeBatch.BoardChanges] {
        var merged: [RealtimeBatch.BoardChanges] = []
        func size(_ changes: RealtimeBatch.BoardChanges) -> Int { changes.steps.reduce(0) { $0 + $1.changes.count } + changes.usernames.count }
        for changes in pending {
            guard var last = merged.last, last.board.incarnation == changes.board.incarnation,
                last.usernamesFillOnly == changes.usernamesFillOnly, size(last) + size(changes) <= mostChangesPerApply
            else {
                merged.append(changes)
                continue
            }
            var steps: [Int64: ViewStep] = [:]
            for step in last.steps + changes.steps { steps[step.seq] = step }
            last.steps = steps.keys.sorted().map { steps[$0]! }
            // The newest row of the board (a reset moves its period).
            if changes.steps.last?.seq ?? 0 >= last.steps.last?.seq ?? 0 { last.board = changes.board }
            last.usernames += changes.usernames
            if let shards = last.shards, let others = changes.shards {
                last.shards = shards.union(others)
            } else {
                last.shards = nil
            }
            merged[merged.count - 1] = last
        }
        return merged
    }
}
