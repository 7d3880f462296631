-- Lua: `perShard(body)` runs `body(zset key)` for each shard of KEYS (zset, meta pairs) and
-- returns the answers in order, {-1} for a shard whose metadata is missing (a Redis that lost
-- its data). Shared by the scripts that answer per shard of a node.
local function perShard(body)
  local result = {}
  for k = 1, #KEYS, 2 do
    if redis.call('EXISTS', KEYS[k + 1]) == 0 then result[#result + 1] = {-1}
    else result[#result + 1] = body(KEYS[k]) end
  end
  return result
end
