import LeaderboardCore
import RedisClient

/// Decoding of Redis replies, each checked before anything indexes with it.
enum RedisReplies {
    /// Throws the first error reply.
    static func check(_ replies: [RedisReply]) throws {
        for reply in replies {
            if case .error(let message) = reply { throw RedisError(.server, message) }
        }
    }

    /// A count (ZCARD, ZCOUNT, a rank): an integer of at least 0.
    static func count(_ reply: RedisReply) throws -> Int {
        guard let value = reply.integer, value >= 0, value <= Int64(Int32.max) * 1024 else {
            throw RedisError(.protocolViolation, "a count reply is not a count")
        }
        return Int(value)
    }

    /// Members from a `WITHSCORES` reply (member, score, …).
    static func members(_ reply: RedisReply) throws -> [RankedMember] {
        let items = reply.array ?? []
        guard items.count % 2 == 0 else { throw RedisError(.protocolViolation, "a range reply has an odd number of items") }
        return try stride(from: 0, to: items.count, by: 2).map { position in
            guard let player = items[position].string, let score = items[position + 1].string.flatMap(Self.score) else {
                throw RedisError(.protocolViolation, "unexpected member in a range reply")
            }
            return RankedMember(playerID: player, score: score)
        }
    }

    /// Decodes `{total, first, member, score, username, …}` from the window script.
    static func window(from reply: RedisReply, board: String) throws -> (total: Int, first: Int, members: [RankedMember]) {
        if case .error(let message) = reply { throw RedisError(.server, message) }
        if let items = reply.array, items.count == 2, items[0].integer == -1 { throw RealtimeStoreError.boardMissing(board) }
        guard let items = reply.array, items.count >= 2, let total = items[0].integer, let first = items[1].integer, total >= 0,
            (items.count - 2) % 3 == 0
        else {
            throw RedisError(.protocolViolation, "unexpected reply of the window script")
        }
        var members: [RankedMember] = []
        members.reserveCapacity((items.count - 2) / 3)
        var index = 2
        while index < items.count {
            guard let player = items[index].string, let score = items[index + 1].string.flatMap(Self.score) else {
                throw RedisError(.protocolViolation, "unexpected entry in the window script's reply")
            }
            let username = items[index + 2].string.flatMap { $0.isEmpty ? nil : $0 }
            members.append(RankedMember(playerID: player, score: score, username: username))
            index += 3
        }
        return (Int(total), Int(first), members)
    }

    /// Redis prints scores as doubles; every stored score is an integer of at most 2^53 − 1.
    static func score(_ text: String) -> Int64? {
        if let value = Int64(text) { return value }
        guard let value = Double(text), value.rounded() == value, abs(value) <= Double(ScoreRange.maximum) else { return nil }
        return Int64(value)
    }
}
