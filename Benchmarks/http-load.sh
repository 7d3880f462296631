#!/usr/bin/env bash
# HTTP load benchmark of the running server (start it with scripts/run.sh) with wrk:
# POST /scores, POST /scores/batch (100 per batch) and GET /player at 64 connections.
#
#   Benchmarks/http-load.sh [seconds per run, default 15]
#
# It creates (or reuses) the board "bench" with 100,000 players, all kept in Redis.
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_LOAD_TOOLS=1 scripts/install-deps.sh
duration="${1:-15}"
url="${LEADERBOARD_URL:-http://127.0.0.1:8080}"
export BOARD=bench
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

curl -fs "$url/readyz" >/dev/null || { echo "no server at $url; run scripts/run.sh first" >&2; exit 1; }
# The keys scripts/run.sh made (empty when the server runs without access control).
# shellcheck disable=SC1091
[ -f .data/demo-keys.env ] && . .data/demo-keys.env
export ADMIN_KEY="${ADMIN_KEY:-}" WRITER_KEY="${WRITER_KEY:-}"
curl -s -o /dev/null -X POST "$url/api/v1/leaderboards" -H 'Content-Type: application/json' -H "Authorization: Bearer $ADMIN_KEY" \
    -d '{"id": "bench", "name": "Benchmark", "max_entries": 0}'

echo "filling 100,000 players..."
for start in $(seq 1 1000 100000); do
    python3 - "$start" >"$work/fill.json" <<'PY'
import json, sys
start = int(sys.argv[1])
print(json.dumps({"scores": [{"player_id": f"p{i}", "score": (i * 7919) % 1000003, "game_id": "bench"} for i in range(start, start + 1000)]}))
PY
    curl -fs -o /dev/null -X POST "$url/api/v1/scores/batch" -H 'Content-Type: application/json' -H "Authorization: Bearer $WRITER_KEY" \
        --data-binary @"$work/fill.json"
done

run() {
    local name=$1 script=$2
    cat "Benchmarks/http/$script" Benchmarks/http/report.lua >"$work/$script"
    local line
    line=$(wrk -t2 -c64 -d"${duration}s" --timeout 10s -s "$work/$script" "$url" | grep '^RESULT')
    printf '%-28s %s\n' "$name" "${line#RESULT }"
}

echo "wrk -t2 -c64 -d${duration}s against $url ($(nproc) cores shared by wrk, the server, Redis and PostgreSQL)"
run "POST /scores" submit.lua
run "POST /scores/batch (100)" batch.lua
run "GET /player" player.lua
