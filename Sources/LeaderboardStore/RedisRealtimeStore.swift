import Dispatch
import LeaderboardCore
import Metrics
import NIOConcurrencyHelpers
import RedisClient

/// The real-time view on Redis sorted sets: one per board (layout `single`) or one per shard
/// (layouts `hash` and `band`), each shard on the node the board's placement names.
///
/// Every read gives exactly what one sorted set would. Each step is one parallel round: the
/// commands for a node go in one pipeline, and the nodes are asked at the same time.
/// - one sorted set: every read is one round (a pipeline or a read-only script);
/// - top N / ranges: a k-way merge of per-shard windows; deep ranges locate their start from
///   counts (``WindowLocator``; on band boards from the bands' sizes) and fetch only the window;
/// - player rank: the player's shard gives its score and in-shard rank, the others how many of
///   theirs rank ahead (a script applying the tie rule); on band boards the better bands' sizes;
/// - around: the counts ahead of the player on each shard give where to read on every shard.
/// With `max_entries`, each shard keeps its own best `max_entries` (a superset of the board's
/// best) and reads stop at rank `max_entries`.
public final class RedisRealtimeStore: RealtimeStore {
    private let nodes: [String: RedisConnectionPool]
    /// The node of boards stored without a placement.
    private let defaultNode: String
    private let gate = BoardGate()
    private let chunkSize = 1000
    /// SHA1 digests of the scripts, learned with SCRIPT LOAD.
    private let digests = NIOLockedValueBox<[String: String]>([:])

    /// Per node: how long each pipelined round of commands took, and how many rounds failed.
    private let nodeMetrics: [String: (latency: Timer, errors: Counter)]

    public init(nodes: [String: RedisConnectionPool], defaultNode: String) {
        precondition(nodes[defaultNode] != nil, "the default node must be one of the nodes")
        self.nodes = nodes
        self.defaultNode = defaultNode
        var metrics: [String: (latency: Timer, errors: Counter)] = [:]
        for node in nodes.keys {
            metrics[node] = (
                Timer(label: "leaderboard_redis_pipeline_duration", dimensions: [("node", node)], preferredDisplayUnit: .seconds),
                Counter(label: "leaderboard_redis_errors", dimensions: [("node", node)])
            )
        }
        nodeMetrics = metrics
    }

