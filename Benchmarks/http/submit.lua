-- wrk: POST /api/v1/scores with a random player of 100,000 and a random score.
-- Board id from the BOARD environment variable.
local board = os.getenv("BOARD") or "bench"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRITER_KEY") or "")

request = function()
    local body = string.format('{"player_id":"p%d","score":%d,"game_id":"%s"}', math.random(1, 100000), math.random(0, 1000000), board)
    return wrk.format(nil, "/api/v1/scores", nil, body)
end
