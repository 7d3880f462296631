-- A rebuild's staging writes to a shard's tie map: each staged member's prefix is added to the
-- live map beside any the player has (the live set may still hold its other member until the
-- switch). KEYS[1] = the shard's set of staging rebuilds, then the tie-map bucket of each member;
-- ARGV[1] = this rebuild's token, then the members, in KEYS' order. The token stays in the set
-- (for an hour after the last piece) until the rebuild's switch takes it out: while the set
-- stands, changes only add prefixes to the map.
-- include: tieMap
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], 3600)
for i = 2, #ARGV do tieNote(KEYS[i], ARGV[i], true) end
return #ARGV - 1
