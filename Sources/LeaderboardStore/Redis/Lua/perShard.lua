-- Lua: `perShard(body, stride)` runs `body(zset key, names key)` for each shard of KEYS (zset,
-- meta pairs; with `stride` 3 zset, meta, names triples, as on a Redis Cluster) and returns the
-- answers in order, {-1} for a shard whose metadata is missing (a Redis that lost its data).
-- Shared by the scripts that answer per shard of a node.
local function perShard(body, stride)
  stride = stride or 2
  local result = {}
  for k = 1, #KEYS, stride do
    local names = nil
    if stride > 2 then names = KEYS[k + 2] end
    if redis.call('EXISTS', KEYS[k + 1]) == 0 then result[#result + 1] = {-1}
    else result[#result + 1] = body(KEYS[k], names) end
  end
  return result
end