    /// One pipeline to one node, timed; a failure is counted against the node.
    private func pipeline(_ node: String, _ commands: [[String]]) async throws -> [RedisReply] {
        let pool = try pool(node)
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            let replies = try await pool.pipeline(commands)
            nodeMetrics[node]?.latency.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
            return replies
        } catch {
            nodeMetrics[node]?.errors.increment()
            throw error
        }
    }

    /// A store on one Redis server.
    public convenience init(pool: RedisConnectionPool) {
        self.init(nodes: ["default": pool], defaultNode: "default")
    }

    public func ping() async throws {
        let commands = nodes.keys.sorted().map { (node: $0, command: ["PING"]) }
        try check(try await round(commands))
    }

    // MARK: - Shards and rounds

    struct Shard {
        let index: Int
        let node: String
        let key: String
        let meta: String
    }

    func shards(_ board: StoredBoard) throws -> [Shard] {
        let count = board.config.layout.shardCount
        return try (0..<count).map { index in
            let node = index < board.placement.count ? board.placement[index] : defaultNode
            guard nodes[node] != nil else { throw RealtimeStoreError.unknownNode(node) }
            return Shard(
                index: index, node: node, key: RedisKeys.realtime(board.config.id, shard: index, of: count),
                meta: RedisKeys.meta(board.config.id, shard: index, of: count)
            )
        }
    }

    /// Sends each node its commands as one pipeline, all nodes at once; replies in input order.
    /// Scripts go as EVALSHA once their digest is known (falling back to EVAL when a node does not
    /// have them, e.g. after a restart), so their text is not sent and hashed on every call.
    func round(_ commands: [(node: String, command: [String])]) async throws -> [RedisReply] {
        let known = digests.withLockedValue { $0 }
        var unknown: Set<String> = []
        let prepared = commands.map { item -> (node: String, command: [String]) in
            guard item.command.first == "EVAL", item.command.count > 1 else { return item }
            guard let digest = known[item.command[1]] else {
                unknown.insert(item.command[1])
                return item
            }
            return (item.node, ["EVALSHA", digest] + item.command.dropFirst(2))
        }
        var replies = try await send(prepared)
        if replies.contains(where: { if case .error(let message) = $0 { message.hasPrefix("NOSCRIPT") } else { false } }) {
            replies = try await send(commands)
        }
        for script in unknown {
            if let digest = try await pool(commands[0].node).command("SCRIPT", "LOAD", script).string {
                digests.withLockedValue { $0[script] = digest }
            }
        }
        return replies
    }

    private let rounds = NIOLockedValueBox(0)
    /// Rounds sent so far (each a parallel set of pipelines, one per node): what a read costs in round trips.
    public var roundsSent: Int { rounds.withLockedValue { $0 } }

    private func send(_ commands: [(node: String, command: [String])]) async throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        rounds.withLockedValue { $0 += 1 }
        var byNode: [String: [Int]] = [:]
        for (index, item) in commands.enumerated() { byNode[item.node, default: []].append(index) }
        if byNode.count == 1, let (node, _) = byNode.first {
            return try await pipeline(node, commands.map(\.command))
        }
        // Every node's pipeline leaves at once (one hop to its connection's event loop each); the
        // replies are collected as they come and the caller resumes once, when the last arrives.
        // The round's connections are all on one event loop (the pools put a connection of every
        // node on every loop), taken in turn, so the round costs one hop there and one back.
        let firstPool = try pool(commands[0].node)
        let loop = firstPool.loops[loopTurn.withLockedValue { turn in
            turn = (turn &+ 1) & Int.max
            return turn
        } % firstPool.loops.count]
        var requests: [(node: String, lane: RedisConnectionPool.Lane, indices: [Int])] = []
        for (node, indices) in byNode { requests.append((node, try await pool(node).lane(on: loop), indices)) }
        let started = DispatchTime.now().uptimeNanoseconds
        let metrics = nodeMetrics
        let total = commands.count
        return try await withCheckedThrowingContinuation { continuation in
            let collector = RoundCollector(count: requests.count, size: total, continuation: continuation)
            RedisConnectionPool.Lane.send(
                requests.map { request in
                    let node = request.node
                    let indices = request.indices
                    return (
                        request.lane, indices.map { commands[$0].command },
                        { result in
                            switch result {
                            case .success(let replies):
                                metrics[node]?.latency.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started))
                                collector.deliver(indices, replies)
                            case .failure(let error):
                                metrics[node]?.errors.increment()
                                collector.fail(error)
                            }
                        }
                    )
                }
            )
        }
    }

    private let loopTurn = NIOLockedValueBox(0)

    private func pool(_ node: String) throws -> RedisConnectionPool {
        guard let pool = nodes[node] else { throw RealtimeStoreError.unknownNode(node) }
        return pool
    }

    // MARK: - Boards

    public func prepareBoard(_ board: StoredBoard, lastEventID: Int64) async throws {
        let shards = try shards(board)
        try check(try await round(shards.map { ($0.node, metaScript(board, $0, lastEventID: lastEventID, emptying: false)) }))
    }

    public func deleteBoard(_ board: StoredBoard) async throws {
        let shards = try shards(board)
        try check(try await round(shards.map { ($0.node, ["DEL", $0.key, $0.meta]) }))
    }

    public func resetBoard(_ board: StoredBoard, lastEventID: Int64) async throws {
        let shards = try shards(board)
        try check(try await round(shards.map { ($0.node, metaScript(board, $0, lastEventID: lastEventID, emptying: true)) }))
    }

    public func lastAppliedEventID(_ board: StoredBoard) async throws -> Int64? {
        let shards = try shards(board)
        let replies = try await round(shards.flatMap { [($0.node, ["EXISTS", $0.meta]), ($0.node, ["HGET", $0.meta, "last_event_id"])] })
        try check(replies)
        var lowest: Int64?
        for index in shards.indices {
            guard replies[2 * index].integer == 1 else { return nil }
            let applied = replies[2 * index + 1].integer ?? 0
            lowest = min(lowest ?? applied, applied)
        }
        return lowest
    }

    public func viewVersions(_ board: StoredBoard) async throws -> [Int64?] {
        let shards = try shards(board)
        let replies = try await round(shards.flatMap { [($0.node, ["EXISTS", $0.meta]), ($0.node, ["HGET", $0.meta, "version"])] })
        try check(replies)
        return shards.indices.map { replies[2 * $0].integer == 1 ? (replies[2 * $0 + 1].integer ?? 0) : nil }
    }

    private func metaFields(_ board: StoredBoard, _ shard: Shard, lastEventID: Int64) -> [String] {
        let config = board.config
        return [
            "name", config.name, "sort_order", config.sortOrder.rawValue, "update_mode", config.updateMode.rawValue,
            "max_entries", String(config.maxEntries), "layout", config.layout.strategy, "epoch", String(board.epoch),
            "shard", String(shard.index), "shards", String(config.layout.shardCount),
            "period", String(board.period), "last_event_id", String(lastEventID),
        ]
    }

    /// Writes a shard's metadata and bumps its version (emptying the shard first for a reset), atomically.
    private func metaScript(_ board: StoredBoard, _ shard: Shard, lastEventID: Int64, emptying: Bool) -> [String] {
        ["EVAL", Scripts.writeMeta, "2", shard.key, shard.meta, emptying ? "1" : "0"] + metaFields(board, shard, lastEventID: lastEventID)
    }

    // MARK: - Writes

    /// Applies each shard's changes atomically (one script per shard), every shard of a changed
    /// board getting the board's last event id, so the lowest id over the shards is what has
    /// been applied everywhere.
    public func apply(_ batch: RealtimeBatch) async throws -> Set<String> {
        var commands: [(node: String, command: [String])] = []
        var owners: [String?] = []
        var gated: [String] = []
        for (id, changes) in batch.boards {
            let board = changes.board
            let router = board.router
            let shards = try shards(board)
            var adds = [[String]](repeating: [], count: shards.count)
            var removals = [[String]](repeating: [], count: shards.count)
            var moves = false
            for change in changes.scores {
                let target = router.shard(player: change.playerID, score: change.score)
                adds[target].append(String(change.score))
                adds[target].append(change.playerID)
                if let previous = change.previous {
                    let origin = router.shard(player: change.playerID, score: previous)
                    if origin != target {
                        removals[origin].append(change.playerID)
                        moves = true
                    }
                }
            }
            for removal in changes.removals {
                removals[router.shard(player: removal.playerID, score: removal.score)].append(removal.playerID)
            }
            for shard in shards {
                commands.append(
                    (
                        shard.node,
                        [
                            "EVAL", Scripts.apply, "2", shard.key, shard.meta, String(changes.lastEventID), board.config.sortOrder.rawValue,
                            String(board.config.maxEntries), String(removals[shard.index].count),
                        ] + removals[shard.index] + adds[shard.index]
                    )
                )
                owners.append(id)
            }
            for (player, username, score) in changes.usernames {
                let shard = shards[router.shard(player: player, score: score)]
                commands.append((shard.node, ["HSET", RedisKeys.playerInfo(player), "username", username]))
                owners.append(nil)
            }
            if moves { gated.append(id) }
        }
        let batchCommands = commands
        let replies = try await gate.withWriting(gated) { try await round(batchCommands) }
        try check(replies)
        return Set(zip(owners, replies).compactMap { owner, reply in reply.integer == -1 ? owner : nil })
    }

    public func rebuild(
        _ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64, ifVersions expected: [Int64?], only: Set<Int>?,
        progress: (@Sendable (Int) -> Void)?
    ) async throws -> Bool {
        let shards = try shards(board).filter { only?.contains($0.index) ?? true }
        let router = board.router
        var perShard = [[LeaderboardEntry]](repeating: [], count: board.config.layout.shardCount)
        for entry in entries {
            let shard = router.shard(player: entry.playerID, score: entry.score)
            if only?.contains(shard) ?? true { perShard[shard].append(entry) }
        }
        var commands: [(node: String, command: [String])] = []
        var switches: [Int] = []
        for shard in shards {
            let staging = RedisKeys.rebuilding(board.config.id, shard: shard.index, attempt: UInt64.random(in: .min ... .max))
            let members = perShard[shard.index]
            for chunk in stride(from: 0, to: members.count, by: chunkSize) {
                var command = ["ZADD", staging]
                command.reserveCapacity(2 + 2 * chunkSize)
                for entry in members[chunk..<min(chunk + chunkSize, members.count)] {
                    command.append(String(entry.score))
                    command.append(entry.playerID)
                }
                commands.append((shard.node, command))
                // An abandoned staging key (a crash mid-rebuild) expires by itself.
                if chunk == 0 { commands.append((shard.node, ["EXPIRE", staging, "3600"])) }
            }
            for entry in members {
                if let username = entry.username {
                    commands.append((shard.node, ["HSET", RedisKeys.playerInfo(entry.playerID), "username", username]))
                }
            }
            let version = shard.index < expected.count ? expected[shard.index] : nil
            switches.append(commands.count)
            commands.append(
                (
                    shard.node,
                    ["EVAL", Scripts.switchRebuilt, "3", staging, shard.key, shard.meta, version.map(String.init) ?? ""]
                        + metaFields(board, shard, lastEventID: lastEventID)
                )
            )
        }
        // The staging writes go in rounds of bounded size (each within the request timeout, however
        // big the board); the switches go last, together.
        let switchSet = Set(switches)
        let staging = commands.indices.filter { !switchSet.contains($0) }.map { commands[$0] }
        var written = 0
        for start in stride(from: 0, to: staging.count, by: 16) {
            let batch = staging[start..<min(start + 16, staging.count)]
            try check(try await round(Array(batch)))
            written += batch.reduce(0) { $0 + ($1.command.first == "ZADD" ? ($1.command.count - 2) / 2 : 0) }
            progress?(written)
        }
        let switching = switches.map { commands[$0] }
        let replies = try await gate.withWriting(router.routesByScore ? [board.config.id] : []) { try await round(switching) }
        try check(replies)
        return replies.allSatisfy { $0.integer == 1 }
    }

    // MARK: - Reconciling

    public func shardMembers(_ board: StoredBoard, shard index: Int, offset: Int, count: Int) async throws -> [RankedMember] {
        let shard = try shards(board)[index]
        let replies = try await round([
            (shard.node, ["EXISTS", shard.meta]), (shard.node, ["ZRANGE", shard.key, String(offset), String(offset + count - 1), "WITHSCORES"]),
        ])
        try check(replies)
        guard replies[0].integer == 1 else { throw RealtimeStoreError.boardMissing(board.config.id) }
        let items = replies[1].array ?? []
        return try stride(from: 0, to: items.count - 1, by: 2).map { position in
            guard let player = items[position].string, let score = items[position + 1].string.flatMap(Self.score) else {
                throw RedisError(.protocolViolation, "unexpected member in a range reply")
            }
            return RankedMember(playerID: player, score: score)
        }
    }

    public func scanChunks(_ board: StoredBoard, shard index: Int, probes: [ShardChunks.Probe]) async throws -> [ShardChunks.Scan] {
        guard !probes.isEmpty else { return [] }
        let shard = try shards(board)[index]
        let commands = probes.map { probe in
            (shard.node, ["EVAL", Scripts.chunkDigests, "2", shard.key, shard.meta, probe.closesAfterLast ? "1" : "0"]
                + probe.bounds.flatMap { [String($0.score), $0.playerID] })
        }
        let replies = try await round(commands)
        try check(replies)
        return try zip(probes, replies).map { probe, reply in
            let items = reply.array ?? []
            guard let size = items.first?.integer else { throw RedisError(.protocolViolation, "unexpected chunk digest reply") }
            if size < 0 { throw RealtimeStoreError.boardMissing(board.config.id) }
            let bounds = probe.bounds.count
            guard items.count == 1 + bounds + (bounds - 1) else { throw RedisError(.protocolViolation, "unexpected chunk digest reply") }
            let positions = try items[1...bounds].map { item -> Int in
                guard let value = item.integer else { throw RedisError(.protocolViolation, "unexpected chunk position") }
                return Int(value)
            }
            let digests = items[(bounds + 1)...].map { $0.string ?? "" }
            return ShardChunks.Scan(size: Int(size), positions: positions, digests: digests)
        }
    }

    public func repair(_ board: StoredBoard, fixes: [ShardFix]) async throws -> Int {
        guard !fixes.isEmpty else { return 0 }
        let shards = try shards(board)
        var commands: [(node: String, command: [String])] = []
        for shard in shards {
            let mine = fixes.filter { $0.shard == shard.index }
            guard !mine.isEmpty else { continue }
            for chunk in stride(from: 0, to: mine.count, by: chunkSize) {
                let arguments = mine[chunk..<min(chunk + chunkSize, mine.count)].flatMap { fix in
                    [fix.playerID, fix.observed.map(String.init) ?? "", fix.target.map(String.init) ?? ""]
                }
                commands.append((shard.node, ["EVAL", Scripts.compareAndSet, "2", shard.key, shard.meta] + arguments))
            }
        }
        let batch = commands
        let replies = try await gate.withWriting(board.router.routesByScore ? [board.config.id] : []) { try await round(batch) }
        try check(replies)
        return replies.reduce(0) { $0 + Int($1.integer ?? 0) }
    }

    // MARK: - Reads

    public func count(_ board: StoredBoard) async throws -> Int {
        try await reading(board) { clip(board, try await sizes(board).reduce(0, +)) }
    }

    public func range(_ board: StoredBoard, start: Int, end: Int) async throws -> LeaderboardPage {
        try await reading(board) {
            let limit = board.config.maxEntries
            let last = limit > 0 ? min(end, limit) : end
            let shards = try shards(board)
            if shards.count == 1 {
                guard start <= last else { return LeaderboardPage(total: clip(board, try await sizes(board)[0]), entries: []) }
                let window = try await readWindow(shards[0], board, first: start - 1, last: last - 1)
                return LeaderboardPage(total: clip(board, window.total), entries: ranked(window.members, from: start))
            }
            if let bands = board.router.bandOrder(board.config.sortOrder) {
                let sizes = try await sizes(board)
                let total = clip(board, sizes.reduce(0, +))
                guard start <= last else { return LeaderboardPage(total: total, entries: []) }
                var reads: [(Shard, Int, Int)] = []
                var offset = 0
                for band in bands {
                    let first = max(start - 1 - offset, 0)
                    let final = min(last - 1 - offset, sizes[band] - 1)
                    if first <= final { reads.append((shards[band], first, final)) }
                    offset += sizes[band]
                }
                let members = try await readWindows(reads, board).flatMap(\.members)
                return LeaderboardPage(total: total, entries: ranked(members, from: start))
            }
            let reader = ShardWindowReader(store: self, board: board, shards: shards)
            guard start <= last else { return LeaderboardPage(total: clip(board, try await reader.cardinalities().reduce(0, +)), entries: []) }
            let result = try await WindowLocator(order: board.config.sortOrder).window(start: start - 1, count: last - start + 1, reader: reader)
            return LeaderboardPage(total: clip(board, result.total), entries: ranked(result.members, from: start))
        }
    }

    public func player(_ board: StoredBoard, playerID: String) async throws -> LeaderboardEntry? {
        try await reading(board) {
            guard let position = try await locate(board, playerID) else { return nil }
            return LeaderboardEntry(rank: position.rank, playerID: playerID, score: position.score, username: position.username)
        }
    }

    public func around(_ board: StoredBoard, playerID: String, radius: Int) async throws -> LeaderboardPage? {
        try await reading(board) {
            let shards = try shards(board)
            if shards.count == 1 {
                let reply = try await round([
                    (
                        shards[0].node,
                        ["EVAL", Scripts.readWindow, "2", shards[0].key, shards[0].meta, board.config.sortOrder.rawValue, "around", playerID, String(radius)]
                    )
                ])[0]
                if case .error(let message) = reply { throw RedisError(.server, message) }
                if let items = reply.array, items.count == 2, items[0].integer == -1 { throw RealtimeStoreError.boardMissing(board.config.id) }
                guard let items = reply.array, items.count >= 2, items[1].integer ?? -1 >= 0 else { return nil }
                let window = try Self.window(from: reply, board: board.config.id)
                guard let rank = window.members.firstIndex(where: { $0.playerID == playerID }).map({ window.first + $0 + 1 }),
                    board.config.maxEntries == 0 || rank <= board.config.maxEntries
                else { return nil }
                let entries = ranked(window.members, from: window.first + 1).filter { board.config.maxEntries == 0 || $0.rank <= board.config.maxEntries }
                return LeaderboardPage(total: clip(board, window.total), entries: entries)
            }
            if board.router.bandOrder(board.config.sortOrder) == nil {
                return try await hashAround(board, shards, playerID: playerID, radius: radius)
            }
            guard let position = try await locate(board, playerID) else { return nil }
            let reads = shards.map { shard in
                (shard, max(position.ahead[shard.index] - radius, 0), position.ahead[shard.index] + radius)
            }
            let merged = board.config.sortOrder.merge(try await readWindows(reads, board).map(\.members))
            guard let center = merged.firstIndex(where: { $0.playerID == playerID }) else {
                throw RedisError(.protocolViolation, "player vanished between rounds")
            }
            let lower = max(center - radius, 0)
            let upper = min(center + radius, merged.count - 1)
            var entries = ranked(Array(merged[lower...upper]), from: position.rank - (center - lower))
            if board.config.maxEntries > 0 { entries = entries.filter { $0.rank <= board.config.maxEntries } }
            return LeaderboardPage(total: clip(board, position.total), entries: entries)
        }
    }

    /// Around on a hash board in two rounds: the player's shard gives its window (and so the
    /// player's score); then every other node, in one script, the members ahead of the player on
    /// each of its shards and the `radius` members either side of that place.
    private func hashAround(_ board: StoredBoard, _ shards: [Shard], playerID: String, radius: Int) async throws -> LeaderboardPage? {
        let order = board.config.sortOrder
        let limit = board.config.maxEntries
        let home = shards[board.router.shard(player: playerID, score: 0)]
        let reply = try await round([
            (home.node, ["EVAL", Scripts.readWindow, "2", home.key, home.meta, order.rawValue, "around", playerID, String(radius)])
        ])[0]
        if case .error(let message) = reply { throw RedisError(.server, message) }
        if let items = reply.array, items.count == 2, items[0].integer == -1 { throw RealtimeStoreError.boardMissing(board.config.id) }
        guard let items = reply.array, items.count >= 2, items[1].integer ?? -1 >= 0 else { return nil }
        let window = try Self.window(from: reply, board: board.config.id)
        guard let index = window.members.firstIndex(where: { $0.playerID == playerID }) else { return nil }
        let player = window.members[index]
        var rank = window.first + index + 1
        var total = window.total
        var lists = [window.members]
        let others = shards.filter { $0.index != home.index }
        let rows = try await perNode(
            board, others, script: Scripts.aroundPivot, arguments: [order.rawValue, String(player.score), playerID, String(radius)]
        ) { items -> (size: Int, ahead: Int, members: [RankedMember]) in
            guard items.count >= 3, let size = items[0].integer, let ahead = items[1].integer, let first = items[2].integer else {
                throw RedisError(.protocolViolation, "unexpected reply of the around script")
            }
            let members = try Self.window(from: .array([.integer(size), .integer(first)] + items[3...]), board: board.config.id).members
            return (Int(size), Int(ahead), members)
        }
        for row in rows {
            total += row.size
            rank += row.ahead
            lists.append(row.members)
        }
        guard limit == 0 || rank <= limit else { return nil }
        let merged = order.merge(lists)
        guard let center = merged.firstIndex(where: { $0.playerID == playerID }) else {
            throw RedisError(.protocolViolation, "player vanished from the merged window")
        }
        let lower = max(center - radius, 0)
        let upper = min(center + radius, merged.count - 1)
        var entries = ranked(Array(merged[lower...upper]), from: rank - (center - lower))
        if limit > 0 { entries = entries.filter { $0.rank <= limit } }
        return LeaderboardPage(total: clip(board, total), entries: entries)
    }

    // MARK: - Read helpers

    /// Where a player stands: its score, 1-based rank, username, the board's size and, per
    /// shard, how many of the shard's members rank ahead of it. Nil when absent or beyond max_entries.
    private func locate(_ board: StoredBoard, _ player: String) async throws
        -> (score: Int64, rank: Int, username: String?, ahead: [Int], total: Int)?
    {
        let shards = try shards(board)
        let order = board.config.sortOrder
        let rankCommand = order == .desc ? "ZREVRANK" : "ZRANK"
        let limit = board.config.maxEntries
        func within(_ rank: Int) -> Bool { limit == 0 || rank <= limit }

        if let bands = board.router.bandOrder(order) {
            // One round: every band's size, and the player's score and rank where it is.
            let replies = try await round(
                shards.flatMap { shard -> [(node: String, command: [String])] in
                    [
                        (shard.node, ["EXISTS", shard.meta]), (shard.node, ["ZCARD", shard.key]), (shard.node, ["ZSCORE", shard.key, player]),
                        (shard.node, [rankCommand, shard.key, player]), (shard.node, ["HGET", RedisKeys.playerInfo(player), "username"]),
                    ]
                }
            )
            try check(replies)
            var sizes: [Int] = []
            var home: (shard: Int, score: Int64, rank: Int, username: String?)?
            for shard in shards {
                let base = 5 * shard.index
                guard replies[base].integer == 1 else { throw RealtimeStoreError.boardMissing(board.config.id) }
                sizes.append(Int(replies[base + 1].integer ?? 0))
                if let score = replies[base + 2].string.flatMap(Self.score), let rank = replies[base + 3].integer {
                    home = (shard.index, score, Int(rank), replies[base + 4].string)
                }
            }
            guard let home else { return nil }
            var ahead = [Int](repeating: 0, count: shards.count)
            var passed = true
            for band in bands {
                if band == home.shard {
                    ahead[band] = home.rank
                    passed = false
                } else if passed {
                    ahead[band] = sizes[band]
                }
            }
            let rank = ahead.reduce(0, +) + 1
            return within(rank) ? (home.score, rank, home.username, ahead, sizes.reduce(0, +)) : nil
        }

        // One sorted set, or hash shards: the player's shard first (one pipeline).
        let home = shards[board.router.shard(player: player, score: 0)]
        let first = try await round([
            (home.node, ["EXISTS", home.meta]), (home.node, ["ZSCORE", home.key, player]), (home.node, [rankCommand, home.key, player]),
            (home.node, ["HGET", RedisKeys.playerInfo(player), "username"]), (home.node, ["ZCARD", home.key]),
        ])
        try check(first)
        guard first[0].integer == 1 else { throw RealtimeStoreError.boardMissing(board.config.id) }
        guard let score = first[1].string.flatMap(Self.score), let ownRank = first[2].integer else { return nil }
        var ahead = [Int](repeating: 0, count: shards.count)
        ahead[home.index] = Int(ownRank)
        var total = Int(first[4].integer ?? 0)
        let others = shards.filter { $0.index != home.index }
        if !others.isEmpty {
            for (shard, row) in zip(others, try await plainCountsAhead(board, others, of: RankedMember(playerID: player, score: score))) {
                total += row.size
                ahead[shard.index] = row.ahead
            }
        }
        let rank = ahead.reduce(0, +) + 1
        return within(rank) ? (score, rank, first[3].string, ahead, total) : nil
    }

    /// Most equal scores a shard reports by name when counting ahead with plain commands.
    private static let tiesListed = 64

    /// For each shard, its size and how many of its members rank ahead of `pivot`, with plain
    /// commands (no script): the members with a better score, and those with the pivot's score
    /// listed (usually a handful) so the tie rule is applied here. A shard with more ties than
    /// ``tiesListed`` is counted by the tie-rule script in a second round.
    func plainCountsAhead(_ board: StoredBoard, _ shards: [Shard], of pivot: RankedMember) async throws -> [(size: Int, ahead: Int)] {
        let order = board.config.sortOrder
        let score = String(pivot.score)
        let better = order == .desc ? ["(" + score, "+inf"] : ["-inf", "(" + score]
        let replies = try await round(
            shards.flatMap { shard -> [(node: String, command: [String])] in
                [
                    (shard.node, ["EXISTS", shard.meta]), (shard.node, ["ZCARD", shard.key]), (shard.node, ["ZCOUNT", shard.key] + better),
                    (shard.node, ["ZRANGEBYSCORE", shard.key, score, score, "LIMIT", "0", String(Self.tiesListed + 1)]),
                ]
            }
        )
        try check(replies)
        var rows: [(size: Int, ahead: Int)] = []
        var crowded: [Int] = []
        for (offset, _) in shards.enumerated() {
            let base = 4 * offset
            guard replies[base].integer == 1 else { throw RealtimeStoreError.boardMissing(board.config.id) }
            let ties = replies[base + 3].array ?? []
            if ties.count > Self.tiesListed { crowded.append(offset) }
            let tiedAhead = ties.reduce(0) { count, item in
                guard let id = item.string else { return count }
                return order.precedes((pivot.score, id), (pivot.score, pivot.playerID)) ? count + 1 : count
            }
            rows.append((Int(replies[base + 1].integer ?? 0), Int(replies[base + 2].integer ?? 0) + tiedAhead))
        }
        if !crowded.isEmpty {
            let exact = try await countsAhead(board, crowded.map { shards[$0] }, pivots: [pivot])
            for (offset, row) in zip(crowded, exact) { rows[offset] = (row.size, row.counts[0]) }
        }
        return rows
    }

    /// For each of `shards`, its size and how many of its members rank ahead of each pivot: one
    /// script call per node, all nodes at once.
    func countsAhead(_ board: StoredBoard, _ shards: [Shard], pivots: [RankedMember]) async throws -> [(size: Int, counts: [Int])] {
        let arguments = [board.config.sortOrder.rawValue] + pivots.flatMap { [String($0.score), $0.playerID] }
        return try await perNode(board, shards, script: Scripts.countAhead, arguments: arguments) { items in
            let values = items.compactMap(\.integer)
            guard values.count == items.count, values.count == pivots.count + 1 else {
                throw RedisError(.protocolViolation, "unexpected reply of the count script")
            }
            return (Int(values[0]), values.dropFirst().map { Int($0) })
        }
    }

    /// Runs `script` once per node over the given shards of the board (KEYS = zset, meta of each
    /// of the node's shards), all nodes at once, and decodes each shard's part of the reply; a
    /// shard whose part is {-1} lost its metadata.
    func perNode<T>(
        _ board: StoredBoard, _ shards: [Shard], script: String, arguments: [String], decode: ([RedisReply]) throws -> T
    ) async throws -> [T] {
        var byNode: [String: [Shard]] = [:]
        for shard in shards { byNode[shard.node, default: []].append(shard) }
        let nodesInOrder = byNode.keys.sorted()
        let replies = try await round(
            nodesInOrder.map { node in
                let keys = byNode[node]!.flatMap { [$0.key, $0.meta] }
                return (node, ["EVAL", script, String(keys.count)] + keys + arguments)
            }
        )
        try check(replies)
        var answers: [Int: T] = [:]
        for (node, reply) in zip(nodesInOrder, replies) {
            guard let perShard = reply.array, perShard.count == byNode[node]!.count else {
                throw RedisError(.protocolViolation, "unexpected reply of a per-node script")
            }
            for (shard, item) in zip(byNode[node]!, perShard) {
                let items = item.array ?? []
                if items.count == 1, items[0].integer == -1 { throw RealtimeStoreError.boardMissing(board.config.id) }
                answers[shard.index] = try decode(items)
            }
        }
        return shards.map { answers[$0.index]! }
    }

    /// The last board size a deep range read saw, as the next one's estimate (only a hint: a
    /// wrong one costs rounds, never correctness).
    private let sizeHints = NIOLockedValueBox<[String: Int]>([:])

    func boardSizeHint(_ board: String) -> Int? { sizeHints.withLockedValue { $0[board] } }

    func noteBoardSize(_ board: String, _ size: Int) {
        sizeHints.withLockedValue { hints in
            if hints.count > 10_000 { hints.removeAll() }
            hints[board] = size
        }
    }

    /// Shard-local positions first…last (inclusive) of several shards, scores only (no usernames), in one round.
    func plainWindows(_ reads: [(Shard, Int, Int)], _ board: StoredBoard) async throws -> [[RankedMember]] {
        let command = board.config.sortOrder == .desc ? "ZREVRANGE" : "ZRANGE"
        let replies = try await round(
            reads.flatMap { shard, first, last -> [(node: String, command: [String])] in
                [(shard.node, ["EXISTS", shard.meta]), (shard.node, [command, shard.key, String(first), String(last), "WITHSCORES"])]
            }
        )
        try check(replies)
        return try reads.indices.map { index in
            guard replies[2 * index].integer == 1 else { throw RealtimeStoreError.boardMissing(board.config.id) }
            let items = replies[2 * index + 1].array ?? []
            return try stride(from: 0, to: items.count - 1, by: 2).map { position in
                guard let player = items[position].string, let score = items[position + 1].string.flatMap(Self.score) else {
                    throw RedisError(.protocolViolation, "unexpected member in a range reply")
                }
                return RankedMember(playerID: player, score: score)
            }
        }
    }

    /// Members per shard (every shard's metadata must be there).
    func sizes(_ board: StoredBoard) async throws -> [Int] {
        let shards = try shards(board)
        let replies = try await round(shards.flatMap { [($0.node, ["EXISTS", $0.meta]), ($0.node, ["ZCARD", $0.key])] })
        try check(replies)
        return try shards.indices.map { index in
            guard replies[2 * index].integer == 1 else { throw RealtimeStoreError.boardMissing(board.config.id) }
            return Int(replies[2 * index + 1].integer ?? 0)
        }
    }

    /// Reads shard-local positions first…last (inclusive) of several shards in one round.
    func readWindows(_ reads: [(Shard, Int, Int)], _ board: StoredBoard) async throws -> [(total: Int, first: Int, members: [RankedMember])] {
        let replies = try await round(
            reads.map { shard, first, last in
                (
                    shard.node,
                    ["EVAL", Scripts.readWindow, "2", shard.key, shard.meta, board.config.sortOrder.rawValue, "range", String(first), String(last)]
                )
            }
        )
        return try replies.map { try Self.window(from: $0, board: board.config.id) }
    }

    private func readWindow(_ shard: Shard, _ board: StoredBoard, first: Int, last: Int) async throws -> (total: Int, first: Int, members: [RankedMember]) {
        try await readWindows([(shard, first, last)], board)[0]
    }

    /// Runs a read, behind the board's gate when it is a band board (players may move between shards).
    private func reading<T: Sendable>(_ board: StoredBoard, _ body: () async throws -> T) async throws -> T {
        board.router.routesByScore ? try await gate.withReading(board.config.id, body) : try await body()
    }

    private func clip(_ board: StoredBoard, _ total: Int) -> Int {
        board.config.maxEntries > 0 ? min(total, board.config.maxEntries) : total
    }

    private func ranked(_ members: [RankedMember], from rank: Int) -> [LeaderboardEntry] {
        members.enumerated().map { LeaderboardEntry(rank: rank + $0.offset, playerID: $0.element.playerID, score: $0.element.score, username: $0.element.username) }
    }

    /// Decodes `{total, first, member, score, username, …}` from the window script.
    static func window(from reply: RedisReply, board: String) throws -> (total: Int, first: Int, members: [RankedMember]) {
        if case .error(let message) = reply { throw RedisError(.server, message) }
        if let items = reply.array, items.count == 2, items[0].integer == -1 { throw RealtimeStoreError.boardMissing(board) }
        guard let items = reply.array, items.count >= 2, let total = items[0].integer, let first = items[1].integer, (items.count - 2) % 3 == 0 else {
            throw RedisError(.protocolViolation, "unexpected reply of the window script")
        }
        var members: [RankedMember] = []
        members.reserveCapacity((items.count - 2) / 3)
        var index = 2
        while index < items.count {
            guard let player = items[index].string, let score = items[index + 1].string.flatMap(Self.score) else {
                throw RedisError(.protocolViolation, "unexpected entry in the window script's reply")
            }
            let username = items[index + 2].string.flatMap { $0.isEmpty ? nil : $0 }
            members.append(RankedMember(playerID: player, score: score, username: username))
            index += 3
        }
        return (Int(total), Int(first), members)
    }

    /// Redis prints scores as doubles; every stored score is an integer of at most 2^53 − 1.
    static func score(_ text: String) -> Int64? {
        if let value = Int64(text) { return value }
        guard let value = Double(text), value.rounded() == value, abs(value) <= Double(ScoreRange.maximum) else { return nil }
        return Int64(value)
    }

    /// Throws the first error reply.
    func check(_ replies: [RedisReply]) throws {
        for reply in replies {
            if case .error(let message) = reply { throw RedisError(.server, message) }
        }
    }
}

