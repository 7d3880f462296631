#!/usr/bin/env bash
# Scale benchmark (issue 16, item 4): for each size (default 1,000,000 then 10,000,000 players),
# a hash-16 board and a band-16 board over the 4 standalone nodes, imported with
# `leaderboard-server import` from a generated CSV, then:
#  - the import time, split into PostgreSQL (COPY + the transaction) and Redis (the shard build);
#  - Redis memory per player (MEMORY USAGE of every shard key) against one plain sorted set of the
#    same members;
#  - the HTTP read table (Benchmarks/cost.sh rows: CPU µs per request of the server and of Redis,
#    req/s) beside the bare route, in the same run;
#  - at the largest size: a one-shard rebuild, and a sync pass (reconcile of the unchanged board)
#    beside `COPY … TO STDOUT` of the same rows.
# Everything it made is removed at the end (boards, their events, the files, the reference set).
#
#   Benchmarks/scale.sh [sizes, default "1000000 10000000"] [seconds per read row, default 10]
#
# At 10M, Redis peaks at about 3.4 GB (both boards and the reference set), beside PostgreSQL's
# 1 GB of shared buffers; disk: an estimated 15 GB (20M score rows, 20M events, their indexes).
# Both sizes took 18–19 minutes on the 2-core machine before the range-random rows were added
# (about a minute more), each 10M import about 4 (a release build first, if none).
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
sizes="${1:-1000000 10000000}"
seconds="${2:-10}"
port=8093
WITH_LOAD_TOOLS=1 scripts/install-deps.sh >/dev/null
scripts/services.sh up >/dev/null

bin="$(Benchmarks/release-bin.sh)"
export LEADERBOARD_AUTH_ADMIN_KEYS="" LEADERBOARD_AUTH_WRITER_KEYS=""
work="$(mktemp -d)"
server=""
boards=()
psql_app() { PGPASSWORD=secret psql -h 127.0.0.1 -U leaderboard -d leaderboard -v ON_ERROR_STOP=1 -qAt "$@"; }
nodes=$(grep -oE 'address: *"?127\.0\.0\.1:[0-9]+' Topology/local.yaml | grep -oE '[0-9]+$')
cleanup() {
    for board in "${boards[@]}"; do
        curl -s -o /dev/null -X DELETE "http://127.0.0.1:$port/api/v1/leaderboards/$board" || true
        psql_app -c "DELETE FROM score_events WHERE leaderboard_id = '$board'" || true
    done
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    redis-cli -p "$(head -1 <<<"$nodes")" -n 9 del bench:plain-reference >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

LEADERBOARD_SERVER_PORT=$port LEADERBOARD_SERVER_LOG_LEVEL=warning "$bin/leaderboard-server" --config config.yaml >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }

# Bytes of every key of a board on every node (exact: SAMPLES 0).
board_bytes() {
    local total=0 node key
    for node in $nodes; do
        while read -r key; do
            [ -n "$key" ] && total=$((total + $(redis-cli -p "$node" memory usage "$key" samples 0)))
        done < <(redis-cli -p "$node" --scan --pattern "leaderboard:$1:*")
    done
    echo "$total"
}
seconds_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e9 }'; }

