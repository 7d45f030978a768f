/*
 * assets: the files compiled into the daemon — docs/openapi.json and the dashboard's web/ files
 * — as a const table made at build time by scripts/embed-files.sh (build/gen/assets.c), so
 * the binary serves them with no files, no CDN and no build step at run time.
 * Thread-safety: read-only data; call from any thread.
 */
#ifndef NEUROND_SERVER_ASSETS_H
#define NEUROND_SERVER_ASSETS_H

#include <stddef.h>

/* One embedded file. */
struct srv_asset {
    const char *path;         /* as in the repository: "web/index.html" */
    const char *content_type; /* from the extension */
    const unsigned char *data;
    size_t len;
};

/* The table and its size (generated). */
extern const struct srv_asset srv_assets[];
extern const int srv_n_assets;

/**
 * Finds an embedded file by its repository path.
 * @return the file (static, borrowed), or NULL when there is none.
 */
const struct srv_asset *srv_assets_find(const char *path);

#endif
