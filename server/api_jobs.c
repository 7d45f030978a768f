/*
 * api_jobs: job listing, reading, cancelling and the event stream; the job object renderer.
 *
 * The job object is built from the store only (never from worker memory), so what a client
 * sees is what a restart would see. A history row's validation metric is val_accuracy, or
 * val_rmse for regression (nn's epoch stats say which).
 * The event stream is a MHD callback response that polls the store every 100 ms (a live
 * stream occupies its HTTP thread while it waits; docs/api.md).
 */
#include "api_jobs.h"

#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs.h"
#include "log.h"
#include "nn/alloc.h"
#include "store.h"

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX     1000

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

cJSON *srv_api_job_epoch_json(int epoch, double train_loss, double val_loss, double val_metric,
                              double seconds, const char *metric)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL) {
        return NULL;
    }
    cJSON_AddNumberToObject(o, "epoch", epoch);
    cJSON_AddItemToObject(o, "train_loss", num_or_null(train_loss));
    cJSON_AddItemToObject(o, "val_loss", num_or_null(val_loss));
    cJSON_AddItemToObject(o, metric, num_or_null(val_metric));
    cJSON_AddNumberToObject(o, "seconds", seconds);
    return o;
}

/* The name of a history row's validation metric. */
static const char *metric_name(const struct store_epoch *e)
{
    return e->regression ? "val_rmse" : "val_accuracy";
}

static void add_time(cJSON *o, const char *key, const char *t)
{
    if (t[0] != '\0') {
        cJSON_AddStringToObject(o, key, t);
    } else {
        cJSON_AddNullToObject(o, key);
    }
}

cJSON *srv_api_job_json(struct store *s, const struct store_job *j, int with_history)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *params = NULL;

    if (o == NULL) {
        return NULL;
    }
    cJSON_AddStringToObject(o, "id", j->id);
    cJSON_AddStringToObject(o, "model", j->model);
    cJSON_AddStringToObject(o, "status", store_job_status_name(j->status));
    cJSON_AddNumberToObject(o, "progress", j->progress);
    cJSON_AddNumberToObject(o, "epoch", j->epoch);
    cJSON_AddNumberToObject(o, "epochs", j->epochs);
    params = cJSON_Parse(j->params);
    if (params == NULL) {
        params = cJSON_CreateObject();
    }
    cJSON_AddItemToObject(o, "params", params);
    cJSON *ds = cJSON_AddObjectToObject(o, "dataset");
    if (ds != NULL) {
        cJSON_AddNumberToObject(ds, "rows", (double)j->rows);
        cJSON_AddNumberToObject(ds, "columns", (double)j->columns);
        cJSON_AddStringToObject(ds, "sha256", j->sha256);
    }
    if (with_history) {
        struct store_epoch *h = NULL;
        size_t n = 0;
        if (store_job_history(s, j->id, &h, &n, NULL) != 0) {
            cJSON_Delete(o);
            return NULL;
        }
        cJSON *arr = cJSON_AddArrayToObject(o, "history");
        for (size_t i = 0; arr != NULL && i < n; i++) {
            cJSON_AddItemToArray(arr, srv_api_job_epoch_json(h[i].epoch, h[i].train_loss,
                                                             h[i].val_loss, h[i].val_metric,
                                                             h[i].seconds, metric_name(&h[i])));
        }
        nn_free(h);
    }
    if (j->metrics != NULL) {
        cJSON *m = cJSON_Parse(j->metrics);
        cJSON_AddItemToObject(o, "metrics", m != NULL ? m : cJSON_CreateObject());
    } else {
        cJSON_AddNullToObject(o, "metrics");
    }
    if (j->status == STORE_JOB_SUCCEEDED && j->model_version > 0) {
        cJSON_AddNumberToObject(o, "model_version", j->model_version);
    } else {
        cJSON_AddNullToObject(o, "model_version");
    }
    if (j->error_code != NULL) {
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        if (e != NULL) {
            cJSON_AddStringToObject(e, "code", j->error_code);
            cJSON_AddStringToObject(e, "message", j->error_message != NULL ? j->error_message : "");
        }
    } else {
        cJSON_AddNullToObject(o, "error");
    }
    add_time(o, "created_at", j->created_at);
    add_time(o, "started_at", j->started_at);
    add_time(o, "finished_at", j->finished_at);
    return o;
}

