import LeaderboardCore
import Metrics
import NIOConcurrencyHelpers
import RedisClient

/// The real-time view on Redis sorted sets: one per board (layout `single`) or one per shard
/// (layouts `hash` and `band`), each shard on the node the board's placement names.
///
/// The view is the board's best `max_entries` players (all when unlimited), exactly: the write
/// path sends each numbered view change (``ViewStep``) to every shard of the board, and each
/// shard applies the changes strictly in sequence (`seq` in its metadata), refusing one that
/// would skip a number. Every read asks each shard it uses for that number around its commands
/// (``ViewCheck``) and is redone when two differ: an answer is the board after one change.
///
/// Reads are per layout (``SingleSetReads``, ``HashShardReads``, ``BandShardReads``); writes and
/// rebuilds are in `+Writes`, the sync worker's reconcile in `+Reconcile`.
public final class RedisRealtimeStore: RealtimeStore {
    let transport: RedisRoundTransport
    /// The node of boards stored without a placement.
    private let defaultNode: String
    let chunkSize = 1000
    /// How often a read is tried before it answers 503 (each try sees the board change meanwhile).
    let readAttempts = 8

    public init(nodes: [String: RedisConnectionPool], defaultNode: String) {
        precondition(nodes[defaultNode] != nil, "the default node must be one of the nodes")
        transport = RedisRoundTransport(nodes: nodes)
        self.defaultNode = defaultNode
    }

    /// A store on a Redis Cluster: every shard's keys carry its own hash tag, and each command goes
    /// to the master of its key's slot (``RedisClusterClient``).
    public init(cluster: RedisClusterClient) {
        transport = RedisRoundTransport(cluster: cluster)
        defaultNode = Topology.clusterNode
    }

    /// Whether the shards are on a Redis Cluster.
    var onCluster: Bool { transport.cluster != nil }

    /// A store on one Redis server.
    public convenience init(pool: RedisConnectionPool) {
        self.init(nodes: ["default": pool], defaultNode: "default")
    }

    public func ping() async throws {
        if let cluster = transport.cluster {
            try await cluster.checkHealth()
            return
        }
        let commands = transport.nodes.keys.sorted().map { (node: $0, command: ["PING"]) }
        try RedisReplies.check(try await round(commands))
    }

    // MARK: - Shards and rounds

    struct Shard: Sendable {
        let index: Int
        /// The node it is on; on a Redis Cluster one name per shard (scripts never span shards there).
        let node: String
        let key: String
        let meta: String
        /// On a Redis Cluster, the shard's usernames (``RedisKeys/names(_:)``); nil on standalone
        /// nodes, where names are per player (``RedisKeys/playerInfo(_:)``).
        let names: String?

        init(index: Int, node: String, key: String, meta: String, names: String? = nil) {
            self.index = index
            self.node = node
            self.key = key
            self.meta = meta
            self.names = names
        }
    }

    func shards(_ board: StoredBoard) throws -> [Shard] {
        let count = board.config.layout.shardCount
        if onCluster {
            // A board placed on standalone nodes is not this store's (another topology's process serves it).
            if let other = board.placement.first(where: { $0 != Topology.clusterNode }) { throw RealtimeStoreError.unknownNode(other) }
            return (0..<count).map { index in
                let meta = RedisKeys.clusterMeta(board.config.id, shard: index, epoch: board.epoch)
                return Shard(
                    index: index, node: "\(Topology.clusterNode)/\(index)", key: RedisKeys.clusterRealtime(board.config.id, shard: index, epoch: board.epoch),
                    meta: meta, names: RedisKeys.names(meta)
                )
            }
        }
        return try (0..<count).map { index in
            let node = index < board.placement.count ? board.placement[index] : defaultNode
            guard transport.nodes[node] != nil else { throw RealtimeStoreError.unknownNode(node) }
            return Shard(
                index: index, node: node, key: RedisKeys.realtime(board.config.id, shard: index, of: count, epoch: board.epoch),
                meta: RedisKeys.meta(board.config.id, shard: index, of: count, epoch: board.epoch)
            )
        }
    }

