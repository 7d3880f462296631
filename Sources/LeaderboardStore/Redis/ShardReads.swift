import LeaderboardCore
import RedisClient

/// The reads of one layout, for one attempt of a read: every round goes through
/// ``ReadContext/round(_:watching:)``, so the attempt fails with ``ViewMoved`` when it saw two
/// states of the board, and the store tries again.
protocol ShardReads: Sendable {
    /// Number of ranked players.
    func count() async throws -> Int
    /// Ranks start…end (1-based, inclusive) and the number of ranked players.
    func range(start: Int, end: Int) async throws -> LeaderboardPage
    /// The player's entry, nil when not on the board.
    func player(_ playerID: String) async throws -> LeaderboardEntry?
    /// Ranks r−radius … r+radius around the player (clipped), nil when not on the board.
    func around(_ playerID: String, radius: Int) async throws -> LeaderboardPage?
}

/// What every layout's reads share: the board, its shards, the attempt's ``ViewCheck``, and the
/// rounds they are built from.
struct ReadContext: Sendable {
    let store: RedisRealtimeStore
    let board: StoredBoard
    let shards: [RedisRealtimeStore.Shard]
    let check: ViewCheck

    var id: String { board.config.id }
    var order: SortOrder { board.config.sortOrder }

    func round(_ commands: [(node: String, command: [String])], watching: [RedisRealtimeStore.Shard]) async throws -> [RedisReply] {
        try await store.watchedRound(commands, watching: watching, check: check)
    }

    /// Members per shard.
    func sizes() async throws -> [Int] {
        let replies = try await round(shards.map { ($0.node, ["ZCARD", $0.key]) }, watching: shards)
        try RedisReplies.check(replies)
        return try replies.map { try RedisReplies.count($0) }
    }

    /// Shard-local positions first…last (inclusive) of several shards in one round, with usernames.
    func readWindows(_ reads: [(RedisRealtimeStore.Shard, Int, Int)]) async throws -> [(total: Int, first: Int, members: [RankedMember])] {
        let replies = try await round(
            reads.map { shard, first, last in
                (shard.node, ["EVAL", Scripts.readWindow, "2", shard.key, shard.meta, order.rawValue, "range", String(first), String(last)])
            },
            watching: reads.map(\.0)
        )
        return try replies.map { try RedisReplies.window(from: $0, board: id) }
    }

    /// Shard-local positions first…last (inclusive) of several shards, scores only, in one round.
    func plainWindows(_ reads: [(RedisRealtimeStore.Shard, Int, Int)]) async throws -> [[RankedMember]] {
        let command = order == .desc ? "ZREVRANGE" : "ZRANGE"
        let replies = try await round(
            reads.map { shard, first, last in (shard.node, [command, shard.key, String(first), String(last), "WITHSCORES"]) },
            watching: reads.map(\.0)
        )
        try RedisReplies.check(replies)
        return try replies.map { try RedisReplies.members($0) }
    }

    /// Runs `script` once per node over the given shards (KEYS = zset, meta of each of the node's
    /// shards), all nodes at once, and decodes each shard's part of the reply; a shard whose part
    /// is {-1} lost its metadata.
    func perNode<T>(
        _ shards: [RedisRealtimeStore.Shard], script: String, arguments: [String], decode: ([RedisReply]) throws -> T
    ) async throws -> [T] {
        var byNode: [String: [RedisRealtimeStore.Shard]] = [:]
        for shard in shards { byNode[shard.node, default: []].append(shard) }
        let nodesInOrder = byNode.keys.sorted()
        let replies = try await round(
            nodesInOrder.map { node in
                let keys = byNode[node]!.flatMap { [$0.key, $0.meta] }
                return (node, ["EVAL", script, String(keys.count)] + keys + arguments)
            },
            watching: shards
        )
        try RedisReplies.check(replies)
        var answers: [Int: T] = [:]
        for (node, reply) in zip(nodesInOrder, replies) {
            guard let perShard = reply.array, perShard.count == byNode[node]!.count else {
                throw RedisError(.protocolViolation, "unexpected reply of a per-node script")
            }
            for (shard, item) in zip(byNode[node]!, perShard) {
                let items = item.array ?? []
                if items.count == 1, items[0].integer == -1 { throw RealtimeStoreError.boardMissing(id) }
                answers[shard.index] = try decode(items)
            }
        }
        return try shards.map { shard in
            guard let answer = answers[shard.index] else { throw RedisError(.protocolViolation, "a per-node script left out a shard") }
            return answer
        }
    }

