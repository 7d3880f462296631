-- For each shard given and each score: how many of its members have a better score in the
-- board's order, and how many have exactly that score (cheap bounds on a count ahead).
-- KEYS = zset, meta of each shard (pairs); ARGV[1] = order, then scores.
-- Returns, per shard, {size, better, equal for each score}, or {-1} when its metadata is missing.
local desc = ARGV[1] == 'desc'
-- include: perShard
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
