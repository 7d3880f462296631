#!/usr/bin/env bash
# Runs every test against real Redis and PostgreSQL, which it starts (scripts/services.sh).
# Tests use their own database (leaderboard_test, recreated here) and Redis db 1, so a running
# demo is not disturbed. Extra arguments go to `swift test` (e.g. --filter CrashTests).
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

EXTRA_DATABASES="leaderboard_test leaderboard_test_isolated leaderboard_test_cluster" scripts/services.sh up
# The Redis Cluster of Topology/cluster.yaml (3 masters, 3 replicas on ports 7000-7005) for the
# cluster client's tests, beside the standalone nodes.
TOPOLOGY=Topology/cluster.yaml scripts/services.sh up

# A clean test database and Redis db for every run.
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_admin() { as_postgres psql -h "$root/.data/pg-socket" -p "${PG_PORT:-5432}" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
# (The isolated pair is for tests that act on every board, e.g. by moving the clock; the cluster
# database for the boards served from the Redis Cluster.)
for db in leaderboard_test leaderboard_test_isolated leaderboard_test_cluster; do
    psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    psql_admin -c "CREATE DATABASE $db OWNER leaderboard"
done
test_db="${LEADERBOARD_TEST_REDIS_DB:-1}"
for port in $(grep -oE 'address: *"?127\.0\.0\.1:[0-9]+' Topology/local.yaml | grep -oE '[0-9]+$'); do
    redis-cli -h 127.0.0.1 -p "$port" -n "$test_db" flushdb >/dev/null
    redis-cli -h 127.0.0.1 -p "$port" -n "$((test_db + 1))" flushdb >/dev/null
done

started=$(date +%s)
swift build --build-tests
export LEADERBOARD_TEST_SERVER_BIN="$(swift build --show-bin-path)/leaderboard-server"
echo "build took $(( $(date +%s) - started ))s"
if [ $# -gt 0 ]; then
    swift test --skip-build "$@"
else
    # Suites that measure how fast something happens under load (convergence within 2 s, a repair
    # within 5 s, acknowledgements while a node is down) run on their own, one after another, so the
    # other suites' load on a 2-core machine does not decide them.
    timed="CommandLineTests TwoProcessTests TieBreakAcrossProcessesTests TieBreakRepairTests ClusterUnderChangeTests RankingOptionsUnderWritesTests LayoutChangeUnderLoadTests HashReadsUnderWritesTests ChangeOrderTests FaultTests CrashTests WriteFaultTests RecoveryTests EdgeTests"
    skips=(--skip LargeBoardTests)
    for suite in $timed; do skips+=(--skip "$suite"); done
    swift test --skip-build "${skips[@]}"
    # (An exact match: a bare "FaultTests" would also run WriteFaultTests beside it.)
    for suite in $timed; do swift test --skip-build --filter "\\.$suite/"; done
    # The 1,000,000-player boards, as their own step.
    swift test --skip-build --filter LargeBoardTests
    # The API fuzzed from its OpenAPI document (schemathesis, bounded in time).
    FUZZ_SECONDS="${FUZZ_SECONDS:-150}" scripts/fuzz.sh
fi
