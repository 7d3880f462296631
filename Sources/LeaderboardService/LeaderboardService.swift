import Foundation
import LeaderboardCore
import LeaderboardStore
import Logging
import Metrics

/// The operations of the REST contract, over the stores. Every error it throws is a
/// ``LeaderboardError`` of the contract.
public final class LeaderboardService: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var limits: ReadLimits
        /// Most score events in one POST /scores/batch.
        public var maxBatchSize: Int

        public init(limits: ReadLimits = .init(), maxBatchSize: Int = 1000) {
            self.limits = limits
            self.maxBatchSize = maxBatchSize
        }
    }

    public let configuration: Configuration
    public let repository: PostgresScoreRepository
    public let realtime: any RealtimeStore
    public let writer: WriteCoordinator
    public let directory: BoardDirectory
    public let stale: StaleBoards
    /// Applies numbered view changes in order, catching up what other processes left.
    public let sequencer: ViewSequencer
    /// The Redis nodes and layouts for new boards.
    public let topology: Topology
    /// The wall clock periods begin and end by (tests move it).
    public let clock: @Sendable () -> Date
    private let logger: Logger

    public init(
        configuration: Configuration, repository: PostgresScoreRepository, realtime: any RealtimeStore, writer: WriteCoordinator,
        directory: BoardDirectory, stale: StaleBoards, sequencer: ViewSequencer, topology: Topology,
        clock: @escaping @Sendable () -> Date = Date.init, logger: Logger
    ) {
        self.sequencer = sequencer
        self.clock = clock
        self.configuration = configuration
        self.topology = topology
        self.repository = repository
        self.realtime = realtime
        self.writer = writer
        self.directory = directory
        self.stale = stale
        self.logger = logger
    }

    // MARK: - Admin

    /// The layout a new board gets when its request names none (the topology's choice).
    public func defaultLayout(for id: String) -> Layout { topology.layout(forNewBoard: id) }

    public func createLeaderboard(_ config: LeaderboardConfig) async throws -> LeaderboardConfig {
        let placement = topology.placement(board: config.id, shards: config.layout.shardCount)
        let board = try await store { try await self.repository.createLeaderboard(
                config, placement: placement, startedAt: self.clock().timeIntervalSince1970
            ) }
        directory.update(config.id, board)
        do {
            try await realtime.prepareBoard(board, seq: 0)
        } catch {
            logger.warning("board created but its real-time metadata was not written", metadata: ["board": "\(config.id)"])
            stale.mark(config.id)
        }
        return board.config
    }

    public func listLeaderboards() async throws -> [LeaderboardConfig] {
        try await store { try await self.repository.listLeaderboards().map(\.config) }
    }

    public func deleteLeaderboard(_ id: String) async throws {
        try Identifier.check(id, field: "leaderboard id")
        try await store {
            guard let board = try await self.repository.leaderboard(id), try await self.repository.deleteLeaderboard(id) else {
                throw LeaderboardError.leaderboardNotFound(id)
            }
            self.directory.update(id, nil)
            self.stale.clear(id)
            await self.dropKeys(of: board)
        }
    }

    /// Drops a deleted board's Redis keys; when a node cannot be reached, the recovery service
    /// tries again every few seconds (the board's removal row stays until it succeeds).
    @discardableResult
    public func dropKeys(of board: StoredBoard) async -> Bool {
        do {
            try await realtime.deleteBoard(board)
            try await repository.removalDone(board)
            return true
        } catch RealtimeStoreError.unknownNode(let node) {
            // A node no longer in the topology: nothing here can reach its keys, ever.
            logger.warning("a deleted board's keys are on a node the topology no longer has", metadata: ["board": "\(board.config.id)", "node": "\(node)"])
            try? await repository.removalDone(board)
            return false
        } catch {
            try? await repository.removalFailed(board)
            logger.warning(
                "board deleted but its Redis keys remain; they are dropped when the node answers",
                metadata: ["board": "\(board.config.id)", "error": "\(error)"]
            )
            return false
        }
    }

    /// Archives the current period and empties the board. Returns the archived and the new period.
    public func resetLeaderboard(_ id: String) async throws -> (archived: Int, current: Int) {
        try Identifier.check(id, field: "leaderboard id")
        guard let reset = try await reset(id, boundary: nil) else { throw LeaderboardError.leaderboardNotFound(id) }
        return (reset.archived, reset.current)
    }

    /// The scheduled reset of a board at a period boundary (Unix seconds); nil when the board's
    /// current period began at or after it (already reset, here or by another process).
    public func resetLeaderboard(_ id: String, boundary: Int64) async throws -> PeriodReset? {
        try await reset(id, boundary: boundary)
    }

    private func reset(_ id: String, boundary: Int64?) async throws -> PeriodReset? {
        try await store {
            let time = boundary.map(Double.init) ?? self.clock().timeIntervalSince1970
            guard let reset = try await self.repository.resetLeaderboard(id, at: time, scheduled: boundary != nil),
                let board = try await self.repository.leaderboard(id)
            else { return nil }
            self.directory.update(id, board)
            if let step = reset.step {
                var batch = RealtimeBatch()
                batch.boards[id] = .init(board: board, steps: [step])
                await self.sequencer.apply(batch)
            }
            self.logger.info(
                "period reset", metadata: ["board": "\(id)", "archived": "\(reset.archived)", "scheduled": "\(boundary != nil)"]
            )
            return reset
        }
    }

    /// The archived periods of a board, oldest first.
    public func periods(board id: String) async throws -> [ArchivedPeriod] {
        try Identifier.check(id, field: "leaderboard id")
        _ = try await directory.board(id)
        return try await store { try await self.repository.periods(board: id) }
    }

    // MARK: - Writes

    /// Submits one score; returns the player's score after the board's update mode. With an
    /// idempotency key, a repeat of the request gets the first answer and changes nothing.
    public func submit(_ command: ScoreCommand, idempotencyKey: String? = nil) async throws -> Int64 {
        let idempotency = try idempotencyKey.map { try Idempotency(key: $0, commands: [command], batch: false) }
        _ = try await directory.board(command.leaderboardID)
        return try await store { try await self.writer.submit([command], idempotency: idempotency) }[0]
    }

    /// Submits a batch as one unit: all applied, or none (the error names the item).
    public func submitBatch(_ commands: [ScoreCommand], idempotencyKey: String? = nil) async throws -> [Int64] {
        let idempotency = try idempotencyKey.map { try Idempotency(key: $0, commands: commands, batch: true) }
        guard !commands.isEmpty else { throw LeaderboardError.invalidRequest("scores must hold at least one score event") }
        guard commands.count <= configuration.maxBatchSize else {
            throw LeaderboardError.payloadTooLarge("a batch holds at most \(configuration.maxBatchSize) score events")
        }
        for (index, command) in commands.enumerated() {
            do { _ = try await directory.board(command.leaderboardID) } catch let error as LeaderboardError {
                throw error.prefixed("scores[\(index)]")
            }
        }
        return try await store { try await self.writer.submit(commands, idempotency: idempotency) }
    }

    public func removePlayer(board id: String, player: String) async throws {
        try Identifier.check(player, field: "player id")
        _ = try await directory.board(id)  // 404 for an unknown board before anything else
        try await store {
            guard let removed = try await self.repository.removePlayer(board: id, player: player) else {
                throw LeaderboardError.playerNotFound(player, in: id)
            }
            if let step = removed.step {
                // The row read under the lock: this process's cached one may be of an earlier incarnation.
                var batch = RealtimeBatch()
                batch.boards[id] = .init(board: removed.board, steps: [step])
                await self.sequencer.apply(batch)
            }
        }
    }

    // MARK: - Reads

    public func top(board id: String, limit: Int, ranking: RankStyle = .ordinal) async throws -> LeaderboardPage {
        try await range(board: id, start: 1, end: limit, ranking: ranking)
    }

    public func range(board id: String, start: Int, end: Int, ranking: RankStyle = .ordinal) async throws -> LeaderboardPage {
        try await realtimeRead(id) { board in try await self.realtime.range(board, start: start, end: end, ranking: ranking) }
    }

    /// The player's entry and the number of ranked players (for `top_percent`).
    public func player(board id: String, player: String, ranking: RankStyle = .ordinal) async throws -> PlayerStanding {
        try Identifier.check(player, field: "player id")
        guard let standing = try await realtimeRead(id, { board in try await self.realtime.player(board, playerID: player, ranking: ranking) }) else {
            throw LeaderboardError.playerNotFound(player, in: id)
        }
        return standing
    }

    public func around(board id: String, player: String, radius: Int, ranking: RankStyle = .ordinal) async throws -> LeaderboardPage {
        try Identifier.check(player, field: "player id")
        guard let page = try await realtimeRead(id, { board in
            try await self.realtime.around(board, playerID: player, radius: radius, ranking: ranking)
        }) else {
            throw LeaderboardError.playerNotFound(player, in: id)
        }
        return page
    }

    /// Most ids of one friends-list read.
    public static let maxPlayersPerRead = 100

    /// A friends list: those of `ids` on the board, in board order with global ranks, and the ids
    /// that are not (absent, or trimmed away), in the order asked.
    public func players(board id: String, ids: [String], ranking: RankStyle = .ordinal) async throws -> (page: LeaderboardPage, missing: [String]) {
        let ids = try Self.friendIDs(ids)
        let page = try await realtimeRead(id) { board in try await self.realtime.players(board, ids: ids, ranking: ranking) }
        return (page, Self.missing(ids, page.entries))
    }

    /// The entry a reward tier ends at (a fixed rank, or a percentage of the ranked players).
    /// (`rank` is the query's number there, so the entry keeps its ordinal rank.)
    public func cutoff(board id: String, tier: RewardCutoff.Tier) async throws -> RankCutoff {
        try await realtimeRead(id) { board in try await self.realtime.cutoff(board, rank: tier.rank(of:)) }
    }

    /// The ids of a friends list: 1…``maxPlayersPerRead`` valid ids, repeats dropped.
    static func friendIDs(_ ids: [String]) throws -> [String] {
        guard !ids.isEmpty else { throw LeaderboardError.invalidRequest("ids must name at least one player") }
        // Repeats count once, but a list far past the cap is refused before any work.
        guard ids.count <= 4 * maxPlayersPerRead else { throw LeaderboardError.invalidRequest("ids names at most \(maxPlayersPerRead) players") }
        var seen = Set<String>()
        var unique: [String] = []
        for player in ids {
            try Identifier.check(player, field: "player id")
            if seen.insert(player).inserted { unique.append(player) }
        }
        guard unique.count <= maxPlayersPerRead else { throw LeaderboardError.invalidRequest("ids names at most \(maxPlayersPerRead) players") }
        return unique
    }

    private static func missing(_ ids: [String], _ entries: [LeaderboardEntry]) -> [String] {
        let found = Set(entries.map(\.playerID))
        return ids.filter { !found.contains($0) }
    }

    public func count(board id: String) async throws -> Int {
        try await realtimeRead(id) { board in try await self.realtime.count(board) }
    }

    // MARK: - Official snapshot (source=batch) and archived periods (period=)

    /// Where a read from PostgreSQL comes from: the official snapshot, or an archived period.
    public enum RankedSource: Sendable, Equatable {
        case snapshot
        case period(Int)
    }

    /// What a read from PostgreSQL says about its source: `as_of` of the snapshot, or the period.
    public struct SourceInfo: Sendable, Equatable {
        public var asOf: String?
        public var period: Int?

        public init(asOf: String?, period: Int?) {
            self.asOf = asOf
            self.period = period
        }
    }

    /// Ranks start…end of the snapshot or an archived period.
    public func rankedRange(
        _ source: RankedSource, board id: String, start: Int, end: Int, ranking: RankStyle = .ordinal
    ) async throws -> (page: LeaderboardPage, info: SourceInfo) {
        try await readRanked(source, board: id) { reader, total in
            let entries = try reader.entries(first: start, last: min(end, total))
            return LeaderboardPage(total: total, entries: try Self.numbered(entries, ranking, reader))
        }
    }

    public func rankedPlayer(
        _ source: RankedSource, board id: String, player: String, ranking: RankStyle = .ordinal
    ) async throws -> (standing: PlayerStanding, info: SourceInfo) {
        try Identifier.check(player, field: "player id")
        return try await readRanked(source, board: id) { reader, total in
            guard let rank = try reader.rank(of: player), rank <= total, let entry = try reader.entries(first: rank, last: rank).first else {
                throw LeaderboardError.playerNotFound(player, in: reader.board)
            }
            return PlayerStanding(entry: try Self.numbered([entry], ranking, reader)[0], total: total)
        }
    }

    public func rankedAround(
        _ source: RankedSource, board id: String, player: String, radius: Int, ranking: RankStyle = .ordinal
    ) async throws -> (page: LeaderboardPage, info: SourceInfo) {
        try Identifier.check(player, field: "player id")
        return try await readRanked(source, board: id) { reader, total in
            guard let rank = try reader.rank(of: player), rank <= total else { throw LeaderboardError.playerNotFound(player, in: reader.board) }
            let entries = try reader.entries(first: max(1, rank - radius), last: min(total, rank + radius))
            return LeaderboardPage(total: total, entries: try Self.numbered(entries, ranking, reader))
        }
    }

    /// A friends list from the snapshot or an archived period.
    public func rankedPlayers(
        _ source: RankedSource, board id: String, ids: [String], ranking: RankStyle = .ordinal
    ) async throws -> (page: LeaderboardPage, missing: [String], info: SourceInfo) {
        let ids = try Self.friendIDs(ids)
        let (found, info) = try await readRanked(source, board: id) { reader, total in
            let entries = try reader.players(ids).filter { $0.rank <= total }
            return (LeaderboardPage(total: total, entries: try Self.numbered(entries, ranking, reader)), Self.missing(ids, entries))
        }
        return (found.0, found.1, info)
    }

    /// A reward tier's cutoff in the snapshot or an archived period.
    public func rankedCutoff(
        _ source: RankedSource, board id: String, tier: RewardCutoff.Tier
    ) async throws -> (cutoff: RankCutoff, info: SourceInfo) {
        try await readRanked(source, board: id) { reader, total in
            let rank = tier.rank(of: total)
            let entry = rank <= total ? try reader.entries(first: rank, last: rank).first : nil
            return RankCutoff(total: total, rank: rank, entry: entry)
        }
    }

    /// Entries of a ranked table numbered `ranking`'s way, in the same transaction.
    private static func numbered(_ entries: [LeaderboardEntry], _ ranking: RankStyle, _ reader: RankedTableReader) throws -> [LeaderboardEntry] {
        guard ranking == .competition else { return entries }
        let better = try reader.betterCounts(RankStyle.scoresToCount(entries))
        guard let numbered = RankStyle.competition(entries, better: better) else {
            // One transaction reads one snapshot: counts that do not fit the ranks mean a broken table.
            throw LeaderboardError.unavailable("the snapshot of leaderboard '\(reader.board)' is inconsistent; retry")
        }
        return numbered
    }

    /// Runs `body` on the board's official snapshot or archived period, with the number of
    /// players it ranks (clipped to `max_entries`), in one transaction (``RankedTableReader``).
    /// A board no sync pass has reached yet gets its first snapshot, then is read again.
    private func readRanked<T: Sendable>(
        _ source: RankedSource, board id: String, _ body: @escaping @Sendable (RankedTableReader, _ total: Int) throws -> T
    ) async throws -> (T, SourceInfo) {
        let board = try await directory.board(id)
        let limit = board.config.maxEntries
        let (table, period): (RankedTable, Int?) =
            switch source {
            case .snapshot: (.snapshot, nil)
            case .period(let period): (.archive(period: period), period)
            }
        // nil: the table has no head (no snapshot yet, or no such archived period).
        let read: @Sendable () async throws -> (T, SourceInfo)? = {
            try await self.store {
                try await self.repository.readRanked(table, board: id) { reader in
                    guard let head = try reader.head() else { return nil }
                    let total = limit > 0 ? min(head.players, limit) : head.players
                    return (try body(reader, total), SourceInfo(asOf: head.asOf, period: period))
                }
            }
        }
        if let answer = try await read() { return answer }
        if let period {
            throw LeaderboardError.invalidRequest("period \(period) of leaderboard '\(id)' is not archived (the current period is \(board.period))")
        }
        // No snapshot yet: take it (concurrent readers take it once), then read it. Still none:
        // the board was deleted meanwhile (a snapshot goes with its board).
        guard try await store({ try await self.repository.snapshotTakingIfMissing(board: id) }) != nil, let answer = try await read() else {
            throw LeaderboardError.leaderboardNotFound(id)
        }
        return answer
    }

    /// The last sync report of the board (JSON), nil when no pass has run.
    public func lastSyncReport(board id: String) async throws -> String? {
        _ = try await directory.board(id)
        return try await store { try await self.repository.syncReport(board: id) }
    }

    // MARK: - Health

    /// Whether each store answers.
    public func readiness() async -> (postgres: Bool, redis: Bool) {
        async let postgres: Bool = (try? await repository.ping()) != nil
        async let redis: Bool = (try? await realtime.ping()) != nil
        return await (postgres, redis)
    }

    // MARK: - Helpers

    private func readableBoard(_ id: String) async throws -> StoredBoard {
        try Identifier.check(id, field: "leaderboard id")
        let board = try await directory.board(id)
        guard !stale.contains(id) else {
            throw LeaderboardError.unavailable("leaderboard '\(id)' is being rebuilt from the database; retry shortly")
        }
        return board
    }

    /// How long a read waits for a layout switch it ran into (the old epoch is retired, the new
    /// one not yet committed) before it answers 503.
    static let switchWait: Duration = .seconds(1)
    /// Reads answered 503 because a layout switch took longer than ``switchWait``.
    static let switchUnavailable = Counter(label: "leaderboard_layout_switch_unavailable_total")

    /// Runs a real-time read on the board's current layout; a board found missing in Redis is
    /// marked stale and answered with 503. A read that finds its epoch retired (the layout
    /// switched, or is switching) is redone on the board's row as PostgreSQL has it now.
    private func realtimeRead<T: Sendable>(_ id: String, _ body: @Sendable (StoredBoard) async throws -> T) async throws -> T {
        var board = try await readableBoard(id)
        let deadline = ContinuousClock.now + Self.switchWait
        while true {
            do {
                let current = board
                return try await realtimeAttempt(id, epoch: current.epoch) { try await body(current) }
            } catch let moved as EpochMoved {
                // Another epoch is current (this process's row was old): read that one.
                if let fresh = moved.fresh, fresh.epoch != board.epoch {
                    board = fresh
                    continue
                }
                guard ContinuousClock.now < deadline else {
                    Self.switchUnavailable.increment()
                    throw LeaderboardError.unavailable("leaderboard '\(id)' is switching to a new layout; retry shortly")
                }
                try? await Task.sleep(for: .milliseconds(20))
                if let fresh = await freshBoard(id) { board = fresh }
            }
        }
    }

    /// A read found its epoch retired or gone, with the board's row read again (nil when it could not be).
    private struct EpochMoved: Error { var fresh: StoredBoard? }

    /// The board's row from PostgreSQL as it is now (concurrent callers share one load).
    private func freshBoard(_ id: String) async -> StoredBoard? {
        try? await directory.fresh(id, loadedAfter: .now)
    }

    private func realtimeAttempt<T: Sendable>(_ id: String, epoch: Int, _ body: @Sendable () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch RealtimeStoreError.epochRetired {
            throw EpochMoved(fresh: await freshBoard(id))
        } catch RealtimeStoreError.otherIncarnation {
            // This process's copy of the board's row is older or newer than the shards': look it up
            // again; the recovery rebuilds shards left from an earlier incarnation.
            directory.invalidate(id)
            throw LeaderboardError.unavailable("leaderboard '\(id)' was just created again; retry shortly")
        } catch RealtimeStoreError.unsettled {
            throw LeaderboardError.unavailable("leaderboard '\(id)' changed under every attempt of the read; retry shortly")
        } catch RealtimeStoreError.boardMissing {
            // The keys of a layout epoch retired and removed meanwhile: read the current one.
            if let fresh = await freshBoard(id), fresh.epoch != epoch {
                throw EpochMoved(fresh: fresh)
            }
            // Deleted meanwhile (by this process or another): not found, not a rebuild.
            if await boardIsGone(id) {
                directory.update(id, nil)
                throw LeaderboardError.leaderboardNotFound(id)
            }
            stale.markMissing(id)
            throw LeaderboardError.unavailable("leaderboard '\(id)' is being rebuilt from the database; retry shortly")
        } catch {
            throw LeaderboardError.fromStore(error)
        }
    }

    /// Whether PostgreSQL says the board no longer exists (false when it cannot say).
    func boardIsGone(_ id: String) async -> Bool {
        do { return try await repository.leaderboard(id) == nil } catch { return false }
    }

    /// Maps store failures to the contract's errors.
    private func store<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw LeaderboardError.fromStore(error) }
    }
}
