#!/usr/bin/env bash
# Before/after HTTP load of two server binaries in one run: each runs in turn on a fresh database
# of its own (Redis dbs 12 and 13), two rounds, with Benchmarks/http-load.sh (wrk -c64 against the
# 100,000-player board). Services must be up (scripts/services.sh up).
#
#   Benchmarks/compare-servers.sh BEFORE_BINARY AFTER_BINARY [seconds per run, default 10]
#
# e.g. build a release of an older commit in a git worktree and compare it with .build/release.
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n 2,8p "$0"; exit 2; }
before=$1 after=$2 seconds=${3:-10}
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_admin() { as_postgres psql -h "$(pwd)/.data/pg-socket" -p "${PG_PORT:-5432}" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
ports=$(grep -oE 'address: *"?127\.0\.0\.1:[0-9]+' Topology/local.yaml | grep -oE '[0-9]+$')
for db in lb_compare_before lb_compare_after; do
    psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db OWNER leaderboard" 2>/dev/null
done
for port in $ports; do redis-cli -p "$port" -n 12 flushdb >/dev/null; redis-cli -p "$port" -n 13 flushdb >/dev/null; done
for round in 1 2; do
    for side in before after; do
        if [ "$side" = before ]; then bin=$before port=8091 db=lb_compare_before redis_db=12; else bin=$after port=8092 db=lb_compare_after redis_db=13; fi
        LEADERBOARD_SERVER_PORT=$port LEADERBOARD_POSTGRES_DATABASE=$db LEADERBOARD_REDIS_DB=$redis_db LEADERBOARD_SERVER_LOG_LEVEL=warning \
            "$bin" >"/tmp/compare-$side.log" 2>&1 &
        pid=$!
        for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
        echo "== round $round: $side ($bin)"
        LEADERBOARD_URL="http://127.0.0.1:$port" bash Benchmarks/http-load.sh "$seconds" | grep -E '^(POST|GET)'
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
done
