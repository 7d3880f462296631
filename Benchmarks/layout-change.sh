#!/usr/bin/env bash
# Online layout changes of a 1M-player board under load (Benchmarks/layout-change.py): hash 4 -> 8,
# hash -> the planner's 8 bands and back to hash 4, while reads and writes run at half the client's capacity.
# Starts the given server binary (default .build/release/leaderboard-server) on port 8095 with a
# fresh database (lb_relayout) and Redis db 12; services must be up (scripts/services.sh up).
#
#   [KEEP=1] Benchmarks/layout-change.sh [BINARY] [players] [seconds before and after each change]
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/leaderboard-server} players=${2:-1000000} seconds=${3:-8}
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_admin() { as_postgres psql -h "$(pwd)/.data/pg-socket" -p "${PG_PORT:-5432}" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
# KEEP=1 keeps the database and Redis db of the last run; its board is reused when still hash-4.
if [ "${KEEP:-0}" != 1 ]; then
    psql_admin -c "DROP DATABASE IF EXISTS lb_relayout WITH (FORCE)" -c "CREATE DATABASE lb_relayout OWNER leaderboard" 2>/dev/null
    for port in $(grep -oE 'address: *"?127\.0\.0\.1:[0-9]+' Topology/local.yaml | grep -oE '[0-9]+$'); do redis-cli -p "$port" -n 12 flushdb >/dev/null; done
fi
LEADERBOARD_SERVER_PORT=8095 LEADERBOARD_POSTGRES_DATABASE=lb_relayout LEADERBOARD_REDIS_DB=12 LEADERBOARD_SERVER_LOG_LEVEL=info \
    "$bin" >/tmp/layout-change-server.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:8095/readyz >/dev/null && break; sleep 0.2; done
python3 Benchmarks/layout-change.py http://127.0.0.1:8095 "$players" "$seconds"
grep -E "layout switched|layout change attempt failed" /tmp/layout-change-server.log | cut -c1-300 || true
