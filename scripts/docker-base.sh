#!/usr/bin/env bash
# Makes a Debian base image without a container registry: `debootstrap --variant=minbase`
# from the apt mirror this machine already uses, trimmed the way debian:*-slim is (no docs,
# man pages or locales, and dpkg told to keep them out), then `docker import`. Prints the
# image reference on stdout (everything else goes to stderr) for
# `docker build --build-arg BASE=<it>`.
#
#   scripts/docker-base.sh            # suite bookworm
#   SUITE=trixie scripts/docker-base.sh
#
# Environment: DOCKER (the client command, default `docker`, may carry -H ...), SUITE
# (bookworm), MIRROR (default: the first deb URI of /etc/apt/sources.list* that serves SUITE,
# else http://deb.debian.org/debian), CACHE_DIR (build/docker).
# Cached twice so reruns are fast: by image tag in the daemon (neurond-base:<suite>-<key>),
# and as a rootfs tarball under CACHE_DIR that survives a wiped daemon. The key hashes this
# script, the suite, the mirror and the architecture, so a change to any of them rebuilds.
# Needs root (debootstrap) and the debootstrap package (scripts/deps.sh docker).
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-docker}
SUITE=${SUITE:-bookworm}
CACHE_DIR=${CACHE_DIR:-build/docker}

log() { echo "docker-base: $*" >&2; }

# The first `deb` URI in the apt configuration that lists $SUITE, one-line or deb822 format.
find_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$SUITE" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
                if ($(i + 1) == suite) { print $i; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822 stanzas are separated by blank lines; fields are "Name: value ...".
        awk -v suite="$SUITE" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " suite " ") && uris != "") {
                    split(uris, u, " "); print u[1]; found = 1; exit
                }
                types = ""; suites = ""; uris = ""; enabled = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            tolower($1) == "types:" { $1 = ""; types = substr($0, 2) }
            tolower($1) == "suites:" { $1 = ""; suites = substr($0, 2) }
            tolower($1) == "uris:" { $1 = ""; uris = substr($0, 2) }
            tolower($1) == "enabled:" { enabled = tolower($2) }
            END { if (!found) flush() }' "$f"
    done
}

if [ -z "${MIRROR:-}" ]; then
    MIRROR=$(find_mirror | head -n 1)
    MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
ARCH=$(dpkg --print-architecture)
KEY=$( { cat "$0"; echo "$SUITE $MIRROR $ARCH"; } | sha256sum | cut -c1-12)
TAG="neurond-base:$SUITE-$KEY"
TARBALL="$CACHE_DIR/base-$SUITE-$ARCH-$KEY.tar.gz"

if $DOCKER image inspect "$TAG" >/dev/null 2>&1; then
    log "cached image $TAG"
    echo "$TAG"
    exit 0
fi

if [ ! -s "$TARBALL" ]; then
    command -v debootstrap >/dev/null || { log "debootstrap missing (scripts/deps.sh docker)"; exit 1; }
    [ "$(id -u)" -eq 0 ] || { log "debootstrap needs root"; exit 1; }
    mkdir -p "$CACHE_DIR"
    root=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
    root=$(cd "$root" && pwd)
    # debootstrap mounts /proc and /sys in the target; a failure can leave them mounted.
    cleanup() {
        local m
        awk -v r="$root" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r |
            while read -r m; do
                umount -l "$m" 2>/dev/null || true
            done
        rm -rf --one-file-system "$root"
    }
    trap cleanup EXIT
    log "debootstrap --variant=minbase $SUITE from $MIRROR ($ARCH; about a minute)"
    start=$(date +%s)
    debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 ||
        { tail -n 20 "$root.log" >&2; rm -f "$root.log"; log "debootstrap failed"; exit 1; }
    rm -f "$root.log"

    # Trim like debian:*-slim: keep docs, man pages and translations out now and later.
    cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    cat >"$root/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF
    cat >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests" <<'EOF'
Apt::AutoRemove::SuggestsImportant "false";
EOF
    find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/groff/* \
        "$root"/usr/share/lintian/* "$root"/usr/share/locale/* "$root"/var/cache/man/*
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
        "$root"/var/log/* "$root"/tmp/* "$root"/var/tmp/*
    # The same suites as the official image (updates, security) where this machine's apt
    # configuration has a mirror for them, so the build stage installs current packages.
    {
        echo "deb $MIRROR $SUITE main"
        u=$(SUITE=$SUITE-updates find_mirror | head -n 1)
        if [ -n "$u" ]; then echo "deb $u $SUITE-updates main"; fi
        u=$(SUITE=$SUITE-security find_mirror | head -n 1)
        if [ -n "$u" ]; then echo "deb $u $SUITE-security main"; fi
    } >"$root/etc/apt/sources.list"
    # As in the official images: the machine id and resolver are the container runtime's.
    : >"$root/etc/machine-id"
    rm -f "$root/etc/resolv.conf" "$root/etc/hostname"
    tar -C "$root" --numeric-owner -czf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    # Older cached rootfs of the same suite and architecture (another key) are stale now.
    find "$CACHE_DIR" -maxdepth 1 -name "base-$SUITE-$ARCH-*.tar.gz" ! -name "${TARBALL##*/}" -delete
    cleanup
    trap - EXIT
    log "rootfs made in $(($(date +%s) - start)) s: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
fi

$DOCKER import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["bash"]' \
    -m "debootstrap --variant=minbase $SUITE $MIRROR, slimmed (scripts/docker-base.sh)" \
    "$TARBALL" "$TAG" >/dev/null
log "imported $TAG"
# Earlier base images of this suite (another key) are stale: untag them (their layers go when
# nothing uses them).
# (awk, not grep: under pipefail a grep that matches nothing, as on a first run, would stop the
# script here before it prints the tag.)
$DOCKER images --format '{{.Repository}}:{{.Tag}}' neurond-base |
    awk -v p="neurond-base:$SUITE-" -v tag="$TAG" 'index($0, p) == 1 && $0 != tag' |
    while read -r old; do
        $DOCKER rmi "$old" >/dev/null 2>&1 || true
    done
echo "$TAG"
