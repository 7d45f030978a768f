#!/bin/sh
# Installs the Debian/Ubuntu packages neurond needs to build, test and run, and nothing when
# they are all there already. Called by `make` (deps target); prints what it installs.
# Installs with apt-get as root; run by another user, it installs nothing and prints the one
# apt-get command to run as root (no sudo is assumed: a bare Debian has none).
#   scripts/deps.sh           what `make` and `make run` need: the compiler, the -dev libraries,
#                             curl (the examples), python3 (the man page, the docs)
#   scripts/deps.sh test      adds what `make test` needs: cmocka's runner is in the base list
#                             (the unit tests are built with the rest); PostgreSQL (the store
#                             suite and the cluster tests start their own), pytest + requests +
#                             jsonschema + yaml (the API suite; yaml reads the deployment
#                             files for test_deploy), python3-onnx (the ONNX checker),
#                             headless Chromium with chromium-driver and python3-selenium (the
#                             dashboard test), promtool (prometheus: /metrics), node + npm (the
#                             OpenAPI validator and ONNX Runtime); `eco` is the same list
#   scripts/deps.sh bench     adds the benchmark tools and peers (wrk; PyTorch, scikit-learn,
#                             Flask + gunicorn and FANN to compare against; postgresql for
#                             bench/cluster.py); never used by tests
#   scripts/deps.sh torch     adds python3-torch alone: the real-PyTorch ONNX import test
#                             (tests/api/test_onnx_import.py) needs it; .ci/run installs it,
#                             `make test` does not (the test skips without it, saying so)
#   scripts/deps.sh quality   adds scikit-learn and pandas (`make quality` compares against them)
#                             and R (r-base-core: it wrote tests/data/airquality_r_na.csv)
#   scripts/deps.sh docker    adds what `make test-docker` needs (docker.io, docker-compose, debootstrap)
#   scripts/deps.sh bear      adds bear, which records `make compile_commands.json`
set -eu

pkgs="build-essential pkg-config libopenblas-dev libmicrohttpd-dev libcjson-dev libsqlite3-dev \
libcmocka-dev libpq-dev libgnutls28-dev libgmime-3.0-dev libprotobuf-c-dev protobuf-c-compiler \
libonnx-dev curl xz-utils sqlite3 python3"
case "${1:-}" in
bench) pkgs="$pkgs wrk python3-torch python3-sklearn python3-flask gunicorn libfann-dev postgresql" ;;
fuzz) pkgs="$pkgs clang" ;;
torch) pkgs="$pkgs python3-torch" ;;
quality) pkgs="$pkgs python3-sklearn python3-pandas r-base-core" ;;
bear) pkgs="$pkgs bear" ;;
test | eco)
    pkgs="$pkgs postgresql python3-pytest python3-requests python3-jsonschema python3-yaml python3-onnx \
chromium chromium-driver python3-selenium prometheus nodejs"
    # a nodejs from elsewhere (NodeSource) carries its own npm; Debian's npm would conflict
    command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
    ;;
docker) pkgs="$pkgs docker.io docker-compose debootstrap git" ;;
esac

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: missing packages:$missing; install them with your package manager" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages:$missing; run as root:" >&2
    echo "apt-get update && apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
# shellcheck disable=SC2086
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "deps: apt-get failed to install:$missing (its output is above)" >&2
    exit 1
fi
rm -f "$log"
echo "deps: done"
