-- The members and scores of players on one shard of a board ordered by commit time (a friends
-- list's first round). KEYS[1] = shard zset, then each player's tie-map bucket; ARGV = the
-- players, in KEYS' order. Returns {member, score, …} per player, "" and "" where it is absent.
-- include: tieMap
local out = {}
for i = 1, #ARGV do
  local member, score = tieMember(KEYS[1], KEYS[i + 1], ARGV[i])
  out[#out + 1] = member or ''
  out[#out + 1] = score or ''
end
return out
