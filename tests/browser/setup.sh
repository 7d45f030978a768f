#!/bin/sh
# Installs what the ecosystem checks need, and nothing when it is there: Debian's chromium,
# chromium-driver, python3-selenium, prometheus (for promtool) and node (scripts/deps.sh eco),
# then this folder's npm packages from the lockfile (npm ci) when node_modules is missing or
# older than the lockfile: @apidevtools/swagger-parser, the OpenAPI validator that
# tests/api/test_openapi.py runs (validate-openapi.mjs), then tests/onnx/setup.sh (ONNX Runtime for
# tests/api/test_onnx.py). The browser test needs no npm package.
# A failing step prints its own output and which step it was, and exits non-zero.
set -u
cd "$(dirname "$0")" || exit 1
if ! ../../scripts/deps.sh eco; then
    echo "setup: scripts/deps.sh eco failed (output above)" >&2
    exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    if ! out=$(npm ci --no-audit --no-fund 2>&1); then
        printf '%s\n' "$out" >&2
        echo "setup: npm ci in tests/browser failed (node $(node --version 2>&1), npm $(npm --version 2>&1)); output above" >&2
        exit 1
    fi
fi
# ONNX Runtime for tests/api/test_onnx.py (its own folder and lockfile); exit 3 = the registry
# cannot be reached: the ORT tests skip and say so
../onnx/setup.sh
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
    echo "setup: tests/onnx/setup.sh failed (output above)" >&2
    exit 1
fi
