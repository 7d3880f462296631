-- Drops a deleted board's shard, unless the keys belong to a newer incarnation of the board
-- (created again since the delete). KEYS[1] = shard zset, KEYS[2] = shard meta, then (boards
-- ordered by commit time) the tie map's buckets and staging set, and on a cluster the names hash;
-- ARGV[1] = the deleted incarnation. Returns 1 when dropped, 0 when left to the newer board.
local current = redis.call('HGET', KEYS[2], 'incarnation')
if current and tonumber(current) > tonumber(ARGV[1]) then return 0 end
for i = 1, #KEYS, 1000 do redis.call('UNLINK', unpack(KEYS, i, math.min(i + 999, #KEYS))) end
return 1
