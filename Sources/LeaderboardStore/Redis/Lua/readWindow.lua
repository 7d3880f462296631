-- KEYS[1] = board zset, KEYS[2] = board meta; ARGV = order, mode ("range" start stop | "around" player radius).
-- Returns {total, first 0-based rank, member, score, username or "", …}; {total, -1} when the player
-- is absent; {-1, -1} when the board's metadata is missing (a Redis that lost its data).
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
