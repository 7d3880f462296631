#!/usr/bin/env bash
# Where a request's CPU goes: for each read (and POST /scores) through HTTP, the CPU time the
# server process and the redis-server processes spend per request (utime+stime from /proc/PID/stat
# before and after a wrk run, divided by the requests served), beside a bare Hummingbird route
# that returns a fixed player entry (leaderboard-bare-route). This is steadier than req/s on a
# shared 2-core machine, where wrk, the server, Redis and PostgreSQL share the cores.
#
#   Benchmarks/cost.sh [players, default 1,000,000] [seconds per row, default 10]
#
# Boards: bench-single, bench-hash8, bench-band8 and bench-earliest8 (hash-8, tie_break earliest) of
# N players (loaded by leaderboard-bench, or reused), and bench-writes for POST /scores. ROWS="single:player hash8:top …" picks rows
# (`range` reads the same deep page again and again, `range-random` a page at a random deep rank each time; a row
# ending in -hot, e.g. hash8:player-hot, asks only for 10,000 players, again and again);
# BIN_DIR=DIR takes the three binaries from DIR instead of building them (before/after runs);
# NO_LOAD=1 reads boards someone else loaded (Benchmarks/scale.sh).
# CONNECTIONS=N: wrk connections (default 64; at 2, one HTTP connection per wrk thread, as behind a proxy
# that keeps few upstream connections).
# CLUSTER=1 also serves a hash-8 board of N players from the Redis Cluster of Topology/cluster.yaml
# (its own database, leaderboard_cluster, loaded the same way) on a second server, for rows
# cluster:player, cluster:top, cluster:around, cluster:range beside hash8:… of the same run.
# PROFILE=1 also records each row's server with `perf record -e cpu-clock -g` and prints the
# share of its samples per layer (Benchmarks/profile-layers.py); profiles stay in $PROFILE_DIR
# (default .data/profiles) for `perf report -i FILE --no-children --sort symbol`.
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
players="${1:-1000000}"
seconds="${2:-10}"
connections="${CONNECTIONS:-64}"
server_port=8091
bare_port=8099
WITH_LOAD_TOOLS=1 scripts/install-deps.sh
scripts/services.sh up >/dev/null
if [ "${PROFILE:-0}" = 1 ] && ! command -v perf >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null; else echo "PROFILE=1 needs perf (Debian: linux-perf)" >&2; exit 1; fi
fi

bin="$(Benchmarks/release-bin.sh)"
if [ "${NO_LOAD:-0}" != 1 ]; then
    echo "loading the boards ($players players each, reused when they are there)..."
    "$bin/leaderboard-bench" --players "$players" --seconds 1 --concurrency 1 --no-memory --ops none | grep '^loaded' || true
fi

cluster_port=8094
if [ "${CLUSTER:-0}" = 1 ]; then
    TOPOLOGY=Topology/cluster.yaml scripts/services.sh up >/dev/null
    as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    if [ "$(as_pg psql -h "$(pwd)/.data/pg-socket" -U postgres -qAt -c "SELECT 1 FROM pg_database WHERE datname = 'leaderboard_cluster'")" != 1 ]; then
        as_pg psql -h "$(pwd)/.data/pg-socket" -U postgres -qAt -c "CREATE DATABASE leaderboard_cluster OWNER leaderboard"
    fi
    echo "loading the cluster's hash-8 board ($players players, reused when it is there)..."
    LEADERBOARD_POSTGRES_DATABASE=leaderboard_cluster LEADERBOARD_TOPOLOGY=Topology/cluster.yaml \
        "$bin/leaderboard-bench" --players "$players" --seconds 1 --concurrency 1 --no-memory --ops none --boards hash8 | grep '^loaded' || true
fi

work="$(mktemp -d)"
profiles="${PROFILE_DIR:-.data/profiles}"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
LEADERBOARD_SERVER_PORT=$server_port LEADERBOARD_SERVER_LOG_LEVEL=warning LEADERBOARD_AUTH_ADMIN_KEYS="" LEADERBOARD_AUTH_WRITER_KEYS="" \
    "$bin/leaderboard-server" --config config.yaml >"$work/server.log" 2>&1 &
server=$!
pids+=("$server")
if [ "${CLUSTER:-0}" = 1 ]; then
    LEADERBOARD_SERVER_PORT=$cluster_port LEADERBOARD_SERVER_LOG_LEVEL=warning LEADERBOARD_AUTH_ADMIN_KEYS="" LEADERBOARD_AUTH_WRITER_KEYS="" \
        LEADERBOARD_POSTGRES_DATABASE=leaderboard_cluster LEADERBOARD_TOPOLOGY=Topology/cluster.yaml \
        "$bin/leaderboard-server" --config config.yaml >"$work/cluster-server.log" 2>&1 &
    cluster_server=$!
    pids+=("$cluster_server")
    for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$cluster_port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
