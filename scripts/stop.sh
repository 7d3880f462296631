#!/usr/bin/env bash
# Stops the server started by scripts/run.sh, then Redis (standalone nodes and the cluster of
# Topology/cluster.yaml) and PostgreSQL (unless --server-only).
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
pidfile=.data/server.pid
if [ -f "$pidfile" ]; then
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pidfile"
fi
[ "${1:-}" = "--server-only" ] && exit 0
scripts/services.sh down
TOPOLOGY=Topology/cluster.yaml scripts/services.sh down >/dev/null
