import LeaderboardCore
import RedisClient

/// Reads of a board split by hash of the player id: a rank is the player's shard's rank plus
/// every other shard's count ahead of its score (two rounds); ranges merge per-shard windows,
/// located by counts when deep (``WindowLocator``); around counts ahead on every shard and reads
/// about that place (two rounds).
struct HashShardReads: ShardReads {
    let context: ReadContext

    func count() async throws -> Int { context.clip(try await context.sizes().reduce(0, +)) }

    func range(start: Int, end: Int) async throws -> LeaderboardPage {
        let limit = context.board.config.maxEntries
        let last = limit > 0 ? min(end, limit) : end
        guard start <= last else { return LeaderboardPage(total: try await count(), entries: []) }
        let locator = WindowLocator(order: context.order)
        let count = last - start + 1
        // A deep window searched for is fetched without usernames (most members fetched are not
        // in it: about 290 for 50 on 8 shards), then its own members' names are read (one round).
        let deep = start - 1 + count > locator.directFetchLimit
        let reader = ShardWindowReader(context: context, withNames: !deep)
        let store = context.store
        let guess = store.spanHint(context.id, start: start - 1, count: count)
        var result: WindowLocator.Located
        do {
            result = try await locator.window(start: start - 1, count: count, reader: reader, near: guess)
            if deep, result.answeredBySpan != true { result.members = try await context.withUsernames(result.members) }
        } catch {
            // The read is redone (the board moved, or a node failed): not with this span again.
            if guess != nil { store.noteSpan(context.id, used: guess, found: nil, hit: nil) }
            throw error
        }
        store.noteSpan(context.id, used: result.answeredBySpan == nil ? nil : guess, found: result.span, hit: result.answeredBySpan)
        return LeaderboardPage(total: context.clip(result.total), entries: context.ranked(result.members, from: start))
    }

    func candidateShards(_ playerID: String) -> [RedisRealtimeStore.Shard] {
        [context.shards[context.board.router.shard(player: playerID, score: 0)]]
    }

    /// The player's shard gives its score and rank there, every other shard its count ahead of
    /// that score. With a hint of the score (the one this process last read), both in one round:
    /// the counts stand when the score read in that round is the hint (one state, one pivot);
    /// otherwise the others are counted again with the score read (a second round, as without a hint).
    func player(_ playerID: String) async throws -> PlayerStanding? {
        let home = context.shards[context.board.router.shard(player: playerID, score: 0)]
        let others = context.shards.filter { $0.index != home.index }
        let store = context.store
        var counted: [(size: Int, ahead: Int)]?
        let own: ReadContext.OwnEntry?
        if let hint = store.scoreHint(context.id, playerID) {
            let pivot = RankedMember(playerID: context.board.member(playerID, tie: hint.tie), score: hint.score)
            let ownCommands = context.ownEntryCommands(home, playerID)
            let replies = try await context.round(ownCommands + context.plainCountCommands(others, of: pivot), watching: context.shards)
            try RedisReplies.check(replies)
            own = try context.ownEntry(from: replies.prefix(ownCommands.count), playerID)
            // The counts stand when the pivot they counted ahead of is the player's member read in that round.
            if let own, own.score == pivot.score, own.member == pivot.playerID {
                counted = try await context.plainCounts(others, of: pivot, from: replies.dropFirst(ownCommands.count))
            }
        } else {
            own = try await context.ownEntry(home, playerID)
        }
        store.noteScore(context.id, playerID, own?.score, tie: own.flatMap { context.board.split($0.member)?.tie } ?? 0)
        guard let own else { return nil }
        let rows: [(size: Int, ahead: Int)]
        if let counted { rows = counted } else { rows = try await context.plainCountsAhead(others, of: RankedMember(playerID: own.member, score: own.score)) }
        var rank = own.rank + 1
        var total = own.shardSize
        for row in rows {
            rank += row.ahead
            total += row.size
        }
        let limit = context.board.config.maxEntries
        guard limit == 0 || rank <= limit else { return nil }
        return PlayerStanding(
            entry: LeaderboardEntry(rank: rank, playerID: playerID, score: own.score, username: own.username), total: context.clip(total)
        )
    }

