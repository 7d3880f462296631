import LeaderboardCore
import RedisClient

/// Applying numbered view changes, and rebuilding shards from a snapshot.
extension RedisRealtimeStore {
    /// Sends every board's steps, in order, to each of its shards (one script call per shard and
    /// step, one round for everything; a node runs its pipeline in order). Each shard applies a
    /// step only when it is the next in its sequence. Returns, per board, the number each shard
    /// holds afterwards (nil where the shard's metadata is missing).
    public func apply(_ batch: RealtimeBatch) async throws -> [String: [Int: Int64?]] {
        var commands: [(node: String, command: [String])] = []
        var owners: [(board: String, shard: Int)?] = []
        for (id, changes) in batch.boards {
            let board = changes.board
            let router = board.router
            let shards = try shards(board)
            let scope = shards.filter { changes.shards?.contains($0.index) ?? true }
            for step in changes.steps {
                var adds = [[String]](repeating: [], count: shards.count)
                var removals = [[String]](repeating: [], count: shards.count)
                for change in step.changes {
                    var target: Int?
                    if let after = change.after {
                        let shard = router.shard(player: change.playerID, score: after)
                        adds[shard].append(String(after))
                        adds[shard].append(change.playerID)
                        target = shard
                    }
                    if let before = change.before {
                        let origin = router.shard(player: change.playerID, score: before)
                        if origin != target { removals[origin].append(change.playerID) }
                    }
                }
                for shard in scope {
                    commands.append(
                        (
                            shard.node,
                            [
                                "EVAL", Scripts.apply, "2", shard.key, shard.meta, String(board.incarnation), String(step.seq),
                                step.reset ? "1" : "0", String(step.period),
                                String(step.lastEventID), String(removals[shard.index].count),
                            ] + removals[shard.index] + adds[shard.index]
                        )
                    )
                    owners.append((id, shard.index))
                }
            }
            // Usernames go to every node of the board: a band move takes a player to another node.
            let nodes = Set(shards.map(\.node))
            for (player, username) in changes.usernames {
                for node in nodes.sorted() {
                    commands.append((node, ["HSET", RedisKeys.playerInfo(player), "username", username]))
                    owners.append(nil)
                }
            }
        }
        let replies = try await round(commands)
        try RedisReplies.check(replies)
        var result: [String: [Int: Int64?]] = [:]
        for (owner, reply) in zip(owners, replies) {
            guard let owner else { continue }
            guard let items = reply.array, items.count == 2, let status = items[0].integer, let seq = items[1].integer else {
                throw RedisError(.protocolViolation, "unexpected reply of the apply script")
            }
            result[owner.board, default: [:]][owner.shard] = status == -1 ? .some(nil) : .some(seq)
        }
        return result
    }

    public func rebuild(
        _ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64, seq: Int64, only: Set<Int>?, force: Bool,
        progress: (@Sendable (Int) -> Void)?
    ) async throws -> Bool {
        let allShards = try shards(board)
        let shards = allShards.filter { only?.contains($0.index) ?? true }
        let router = board.router
        // Band boards: a player's username must be on every node it can move to.
        let nameNodes = router.routesByScore ? Array(Set(allShards.map(\.node))).sorted() : nil
        var perShard = [[LeaderboardEntry]](repeating: [], count: board.config.layout.shardCount)
        for entry in entries {
            let shard = router.shard(player: entry.playerID, score: entry.score)
            if only?.contains(shard) ?? true { perShard[shard].append(entry) }
        }
        var commands: [(node: String, command: [String])] = []
        var switches: [(node: String, command: [String])] = []
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
                guard let username = entry.username else { continue }
                for node in nameNodes ?? [shard.node] {
                    commands.append((node, ["HSET", RedisKeys.playerInfo(entry.playerID), "username", username]))
                }
            }
            switches.append(
                (
                    shard.node,
                    [
                        "EVAL", Scripts.switchRebuilt, "3", staging, shard.key, shard.meta, String(members.count), String(board.incarnation),
                        String(seq), force ? "1" : "0",
                    ]
                        + metaFields(board, shard, seq: seq, lastEventID: lastEventID)
                )
            )
        }
        // The staging writes go in rounds of bounded size (each within the request timeout, however
        // big the board); the switches go last, together.
        var written = 0
        for start in stride(from: 0, to: commands.count, by: 16) {
            let batch = commands[start..<min(start + 16, commands.count)]
            try RedisReplies.check(try await round(Array(batch)))
            written += batch.reduce(0) { $0 + ($1.command.first == "ZADD" ? ($1.command.count - 2) / 2 : 0) }
            progress?(written)
        }
        let replies = try await round(switches)
        try RedisReplies.check(replies)
        return replies.allSatisfy { $0.integer == 1 }
    }
}
