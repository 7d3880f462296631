-- A rebuild's staging writes to a shard's tie map: each staged member's prefix is added to the
-- live map beside any the player has (the live set may still hold its other member until the
-- switch). KEYS = the tie-map bucket of each member; ARGV = the members, in KEYS' order.
-- include: tieMap
for i = 1, #ARGV do tieNote(KEYS[i], ARGV[i], true) end
return #ARGV