int srv_api_jobs_list(struct srv_req *r)
{
    struct nn_err err;
    struct store_job **jobs = NULL;
    size_t n = 0;
    int status = -1;
    long limit = LIST_LIMIT_DEFAULT;

    const char *st = srv_http_query(r, "status");
    if (st != NULL) {
        status = store_job_status_parse(st);
        if (status < 0) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "parameter", "status");
            return srv_http_reply_error(r, 400, d,
                                        "status must be queued, running, succeeded, failed or "
                                        "cancelled");
        }
    }
    const char *lim = srv_http_query(r, "limit");
    if (lim != NULL) {
        char *end = NULL;
        limit = strtol(lim, &end, 10);
        if (end == lim || *end != '\0' || limit < 1 || limit > LIST_LIMIT_MAX) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "parameter", "limit");
            return srv_http_reply_error(r, 400, d, "limit must be an integer from 1 to %d",
                                        LIST_LIMIT_MAX);
        }
    }
    int rc = store_job_list(r->app->store, status, srv_http_query(r, "model"), (int)limit, &jobs,
                            &n, &err);
    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "jobs");
    for (size_t i = 0; arr != NULL && i < n; i++) {
        cJSON_AddItemToArray(arr, srv_api_job_json(r->app->store, jobs[i], 0));
    }
    store_job_list_free(jobs, n);
    if (arr == NULL) {
        cJSON_Delete(doc);
        return NN_ENOMEM;
    }
    return srv_http_reply_json(r, 200, doc);
}

/* Replies with the job object of job id (status 200), or the error. */
/*
 * An auto job's "leaderboard": the running job's from the pool, a finished one's from its
 * model version's card ("auto"), else [] (queued, or stopped before a candidate finished).
 * Jobs without auto get no key.
 */
static void add_leaderboard(struct srv_app *app, cJSON *o, const struct store_job *j)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "params");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(params, "auto");
    struct store_version *v = NULL;
    cJSON *board = NULL;
    char *text;

    /* a boolean; "true" in the params of jobs accepted before it was one */
    if (!cJSON_IsTrue(a) && !(cJSON_IsString(a) && strcmp(a->valuestring, "true") == 0)) {
        return;
    }
    text = app->jobs != NULL ? srv_jobs_board_dup(app->jobs, j->id) : NULL;
    if (text != NULL) {
        board = cJSON_Parse(text);
        nn_free(text);
    } else if (j->model_version > 0 &&
               store_version_get(app->store, j->model, j->model_version, 0, &v, NULL) == 0) {
        cJSON *card = cJSON_Parse(v->card);

        board = cJSON_DetachItemFromObjectCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(card, "auto"), "leaderboard");
        cJSON_Delete(card);
        store_version_free(v);
    }
    cJSON_AddItemToObject(o, "leaderboard", board != NULL ? board : cJSON_CreateArray());
}

static int reply_job(struct srv_req *r, const char *id, unsigned status)
{
    struct nn_err err;
    struct store_job *j = NULL;
    int rc = store_job_get(r->app->store, id, &j, &err);

    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    cJSON *doc = srv_api_job_json(r->app->store, j, 1);
    if (doc != NULL) {
        add_leaderboard(r->app, doc, j);
    }
    store_job_free(j);
    if (doc == NULL) {
        return NN_ENOMEM;
    }
    return srv_http_reply_json(r, status, doc);
}

int srv_api_jobs_get(struct srv_req *r)
{
    return reply_job(r, r->args[0], 200);
}

int srv_api_jobs_cancel(struct srv_req *r)
{
    struct nn_err err;
    const char *id = r->args[0];
    int rc = store_job_cancel(r->app->store, id, &err);

    if (rc == NN_ERANGE) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "id", id);
        return srv_http_reply_error(r, 409, d, "%s", err.msg);
    }
    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    srv_jobs_cancel(r->app->jobs, id);
    srv_log("info", "job %s cancelled", id);
    return reply_job(r, id, 200);
}

/* ------------------------------------------------------------------------------------------ */
/* Event stream                                                                                */
/* ------------------------------------------------------------------------------------------ */

struct sse {
    struct srv_app *app;
    char id[STORE_ID_MAX];
    int sent_epochs; /* history rows already sent */
    int sent_cands;  /* auto: the highest candidate number sent */
    int done;
    char *pending; /* formatted events not yet handed to MHD */
    size_t len, off;
};

static void sse_free(void *cls)
{
    struct sse *s = cls;

    nn_free(s->pending);
    nn_free(s);
}

