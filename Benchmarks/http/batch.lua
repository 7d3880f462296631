-- wrk: POST /api/v1/scores/batch with 100 random players of 100,000 per request.
local board = os.getenv("BOARD") or "bench"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRITER_KEY") or "")
math.randomseed(os.time())

local bodies = {}
for b = 1, 64 do
    local items = {}
    for i = 1, 100 do
        items[i] = string.format('{"player_id":"p%d","score":%d,"game_id":"%s"}', math.random(1, 100000), math.random(0, 1000000), board)
    end
    bodies[b] = '{"scores":[' .. table.concat(items, ",") .. ']}'
end
local next_body = 0

request = function()
    next_body = next_body % #bodies + 1
    return wrk.format(nil, "/api/v1/scores/batch", nil, bodies[next_body])
end
