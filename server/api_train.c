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

#include "api_jobs.h"
#include "api_models.h"
#include "jobs.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "model/model.h"
#include "nn/alloc.h"
#include "nn/utf8.h"
#include "registry.h"
#include "reserve.h"
#include "store.h"

/* ------------------------------------------------------------------------------------------ */
/* Parameters                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static const char *optimizer_name(enum nn_optim o)
{
    switch (o) {
    case NN_OPTIM_SGD:
        return "sgd";
    case NN_OPTIM_MOMENTUM:
        return "momentum";
    default:
        return "adam";
    }
}

/* A comma-separated list as a JSON array of strings, or null. */
static cJSON *list_json(const char *list)
{
    if (list == NULL) {
        return cJSON_CreateNull();
    }
    cJSON *arr = cJSON_CreateArray();
    const char *p = list;
    while (arr != NULL && *p != '\0') {
        const char *e = strchr(p, ',');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        char *item = nn_strndup(p, n);
        if (item != NULL) {
            if (item[0] != '\0') {
                cJSON_AddItemToArray(arr, cJSON_CreateString(item));
            }
            nn_free(item);
        }
        p += n;
        if (*p == ',') {
            p++;
        }
    }
    return arr;
}

/* The job's "params" before training: as given, defaults filled in (API.md's names). */
static cJSON *params_json(const struct model_params *p)
{
    cJSON *o = cJSON_CreateObject();
    char delim[2] = {p->delimiter, '\0'};

    if (o == NULL) {
        return NULL;
    }
    if (p->label != NULL) {
        cJSON_AddStringToObject(o, "label", p->label);
    } else {
        cJSON_AddNullToObject(o, "label");
    }
    if (p->task == NN_TASK_REGRESSION) {
        cJSON_AddStringToObject(o, "task", "regression");
    } else if (p->task_classification || p->task == NN_TASK_BINARY ||
               p->task == NN_TASK_MULTICLASS) {
        cJSON_AddStringToObject(o, "task", "classification");
    } else {
        cJSON_AddNullToObject(o, "task");
    }
    cJSON *hidden = cJSON_AddArrayToObject(o, "hidden");
    for (int i = 0; hidden != NULL && i < p->n_hidden; i++) {
        cJSON_AddItemToArray(hidden, cJSON_CreateNumber(p->hidden[i]));
    }
    cJSON_AddStringToObject(o, "activation", nn_act_name(p->activation));
    cJSON_AddStringToObject(o, "optimizer", optimizer_name(p->train.optimizer));
    double lr = p->train.learning_rate > 0            ? (double)p->train.learning_rate
                : p->train.optimizer == NN_OPTIM_ADAM ? 0.001
                                                      : 0.01;
    char buf[32];
    snprintf(buf, sizeof(buf), "%.7g", lr); /* float -> the decimal the user wrote */
    cJSON_AddNumberToObject(o, "learning_rate", strtod(buf, NULL));
    cJSON_AddNumberToObject(o, "epochs", p->train.epochs);
    cJSON_AddNumberToObject(o, "batch_size", p->train.batch_size);
    if (p->train.l2 < 0) {
        cJSON_AddNullToObject(o, "l2"); /* chosen on the data at training */
    } else {
        snprintf(buf, sizeof(buf), "%.7g", (double)p->train.l2);
        cJSON_AddNumberToObject(o, "l2", strtod(buf, NULL));
    }
    cJSON_AddNumberToObject(o, "validation_split", p->validation_split);
    cJSON_AddNumberToObject(o, "patience", p->train.patience);
    cJSON_AddNumberToObject(o, "seed", (double)p->seed);
    cJSON_AddStringToObject(o, "delimiter", delim);
    if (p->threshold >= 0) {
        cJSON_AddNumberToObject(o, "threshold", p->threshold);
    }
    if (p->target_fpr >= 0) {
        cJSON_AddNumberToObject(o, "target_fpr", p->target_fpr);
    }
    cJSON_AddItemToObject(o, "text_columns", list_json(p->text_columns));
    cJSON_AddItemToObject(o, "categorical_columns", list_json(p->categorical_columns));
    cJSON_AddItemToObject(o, "ignore_columns", list_json(p->ignore_columns));
    cJSON_AddItemToObject(o, "na_values", list_json(p->na_values)); /* null: the default list */
    cJSON_AddStringToObject(o, "impute", p->impute == 1 ? "mean" : "median");
    return o;
}