/* Appends "event: <name>\ndata: <json>\n\n" to the pending buffer; takes doc. */
static int sse_add(struct sse *s, const char *name, cJSON *doc)
{
    char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;

    cJSON_Delete(doc);
    if (text == NULL) {
        return NN_ENOMEM;
    }
    size_t need = strlen(text) + strlen(name) + 32;
    char *np = nn_realloc(s->pending, s->len + need);
    if (np == NULL) {
        cJSON_free(text);
        return NN_ENOMEM;
    }
    s->pending = np;
    s->len += (size_t)snprintf(s->pending + s->len, need, "event: %s\ndata: %s\n\n", name, text);
    cJSON_free(text);
    return 0;
}

/* auto: queues an `event: candidate` per leaderboard row not sent yet, in the order tried. */
static void sse_candidates(struct sse *s, const struct store_job *j)
{
    cJSON *o = srv_api_job_json(s->app->store, j, 0);
    const cJSON *board, *row;
    int next;

    if (o == NULL) {
        return;
    }
    add_leaderboard(s->app, o, j);
    board = cJSON_GetObjectItemCaseSensitive(o, "leaderboard");
    do {
        next = 0;
        cJSON_ArrayForEach(row, board)
        {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(row, "candidate");
            int n = cJSON_IsNumber(c) ? (int)c->valuedouble : 0;

            if (n > s->sent_cands && (next == 0 || n < next)) {
                next = n;
            }
        }
        cJSON_ArrayForEach(row, board)
        {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(row, "candidate");

            if (next > 0 && cJSON_IsNumber(c) && (int)c->valuedouble == next) {
                sse_add(s, "candidate", cJSON_Duplicate(row, 1));
                s->sent_cands = next;
            }
        }
    } while (next > 0);
    cJSON_Delete(o);
}

/* Reads the store and queues the events not sent yet. */
static int sse_poll(struct sse *s)
{
    struct store_job *j = NULL;
    struct store_epoch *h = NULL;
    size_t n = 0;

    if (store_job_get(s->app->store, s->id, &j, NULL) != 0) {
        return NN_EIO;
    }
    int finished = j->status >= STORE_JOB_SUCCEEDED;
    if (store_job_history(s->app->store, s->id, &h, &n, NULL) != 0) {
        store_job_free(j);
        return NN_EIO;
    }
    if ((size_t)s->sent_epochs > n) {
        s->sent_epochs = 0; /* the job was re-queued and started over */
    }
    for (size_t i = (size_t)s->sent_epochs; i < n; i++) {
        sse_add(s, "progress",
                srv_api_job_epoch_json(h[i].epoch, h[i].train_loss, h[i].val_loss, h[i].val_metric,
                                       h[i].seconds, metric_name(&h[i])));
    }
    s->sent_epochs = (int)n;
    nn_free(h);
    sse_candidates(s, j);
    if (finished) {
        cJSON *doc = srv_api_job_json(s->app->store, j, 1);
        if (doc != NULL) {
            add_leaderboard(s->app, doc, j);
        }
        sse_add(s, "done", doc);
        s->done = 1;
    }
    store_job_free(j);
    return 0;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sse *s = cls;
    struct timespec tick = {0, 100 * 1000000L};

    (void)pos;
    for (int waited = 0; s->off == s->len; waited++) {
        s->off = s->len = 0;
        if (s->done || atomic_load(&s->app->stopping)) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (waited > 0) {
            nanosleep(&tick, NULL);
        }
        if (sse_poll(s) != 0) {
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (s->off == s->len && waited >= 10) {
            /* a comment line keeps proxies and clients from timing out */
            const char ping[] = ": ping\n\n";
            memcpy(buf, ping, sizeof(ping) - 1 < max ? sizeof(ping) - 1 : max);
            return (ssize_t)(sizeof(ping) - 1 < max ? sizeof(ping) - 1 : max);
        }
    }
    size_t n = s->len - s->off;
    if (n > max) {
        n = max;
    }
    memcpy(buf, s->pending + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

int srv_api_jobs_events(struct srv_req *r)
{
    struct nn_err err;
    struct store_job *j = NULL;
    int rc = store_job_get(r->app->store, r->args[0], &j, &err);

    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    store_job_free(j);
    struct sse *s = nn_calloc(1, sizeof(*s));
    if (s == NULL) {
        return NN_ENOMEM;
    }
    s->app = r->app;
    snprintf(s->id, sizeof(s->id), "%.39s", r->args[0]);
    rc = sse_poll(s);
    if (rc != 0) {
        sse_free(s);
        return rc;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, s, sse_free);
    if (resp == NULL) {
        sse_free(s);
        return NN_ENOMEM;
    }
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    if (MHD_queue_response(r->conn, 200, resp) != MHD_YES) {
        MHD_destroy_response(resp);
        return NN_EIO;
    }
    MHD_destroy_response(resp);
    r->responded = 1;
    r->status = 200;
    return 0;
}
