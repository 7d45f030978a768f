/*
 * router: the static route table of the daemon — method, path pattern, handler, the body
 * kinds it accepts and who may call it — and the matcher that turns a method and a path
 * into a route with its captured path segments, or into 404 / 405 (with the Allow list).
 *
 * Patterns are literal segments and `*` (one non-empty segment, captured in order). The
 * table is a const array, so matching takes no lock and allocates nothing.
 * Thread-safety: every function is pure; call from any thread.
 */
#ifndef NEUROND_SERVER_ROUTER_H
#define NEUROND_SERVER_ROUTER_H

#include <stddef.h>

#include "http.h"

/* Who may call a route when an API key is configured. */
#define SRV_AUTH_PUBLIC 0 /* anyone: health, readiness, metrics */
#define SRV_AUTH_READ   1 /* the API key or the predict-only key */
#define SRV_AUTH_ADMIN  2 /* the API key only */

/** An endpoint: sends exactly one reply; returns 0, or an error (then 500 is sent). */
typedef int (*srv_handler_fn)(struct srv_req *r);

struct srv_route {
    const char *method;
    const char *pattern; /* "/models/ * /versions/ *" without spaces */
    srv_handler_fn handler;
    int bodies;        /* SRV_BODY_* accepted */
    int auth;          /* SRV_AUTH_* */
    int big_body;      /* 1: JSON bodies may reach --max-upload-mb (model import) */
    const char *label; /* metrics label */
};

/**
 * Finds the route for a request. HEAD finds the GET route of the path.
 * @param args, n_args [out] captured segments (on success).
 * @param allow [out] on 405, the methods allowed for the path ("GET, HEAD, DELETE").
 * @return the route index; -404 when no pattern matches the path; -405 when a pattern
 *         matches but not for this method.
 */
int srv_router_find(const char *method, const char *path, char args[][SRV_ARG_LEN], int *n_args,
                    char *allow, size_t allow_cap);

/** Route i (0 <= i < srv_router_count()). Borrowed, static. */
const struct srv_route *srv_router_get(int i);

/** Number of routes. */
int srv_router_count(void);

/** The metrics labels of the routes, indexed like the table. Static. */
const char *const *srv_router_labels(void);

#endif
