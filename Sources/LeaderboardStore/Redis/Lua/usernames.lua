-- The usernames of the players in ARGV (one node's share of a read's returned entries), in
-- order, "" where a player has none. KEYS: none (player info hashes are per player, not per shard).
local out = {}
for i = 1, #ARGV do
  out[i] = redis.call('HGET', 'player:' .. ARGV[i] .. ':info', 'username') or ''
end
return out
