-- Applies one numbered view change to one shard, atomically, in sequence: only the change
-- right after the shard's last (`seq` in its metadata).
-- KEYS[1] = shard zset, KEYS[2] = shard meta; on a board ordered by commit time also KEYS[3] =
-- the shard's set of staging rebuilds (``RedisKeys/tieStaging(_:)``), the tie-map bucket of each removed
-- member and of each added one, in ARGV's order, and on a reset every bucket of the map. ARGV[1] = the board's incarnation,
-- ARGV[2] = the change's number, ARGV[3] = "1" to empty the shard first (a reset), ARGV[4] = the
-- board's period, ARGV[5] = last event id, ARGV[6] = number of removals, then the removed
-- members, then score/member pairs.
-- Returns {status, the shard's number after}: status 0 applied, 1 already applied (a
-- repeat), 2 refused (an earlier change is missing: a gap), -1 the metadata is missing or
-- another incarnation's (the shard must be rebuilt).
-- include: tieMap
local meta = redis.call('HMGET', KEYS[2], 'seq', 'incarnation')
if not meta[1] or meta[2] ~= ARGV[1] then return {-1, 0} end
local applied = tonumber(meta[1])
local seq = tonumber(ARGV[2])
if seq <= applied then return {1, applied} end
if seq ~= applied + 1 then return {2, applied} end
local stop = 6 + tonumber(ARGV[6])
local keep = #KEYS > 2 and redis.call('EXISTS', KEYS[3]) == 1
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[1])
  -- The emptied shard's tie map goes too, unless a rebuild stages it (its prefixes are checked anyway).
  local first = 4 + (stop - 6) + (#ARGV - stop) / 2
  if not keep then
    for k = first, #KEYS, 1000 do redis.call('UNLINK', unpack(KEYS, k, math.min(k + 999, #KEYS))) end
  end
end
local i = 7
while i <= stop do
  local last = math.min(i + 999, stop)
  redis.call('ZREM', KEYS[1], unpack(ARGV, i, last))
  i = last + 1
end
while i <= #ARGV do
  local last = math.min(i + 1999, #ARGV)
  redis.call('ZADD', KEYS[1], unpack(ARGV, i, last))
  i = last + 1
end
if #KEYS > 2 then
  -- Removals first: a player whose member changes leaves as the old one and enters as the new.
  local k = 4
  for j = 7, stop do
    tieDrop(KEYS[k], ARGV[j], keep)
    k = k + 1
  end
  for j = stop + 2, #ARGV, 2 do
    tieNote(KEYS[k], ARGV[j], keep)
    k = k + 1
  end
end
redis.call('HSET', KEYS[2], 'seq', ARGV[2], 'period', ARGV[4], 'last_event_id', ARGV[5])
if #ARGV > 6 or ARGV[3] == '1' then redis.call('HINCRBY', KEYS[2], 'version', 1) end
return {0, seq}