    /// One round (see ``RedisRoundTransport``).
    func round(_ commands: [(node: String, command: [String])]) async throws -> [RedisReply] {
        try await transport.round(commands)
    }

    /// Rounds sent so far (each a parallel set of pipelines, one per node): what a read costs in round trips.
    public var roundsSent: Int { transport.roundsSent }

    /// One round of a read: each node's commands go between two reports of each watched shard on
    /// that node (`HMGET meta seq version incarnation`; a node runs a pipeline in order, so equal
    /// reports mean its commands saw that one state), which `check` takes before the replies are
    /// returned. Replies in the order of `commands`.
    func watchedRound(_ commands: [(node: String, command: [String])], watching: [Shard], check: ViewCheck) async throws
        -> [RedisReply]
    {
        var nodes: [String] = []
        for item in commands where !nodes.contains(item.node) { nodes.append(item.node) }
        for shard in watching where !nodes.contains(shard.node) { nodes.append(shard.node) }
        var list: [(node: String, command: [String])] = []
        list.reserveCapacity(commands.count + 2 * watching.count)
        var dataIndex = [Int](repeating: 0, count: commands.count)
        var reportIndex: [(reply: Int, shard: Int)] = []
        for node in nodes {
            let watched = watching.filter { $0.node == node }
            for shard in watched {
                reportIndex.append((list.count, shard.index))
                list.append((node, ["HMGET", shard.meta] + ViewCheck.reportFields))
            }
            for (index, item) in commands.enumerated() where item.node == node {
                dataIndex[index] = list.count
                list.append(item)
            }
            for shard in watched {
                reportIndex.append((list.count, shard.index))
                list.append((node, ["HMGET", shard.meta] + ViewCheck.reportFields))
            }
        }
        let replies = try await transport.round(list, bracketed: true)
        guard replies.count == list.count else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
        for (index, shard) in reportIndex { try check.observe(replies[index], shard: shard) }
        return dataIndex.map { replies[$0] }
    }

    /// Runs a read until it sees one state of the board (``ViewCheck``), at most ``readAttempts``
    /// times; then the board is changing too fast to answer from, or a shard is behind, and the
    /// read fails (503) — never with an answer from two states.
    func consistent<T: Sendable>(_ board: StoredBoard, _ body: (ViewCheck) async throws -> T) async throws -> T {
        for attempt in 0..<readAttempts {
            do {
                return try await body(ViewCheck(board: board))
            } catch is ViewMoved {
                // A change is being applied across the shards right now; let it land.
                if attempt > 0 { try await Task.sleep(for: .microseconds(250 << min(attempt, 4))) }
            } catch let error as LocatorError {
                // The locator found numbers that do not fit together: treated as a moved view.
                _ = error
            }
        }
        throw RealtimeStoreError.unsettled(board.config.id)
    }

    // MARK: - Boards

    public func prepareBoard(_ board: StoredBoard, seq: Int64) async throws {
        let shards = try shards(board)
        try RedisReplies.check(
            try await round(
                shards.map {
                    ($0.node, ["EVALSHA", Scripts.writeMeta.sha1, "2", $0.key, $0.meta, String(board.incarnation)] + metaFields(board, $0, seq: seq, lastEventID: 0))
                }
            )
        )
    }

    public func deleteBoard(_ board: StoredBoard) async throws {
        let shards = try shards(board)
        try RedisReplies.check(
            try await round(
                shards.map { shard in
                    let ties = (board.hasTiePrefix ? RedisKeys.tieBuckets(shard.meta, buckets: board.tieBuckets) + [RedisKeys.tieStaging(shard.meta)] : []) + (shard.names.map { [$0] } ?? [])
                    return (shard.node, ["EVALSHA", Scripts.removeShard.sha1, String(2 + ties.count), shard.key, shard.meta] + ties + [String(board.incarnation)])
                }
            )
        )
    }

