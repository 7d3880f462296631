import LeaderboardCore
import LeaderboardStore
import NIOConcurrencyHelpers

/// The real-time store with faults injected on purpose, over a real one: every call goes to
/// `base`, and the faults a test arms happen around it (like ``PostgresFaultProxy`` for
/// PostgreSQL). Used to fail a layout switch at its worst moment.
public final class FaultyRealtimeStore: RealtimeStore {
    public let base: any RealtimeStore
    /// Retire calls that mark (`true`) and then throw, as if the reply were lost: the marks are
    /// set, and the switch that asked does not know it.
    public let failingRetires = NIOLockedValueBox(0)
    /// Every retire call, in order: (epoch, retired, failed).
    public let retires = NIOLockedValueBox<[(epoch: Int, retired: Bool, failed: Bool)]>([])

    public init(base: any RealtimeStore) {
        self.base = base
    }

    public struct InjectedFault: Error {}

    public func retire(_ board: StoredBoard, _ retired: Bool) async throws {
        try await base.retire(board, retired)
        let fail = retired && failingRetires.withLockedValue { count in
            defer { count = max(count - 1, 0) }
            return count > 0
        }
        retires.withLockedValue { $0.append((board.epoch, retired, fail)) }
        if fail { throw InjectedFault() }
    }

    public func prepareBoard(_ board: StoredBoard, seq: Int64) async throws { try await base.prepareBoard(board, seq: seq) }
    public func deleteBoard(_ board: StoredBoard) async throws { try await base.deleteBoard(board) }
    public func apply(_ batch: RealtimeBatch) async throws -> [String: [Int: Int64?]] { try await base.apply(batch) }
    public func rebuild(
        _ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64, seq: Int64, only: Set<Int>?, force: Bool,
        progress: (@Sendable (Int, Int) -> Void)?, pace: BuildPace
    ) async throws -> Bool {
        try await base.rebuild(board, entries: entries, lastEventID: lastEventID, seq: seq, only: only, force: force, progress: progress, pace: pace)
    }
    public func appliedSequences(_ board: StoredBoard) async throws -> [Int64?] { try await base.appliedSequences(board) }
    public func appliedSequences(of boards: [StoredBoard]) async -> [[Int64?]?] { await base.appliedSequences(of: boards) }
    public func range(_ board: StoredBoard, start: Int, end: Int, ranking: RankStyle) async throws -> LeaderboardPage {
        try await base.range(board, start: start, end: end, ranking: ranking)
    }
    public func player(_ board: StoredBoard, playerID: String, ranking: RankStyle) async throws -> PlayerStanding? {
        try await base.player(board, playerID: playerID, ranking: ranking)
    }
    public func around(_ board: StoredBoard, playerID: String, radius: Int, ranking: RankStyle) async throws -> LeaderboardPage? {
        try await base.around(board, playerID: playerID, radius: radius, ranking: ranking)
    }
    public func players(_ board: StoredBoard, ids: [String], ranking: RankStyle) async throws -> LeaderboardPage {
        try await base.players(board, ids: ids, ranking: ranking)
    }
    public func cutoff(_ board: StoredBoard, rank: @Sendable (Int) -> Int) async throws -> RankCutoff {
        try await base.cutoff(board, rank: rank)
    }
    public func count(_ board: StoredBoard) async throws -> Int { try await base.count(board) }
    public func ping() async throws { try await base.ping() }
    public func shardSizes(_ board: StoredBoard) async throws -> [Int] { try await base.shardSizes(board) }
    public func shardMembers(_ board: StoredBoard, shard: Int, offset: Int, count: Int) async throws -> [RankedMember] {
        try await base.shardMembers(board, shard: shard, offset: offset, count: count)
    }
    public func scanChunks(_ board: StoredBoard, shard: Int, probes: [ShardChunks.Probe]) async throws -> [ShardChunks.Scan] {
        try await base.scanChunks(board, shard: shard, probes: probes)
    }
    public func repair(_ board: StoredBoard, fixes: [ShardFix], atSeq seq: Int64) async throws -> (repaired: Int, moved: Bool) {
        try await base.repair(board, fixes: fixes, atSeq: seq)
    }
}
