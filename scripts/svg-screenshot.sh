#!/usr/bin/env bash
# Renders an SVG file (e.g. the planner's picture: GET .../layout/plan?format=svg, or
# `leaderboard-server plan --svg FILE`) to a PNG with headless Chromium, installing Chromium
# (Debian's package) when it is missing, and checks the PNG is not blank.
#   scripts/svg-screenshot.sh IN.svg OUT.png [WIDTH HEIGHT]   (default 1000 640)
case "${1:-}" in -h | --help | "") sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; [ -n "${1:-}" ]; exit $? ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
in="$(realpath "$1")"; out="$(realpath -m "$2")"; width="${3:-1000}"; height="${4:-640}"
WITH_BROWSER=1 scripts/install-deps.sh
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --window-size="$width,$height" --screenshot="$out" "file://$in" >/dev/null 2>&1
[ -s "$out" ] || { echo "svg-screenshot: chromium wrote no picture" >&2; exit 1; }
# A blank render compresses to almost nothing; the planner's picture has bars, lines and labels.
size=$(stat -c %s "$out")
[ "$size" -gt 8000 ] || { echo "svg-screenshot: $out is only $size bytes: blank?" >&2; exit 1; }
echo "svg-screenshot: $out ($size bytes, ${width}x${height})"
