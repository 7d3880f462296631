import RedisClient

/// Server-side Lua scripts (read-only except the event-id update).
enum Scripts {
    /// Lua: whether player id `a` sorts before `b` by bytes (as Redis orders equal scores),
    /// never by the server's locale. Shared by the scripts that apply the tie rule.
    static let lessByBytes = """
        local function less(a, b)
          local n = math.min(#a, #b)
          for i = 1, n do
            local x, y = string.byte(a, i), string.byte(b, i)
            if x ~= y then return x < y end
          end
          return #a < #b
        end
        """

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

    /// Applies one numbered view change to one shard, atomically, in sequence: only the change
    /// right after the shard's last (`seq` in its metadata).
    /// KEYS[1] = shard zset, KEYS[2] = shard meta; ARGV[1] = the board's incarnation, ARGV[2] =
    /// the change's number, ARGV[3] = "1" to empty the shard first (a reset), ARGV[4] = the
    /// board's period, ARGV[5] = last event id, ARGV[6] = number of removals, then the removed
    /// members, then score/member pairs.
    /// Returns {status, the shard's number after}: status 0 applied, 1 already applied (a
    /// repeat), 2 refused (an earlier change is missing: a gap), -1 the metadata is missing or
    /// another incarnation's (the shard must be rebuilt).
    static let apply = """
        local meta = redis.call('HMGET', KEYS[2], 'seq', 'incarnation')
        if not meta[1] or meta[2] ~= ARGV[1] then return {-1, 0} end
        local applied = tonumber(meta[1])
        local seq = tonumber(ARGV[2])
        if seq <= applied then return {1, applied} end
        if seq ~= applied + 1 then return {2, applied} end
        if ARGV[3] == '1' then redis.call('DEL', KEYS[1]) end
        local i = 7
        local stop = 6 + tonumber(ARGV[6])
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
        redis.call('HSET', KEYS[2], 'seq', ARGV[2], 'period', ARGV[4], 'last_event_id', ARGV[5])
        if #ARGV > 6 or ARGV[3] == '1' then redis.call('HINCRBY', KEYS[2], 'version', 1) end
        return {0, seq}
        """

    /// Switches a rebuilt shard in: the staging set becomes the shard, and the metadata (with the
    /// number of the last change the rebuild's snapshot includes) is written; changes applied
    /// meanwhile are applied again from the change log by the caller.
    /// A shard already past the snapshot's change (it applied newer changes meanwhile) is left
    /// as it is unless forced: its content is that of its newer number, and setting it back would
    /// show readers an older board.
    /// KEYS[1] = staging zset, KEYS[2] = shard zset, KEYS[3] = shard meta; ARGV[1] = members
    /// staged, ARGV[2] = the board's incarnation, ARGV[3] = the snapshot's change number, ARGV[4]
    /// = "1" to switch even a shard that is past it, then meta field/value pairs. Returns 1 when
    /// switched or not needed (a shard past the snapshot, or of a newer incarnation: the rebuilt
    /// board is gone), 0 when the staging set is gone though members were staged (it expired, or
    /// the node restarted: the caller retries).
    static let switchRebuilt = """
        local staged = redis.call('EXISTS', KEYS[1]) == 1
        local meta = redis.call('HMGET', KEYS[3], 'seq', 'incarnation')
        local current = tonumber(meta[2] or '-1')
        local past = meta[1] and meta[2] == ARGV[2] and tonumber(meta[1]) > tonumber(ARGV[3]) and ARGV[4] ~= '1'
        if current > tonumber(ARGV[2]) or past then
          redis.call('DEL', KEYS[1])
          return 1
        end
        if tonumber(ARGV[1]) > 0 and not staged then return 0 end
        if staged then
          redis.call('RENAME', KEYS[1], KEYS[2])
          redis.call('PERSIST', KEYS[2])
        else
          redis.call('DEL', KEYS[2])
        end
        redis.call('HSET', KEYS[3], unpack(ARGV, 5))
        redis.call('HINCRBY', KEYS[3], 'version', 1)
        return 1
        """

    /// Writes a new shard's metadata and bumps its version, unless the shard already has this
    /// incarnation's metadata or a newer one's (a rebuild got there first: its change number must
    /// not be set back; or this board is already gone). Keys of an earlier incarnation (a board deleted while a node was unreachable) are
    /// dropped first. KEYS[1] = shard zset, KEYS[2] = shard meta; ARGV[1] = the incarnation, then
    /// field/value pairs.
    static let writeMeta = """
        local current = redis.call('HGET', KEYS[2], 'incarnation')
        if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
        redis.call('DEL', KEYS[1], KEYS[2])
        redis.call('HSET', KEYS[2], unpack(ARGV, 2))
        redis.call('HINCRBY', KEYS[2], 'version', 1)
        return 0
        """