/// ``WindowLocator``'s view of a hash board's shards, each call one round.
struct ShardWindowReader: ShardReader {
    let store: RedisRealtimeStore
    let board: StoredBoard
    let shards: [RedisRealtimeStore.Shard]

    func cardinalities() async throws -> [Int] { try await store.sizes(board) }

    func members(at positions: [Int?]) async throws -> [RankedMember?] {
        let asked = zip(shards, positions).compactMap { shard, position in position.map { (shard, $0, $0) } }
        let windows = try await store.plainWindows(asked, board)
        var answers = [RankedMember?](repeating: nil, count: shards.count)
        for ((shard, _, _), window) in zip(asked, windows) { answers[shard.index] = window.first }
        return answers
    }

    func countsAhead(of pivots: [RankedMember]) async throws -> [[Int]] {
        try await store.countsAhead(board, shards, pivots: pivots).map(\.counts)
    }

    var shardCount: Int { shards.count }

    func probe(start: Int, spacing: Int, count: Int) async throws -> [ShardProbe] {
        let hint = store.boardSizeHint(board.config.id)
        let probes = try await store.perNode(
            board, shards, script: Scripts.probe,
            arguments: [board.config.sortOrder.rawValue, String(start), String(hint ?? 0), String(shards.count), String(spacing), String(count)]
        ) { items in
            guard let size = items.first?.integer, (items.count - 1) % 3 == 0 else { throw RedisError(.protocolViolation, "unexpected reply of the probe script") }
            var members: [(position: Int, member: RankedMember)] = []
            var index = 1
            while index < items.count {
                guard let position = items[index].integer, let player = items[index + 1].string,
                    let score = items[index + 2].string.flatMap(RedisRealtimeStore.score)
                else { throw RedisError(.protocolViolation, "unexpected member in the probe script's reply") }
                members.append((Int(position), RankedMember(playerID: player, score: score)))
                index += 3
            }
            return ShardProbe(size: Int(size), members: members)
        }
        store.noteBoardSize(board.config.id, probes.reduce(0) { $0 + $1.size })
        return probes
    }

