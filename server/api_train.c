/*
 * api_train: accepting training jobs and running them.
 *
 * Accepting: the parameters (multipart fields, or the query string with a text/csv body)
 * are kept as sent (the job's "form", so a re-run after a restart is built identically) and
 * parsed by model_params_set, the same parser the CLI uses. The CSV is checked by
 * model_check_csv before a job exists. Then a queue slot is reserved (429 when full),
 * the dataset and job are written in one transaction, and the slot is committed.
 * Running: a worker claims the job (queued -> running), trains with a progress callback
 * that records each epoch in the store, and on success stores the version and the job's
 * success in one transaction (store_version_put); then the registry forgets the model so
 * the next prediction loads the new version.
 */
#include "api_train.h"

#include <gnutls/crypto.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_feedback.h"
#include "api_jobs.h"
#include "api_models.h"
#include "jobs.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "model/auto.h"
#include "model/model.h"
#include "nn/alloc.h"
#include "nn/utf8.h"
#include "registry.h"
#include "reserve.h"
#include "store.h"

/* ------------------------------------------------------------------------------------------ */
/* Parameters                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Applies every entry of form (an object of strings) but "model" to p. */
static int apply_form(struct model_params *p, const cJSON *form, char *bad, size_t bad_cap,
                      struct nn_err *err)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, form)
    {
        if (strcmp(it->string, "model") == 0 || strcmp(it->string, SRV_FORM_GATE) == 0) {
            continue; /* the server's own: the name, and the gate of a retraining */
        }
        int rc = model_params_set(p, it->string, cJSON_IsString(it) ? it->valuestring : "", err);
        if (rc != 0) {
            snprintf(bad, bad_cap, "%s", it->string);
            if (rc == NN_ENOTFOUND) {
                nn_err_set_at(err, NN_EINVAL, 0, 0, it->string, "unknown parameter '%s'",
                              it->string);
            }
            return NN_EINVAL;
        }
    }
    return 0;
}

static int add_arg(void *ud, const char *k, const char *v)
{
    cJSON *form = ud;

    if (cJSON_GetObjectItemCaseSensitive(form, k) != NULL) {
        return 0; /* the first value wins */
    }
    return cJSON_AddStringToObject(form, k, v != NULL ? v : "") == NULL ? NN_ENOMEM : 0;
}

static int reply_param(struct srv_req *r, const char *param, const char *msg)
{
    cJSON *d = cJSON_CreateObject();

    if (d != NULL) {
        cJSON_AddStringToObject(d, "parameter", param);
    }
    return srv_http_reply_error(r, 400, d, "%s", msg);
}

static void make_job_id(char out[STORE_ID_MAX])
{
    unsigned char rnd[16] = {0};

    gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd));
    for (int i = 0; i < 16; i++) {
        snprintf(out + 2 * i, 3, "%02x", rnd[i]);
    }
}

/*
 * The base of a warm start: base is "name" (its serving version) or "name@version". Loads it
 * through the registry and writes the version loaded into resolved ("name@version").
 * @return 0, NN_EINVAL (not a model name) or the registry's error (NN_ENOTFOUND).
 * Ownership: *out holds a registry reference; srv_registry_release.
 */
static int base_get(struct srv_app *app, const char *base, struct srv_model **out,
                    char resolved[STORE_NAME_MAX + 16], struct nn_err *err)
{
    char name[STORE_NAME_MAX];
    const char *at = strchr(base, '@');
    size_t n = at != NULL ? (size_t)(at - base) : strlen(base);
    long version = 0;

    *out = NULL;
    if (at != NULL) {
        char *end = NULL;

        version = strtol(at + 1, &end, 10);
        if (end == at + 1 || *end != '\0' || version < 1 || version > 1000000000L) {
            return nn_err_set(err, NN_EINVAL, "base: a version is a whole number from 1, not '%s'",
                              at + 1);
        }
    }
    if (n >= sizeof(name)) {
        return nn_err_set(err, NN_EINVAL, "base: not a model name");
    }
    memcpy(name, base, n);
    name[n] = '\0';
    if (!srv_api_model_name_ok(name)) {
        return nn_err_set(err, NN_EINVAL, "base: '%s' is not a model name", name);
    }
    int rc = srv_registry_get(app->reg, name, (int)version, out, err);
    if (rc == NN_ENOTFOUND) {
        return nn_err_set(err, NN_ENOTFOUND, "base: there is no model '%s'%s%.20s", name,
                          at != NULL ? " version " : "", at != NULL ? at + 1 : "");
    }
    if (rc == 0) {
        snprintf(resolved, STORE_NAME_MAX + 16, "%s@%d", name, (*out)->version);
    }
    return rc;
}

