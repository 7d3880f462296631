-- Lua: where (score, player) falls among the members of zset `key` in ascending order: how many
-- have a lower score, how many have this score, and how many of those sort before `player` by
-- bytes (a bisection over the equal scores, never by the server's locale). Needs ``lessByBytes``.
local function tiedBefore(key, score, player)
  local below = redis.call('ZCOUNT', key, '-inf', '(' .. score)
  local equal = redis.call('ZCOUNT', key, score, score)
  -- members with this score sit at ascending positions below .. below + equal - 1, by bytes
  local lo, hi = 0, equal
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if less(redis.call('ZRANGE', key, below + mid, below + mid)[1], player) then lo = mid + 1 else hi = mid end
  end
  return below, equal, lo
end
