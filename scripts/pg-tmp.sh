#!/bin/sh
# A throwaway PostgreSQL for the tests: a cluster in a temporary folder, run by an
# unprivileged user (PostgreSQL refuses root: as root it runs as `nobody`, the folder chowned
# to it), with trust authentication, on a Unix socket in the folder and a free loopback port.
#   scripts/pg-tmp.sh start DIR [PID]   makes (once) and starts the cluster in DIR; prints
#                                       its URL (postgresql://neurond@127.0.0.1:PORT/neurond).
#                                       With PID: a watchdog stops it when PID exits, whatever
#                                       way it ends (crash, SIGKILL), so nothing is left behind.
#   scripts/pg-tmp.sh stop DIR          stops it (fast); DIR is kept (start runs it again)
#   scripts/pg-tmp.sh destroy DIR       stops it and removes DIR
#   scripts/pg-tmp.sh check             exits 0 when PostgreSQL's server programs are here
# Exit 3 (and a line saying why) when PostgreSQL is not installed: callers skip their tests.
set -eu

pgbin=""
for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && pgbin=$d
done
if [ -z "$pgbin" ] && command -v initdb >/dev/null 2>&1; then
    pgbin=$(dirname "$(command -v initdb)")
fi
if [ -z "$pgbin" ]; then
    echo "pg-tmp: PostgreSQL's server (initdb, pg_ctl) is not installed: scripts/deps.sh installs it" >&2
    exit 3
fi

# as: runs a command as the cluster's owner (nobody when we are root).
as() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u nobody -- "$@"
    else
        "$@"
    fi
}

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd=${1:-}
dir=${2:-}
case "$cmd" in
check) exit 0 ;;
start | stop | destroy) [ -n "$dir" ] || {
    echo "usage: $0 start|stop|destroy DIR" >&2
    exit 2
} ;;
*)
    echo "usage: $0 start DIR [PID] | stop DIR | destroy DIR | check" >&2
    exit 2
    ;;
esac

if [ "$cmd" = stop ] || [ "$cmd" = destroy ]; then
    if [ -f "$dir/data/postmaster.pid" ]; then
        as "$pgbin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    [ "$cmd" = destroy ] && rm -rf "$dir"
    exit 0
fi

mkdir -p "$dir"
if [ ! -f "$dir/data/PG_VERSION" ]; then
    [ "$(id -u)" -eq 0 ] && chown nobody "$dir" && chmod 700 "$dir"
    as "$pgbin/initdb" -D "$dir/data" -U neurond --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    free_port >"$dir/port.txt"
fi
port=$(cat "$dir/port.txt")
if as "$pgbin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "postgresql://neurond@127.0.0.1:$port/neurond"
    exit 0
fi
# small and fast: this is a test server (fsync off; the tests kill processes, not machines)
as "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB" \
    start >/dev/null || {
    cat "$dir/server.log" >&2
    exit 1
}
if [ ! -f "$dir/created" ]; then
    as "$pgbin/createdb" -h "$dir" -p "$port" -U neurond neurond
    touch "$dir/created"
fi
if [ -n "${3:-}" ]; then
    watch=$3
    # the watchdog: stops the server once the caller is gone, however it ended
    (
        trap '' HUP INT
        while kill -0 "$watch" 2>/dev/null; do sleep 1; done
        as "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$dir"
    ) </dev/null >/dev/null 2>&1 &
fi
echo "postgresql://neurond@127.0.0.1:$port/neurond"
