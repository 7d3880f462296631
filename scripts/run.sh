#!/usr/bin/env bash
# Brings up Redis + PostgreSQL + the leaderboard server on 127.0.0.1:8080 with a demo board.
# Safe to run again: it restarts the server (with the current code) and reuses the data.
# Stop everything with scripts/stop.sh. TOPOLOGY=Topology/cluster.yaml runs it on a Redis Cluster
# (3 masters, a replica each, on ports 7000-7005, started here) instead of the standalone nodes.
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
data="$root/.data"
port="${LEADERBOARD_SERVER_PORT:-8080}"

scripts/services.sh up
if [ -n "${TOPOLOGY:-}" ]; then export LEADERBOARD_TOPOLOGY="$TOPOLOGY"; fi
echo "building the server (release)..."
swift build -c release --product leaderboard-server 2>&1 | grep -E "error|warning: .*Sources/" || true
binary="$(swift build -c release --show-bin-path)/leaderboard-server"
[ -x "$binary" ] || { echo "build failed" >&2; exit 1; }

scripts/stop.sh --server-only
mkdir -p "$data"
# Demo API keys, made once and kept in .data/demo-keys.env (source it to use them).
if [ ! -f "$data/demo-keys.env" ]; then
    umask 077
    printf 'ADMIN_KEY=admin-%s\nWRITER_KEY=writer-%s\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
        "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$data/demo-keys.env"
fi
# shellcheck disable=SC1091
. "$data/demo-keys.env"
LEADERBOARD_AUTH_ADMIN_KEYS="$ADMIN_KEY" LEADERBOARD_AUTH_WRITER_KEYS="$WRITER_KEY" \
    nohup "$binary" --config "$root/config.yaml" >"$data/server.log" 2>&1 &
echo $! >"$data/server.pid"

for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    if ! kill -0 "$(cat "$data/server.pid")" 2>/dev/null; then
        echo "the server exited; see .data/server.log:" >&2
        tail -20 "$data/server.log" >&2
        exit 1
    fi
    sleep 0.2
done
curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the server is not ready; see .data/server.log" >&2; exit 1; }

api="http://127.0.0.1:$port/api/v1"
# Create the demo board unless it exists (409), and give it players when it has none.
curl -s -o /dev/null -X POST "$api/leaderboards" -H 'Content-Type: application/json' -H "Authorization: Bearer $ADMIN_KEY" \
    -d '{"id": "demo", "name": "Demo Cup", "sort_order": "desc", "update_mode": "best"}'
if curl -fs "$api/leaderboards/demo/top?limit=1" | grep -q '"total":0'; then
    scores='{"scores": ['
    for i in $(seq 1 20); do
        scores+="{\"player_id\": \"player$i\", \"score\": $(( (i * 7919) % 1000 )), \"game_id\": \"demo\", \"username\": \"Player $i\"}"
        [ "$i" -lt 20 ] && scores+=","
    done
    scores+=']}'
    curl -fs -X POST "$api/scores/batch" -H 'Content-Type: application/json' -H "Authorization: Bearer $WRITER_KEY" -d "$scores" >/dev/null
fi

cat <<MSG
leaderboard server running on http://127.0.0.1:$port (pid $(cat "$data/server.pid"), log .data/server.log)
demo API keys (also in .data/demo-keys.env):
  admin:  $ADMIN_KEY
  writer: $WRITER_KEY
demo board "demo" is ready; try:
  . .data/demo-keys.env
  curl -s '$api/leaderboards/demo/top?limit=5'
  curl -s -X POST $api/scores -H 'Content-Type: application/json' -H "Authorization: Bearer \$WRITER_KEY" -d '{"player_id": "me", "score": 990, "game_id": "demo"}'
  curl -s '$api/leaderboards/demo/around/me?range=2'
stop it with: scripts/stop.sh
MSG
