-- Lua: how many members of zset `key` (of `total` members) rank strictly ahead of (score,
-- player) in the board's order, with the tie rule: equal scores rank by player id, descending
-- on a desc board and ascending on an asc board, compared as bytes (never by the server's
-- locale). Needs ``lessByBytes``.
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