/*
 * A warm start's form: resolves "base" to the version it starts from (so that a re-run after
 * a restart starts from the same one), gives p the base's label when none was given, and
 * hands back the base. @return 0, or 1 when the request ends with *rc (400 sent).
 */
static int check_base(struct srv_req *r, cJSON *form, struct model_params *p,
                      struct srv_model **base, int *rc)
{
    char resolved[STORE_NAME_MAX + 16];
    struct nn_err err;

    nn_err_clear(&err);
    *base = NULL;
    if (p->base == NULL) {
        return 0;
    }
    if (base_get(r->app, p->base, base, resolved, &err) != 0) {
        *rc = reply_param(r, "base", err.msg);
        return 1;
    }
    if (model_params_set(p, "base", resolved, &err) != 0 ||
        !cJSON_ReplaceItemInObjectCaseSensitive(form, "base", cJSON_CreateString(resolved)) ||
        (p->label == NULL &&
         model_params_set(p, "label", model_label_name((*base)->model), &err) != 0)) {
        srv_registry_release(*base);
        *base = NULL;
        *rc = NN_ENOMEM;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* POST /train                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* The request's parameters as one object of strings: the multipart fields, or the query
 * string's (the first value wins). @return 0, NN_ENOMEM or the query parser's error. */
static int make_form(struct srv_req *r, cJSON **out)
{
    cJSON *form = cJSON_CreateObject();
    int rc = 0;

    *out = NULL;
    if (form == NULL) {
        return NN_ENOMEM;
    }
    if (r->body_kind == SRV_BODY_FORM) {
        for (int i = 0; i < r->n_fields; i++) {
            cJSON_AddStringToObject(form, r->fields[i].name, r->fields[i].value);
        }
    } else {
        rc = srv_http_query_each(r, add_arg, form);
    }
    if (rc != 0) {
        cJSON_Delete(form);
        return rc;
    }
    *out = form;
    return 0;
}

/*
 * Checks the form (UTF-8, the model's name, every parameter) into p, then the upload (a CSV
 * model_check_csv accepts, *rows by *cols, a network within the limits). @return 0 when the
 * job may be queued; 1 when the request ends with *rc (a 400 reply sent, or its error).
 */
static int check_train(struct srv_req *r, cJSON *form, struct model_params *p, size_t *rows,
                       size_t *cols, int *rc)
{
    struct srv_app *app = r->app;
    struct srv_model *base = NULL;
    struct model_limits lim;
    struct nn_err err;
    char bad[128] = "";
    const cJSON *it;
    int done = 1;

    nn_err_clear(&err);
    cJSON_ArrayForEach(it, form)
    {
        if (!nn_utf8_valid(it->string, strlen(it->string), NULL) ||
            !nn_utf8_valid(it->valuestring, strlen(it->valuestring), NULL)) {
            *rc = reply_param(r, it->string, "parameters must be UTF-8 text");
            return 1;
        }
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(form, "model");
    if (!cJSON_IsString(model) || model->valuestring[0] == '\0') {
        *rc = reply_param(r, "model", "the parameter 'model' (the model's name) is required");
        return 1;
    }
    if (!srv_api_model_name_ok(model->valuestring)) {
        *rc = reply_param(r, "model",
                          "a model name is 1 to 64 characters: letters, digits, '_', '.', '-', "
                          "starting with a letter or digit");
        return 1;
    }
    if (apply_form(p, form, bad, sizeof(bad), &err) != 0) {
        *rc = reply_param(r, err.field[0] != '\0' ? err.field : bad, err.msg);
        return 1;
    }
    if (r->spool_name[0] == '\0' || r->spool_bytes == 0) {
        *rc = reply_param(r, "file",
                          r->body_kind == SRV_BODY_FORM
                              ? "the CSV is missing or empty: send it in a part named 'file'"
                              : "the CSV body is empty");
        return 1;
    }
    if (check_base(r, form, p, &base, rc) != 0) {
        return 1;
    }
    srv_limits_csv(app->cfg, &lim);
    *rc = model_check_csv(r->spool_path, p, &lim, rows, cols, &err);
    if (*rc != 0) {
        if (*rc == NN_ENOTFOUND || (err.line == 0 && err.field[0] != '\0' &&
                                    cJSON_GetObjectItemCaseSensitive(form, err.field) != NULL)) {
            *rc = reply_param(r, err.field[0] != '\0' ? err.field : "label", err.msg);
        } else {
            *rc = srv_http_reply_nn(r, *rc == NN_ENOMEM ? NN_ERANGE : *rc, &err, 400, NULL);
        }
        goto out;
    }
    if (base != NULL) {
        /* the columns and classes must fit the base (the network is the base's) */
        *rc = model_warm_check(base->model, r->spool_path, p->delimiter, &lim, &err);
        if (*rc != 0) {
            *rc = srv_http_reply_nn(r, *rc == NN_ENOMEM ? NN_ERANGE : *rc, &err, 400, NULL);
            goto out;
        }
    } else if (srv_limits_network(app->cfg, p, *cols, NULL, &err) != 0) {
        *rc = reply_param(r, err.field, err.msg);
        goto out;
    }
    done = 0;
out:
    srv_registry_release(base);
    return done;
}

/* Writes a job and its dataset (the file at path) in the store; nothing stays on failure. */
static int store_job_with_dataset(struct srv_app *app, const struct store_job *job,
                                  const char *path, struct nn_err *err)
{
    /* a shared store keeps the upload too, so that any replica can train it */
    int rc = store_dataset_put(app->store, job->spool, path, err);

    if (rc == 0) {
        rc = store_job_create(app->store, job, err);
        if (rc != 0) {
            store_dataset_delete(app->store, job->spool, NULL);
        }
    }
    return rc;
}

int srv_api_train_submit(struct srv_app *app, struct store_job *job, const char *path,
                         struct nn_err *err)
{
    struct srv_jobs_slot *slot = NULL;
    int rc = srv_jobs_reserve(app->jobs, &slot, err);

    if (rc != 0) {
        return rc;
    }
    make_job_id(job->id);
    rc = store_job_with_dataset(app, job, path, err);
    if (rc != 0) {
        srv_jobs_unreserve(app->jobs, slot);
        return rc;
    }
    srv_jobs_commit(app->jobs, slot, job->id);
    srv_log("info", "job %s accepted: model %s, %lld rows, %lld columns", job->id, job->model,
            job->rows, job->columns);
    return 0;
}

int srv_api_train_texts(struct store_job *job, const struct model_params *p, const cJSON *form)
{
    cJSON *pj = model_params_to_json(p);

    job->params = pj != NULL ? cJSON_PrintUnformatted(pj) : NULL;
    job->form = cJSON_PrintUnformatted(form);
    cJSON_Delete(pj);
    if (job->params == NULL || job->form == NULL) {
        srv_api_train_texts_fini(job);
        return NN_ENOMEM;
    }
    return 0;
}

void srv_api_train_texts_fini(struct store_job *job)
{
    cJSON_free(job->params);
    cJSON_free(job->form);
    job->params = job->form = NULL;
}

/* Writes the upload and the job in the store (undone on failure) and commits the slot; replies
 * 202 with the job as accepted (rendered before a worker can take it). Takes slot. */
static int queue_job(struct srv_req *r, struct srv_jobs_slot *slot, struct store_job *job)
{
    struct srv_app *app = r->app;
    struct store_job *stored = NULL;
    struct nn_err err;
    cJSON *doc = NULL;
    char loc[STORE_ID_MAX + 8];
    int rc, grc;

    nn_err_clear(&err);
    rc = store_job_with_dataset(app, job, r->spool_path, &err);
    if (rc != 0) {
        srv_jobs_unreserve(app->jobs, slot);
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    r->spool_keep = 1; /* the job owns the file now */
    grc = store_job_get(app->store, job->id, &stored, &err);
    if (grc == 0) {
        doc = srv_api_job_json(app->store, stored, 1);
        store_job_free(stored);
    }
    srv_jobs_commit(app->jobs, slot, job->id);
    srv_log("info", "job %s accepted: model %s, %lld rows, %lld columns", job->id, job->model,
            job->rows, job->columns);
    if (grc != 0) {
        return srv_http_reply_nn(r, grc, &err, 400, NULL);
    }
    if (doc == NULL) {
        return NN_ENOMEM;
    }
    snprintf(loc, sizeof(loc), "/jobs/%s", job->id);
    srv_http_add_header(r, "Location", loc);
    return srv_http_reply_json(r, 202, doc);
}

int srv_api_train_post(struct srv_req *r)
{
    struct srv_app *app = r->app;
    struct model_params p;
    struct nn_err err;
    struct srv_jobs_slot *slot = NULL;
    struct store_job job;
    cJSON *form = NULL;
    size_t rows = 0, cols = 0;
    int rc = 0;

    nn_err_clear(&err);
    model_params_default(&p);
    memset(&job, 0, sizeof(job));
    if (r->body_kind != SRV_BODY_FORM && r->body_kind != SRV_BODY_CSV) {
        rc = reply_param(r, "file",
                         "send the CSV as multipart/form-data (a part named 'file') or as a "
                         "text/csv body");
        goto out;
    }
    rc = make_form(r, &form);
    if (rc != 0 || check_train(r, form, &p, &rows, &cols, &rc) != 0) {
        goto out;
    }
    rc = srv_api_train_texts(&job, &p, form);
    if (rc != 0) {
        goto out;
    }
    rc = srv_jobs_reserve(app->jobs, &slot, &err);
    if (rc != 0) {
        if (rc == NN_ERANGE) {
            cJSON *d = cJSON_CreateObject();
            if (d != NULL) {
                cJSON_AddNumberToObject(d, "queue_size", app->cfg->queue_size);
            }
            rc = srv_http_reply_error(r, atomic_load(&app->stopping) ? 503 : 429, d, "%s", err.msg);
        }
        goto out;
    }
    make_job_id(job.id);
    snprintf(job.model, sizeof(job.model), "%s",
             cJSON_GetObjectItemCaseSensitive(form, "model")->valuestring);
    job.epochs = p.train.epochs;
    snprintf(job.spool, sizeof(job.spool), "%s", r->spool_name);
    job.rows = (long long)rows;
    job.columns = (long long)cols;
    job.bytes = (long long)r->spool_bytes;
    snprintf(job.sha256, sizeof(job.sha256), "%s", r->sha256);
    rc = queue_job(r, slot, &job);
out:
    cJSON_Delete(form);
    srv_api_train_texts_fini(&job);
    model_params_fini(&p);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The job runner                                                                              */
/* ------------------------------------------------------------------------------------------ */

#define HISTORY_PENDING_MAX 100000 /* epochs kept while the store cannot take them */

struct run_ctx {
    struct srv_app *app;
    const char *id;
    atomic_int *cancel;
    unsigned long train_rows;
    int last_epoch;
    struct store_epoch *pending; /* finished epochs not stored yet, oldest first */
    size_t n_pending, cap_pending;
};

/* Stores the pending epochs in order, dropping each once stored; stops at the first that
 * fails (the store is down: they are tried again after the next epoch, and before the
 * model is stored), so the history has no gap after an outage. Returns that failure. */
static int history_flush(struct run_ctx *c)
{
    size_t done = 0;
    int rc = 0;

    while (done < c->n_pending && rc == 0) {
        rc = store_job_progress(c->app->store, c->id, &c->pending[done], NULL);
        if (rc == 0) {
            done++;
        }
    }
    memmove(c->pending, c->pending + done, (c->n_pending - done) * sizeof(*c->pending));
    c->n_pending -= done;
    return rc;
}

static int on_epoch(const struct nn_epoch_stats *st, void *ud)
{
    struct run_ctx *c = ud;
    struct store_epoch e = {st->epoch,      st->train_loss, st->val_loss,
                            st->val_metric, st->seconds,    st->regression};

    c->last_epoch = st->epoch;
    srv_metrics_training(c->app->metrics, c->train_rows, st->seconds);
    if (c->n_pending == c->cap_pending && c->cap_pending < HISTORY_PENDING_MAX) {
        size_t cap = c->cap_pending == 0 ? 16 : c->cap_pending * 2;
        cap = cap > HISTORY_PENDING_MAX ? HISTORY_PENDING_MAX : cap;
        struct store_epoch *p = nn_reallocarray(c->pending, cap, sizeof(*p));
        if (p != NULL) {
            c->pending = p;
            c->cap_pending = cap;
        }
    }
    if (c->n_pending < c->cap_pending) {
        c->pending[c->n_pending++] = e;
    } else if (c->n_pending > 0) { /* full (or out of memory): the newest replaces the last */
        c->pending[c->n_pending - 1] = e;
    }
    if (history_flush(c) == NN_ECANCELED) {
        return 1; /* cancelled in the store (by another request) */
    }
    return atomic_load(c->cancel) != 0;
}

/* auto: the candidate-folds run on the daemon's pool (srv_jobs_run_units). */
static void exec_on_pool(void *ud, size_t n, model_auto_unit_fn fn, void *ctx)
{
    const struct run_ctx *c = ud;

    srv_jobs_run_units(c->app->jobs, n, fn, ctx);
}

/* auto: keeps the leaderboard for GET /jobs/<id> and its event stream; stops on cancel. */
static int on_candidate(const cJSON *row, const cJSON *board, void *ud)
{
    struct run_ctx *c = ud;
    char *text = cJSON_PrintUnformatted(board);

    (void)row;
    if (text != NULL) {
        srv_jobs_board_set(c->app->jobs, c->id, text);
        cJSON_free(text);
    }
    return atomic_load(c->cancel) != 0;
}

static const char *error_code(int rc)
{
    switch (rc) {
    case NN_EDIVERGED:
        return "diverged";
    case NN_EINVAL:
    case NN_ERANGE:
        return "invalid_input";
    case NN_EFORMAT:
        return "bad_request";
    case NN_ENOMEM:
        return "out_of_memory";
    case NN_EIO:
        return "io_error";
    case NN_ENOSPC:
        return "insufficient_storage";
    case NN_ENOTFOUND:
        return "not_found";
    default:
        return "internal";
    }
}

/* Stores the trained model as a new version and marks the job succeeded (one transaction).
 * gate: the champion/challenger verdict of a retraining (NULL: none): in the card and the
 * job's metrics, and a version it did not promote is held (stored, served only if pinned). */
static int commit_model(struct run_ctx *c, const char *model_name, struct model *m,
                        const cJSON *gate, int *version, struct nn_err *err)
{
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    char *card = NULL, *metrics = NULL, *params = NULL;
    cJSON *cj = NULL, *mj = NULL, *pj = NULL;
    int rc = model_save(m, &blob, &blob_len, err);

    if (rc != 0) {
        return rc;
    }
    cj = model_card(m);
    mj = model_metrics(m);
    pj = model_params_json(m);
    int held = gate != NULL && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(gate, "promoted"));
    if (gate != NULL && cj != NULL && mj != NULL) {
        cJSON_AddItemToObject(cj, "gate", cJSON_Duplicate(gate, 1));
        cJSON_AddBoolToObject(cj, "promoted", !held);
        cJSON_AddItemToObject(mj, "gate", cJSON_Duplicate(gate, 1));
    }
    card = cj != NULL ? cJSON_PrintUnformatted(cj) : NULL;
    metrics = mj != NULL ? cJSON_PrintUnformatted(mj) : NULL;
    params = pj != NULL ? cJSON_PrintUnformatted(pj) : NULL;
    if (card == NULL || metrics == NULL || params == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory describing the model");
        goto out;
    }
    struct store_version_new v = {model_name, blob,   blob_len,      card, metrics,
                                  c->id,      params, c->last_epoch, held};
    rc = store_version_put(c->app->store, &v, version, err);
out:
    nn_free(blob);
    cJSON_Delete(cj);
    cJSON_Delete(mj);
    cJSON_Delete(pj);
    cJSON_free(card);
    cJSON_free(metrics);
    cJSON_free(params);
    return rc;
}

#define FAIL_RETRY_FIRST_MS 100
#define FAIL_RETRY_MAX_MS   2000

/* Sleeps ms milliseconds in short slices; returns 1 at once when the daemon stops. */
static int nap_unless_stopping(struct srv_app *app, atomic_int *cancel, int ms)
{
    for (int slept = 0; slept < ms; slept += 50) {
        if (atomic_load(&app->stopping) || atomic_load(cancel) == SRV_JOBS_CANCEL_STOP) {
            return 1;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return atomic_load(&app->stopping) || atomic_load(cancel) == SRV_JOBS_CANCEL_STOP;
}

/*
 * Whether a worker should call the store again after rc: the shared store cannot be reached
 * (PostgreSQL stopped or restarting). Then it sleeps *delay ms (0.1 s doubling to 2 s) and
 * returns 1; 0 at once for any other rc, or when the daemon stops or the job is cancelled
 * meanwhile. A job accepted before an outage is thus claimed, fetched and stored when the
 * database is back, without waiting for another replica to adopt it.
 */
static int store_down_retry(struct srv_app *app, atomic_int *cancel, int rc, int *delay)
{
    if (rc != NN_EIO || store_available(app->store) || nap_unless_stopping(app, cancel, *delay)) {
        return 0;
    }
    *delay = *delay * 2 > FAIL_RETRY_MAX_MS ? FAIL_RETRY_MAX_MS : *delay * 2;
    return 1;
}

/*
 * Stores a job's failure. When the store cannot take it (a full disk, an I/O error) it
 * retries with backoff (0.1 s doubling to 2 s) until it is stored, the job is no longer
 * running (cancelled meanwhile), or the daemon stops: then the job is still 'running' in
 * the store and the next start queues it again (store_jobs_recover), so it never stays
 * 'running' with no worker. Returns 0 when the job's end is stored, 1 when it is left for
 * the next start (its dataset must then be kept).
 */
static int store_failure(struct srv_app *app, const char *id, atomic_int *cancel, int code,
                         const char *msg)
{
    struct nn_err serr;
    int delay = FAIL_RETRY_FIRST_MS;
    int tries = 0;

    for (;;) {
        nn_err_clear(&serr);
        int rc = store_job_fail(app->store, id, error_code(code), msg, &serr);
        if (rc == 0 || rc == NN_ECANCELED || rc == NN_ENOTFOUND) {
            if (tries > 0) {
                srv_log("info", "job %s: its failure is stored after %d retries", id, tries);
            }
            return 0;
        }
        if (tries == 0) {
            srv_log("warn", "job %s: cannot store its failure (%s): retrying", id, serr.msg);
        }
        if (nap_unless_stopping(app, cancel, delay)) {
            srv_log("warn",
                    "job %s: stopping before its failure is stored: it runs again at the "
                    "next start",
                    id);
            return 1;
        }
        tries++;
        delay = delay * 2 > FAIL_RETRY_MAX_MS ? FAIL_RETRY_MAX_MS : delay * 2;
    }
}

void srv_api_train_run(void *ud, const char *id, atomic_int *cancel)
{
    struct srv_app *app = ud;
    struct store_job *job = NULL;
    struct model *m = NULL;
    struct model_params p;
    struct model_limits lim;
    struct nn_err err;
    char path[SRV_CONFIG_STR_MAX + 80];
    char bad[128];
    int keep_file = 0;
    int rc;

    nn_err_clear(&err);
    model_params_default(&p);
    srv_limits_csv(app->cfg, &lim);
    int delay = FAIL_RETRY_FIRST_MS;
    do {
        rc = store_job_claim(app->store, id, &job, &err);
    } while (store_down_retry(app, cancel, rc, &delay));
    if (rc != 0) {
        /* cancelled while queued (or gone): drop its upload */
        if (store_job_get(app->store, id, &job, NULL) == 0 && job->status != STORE_JOB_QUEUED &&
            job->status != STORE_JOB_RUNNING) {
            snprintf(path, sizeof(path), "%s/%s", app->spool_dir, job->spool);
            unlink(path);
        }
        store_job_free(job);
        model_params_fini(&p);
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", app->spool_dir, job->spool);
    srv_log("info", "job %s started: model %s", id, job->model);
    cJSON *form = cJSON_Parse(job->form);
    rc = form != NULL ? apply_form(&p, form, bad, sizeof(bad), &err)
                      : nn_err_set(&err, NN_EFORMAT, "the job's parameters are unreadable");
    int gated = form != NULL && cJSON_GetObjectItemCaseSensitive(form, SRV_FORM_GATE) != NULL;
    int base_version = 0;
    cJSON *verdict = NULL;
    cJSON_Delete(form);
    if (rc == 0 && access(path, R_OK) != 0) { /* accepted by another replica */
        delay = FAIL_RETRY_FIRST_MS;
        do {
            rc = store_dataset_get(app->store, job->spool, path, &err);
        } while (store_down_retry(app, cancel, rc, &delay));
        if (rc == NN_EIO && !store_available(app->store)) {
            rc = NN_ECANCELED; /* stopping while the store is down: it runs again later */
        } else if (rc != 0) {
            rc = nn_err_set(&err, NN_ENOTFOUND, "the job's dataset is missing: %s", err.msg);
        }
    }
    if (rc == 0) {
        struct run_ctx ctx = {app, id, cancel, 0, 0, NULL, 0, 0};
        double frac = p.validation_split > 0 && p.validation_split < 1 ? p.validation_split : 0;
        ctx.train_rows = (unsigned long)llround((double)job->rows * (1.0 - frac));
        if (p.base != NULL) {
            struct srv_model *base = NULL;
            char resolved[STORE_NAME_MAX + 16];

            rc = base_get(app, p.base, &base, resolved, &err);
            if (rc == 0) {
                rc =
                    model_train_warm(path, base->model, &p, &lim, on_epoch, &ctx, cancel, &m, &err);
            }
            if (rc == 0 && gated) {
                rc = srv_feedback_gate(app, base, m, &lim, &verdict, &err);
                base_version = base->version;
            }
            srv_registry_release(base);
        } else if (p.auto_search) {
            /* this worker and the idle ones run the candidate-folds */
            struct model_auto_hooks h = {exec_on_pool,
                                         &ctx,
                                         on_candidate,
                                         &ctx,
                                         on_epoch,
                                         &ctx,
                                         1 + srv_jobs_idle(app->jobs)};
            rc = model_auto_train_csv(path, &p, &lim, &h, cancel, &m, NULL, &err);
        } else {
            rc = model_train_csv(path, &p, &lim, on_epoch, &ctx, cancel, &m, &err);
        }
        if (rc == 0) {
            int version = 0;
            /* the shared store is down: keep the trained model until it is back */
            delay = FAIL_RETRY_FIRST_MS;
            do {
                rc = history_flush(&ctx);
                if (rc == NN_EIO && !store_available(app->store)) {
                    nn_err_set(&err, rc, "the store is unavailable");
                } else if (rc != NN_ECANCELED) { /* a history the store refuses: the model */
                    rc = commit_model(&ctx, job->model, m, verdict, &version, &err);
                }
            } while (store_down_retry(app, cancel, rc, &delay));
            if (rc == 0) {
                srv_registry_invalidate(app->reg, job->model);
                srv_reserve_fill(app->cfg->db); /* made again once there is room */
                int promoted = verdict == NULL ||
                               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(verdict, "promoted"));
                srv_log("info", "job %s succeeded: model %s version %d%s", id, job->model, version,
                        promoted ? "" : " (held: it lost the champion/challenger gate)");
                if (verdict != NULL) {
                    srv_metrics_retrain(app->metrics, promoted);
                }
                if (gated) {
                    /* a retraining keeps its base's rows: the original training rows stay the
                       replay, its validation rows the gate's (feedback is read afresh) */
                    srv_feedback_carry_rows(app, job->model, base_version, version);
                } else {
                    srv_feedback_keep_rows(app, job->model, version, m, path, &p, &lim);
                }
            }
        }
        nn_free(ctx.pending);
    }
    if (rc == NN_ECANCELED && atomic_load(cancel) == SRV_JOBS_CANCEL_STOP) {
        /* queued again, or (the store failing) left 'running': either way the next start
         * runs it again, so its dataset stays */
        keep_file = 1;
        if (store_job_requeue(app->store, id, NULL) == 0) {
            srv_log("info", "job %s stopped by shutdown: queued again for the next start", id);
        }
    } else if (rc == NN_ECANCELED) {
        srv_log("info", "job %s cancelled", id);
    } else if (rc != 0) {
        srv_log("warn", "job %s failed: %s", id, err.msg);
        keep_file =
            store_failure(app, id, cancel, rc, err.msg[0] != '\0' ? err.msg : nn_strerror(rc));
    }
    if (!keep_file) {
        unlink(path);
    }
    cJSON_Delete(verdict);
    model_free(m);
    store_job_free(job);
    model_params_fini(&p);
}
