-- Writes a new shard's metadata and bumps its version, unless the shard already has this
-- incarnation's metadata or a newer one's (a rebuild got there first: its change number must
-- not be set back; or this board is already gone). Keys of an earlier incarnation (a board deleted while a node was unreachable) are
-- dropped first. KEYS[1] = shard zset, KEYS[2] = shard meta; ARGV[1] = the incarnation, then
-- field/value pairs.
local current = redis.call('HGET', KEYS[2], 'incarnation')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('UNLINK', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 2))
redis.call('HINCRBY', KEYS[2], 'version', 1)
return 0
