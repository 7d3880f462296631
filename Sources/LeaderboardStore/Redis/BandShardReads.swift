import LeaderboardCore
import RedisClient

/// Reads of a board split by score bands: the bands are in the board's order, so a rank is the
/// better bands' sizes plus the rank within the player's band, and a range reads the bands it
/// overlaps. A player moving between bands is one numbered change applied to both (see
/// ``ViewCheck``): no read sees it in both, or in neither.
struct BandShardReads: ShardReads {
    let context: ReadContext
    var bands: [Int] { context.board.router.bandOrder(context.order) ?? Array(context.shards.indices) }

    func count() async throws -> Int { context.clip(try await context.sizes().reduce(0, +)) }

    func range(start: Int, end: Int) async throws -> LeaderboardPage {
        let limit = context.board.config.maxEntries
        let last = limit > 0 ? min(end, limit) : end
        let sizes = try await context.sizes()
        let total = context.clip(sizes.reduce(0, +))
        guard start <= last else { return LeaderboardPage(total: total, entries: []) }
        var reads: [(RedisRealtimeStore.Shard, Int, Int)] = []
        var offset = 0
        for band in bands {
            let first = max(start - 1 - offset, 0)
            let final = min(last - 1 - offset, sizes[band] - 1)
            if first <= final { reads.append((context.shards[band], first, final)) }
            offset += sizes[band]
        }
        let members = try await context.readWindows(reads).flatMap(\.members)
        return LeaderboardPage(total: total, entries: context.ranked(members, from: start))
    }

    /// Where a player stands: score, rank, username, each band's count ahead of it, the board's size
    /// and its member.
    private func locate(_ player: String) async throws -> (score: Int64, rank: Int, username: String?, ahead: [Int], total: Int, member: String)? {
        let shards = context.shards
        let perShard = context.ownEntryCommands(shards[0], player).count
        let replies = try await context.round(shards.flatMap { context.ownEntryCommands($0, player) }, watching: shards)
        try RedisReplies.check(replies)
        guard replies.count == perShard * shards.count else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
        var sizes: [Int] = []
        var home: (shard: Int, own: ReadContext.OwnEntry)?
        for shard in shards {
            let base = perShard * shard.index
            let own = replies[base..<(base + perShard)]
            sizes.append(try context.shardSize(fromOwnEntry: own))
            if let own = try context.ownEntry(from: own, player) {
                guard home == nil else { throw RedisError(.protocolViolation, "a player is in two bands at one change number") }
                home = (shard.index, own)
            }
        }
        guard let home else { return nil }
        var ahead = [Int](repeating: 0, count: shards.count)
        var passed = true
        for band in bands {
            if band == home.shard {
                ahead[band] = home.own.rank
                passed = false
            } else if passed {
                ahead[band] = sizes[band]
            }
        }
        let rank = ahead.reduce(0, +) + 1
        let limit = context.board.config.maxEntries
        guard limit == 0 || rank <= limit else { return nil }
        return (home.own.score, rank, home.own.username, ahead, sizes.reduce(0, +), home.own.member)
    }

    func candidateShards(_ playerID: String) -> [RedisRealtimeStore.Shard] { context.shards }

    func player(_ playerID: String) async throws -> PlayerStanding? {
        guard let position = try await locate(playerID) else { return nil }
        return PlayerStanding(
            entry: LeaderboardEntry(rank: position.rank, playerID: playerID, score: position.score, username: position.username),
            total: context.clip(position.total)
        )
    }

    func around(_ playerID: String, radius: Int) async throws -> LeaderboardPage? {
        guard let position = try await locate(playerID) else { return nil }
        let reads = context.shards.map { shard in
            (shard, max(position.ahead[shard.index] - radius, 0), position.ahead[shard.index] + radius)
        }
        let merged = context.order.merge(try await context.readWindows(reads).map(\.members))
        // Both rounds saw one state, so the player is there; if not, the view moved.
        guard let center = merged.firstIndex(where: { $0.playerID == position.member }) else { throw ViewMoved() }
        return LeaderboardPage(
            total: context.clip(position.total), entries: context.window(merged, center: center, rank: position.rank, radius: radius)
        )
    }
}
