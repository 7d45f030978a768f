# shellcheck shell=bash
# Sourced by tests/docker/run.sh and tests/fresh/run.sh: reach a Docker daemon, or start a
# private one for the length of the calling script.
#
#   . scripts/dockerd.sh
#   dockerd_up || exit 1     # the running daemon (DOCKER_HOST or the default socket), else a
#                            # private dockerd; exports DOCKER_HOST; reasons go to stderr
#   ...
#   dockerd_down             # stops the private daemon, if one was started (safe to repeat)
#
# The private dockerd (root needed) keeps its --data-root in $NEUROND_DOCKER_STATE (default
# /var/tmp/neurond-docker, kept as a build cache so reruns are fast; delete it to reclaim the
# space; not under build/, whose *.d files the Makefile includes), its own --exec-root and
# socket under /tmp, and runs with --iptables=false --ip6tables=false --bridge=none: containers
# use --network=host. One private daemon per data root at a time (a lock on fd 9).
NEUROND_DOCKER_STATE=${NEUROND_DOCKER_STATE:-/var/tmp/neurond-docker}
dockerd_pid=""
dockerd_exec_dir=""

dockerd_up() {
    local state=$NEUROND_DOCKER_STATE
    if ! command -v docker >/dev/null 2>&1; then
        echo "no docker client (scripts/deps.sh docker installs docker.io)" >&2
        return 1
    fi
    if docker version >/dev/null 2>&1; then
        echo "using the running Docker daemon ($(docker version -f '{{.Server.Version}}' 2>/dev/null))" >&2
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "no Docker daemon running, and starting one needs root: run this as root" >&2
        return 1
    fi
    if ! command -v dockerd >/dev/null 2>&1; then
        echo "no dockerd (scripts/deps.sh docker installs docker.io)" >&2
        return 1
    fi
    mkdir -p "$state"
    exec 9>"$state/lock"
    if ! flock -w 600 9; then
        echo "lock $state/lock not taken in 600 s (another docker test running?)" >&2
        return 1
    fi
    dockerd_exec_dir=$(mktemp -d /tmp/neurond-dockerd.XXXXXX)
    dockerd --data-root "$state/root" --exec-root "$dockerd_exec_dir/exec" \
        -H "unix://$dockerd_exec_dir/docker.sock" --pidfile "$dockerd_exec_dir/docker.pid" \
        --iptables=false --ip6tables=false --bridge=none \
        >"$state/dockerd.log" 2>&1 &
    dockerd_pid=$!
    export DOCKER_HOST="unix://$dockerd_exec_dir/docker.sock"
    for _ in $(seq 1 60); do
        docker version >/dev/null 2>&1 && break
        kill -0 "$dockerd_pid" 2>/dev/null || break
        sleep 0.5
    done
    if ! docker version >/dev/null 2>&1; then
        echo "the private dockerd did not start:" >&2
        tail -n 20 "$state/dockerd.log" >&2
        return 1
    fi
    echo "private dockerd $dockerd_pid (data $state/root, socket $dockerd_exec_dir/docker.sock)" >&2
}

dockerd_down() {
    local m
    if [ -n "$dockerd_pid" ]; then
        kill -TERM "$dockerd_pid" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$dockerd_pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$dockerd_pid" 2>/dev/null; then
            echo "dockerd did not stop in 20 s; killing it" >&2
            kill -KILL "$dockerd_pid" 2>/dev/null
        fi
        wait "$dockerd_pid" 2>/dev/null
        dockerd_pid=""
    fi
    if [ -n "$dockerd_exec_dir" ]; then
        # Anything dockerd or containerd left mounted (overlays, netns, shm).
        awk -v a="$NEUROND_DOCKER_STATE/" -v b="$dockerd_exec_dir/" \
            'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts | sort -r |
            while read -r m; do
                umount -l "$m" 2>/dev/null
            done
        rm -rf --one-file-system "$dockerd_exec_dir"
        dockerd_exec_dir=""
    fi
    return 0
}
