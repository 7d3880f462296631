#!/usr/bin/env bash
# Prints the directory of the release binaries the benchmarks run: $BIN_DIR when set, else the
# release build's, after building leaderboard-server, leaderboard-bench and leaderboard-bare-route.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${BIN_DIR:-}" ]; then echo "$BIN_DIR"; exit 0; fi
echo "building (release)..." >&2
for product in leaderboard-server leaderboard-bench leaderboard-bare-route; do
    swift build -c release --product "$product" 2>&1 | grep -E "error" >&2 || true
done
swift build -c release --show-bin-path
