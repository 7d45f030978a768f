/*
 * api_ops: health, readiness and metrics. Readiness is the app's ready flag, set by main
 * once the store is migrated and the job pool runs, cleared when a stop begins.
 */
#include "api_ops.h"

#include "jobs.h"
#include "metrics.h"
#include "nn/alloc.h"
#include "registry.h"
#include "store.h"

/* Replies 200 {"status": status}. With with_store and a shared store, "store" says whether
 * its last call reached the database (healthz: alive whatever the store does, since
 * predictions are served from memory). */
static int reply_status(struct srv_req *r, const char *status, int with_store)
{
    cJSON *doc = cJSON_CreateObject();
    struct store *s = with_store ? r->app->store : NULL;

    if (doc == NULL || cJSON_AddStringToObject(doc, "status", status) == NULL ||
        (s != NULL && store_shared(s) &&
         cJSON_AddStringToObject(doc, "store", store_available(s) ? "up" : "down") == NULL)) {
        cJSON_Delete(doc);
        return NN_ENOMEM;
    }
    return srv_http_reply_json(r, 200, doc);
}

int srv_api_ops_healthz(struct srv_req *r)
{
    return reply_status(r, "ok", 1);
}

int srv_api_ops_readyz(struct srv_req *r)
{
    if (!atomic_load(&r->app->ready) || atomic_load(&r->app->stopping)) {
        return srv_http_reply_error(r, 503, NULL,
                                    "not ready: the store is not open yet, or "
                                    "the daemon is stopping");
    }
    return reply_status(r, "ready", 0);
}

int srv_api_ops_metrics(struct srv_req *r)
{
    struct srv_app *app = r->app;
    struct srv_metrics_gauges g = {{0}, 0, 0, 0, 0};
    struct nn_err err;
    char *text = NULL;
    size_t len = 0;
    long long count = 0;

    /* the modules exist once ready is set (main writes them before it, and clears ready
       only after HTTP has stopped): read the flag first */
    if (atomic_load(&app->ready)) {
        store_jobs_count(app->store, g.jobs, NULL);
        g.queue_depth = srv_jobs_depth(app->jobs);
        g.workers_busy = srv_jobs_busy(app->jobs);
        g.models_loaded = srv_registry_count(app->reg);
        store_feedback_count(app->store, NULL, &count, NULL);
        g.feedback_rows = (long)count;
    }
    int rc = srv_metrics_render(app->metrics, &g, &text, &len, &err);
    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 500, NULL);
    }
    return srv_http_reply_buffer(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
