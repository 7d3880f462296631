import LeaderboardCore
import LeaderboardStore
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps the real-time view caught up with PostgreSQL between sync passes.
///
/// At start, and then every `interval`, it compares each shard's change number (`seq`) with the
/// board's in PostgreSQL: a shard behind (a change committed but never applied: a crash between
/// commit and apply, a lost reply, a node restored from an old snapshot) is caught up from the
/// change log — at start at once, later when it is still behind at the next check (an apply may
/// be on its way); a shard without metadata (a node that came back empty) or ahead of PostgreSQL
/// is rebuilt. Every `interval` it also rebuilds the boards marked stale by a failed Redis write
/// or by a read that found the board missing.
///
/// A rebuild needs no pause of the writers, here or in other processes: it switches in a
/// snapshot of PostgreSQL at change number S, and the changes after S are applied again from the
/// change log (a shard refuses changes out of order, so they land exactly once each, in order).
public final class RealtimeRecovery: Service, Sendable {
    private let service: LeaderboardService
    private let interval: Duration
    private let logger: Logger
    /// Per board, the shards seen behind at the last check and the numbers they held.
    private let behind = Mutex<[String: [Int: Int64]]>([:])
    /// The boards' rows (placement, layout), by id.
    private let known = Mutex<[String: StoredBoard]>([:])
    /// Boards seen with a shard without metadata at the last check.
    private let missingBefore = Mutex<Set<String>>([])

