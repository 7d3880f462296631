-- Lua: how many members of zset `key` (of `total` members) rank strictly ahead of (score,
-- player) in the board's order, with the tie rule: equal scores rank by player id, descending
-- on a desc board and ascending on an asc board, compared as bytes (never by the server's
-- locale). Needs ``lessByBytes`` and ``tiedBefore``.
local function ahead(key, total, desc, score, player)
  local below, equal, lo = tiedBefore(key, score, player)
  if desc then
    local same = 0
    if lo < equal and redis.call('ZRANGE', key, below + lo, below + lo)[1] == player then same = 1 end
    return (total - below - equal) + (equal - lo - same)
  end
  return below + lo
end
