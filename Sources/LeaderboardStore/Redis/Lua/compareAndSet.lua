-- Repairs members of a shard, each only if it still holds what the reconciler observed.
-- Only while the shard is at the view change the targets were read at: a change applied since
-- may have moved the player (and is then right).
-- KEYS[1] = shard zset, KEYS[2] = shard meta; on a board ordered by commit time also KEYS[3] =
-- the shard's set of staging rebuilds and then each member's tie-map bucket, in ARGV's order. ARGV[1] =
-- that change's number, then triples member, observed score ("" = absent), target score ("" =
-- remove). Returns how many were changed, -1 when the shard is at another change; bumps the
-- version if any (reads in progress then start again).
-- include: tieMap
if redis.call('HGET', KEYS[2], 'seq') ~= ARGV[1] then return -1 end
local ties = #KEYS > 2
local keep = ties and redis.call('EXISTS', KEYS[3]) == 1
local changed = 0
local k = 3
for i = 2, #ARGV, 3 do
  k = k + 1
  local player, observed, target = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local current = redis.call('ZSCORE', KEYS[1], player)
  local matches
  if observed == '' then matches = (current == false) else matches = (current ~= false and tonumber(current) == tonumber(observed)) end
  if matches then
    if target == '' then
      redis.call('ZREM', KEYS[1], player)
      if ties then tieDrop(KEYS[k], player, keep) end
    else
      redis.call('ZADD', KEYS[1], target, player)
      -- beside any other prefix: a stray member of the player may not be removed yet
      if ties then tieNote(KEYS[k], player, true) end
    end
    changed = changed + 1
  end
end
if changed > 0 then redis.call('HINCRBY', KEYS[2], 'version', 1) end
return changed
