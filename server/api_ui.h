/*
 * api_ui: the web dashboard — GET / (web/index.html) and GET /ui/<file> (app.js, style.css)
 * — static files compiled into the daemon. The page holds no data: its script calls the
 * JSON API (with the key the user types, when one is set), so these routes are public.
 * Thread-safety: handlers run on MHD threads, any number at once.
 */
#ifndef NEUROND_SERVER_API_UI_H
#define NEUROND_SERVER_API_UI_H

#include "http.h"

/** GET /: the dashboard page. */
int srv_api_ui_index(struct srv_req *r);

/** GET /ui/<file>: one of the dashboard's files; 404 for any other name. */
int srv_api_ui_file(struct srv_req *r);

#endif
