#!/usr/bin/env bash
# Batch-path benchmark on the 1,000,000-player hash-8 board of Benchmarks/run.sh (loaded if absent):
#  1. leaderboard-bench --sync: full reconcile of the unchanged board (chunk digests), a whole sync
#     pass, SyncFromDatabase of one shard and of the whole board, catch-up after a shard comes
#     back empty;
#  2. the reference: COPY (SELECT the same rows in the board's order) TO STDOUT, timed by psql.
#
#   Benchmarks/sync.sh [players]
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
players="${1:-1000000}"
scripts/install-deps.sh >/dev/null
scripts/services.sh up >/dev/null

echo "== batch path (building release)"
swift build -c release --product leaderboard-bench 2>&1 | grep -E "error" || true
"$(swift build -c release --show-bin-path)/leaderboard-bench" --players "$players" --sync

echo
echo "== reference: COPY of the board's rows in its order (psql, 3 runs)"
for run in 1 2 3; do
    started=$(date +%s%N)
    PGPASSWORD=secret psql -h 127.0.0.1 -U leaderboard -d leaderboard -qAt -c \
        "COPY (SELECT player_id, score FROM player_scores WHERE leaderboard_id = 'bench-hash8' ORDER BY score DESC, player_id DESC) TO STDOUT" \
        | wc -l | tr -d '\n'
    echo " rows in $(( ($(date +%s%N) - started) / 1000000 )) ms"
done
