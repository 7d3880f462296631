import Foundation
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
/// be on its way); a shard without metadata (a node that came back empty) for longer than
/// ``missingGrace``, or ahead of PostgreSQL, is rebuilt. Every `interval` it also rebuilds the
/// boards marked stale by a failed Redis write or by a read that found the board missing.
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
    /// Boards seen with a shard without metadata: of which incarnation, since when (cleared once
    /// seen with it, or marked; a board created again starts a new wait).
    private let missingSince = Mutex<[String: (incarnation: Int64, since: ContinuousClock.Instant)]>([:])
    /// How long a board may lack metadata before a check marks it. Its creator writes the
    /// metadata right after PostgreSQL's commit, and marks the board itself when that fails; a
    /// read or write that finds it missing marks it at once. On a loaded machine the creator can
    /// take seconds, and a check that marked it sooner would make the new board answer 503
    /// until a rebuild (seen with 140 tests in one process on 2 cores).
    static let missingGrace: Duration = .seconds(5)

    public init(service: LeaderboardService, interval: Duration = .seconds(1), logger: Logger) {
        self.service = service
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await checkAllBoards(patient: false)
        var checks = 0
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
                if Task.isShuttingDownGracefully || Task.isCancelled { break }
                await shareMarks()
                // Each marked board in a task of its own (a big or hung board delays only itself),
                // under the board's rebuild lease (one process at a time rebuilds a board).
                for board in service.stale.all.sorted() where startRebuilding(board) {
                    group.addTask {
                        await self.leasedRebuild(board)
                        self.rebuilding.withLock { _ = $0.remove(board) }
                    }
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
    }

    // MARK: - Shared rebuild marks

    /// Boards this process is rebuilding now.
    private let rebuilding = Mutex<Set<String>>([])
    /// Most boards one process rebuilds at once.
    static let concurrentRebuilds = 4
    /// Names this process in rebuild leases.
    public var leaseHolder: String { holder }
    private let holder = "rebuild-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: .min ... .max))"
    /// A rebuild lease lasts this long unless renewed (every 3 s while the rebuild runs), so a
    /// process killed mid-rebuild holds the board up for seconds only.
    public static let leaseSeconds = 10

    private func startRebuilding(_ board: String) -> Bool {
        rebuilding.withLock { running in
            guard !running.contains(board), running.count < Self.concurrentRebuilds else { return false }
            running.insert(board)
            return true
        }
    }

    /// Publishes this process's new marks, adopts the other processes' marks, and clears the
    /// marks a rebuild (here or elsewhere) has covered since they were published.
    func shareMarks() async {
        let unpublished = service.stale.takeUnpublished()
        do {
            try await service.repository.requestRebuilds(unpublished)
        } catch {
            service.stale.republish(unpublished)
            return
        }
        let before = Dictionary(uniqueKeysWithValues: service.stale.all.compactMap { id in service.stale.generation(id).map { (id, $0) } })
        // The boards this process is rebuilding, taken before the shared marks are read: a
        // rebuild that ends meanwhile has deleted its shared mark by then, and none starts
        // during this call (they start in `run`, after it). Their shared marks are theirs to
        // settle (``leasedRebuild`` adopts one that outlives the rebuild).
        let running = rebuilding.withLock { $0 }
        guard let shared = try? await service.repository.rebuildRequests() else { return }
        for (id, whole) in shared where !running.contains(id) { service.stale.adopt(id, whole: whole) }
        for (id, generation) in before where shared[id] == nil && !running.contains(id) && !service.stale.isUnpublished(id) {
            service.stale.clear(id, coveredBy: generation)
        }
    }

    /// Rebuilds a board marked in PostgreSQL (as a bulk import marks it) and returns once its mark
    /// is gone: rebuilt here under the shared lease, or by the process holding it (this one then
    /// waits, and takes the lease over if that process dies). False when the mark outlives `patience`.
    /// (`pace`: how hard this process's build may push the nodes; a process that holds the lease
    /// first builds at its own.)
    public func rebuildMarked(
        _ id: String, patience: Duration = .seconds(1800), pace: BuildPace = .rebuild,
        progress: (@Sendable (_ written: Int, _ total: Int) -> Void)? = nil
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + patience
        while ContinuousClock.now < deadline, !Task.isCancelled {
            // Not while this process's recovery loop rebuilds the board (nor the loop while this does).
            if rebuilding.withLock({ $0.insert(id).inserted }) {
                let cleared = await leasedRebuild(id, pace: pace, progress: progress)
                rebuilding.withLock { _ = $0.remove(id) }
                if cleared { return true }
            }
            // (A failed look counts as still marked: try again in a second.)
            if let marks = try? await service.repository.rebuildRequests(), marks[id] == nil { return true }
            try await Task.sleep(for: .seconds(1))
        }
        return false
    }

    /// Rebuilds a marked board if this process gets its lease (another process holding it is
    /// rebuilding it: this one waits for the mark to go). Returns true when the mark was cleared.
    @discardableResult
    private func leasedRebuild(_ id: String, pace: BuildPace = .rebuild, progress: (@Sendable (Int, Int) -> Void)? = nil) async -> Bool {
        let repository = service.repository
        guard let lease = try? await repository.takeRebuildLease(board: id, holder: holder, seconds: Self.leaseSeconds) else { return false }
        if lease.whole { service.stale.adopt(id, whole: true) }
        let started = service.stale.generation(id)
        // A renewal that fails keeps the rebuild going: the lease lasts, and the rebuild is safe anyway.
        // The local mark stays until the shared one is gone: reads here answer 503 until then, so a
        // newer mark of another process (which keeps the shared row) never leaves a gap.
        let rebuilt = await LeaseRenewal.whileRenewing(every: .seconds(3), renew: {
            _ = try? await repository.takeRebuildLease(board: id, holder: self.holder, seconds: Self.leaseSeconds)
            return true
        }) { (try? await self.rebuild(id, shards: nil, clearingMark: false, pace: pace, progress: progress)) ?? false } ?? false
        // A mark made here during the rebuild (a newer generation) keeps the shared one.
        let covered = rebuilt && service.stale.generation(id) == started
        if (try? await repository.finishRebuild(board: id, lease: lease, rebuilt: covered)) == true, covered {
            if let started { service.stale.clear(id, coveredBy: started) }
            logger.debug("rebuild mark cleared", metadata: ["board": "\(id)"])
            return true
        } else if let shared = try? await repository.rebuildRequests(), let whole = shared[id] {
            // A newer mark (another process's, made during the rebuild) stands: take it up now.
            service.stale.adopt(id, whole: whole)
        }
        return false
    }

    /// Compares every shard's change number with PostgreSQL's and repairs what is behind (see the
    /// type's comment). `patient`: a shard behind is caught up only when it was already behind,
    /// at the same number, at the previous check.
    public func checkAllBoards(patient: Bool = false) async {
        do {
            // Redis first, then PostgreSQL: a shard can then be ahead only if something is wrong.
            // The boards, from a cheap query; a board's row is read again only when it is new here,
            // another incarnation, or on another layout epoch (its layout changed).
            let current = try await service.repository.changeSequencesAndIncarnations()
            let unknown = known.withLock { cache in
                current.filter { cache[$0.key]?.incarnation != $0.value.incarnation || cache[$0.key]?.epoch != $0.value.epoch }.map(\.key)
            }
            if !unknown.isEmpty {
                let rows = try await service.repository.leaderboards(unknown)
                known.withLock { cache in
                    cache = cache.filter { current[$0.key] != nil }
                    for board in rows { cache[board.config.id] = board }
                }
            }
            let cached = known.withLock { $0 }
            let boards = current.keys.sorted().compactMap { id -> StoredBoard? in
                guard !service.stale.contains(id), let board = cached[id], board.incarnation == current[id]?.incarnation,
                    board.epoch == current[id]?.epoch
                else { return nil }
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
            missingSince.withLock { state in state = state.filter { sequences[$0.key] != nil } }
            for (board, applied) in observed {
                if Task.isShuttingDownGracefully || Task.isCancelled { return }
                let id = board.config.id
                // Deleted, created again, or switched to another layout since the Redis read: the
                // next check looks again.
                guard let row = sequences[id], row.incarnation == board.incarnation, row.epoch == board.epoch else { continue }
                let target = row.seq
                if applied.contains(where: { $0 == nil }) {
                    // A board being created has no metadata for a moment: act when it is still
                    // missing ``missingGrace`` after a check first saw it so.
                    let now = ContinuousClock.now
                    let due = missingSince.withLock { state -> Bool in
                        guard let seen = state[id], seen.incarnation == board.incarnation else {
                            state[id] = (board.incarnation, now)
                            return false
                        }
                        guard now - seen.since >= Self.missingGrace else { return false }
                        state[id] = nil
                        return true
                    }
                    guard due else { continue }
                    // Rebuilt by whichever process takes the board's lease (within a second).
                    service.stale.markMissing(id)
                    continue
                }
                missingSince.withLock { _ = $0.removeValue(forKey: id) }
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
    /// progress (and telling `progress`: members written, of how many). Returns true when rebuilt;
    /// throws when a store fails. `force`: switch in even shards past the snapshot (their content
    /// is wrong, not old).
    @discardableResult
    public func rebuild(
        _ id: String, shards: Set<Int>?, force: Bool = false, attempts: Int = 5, clearingMark: Bool = true, pace: BuildPace = .rebuild,
        progress: (@Sendable (_ written: Int, _ total: Int) -> Void)? = nil
    ) async throws -> Bool {
        do {
            for _ in 0..<attempts {
                if Task.isShuttingDownGracefully || Task.isCancelled { return false }
                switch try await attempt(id, shards: shards, force: force, clearingMark: clearingMark, pace: pace, progress: progress) {
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

    /// `clearingMark`: clear the board's mark when it is covered (``leasedRebuild`` clears it
    /// itself, once the shared mark is gone).
    private func attempt(
        _ id: String, shards: Set<Int>?, force: Bool, clearingMark: Bool, pace: BuildPace, progress observer: (@Sendable (Int, Int) -> Void)?
    ) async throws -> Outcome {
        let started = ContinuousClock.now
        guard let board = try await service.repository.leaderboard(id) else {
            service.stale.clear(id)
            return .gone
        }
        // A board marked only for shards that lost their metadata gets those shards rebuilt; the
        // others are intact (a Redis node that came back empty holds only some of the shards).
        let scope = service.stale.scope(id)
        let generation = service.stale.generation(id)
        let requested = shards
        var shards = shards
        if shards == nil, scope == .missingShards {
            let sequences = try await service.realtime.appliedSequences(board)
            let missing = Set(sequences.indices.filter { sequences[$0] == nil })
            if missing.isEmpty, let generation {
                // Already rebuilt (by another process, after this mark was made): nothing is missing.
                if clearingMark { service.stale.clear(id, coveredBy: generation) }
                return .rebuilt
            }
            if missing.count < sequences.count { shards = missing }
        }
        let limit = board.config.maxEntries > 0 ? board.config.maxEntries : nil
        guard let snapshot = try await service.repository.snapshot(board: id, limit: limit, pace: pace.rest) else {
            service.stale.clear(id)
            return .gone
        }
        let progress = RebuildProgress(board: id, logger: logger, observer: observer)
        guard
            try await service.realtime.rebuild(
                snapshot.board, entries: snapshot.entries, lastEventID: snapshot.lastEventID, seq: snapshot.seq, only: shards,
                force: force, progress: progress.report, pace: pace
            )
        else { return .retry }
        // Deleted (or deleted and created again) while the rebuild ran: the keys it just wrote are
        // the gone board's, and the delete may have dropped its keys before the switch.
        let sequences = try await service.repository.changeSequencesAndIncarnations()
        guard let current = sequences[id], current.incarnation == snapshot.board.incarnation else {
            await service.dropKeys(of: snapshot.board)
            return .gone
        }
        // The layout switched while this rebuild ran: what it wrote is of the retired epoch, which
        // no read uses any more (its removal may already have run).
        // The new epoch was itself built from PostgreSQL and brought up to the switch under the
        // board's lock, so the marks made before this rebuild began are covered.
        guard current.epoch == snapshot.board.epoch else {
            try? await service.realtime.deleteBoard(snapshot.board)
            if clearingMark, let generation { service.stale.clear(id, coveredBy: generation) }
            return .rebuilt
        }
        // Changes committed since the snapshot, which the switch may have undone on a shard, up to
        // the board's newest.
        if current.seq > snapshot.seq {
            _ = try await service.sequencer.catchUpAfterRebuild(snapshot.board, from: snapshot.seq, shards: shards)
        }
        // The marks made before this rebuild began are covered; a newer one stays.
        if clearingMark, let generation, shards == nil || (requested == nil && scope == .missingShards) {
            service.stale.clear(id, coveredBy: generation)
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

/// Logs a rebuild's progress every 100,000 members written, and passes each report on to an observer.
final class RebuildProgress: Sendable {
    private let board: String
    private let logger: Logger
    private let logged = Mutex(0)
    private let observer: (@Sendable (Int, Int) -> Void)?
    static let step = 100_000

    init(board: String, logger: Logger, observer: (@Sendable (Int, Int) -> Void)?) {
        self.board = board
        self.logger = logger
        self.observer = observer
    }

    var report: @Sendable (Int, Int) -> Void {
        { [self] written, total in
            observer?(written, total)
            let due = logged.withLock { logged in
                guard written / Self.step > logged / Self.step else { return false }
                logged = written
                return true
            }
            if due { logger.info("rebuild progress", metadata: ["board": "\(board)", "written": "\(written)"]) }
        }
    }
}
