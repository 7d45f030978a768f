#!/usr/bin/env bash
# The fresh-machine stage (`make test-fresh`, run by .ci/run): the README's commands on a bare
# Debian, in a new container every time. A clean clone of this checkout's HEAD is copied into
# a container started from the bare base image of scripts/docker-base.sh (debootstrap
# --variant=minbase: no make, no git, no compiler, no cached layer of installed packages), and
# tests/fresh/inside.sh runs there as root: `apt-get install make git` (the README's
# prerequisites), `make run` in the background until it answers, examples/walkthrough.sh,
# stop it, then `make test`, which must end on "tests: N passed, 0 failed". So a package
# missing from scripts/deps.sh fails here even when the development machine has it.
#
#   tests/fresh/run.sh                 # Debian bookworm
#   SUITE=trixie tests/fresh/run.sh    # Debian trixie (where the machine's apt mirror has it)
#
# The container uses the host's network (the private dockerd has no bridge) to reach the apt
# mirror and the npm registry. HOST_CA_BUNDLE (default /etc/ssl/certs/ca-certificates.crt),
# when present, is copied in and named by NODE_EXTRA_CA_CERTS: a machine behind a
# TLS-inspecting proxy trusts its own certificate authority (docs/operations.md).
# Last line: "fresh: N passed, N failed"; exit status 1 when any failed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=scripts/dockerd.sh
. scripts/dockerd.sh
SUITE=${SUITE:-bookworm}
NAME=neurond-fresh-$SUITE-$$
HOST_CA_BUNDLE=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
# shellcheck source=tests/tally.sh
. tests/tally.sh
cid=""
work=""
t_start=$(date +%s)

finish() {
    if [ -n "$cid" ]; then
        docker rm -fv "$cid" >/dev/null 2>&1
    fi
    [ -n "$work" ] && rm -rf "$work"
    dockerd_down
    echo "fresh: $pass passed, $failed failed ($(($(date +%s) - t_start)) s)"
    [ "$failed" -eq 0 ]
    exit $?
}
trap finish EXIT
trap 'not_ok "interrupted"; exit 1' INT TERM

# Not in $(...): the private daemon's pid and DOCKER_HOST must stay in this shell.
if ! dockerd_up 2>&1; then
    not_ok "a Docker daemon (the running one, else a private dockerd)"
    exit 1
fi
if ! base=$(SUITE=$SUITE scripts/docker-base.sh); then
    not_ok "the bare $SUITE base image (scripts/docker-base.sh)"
    exit 1
fi
ok "bare base image $base"

# A clean clone of HEAD: what is committed, as a newcomer gets it.
work=$(mktemp -d /var/tmp/neurond-fresh.XXXXXX)
if ! git clone -q --no-local . "$work/neurond" || ! git -C "$work/neurond" checkout -q "$(git rev-parse HEAD)"; then
    not_ok "git clone of HEAD"
    exit 1
fi
# The host's 8080 is the container's (host network): use it when it is free.
port=8080
if (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
env_ca=()
if [ -s "$HOST_CA_BUNDLE" ]; then
    env_ca=(-e NODE_EXTRA_CA_CERTS=/etc/neurond-host-ca.pem)
fi
if ! cid=$(docker create --name "$NAME" --network=host --shm-size=1g -e CI=true \
    -e DEBIAN_FRONTEND=noninteractive -e FRESH_PORT="$port" "${env_ca[@]}" \
    "$base" /root/neurond/tests/fresh/inside.sh); then
    not_ok "docker create from $base"
    cid=""
    exit 1
fi
docker cp "$work/neurond" "$cid:/root/neurond" >/dev/null || { not_ok "docker cp the clone"; exit 1; }
if [ -s "$HOST_CA_BUNDLE" ]; then
    docker cp -L "$HOST_CA_BUNDLE" "$cid:/etc/neurond-host-ca.pem" >/dev/null ||
        { not_ok "docker cp the CA bundle"; exit 1; }
fi
t0=$(date +%s)
docker start -a "$cid" >"$work/inside.log" 2>&1
rc=$?
grep '^fresh: ' "$work/inside.log"
if [ "$rc" -eq 0 ]; then
    ok "the README's commands on bare $SUITE: make run + walkthrough, make test ($(($(date +%s) - t0)) s)"
else
    tail -n 100 "$work/inside.log" | grep -v '^fresh: '
    not_ok "the README's commands on bare $SUITE (exit $rc after $(($(date +%s) - t0)) s)"
fi