    /// Lua: `perShard(body)` runs `body(zset key)` for each shard of KEYS (zset, meta pairs) and
    /// returns the answers in order, {-1} for a shard whose metadata is missing (a Redis that lost
    /// its data). Shared by the scripts that answer per shard of a node.
    static let perShard = """
        local function perShard(body)
          local result = {}
          for k = 1, #KEYS, 2 do
            if redis.call('EXISTS', KEYS[k + 1]) == 0 then result[#result + 1] = {-1}
            else result[#result + 1] = body(KEYS[k]) end
          end
          return result
        end
        """

    /// Lua: how many members of zset `key` (of `total` members) rank strictly ahead of (score,
    /// player) in the board's order, with the tie rule: equal scores rank by player id, descending
    /// on a desc board and ascending on an asc board, compared as bytes (never by the server's
    /// locale). Needs ``lessByBytes``.
    static let aheadOf = """
        local function ahead(key, total, desc, score, player)
          local below = redis.call('ZCOUNT', key, '-inf', '(' .. score)
          local equal = redis.call('ZCOUNT', key, score, score)
          -- members with this score sit at ascending positions below .. below + equal - 1, by bytes
          local lo, hi = 0, equal
          while lo < hi do
            local mid = math.floor((lo + hi) / 2)
            if less(redis.call('ZRANGE', key, below + mid, below + mid)[1], player) then lo = mid + 1 else hi = mid end
          end
          if desc then
            local same = 0
            if lo < equal and redis.call('ZRANGE', key, below + lo, below + lo)[1] == player then same = 1 end
            return (total - below - equal) + (equal - lo - same)
          end
          return below + lo
        end
        """

    /// For each shard given and each pivot (score, player): how many of the shard's members rank
    /// strictly ahead of the pivot in the board's order (see ``aheadOf``).
    /// KEYS = zset, meta of each shard (pairs); ARGV[1] = order, then score/player pairs.
    /// Returns, per shard, {size, count for each pivot}, or {-1} when its metadata is missing.
    static let countAhead = """
        local desc = ARGV[1] == 'desc'
        \(lessByBytes)
        \(aheadOf)
        \(perShard)
        return perShard(function(key)
          local total = redis.call('ZCARD', key)
          local out = {total}
          for j = 2, #ARGV, 2 do out[#out + 1] = ahead(key, total, desc, ARGV[j], ARGV[j + 1]) end
          return out
        end)
        """

    /// The second round of an around read on a hash board: for each shard given, how many of its
    /// members rank ahead of the player (see ``aheadOf``) and the `radius` members on either side of
    /// that place, with usernames. KEYS = zset, meta of each shard (pairs); ARGV = order, score,
    /// player, radius. Returns, per shard, {size, ahead, first position, member, score, username
    /// or "", …}, or {-1} when its metadata is missing.
    static let aroundPivot = """
        local desc = ARGV[1] == 'desc'
        local score, player, radius = ARGV[2], ARGV[3], tonumber(ARGV[4])
        \(lessByBytes)
        \(aheadOf)
        \(perShard)
        return perShard(function(key)
          local total = redis.call('ZCARD', key)
          local count = ahead(key, total, desc, score, player)
          local first = math.max(count - radius, 0)
          local out = {total, count, first}
          if count + radius > first then
            local items
            if desc then items = redis.call('ZREVRANGE', key, first, count + radius - 1, 'WITHSCORES')
            else items = redis.call('ZRANGE', key, first, count + radius - 1, 'WITHSCORES') end
            for i = 1, #items, 2 do
              out[#out + 1] = items[i]
              out[#out + 1] = items[i + 1]
              out[#out + 1] = redis.call('HGET', 'player:' .. items[i] .. ':info', 'username') or ''
            end
          end
          return out
        end)
        """

    /// The first round of locating a deep rank on a hash board: each shard's size and a few of its
    /// members, `spacing` apart, centred where the board's position `start` should fall in it (its
    /// share of the board). KEYS = zset, meta of each shard (pairs); ARGV = order, start, board
    /// size (0 = unknown: this shard's size times the shard count), shard count, spacing, members.
    /// Returns, per shard, {size, position, member, score, …} (positions 0-based in the board's
    /// order, ascending, distinct), or {-1} when its metadata is missing.
    static let probe = """
        local desc = ARGV[1] == 'desc'
        local start, board, shards = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local spacing, count = tonumber(ARGV[5]), tonumber(ARGV[6])
        \(perShard)
        return perShard(function(key)
          local size = redis.call('ZCARD', key)
          local out = {size}
          local total = board
          if total <= 0 then total = size * shards end
          if size > 0 then
            local center = math.floor(start * size / math.max(total, 1))
            local previous = -1
            for j = 0, count - 1 do
              local offset = math.floor((2 * j - (count - 1)) * spacing / 2)
              local position = math.min(math.max(center + offset, 0), size - 1)
              if position > previous then
                local item
                if desc then item = redis.call('ZREVRANGE', key, position, position, 'WITHSCORES')
                else item = redis.call('ZRANGE', key, position, position, 'WITHSCORES') end
                out[#out + 1] = position
                out[#out + 1] = item[1]
                out[#out + 1] = item[2]
                previous = position
              end
            end
          end
          return out
        end)
        """