    public func appliedSequences(_ board: StoredBoard) async throws -> [Int64?] {
        let shards = try shards(board)
        let replies = try await round(shards.map { ($0.node, ["HMGET", $0.meta, "seq", "incarnation"]) })
        try RedisReplies.check(replies)
        return replies.map { Self.appliedSequence($0, board) }
    }

    /// A shard's number from `HMGET meta seq incarnation`; nil when the metadata is missing or of
    /// another incarnation (keys left by a deleted board).
    private static func appliedSequence(_ reply: RedisReply, _ board: StoredBoard) -> Int64? {
        guard let items = reply.array, items.count == 2, items[1].string == String(board.incarnation) else { return nil }
        return items[0].string.flatMap(Int64.init)
    }

    public func appliedSequences(of boards: [StoredBoard]) async -> [[Int64?]?] {
        // One round per node, so an unreachable node (or a board placed on a node this process does
        // not know) leaves only its boards unanswered.
        var result = boards.map { board -> [Int64?]? in (try? shards(board)).map { [Int64?](repeating: nil, count: $0.count) } }
        var byNode: [String: [(board: Int, shard: Shard)]] = [:]
        for (index, board) in boards.enumerated() where result[index] != nil {
            for shard in (try? shards(board)) ?? [] { byNode[shard.node, default: []].append((index, shard)) }
        }
        let answers = await withTaskGroup(of: (String, [RedisReply]?).self) { group in
            for (node, items) in byNode {
                group.addTask { (node, try? await self.round(items.map { (node, ["HMGET", $0.shard.meta, "seq", "incarnation"]) })) }
            }
            var answers: [String: [RedisReply]] = [:]
            for await (node, replies) in group { if let replies { answers[node] = replies } }
            return answers
        }
        for (node, items) in byNode {
            guard let replies = answers[node], replies.count == items.count else {
                for item in items { result[item.board] = nil }
                continue
            }
            for (item, reply) in zip(items, replies) where result[item.board] != nil {
                if case .error = reply {
                    result[item.board] = nil
                    continue
                }
                result[item.board]![item.shard.index] = Self.appliedSequence(reply, boards[item.board])
            }
        }
        return result
    }

    func metaFields(_ board: StoredBoard, _ shard: Shard, seq: Int64, lastEventID: Int64) -> [String] {
        let config = board.config
        return [
            "name", config.name, "sort_order", config.sortOrder.rawValue, "update_mode", config.updateMode.rawValue,
            "max_entries", String(config.maxEntries), "layout", config.layout.strategy, "epoch", String(board.epoch),
            "shard", String(shard.index), "shards", String(config.layout.shardCount),
            "period", String(board.period), "last_event_id", String(lastEventID), "seq", String(seq),
            "incarnation", String(board.incarnation),
        ]
    }

    // MARK: - Reads

    /// The reads of the board's layout, for one attempt.
    func reads(_ board: StoredBoard, _ check: ViewCheck) throws -> any ShardReads {
        let shards = try shards(board)
        let context = ReadContext(store: self, board: board, shards: shards, check: check)
        if shards.count == 1 { return SingleSetReads(context: context) }
        if board.router.routesByScore { return BandShardReads(context: context) }
        return HashShardReads(context: context)
    }

    public func count(_ board: StoredBoard) async throws -> Int {
        try await consistent(board) { try await reads(board, $0).count() }
    }

    public func range(_ board: StoredBoard, start: Int, end: Int, ranking: RankStyle) async throws -> LeaderboardPage {
        try await consistent(board) { check in
            let reads = try reads(board, check)
            let page = try await reads.range(start: start, end: end)
            return LeaderboardPage(total: page.total, entries: try await reads.context.numbered(page.entries, ranking))
        }
    }

    public func player(_ board: StoredBoard, playerID: String, ranking: RankStyle) async throws -> PlayerStanding? {
        try await consistent(board) { check in
            let reads = try reads(board, check)
            guard var standing = try await reads.player(playerID) else { return nil }
            standing.entry = try await reads.context.numbered([standing.entry], ranking)[0]
            return standing
        }
    }

