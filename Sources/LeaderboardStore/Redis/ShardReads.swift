import LeaderboardCore
import RedisClient

/// The reads of one layout, for one attempt of a read: every round goes through
/// ``ReadContext/round(_:watching:)``, so the attempt fails with ``ViewMoved`` when it saw two
/// states of the board, and the store tries again.
protocol ShardReads: Sendable {
    /// The attempt's board, shards and rounds.
    var context: ReadContext { get }
    /// Number of ranked players.
    func count() async throws -> Int
    /// Ranks start…end (1-based, inclusive) and the number of ranked players.
    func range(start: Int, end: Int) async throws -> LeaderboardPage
    /// The player's entry and the number of ranked players, nil when not on the board.
    func player(_ playerID: String) async throws -> PlayerStanding?
    /// Ranks r−radius … r+radius around the player (clipped), nil when not on the board.
    func around(_ playerID: String, radius: Int) async throws -> LeaderboardPage?
    /// The shards a player may be on (without its score): the one it hashes to, or every band.
    func candidateShards(_ playerID: String) -> [RedisRealtimeStore.Shard]
}

extension ShardReads {
    /// The players of `ids` on the board, in board order with global ranks (see ``ReadContext/players(_:candidates:)``).
    func players(_ ids: [String]) async throws -> LeaderboardPage {
        try await context.players(ids, candidates: candidateShards)
    }
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
    /// Bytes before the player id in the board's members (their tie prefix), as scripts take it.
    var memberPrefix: String { board.hasTiePrefix ? String(MemberCodec.prefixLength) : "0" }

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
            reads.map { shard, first, last in windowScript(shard, mode: "range", String(first), String(last)) },
            watching: reads.map(\.0)
        )
        return try replies.map { try RedisReplies.window(from: $0, board: id) }
    }

    /// The window script on `shard` in `mode` ("range" first last, or "scores" from to limit; the
    /// around mode needs a tie-map key besides: ``aroundCommand(_:_:radius:)``).
    func windowScript(_ shard: RedisRealtimeStore.Shard, mode: String, _ a: String, _ b: String, _ rest: String...) -> (node: String, command: [String]) {
        (
            shard.node,
            ["EVALSHA", Scripts.readWindow.sha1, shard.names == nil ? "2" : "3", shard.key, shard.meta] + (shard.names.map { [$0] } ?? [])
                + [order.rawValue, mode, a, b, memberPrefix, shard.names == nil ? "" : "1"] + rest
        )
    }

    /// The command reading a player's username on a node: from the shard's names hash on a
    /// Redis Cluster (`names`), else from the player's info hash.
    static func usernameCommand(names: String?, player: String) -> [String] {
        names.map { ["HGET", $0, player] } ?? ["HGET", RedisKeys.playerInfo(player), "username"]
    }

    /// Shard-local positions first…last (inclusive) of `shard`, with scores (no script).
    func rangeCommand(_ shard: RedisRealtimeStore.Shard, _ first: Int, _ last: Int) -> (node: String, command: [String]) {
        (shard.node, [order == .desc ? "ZREVRANGE" : "ZRANGE", shard.key, String(first), String(last), "WITHSCORES"])
    }

    /// `members` (of this hash board, in its order) with their usernames, each read from its
    /// player's shard, in one round: for a window merged from shards' members fetched without
    /// names, most of which are not in the window.
    func withUsernames(_ members: [RankedMember]) async throws -> [RankedMember] {
        guard !members.isEmpty else { return members }
        let ids = members.map { board.playerID(ofMember: $0.playerID) }
        let homes = ids.map { shards[board.router.shard(player: $0, score: 0)] }
        var watched: [RedisRealtimeStore.Shard] = []
        for shard in homes where !watched.contains(where: { $0.index == shard.index }) { watched.append(shard) }
        let replies = try await round(
            zip(ids, homes).map { id, shard in (shard.node, Self.usernameCommand(names: shard.names, player: id)) },
            watching: watched
        )
        try RedisReplies.check(replies)
        guard replies.count == members.count else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
        return zip(members, replies).map { member, reply in
            var named = member
            named.username = reply.string.flatMap { $0.isEmpty ? nil : $0 }
            return named
        }
    }

    /// Every shard's members scored from `from` to `to` (at most `limit`), with usernames, the
    /// number of its members with a better score than `from`, and its size, in one round.
    func scoreWindows(_ shards: [RedisRealtimeStore.Shard], from: Int64, to: Int64, limit: Int) async throws -> [ShardSpan] {
        let replies = try await round(
            shards.map { shard in windowScript(shard, mode: "scores", String(from), String(to), String(limit)) },
            watching: shards
        )
        return try replies.map { reply in
            let window = try RedisReplies.window(from: reply, board: id)
            return ShardSpan(size: window.total, before: window.first, members: window.members)
        }
    }

    /// The window script's around read of the player on `shard` (on a board ordered by commit time
    /// it finds the player's member through the shard's tie map).
    func aroundCommand(_ shard: RedisRealtimeStore.Shard, _ playerID: String, radius: Int) -> (node: String, command: [String]) {
        var keys = board.hasTiePrefix ? [shard.key, shard.meta, RedisKeys.tieBucket(shard.meta, player: playerID, buckets: board.tieBuckets)] : [shard.key, shard.meta]
        if let names = shard.names { keys.append(names) }
        return (
            shard.node,
            ["EVALSHA", Scripts.readWindow.sha1, String(keys.count)] + keys
                + [order.rawValue, "around", playerID, String(radius), memberPrefix, shard.names == nil ? "" : "1"]
        )
    }

    /// Shard-local positions first…last (inclusive) of several shards, scores only, in one round.
    func plainWindows(_ reads: [(RedisRealtimeStore.Shard, Int, Int)]) async throws -> [[RankedMember]] {
        let replies = try await round(
            reads.map { shard, first, last in rangeCommand(shard, first, last) },
            watching: reads.map(\.0)
        )
        try RedisReplies.check(replies)
        return try replies.map { try RedisReplies.members($0) }
    }

    /// Runs `script` once per node over the given shards (KEYS = zset, meta of each of the node's
    /// shards), all nodes at once, and decodes each shard's part of the reply; a shard whose part
    /// is {-1} lost its metadata.
    func perNode<T>(
        _ shards: [RedisRealtimeStore.Shard], script: LuaScript, arguments: [String], withNames: Bool = false,
        decode: ([RedisReply]) throws -> T
    ) async throws -> [T] {
        var byNode: [String: [RedisRealtimeStore.Shard]] = [:]
        for shard in shards { byNode[shard.node, default: []].append(shard) }
        let nodesInOrder = byNode.keys.sorted()
        let replies = try await round(
            nodesInOrder.map { node in
                // (Each shard's names hash after its meta, when asked for and there is one: a cluster.)
                let keys = byNode[node]!.flatMap { shard in [shard.key, shard.meta] + (withNames ? shard.names.map { [$0] } ?? [] : []) }
                return (node, ["EVALSHA", script.sha1, String(keys.count)] + keys + arguments)
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
        let replies = try await round(plainCountCommands(shards, of: pivot), watching: shards)
        try RedisReplies.check(replies)
        return try await plainCounts(shards, of: pivot, from: replies[...])
    }

    /// The commands of ``plainCountsAhead(_:of:)``: three per shard.
    func plainCountCommands(_ shards: [RedisRealtimeStore.Shard], of pivot: RankedMember) -> [(node: String, command: [String])] {
        let score = String(pivot.score)
        let better = order == .desc ? ["(" + score, "+inf"] : ["-inf", "(" + score]
        return shards.flatMap { shard -> [(node: String, command: [String])] in
            [
                (shard.node, ["ZCARD", shard.key]), (shard.node, ["ZCOUNT", shard.key] + better),
                (shard.node, ["ZRANGEBYSCORE", shard.key, score, score, "LIMIT", "0", String(Self.tiesListed + 1)]),
            ]
        }
    }

    /// The counts from the replies to ``plainCountCommands(_:of:)`` (a shard crowded with ties is
    /// counted again by the tie-rule script, in one more round).
    func plainCounts(_ shards: [RedisRealtimeStore.Shard], of pivot: RankedMember, from replies: ArraySlice<RedisReply>) async throws
        -> [(size: Int, ahead: Int)]
    {
        guard replies.count == 3 * shards.count else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
        var rows: [(size: Int, ahead: Int)] = []
        var crowded: [Int] = []
        for offset in shards.indices {
            let base = replies.startIndex + 3 * offset
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

    /// The player on one shard: its member, score, 0-based rank there, username and the shard's size; nil when absent.
    func ownEntry(_ shard: RedisRealtimeStore.Shard, _ playerID: String) async throws -> OwnEntry? {
        let replies = try await round(ownEntryCommands(shard, playerID), watching: [shard])
        try RedisReplies.check(replies)
        return try ownEntry(from: replies[...], playerID)
    }

    /// A player's place on its shard (``ownEntry(_:_:)``): `member` is the player id itself, or on a
    /// board ordered by commit time its tie prefix and id (what the shards compare).
    typealias OwnEntry = (member: String, score: Int64, rank: Int, username: String?, shardSize: Int)

    /// The commands of ``ownEntry(_:_:)``: four plain ones, or on a board ordered by commit time one
    /// script that finds the member through the shard's tie map.
    func ownEntryCommands(_ shard: RedisRealtimeStore.Shard, _ playerID: String) -> [(node: String, command: [String])] {
        if board.hasTiePrefix {
            return [
                (
                    shard.node,
                    [
                        "EVALSHA", Scripts.ownEntry.sha1, "3", shard.key, RedisKeys.tieBucket(shard.meta, player: playerID, buckets: board.tieBuckets),
                        shard.names ?? RedisKeys.playerInfo(playerID), order.rawValue, playerID, shard.names == nil ? "" : "1",
                    ]
                )
            ]
        }
        return [
            (shard.node, ["ZSCORE", shard.key, playerID]), (shard.node, [order == .desc ? "ZREVRANK" : "ZRANK", shard.key, playerID]),
            (shard.node, Self.usernameCommand(names: shard.names, player: playerID)),
            (shard.node, ["ZCARD", shard.key]),
        ]
    }

    /// The shard's size from the replies to ``ownEntryCommands(_:_:)`` (also when the player is absent).
    func shardSize(fromOwnEntry replies: ArraySlice<RedisReply>) throws -> Int {
        guard board.hasTiePrefix else {
            guard replies.count == 4 else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
            return try RedisReplies.count(replies[replies.startIndex + 3])
        }
        guard replies.count == 1, let size = replies[replies.startIndex].array?.first else {
            throw RedisError(.protocolViolation, "unexpected reply of the own-entry script")
        }
        return try RedisReplies.count(size)
    }

    /// Decodes the replies to ``ownEntryCommands(_:_:)``.
    func ownEntry(from replies: ArraySlice<RedisReply>, _ playerID: String) throws -> OwnEntry? {
        let base = replies.startIndex
        if board.hasTiePrefix {
            guard replies.count == 1, let items = replies[base].array, let size = items.first?.integer, size >= 0 else {
                throw RedisError(.protocolViolation, "unexpected reply of the own-entry script")
            }
            if items.count == 1 { return nil }
            guard items.count == 5, let member = items[1].string, board.playerID(ofMember: member) == playerID,
                let score = items[2].string.flatMap(RedisReplies.score), let rank = items[3].integer, rank >= 0, rank < size
            else { throw RedisError(.protocolViolation, "unexpected reply of the own-entry script") }
            let username = items[4].string.flatMap { $0.isEmpty ? nil : $0 }
            return (member, score, Int(rank), username, Int(size))
        }
        guard replies.count == 4 else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
        guard let score = replies[base].string.flatMap(RedisReplies.score), replies[base + 1].integer != nil else { return nil }
        return (playerID, score, try RedisReplies.count(replies[base + 1]), replies[base + 2].string, try RedisReplies.count(replies[base + 3]))
    }

    /// For each shard and each score: how many of its members have a better score, and how many
    /// exactly that score (one script per node, all nodes at once).
    func scoreCounts(_ shards: [RedisRealtimeStore.Shard], of scores: [Int64]) async throws -> [[ScoreCount]] {
        try await perNode(shards, script: Scripts.countBounds, arguments: [order.rawValue] + scores.map(String.init)) { items in
            let values = items.compactMap(\.integer)
            guard values.count == items.count, values.count == 1 + 2 * scores.count, values.allSatisfy({ $0 >= 0 }) else {
                throw RedisError(.protocolViolation, "unexpected reply of the count script")
            }
            return scores.indices.map { ScoreCount(better: Int(values[1 + 2 * $0]), equal: Int(values[2 + 2 * $0])) }
        }
    }

    /// `entries` (board order, ordinal ranks, read in this attempt) numbered `style`'s way: for
    /// competition ranks, one more round counts the players strictly better than the scores
    /// that need it (``RankStyle/scoresToCount(_:)``), in the same state of the board.
    func numbered(_ entries: [LeaderboardEntry], _ style: RankStyle) async throws -> [LeaderboardEntry] {
        guard style == .competition else { return entries }
        let scores = RankStyle.scoresToCount(entries)
        var better: [Int64: Int] = [:]
        if !scores.isEmpty {
            for row in try await scoreCounts(shards, of: scores) {
                for (score, count) in zip(scores, row) { better[score, default: 0] += count.better }
            }
        }
        // Counts and ordinal ranks come from one state, so they fit; if not, the view moved.
        guard let numbered = RankStyle.competition(entries, better: better) else { throw ViewMoved() }
        return numbered
    }

    /// The players of `ids` on the board, in board order with global ranks, and the number of
    /// ranked players. Two rounds whatever the number of ids: each shard's ZMSCORE of the ids
    /// that may be on it (with each id's username from the nodes it may be on, and the shards'
    /// sizes), then on every node the tie-rule count ahead of each player found. A player
    /// trimmed away (rank beyond `max_entries`) is left out like an absent one.
    func players(_ ids: [String], candidates: (String) -> [RedisRealtimeStore.Shard]) async throws -> LeaderboardPage {
        var asked = [[String]](repeating: [], count: shards.count)
        var nodesOf: [String: [String]] = [:]
        for id in ids {
            for shard in candidates(id) {
                asked[shard.index].append(id)
                if !(nodesOf[id]?.contains(shard.node) ?? false) { nodesOf[id, default: []].append(shard.node) }
            }
        }
        var commands: [(node: String, command: [String])] = shards.map { ($0.node, ["ZCARD", $0.key]) }
        var scoreReads: [(shard: Int, command: Int)] = []
        for shard in shards where !asked[shard.index].isEmpty {
            scoreReads.append((shard.index, commands.count))
            if board.hasTiePrefix {
                let buckets = asked[shard.index].map { RedisKeys.tieBucket(shard.meta, player: $0, buckets: board.tieBuckets) }
                commands.append((shard.node, ["EVALSHA", Scripts.membersOf.sha1, String(1 + buckets.count), shard.key] + buckets + asked[shard.index]))
            } else {
                commands.append((shard.node, ["ZMSCORE", shard.key] + asked[shard.index]))
            }
        }
        var usernameReads: [String: Int] = [:]
        // (On a cluster every shard is a node of its own, with its names hash.)
        let namesOf = Dictionary(shards.compactMap { shard in shard.names.map { (shard.node, $0) } }, uniquingKeysWith: { first, _ in first })
        for id in ids {
            for node in nodesOf[id] ?? [] {
                usernameReads[id + "\u{0}" + node] = commands.count
                commands.append((node, Self.usernameCommand(names: namesOf[node], player: id)))
            }
        }
        let replies = try await round(commands, watching: shards)
        try RedisReplies.check(replies)
        guard replies.count == commands.count else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
        let total = try shards.indices.reduce(0) { $0 + (try RedisReplies.count(replies[$1])) }
        var found: [String: (member: String, score: Int64, shard: Int)] = [:]
        for (shard, command) in scoreReads {
            for (id, item) in zip(asked[shard], try scoresFound(replies[command], asked: asked[shard])) {
                guard let (member, score) = item else { continue }
                // Every numbered change moves a player between bands at once: one state holds it once.
                guard found[id] == nil else { throw RedisError(.protocolViolation, "a player is on two shards at one change number") }
                found[id] = (member, score, shard)
            }
        }
        let members = ids.compactMap { id in found[id].map { RankedMember(playerID: $0.member, score: $0.score) } }
        guard !members.isEmpty else { return LeaderboardPage(total: clip(total), entries: []) }
        let counts = try await countsAhead(shards, pivots: members)
        var entries: [LeaderboardEntry] = []
        let limit = board.config.maxEntries
        for (index, id) in ids.filter({ found[$0] != nil }).enumerated() {
            let rank = 1 + counts.reduce(0) { $0 + $1.counts[index] }
            guard limit == 0 || rank <= limit, let place = found[id] else { continue }
            let username = usernameReads[id + "\u{0}" + shards[place.shard].node].flatMap { replies[$0].string }
            entries.append(LeaderboardEntry(rank: rank, playerID: id, score: place.score, username: username))
        }
        entries.sort { $0.rank < $1.rank }
        // Distinct players of one state have distinct ranks; equal ones mean the view moved.
        for index in entries.indices.dropFirst() where entries[index].rank == entries[index - 1].rank { throw ViewMoved() }
        return LeaderboardPage(total: clip(total), entries: entries)
    }

    /// Each asked player's member and score on one shard, nil where absent, from a ZMSCORE reply
    /// (the member is the id) or, on a board ordered by commit time, the `membersOf` script's.
    func scoresFound(_ reply: RedisReply, asked: [String]) throws -> [(member: String, score: Int64)?] {
        guard let items = reply.array else { throw RedisError(.protocolViolation, "unexpected reply to a score read") }
        if board.hasTiePrefix {
            guard items.count == 2 * asked.count else { throw RedisError(.protocolViolation, "unexpected reply of the members script") }
            return try asked.indices.map { index in
                guard let member = items[2 * index].string, let text = items[2 * index + 1].string else {
                    throw RedisError(.protocolViolation, "unexpected reply of the members script")
                }
                if member.isEmpty { return nil }
                guard board.playerID(ofMember: member) == asked[index], let score = RedisReplies.score(text) else {
                    throw RedisError(.protocolViolation, "unexpected member in the members script's reply")
                }
                return (member, score)
            }
        }
        guard items.count == asked.count else { throw RedisError(.protocolViolation, "unexpected reply of ZMSCORE") }
        return try zip(asked, items).map { id, item in
            if case .null = item { return nil }
            guard let score = item.string.flatMap(RedisReplies.score) else { throw RedisError(.protocolViolation, "unexpected score in a ZMSCORE reply") }
            return (id, score)
        }
    }

    func clip(_ total: Int) -> Int {
        board.config.maxEntries > 0 ? min(total, board.config.maxEntries) : total
    }

    /// Members as entries from `rank` on, each named by the player id its member carries.
    func ranked(_ members: [RankedMember], from rank: Int) -> [LeaderboardEntry] {
        members.enumerated().map {
            LeaderboardEntry(
                rank: rank + $0.offset, playerID: board.playerID(ofMember: $0.element.playerID), score: $0.element.score, username: $0.element.username
            )
        }
    }

    /// Where the player's member is in `members` (read in this attempt: one member per player).
    func position(of playerID: String, in members: [RankedMember]) -> Int? {
        board.hasTiePrefix
            ? members.firstIndex { board.playerID(ofMember: $0.playerID) == playerID } : members.firstIndex { $0.playerID == playerID }
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
