-- Finds where chunk bounds fall in a shard and digests the members between them, for the
-- sync worker (see ``ShardChunks``). Positions are in ascending order (ZRANGE).
-- KEYS[1] = shard zset, KEYS[2] = shard meta; ARGV[1] = "1" when the last bound's position
-- is taken just past it, then score/player pairs ascending. Returns {size, position of each
-- bound, SHA-1 hex of "id\nscore\n…" between each two consecutive bounds}, or {-1} when the
-- metadata is missing.
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1} end
local key = KEYS[1]
-- include: lessByBytes
-- include: tiedBefore
local function holds(score, player)
  local current = redis.call('ZSCORE', key, player)
  return current and tonumber(current) == tonumber(score)
end
-- how many members come before (score, player) in ascending order
local function before(score, player)
  if holds(score, player) then return redis.call('ZRANK', key, player) end
  local below, _, lo = tiedBefore(key, score, player)
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
  if b > a then text = table.concat(redis.call('ZRANGE', key, a, b - 1, 'WITHSCORES'), '\n') end
  out[#out + 1] = redis.sha1hex(text)
end
return out