    /// For each shard given and each score: how many of its members have a better score in the
    /// board's order, and how many have exactly that score (cheap bounds on a count ahead).
    /// KEYS = zset, meta of each shard (pairs); ARGV[1] = order, then scores.
    /// Returns, per shard, {size, better, equal for each score}, or {-1} when its metadata is missing.
    static let countBounds = """
        local desc = ARGV[1] == 'desc'
        \(perShard)
        return perShard(function(key)
          local out = {redis.call('ZCARD', key)}
          for j = 2, #ARGV do
            local score = ARGV[j]
            local better
            if desc then better = redis.call('ZCOUNT', key, '(' .. score, '+inf')
            else better = redis.call('ZCOUNT', key, '-inf', '(' .. score) end
            out[#out + 1] = better
            out[#out + 1] = redis.call('ZCOUNT', key, score, score)
          end
          return out
        end)
        """

    /// Repairs members of a shard, each only if it still holds what the reconciler observed.
    /// Only while the shard is at the view change the targets were read at: a change applied since
    /// may have moved the player (and is then right).
    /// KEYS[1] = shard zset, KEYS[2] = shard meta; ARGV[1] = that change's number, then triples
    /// player, observed score ("" = absent), target score ("" = remove). Returns how many were
    /// changed, -1 when the shard is at another change; bumps the version if any (reads in
    /// progress then start again).
    static let compareAndSet = """
        if redis.call('HGET', KEYS[2], 'seq') ~= ARGV[1] then return -1 end
        local changed = 0
        for i = 2, #ARGV, 3 do
          local player, observed, target = ARGV[i], ARGV[i + 1], ARGV[i + 2]
          local current = redis.call('ZSCORE', KEYS[1], player)
          local matches
          if observed == '' then matches = (current == false) else matches = (current ~= false and tonumber(current) == tonumber(observed)) end
          if matches then
            if target == '' then redis.call('ZREM', KEYS[1], player) else redis.call('ZADD', KEYS[1], target, player) end
            changed = changed + 1
          end
        end
        if changed > 0 then redis.call('HINCRBY', KEYS[2], 'version', 1) end
        return changed
        """

    /// Finds where chunk bounds fall in a shard and digests the members between them, for the
    /// sync worker (see ``ShardChunks``). Positions are in ascending order (ZRANGE).
    /// KEYS[1] = shard zset, KEYS[2] = shard meta; ARGV[1] = "1" when the last bound's position
    /// is taken just past it, then score/player pairs ascending. Returns {size, position of each
    /// bound, SHA-1 hex of "id\nscore\n…" between each two consecutive bounds}, or {-1} when the
    /// metadata is missing.
    static let chunkDigests = """
        if redis.call('EXISTS', KEYS[2]) == 0 then return {-1} end
        local key = KEYS[1]
        \(lessByBytes)
        local function holds(score, player)
          local current = redis.call('ZSCORE', key, player)
          return current and tonumber(current) == tonumber(score)
        end
        -- how many members come before (score, player) in ascending order
        local function before(score, player)
          if holds(score, player) then return redis.call('ZRANK', key, player) end
          local below = redis.call('ZCOUNT', key, '-inf', '(' .. score)
          local equal = redis.call('ZCOUNT', key, score, score)
          local lo, hi = 0, equal
          while lo < hi do
            local mid = math.floor((lo + hi) / 2)
            if less(redis.call('ZRANGE', key, below + mid, below + mid)[1], player) then lo = mid + 1 else hi = mid end
          end
          return below + lo
        end
        local out = {redis.call('ZCARD', key)}
        local n = (#ARGV - 1) / 2
        for j = 1, n do
          local score, player = ARGV[2 * j], ARGV[2 * j + 1]
          local position = before(score, player)
          if j == n and ARGV[1] == '1' and holds(score, player) then position = position + 1 end
          out[#out + 1] = position
        end
        for j = 1, n - 1 do
          local a, b = out[j + 1], out[j + 2]
          local text = ''
          if b > a then text = table.concat(redis.call('ZRANGE', key, a, b - 1, 'WITHSCORES'), '\\n') end
          out[#out + 1] = redis.sha1hex(text)
        end
        return out
        """
}
