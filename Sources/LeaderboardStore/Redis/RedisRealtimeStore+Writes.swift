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
        for (index, entry) in entries.enumerated() {
            let shard = router.shard(player: entry.playerID, score: entry.score)
            if only?.contains(shard) ?? true { perShard[shard].append(entry) }
            if index % 65_536 == 65_535 { await Task.yield() }
        }
        // The staging writes are made round by round (not all at once: a million members' commands
        // would hold a thread of the cooperative pool for a second and more), each round bounded
        // (within the request timeout, however big the board), with a yield between rounds so
        // requests of other boards keep their share of the two cores; the switches go last, together.
        var switches: [(node: String, command: [String])] = []
        var stagingKeys: [String] = []
        for shard in shards {
            let staging = RedisKeys.rebuilding(board.config.id, shard: shard.index, attempt: UInt64.random(in: .min ... .max))
            stagingKeys.append(staging)
            switches.append(
                (
                    shard.node,
                    [
                        "EVAL", Scripts.switchRebuilt, "3", staging, shard.key, shard.meta, String(perShard[shard.index].count),
                        String(board.incarnation), String(seq), force ? "1" : "0",
                    ]
                        + metaFields(board, shard, seq: seq, lastEventID: lastEventID)
                )
            )
        }
        var written = 0
        var batch: [(node: String, command: [String])] = []
        var members = 0
        func flush() async throws {
            guard !batch.isEmpty else { return }
            let started = ContinuousClock.now
            try RedisReplies.check(try await round(batch))
            written += members
            progress?(written)
            batch.removeAll(keepingCapacity: true)
            members = 0
            try await Task.sleep(for: (ContinuousClock.now - started) * rebuildPace)
        }
        for (position, shard) in shards.enumerated() {
            let staging = stagingKeys[position]
            let entries = perShard[shard.index]
            for chunk in stride(from: 0, to: entries.count, by: chunkSize) {
                var command = ["ZADD", staging]
                command.reserveCapacity(2 + 2 * chunkSize)
                for entry in entries[chunk..<min(chunk + chunkSize, entries.count)] {
                    command.append(String(entry.score))
                    command.append(entry.playerID)
                }
                members += (command.count - 2) / 2
                batch.append((shard.node, command))
                // An abandoned staging key (a crash mid-rebuild) expires by itself.
                if chunk == 0 { batch.append((shard.node, ["EXPIRE", staging, "3600"])) }
                if batch.count >= 16 { try await flush() }
            }
            for entry in entries {
                guard let username = entry.username else { continue }
                for node in nameNodes ?? [shard.node] {
                    batch.append((node, ["HSET", RedisKeys.playerInfo(entry.playerID), "username", username]))
                }
                if batch.count >= 256 { try await flush() }
            }
        }
        try await flush()
        let replies = try await round(switches)
        try RedisReplies.check(replies)
        return replies.allSatisfy { $0.integer == 1 }
    }
}
