import Foundation
import LeaderboardCore
import LeaderboardStore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The batch path: every `interval`, for every board, SyncToDatabase (the official snapshot in
/// PostgreSQL, which `source=batch` reads serve) and then a reconcile of every shard against
/// PostgreSQL, repairing what differs. One process at a time per board (a lease in PostgreSQL).
public final class SyncWorker: Service, Sendable {
    public struct Configuration: Sendable, Equatable {
        public var interval: Duration
        /// Members read from a shard per page, and repairs per script call.
        public var batchSize: Int

        /// How long a requested pass is waited for before the request is answered "running".
        public var requestWait: Duration

        /// How long a pass's lease on its board lasts unless renewed; it is renewed every third of it.
        public var lease: Duration

        public init(
            interval: Duration = .seconds(1800), batchSize: Int = 1000, requestWait: Duration = .seconds(10), lease: Duration = .seconds(60)
        ) {
            self.interval = interval
            self.batchSize = batchSize
            self.requestWait = requestWait
            self.lease = lease
        }
    }

    /// What one pass did to one shard.
    public struct ShardReport: Sendable, Codable, Equatable {
        public var shard: Int
        public var node: String
        /// Members checked: those PostgreSQL expects on the shard (by chunk digest, or one by one
        /// in a chunk that differs), plus members found outside every chunk.
        public var checked: Int
        /// Chunks compared by count and digest, and how many of them differed (fetched).
        public var chunks: Int
        public var chunksDiffering: Int
        public var missing: Int
        public var strays: Int
        public var wrongScores: Int
        /// Repairs applied (a repair is skipped when a newer write got there first).
        public var repaired: Int

        enum CodingKeys: String, CodingKey {
            case shard, node, checked, chunks
            case chunksDiffering = "chunks_differing"
            case missing, strays
            case wrongScores = "wrong_scores"
            case repaired
        }
    }

    /// The report of one pass over one board.
    public struct Report: Sendable, Codable, Equatable {
        public var leaderboardID: String
        public var status: String
        public var snapshotAsOf: String?
        public var snapshotPlayers: Int?
        public var shards: [ShardReport]
        public var durationMilliseconds: Int

        enum CodingKeys: String, CodingKey {
            case leaderboardID = "leaderboard_id"
            case status
            case snapshotAsOf = "snapshot_as_of"
            case snapshotPlayers = "snapshot_players"
            case shards
            case durationMilliseconds = "duration_ms"
        }
    }

    private let service: LeaderboardService
    private let configuration: Configuration
    /// Names this process in the holders of its passes' leases (each pass holds its own).
    private let process = "sync-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: .min ... .max))"
    private let logger: Logger
    /// Passes started by requests, by board, so a second request joins the one running.
    private let requested = Mutex<[String: Task<Report, any Error>]>([:])

    public init(service: LeaderboardService, configuration: Configuration, logger: Logger) {
        self.service = service
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // The wait ends early on graceful shutdown; a pass in progress finishes.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.configuration.interval) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            await syncAll()
        }
    }

    /// One pass over every board.
    @discardableResult
    public func syncAll() async -> [Report] {
        guard let boards = try? await service.repository.listLeaderboards() else {
            logger.warning("sync pass skipped: the database is unavailable")
            return []
        }
        var reports: [Report] = []
        for board in boards {
            if let report = try? await sync(board.config.id) { reports.append(report) }
        }
        return reports
    }

    /// A pass requested now (POST /leaderboards/{id}/sync): its report if it ends within
    /// `requestWait`, else nil while it runs on (its report is then stored as the last one).
    public func requestPass(_ id: String) async throws -> Report? {
        let task = requested.withLock { running in
            if let task = running[id] { return task }
            let task = Task { [self] in
                defer { _ = requested.withLock { $0.removeValue(forKey: id) } }
                return try await sync(id)
            }
            running[id] = task
            return task
        }
        let wait = configuration.requestWait
        return try await withThrowingTaskGroup(of: Report?.self) { group in
            group.addTask { try await task.value }
            group.addTask {
                try await Task.sleep(for: wait)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    /// One pass over one board: snapshot, then reconcile every shard. Throws contract errors.
    ///
    /// The pass holds the board's lease by itself (a requested pass and the periodic one are two
    /// holders: the second is skipped) and renews it while it runs; a pass that loses its lease
    /// (it could not renew it in time, and another process took it) stops.
    /// `progress` hears the members checked so far, of how many (shard by shard).
    public func sync(_ id: String, progress: (@Sendable (_ checked: Int, _ total: Int) -> Void)? = nil) async throws -> Report {
        let started = ContinuousClock.now
        let repository = service.repository
        let holder = "\(process)-\(UInt32.random(in: .min ... .max))"
        let seconds = max(Int(configuration.lease.components.seconds), 1)
        do {
            guard try await repository.leaderboard(id) != nil else { throw LeaderboardError.leaderboardNotFound(id) }
            guard try await repository.acquireSyncLease(board: id, holder: holder, seconds: seconds) else {
                return Report(leaderboardID: id, status: "skipped: another pass is syncing this board", shards: [], durationMilliseconds: 0)
            }
        } catch {
            throw LeaderboardError.fromStore(error)
        }
        let renewal = configuration.lease / 3
        let outcome = await LeaseRenewal.whileRenewing(every: renewal, renew: {
            // Renewed, or the database did not answer (the lease lasts; the next try may): only a
            // lease another holder took ends the pass.
            let renewed = try? await repository.acquireSyncLease(board: id, holder: holder, seconds: seconds)
            if renewed != false { Self.leaseRenewals.increment() }
            return renewed != false
        }) { () -> Result<Report, any Error> in
            do { return .success(try await self.pass(id, started: started, progress: progress)) } catch { return .failure(error) }
        } ?? .failure(LeaderboardError.unavailable("the sync pass of leaderboard '\(id)' lost its lease to another process"))
        try? await repository.releaseSyncLease(board: id, holder: holder)
        return try outcome.get()
    }

    static let leaseRenewals = Counter(label: "leaderboard_sync_lease_renewals")

    private func pass(_ id: String, started: ContinuousClock.Instant, progress: (@Sendable (Int, Int) -> Void)?) async throws -> Report {
        let repository = service.repository
        // The layout epoch the pass reconciles (a switch meanwhile removes its keys later).
        let epochRead = Mutex(0)
        do {
            guard let snapshot = try await repository.takeSnapshot(board: id), let board = try await repository.leaderboard(id) else {
                throw LeaderboardError.leaderboardNotFound(id)
            }
            epochRead.withLock { $0 = board.epoch }
            var shards: [ShardReport] = []
            if service.stale.contains(id) {
                // Being rebuilt from the database already: that is a full repair.
                shards = []
            } else {
                shards = try await reconcile(board, progress: progress)
            }
            let elapsed = ContinuousClock.now - started
            let report = Report(
                leaderboardID: id, status: service.stale.contains(id) ? "rebuilding" : "ok", snapshotAsOf: snapshot.asOf,
                snapshotPlayers: snapshot.players, shards: shards,
                durationMilliseconds: Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
            )
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            try await repository.storeSyncReport(board: id, json: String(decoding: try encoder.encode(report), as: UTF8.self))
            let repaired = shards.reduce(0) { $0 + $1.repaired }
            let dimensions = [("board", id)]
            Counter(label: "leaderboard_sync_passes", dimensions: dimensions + [("status", report.status)]).increment()
            for shard in shards {
                let perShard = dimensions + [("shard", String(shard.shard))]
                Counter(label: "leaderboard_sync_checked", dimensions: perShard).increment(by: shard.checked)
                Counter(label: "leaderboard_sync_repaired", dimensions: perShard).increment(by: shard.repaired)
                logger.info(
                    "sync pass shard",
                    metadata: [
                        "board": "\(id)", "shard": "\(shard.shard)", "node": "\(shard.node)", "checked": "\(shard.checked)",
                        "chunks_differing": "\(shard.chunksDiffering)", "missing": "\(shard.missing)", "strays": "\(shard.strays)",
                        "wrong_scores": "\(shard.wrongScores)", "repaired": "\(shard.repaired)",
                    ]
                )
            }
            Timer(label: "leaderboard_sync_duration", dimensions: dimensions, preferredDisplayUnit: .seconds).recordMilliseconds(report.durationMilliseconds)
            logger.info(
                "sync pass",
                metadata: [
                    "board": "\(id)", "checked": "\(shards.reduce(0) { $0 + $1.checked })", "repaired": "\(repaired)",
                    "snapshot_players": "\(snapshot.players)", "took_ms": "\(report.durationMilliseconds)",
                ]
            )
            return report
        } catch RealtimeStoreError.boardMissing {
            if await service.boardIsGone(id) { throw LeaderboardError.leaderboardNotFound(id) }
            // The layout switched during the pass and the old epoch's keys went: nothing is lost,
            // the next pass checks the new shards.
            if let now = try? await repository.leaderboard(id), now.epoch != epochRead.withLock({ $0 }) {
                throw LeaderboardError.unavailable("leaderboard '\(id)' changed its layout during the sync pass; the next pass checks it")
            }
            service.stale.markMissing(id)
            throw LeaderboardError.unavailable("a shard of leaderboard '\(id)' lost its data; it is being rebuilt")
        } catch {
            throw LeaderboardError.fromStore(error)
        }
    }

    /// Compares every shard with PostgreSQL and repairs what differs.
    ///
    /// What a shard should hold: the players of the board's best `max_entries` (all when 0) that
    /// route to it. It is compared by chunks of `batchSize` members (count and digest, computed in
    /// Redis); only chunks that differ, and members outside every chunk, are fetched. Fetched
    /// members whose score differs from PostgreSQL, or that PostgreSQL does not have, are checked
    /// again against PostgreSQL read after Redis (so a newer committed score wins) and repaired
    /// compare-and-set, as are expected members the shard lacks.
    public func reconcile(_ board: StoredBoard, progress: (@Sendable (Int, Int) -> Void)? = nil) async throws -> [ShardReport] {
        let router = board.router
        let count = router.shardCount
        let expected = try await service.repository.currentScores(board: board, limit: board.config.maxEntries)
        var perShard = [[RankedMember]](repeating: [], count: count)
        for (player, score) in expected { perShard[router.shard(member: player, score: score)].append(RankedMember(playerID: player, score: score)) }
        if board.config.sortOrder == .desc {
            // Chunks run in ascending order (ZRANGE's), the reverse of a desc board's.
            for shard in 0..<count { perShard[shard].reverse() }
        }
        var reports: [ShardReport] = []
        var checked = 0
        progress?(0, expected.count)
        for shard in 0..<count {
            try Task.checkCancellation()  // the pass lost its lease
            reports.append(try await reconcile(board, shard: shard, expected: perShard[shard]))
            checked += perShard[shard].count
            progress?(checked, expected.count)
        }
        return reports
    }

    private func reconcile(_ board: StoredBoard, shard: Int, expected: [RankedMember]) async throws -> ShardReport {
        let chunks = ShardChunks(expected: expected, chunkSize: configuration.batchSize)
        var report = ShardReport(
            shard: shard, node: shard < board.placement.count ? board.placement[shard] : "default", checked: expected.count,
            chunks: chunks.chunkCount, chunksDiffering: 0, missing: 0, strays: 0, wrongScores: 0, repaired: 0
        )
        let probes = chunks.probes(chunksPerProbe: 16)
        var scans: [ShardChunks.Scan] = []
        // A few probes per round keeps each shard's scripts short and the replies small.
        for first in stride(from: 0, to: probes.count, by: 8) {
            scans += try await service.realtime.scanChunks(board, shard: shard, probes: Array(probes[first..<min(first + 8, probes.count)]))
        }
        var expectedScores: [String: Int64] = [:]
        var seen = Set<String>()
        var suspects: [RankedMember] = []
        var candidates: [RankedMember] = []
        for region in chunks.regionsToFetch(probes, scans) {
            let positions: Range<Int>
            switch region {
            case .chunk(let chunk, let range):
                report.chunksDiffering += 1
                positions = range
                for member in chunks.members(chunk: chunk) {
                    expectedScores[member.playerID] = member.score
                    candidates.append(member)
                }
            case .outside(let range):
                positions = range
            }
            var offset = positions.lowerBound
            while offset < positions.upperBound {
                let want = min(configuration.batchSize, positions.upperBound - offset)
                let page = try await service.realtime.shardMembers(board, shard: shard, offset: offset, count: want)
                for member in page {
                    seen.insert(member.playerID)
                    suspects.append(member)
                }
                if case .outside = region { report.checked += page.count }
                offset += page.count
                if page.count < want { break }
            }
        }
        suspects.removeAll { expectedScores[$0.playerID] == $0.score }
        let missing = candidates.filter { !seen.contains($0.playerID) }.map(\.playerID)
        // Decide with PostgreSQL as it is now, read after Redis: what the view holds at change `seq`.
        // The repairs apply only to a shard still at that change; when a change landed in between,
        // decide again (a few times; then the next pass sees again).
        let counted = report
        for _ in 0..<4 {
            report = counted
            if try await repairOnce(board, shard: shard, suspects: suspects, missing: missing, report: &report) { break }
        }
        return report
    }

    /// One decision and its repairs, compare-and-set at one change number. Returns false when the
    /// shard had moved past that change (some repairs were not applied).
    private func repairOnce(
        _ board: StoredBoard, shard: Int, suspects: [RankedMember], missing: [String], report: inout ShardReport
    ) async throws -> Bool {
        let router = board.router
        let (seq, fresh) = try await service.repository.viewScores(board: board, players: suspects.map(\.playerID) + missing)
        var fixes: [ShardFix] = []
        for member in suspects {
            switch fresh[member.playerID] {
            case nil:
                report.strays += 1
                fixes.append(ShardFix(shard: shard, playerID: member.playerID, observed: member.score, target: nil))
            case let score? where router.shard(member: member.playerID, score: score) != shard:
                report.strays += 1
                fixes.append(ShardFix(shard: shard, playerID: member.playerID, observed: member.score, target: nil))
            case let score? where score != member.score:
                report.wrongScores += 1
                fixes.append(ShardFix(shard: shard, playerID: member.playerID, observed: member.score, target: score))
            default:
                continue  // right
            }
        }
        for player in missing {
            guard let score = fresh[player], router.shard(member: player, score: score) == shard else { continue }
            report.missing += 1
            fixes.append(ShardFix(shard: shard, playerID: player, observed: nil, target: score))
        }
        var settled = true
        for chunk in stride(from: 0, to: fixes.count, by: configuration.batchSize) {
            let outcome = try await service.realtime.repair(
                board, fixes: Array(fixes[chunk..<min(chunk + configuration.batchSize, fixes.count)]), atSeq: seq
            )
            report.repaired += outcome.repaired
            if outcome.moved { settled = false }
        }
        return settled
    }
}