fi
"$bin/leaderboard-bare-route" "$bare_port" >"$work/bare.log" 2>&1 &
bare=$!
pids+=("$bare")
for _ in $(seq 1 150); do
    curl -fs "http://127.0.0.1:$server_port/readyz" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$bare_port/api/v1/leaderboards/b/player/p" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fs "http://127.0.0.1:$server_port/readyz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }
curl -s -o /dev/null -X POST "http://127.0.0.1:$server_port/api/v1/leaderboards" -H 'Content-Type: application/json' \
    -d '{"id": "bench-writes", "name": "Write benchmark", "max_entries": 0}'

redis_pids=$(for f in .data/redis-*/redis.pid; do cat "$f"; done | tr '\n' ' ')
ticks_per_second=$(getconf CLK_TCK)
# utime + stime of the processes given, in clock ticks.
ticks() { local total=0 pid; for pid in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done; echo "$total"; }

cat Benchmarks/http/read.lua Benchmarks/http/report.lua >"$work/read.lua"
cat Benchmarks/http/submit.lua Benchmarks/http/report.lua >"$work/submit.lua"
mkdir -p "$profiles"

# row NAME PROCESS PORT SCRIPT [VAR=VALUE …]: one wrk run, its CPU per request.
row() {
    local name=$1 process=$2 port=$3 script=$4
    shift 4
    local s0 r0 s1 r1 line requests perf_pid="" profile=""
    if [ "${PROFILE:-0}" = 1 ]; then
        profile="$profiles/$(tr " /" "__" <<<"$name").data"
        perf record -q -e cpu-clock -g -p "$process" -o "$profile" -- sleep "$seconds" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    s0=$(ticks "$process")
    # shellcheck disable=SC2086
    r0=$(ticks $redis_pids)
    line=$(env "$@" wrk -t2 -c"$connections" -d"${seconds}s" --timeout 10s -s "$script" "http://127.0.0.1:$port" | grep '^RESULT')
    s1=$(ticks "$process")
    # shellcheck disable=SC2086
    r1=$(ticks $redis_pids)
    [ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null || true
    requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
    [ "$requests" -gt 0 ] || { echo "$name: no requests ($line)"; return; }
    awk -v name="$name" -v line="${line#RESULT }" -v s=$((s1 - s0)) -v r=$((r1 - r0)) -v n="$requests" -v hz="$ticks_per_second" \
        'BEGIN { printf "%-22s %9.1f %9.1f   %s\n", name, s * 1e6 / hz / n, r * 1e6 / hz / n, line }'
    if [ -n "$perf_pid" ] && [ -f "$profile" ]; then
        perf script -i "$profile" -F ip,sym,dso 2>/dev/null | python3 Benchmarks/profile-layers.py | sed 's/^/    /'
    fi
}

echo
echo "wrk -t2 -c$connections -d${seconds}s; CPU µs per request of the server process and of all redis-server processes"
printf '%-22s %9s %9s   %s\n' "row" "server" "redis" "wrk"
rows="${ROWS:-bare single:player hash8:player band8:player earliest8:player single:top hash8:top band8:top earliest8:top single:around hash8:around band8:around earliest8:around single:range hash8:range band8:range earliest8:range hash8:friends earliest8:friends hash8:cutoff earliest8:cutoff writes}"
for spec in $rows; do
    case "$spec" in
        bare) row "bare route" "$bare" "$bare_port" "$work/read.lua" BOARD=bench-single OP=player PLAYERS="$players" ;;
        writes) row "POST /scores" "$server" "$server_port" "$work/submit.lua" BOARD=bench-writes ;;
        cluster:*) row "cluster ${spec#*:}" "$cluster_server" "$cluster_port" "$work/read.lua" BOARD=bench-hash8 OP="${spec#*:}" PLAYERS="$players" ;;
        # The same read asked only for 10,000 players, again and again (a rank checked after every game).
        *:*-hot) row "${spec%%:*} ${spec#*:}" "$server" "$server_port" "$work/read.lua" BOARD="bench-${spec%%:*}" OP="$(sed 's/-hot$//' <<<"${spec#*:}")" PLAYERS="$players" HOT=10000 ;;
        *:*) row "${spec%%:*} ${spec#*:}" "$server" "$server_port" "$work/read.lua" BOARD="bench-${spec%%:*}" OP="${spec#*:}" PLAYERS="$players" ;;
    esac
done
