import LeaderboardCore
import RedisClient

/// The real-time view on one Redis sorted set per board (layout `single`).
///
/// Reads are one round trip each: a pipeline, or a read-only Lua script where a read needs the
/// result of a first command (around a player) plus usernames.
public final class RedisRealtimeStore: RealtimeStore {
    public let pool: RedisConnectionPool
    /// Members written per ZADD when applying or rebuilding.
    private let chunkSize = 1000

    public init(pool: RedisConnectionPool) {
        self.pool = pool
    }

    public func ping() async throws {
        let reply = try await pool.command("PING")
        if case .error(let message) = reply { throw RedisError(.server, message) }
    }

    // MARK: - Boards

    public func prepareBoard(_ board: StoredBoard, lastEventID: Int64) async throws {
        try check(try await pool.pipeline([metaCommand(board, lastEventID: lastEventID)]))
    }

    public func deleteBoard(_ id: String) async throws {
        try check(try await pool.pipeline([["DEL", RedisKeys.realtime(id), RedisKeys.meta(id), RedisKeys.rebuilding(id)]]))
    }

    public func resetBoard(_ board: StoredBoard, lastEventID: Int64) async throws {
        try check(
            try await pool.pipeline([
                ["DEL", RedisKeys.realtime(board.config.id)],
                metaCommand(board, lastEventID: lastEventID),
            ])
        )
    }

    public func lastAppliedEventID(_ board: String) async throws -> Int64? {
        let reply = try await pool.command("HGET", RedisKeys.meta(board), "last_event_id")
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply.integer
    }

    private func metaCommand(_ board: StoredBoard, lastEventID: Int64) -> [String] {
        let config = board.config
        return [
            "HSET", RedisKeys.meta(config.id),
            "name", config.name, "sort_order", config.sortOrder.rawValue, "update_mode", config.updateMode.rawValue,
            "max_entries", String(config.maxEntries), "layout", config.layout.strategy, "epoch", "1",
            "period", String(board.period), "last_event_id", String(lastEventID),
        ]
    }

    // MARK: - Writes

    public func apply(_ batch: RealtimeBatch) async throws -> Set<String> {
        var commands: [[String]] = []
        var eventCommands: [(index: Int, board: String)] = []
        for (id, changes) in batch.boards {
            let key = RedisKeys.realtime(id)
            if !changes.removals.isEmpty { commands.append(["ZREM", key] + changes.removals) }
            for chunk in stride(from: 0, to: changes.scores.count, by: chunkSize) {
                var command = ["ZADD", key]
                for (player, score) in changes.scores[chunk..<min(chunk + chunkSize, changes.scores.count)] {
                    command.append(String(score))
                    command.append(player)
                }
                commands.append(command)
            }
            if let trim = trimCommand(changes.config) { commands.append(trim) }
            if changes.lastEventID > 0 {
                eventCommands.append((commands.count, id))
                commands.append(["EVAL", Scripts.raiseLastEventID, "1", RedisKeys.meta(id), String(changes.lastEventID)])
            }
        }
        for (player, username) in batch.usernames {
            commands.append(["HSET", RedisKeys.playerInfo(player), "username", username])
        }
        let replies = try await pool.pipeline(commands)
        try check(replies)
        return Set(eventCommands.filter { replies[$0.index].integer == -1 }.map(\.board))
    }

    public func rebuild(_ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64) async throws {
        let id = board.config.id
        let staging = RedisKeys.rebuilding(id)
        var commands: [[String]] = [["DEL", staging]]
        for chunk in stride(from: 0, to: entries.count, by: chunkSize) {
            var command = ["ZADD", staging]
            for entry in entries[chunk..<min(chunk + chunkSize, entries.count)] {
                command.append(String(entry.score))
                command.append(entry.playerID)
            }
            commands.append(command)
        }
        // Switch at once: RENAME replaces the live key atomically; an empty board has no key.
        commands.append(entries.isEmpty ? ["DEL", RedisKeys.realtime(id)] : ["RENAME", staging, RedisKeys.realtime(id)])
        commands.append(metaCommand(board, lastEventID: lastEventID))
        for entry in entries {
            if let username = entry.username { commands.append(["HSET", RedisKeys.playerInfo(entry.playerID), "username", username]) }
        }
        try check(try await pool.pipeline(commands))
    }

    /// Removes the players beyond `max_entries` (the worst ones in the board's order).
    private func trimCommand(_ config: LeaderboardConfig) -> [String]? {
        guard config.maxEntries > 0 else { return nil }
        let key = RedisKeys.realtime(config.id)
        switch config.sortOrder {
        // Ascending index 0 is the worst on a desc board.
        case .desc: return ["ZREMRANGEBYRANK", key, "0", String(-(config.maxEntries + 1))]
        case .asc: return ["ZREMRANGEBYRANK", key, String(config.maxEntries), "-1"]
        }
    }

    // MARK: - Reads

    public func range(_ board: LeaderboardConfig, start: Int, end: Int) async throws -> LeaderboardPage {
        let reply = try await pool.command(
            "EVAL", Scripts.readWindow, "2", RedisKeys.realtime(board.id), RedisKeys.meta(board.id), board.sortOrder.rawValue, "range", String(start - 1), String(end - 1)
        )
        return try page(from: reply)
    }

