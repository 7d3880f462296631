#!/usr/bin/env bash
# Installs the Debian packages the project needs, when any is missing.
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql)
[ -f /usr/include/hiredis/hiredis.h ] || need+=(libhiredis-dev)
[ -f /usr/include/xxhash.h ] || need+=(libxxhash-dev)
[ -f /usr/include/postgresql/libpq-fe.h ] || need+=(libpq-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ "${WITH_LOAD_TOOLS:-0}" = 1 ]; then command -v wrk >/dev/null 2>&1 || need+=(wrk); fi
# Headless Chromium, for screenshots of the planner's picture (scripts/svg-screenshot.sh).
if [ "${WITH_BROWSER:-0}" = 1 ]; then command -v chromium >/dev/null 2>&1 || need+=(chromium); fi

if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "installing: ${need[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
