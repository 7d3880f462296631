-- A player's place on one shard of a board ordered by commit time: its member (found through the
-- tie map), score, 0-based rank in the board's order, username and the shard's size.
-- KEYS[1] = shard zset, KEYS[2] = the player's tie-map bucket, KEYS[3] = the player's info hash
-- (or on a Redis Cluster the shard's names hash); ARGV = order, player, "1" when KEYS[3] is names. Returns {size} when the player is not on the shard, else
-- {size, member, score, rank, username or ""}.
-- include: tieMap
local size = redis.call('ZCARD', KEYS[1])
local member, score = tieMember(KEYS[1], KEYS[2], ARGV[2])
if not member then return {size} end
local rank
if ARGV[1] == 'desc' then rank = redis.call('ZREVRANK', KEYS[1], member) else rank = redis.call('ZRANK', KEYS[1], member) end
local name
if ARGV[3] == '1' then name = redis.call('HGET', KEYS[3], ARGV[2]) else name = redis.call('HGET', KEYS[3], 'username') end
return {size, member, score, rank, name or ''}
