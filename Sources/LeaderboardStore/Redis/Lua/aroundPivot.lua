-- The second round of an around read on a hash board: for each shard given, how many of its
-- members rank ahead of the player (see ``aheadOf``) and the `radius` members on either side of
-- that place, with usernames. KEYS = zset, meta of each shard (pairs); ARGV = order, score,
-- member, radius, the length of the members' tie prefix (usernames are looked up by the id after it),
-- and "1" when each shard's names hash follows its meta in KEYS (a Redis Cluster: triples). Returns, per shard, {size, ahead, first position, member, score, username
-- or "", …}, or {-1} when its metadata is missing.
local desc = ARGV[1] == 'desc'
local score, player, radius, skip = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5] or '0')
local stride = 2
if ARGV[6] == '1' then stride = 3 end
-- include: lessByBytes
-- include: tiedBefore
-- include: aheadOf
-- include: perShard
return perShard(function(key, names)
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
      local id = string.sub(items[i], skip + 1)
      if names then out[#out + 1] = redis.call('HGET', names, id) or ''
      else out[#out + 1] = redis.call('HGET', 'player:' .. id .. ':info', 'username') or '' end
    end
  end
  return out
end, stride)