    public func around(_ board: LeaderboardConfig, playerID: String, radius: Int) async throws -> LeaderboardPage? {
        let reply = try await pool.command(
            "EVAL", Scripts.readWindow, "2", RedisKeys.realtime(board.id), RedisKeys.meta(board.id), board.sortOrder.rawValue, "around", playerID, String(radius)
        )
        if case .error(let message) = reply { throw RedisError(.server, message) }
        if let items = reply.array, items.count == 2, items[0].integer == -1 { throw RealtimeStoreError.boardMissing(board.id) }
        guard let items = reply.array, items.count >= 2, items[1].integer ?? -1 >= 0 else { return nil }
        return try page(from: reply)
    }

    public func player(_ board: LeaderboardConfig, playerID: String) async throws -> LeaderboardEntry? {
        let key = RedisKeys.realtime(board.id)
        let replies = try await pool.pipeline([
            [board.sortOrder == .desc ? "ZREVRANK" : "ZRANK", key, playerID],
            ["ZSCORE", key, playerID],
            ["HGET", RedisKeys.playerInfo(playerID), "username"],
            ["EXISTS", RedisKeys.meta(board.id)],
        ])
        try check(replies)
        guard replies[3].integer == 1 else { throw RealtimeStoreError.boardMissing(board.id) }
        guard let rank = replies[0].integer, let score = replies[1].string.flatMap(Self.score) else { return nil }
        return LeaderboardEntry(rank: Int(rank) + 1, playerID: playerID, score: score, username: replies[2].string)
    }

    public func count(_ board: LeaderboardConfig) async throws -> Int {
        let replies = try await pool.pipeline([["ZCARD", RedisKeys.realtime(board.id)], ["EXISTS", RedisKeys.meta(board.id)]])
        try check(replies)
        guard replies[1].integer == 1 else { throw RealtimeStoreError.boardMissing(board.id) }
        guard let count = replies[0].integer else { throw RedisError(.protocolViolation, "ZCARD did not answer an integer") }
        return Int(count)
    }

    /// Decodes `{total, start, member, score, username, …}` from the window script.
    private func page(from reply: RedisReply) throws -> LeaderboardPage {
        if case .error(let message) = reply { throw RedisError(.server, message) }
        if let items = reply.array, items.count == 2, items[0].integer == -1 { throw RealtimeStoreError.boardMissing("") }
        guard let items = reply.array, items.count >= 2, let total = items[0].integer, let start = items[1].integer,
            (items.count - 2) % 3 == 0
        else { throw RedisError(.protocolViolation, "unexpected reply of the window script") }
        var entries: [LeaderboardEntry] = []
        entries.reserveCapacity((items.count - 2) / 3)
        var index = 2
        while index < items.count {
            guard let player = items[index].string, let score = items[index + 1].string.flatMap(Self.score) else {
                throw RedisError(.protocolViolation, "unexpected entry in the window script's reply")
            }
            let username = items[index + 2].string.flatMap { $0.isEmpty ? nil : $0 }
            entries.append(LeaderboardEntry(rank: Int(start) + entries.count + 1, playerID: player, score: score, username: username))
            index += 3
        }
        return LeaderboardPage(total: Int(total), entries: entries)
    }

    /// Redis prints scores as doubles; every stored score is an integer of at most 2^53 − 1.
    static func score(_ text: String) -> Int64? {
        if let value = Int64(text) { return value }
        guard let value = Double(text), value.rounded() == value, abs(value) <= Double(ScoreRange.maximum) else { return nil }
        return Int64(value)
    }

    /// Throws the first error reply of a pipeline.
    private func check(_ replies: [RedisReply]) throws {
        for reply in replies {
            if case .error(let message) = reply { throw RedisError(.server, message) }
        }
    }
}

/// Server-side Lua scripts (read-only except the event-id update).
enum Scripts {
    /// KEYS[1] = board zset, KEYS[2] = board meta; ARGV = order, mode ("range" start stop | "around" player radius).
    /// Returns {total, first 0-based rank, member, score, username or "", …}; {total, -1} when the player
    /// is absent; {-1, -1} when the board's metadata is missing (a Redis that lost its data).
    static let readWindow = """
        local key = KEYS[1]
        if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, -1} end
        local desc = ARGV[1] == 'desc'
        local total = redis.call('ZCARD', key)
        local first, last
        if ARGV[2] == 'around' then
          local rank
          if desc then rank = redis.call('ZREVRANK', key, ARGV[3]) else rank = redis.call('ZRANK', key, ARGV[3]) end
          if not rank then return {total, -1} end
          local radius = tonumber(ARGV[4])
          first = rank - radius
          if first < 0 then first = 0 end
          last = rank + radius
        else
          first = tonumber(ARGV[3])
          last = tonumber(ARGV[4])
        end
        local items
        if desc then items = redis.call('ZREVRANGE', key, first, last, 'WITHSCORES')
        else items = redis.call('ZRANGE', key, first, last, 'WITHSCORES') end
        local out = {total, first}
        for i = 1, #items, 2 do
          local name = redis.call('HGET', 'player:' .. items[i] .. ':info', 'username')
          out[#out + 1] = items[i]
          out[#out + 1] = items[i + 1]
          out[#out + 1] = name or ''
        end
        return out
        """

    /// KEYS[1] = board meta hash; ARGV[1] = event id. Raises last_event_id, never lowers it.
    /// Returns -1 when the metadata is missing (the board must be rebuilt), 0 otherwise.
    static let raiseLastEventID = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
        local current = tonumber(redis.call('HGET', KEYS[1], 'last_event_id') or '0')
        if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[1], 'last_event_id', ARGV[1]) end
        return 0
        """
}
