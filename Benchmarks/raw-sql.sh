#!/usr/bin/env bash
# POST /scores/batch against the same SQL run raw: batches of 100 random players of 100,000
# (Benchmarks/http/batch.lua, wrk -t2 -c64) into board bench-batch, then the server's own group
# commits, captured from PostgreSQL's statement log (every statement with its parameters, 2 s of
# the same load), replayed by pgbench as fast as it can (Benchmarks/replay-commits.py: one script
# per captured transaction, values as literals), with 1 and with 4 clients. Runs alternate, on the
# same box; each line gives events/s and, for the server, CPU µs per event of the server process
# and of all PostgreSQL processes.
#
#   Benchmarks/raw-sql.sh [seconds per run, default 10] [rounds, default 2]
#
# BIN_DIR=DIR takes leaderboard-server from DIR instead of building it. Takes about
# 30 s + (3 s + 3 × seconds) per round; turns PostgreSQL's statement log on for 2 s and puts its
# setting back. The replays move bench-batch's change numbers past what its Redis shards hold; the
# server catches them up in the 3 s of load before each of its runs, outside the measurement.
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
rounds="${2:-2}"
port=8093
WITH_LOAD_TOOLS=1 scripts/install-deps.sh
scripts/services.sh up >/dev/null
bin="$(Benchmarks/release-bin.sh)"
socket="$(pwd)/.data/pg-socket"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
work="$(mktemp -d)"
chmod 755 "$work"
server=""
# The statement log's setting before, put back afterwards (ALTER SYSTEM RESET when it was the default).
previous=$(as_pg psql -h "$socket" -U postgres -qAtc "SELECT CASE WHEN source = 'default' THEN '' ELSE setting END FROM pg_settings WHERE name = 'log_min_duration_statement'")
restore_log_setting() {
    if [ -z "$previous" ]; then
        as_pg psql -h "$socket" -U postgres -qAtc "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()" >/dev/null
    else
        as_pg psql -h "$socket" -U postgres -qAtc "ALTER SYSTEM SET log_min_duration_statement = $previous" -c "SELECT pg_reload_conf()" >/dev/null
    fi
}
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    restore_log_setting 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

LEADERBOARD_SERVER_PORT=$port LEADERBOARD_SERVER_LOG_LEVEL=warning LEADERBOARD_AUTH_ADMIN_KEYS="" LEADERBOARD_AUTH_WRITER_KEYS="" \
    "$bin/leaderboard-server" --config config.yaml >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }
curl -s -o /dev/null -X POST "http://127.0.0.1:$port/api/v1/leaderboards" -H 'Content-Type: application/json' \
    -d '{"id": "bench-batch", "name": "Batch benchmark", "max_entries": 0}'
load() { BOARD=bench-batch wrk -t2 -c64 -d"$1s" -s Benchmarks/http/batch.lua "http://127.0.0.1:$port"; }
load 3 >/dev/null

# The server's statements, with their parameters, while it runs the same load.
log=.data/pg-log/postgres.log
as_pg psql -h "$socket" -U postgres -qAtc "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
offset=$(wc -c <"$log")
load 2 >/dev/null
restore_log_setting
tail -c +$((offset + 1)) "$log" >"$work/statements.log"
python3 Benchmarks/replay-commits.py "$work/statements.log" "$work/scripts" bench-batch
[ -s "$work/scripts/index" ] || { echo "no group commit of bench-batch was captured" >&2; exit 1; }
chmod -R a+rX "$work"
events_per_tx=$(awk '{ sum += $2; n += 1 } END { if (n) printf "%.0f", sum / n }' "$work/scripts/index")
scripts=$(awk '{ printf "-f %s ", $1 }' "$work/scripts/index")

ticks() { local total=0 pid; for pid in "$@"; do [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done; echo "$total"; }
hz=$(getconf CLK_TCK)
for round in $(seq 1 "$rounds"); do
    load 3 >/dev/null
    # shellcheck disable=SC2046
    s0=$(ticks "$server"); p0=$(ticks $(pgrep -f "postgres: " || true))
    out=$(load "$seconds")
    # shellcheck disable=SC2046
    s1=$(ticks "$server"); p1=$(ticks $(pgrep -f "postgres: " || true))
    # Only answered batches count (wrk counts every answer).
    all=$(grep -oE "^ +[0-9]+ requests in" <<<"$out" | grep -oE "[0-9]+")
    failed=$(grep -oE "Non-2xx or 3xx responses: [0-9]+" <<<"$out" | grep -oE "[0-9]+$" || echo 0)
    requests=$((all - failed))
    awk -v n="$requests" -v t="$seconds" -v s=$((s1 - s0)) -v p=$((p1 - p0)) -v hz="$hz" -v r="$round" \
        'BEGIN { e = n * 100; printf "round %d  server POST /scores/batch  %7.0f events/s   server %.2f µs/event, postgres %.2f µs/event\n", r, e / t, s * 1e6 / hz / e, p * 1e6 / hz / e }'
    for clients in 1 4; do
        # shellcheck disable=SC2086
        tps=$(as_pg pgbench -n -h "$socket" -U postgres -c "$clients" -j "$clients" -T "$seconds" $scripts leaderboard 2>&1 | grep -E "^tps" | grep -oE "[0-9]+\.[0-9]+" | head -1)
        awk -v tps="$tps" -v e="$events_per_tx" -v c="$clients" -v r="$round" \
            'BEGIN { printf "round %d  pgbench -c%d (raw SQL)      %7.0f events/s   (%.1f transactions/s of %d events)\n", r, c, tps * e, tps, e }'
    done
done
