#!/usr/bin/env bash
# Runs inside the bare container of tests/fresh/run.sh, as a newcomer would on a bare Debian
# machine with a clean clone in /root/neurond: the README's prerequisites line, then the
# README's two commands. `make run` in the background until the daemon answers, the curl
# walk-through (examples/walkthrough.sh) against it, stop it; then `make test`.
# Prints "fresh: ..." lines for run.sh to read; exits non-zero on the first failure.
set -eu -o pipefail
cd /root/neurond
t0=$(date +%s)
stamp() { echo "fresh: $1 ($(($(date +%s) - t0)) s)"; }
# What the installs have added to the system so far, in MB (for the README's figures).
installed() { du -sxm /usr /var/lib /etc 2>/dev/null | awk '{ n += $1 } END { print n }'; }

# The README's prerequisites line on a bare Debian.
apt-get update -qq
apt-get install -y -qq make git >/dev/null
disk0=$(installed)
stamp "prerequisites installed (apt-get install make git; system ${disk0} MB)"

# `make run`, in its own process group so that stopping it stops the daemon too.
port=${FRESH_PORT:-8080}
args=""
[ "$port" = 8080 ] || args="--port $port" # only when the host's 8080 is taken
setsid make run ARGS="$args" >/tmp/make-run.log 2>&1 &
run_pid=$!
up=0
i=0
while [ "$i" -lt 1800 ]; do
    if ! kill -0 "$run_pid" 2>/dev/null; then
        break
    fi
    # curl comes with `make run`'s own install step (scripts/deps.sh)
    if command -v curl >/dev/null 2>&1 &&
        curl -sf -o /dev/null -m 2 "http://127.0.0.1:$port/healthz"; then
        up=1
        break
    fi
    sleep 1
    i=$((i + 1))
done
if [ "$up" != 1 ]; then
    tail -n 40 /tmp/make-run.log
    echo "fresh: make run did not bring a daemon up"
    exit 1
fi
stamp "make run: the daemon answers /healthz (installed $(($(installed) - disk0)) MB)"
if ! examples/walkthrough.sh "http://127.0.0.1:$port" >/tmp/walkthrough.log 2>&1; then
    tail -n 40 /tmp/walkthrough.log
    echo "fresh: examples/walkthrough.sh failed"
    exit 1
fi
stamp "examples/walkthrough.sh passed"
kill -TERM -- "-$run_pid"
wait "$run_pid" || true
stamp "make run stopped"

# `make test`; its last line is the summary.
rc=0
make test >/tmp/make-test.log 2>&1 || rc=$?
grep -E '^(tests|api|browser|failing suites):|FAILED|^FAIL|Error|^\[  (ERROR|LINE) ' /tmp/make-test.log | tail -n 60 || true
summary=$(grep '^tests: ' /tmp/make-test.log | tail -n 1 || true)
echo "fresh: make test: $summary (exit $rc, $(($(date +%s) - t0)) s; installed $(($(installed) - disk0)) MB in all)"
if [ "$rc" -ne 0 ]; then
    tail -n 80 /tmp/make-test.log
    exit 1
fi
case "$summary" in
"tests: "*" passed, 0 failed") ;;
*) exit 1 ;;
esac
