-- wrk: read endpoints of board BOARD with PLAYERS players named p%012d (as leaderboard-bench loads them).
-- OP: player | top (100) | top50 | around | range (50 entries at the middle rank, the same page again
-- and again) | range-random (50 entries from a random rank in the middle half: a new page every time)
-- | friends (a list of 50) | cutoff (top 1 %).
-- HOT=K: player and around ask only for the first K players (players checking their rank again and again).
local board = os.getenv("BOARD") or "bench-single"
local op = os.getenv("OP") or "player"
local players = tonumber(os.getenv("PLAYERS") or "1000000")

request = function()
    local base = "/api/v1/leaderboards/" .. board
    if op == "top" then
        return wrk.format("GET", base .. "/top?limit=100")
    elseif op == "top50" then
        return wrk.format("GET", base .. "/top?limit=50")
    elseif op == "range" then
        local start = math.floor(players / 2)
        return wrk.format("GET", string.format("%s/range?start=%d&end=%d", base, start, start + 49))
    elseif op == "range-random" then
        local start = math.random(math.floor(players / 4), math.floor(players * 3 / 4))
        return wrk.format("GET", string.format("%s/range?start=%d&end=%d", base, start, start + 49))
    end
    if op == "cutoff" then
        return wrk.format("GET", base .. "/cutoff?top_percent=1")
    elseif op == "friends" then
        local ids = {}
        for i = 1, 50 do ids[i] = string.format("p%012d", math.random(0, players - 1)) end
        return wrk.format("GET", base .. "/players?ids=" .. table.concat(ids, ","))
    end
    local player = string.format("p%012d", math.random(0, (tonumber(os.getenv("HOT") or "0") > 0 and tonumber(os.getenv("HOT")) or players) - 1))
    if op == "around" then
        return wrk.format("GET", base .. "/around/" .. player .. "?range=5")
    end
    return wrk.format("GET", base .. "/player/" .. player)
end
