import LeaderboardCore
import RedisClient

extension ReadContext {
    /// `entries` with their players' usernames, in one round of one script per node: each
    /// player's info hash is read on the node of the shard its score places it on, as the window
    /// script did (the write path puts names on every node of the board, a shard's rebuild on that
    /// shard's node). Sharded reads fetch many more members than they return (a merge takes a
    /// share from every shard), so they read windows without names and name only what they answer.
    ///
    /// The round watches nothing: names are not part of the ranked state (they are never removed,
    /// and a new name is written beside the change, not in it), so reading them a round later
    /// answers what reading them inside the window script did.
    func named(_ entries: [LeaderboardEntry]) async throws -> [LeaderboardEntry] {
        guard !entries.isEmpty else { return entries }
        let router = board.router
        // Per node, in first-seen order: the players asked there and where each entry's name is.
        var nodes: [String] = []
        var asked: [[String]] = []
        var place: [(node: Int, item: Int)] = []
        place.reserveCapacity(entries.count)
        for entry in entries {
            let index = router.shard(player: entry.playerID, score: entry.score)
            guard shards.indices.contains(index) else { throw RedisError(.protocolViolation, "a player routed to shard \(index) of \(shards.count)") }
            let node = shards[index].node
            let slot: Int
            if let known = nodes.firstIndex(of: node) {
                slot = known
            } else {
                slot = nodes.count
                nodes.append(node)
                asked.append([])
            }
            place.append((slot, asked[slot].count))
            asked[slot].append(entry.playerID)
        }
        let replies = try await round(zip(nodes, asked).map { ($0, ["EVAL", Scripts.usernames, "0"] + $1) }, watching: [])
        try RedisReplies.check(replies)
        var names: [[RedisReply]] = []
        for (reply, players) in zip(replies, asked) {
            guard let items = reply.array, items.count == players.count else { throw RedisError(.protocolViolation, "unexpected reply of the usernames script") }
            names.append(items)
        }
        guard names.count == nodes.count else { throw RedisError(.protocolViolation, "a round answered the wrong number of replies") }
        return zip(entries, place).map { entry, place in
            var entry = entry
            entry.username = names[place.node][place.item].string.flatMap { $0.isEmpty ? nil : $0 }
            return entry
        }
    }
}
