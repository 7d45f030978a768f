#!/bin/sh
# Assembles the runtime image's whole filesystem under DEST, for a `FROM scratch` stage:
# the given programs, exactly the shared libraries they load (their ldd closure, with the
# dynamic loader and its cache, and glibc's iconv modules), a non-root user, /data for the
# SQLite file and /tmp.
# Nothing else: no shell, no package manager, no curl.
#
#   docker/rootfs.sh DEST SRC[:NAME] ...     # SRC copied to DEST/usr/bin/NAME (default: basename)
#
# Why not `FROM debian:bookworm-slim` + apt-get for the runtime: slim alone is 74 MB and
# OpenBLAS's shared library with its dependencies 44 MB, over the image's 100 MB budget;
# copying only what the loader needs keeps it near 75 MB on the same Debian libraries.
# Runs in the build stage as root; uses ldd, ldconfig, strip (binutils).
set -eu

dest=$1
shift
uid=${NEUROND_UID:-10001}
mkdir -p "$dest/usr/bin" "$dest/etc" "$dest/tmp" "$dest/data"

# Keep the base's merged-/usr layout: /lib, /lib64, /bin ... are symlinks into /usr there.
for d in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then
        ln -sfn "$(readlink "/$d")" "$dest/$d"
    fi
done

# Copies one library to the directory the loader finds it in, with directory symlinks
# resolved (/lib/x86_64-linux-gnu -> /usr/lib/x86_64-linux-gnu) and the file's own symlink
# followed (alternatives: libopenblas.so.0 -> openblas-pthread/libopenblasp-r0.3.21.so).
copy_lib() {
    dir=$(cd "$(dirname "$1")" && pwd -P)
    if [ ! -e "$dest$dir/$(basename "$1")" ]; then
        mkdir -p "$dest$dir"
        cp -L "$1" "$dest$dir/$(basename "$1")"
    fi
}

for spec in "$@"; do
    src=${spec%%:*}
    name=$(basename "$src")
    case "$spec" in
    *:*) name=${spec#*:} ;;
    esac
    cp -L "$src" "$dest/usr/bin/$name"
    chmod 0755 "$dest/usr/bin/$name"
    strip --strip-unneeded "$dest/usr/bin/$name" 2>/dev/null || true
    if ldd "$src" >/dev/null 2>&1; then
        libs=$(ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
        if ldd "$src" | grep -q 'not found'; then
            echo "rootfs: $src: a library is missing:" >&2
            ldd "$src" >&2
            exit 1
        fi
        for lib in $libs; do
            copy_lib "$lib"
        done
    fi
done

# glibc's iconv loads its charset converters at run time from gconv/ beside libc (the mail
# parser converts message charsets with iconv): ldd cannot see them, so copy them whole.
for libc in "$dest"/usr/lib/*/libc.so.6 "$dest"/usr/lib*/libc.so.6; do
    [ -f "$libc" ] || continue
    gconv=${libc#"$dest"}
    gconv=$(dirname "$gconv")/gconv
    if [ -d "$gconv" ] && [ ! -d "$dest$gconv" ]; then
        cp -a "$gconv" "$dest$gconv"
    fi
done

# The loader's cache, so lookups do not depend on compiled-in search paths.
if [ -f /etc/ld.so.conf ]; then
    cp /etc/ld.so.conf "$dest/etc/"
fi
if [ -d /etc/ld.so.conf.d ]; then
    cp -r /etc/ld.so.conf.d "$dest/etc/"
fi
ldconfig -r "$dest"

# One non-root user; numeric ids so `runAsNonRoot` style checks can verify them.
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nneurond:x:%s:%s:neurond:/data:/usr/sbin/nologin\n' \
    "$uid" "$uid" >"$dest/etc/passwd"
printf 'root:x:0:\nneurond:x:%s:\n' "$uid" >"$dest/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$dest/etc/nsswitch.conf"
chmod 1777 "$dest/tmp"
chown "$uid:$uid" "$dest/data"
chmod 0750 "$dest/data"
