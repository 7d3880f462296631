import LeaderboardCore
import RedisClient

extension ReadContext {
    /// `entries` with their players' usernames, in one round: each player's info hash is read on
    /// the node of the shard its score places it on, as the window script did (the write path puts
    /// names on every node of the board, a shard's rebuild on that shard's node). Sharded reads
    /// fetch many more members than they return (a merge takes a share from every shard), so they
    /// read windows without names and name only what they answer.
    ///
    /// The round watches nothing: names are not part of the ranked state (they are never removed,
    /// and a new name is written beside the change, not in it), so reading them a round later
    /// answers what reading them inside the window script did.
    func named(_ entries: [LeaderboardEntry]) async throws -> [LeaderboardEntry] {
        guard !entries.isEmpty else { return entries }
        let router = board.router
        var commands: [(node: String, command: [String])] = []
        commands.reserveCapacity(entries.count)
        for entry in entries {
            let index = router.shard(player: entry.playerID, score: entry.score)
            guard shards.indices.contains(index) else { throw RedisError(.protocolViolation, "a player routed to shard \(index) of \(shards.count)") }
            commands.append((shards[index].node, ["HGET", RedisKeys.playerInfo(entry.playerID), "username"]))
        }
        let replies = try await round(commands, watching: [])
        try RedisReplies.check(replies)
        guard replies.count == entries.count else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
        return zip(entries, replies).map { entry, reply in
            var entry = entry
            entry.username = reply.string.flatMap { $0.isEmpty ? nil : $0 }
            return entry
        }
    }
}