    func scoreCounts(of scores: [Int64]) async throws -> [[ScoreCount]] {
        try await store.perNode(board, shards, script: Scripts.countBounds, arguments: [board.config.sortOrder.rawValue] + scores.map(String.init)) { items in
            let values = items.compactMap(\.integer)
            guard values.count == items.count, values.count == 1 + 2 * scores.count else {
                throw RedisError(.protocolViolation, "unexpected reply of the count script")
            }
            return scores.indices.map { ScoreCount(better: Int(values[1 + 2 * $0]), equal: Int(values[2 + 2 * $0])) }
        }
    }

    func members(in ranges: [Range<Int>]) async throws -> (sizes: [Int?], lists: [[RankedMember]]) {
        let asked = zip(shards, ranges).filter { !$0.1.isEmpty }.map { ($0.0, $0.1.lowerBound, $0.1.upperBound - 1) }
        let windows = try await store.readWindows(asked, board)
        var sizes = [Int?](repeating: nil, count: shards.count)
        var lists = [[RankedMember]](repeating: [], count: shards.count)
        for ((shard, _, _), window) in zip(asked, windows) {
            sizes[shard.index] = window.total
            lists[shard.index] = window.members
        }
        return (sizes, lists)
    }
}

/// Gathers the replies of one round's pipelines (each delivered on its connection's event loop)
/// and resumes the waiting caller once: with every reply in place, or with the first failure.
private final class RoundCollector: Sendable {
    private struct State {
        var pending: Int
        var replies: [RedisReply]
        var continuation: CheckedContinuation<[RedisReply], any Error>?
    }

    private let state: NIOLockedValueBox<State>

    init(count: Int, size: Int, continuation: CheckedContinuation<[RedisReply], any Error>) {
        state = NIOLockedValueBox(State(pending: count, replies: [RedisReply](repeating: .null, count: size), continuation: continuation))
    }

    func deliver(_ indices: [Int], _ answers: [RedisReply]) {
        let finished = state.withLockedValue { state -> (CheckedContinuation<[RedisReply], any Error>, [RedisReply])? in
            guard state.continuation != nil else { return nil }
            for (index, answer) in zip(indices, answers) { state.replies[index] = answer }
            state.pending -= 1
            guard state.pending == 0, let continuation = state.continuation else { return nil }
            state.continuation = nil
            return (continuation, state.replies)
        }
        if let (continuation, replies) = finished { continuation.resume(returning: replies) }
    }

    func fail(_ error: any Error) {
        let waiting = state.withLockedValue { state -> CheckedContinuation<[RedisReply], any Error>? in
            defer { state.continuation = nil }
            return state.continuation
        }
        waiting?.resume(throwing: error)
    }
}
