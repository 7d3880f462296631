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
        try check(try await pool.pipeline([["MULTI"], metaCommand(board, lastEventID: lastEventID), bumpVersion(board.config.id), ["EXEC"]]))
    }

    public func deleteBoard(_ id: String) async throws {
        try check(try await pool.pipeline([["DEL", RedisKeys.realtime(id), RedisKeys.meta(id)]]))
    }

    public func resetBoard(_ board: StoredBoard, lastEventID: Int64) async throws {
        try check(
            try await pool.pipeline([
                ["MULTI"],
                ["DEL", RedisKeys.realtime(board.config.id)],
                metaCommand(board, lastEventID: lastEventID),
                bumpVersion(board.config.id),
                ["EXEC"],
            ])
        )
    }

    public func lastAppliedEventID(_ board: String) async throws -> Int64? {
        let reply = try await pool.command("HGET", RedisKeys.meta(board), "last_event_id")
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply.integer
    }

    public func viewVersion(_ board: String) async throws -> Int64? {
        let replies = try await pool.pipeline([["EXISTS", RedisKeys.meta(board)], ["HGET", RedisKeys.meta(board), "version"]])
        try check(replies)
        guard replies[0].integer == 1 else { return nil }
        return replies[1].integer ?? 0
    }

    private func metaFields(_ board: StoredBoard, lastEventID: Int64) -> [String] {
        let config = board.config
        return [
            "name", config.name, "sort_order", config.sortOrder.rawValue, "update_mode", config.updateMode.rawValue,
            "max_entries", String(config.maxEntries), "layout", config.layout.strategy, "epoch", "1",
            "period", String(board.period), "last_event_id", String(lastEventID),
        ]
    }

    private func metaCommand(_ board: StoredBoard, lastEventID: Int64) -> [String] {
        ["HSET", RedisKeys.meta(board.config.id)] + metaFields(board, lastEventID: lastEventID)
    }

    private func bumpVersion(_ board: String) -> [String] { ["HINCRBY", RedisKeys.meta(board), "version", "1"] }

    // MARK: - Writes

    /// Applies each board's changes atomically (one script per board), so a concurrent rebuild
    /// sees either none or all of them through the view's version.
    public func apply(_ batch: RealtimeBatch) async throws -> Set<String> {
        var commands: [[String]] = []
        var boards: [String] = []
        for (id, changes) in batch.boards {
            let config = changes.config
            var command = [
                "EVAL", Scripts.apply, "2", RedisKeys.realtime(id), RedisKeys.meta(id),
                String(changes.lastEventID), config.sortOrder.rawValue, String(config.maxEntries), String(changes.removals.count),
            ]
            command.reserveCapacity(command.count + changes.removals.count + 2 * changes.scores.count)
            command.append(contentsOf: changes.removals)
            for (player, score) in changes.scores {
                command.append(String(score))
                command.append(player)
            }
            boards.append(id)
            commands.append(command)
        }
        for (player, username) in batch.usernames {
            commands.append(["HSET", RedisKeys.playerInfo(player), "username", username])
        }
        let replies = try await pool.pipeline(commands)
        try check(replies)
        return Set(boards.indices.filter { replies[$0].integer == -1 }.map { boards[$0] })
    }

    public func rebuild(_ board: StoredBoard, entries: [LeaderboardEntry], lastEventID: Int64, ifVersion expected: Int64?) async throws -> Bool {
        let id = board.config.id
        let staging = RedisKeys.rebuilding(id, attempt: UInt64.random(in: .min ... .max))
        var commands: [[String]] = []
        for chunk in stride(from: 0, to: entries.count, by: chunkSize) {
            var command = ["ZADD", staging]
            command.reserveCapacity(2 + 2 * chunkSize)
            for entry in entries[chunk..<min(chunk + chunkSize, entries.count)] {
                command.append(String(entry.score))
                command.append(entry.playerID)
            }
            commands.append(command)
            // An abandoned staging key (a crash mid-rebuild) expires by itself.
            if chunk == 0 { commands.append(["EXPIRE", staging, "3600"]) }
        }
        for entry in entries {
            if let username = entry.username { commands.append(["HSET", RedisKeys.playerInfo(entry.playerID), "username", username]) }
        }
        commands.append(
            ["EVAL", Scripts.switchRebuilt, "3", staging, RedisKeys.realtime(id), RedisKeys.meta(id), expected.map(String.init) ?? ""]
                + metaFields(board, lastEventID: lastEventID)
        )
        let replies = try await pool.pipeline(commands)
        try check(replies)
        return replies.last?.integer == 1
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

    /// Applies one board's committed changes atomically.
    /// KEYS[1] = board zset, KEYS[2] = board meta; ARGV[1] = last event id, ARGV[2] = order,
    /// ARGV[3] = max_entries (0 = unlimited), ARGV[4] = number of removals, then the removed
    /// members, then score/member pairs. Returns -1 and writes nothing when the metadata is
    /// missing (the board was lost and must be rebuilt), 0 otherwise. Bumps the view's version.
    static let apply = """
        if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
        local removals = tonumber(ARGV[4])
        local i = 5
        local stop = 4 + removals
        while i <= stop do
          local last = math.min(i + 999, stop)
          redis.call('ZREM', KEYS[1], unpack(ARGV, i, last))
          i = last + 1
        end
        while i <= #ARGV do
          local last = math.min(i + 1999, #ARGV)
          redis.call('ZADD', KEYS[1], unpack(ARGV, i, last))
          i = last + 1
        end
        local max = tonumber(ARGV[3])
        if max > 0 then
          if ARGV[2] == 'desc' then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(max + 1))
          else redis.call('ZREMRANGEBYRANK', KEYS[1], max, -1) end
        end
        redis.call('HINCRBY', KEYS[2], 'version', 1)
        local current = tonumber(redis.call('HGET', KEYS[2], 'last_event_id') or '0')
        if tonumber(ARGV[1]) > current then redis.call('HSET', KEYS[2], 'last_event_id', ARGV[1]) end
        return 0
        """

    /// Switches a rebuilt board in, unless its view changed since the rebuild's snapshot.
    /// KEYS[1] = staging zset, KEYS[2] = board zset, KEYS[3] = board meta; ARGV[1] = the version
    /// read before the snapshot ("" = no metadata), then meta field/value pairs.
    /// Returns 1 when switched, 0 when something was applied meanwhile (the caller retries).
    static let switchRebuilt = """
        local version = redis.call('HGET', KEYS[3], 'version')
        if not version then
          if redis.call('EXISTS', KEYS[3]) == 1 then version = '0' else version = '' end
        end
        if version ~= ARGV[1] then
          redis.call('DEL', KEYS[1])
          return 0
        end
        if redis.call('EXISTS', KEYS[1]) == 1 then
          redis.call('RENAME', KEYS[1], KEYS[2])
          redis.call('PERSIST', KEYS[2])
        else
          redis.call('DEL', KEYS[2])
        end
        redis.call('HSET', KEYS[3], unpack(ARGV, 2))
        redis.call('HINCRBY', KEYS[3], 'version', 1)
        return 1
        """
}
