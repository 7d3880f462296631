-- wrk: POST /api/v1/scores with a random player of 100,000 and a random score.
-- Board id from the BOARD environment variable.
local board = os.getenv("BOARD") or "bench"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("WRITER_KEY") or "")
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
    local body = string.format('{"player_id":"p%d","score":%d,"game_id":"%s"}', math.random(1, 100000), math.random(0, 1000000), board)
    return wrk.format(nil, "/api/v1/scores", nil, body)
end