    public func around(_ board: StoredBoard, playerID: String, radius: Int, ranking: RankStyle) async throws -> LeaderboardPage? {
        try await consistent(board) { check in
            let reads = try reads(board, check)
            guard let page = try await reads.around(playerID, radius: radius) else { return nil }
            return LeaderboardPage(total: page.total, entries: try await reads.context.numbered(page.entries, ranking))
        }
    }

    public func players(_ board: StoredBoard, ids: [String], ranking: RankStyle) async throws -> LeaderboardPage {
        try await consistent(board) { check in
            let reads = try reads(board, check)
            let page = try await reads.players(ids)
            return LeaderboardPage(total: page.total, entries: try await reads.context.numbered(page.entries, ranking))
        }
    }

    public func cutoff(_ board: StoredBoard, rank: @Sendable (Int) -> Int) async throws -> RankCutoff {
        try await consistent(board) { check in
            let reads = try reads(board, check)
            let total = try await reads.count()
            let wanted = rank(total)
            guard wanted >= 1, wanted <= total else { return RankCutoff(total: total, rank: wanted, entry: nil) }
            let page = try await reads.range(start: wanted, end: wanted)
            // Both rounds saw one state, so the rank is there; if not, the view moved.
            guard page.total == total, let entry = page.entries.first, entry.rank == wanted else { throw ViewMoved() }
            return RankCutoff(total: total, rank: wanted, entry: entry)
        }
    }

    /// The last board size a deep range read saw, as the next one's estimate (only a hint: a
    /// wrong one costs rounds, never correctness).
    private let sizeHints = NIOLockedValueBox<[String: Int]>([:])

    func boardSizeHint(_ board: String) -> Int? { sizeHints.withLockedValue { $0[board] } }

    /// The scores players had when this process last read their rank on a hash board, or last
    /// wrote them, so the next rank read can count every shard in the round that reads the score
    /// (``ScoreHints``; at most 200,000 players, about 15 MB).
    private let scoreHints = NIOLockedValueBox(ScoreHints(capacity: 200_000))

    func scoreHint(_ board: String, _ player: String) -> ScoreHints.Hint? {
        scoreHints.withLockedValue { $0.hint(board: board, player: player) }
    }

    func noteScore(_ board: String, _ player: String, _ score: Int64?, tie: Int64 = 0) {
        noteScores([(board, player, score, tie)])
    }

    /// Notes scores in order (nil: the player left the board), under one lock; a generation the
    /// hints dropped is freed after the lock is released.
    func noteScores(_ scores: [(board: String, player: String, score: Int64?, tie: Int64)]) {
        guard !scores.isEmpty else { return }
        let dropped = scoreHints.withLockedValue { hints in
            var dropped: [ScoreHints.Generation] = []
            for item in scores {
                if let score = item.score {
                    if let generation = hints.note(board: item.board, player: item.player, score: score, tie: item.tie) { dropped.append(generation) }
                } else {
                    hints.forget(board: item.board, player: item.player)
                }
            }
            return dropped
        }
        _ = dropped
    }

    /// Score spans of deep windows this process located (``SpanHints``), and how often one was
    /// tried: `hit` when it answered in its one round, `miss` when the read searched after it.
    private let spanHints = NIOLockedValueBox(SpanHints())
    private let spanReads = (hit: Counter(label: "leaderboard_range_span_reads_total", dimensions: [("outcome", "hit")]),
        miss: Counter(label: "leaderboard_range_span_reads_total", dimensions: [("outcome", "miss")]))

    func spanHint(_ board: String, start: Int, count: Int) -> ScoreSpan? {
        spanHints.withLockedValue { $0.span(board: board, start: start, count: count) }
    }

    func noteSpan(_ board: String, used: ScoreSpan?, found: ScoreSpan?, hit: Bool?) {
        spanHints.withLockedValue { $0.note(board: board, used: used, found: found) }
        if let hit { (hit ? spanReads.hit : spanReads.miss).increment() }
    }

    func noteBoardSize(_ board: String, _ size: Int) {
        sizeHints.withLockedValue { hints in
            if hints.count > 10_000 { hints.removeAll() }
            hints[board] = size
        }
    }
}
