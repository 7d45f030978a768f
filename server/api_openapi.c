/*
 * api_openapi: serves the embedded OpenAPI document, and the helper that sends any embedded
 * file (the dashboard uses it too). The reply helpers own what they send, so a file is copied
 * into a new buffer per request; the files are tens of kilobytes.
 */
#include "api_openapi.h"

#include <string.h>

#include "assets.h"
#include "nn/alloc.h"

const struct srv_asset *srv_assets_find(const char *path)
{
    for (int i = 0; i < srv_n_assets; i++) {
        if (strcmp(srv_assets[i].path, path) == 0) {
            return &srv_assets[i];
        }
    }
    return NULL;
}

int srv_api_asset_reply(struct srv_req *r, const char *path)
{
    const struct srv_asset *a = srv_assets_find(path);

    if (a == NULL) {
        return srv_http_reply_error(r, 404, NULL, "no file '%.100s'", path);
    }
    char *copy = nn_malloc(a->len > 0 ? a->len : 1);
    if (copy == NULL) {
        return NN_ENOMEM;
    }
    memcpy(copy, a->data, a->len);
    srv_http_add_header(r, "Cache-Control", "no-cache");
    return srv_http_reply_buffer(r, 200, a->content_type, copy, a->len);
}

int srv_api_openapi_get(struct srv_req *r)
{
    return srv_api_asset_reply(r, "docs/openapi.json");
}
