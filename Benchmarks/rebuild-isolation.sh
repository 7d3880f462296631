#!/usr/bin/env bash
# Rebuild isolation: the write latency of a small board while a big one (1M players by default)
# is rebuilt inside the same server, against the same writes without the rebuild. Starts the
# given server binary (default .build/release/leaderboard-server) on port 8093 with a fresh
# database (lb_isolation) and Redis db 14; services must be up (scripts/services.sh up).
#
#   [KEEP=1] Benchmarks/rebuild-isolation.sh [BINARY] [players] [seconds of each quiet phase] [rounds]
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/leaderboard-server} players=${2:-1000000} seconds=${3:-10} rounds=${4:-3}
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_admin() { as_postgres psql -h "$(pwd)/.data/pg-socket" -p "${PG_PORT:-5432}" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
# KEEP=1 keeps the database and Redis db of the last run, whose big board is then reused as it is.
if [ "${KEEP:-0}" != 1 ]; then
    psql_admin -c "DROP DATABASE IF EXISTS lb_isolation WITH (FORCE)" -c "CREATE DATABASE lb_isolation OWNER leaderboard" 2>/dev/null
    for port in $(grep -oE 'address: *"?127\.0\.0\.1:[0-9]+' Topology/local.yaml | grep -oE '[0-9]+$'); do redis-cli -p "$port" -n 14 flushdb >/dev/null; done
fi
LEADERBOARD_SERVER_PORT=8093 LEADERBOARD_POSTGRES_DATABASE=lb_isolation LEADERBOARD_REDIS_DB=14 LEADERBOARD_SERVER_LOG_LEVEL=info \
    "$bin" >/tmp/rebuild-isolation-server.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:8093/readyz >/dev/null && break; sleep 0.2; done
python3 Benchmarks/rebuild-isolation.py http://127.0.0.1:8093 14 "$players" "$seconds" "$rounds"
grep -E "rebuilt real-time board" /tmp/rebuild-isolation-server.log | cut -c1-300 || true
