-- Switches a rebuilt shard in: the staging set becomes the shard, and the metadata (with the
-- number of the last change the rebuild's snapshot includes) is written; changes applied
-- meanwhile are applied again from the change log by the caller.
-- A shard already past the snapshot's change (it applied newer changes meanwhile) is left
-- as it is unless forced: its content is that of its newer number, and setting it back would
-- show readers an older board.
-- KEYS[1] = staging zset, KEYS[2] = shard zset, KEYS[3] = shard meta, and on a board ordered by
-- commit time KEYS[4] = the shard's set of staging rebuilds, from which this one's token (the
-- last ARGV) goes, whatever the outcome; ARGV[1] = members
-- staged, ARGV[2] = the board's incarnation, ARGV[3] = the snapshot's change number, ARGV[4]
-- = "1" to switch even a shard that is past it, then meta field/value pairs (then the token).
-- Returns 1 when
-- switched or not needed (a shard past the snapshot, or of a newer incarnation: the rebuilt
-- board is gone), 0 when the staging set is gone though members were staged (it expired, or
-- the node restarted: the caller retries).
if #KEYS > 3 then redis.call('SREM', KEYS[4], ARGV[#ARGV]) end
local staged = redis.call('EXISTS', KEYS[1]) == 1
local meta = redis.call('HMGET', KEYS[3], 'seq', 'incarnation')
local current = tonumber(meta[2] or '-1')
local past = meta[1] and meta[2] == ARGV[2] and tonumber(meta[1]) > tonumber(ARGV[3]) and ARGV[4] ~= '1'
if current > tonumber(ARGV[2]) or past then
  redis.call('DEL', KEYS[1])
  return 1
end
if tonumber(ARGV[1]) > 0 and not staged then return 0 end
if staged then
  -- The old set is freed in Redis's background thread (UNLINK): RENAME over a big set would
  -- free it inline and hold the node up for every other board meanwhile.
  redis.call('UNLINK', KEYS[2])
  redis.call('RENAME', KEYS[1], KEYS[2])
  redis.call('PERSIST', KEYS[2])
else
  redis.call('UNLINK', KEYS[2])
end
-- Metadata of an older incarnation goes whole (a `retired` mark of that board must not stay).
if meta[2] and meta[2] ~= ARGV[2] then redis.call('DEL', KEYS[3]) end
local fields = #ARGV
if #KEYS > 3 then fields = fields - 1 end
redis.call('HSET', KEYS[3], unpack(ARGV, 5, fields))
redis.call('HINCRBY', KEYS[3], 'version', 1)
return 1
