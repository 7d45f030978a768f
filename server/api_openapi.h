/*
 * api_openapi: GET /openapi.json, the OpenAPI 3 description of every route (docs/openapi.json,
 * compiled in). tests/api/test_openapi.py keeps it true: it validates the document and checks
 * that it lists exactly the routes of the router's table.
 * Thread-safety: handlers run on MHD threads, any number at once.
 */
#ifndef NEUROND_SERVER_API_OPENAPI_H
#define NEUROND_SERVER_API_OPENAPI_H

#include "http.h"

/** GET /openapi.json: 200 with the document, application/json. */
int srv_api_openapi_get(struct srv_req *r);

/**
 * Replies 200 with an embedded file (a copy of it), or 404 when there is none.
 * @param path [in] its repository path ("web/app.js").
 */
int srv_api_asset_reply(struct srv_req *r, const char *path);

#endif
