import LeaderboardCore
import RedisClient

/// Reads of a board kept in one sorted set: every read is one round.
struct SingleSetReads: ShardReads {
    let context: ReadContext
    var shard: RedisRealtimeStore.Shard { context.shards[0] }

    func count() async throws -> Int { context.clip(try await context.sizes()[0]) }

    func range(start: Int, end: Int) async throws -> LeaderboardPage {
        let limit = context.board.config.maxEntries
        let last = limit > 0 ? min(end, limit) : end
        guard start <= last else { return LeaderboardPage(total: try await count(), entries: []) }
        let window = try await context.readWindows([(shard, start - 1, last - 1)])[0]
        return LeaderboardPage(total: context.clip(window.total), entries: context.ranked(window.members, from: start))
    }

    func candidateShards(_ playerID: String) -> [RedisRealtimeStore.Shard] { [shard] }

    func player(_ playerID: String) async throws -> PlayerStanding? {
        guard let own = try await context.ownEntry(shard, playerID) else { return nil }
        let rank = own.rank + 1
        let limit = context.board.config.maxEntries
        guard limit == 0 || rank <= limit else { return nil }
        return PlayerStanding(
            entry: LeaderboardEntry(rank: rank, playerID: playerID, score: own.score, username: own.username), total: context.clip(own.shardSize)
        )
    }

    func around(_ playerID: String, radius: Int) async throws -> LeaderboardPage? {
        let reply = try await context.round(
            [context.aroundCommand(shard, playerID, radius: radius)],
            watching: [shard]
        )[0]
        if case .error(let message) = reply { throw RedisError(.server, message) }
        guard let items = reply.array, items.count >= 2, items[1].integer ?? -1 >= 0 else { return nil }
        let window = try RedisReplies.window(from: reply, board: context.id)
        guard let index = context.position(of: playerID, in: window.members) else { return nil }
        let rank = window.first + index + 1
        let limit = context.board.config.maxEntries
        guard limit == 0 || rank <= limit else { return nil }
        return LeaderboardPage(
            total: context.clip(window.total), entries: context.window(window.members, center: index, rank: rank, radius: radius)
        )
    }
}
