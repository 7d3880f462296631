-- The first round of locating a deep rank on a hash board: each shard's size and a few of its
-- members, `spacing` apart, centred where the board's position `start` should fall in it (its
-- share of the board). KEYS = zset, meta of each shard (pairs); ARGV = order, start, board
-- size (0 = unknown: this shard's size times the shard count), shard count, spacing, members.
-- Returns, per shard, {size, position, member, score, …} (positions 0-based in the board's
-- order, ascending, distinct), or {-1} when its metadata is missing.
local desc = ARGV[1] == 'desc'
local start, board, shards = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local spacing, count = tonumber(ARGV[5]), tonumber(ARGV[6])
-- include: perShard
return perShard(function(key)
  local size = redis.call('ZCARD', key)
  local out = {size}
  local total = board
  if total <= 0 then total = size * shards end
  if size > 0 then
    local center = math.floor(start * size / math.max(total, 1))
    local previous = -1
    for j = 0, count - 1 do
      local offset = math.floor((2 * j - (count - 1)) * spacing / 2)
      local position = math.min(math.max(center + offset, 0), size - 1)
      if position > previous then
        local item
        if desc then item = redis.call('ZREVRANGE', key, position, position, 'WITHSCORES')
        else item = redis.call('ZRANGE', key, position, position, 'WITHSCORES') end
        out[#out + 1] = position
        out[#out + 1] = item[1]
        out[#out + 1] = item[2]
        previous = position
      end
    end
  end
  return out
end)
