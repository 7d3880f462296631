#!/usr/bin/env bash
# Read benchmark of single vs hash-8 vs band-8 boards of N players (default 1,000,000):
#  1. store level (leaderboard-bench on RedisRealtimeStore: 1 caller, then 64 concurrent), and Redis
#     memory per player against one plain sorted set of the same members;
#  2. redis-benchmark ZREVRANK / ZREVRANGE on the single board's sorted set, as the reference;
#  3. through HTTP with wrk at 64 connections against the server of scripts/run.sh.
#
#   Benchmarks/run.sh [players] [seconds per row]
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
players="${1:-1000000}"
seconds="${2:-5}"
WITH_LOAD_TOOLS=1 scripts/install-deps.sh
scripts/services.sh up >/dev/null

echo "== store level (building release)"
swift build -c release --product leaderboard-bench 2>&1 | grep -E "error" || true
bench="$(swift build -c release --show-bin-path)/leaderboard-bench"
echo "-- one caller at a time: what one read costs (latency)"
"$bench" --players "$players" --seconds "$seconds" --concurrency 1 --no-memory
echo "-- 64 concurrent callers: throughput"
"$bench" --players "$players" --seconds "$seconds" --concurrency 64

echo
echo "== redis-benchmark on the single board's sorted set (64 clients)"
key="leaderboard:bench-single:realtime"
port=""
for candidate in $(grep -oE 'address: *"?127\.0\.0\.1:[0-9]+' Topology/local.yaml | grep -oE '[0-9]+$'); do
    if [ "$(redis-cli -p "$candidate" exists "$key")" = 1 ]; then port=$candidate; fi
done
for command in "ZREVRANK $key p__rand_int__" "ZREVRANGE $key 0 49 WITHSCORES" "ZREVRANGE $key 0 99 WITHSCORES"; do
    # shellcheck disable=SC2086
    rate=$(redis-benchmark -p "$port" -c 64 -n 200000 -r "$players" -q $command | grep -oE '[0-9.]+ requests per second' | head -1)
    printf '%-40s %s\n' "${command%% p__rand_int__}" "$rate"
done

echo
echo "== HTTP, wrk -t2 -c64 -d${seconds}s (server of scripts/run.sh)"
curl -fs http://127.0.0.1:8080/readyz >/dev/null || bash scripts/run.sh >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat Benchmarks/http/read.lua Benchmarks/http/report.lua >"$work/read.lua"
for board in bench-single bench-hash8 bench-band8; do
    for op in player top around range friends cutoff; do
        line=$(BOARD=$board OP=$op PLAYERS=$players wrk -t2 -c64 -d"${seconds}s" --timeout 10s -s "$work/read.lua" http://127.0.0.1:8080 | grep '^RESULT')
        printf '%-14s %-8s %s\n' "$board" "$op" "${line#RESULT }"
    done
done
