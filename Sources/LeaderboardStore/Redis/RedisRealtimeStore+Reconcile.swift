import LeaderboardCore
import RedisClient

/// What the sync worker reads and repairs on a shard.
extension RedisRealtimeStore {
    public func shardMembers(_ board: StoredBoard, shard index: Int, offset: Int, count: Int) async throws -> [RankedMember] {
        let shard = try shards(board)[index]
        let replies = try await round([
            (shard.node, ["EXISTS", shard.meta]), (shard.node, ["ZRANGE", shard.key, String(offset), String(offset + count - 1), "WITHSCORES"]),
        ])
        try RedisReplies.check(replies)
        guard replies[0].integer == 1 else { throw RealtimeStoreError.boardMissing(board.config.id) }
        let items = replies[1].array ?? []
        return try stride(from: 0, to: items.count - 1, by: 2).map { position in
            guard let player = items[position].string, let score = items[position + 1].string.flatMap(RedisReplies.score) else {
                throw RedisError(.protocolViolation, "unexpected member in a range reply")
            }
            return RankedMember(playerID: player, score: score)
        }
    }

    public func scanChunks(_ board: StoredBoard, shard index: Int, probes: [ShardChunks.Probe]) async throws -> [ShardChunks.Scan] {
        guard !probes.isEmpty else { return [] }
        let shard = try shards(board)[index]
        let commands = probes.map { probe in
            (shard.node, ["EVALSHA", Scripts.chunkDigests.sha1, "2", shard.key, shard.meta, probe.closesAfterLast ? "1" : "0"]
                + probe.bounds.flatMap { [String($0.score), $0.playerID] })
        }
        let replies = try await round(commands)
        try RedisReplies.check(replies)
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

    public func repair(_ board: StoredBoard, fixes: [ShardFix], atSeq seq: Int64) async throws -> (repaired: Int, moved: Bool) {
        guard !fixes.isEmpty else { return (0, false) }
        let shards = try shards(board)
        var commands: [(node: String, command: [String])] = []
        for shard in shards {
            let mine = fixes.filter { $0.shard == shard.index }
            guard !mine.isEmpty else { continue }
            for chunk in stride(from: 0, to: mine.count, by: chunkSize) {
                let part = mine[chunk..<min(chunk + chunkSize, mine.count)]
                let arguments = part.flatMap { fix in
                    [fix.playerID, fix.observed.map(String.init) ?? "", fix.target.map(String.init) ?? ""]
                }
                var keys = [shard.key, shard.meta]
                if board.hasTiePrefix {
                    keys.append(RedisKeys.tieStaging(shard.meta))
                    keys += part.map { tieBucket(shard, member: $0.playerID, board) }
                }
                commands.append((shard.node, ["EVALSHA", Scripts.compareAndSet.sha1, String(keys.count)] + keys + [String(seq)] + arguments))
            }
        }
        let batch = commands
        let replies = try await round(batch)
        try RedisReplies.check(replies)
        let counts = replies.map { Int($0.integer ?? 0) }
        return (counts.filter { $0 > 0 }.reduce(0, +), counts.contains(-1))
    }
}
