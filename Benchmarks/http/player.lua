-- wrk: GET /api/v1/leaderboards/BOARD/player/pN for random players of 100,000.
local board = os.getenv("BOARD") or "bench"

request = function()
    return wrk.format("GET", string.format("/api/v1/leaderboards/%s/player/p%d", board, math.random(1, 100000)))
end
