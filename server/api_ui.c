/*
 * api_ui: maps the dashboard's URLs onto the embedded web/ files. Only names made of
 * [A-Za-z0-9._-] that are embedded are served, so no path can reach outside web/.
 */
#include "api_ui.h"

#include <stdio.h>
#include <string.h>

#include "api_openapi.h"

int srv_api_ui_index(struct srv_req *r)
{
    return srv_api_asset_reply(r, "web/index.html");
}

int srv_api_ui_file(struct srv_req *r)
{
    const char *name = r->args[0];
    char path[SRV_ARG_LEN + 8];

    for (const char *p = name; *p != '\0'; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '.' || *p == '_' || *p == '-';
        if (!ok || name[0] == '.') {
            return srv_http_reply_error(r, 404, NULL, "no file '%.100s'", name);
        }
    }
    snprintf(path, sizeof(path), "web/%s", name);
    return srv_api_asset_reply(r, path);
}