/* Applies every entry of form (an object of strings) but "model" to p. */
static int apply_form(struct model_params *p, const cJSON *form, char *bad, size_t bad_cap,
                      struct nn_err *err)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, form)
    {
        if (strcmp(it->string, "model") == 0) {
            continue;
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

/* ------------------------------------------------------------------------------------------ */
/* POST /train                                                                                 */
/* ------------------------------------------------------------------------------------------ */

int srv_api_train_post(struct srv_req *r)
{
    struct srv_app *app = r->app;
    struct model_params p;
    struct model_limits lim;
    struct nn_err err;
    struct srv_jobs_slot *slot = NULL;
    struct store_job job;
    cJSON *form = NULL, *pj = NULL;
    char *form_text = NULL, *params_text = NULL;
    char bad[128] = "";
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
    form = cJSON_CreateObject();
    if (form == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    if (r->body_kind == SRV_BODY_FORM) {
        for (int i = 0; i < r->n_fields; i++) {
            cJSON_AddStringToObject(form, r->fields[i].name, r->fields[i].value);
        }
    } else {
        rc = srv_http_query_each(r, add_arg, form);
        if (rc != 0) {
            goto out;
        }
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, form)
    {
        if (!nn_utf8_valid(it->string, strlen(it->string), NULL) ||
            !nn_utf8_valid(it->valuestring, strlen(it->valuestring), NULL)) {
            rc = reply_param(r, it->string, "parameters must be UTF-8 text");
            goto out;
        }
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(form, "model");
    if (!cJSON_IsString(model) || model->valuestring[0] == '\0') {
        rc = reply_param(r, "model", "the parameter 'model' (the model's name) is required");
        goto out;
    }
    if (!srv_api_model_name_ok(model->valuestring)) {
        rc = reply_param(r, "model",
                         "a model name is 1 to 64 characters: letters, digits, '_', '.', '-', "
                         "starting with a letter or digit");
        goto out;
    }
    if (apply_form(&p, form, bad, sizeof(bad), &err) != 0) {
        rc = reply_param(r, err.field[0] != '\0' ? err.field : bad, err.msg);
        goto out;
    }
    if (r->spool_name[0] == '\0' || r->spool_bytes == 0) {
        rc = reply_param(r, "file",
                         r->body_kind == SRV_BODY_FORM
                             ? "the CSV is missing or empty: send it in a part named 'file'"
                             : "the CSV body is empty");
        goto out;
    }
    srv_limits_csv(app->cfg, &lim);
    rc = model_check_csv(r->spool_path, &p, &lim, &rows, &cols, &err);
    if (rc != 0) {
        if (rc == NN_ENOTFOUND || (err.line == 0 && err.field[0] != '\0' &&
                                   cJSON_GetObjectItemCaseSensitive(form, err.field) != NULL)) {
            rc = reply_param(r, err.field[0] != '\0' ? err.field : "label", err.msg);
        } else {
            rc = srv_http_reply_nn(r, rc == NN_ENOMEM ? NN_ERANGE : rc, &err, 400, NULL);
        }
        goto out;
    }
    if (srv_limits_network(app->cfg, &p, cols, NULL, &err) != 0) {
        rc = reply_param(r, err.field, err.msg);
        goto out;
    }
    pj = params_json(&p);
    form_text = cJSON_PrintUnformatted(form);
    params_text = pj != NULL ? cJSON_PrintUnformatted(pj) : NULL;
    if (form_text == NULL || params_text == NULL) {
        rc = NN_ENOMEM;
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
    snprintf(job.model, sizeof(job.model), "%s", model->valuestring);
    job.epochs = p.train.epochs;
    job.params = params_text;
    job.form = form_text;
    snprintf(job.spool, sizeof(job.spool), "%s", r->spool_name);
    job.rows = (long long)rows;
    job.columns = (long long)cols;
    job.bytes = (long long)r->spool_bytes;
    snprintf(job.sha256, sizeof(job.sha256), "%s", r->sha256);
    job.params = params_text;
    rc = store_job_create(app->store, &job, &err);
    if (rc != 0) {
        srv_jobs_unreserve(app->jobs, slot);
        rc = srv_http_reply_nn(r, rc, &err, 400, NULL);
        goto out;
    }
    r->spool_keep = 1; /* the job owns the file now */
    /* render the reply before a worker can take the job: it shows the job as accepted */
    struct store_job *stored = NULL;
    cJSON *doc = NULL;
    int grc = store_job_get(app->store, job.id, &stored, &err);
    if (grc == 0) {
        doc = srv_api_job_json(app->store, stored, 1);
        store_job_free(stored);
    }
    srv_jobs_commit(app->jobs, slot, job.id);
    srv_log("info", "job %s accepted: model %s, %zu rows, %zu columns", job.id, job.model, rows,
            cols);
    if (grc != 0) {
        rc = srv_http_reply_nn(r, grc, &err, 400, NULL);
        goto out;
    }
    if (doc == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    char loc[STORE_ID_MAX + 8];
    snprintf(loc, sizeof(loc), "/jobs/%s", job.id);
    srv_http_add_header(r, "Location", loc);
    rc = srv_http_reply_json(r, 202, doc);
out:
    cJSON_Delete(form);
    cJSON_Delete(pj);
    cJSON_free(form_text);
    cJSON_free(params_text);
    model_params_fini(&p);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The job runner                                                                              */
/* ------------------------------------------------------------------------------------------ */

struct run_ctx {
    struct srv_app *app;
    const char *id;
    atomic_int *cancel;
    unsigned long train_rows;
    int last_epoch;
};

static int on_epoch(const struct nn_epoch_stats *st, void *ud)
{
    struct run_ctx *c = ud;
    struct store_epoch e = {st->epoch,      st->train_loss, st->val_loss,
                            st->val_metric, st->seconds,    st->regression};

    c->last_epoch = st->epoch;
    srv_metrics_training(c->app->metrics, c->train_rows, st->seconds);
    if (store_job_progress(c->app->store, c->id, &e, NULL) == NN_ECANCELED) {
        return 1; /* cancelled in the store (by another request) */
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

/* Stores the trained model as a new version and marks the job succeeded (one transaction). */
static int commit_model(struct run_ctx *c, const char *model_name, struct model *m, int *version,
                        struct nn_err *err)
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
    card = cj != NULL ? cJSON_PrintUnformatted(cj) : NULL;
    metrics = mj != NULL ? cJSON_PrintUnformatted(mj) : NULL;
    params = pj != NULL ? cJSON_PrintUnformatted(pj) : NULL;
    if (card == NULL || metrics == NULL || params == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory describing the model");
        goto out;
    }
    struct store_version_new v = {model_name, blob,  blob_len, card,
                                  metrics,    c->id, params,   c->last_epoch};
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
    rc = store_job_claim(app->store, id, &job, &err);
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
    cJSON_Delete(form);
    if (rc == 0 && access(path, R_OK) != 0) {
        rc = nn_err_set(&err, NN_ENOTFOUND, "the job's dataset file is missing from the spool");
    }
    if (rc == 0) {
        struct run_ctx ctx = {app, id, cancel, 0, 0};
        double frac = p.validation_split > 0 && p.validation_split < 1 ? p.validation_split : 0;
        ctx.train_rows = (unsigned long)llround((double)job->rows * (1.0 - frac));
        rc = model_train_csv(path, &p, &lim, on_epoch, &ctx, cancel, &m, &err);
        if (rc == 0) {
            int version = 0;
            rc = commit_model(&ctx, job->model, m, &version, &err);
            if (rc == 0) {
                srv_registry_invalidate(app->reg, job->model);
                srv_reserve_fill(app->cfg->db); /* made again once there is room */
                srv_log("info", "job %s succeeded: model %s version %d", id, job->model, version);
            }
        }
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
    model_free(m);
    store_job_free(job);
    model_params_fini(&p);
}