    public init(service: LeaderboardService, interval: Duration = .seconds(1), logger: Logger) {
        self.service = service
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await checkAllBoards(patient: false)
        var checks = 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            for board in service.stale.all where !Task.isShuttingDownGracefully {
                await rebuild(board)
            }
            await checkAllBoards(patient: true)
            checks += 1
            if checks % 3 == 0 { await dropDeletedBoards() }
            if checks % 600 == 0 {
                try? await service.repository.pruneViewSteps(olderThan: 3600)
                try? await service.repository.pruneIdempotencyKeys()
            }
        }
    }

    /// Compares every shard's change number with PostgreSQL's and repairs what is behind (see the
    /// type's comment). `patient`: a shard behind is caught up only when it was already behind,
    /// at the same number, at the previous check.
    public func checkAllBoards(patient: Bool = false) async {
        do {
            // Redis first, then PostgreSQL: a shard can then be ahead only if something is wrong.
            // The boards, from a cheap query; a board's row is read again only when it is new here
            // or another incarnation.
            let current = try await service.repository.changeSequencesAndIncarnations()
            let unknown = known.withLock { cache in current.filter { cache[$0.key]?.incarnation != $0.value.incarnation }.map(\.key) }
            if !unknown.isEmpty {
                let rows = try await service.repository.leaderboards(unknown)
                known.withLock { cache in
                    cache = cache.filter { current[$0.key] != nil }
                    for board in rows { cache[board.config.id] = board }
                }
            }
            let cached = known.withLock { $0 }
            let boards = current.keys.sorted().compactMap { id -> StoredBoard? in
                guard !service.stale.contains(id), let board = cached[id], board.incarnation == current[id]?.incarnation else { return nil }
                return board
            }
            // One round per node for every board (in slices, so a hung node delays only its slice).
            var observed: [(board: StoredBoard, applied: [Int64?])] = []
            for start in stride(from: 0, to: boards.count, by: 500) {
                if Task.isShuttingDownGracefully || Task.isCancelled { return }
                let slice = Array(boards[start..<min(start + 500, boards.count)])
                let applied = await service.realtime.appliedSequences(of: slice)
                for (board, sequences) in zip(slice, applied) {
                    if let sequences { observed.append((board, sequences)) }
                }
            }
            let sequences = try await service.repository.changeSequencesAndIncarnations()
            for (board, applied) in observed {
                if Task.isShuttingDownGracefully || Task.isCancelled { return }
                let id = board.config.id
                // Deleted, or created again, since the Redis read: the next check looks again.
                guard let row = sequences[id], row.incarnation == board.incarnation else { continue }
                let target = row.seq
                if applied.contains(where: { $0 == nil }) {
                    // A board being created has no metadata for a moment: act when it is still
                    // missing at the next check.
                    let seen = missingBefore.withLock { $0.contains(id) }
                    missingBefore.withLock { _ = $0.insert(id) }
                    guard seen || !patient else { continue }
                    service.stale.markMissing(id)
                    await rebuild(id)
                    continue
                }
                missingBefore.withLock { _ = $0.remove(id) }
                let ahead = Set(applied.indices.filter { (applied[$0] ?? 0) > target })
                if !ahead.isEmpty {
                    logger.warning("a shard is ahead of the database; rebuilding it", metadata: ["board": "\(id)", "shards": "\(ahead.sorted())"])
                    _ = try? await rebuild(id, shards: ahead, force: true)
                    continue
                }
                var lagging: [Int: Int64] = [:]
                for (shard, seq) in applied.enumerated() where (seq ?? 0) < target { lagging[shard] = seq ?? 0 }
                let previous = behind.withLock { state -> [Int: Int64] in
                    defer { state[id] = lagging.isEmpty ? nil : lagging }
                    return state[id] ?? [:]
                }
                let due = patient ? Set(lagging.keys.filter { previous[$0] == lagging[$0] }) : Set(lagging.keys)
                guard !due.isEmpty else { continue }
                do { try await service.sequencer.catchUp(board, through: target, shards: due) } catch {
                    logger.warning("catch-up failed; will retry", metadata: ["board": "\(id)", "error": "\(error)"])
                }
            }
        } catch {
            logger.warning("check of the real-time view failed; will retry", metadata: ["error": "\(error)"])
        }
    }

    /// Drops the Redis keys of deleted boards that a delete could not drop (a node was down or hung).
    public func dropDeletedBoards() async {
        guard let removals = try? await service.repository.pendingRemovals(), !removals.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            for board in removals { group.addTask { await self.service.dropKeys(of: board) } }
        }
    }

    /// Rebuilds one board's real-time view from PostgreSQL. Returns true when the view was replaced.
    @discardableResult
    public func rebuild(_ id: String, attempts: Int = 5) async -> Bool {
        (try? await rebuild(id, shards: nil, attempts: attempts)) ?? false
    }

    /// SyncFromDatabase: rebuilds the board, or only the given shards, from PostgreSQL, logging
    /// progress. Returns true when rebuilt; throws when a store fails.
    @discardableResult
    /// `force`: switch in even shards past the snapshot (their content is wrong, not old).
    public func rebuild(_ id: String, shards: Set<Int>?, force: Bool = false, attempts: Int = 5) async throws -> Bool {
        do {
            for _ in 0..<attempts {
                if Task.isShuttingDownGracefully || Task.isCancelled { return false }
                switch try await attempt(id, shards: shards, force: force) {
                case .rebuilt: return true
                case .gone: return false
                case .retry: continue
                }
            }
            logger.info("rebuild deferred: its staging sets kept vanishing", metadata: ["board": "\(id)"])
        } catch {
            logger.warning("rebuild failed; will retry", metadata: ["board": "\(id)", "error": "\(error)"])
            throw error
        }
        return false
    }

    private enum Outcome: Sendable { case rebuilt, gone, retry }

    private func attempt(_ id: String, shards: Set<Int>?, force: Bool) async throws -> Outcome {
        let started = ContinuousClock.now
        guard let board = try await service.repository.leaderboard(id) else {
            service.stale.clear(id)
            return .gone
        }
        // A board marked only for shards that lost their metadata gets those shards rebuilt; the
        // others are intact (a Redis node that came back empty holds only some of the shards).
        let scope = service.stale.scope(id)
        var shards = shards
        if shards == nil, scope == .missingShards {
            let sequences = try await service.realtime.appliedSequences(board)
            let missing = Set(sequences.indices.filter { sequences[$0] == nil })
            if !missing.isEmpty, missing.count < sequences.count { shards = missing }
        }
        let limit = board.config.maxEntries > 0 ? board.config.maxEntries : nil
        guard let snapshot = try await service.repository.snapshot(board: id, limit: limit) else {
            service.stale.clear(id)
            return .gone
        }
        let progress = RebuildProgress(board: id, logger: logger)
        guard
            try await service.realtime.rebuild(
                snapshot.board, entries: snapshot.entries, lastEventID: snapshot.lastEventID, seq: snapshot.seq, only: shards,
                force: force, progress: progress.report
            )
        else { return .retry }
        // Changes committed since the snapshot, which the switch may have undone on a shard.
        if let target = try await service.repository.changeSequences()[id], target > snapshot.seq {
            try await service.sequencer.catchUp(snapshot.board, through: target, shards: shards)
        }
        if shards == nil {
            service.stale.clear(id)
        } else if scope == .missingShards {
            service.stale.clear(id, ifStill: .missingShards)
        }
        logger.info(
            "rebuilt real-time board from the database",
            metadata: [
                "board": "\(id)", "shards": "\(shards.map { $0.sorted().map(String.init).joined(separator: ",") } ?? "all")",
                "players": "\(snapshot.entries.count)", "seq": "\(snapshot.seq)", "took": "\(ContinuousClock.now - started)",
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
