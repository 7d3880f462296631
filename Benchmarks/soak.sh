#!/usr/bin/env bash
# Soak: the server under steady mixed load for a long time (30 minutes by default), at half the
# capacity measured first, on a hash-8 and a band-8 board of 1M players each, with a sync pass
# every 5 minutes. Samples RSS, open files, PostgreSQL connections, Redis memory and p50/p99
# every 30 s into Benchmarks/results/soak-*.csv, and draws them into an .svg beside it.
# Not part of CI. Starts the given binary (default .build/release/leaderboard-server) on port
# 8094 with its own database (lb_soak) and Redis db 13; services must be up (scripts/services.sh up).
#
#   [KEEP=1] Benchmarks/soak.sh [BINARY] [minutes, default 30] [players per board, default 1000000]
#
# KEEP=1 keeps the database and Redis db of the last run (its boards are reused without seeding).
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/leaderboard-server} minutes=${2:-30} players=${3:-1000000}
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_admin() { as_postgres psql -h "$(pwd)/.data/pg-socket" -p "${PG_PORT:-5432}" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
ports=$(grep -oE 'address: *"?127\.0\.0\.1:[0-9]+' Topology/local.yaml | grep -oE '[0-9]+$' | tr '\n' ',' | sed 's/,$//')
if [ "${KEEP:-0}" != 1 ]; then
    psql_admin -c "DROP DATABASE IF EXISTS lb_soak WITH (FORCE)" -c "CREATE DATABASE lb_soak OWNER leaderboard" 2>/dev/null
    for port in ${ports//,/ }; do redis-cli -p "$port" -n 13 flushdb >/dev/null; done
fi
LEADERBOARD_SERVER_PORT=8094 LEADERBOARD_POSTGRES_DATABASE=lb_soak LEADERBOARD_REDIS_DB=13 LEADERBOARD_SYNC_INTERVAL=300s \
    LEADERBOARD_SERVER_LOG_LEVEL=notice "$bin" >/tmp/soak-server.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:8094/readyz >/dev/null && break; sleep 0.2; done
stamp=$(date -u +%Y%m%d-%H%M)
python3 Benchmarks/soak.py --url http://127.0.0.1:8094 --pid "$pid" --redis-ports "$ports" --redis-db 13 \
    --pg-socket "$(pwd)/.data/pg-socket" --database lb_soak --minutes "$minutes" --players "$players" \
    --out "Benchmarks/results/soak-$stamp"
