/*
 * router: the route table (one X-macro list, so the table and the metrics labels cannot
 * drift) and a segment-by-segment matcher.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "api_feedback.h"
#include "api_jobs.h"
#include "api_kserve.h"
#include "api_models.h"
#include "api_openapi.h"
#include "api_ops.h"
#include "api_predict.h"
#include "api_spam.h"
#include "api_train.h"
#include "api_ui.h"

#define J SRV_BODY_JSON
#define C SRV_BODY_CSV
#define F SRV_BODY_FORM
#define M SRV_BODY_MAIL
#define O SRV_BODY_ONNX

/* method, pattern, handler, bodies, auth, big body */
#define ROUTES(X)                                                                                  \
    X("GET", "/healthz", srv_api_ops_healthz, 0, SRV_AUTH_PUBLIC, 0)                               \
    X("GET", "/livez", srv_api_ops_healthz, 0, SRV_AUTH_PUBLIC, 0)                                 \
    X("GET", "/readyz", srv_api_ops_readyz, 0, SRV_AUTH_PUBLIC, 0)                                 \
    X("GET", "/metrics", srv_api_ops_metrics, 0, SRV_AUTH_PUBLIC, 0)                               \
    X("GET", "/openapi.json", srv_api_openapi_get, 0, SRV_AUTH_READ, 0)                            \
    X("GET", "/", srv_api_ui_index, 0, SRV_AUTH_PUBLIC, 0)                                         \
    X("GET", "/ui/*", srv_api_ui_file, 0, SRV_AUTH_PUBLIC, 0)                                      \
    X("POST", "/train", srv_api_train_post, C | F, SRV_AUTH_ADMIN, 0)                              \
    X("GET", "/jobs", srv_api_jobs_list, 0, SRV_AUTH_READ, 0)                                      \
    X("GET", "/jobs/*", srv_api_jobs_get, 0, SRV_AUTH_READ, 0)                                     \
    X("DELETE", "/jobs/*", srv_api_jobs_cancel, 0, SRV_AUTH_ADMIN, 0)                              \
    X("POST", "/jobs/*/cancel", srv_api_jobs_cancel, J, SRV_AUTH_ADMIN, 0)                         \
    X("GET", "/jobs/*/events", srv_api_jobs_events, 0, SRV_AUTH_READ, 0)                           \
    X("GET", "/models", srv_api_models_list, 0, SRV_AUTH_READ, 0)                                  \
    X("GET", "/models/*", srv_api_models_get, 0, SRV_AUTH_READ, 0)                                 \
    X("DELETE", "/models/*", srv_api_models_delete, 0, SRV_AUTH_ADMIN, 0)                          \
    X("GET", "/models/*/versions/*", srv_api_models_get, 0, SRV_AUTH_READ, 0)                      \
    X("DELETE", "/models/*/versions/*", srv_api_models_delete, 0, SRV_AUTH_ADMIN, 0)               \
    X("PUT", "/models/*/serving", srv_api_models_serving, J, SRV_AUTH_ADMIN, 0)                    \
    X("GET", "/models/*/export", srv_api_models_export, 0, SRV_AUTH_READ, 0)                       \
    X("GET", "/models/*/versions/*/export", srv_api_models_export, 0, SRV_AUTH_READ, 0)            \
    X("POST", "/models/*/import", srv_api_models_import, J | O, SRV_AUTH_ADMIN, 1)                 \
    X("POST", "/models/*/predict", srv_api_predict_post, J | C, SRV_AUTH_READ, 0)                  \
    X("POST", "/models/*/feedback", srv_api_feedback_post, J | C, SRV_AUTH_ADMIN, 0)               \
    X("GET", "/models/*/feedback", srv_api_feedback_list, 0, SRV_AUTH_READ, 0)                     \
    X("DELETE", "/models/*/feedback", srv_api_feedback_delete, 0, SRV_AUTH_ADMIN, 0)               \
    X("POST", "/models/*/retrain", srv_api_feedback_retrain, J, SRV_AUTH_ADMIN, 0)                 \
    X("POST", "/predict", srv_api_predict_post, J | C, SRV_AUTH_READ, 0)                           \
    X("POST", "/spam-score", srv_api_spam_score, J | M, SRV_AUTH_READ, 0)                          \
    X("POST", "/spam-score/batch", srv_api_spam_batch, J, SRV_AUTH_READ, 0)                        \
    X("POST", "/spam-score/learn", srv_api_spam_learn, J | M, SRV_AUTH_ADMIN, 0)                   \
    X("GET", "/v2", srv_api_kserve_server, 0, SRV_AUTH_READ, 0)                                    \
    X("GET", "/v2/health/live", srv_api_kserve_live, 0, SRV_AUTH_PUBLIC, 0)                        \
    X("GET", "/v2/health/ready", srv_api_kserve_ready, 0, SRV_AUTH_PUBLIC, 0)                      \
    X("GET", "/v2/models/*", srv_api_kserve_model, 0, SRV_AUTH_READ, 0)                            \
    X("GET", "/v2/models/*/versions/*", srv_api_kserve_model, 0, SRV_AUTH_READ, 0)                 \
    X("GET", "/v2/models/*/ready", srv_api_kserve_model_ready, 0, SRV_AUTH_READ, 0)                \
    X("GET", "/v2/models/*/versions/*/ready", srv_api_kserve_model_ready, 0, SRV_AUTH_READ, 0)     \
    X("POST", "/v2/models/*/infer", srv_api_kserve_infer, J, SRV_AUTH_READ, 0)                     \
    X("POST", "/v2/models/*/versions/*/infer", srv_api_kserve_infer, J, SRV_AUTH_READ, 0)

