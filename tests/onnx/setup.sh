#!/bin/sh
# Installs ONNX Runtime for node (onnxruntime-node, CPU) from this folder's lockfile, and nothing
# when node_modules is current: tests/api/test_onnx.py runs exported graphs with it
# (run_ort.mjs). `npm ci --ignore-scripts`: the package's install script only fetches optional
# GPU binaries (from a host that may be unreachable); the CPU runtime is in the package itself.
# Exit status: 0 installed, 3 the npm registry cannot be reached (the ORT tests then skip, saying
# so; CI must run them), 1 any other failure (its output is printed).
set -u
cd "$(dirname "$0")" || exit 1
if [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]; then
    exit 0
fi
if out=$(npm ci --ignore-scripts --no-audit --no-fund 2>&1); then
    exit 0
fi
if ! npm ping >/dev/null 2>&1; then
    echo "setup: the npm registry cannot be reached; ONNX Runtime is not installed (tests/onnx)" >&2
    exit 3
fi
printf '%s\n' "$out" >&2
echo "setup: npm ci in tests/onnx failed (node $(node --version 2>&1), npm $(npm --version 2>&1)); output above" >&2
exit 1