for players in $sizes; do
    tag="$((players / 1000000))m"
    [ "$players" -lt 1000000 ] && tag="$((players / 1000))k"
    echo
    echo "== $players players ($tag)"
    file="$work/players-$tag.csv"
    started=$(date +%s%N)
    # Scores spread evenly over [0, 10,000,000): the 15 band bounds are its sixteenths.
    awk -v n="$players" 'BEGIN { print "player_id,score"; for (i = 0; i < n; i++) printf "p%012d,%d\n", i, (i * 7919 + int(i / 1000) * 104729) % 10000000 }' >"$file"
    echo "generated $(du -h "$file" | cut -f1) in $(seconds_between "$started" "$(date +%s%N)") s"
    bounds=$(seq -s, 625000 625000 9375000)
    for kind in hash16 band16; do
        board="bench-$kind-$tag"
        curl -s -o /dev/null -X DELETE "http://127.0.0.1:$port/api/v1/leaderboards/$board" || true
        psql_app -c "DELETE FROM score_events WHERE leaderboard_id = '$board'"
        if [ "$kind" = hash16 ]; then layout='{"strategy": "hash", "shards": 16}'; else layout="{\"strategy\": \"band\", \"bounds\": [$bounds]}"; fi
        curl -fs -o /dev/null -X POST "http://127.0.0.1:$port/api/v1/leaderboards" -H 'Content-Type: application/json' \
            -d "{\"id\": \"$board\", \"max_entries\": 0, \"layout\": $layout}"
        boards+=("$board")
        started=$(date +%s%N)
        report=$("$bin/leaderboard-server" import --config config.yaml --board "$board" --file "$file" 2>"$work/import.log")
        total=$(seconds_between "$started" "$(date +%s%N)")
        python3 -c '
import json, sys
r = json.loads(sys.argv[1])
print("import %s: %d rows in %s s: PostgreSQL %.1f s, Redis %.1f s" % (r["board"], r["rows"], sys.argv[2], r["postgres_seconds"], r["redis_seconds"]))
' "$report" "$total"
        echo "$board: $(board_bytes "$board") bytes in Redis" >>"$work/memory-$tag"
    done
    # The plain sorted set of the same members, on one node (db 9, dropped right after).
    node=$(head -1 <<<"$nodes")
    tail -n +2 "$file" | awk -F, '{ printf "ZADD bench:plain-reference %s %s\n", $2, $1 }' | redis-cli -p "$node" -n 9 --pipe >/dev/null
    plain=$(redis-cli -p "$node" -n 9 memory usage bench:plain-reference samples 0)
    redis-cli -p "$node" -n 9 del bench:plain-reference >/dev/null
    echo "plain sorted set: $plain bytes, $(awk -v b="$plain" -v n="$players" 'BEGIN { printf "%.1f", b / n }') bytes/player"
    while read -r board bytes _; do
        awk -v name="${board%:}" -v b="$bytes" -v p="$plain" -v n="$players" 'BEGIN { printf "%s: %.1f bytes/player, %.3fx the plain set\n", name, b / n, b / p }'
    done <"$work/memory-$tag"

    echo "-- reads (CPU µs per request: server, redis; then wrk)"
    rows="bare"
    for op in player top around range range-random; do rows="$rows hash16-$tag:$op band16-$tag:$op"; done
    NO_LOAD=1 BIN_DIR="$bin" ROWS="$rows" Benchmarks/cost.sh "$players" "$seconds" | sed -n '/^wrk -t2/,$p'

    if [ "$players" = "$(tr ' ' '\n' <<<"$sizes" | sort -n | tail -1)" ]; then
        board="bench-hash16-$tag"
        echo "-- one-shard rebuild and a reconcile of the unchanged board ($board)"
        started=$(date +%s%N)
        "$bin/leaderboard-server" rebuild --config config.yaml --board "$board" --shard 3 2>/dev/null | tail -1
        echo "  (wall: $(seconds_between "$started" "$(date +%s%N)") s, process start included)"
        started=$(date +%s%N)
        if "$bin/leaderboard-server" sync --config config.yaml --board "$board" >"$work/sync.json" 2>"$work/sync.log"; then
            python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))[0]; print("sync pass:", {k: r[k] for k in r if not isinstance(r[k], (list, dict))})' "$work/sync.json"
        else
            echo "sync pass failed: $(tail -c 600 "$work/sync.log")"
        fi
        echo "  (wall: $(seconds_between "$started" "$(date +%s%N)") s)"
        started=$(date +%s%N)
        rows_out=$(psql_app -c "COPY (SELECT player_id, score FROM player_scores WHERE leaderboard_id = '$board' ORDER BY score DESC, player_id DESC) TO STDOUT" | wc -l)
        echo "reference: COPY … TO STDOUT of $rows_out rows in $(seconds_between "$started" "$(date +%s%N)") s"
    fi
    rm -f "$file"
done
