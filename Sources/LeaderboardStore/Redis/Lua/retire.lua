-- Marks a shard of a layout epoch that is being switched away from as retired (ARGV[2] = "1"),
-- or takes the mark back ("0": the switch did not happen). A read that finds the mark redoes
-- itself on the board's new layout. A shard without metadata is marked too (a hash holding
-- only the mark), so a rebuild of it that lands later still carries the mark; a shard of
-- another incarnation is left alone.
-- KEYS[1] = shard meta; ARGV[1] = the board's incarnation, ARGV[2] = "1" or "0".
-- Returns 1 when marked (or unmarked), 0 when the shard is another incarnation's.
local incarnation = redis.call('HGET', KEYS[1], 'incarnation')
if incarnation and incarnation ~= ARGV[1] then return 0 end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'retired', '1')
else
  redis.call('HDEL', KEYS[1], 'retired')
end
return 1
