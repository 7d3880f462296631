-- Lua: a shard's tie map, on boards ordered by commit time (see ``RedisKeys/tieBucket(_:player:buckets:)``):
-- in small hashes (buckets), player id → the 11-character tie prefix of its member, or several
-- prefixes one after another (newest first) while a rebuild stages the shard (a staged set may
-- hold a member whose prefix a live change would drop). A read checks each prefix with ZSCORE, so a prefix
-- left over (a reset, a skipped switch) is harmless; what must hold is that every member of the
-- sorted set has its prefix in the map.
local tiePrefix = 11
-- records the prefix of `member`: the player's only one, or (`keep`) one more before the others
local function tieNote(bucket, member, keep)
  local prefix, player = string.sub(member, 1, tiePrefix), string.sub(member, tiePrefix + 1)
  if keep then
    local held = redis.call('HGET', bucket, player)
    if held then
      for i = 1, #held, tiePrefix do
        if string.sub(held, i, i + tiePrefix - 1) == prefix then return end
      end
      redis.call('HSET', bucket, player, prefix .. held)
      return
    end
  end
  redis.call('HSET', bucket, player, prefix)
end
-- forgets the prefix of `member` (not while `keep`)
local function tieDrop(bucket, member, keep)
  if keep then return end
  local prefix, player = string.sub(member, 1, tiePrefix), string.sub(member, tiePrefix + 1)
  local held = redis.call('HGET', bucket, player)
  if not held then return end
  local rest = {}
  for i = 1, #held, tiePrefix do
    local other = string.sub(held, i, i + tiePrefix - 1)
    if other ~= prefix then rest[#rest + 1] = other end
  end
  if #rest == 0 then redis.call('HDEL', bucket, player) else redis.call('HSET', bucket, player, table.concat(rest)) end
end
-- the member of `player` in zset `key` and its score (nil when the player is not in it)
local function tieMember(key, bucket, player)
  local held = redis.call('HGET', bucket, player)
  if not held then return nil end
  for i = 1, #held, tiePrefix do
    local member = string.sub(held, i, i + tiePrefix - 1) .. player
    local score = redis.call('ZSCORE', key, member)
    if score then return member, score end
  end
  return nil
end