    /// Two rounds: the player's shard gives its window (and so the player's score); then every
    /// other node, in one script, the members ahead of the player on each of its shards and the
    /// `radius` members either side of that place.
    func around(_ playerID: String, radius: Int) async throws -> LeaderboardPage? {
        let order = context.order
        let home = context.shards[context.board.router.shard(player: playerID, score: 0)]
        let reply = try await context.round(
            [context.aroundCommand(home, playerID, radius: radius)],
            watching: [home]
        )[0]
        if case .error(let message) = reply { throw RedisError(.server, message) }
        guard let items = reply.array, items.count >= 2, items[1].integer ?? -1 >= 0 else { return nil }
        let window = try RedisReplies.window(from: reply, board: context.id)
        guard let index = context.position(of: playerID, in: window.members) else { return nil }
        let player = window.members[index]
        var rank = window.first + index + 1
        var total = window.total
        var lists = [window.members]
        let others = context.shards.filter { $0.index != home.index }
        let rows = try await context.perNode(
            others, script: Scripts.aroundPivot,
            arguments: [order.rawValue, String(player.score), player.playerID, String(radius), context.memberPrefix, context.store.onCluster ? "1" : ""],
            withNames: context.store.onCluster
        ) { items -> (size: Int, ahead: Int, members: [RankedMember]) in
            guard items.count >= 3, let size = items[0].integer, let ahead = items[1].integer, let first = items[2].integer,
                size >= 0, ahead >= 0, ahead <= size
            else {
                throw RedisError(.protocolViolation, "unexpected reply of the around script")
            }
            let members = try RedisReplies.window(from: .array([.integer(size), .integer(first)] + items[3...]), board: context.id).members
            return (Int(size), Int(ahead), members)
        }
        for row in rows {
            total += row.size
            rank += row.ahead
            lists.append(row.members)
        }
        let limit = context.board.config.maxEntries
        guard limit == 0 || rank <= limit else { return nil }
        let merged = order.merge(lists)
        guard let center = merged.firstIndex(where: { $0.playerID == player.playerID }) else { throw ViewMoved() }
        return LeaderboardPage(total: context.clip(total), entries: context.window(merged, center: center, rank: rank, radius: radius))
    }
}

/// ``WindowLocator``'s view of a hash board's shards, each call one round of the read's attempt.
struct ShardWindowReader: ShardReader {
    let context: ReadContext
    /// Whether `members(in:)` reads usernames too (the window script), or only members, scores
    /// and sizes (plain commands).
    var withNames = true
    var shards: [RedisRealtimeStore.Shard] { context.shards }
    var shardCount: Int { shards.count }

    func cardinalities() async throws -> [Int] { try await context.sizes() }

    func members(at positions: [Int?]) async throws -> [RankedMember?] {
        let asked = zip(shards, positions).compactMap { shard, position in position.map { (shard, max($0, 0), max($0, 0)) } }
        let windows = try await context.plainWindows(asked)
        var answers = [RankedMember?](repeating: nil, count: shards.count)
        for ((shard, _, _), window) in zip(asked, windows) { answers[shard.index] = window.first }
        return answers
    }

    func countsAhead(of pivots: [RankedMember]) async throws -> [[Int]] {
        try await context.countsAhead(shards, pivots: pivots).map(\.counts)
    }

    func probe(start: Int, spacing: Int, count: Int) async throws -> [ShardProbe] {
        let store = context.store
        let id = context.id
        let hint = store.boardSizeHint(id)
        let probes = try await context.perNode(
            shards, script: Scripts.probe,
            arguments: [context.order.rawValue, String(start), String(hint ?? 0), String(shards.count), String(spacing), String(count)]
        ) { items in
            guard let size = items.first?.integer, size >= 0, (items.count - 1) % 3 == 0 else {
                throw RedisError(.protocolViolation, "unexpected reply of the probe script")
            }
            var members: [(position: Int, member: RankedMember)] = []
            var index = 1
            while index < items.count {
                guard let position = items[index].integer, position >= 0, position < size, let player = items[index + 1].string,
                    let score = items[index + 2].string.flatMap(RedisReplies.score)
                else { throw RedisError(.protocolViolation, "unexpected member in the probe script's reply") }
                members.append((Int(position), RankedMember(playerID: player, score: score)))
                index += 3
            }
            return ShardProbe(size: Int(size), members: members)
        }
        store.noteBoardSize(id, probes.reduce(0) { $0 + $1.size })
        return probes
    }

    func scoreCounts(of scores: [Int64]) async throws -> [[ScoreCount]] {
        try await context.scoreCounts(shards, of: scores)
    }

    func members(scoredFrom from: Int64, to: Int64, limit: Int) async throws -> [ShardSpan] {
        try await context.scoreWindows(shards, from: from, to: to, limit: limit)
    }

    func members(in ranges: [Range<Int>]) async throws -> (sizes: [Int?], lists: [[RankedMember]]) {
        let asked = zip(shards, ranges).filter { !$0.1.isEmpty }.map { ($0.0, $0.1.lowerBound, $0.1.upperBound - 1) }
        guard withNames else {
            // Plain commands: each range with its scores, and the shard's size.
            let replies = try await context.round(
                asked.flatMap { shard, first, last in [context.rangeCommand(shard, first, last), (shard.node, ["ZCARD", shard.key])] },
                watching: asked.map(\.0)
            )
            try RedisReplies.check(replies)
            guard replies.count == 2 * asked.count else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
            var sizes = [Int?](repeating: nil, count: shards.count)
            var lists = [[RankedMember]](repeating: [], count: shards.count)
            for (index, (shard, _, _)) in asked.enumerated() {
                lists[shard.index] = try RedisReplies.members(replies[2 * index])
                sizes[shard.index] = try RedisReplies.count(replies[2 * index + 1])
            }
            return (sizes, lists)
        }
        let windows = try await context.readWindows(asked)
        var sizes = [Int?](repeating: nil, count: shards.count)
        var lists = [[RankedMember]](repeating: [], count: shards.count)
        for ((shard, _, _), window) in zip(asked, windows) {
            sizes[shard.index] = window.total
            lists[shard.index] = window.members
        }
        return (sizes, lists)
    }
}
