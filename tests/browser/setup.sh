#!/bin/sh
# Installs what the ecosystem checks need, and nothing when it is there: Debian's chromium,
# prometheus (for promtool) and node (scripts/deps.sh eco), then this folder's npm packages
# from the lockfile (npm ci) when node_modules is missing or older than the lockfile.
set -eu
cd "$(dirname "$0")"
../../scripts/deps.sh eco
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