    /// For each of `shards`, its size and how many of its members rank ahead of each pivot (the
    /// tie-rule script), one call per node, all nodes at once.
    func countsAhead(_ shards: [RedisRealtimeStore.Shard], pivots: [RankedMember]) async throws -> [(size: Int, counts: [Int])] {
        let arguments = [order.rawValue] + pivots.flatMap { [String($0.score), $0.playerID] }
        return try await perNode(shards, script: Scripts.countAhead, arguments: arguments) { items in
            let values = items.compactMap(\.integer)
            guard values.count == items.count, values.count == pivots.count + 1, values.allSatisfy({ $0 >= 0 }) else {
                throw RedisError(.protocolViolation, "unexpected reply of the count script")
            }
            return (Int(values[0]), values.dropFirst().map { Int($0) })
        }
    }

    /// Most equal scores a shard reports by name when counting ahead with plain commands.
    static let tiesListed = 64

    /// For each shard, its size and how many of its members rank ahead of `pivot`, with plain
    /// commands (no script): the members with a better score, and those with the pivot's score
    /// listed (usually a handful) so the tie rule is applied here. A shard with more ties than
    /// ``tiesListed`` is counted by the tie-rule script in a second round.
    func plainCountsAhead(_ shards: [RedisRealtimeStore.Shard], of pivot: RankedMember) async throws -> [(size: Int, ahead: Int)] {
        let score = String(pivot.score)
        let better = order == .desc ? ["(" + score, "+inf"] : ["-inf", "(" + score]
        let replies = try await round(
            shards.flatMap { shard -> [(node: String, command: [String])] in
                [
                    (shard.node, ["ZCARD", shard.key]), (shard.node, ["ZCOUNT", shard.key] + better),
                    (shard.node, ["ZRANGEBYSCORE", shard.key, score, score, "LIMIT", "0", String(Self.tiesListed + 1)]),
                ]
            },
            watching: shards
        )
        try RedisReplies.check(replies)
        var rows: [(size: Int, ahead: Int)] = []
        var crowded: [Int] = []
        for offset in shards.indices {
            let base = 3 * offset
            let ties = replies[base + 2].array ?? []
            if ties.count > Self.tiesListed { crowded.append(offset) }
            let tiedAhead = ties.reduce(0) { count, item in
                guard let id = item.string else { return count }
                return order.precedes((pivot.score, id), (pivot.score, pivot.playerID)) ? count + 1 : count
            }
            rows.append((try RedisReplies.count(replies[base]), try RedisReplies.count(replies[base + 1]) + tiedAhead))
        }
        if !crowded.isEmpty {
            let exact = try await countsAhead(crowded.map { shards[$0] }, pivots: [pivot])
            for (offset, row) in zip(crowded, exact) { rows[offset] = (row.size, row.counts[0]) }
        }
        return rows
    }

    /// The player on one shard: its score, 0-based rank there and username; nil when absent.
    func ownEntry(_ shard: RedisRealtimeStore.Shard, _ playerID: String) async throws -> (score: Int64, rank: Int, username: String?)? {
        let rankCommand = order == .desc ? "ZREVRANK" : "ZRANK"
        let replies = try await round(
            [
                (shard.node, ["ZSCORE", shard.key, playerID]), (shard.node, [rankCommand, shard.key, playerID]),
                (shard.node, ["HGET", RedisKeys.playerInfo(playerID), "username"]),
            ],
            watching: [shard]
        )
        try RedisReplies.check(replies)
        guard let score = replies[0].string.flatMap(RedisReplies.score), replies[1].integer != nil else { return nil }
        return (score, try RedisReplies.count(replies[1]), replies[2].string)
    }

    func clip(_ total: Int) -> Int {
        board.config.maxEntries > 0 ? min(total, board.config.maxEntries) : total
    }

    func ranked(_ members: [RankedMember], from rank: Int) -> [LeaderboardEntry] {
        members.enumerated().map {
            LeaderboardEntry(rank: rank + $0.offset, playerID: $0.element.playerID, score: $0.element.score, username: $0.element.username)
        }
    }

    /// The entries of `merged` within `radius` of the player (at `center` in it, ranked `rank`).
    func window(_ merged: [RankedMember], center: Int, rank: Int, radius: Int) -> [LeaderboardEntry] {
        let lower = max(center - radius, 0)
        let upper = min(center + radius, merged.count - 1)
        var entries = ranked(Array(merged[lower...upper]), from: rank - (center - lower))
        if board.config.maxEntries > 0 { entries = entries.filter { $0.rank <= board.config.maxEntries } }
        return entries
    }
}
