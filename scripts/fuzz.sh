#!/usr/bin/env bash
# Fuzzes the API from its OpenAPI document with schemathesis (from PyPI): a server of the current
# debug build on its own port, database (leaderboard_fuzz) and Redis db (3), with API keys; every
# check of schemathesis (no 5xx, statuses, content types and bodies as documented, bad input
# rejected, good input accepted). Bounded: FUZZ_EXAMPLES per operation, FUZZ_SECONDS in all.
#
#   scripts/fuzz.sh            (scripts/test.sh builds the binary; this builds it when missing)
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
port="${FUZZ_PORT:-18080}"
examples="${FUZZ_EXAMPLES:-40}"
seconds="${FUZZ_SECONDS:-240}"

EXTRA_DATABASES=leaderboard_fuzz scripts/services.sh up >/dev/null
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_postgres psql -h "$root/.data/pg-socket" -p "${PG_PORT:-5432}" -U postgres -qAt -c "DROP DATABASE IF EXISTS leaderboard_fuzz WITH (FORCE)"
as_postgres psql -h "$root/.data/pg-socket" -p "${PG_PORT:-5432}" -U postgres -qAt -c "CREATE DATABASE leaderboard_fuzz OWNER leaderboard"
for node_port in $(grep -oE 'address: *"?127\.0\.0\.1:[0-9]+' Topology/local.yaml | grep -oE '[0-9]+$'); do
    redis-cli -p "$node_port" -n 3 flushdb >/dev/null
done

venv="$root/.data/fuzz-venv"
if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi

binary="$(swift build --show-bin-path)/leaderboard-server"
[ -x "$binary" ] || swift build --product leaderboard-server
admin="fuzz-admin-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
log="$root/.data/fuzz-server.log"
LEADERBOARD_SERVER_PORT="$port" LEADERBOARD_POSTGRES_DATABASE=leaderboard_fuzz LEADERBOARD_REDIS_DB=3 \
    LEADERBOARD_AUTH_ADMIN_KEYS="$admin" LEADERBOARD_SERVER_LOG_LEVEL=warning \
    "$binary" --config "$root/config.yaml" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done

# The board and player the document's examples name, so examples reach real data.
api="http://127.0.0.1:$port/api/v1"
curl -fs -o /dev/null -X POST "$api/leaderboards" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d '{"id": "demo", "max_entries": 0}'
curl -fs -o /dev/null -X POST "$api/scores" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"player_id": "player1", "score": 100, "game_id": "demo"}'

status=0
"$venv/bin/schemathesis" --config-file Tests/fuzz/schemathesis.toml run "http://127.0.0.1:$port/openapi.yaml" \
    --url "http://127.0.0.1:$port" -H "Authorization: Bearer $admin" --checks all --max-examples "$examples" \
    --max-time "$seconds" --seed "${FUZZ_SEED:-$RANDOM}" --request-timeout 10 --workers 1 \
    --report-dir "$root/.data/fuzz-report" --report junit || status=$?
if grep -qiE "fatal|panic|crash" "$log"; then
    echo "the server logged a crash:" >&2
    grep -iE "fatal|panic|crash" "$log" | head -5 >&2
    status=1
fi
kill -0 $server 2>/dev/null || { echo "the server died during the fuzz run" >&2; status=1; }
exit $status
