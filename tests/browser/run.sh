#!/bin/sh
# Runs the headless-browser test of the dashboard (tests/browser/test_dashboard.py: pytest,
# Debian's python3-selenium driving Debian's chromium through chromium-driver) against
# $BIN/neurond and prints one line:
#   browser: N passed, N failed
# Installs what it needs first (scripts/deps.sh eco) and, when that fails, shows its output.
# The screenshot is $BUILD/dashboard.png.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-bin}
BUILD=${BUILD:-build}
export BIN BUILD
if ! setup=$(scripts/deps.sh eco 2>&1); then
    printf '%s\n' "$setup"
    echo "browser: setup failed: scripts/deps.sh eco (chromium, chromium-driver, python3-selenium) exited non-zero, output above"
    echo "browser: 0 passed, 1 failed"
    exit 1
fi
NEUROND_SUITE=browser exec tests/api/run.sh --tb=short "$@"
