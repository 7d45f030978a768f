/*
 * reserve: the preallocated file that keeps room to delete on a full disk (reserve.h).
 * Filling writes a temporary file with posix_fallocate (real blocks, not a sparse hole) and
 * renames it into place, so a reserve is either whole or absent.
 */
#include "reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

#define PATH_CAP (SRV_CONFIG_STR_MAX + 16)

static int reserve_path(const char *db, const char *suffix, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s.reserve%s", db, suffix);

    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int srv_reserve_fill(const char *db)
{
    char path[PATH_CAP], tmp[PATH_CAP];
    struct stat st;

    if (reserve_path(db, "", path, sizeof(path)) != 0 ||
        reserve_path(db, ".tmp", tmp, sizeof(tmp)) != 0) {
        return -1;
    }
    if (stat(path, &st) == 0 && st.st_size >= SRV_RESERVE_BYTES &&
        (long long)st.st_blocks * 512 >= SRV_RESERVE_BYTES) {
        return 0;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -1;
    }
    int rc = posix_fallocate(fd, 0, SRV_RESERVE_BYTES);
    if (close(fd) != 0 || rc != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int srv_reserve_release(const char *db)
{
    char path[PATH_CAP];

    if (reserve_path(db, "", path, sizeof(path)) != 0) {
        return 0;
    }
    return unlink(path) == 0 ? 1 : 0;
}