#define ROUTE_ENTRY(m, p, h, b, a, big) {m, p, h, b, a, big, m " " p},
#define ROUTE_LABEL(m, p, h, b, a, big) m " " p,

static const struct srv_route routes[] = {ROUTES(ROUTE_ENTRY)};
static const char *const labels[] = {ROUTES(ROUTE_LABEL)};

#define N_ROUTES ((int)(sizeof(routes) / sizeof(routes[0])))

const struct srv_route *srv_router_get(int i)
{
    return &routes[i];
}

int srv_router_count(void)
{
    return N_ROUTES;
}

const char *const *srv_router_labels(void)
{
    return labels;
}

/* Matches path against pattern; captures `*` segments. 1 on a match. */
static int match(const char *pattern, const char *path, char args[][SRV_ARG_LEN], int *n_args)
{
    const char *p = pattern;
    const char *u = path;
    int n = 0;

    while (*p != '\0' && *u != '\0') {
        if (*p != '/' || *u != '/') {
            return 0;
        }
        p++;
        u++;
        const char *pe = strchr(p, '/');
        const char *ue = strchr(u, '/');
        size_t pl = pe != NULL ? (size_t)(pe - p) : strlen(p);
        size_t ul = ue != NULL ? (size_t)(ue - u) : strlen(u);
        if (pl == 1 && p[0] == '*') {
            if (ul == 0 || ul >= SRV_ARG_LEN || n >= SRV_ARGS_MAX) {
                return 0;
            }
            memcpy(args[n], u, ul);
            args[n][ul] = '\0';
            n++;
        } else if (pl != ul || memcmp(p, u, pl) != 0) {
            return 0;
        }
        p += pl;
        u += ul;
    }
    if (*p != '\0' || *u != '\0') {
        return 0;
    }
    *n_args = n;
    return 1;
}

/* Adds method to the comma-separated list allow (once). */
static void allow_add(char *allow, size_t cap, size_t *used, const char *method)
{
    if (strstr(allow, method) != NULL || cap <= *used) {
        return;
    }
    int w = snprintf(allow + *used, cap - *used, "%s%s", *used > 0 ? ", " : "", method);
    if (w > 0) {
        *used += (size_t)w < cap - *used ? (size_t)w : cap - *used - 1;
    }
}

/* 1 when a request's method may call a route of method rm: HEAD is GET without the body
 * (RFC 9110 9.3.2; libmicrohttpd sends the headers of the reply and leaves the body out). */
static int method_matches(const char *rm, const char *method)
{
    return strcmp(rm, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(rm, "GET") == 0);
}

int srv_router_find(const char *method, const char *path, char args[][SRV_ARG_LEN], int *n_args,
                    char *allow, size_t allow_cap)
{
    char tmp[SRV_ARGS_MAX][SRV_ARG_LEN];
    int n = 0;
    int path_found = 0;
    size_t used = 0;

    if (allow_cap > 0) {
        allow[0] = '\0';
    }
    for (int i = 0; i < N_ROUTES; i++) {
        /* the first byte of the first segment rules out most routes cheaply (no pattern
         * starts with a `*` segment) */
        if ((path[0] != '\0' && routes[i].pattern[1] != path[1]) ||
            !match(routes[i].pattern, path, tmp, &n)) {
            continue;
        }
        if (method_matches(routes[i].method, method)) {
            memcpy(args, tmp, sizeof(tmp));
            *n_args = n;
            return i;
        }
        path_found = 1;
        allow_add(allow, allow_cap, &used, routes[i].method);
        if (strcmp(routes[i].method, "GET") == 0) {
            allow_add(allow, allow_cap, &used, "HEAD");
        }
    }
    return path_found ? -405 : -404;
}
