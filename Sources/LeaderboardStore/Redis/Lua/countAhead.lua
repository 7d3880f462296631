-- For each shard given and each pivot (score, player): how many of the shard's members rank
-- strictly ahead of the pivot in the board's order (see ``aheadOf``).
-- KEYS = zset, meta of each shard (pairs); ARGV[1] = order, then score/player pairs.
-- Returns, per shard, {size, count for each pivot}, or {-1} when its metadata is missing.
local desc = ARGV[1] == 'desc'
-- include: lessByBytes
-- include: tiedBefore
-- include: aheadOf
-- include: perShard
return perShard(function(key)
  local total = redis.call('ZCARD', key)
  local out = {total}
  for j = 2, #ARGV, 2 do out[#out + 1] = ahead(key, total, desc, ARGV[j], ARGV[j + 1]) end
  return out
end)
