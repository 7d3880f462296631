-- KEYS[1] = board zset, KEYS[2] = board meta, and in around mode on a board ordered by commit time
-- KEYS[3] = the player's tie-map bucket, and last, on a Redis Cluster, the shard's names hash;
-- ARGV = order, mode ("range" start stop | "around" player radius | "scores" from to), the length of
-- the members' tie prefix (0 on other boards: usernames are looked up by the player id after it),
-- "1" when the last key is the shard's names hash, and in scores mode the most members to return.
-- Returns {total, first 0-based rank, member, score, username or "", …}; {total, -1} when the player
-- is absent; {-1, -1} when the board's metadata is missing (a Redis that lost its data). In scores
-- mode the members are those scored from `from` to `to` (both included, `from` the better), and
-- `first` is the number of members with a better score than `from`.
-- include: tieMap
local key = KEYS[1]
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, -1} end
local desc = ARGV[1] == 'desc'
local skip = tonumber(ARGV[5] or '0')
local total = redis.call('ZCARD', key)
local first, last
if ARGV[2] == 'around' then
  local member = ARGV[3]
  if skip > 0 then member = tieMember(key, KEYS[3], ARGV[3]) end
  local rank
  if member then
    if desc then rank = redis.call('ZREVRANK', key, member) else rank = redis.call('ZRANK', key, member) end
  end
  if not rank then return {total, -1} end
  local radius = tonumber(ARGV[4])
  first = rank - radius
  if first < 0 then first = 0 end
  last = rank + radius
elseif ARGV[2] == 'range' then
  first = tonumber(ARGV[3])
  last = tonumber(ARGV[4])
end
local items
if ARGV[2] == 'scores' then
  local from, to, limit = ARGV[3], ARGV[4], tonumber(ARGV[7])
  if desc then
    first = redis.call('ZCOUNT', key, '(' .. from, '+inf')
    items = redis.call('ZREVRANGEBYSCORE', key, from, to, 'WITHSCORES', 'LIMIT', 0, limit)
  else
    first = redis.call('ZCOUNT', key, '-inf', '(' .. from)
    items = redis.call('ZRANGEBYSCORE', key, from, to, 'WITHSCORES', 'LIMIT', 0, limit)
  end
elseif desc then items = redis.call('ZREVRANGE', key, first, last, 'WITHSCORES')
else items = redis.call('ZRANGE', key, first, last, 'WITHSCORES') end
local out = {total, first}
for i = 1, #items, 2 do
  local id = string.sub(items[i], skip + 1)
  local name
  if ARGV[6] == '1' then name = redis.call('HGET', KEYS[#KEYS], id)
  else name = redis.call('HGET', 'player:' .. id .. ':info', 'username') end
  out[#out + 1] = items[i]
  out[#out + 1] = items[i + 1]
  out[#out + 1] = name or ''
end
return out
