-- wrk: GET /api/v1/leaderboards/BOARD/player/pN for random players of 100,000.
local board = os.getenv("BOARD") or "bench"
-- Each wrk thread its own random sequence (one seed for all would have them ask for the same
-- players at about the same moment).
local threads = 0
setup = function(thread)
    threads = threads + 1
    thread:set("thread_id", threads)
end
init = function(args)
    math.randomseed(os.time() * 1000 + (thread_id or 0))
end

request = function()
    return wrk.format("GET", string.format("/api/v1/leaderboards/%s/player/p%d", board, math.random(1, 100000)))
end
