-- wrk: appended to every script here (cost.sh, run.sh, http-load.sh do it): each thread's own
-- random sequence (one seed for all would have the threads ask for the same players and pages at
-- about the same moment; a script that draws at load time, as batch.lua, seeds itself), and done()
-- printing one summary line (requests/s, latency p50/p99, errors).
local threads = 0
setup = function(thread)
    threads = threads + 1
    thread:set("thread_id", threads)
end
init = function(args)
    math.randomseed(os.time() * 1000 + (thread_id or 0))
end

done = function(summary, latency, requests)
    local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
    io.write(string.format("RESULT requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d\n",
        summary.requests, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
