/*
 * api_feedback: feedback rows, retraining jobs, and the gate and kept rows of their runner
 * (see api_feedback.h). A feedback row is the instance in its canonical form (model_instance_
 * canonical: every input by name, in input order) and its label; its content hash is the
 * SHA-256 of that form's text, so the same instance sent twice is one row whose label the
 * second sending sets.
 */
#include "api_feedback.h"

#include <gnutls/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_jobs.h"
#include "api_train.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "nn/alloc.h"
#include "registry.h"
#include "store.h"

/* The holdout share: rows whose hash starts with one of the first 3 of 16 hex digits. */
#define HOLDOUT_SIXTEENTHS 3
#define LIST_DEFAULT       100
#define LIST_MAX           10000

int srv_feedback_holdout(const char *hash)
{
    char c = hash[0];
    int v = c >= '0' && c <= '9' ? c - '0' : (c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0);

    return v < HOLDOUT_SIXTEENTHS;
}

/* The hex SHA-256 of len bytes of data. @return 0 or -1. */
static int sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char d[32];

    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, d) != 0) {
        return -1;
    }
    for (int i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
    return 0;
}

int srv_feedback_hash(const cJSON *canonical, char out[65])
{
    char *text = cJSON_PrintUnformatted(canonical);
    int rc = text != NULL && sha256_hex(text, strlen(text), out) == 0 ? 0 : NN_ENOMEM;

    cJSON_free(text);
    return rc;
}

/* A new spool file name: prefix, 32 random hex digits, ".csv". */
static void spool_name(const char *prefix, char *out, size_t cap)
{
    unsigned char rnd[16] = {0};
    char hex[33];

    gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd));
    for (int i = 0; i < 16; i++) {
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    }
    snprintf(out, cap, "%s-%s.csv", prefix, hex);
}


/* ------------------------------------------------------------------------------------------ */
/* Storing feedback                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Label i as the model's text (a class, or a number for regression) into buf; NULL with why. */
static const char *label_text(const struct model *m, const cJSON *v, char *buf, size_t cap,
                              char *why, size_t why_cap)
{
    const char *t = NULL;

    if (cJSON_IsString(v)) {
        t = v->valuestring;
    } else if (cJSON_IsNumber(v)) {
        snprintf(buf, cap, "%.17g", v->valuedouble);
        t = buf;
    }
    if (t == NULL) {
        snprintf(why, why_cap, "a label is a string (a class) or a number");
        return NULL;
    }
    if (model_task(m) == NN_TASK_REGRESSION) {
        char *end;

        strtod(t, &end);
        if (t[0] == '\0' || *end != '\0') {
            snprintf(why, why_cap, "label '%.64s' is not a number", t);
            return NULL;
        }
        return t;
    }
    for (int j = 0; j < model_n_classes(m); j++) {
        if (strcmp(model_class(m, j), t) == 0) {
            return t;
        }
    }
    snprintf(why, why_cap,
             "label '%.64s' is not a class of the model (its classes: %.64s, %.64s%s)", t,
             model_class(m, 0), model_class(m, 1), model_n_classes(m) > 2 ? ", ..." : "");
    return NULL;
}

/* Queues a retraining of sm (see srv_api_feedback_retrain) with the training parameters of
 * extra (an object of strings; NULL: none); job_id [out] its id. */
static int retrain_submit(struct srv_app *app, const struct srv_model *sm, const cJSON *extra,
                          char job_id[STORE_ID_MAX], struct nn_err *err);

int srv_api_feedback_add(struct srv_req *r, const struct srv_model *sm, const cJSON *instances,
                         const cJSON *labels)
{
    struct srv_app *app = r->app;
    const struct model *m = sm->model;
    long n = cJSON_GetArraySize(instances), i;
    cJSON **canon = NULL;
    const char **labs = NULL;
    char(*lbuf)[40] = NULL;
    char why[256], field[96];
    long long stored = 0, updated = 0, total = 0; /* total: the model's rows after the last */
    long every = app->cfg->retrain_after;
    int crossed = 0;
    char retrain_id[STORE_ID_MAX] = "";
    struct nn_err err;
    int rc = 0;

    nn_err_clear(&err);
    if (n == 0) {
        return srv_http_reply_field(r, 400, "instances", -1, "no instances: send at least one");
    }
    if (cJSON_GetArraySize(labels) != n) {
        return srv_http_reply_field(r, 400, "labels", -1,
                                    "\"labels\" must give one label per instance");
    }
    if (n > app->cfg->max_instances) {
        snprintf(why, sizeof(why), "%ld instances: at most %ld per request", n,
                 app->cfg->max_instances);
        return srv_http_reply_field(r, 413, "instances", -1, why);
    }
    canon = nn_calloc((size_t)n, sizeof(*canon));
    labs = nn_calloc((size_t)n, sizeof(*labs));
    lbuf = nn_calloc((size_t)n, sizeof(*lbuf));
    if (canon == NULL || labs == NULL || lbuf == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    /* every row checked before any is stored */
    for (i = 0; i < n; i++) {
        labs[i] = label_text(m, cJSON_GetArrayItem(labels, (int)i), lbuf[i], sizeof(lbuf[i]), why,
                             sizeof(why));
        if (labs[i] == NULL) {
            snprintf(field, sizeof(field), "labels[%ld]", i);
            rc = srv_http_reply_field(r, 422, field, i, why);
            goto out;
        }
        if (model_instance_canonical(m, cJSON_GetArrayItem(instances, (int)i), &canon[i], &err) !=
            0) {
            snprintf(field, sizeof(field), "instances[%ld]%s%.64s", i, err.field[0] ? "." : "",
                     err.field);
            snprintf(why, sizeof(why), "instance %ld: %.200s", i, err.msg);
            rc = srv_http_reply_field(r, 422, field, i, why);
            goto out;
        }
    }
    for (i = 0; i < n; i++) {
        char *text = cJSON_PrintUnformatted(canon[i]);
        char hash[65];
        int created = 0;

        if (text == NULL || sha256_hex(text, strlen(text), hash) != 0) {
            cJSON_free(text);
            rc = NN_ENOMEM;
            goto out;
        }
        /* srv_feedback_hash's, with the text kept for the store */
        rc = store_feedback_put(app->store, sm->name, hash, text, labs[i], &created, &total, &err);
        cJSON_free(text);
        if (rc != 0) {
            rc = srv_http_reply_nn(r, rc, &err, 500, NULL);
            goto out;
        }
        stored += created;
        updated += !created;
        /* every --retrain-after new rows: the request whose new row made the count a multiple
           (counted as it was stored: two requests at once cannot both think theirs did) */
        crossed |= created && every > 0 && total % every == 0;
    }
    srv_metrics_feedback(app->metrics, (unsigned long)n);
    if (crossed) {
        if (retrain_submit(app, sm, NULL, retrain_id, &err) != 0) {
            srv_log("warn", "model %s: cannot queue its retraining: %s", sm->name, err.msg);
            retrain_id[0] = '\0';
        }
    }
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    cJSON_AddStringToObject(doc, "model", sm->name);
    cJSON_AddNumberToObject(doc, "version", sm->version);
    cJSON_AddNumberToObject(doc, "received", (double)n);
    cJSON_AddNumberToObject(doc, "stored", (double)stored);
    cJSON_AddNumberToObject(doc, "updated", (double)updated);
    cJSON_AddNumberToObject(doc, "feedback", (double)total);
    if (retrain_id[0] != '\0') {
        cJSON_AddStringToObject(doc, "retrain_job", retrain_id);
    }
    rc = srv_http_reply_json(r, 200, doc);
out:
    for (i = 0; canon != NULL && i < n; i++) {
        cJSON_Delete(canon[i]);
    }
    nn_free(canon);
    nn_free(labs);
    nn_free(lbuf);
    return rc;
}

/* The serving model of the request's name, or a 404 / error reply (NULL). */
static struct srv_model *serving_model(struct srv_req *r, int *rc)
{
    struct srv_model *sm = NULL;
    struct nn_err err;

    nn_err_clear(&err);
    *rc = srv_registry_get(r->app->reg, r->args[0], 0, &sm, &err);
    if (*rc != 0) {
        *rc = srv_http_reply_nn(r, *rc, &err, 400, NULL);
        return NULL;
    }
    return sm;
}

int srv_api_feedback_post(struct srv_req *r)
{
    struct srv_model *sm;
    cJSON *doc = NULL, *insts = NULL, *labs = NULL;
    struct model_limits lim;
    struct nn_err err;
    int rc = 0;

    nn_err_clear(&err);
    sm = serving_model(r, &rc);
    if (sm == NULL) {
        return rc;
    }
    if (r->body_kind == SRV_BODY_CSV) {
        srv_limits_csv(r->app->cfg, &lim);
        rc = model_feedback_csv(sm->model, r->spool_path, ',', &lim,
                                (size_t)r->app->cfg->max_instances, &insts, &labs, &err);
        if (rc != 0) {
            rc = rc == NN_ERANGE ? srv_http_reply_field(r, 413, "file", -1, err.msg)
                                 : srv_http_reply_nn(r, rc, &err, 400, NULL);
            goto out;
        }
        rc = srv_api_feedback_add(r, sm, insts, labs);
    } else {
        doc = srv_http_json_body(r);
        if (doc == NULL) {
            goto out; /* 400 sent */
        }
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(doc, "instances");
        const cJSON *lb = cJSON_GetObjectItemCaseSensitive(doc, "labels");
        if (!cJSON_IsArray(in)) {
            rc = srv_http_reply_field(r, 400, "instances", -1,
                                      "\"instances\" (an array) is required");
        } else if (!cJSON_IsArray(lb)) {
            rc = srv_http_reply_field(r, 400, "labels", -1,
                                      "\"labels\" (an array: one label per instance) is required");
        } else {
            rc = srv_api_feedback_add(r, sm, in, lb);
        }
    }
out:
    cJSON_Delete(doc);
    cJSON_Delete(insts);
    cJSON_Delete(labs);
    srv_registry_release(sm);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Listing and deleting                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* A non-negative integer query value, or def when absent; -1 when malformed or past max. */
static long long query_count(struct srv_req *r, const char *key, long long def, long long max)
{
    const char *v = srv_http_query(r, key);
    char *end;
    long long n;

    if (v == NULL) {
        return def;
    }
    n = strtoll(v, &end, 10);
    return v[0] == '\0' || *end != '\0' || n < 0 || n > max ? -1 : n;
}

/* 404 unless the model has a version. @return 1 when replied. */
static int model_missing(struct srv_req *r, int *rc)
{
    struct store_version *v = NULL;
    struct nn_err err;

    nn_err_clear(&err);
    *rc = store_version_get(r->app->store, r->args[0], 0, 0, &v, &err);
    store_version_free(v);
    if (*rc != 0) {
        *rc = srv_http_reply_nn(r, *rc, &err, 400, NULL);
        return 1;
    }
    return 0;
}

int srv_api_feedback_list(struct srv_req *r)
{
    struct store_feedback *v = NULL;
    long long limit = query_count(r, "limit", LIST_DEFAULT, LIST_MAX);
    long long after = query_count(r, "after", 0, 1LL << 62), total = 0;
    struct nn_err err;
    size_t n = 0;
    cJSON *doc, *arr;
    int rc;

    nn_err_clear(&err);
    if (limit < 1 || after < 0) {
        cJSON *d = srv_http_details_str("parameter", limit < 1 ? "limit" : "after");
        return srv_http_reply_error(r, 400, d,
                                    limit < 1 ? "limit is a whole number from 1 to 10000"
                                              : "after is a feedback id (a whole number)");
    }
    if (model_missing(r, &rc)) {
        return rc;
    }
    rc = store_feedback_list(r->app->store, r->args[0], after, (int)limit, &v, &n, &err);
    if (rc == 0) {
        rc = store_feedback_count(r->app->store, r->args[0], &total, &err);
    }
    if (rc != 0) {
        store_feedback_list_free(v, n);
        return srv_http_reply_nn(r, rc, &err, 500, NULL);
    }
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "model", r->args[0]);
    cJSON_AddNumberToObject(doc, "count", (double)total);
    arr = cJSON_AddArrayToObject(doc, "feedback");
    for (size_t i = 0; arr != NULL && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON *inst = cJSON_Parse(v[i].instance);

        cJSON_AddNumberToObject(o, "id", (double)v[i].id);
        cJSON_AddStringToObject(o, "hash", v[i].hash);
        cJSON_AddItemToObject(o, "instance", inst != NULL ? inst : cJSON_CreateNull());
        cJSON_AddStringToObject(o, "label", v[i].label);
        cJSON_AddBoolToObject(o, "holdout", srv_feedback_holdout(v[i].hash));
        cJSON_AddStringToObject(o, "created_at", v[i].created_at);
        cJSON_AddStringToObject(o, "updated_at", v[i].updated_at);
        cJSON_AddItemToArray(arr, o);
    }
    store_feedback_list_free(v, n);
    if (doc == NULL || arr == NULL) {
        cJSON_Delete(doc);
        return NN_ENOMEM;
    }
    return srv_http_reply_json(r, 200, doc);
}

int srv_api_feedback_delete(struct srv_req *r)
{
    const char *hash = srv_http_query(r, "hash");
    long long deleted = 0;
    struct nn_err err;
    int rc;

    nn_err_clear(&err);
    if (model_missing(r, &rc)) {
        return rc;
    }
    rc = store_feedback_delete(r->app->store, r->args[0], hash, &deleted, &err);
    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 500, NULL);
    }
    if (hash != NULL && deleted == 0) {
        return srv_http_reply_error(r, 404, srv_http_details_str("hash", hash),
                                    "model '%s' has no feedback of hash '%.70s'", r->args[0], hash);
    }
    return srv_http_reply_empty(r, 204);
}

/* ------------------------------------------------------------------------------------------ */
/* Retraining                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Appends to out the rows kept with sm's version under kind: all of them, or a seeded sample of
 * at most max. @param rows [out] the rows appended (0 when none are kept). */
static int append_kept(struct srv_app *app, const struct srv_model *sm, const char *kind,
                       size_t max, FILE *out, long long *rows, struct nn_err *err)
{
    char path[SRV_CONFIG_STR_MAX + 80], name[80];
    unsigned char *kept = NULL;
    size_t len = 0, n = 0;
    FILE *f;
    int rc;

    *rows = 0;
    if (store_sample_get(app->store, sm->name, sm->version, kind, &kept, &len, NULL) != 0) {
        return 0; /* none kept (an import, an older version): nothing to add */
    }
    spool_name("kp", name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s", app->spool_dir, name);
    f = fopen(path, "wb");
    rc = f != NULL && fwrite(kept, 1, len, f) == len
             ? 0
             : nn_err_set(err, NN_EIO, "cannot write %s", path);
    if (f != NULL && fclose(f) != 0 && rc == 0) {
        rc = nn_err_set(err, NN_EIO, "cannot write %s", path);
    }
    nn_free(kept);
    if (rc == 0) {
        rc = model_rows_sample(sm->model, path, ',', NULL, max, 42, out, &n, err);
    }
    unlink(path);
    *rows = (long long)n;
    return rc;
}

/*
 * Writes to path the model's header, then its feedback rows of the holdout share (holdout 1),
 * of the training share (0) or none (-1), then the rows kept with the version under kind
 * (NULL: none): for "replay", a seeded sample of model_replay_rows(feedback rows) of them.
 * @param rows, fb_rows [out] the data rows written, and how many of them were feedback.
 */
static int write_rows(struct srv_app *app, const struct srv_model *sm, int holdout,
                      const char *kind, const char *path, long long *rows, long long *fb_rows,
                      struct nn_err *err)
{
    struct store_feedback *v = NULL;
    size_t n = 0;
    FILE *f;
    int rc;

    *rows = 0;
    rc = holdout >= 0 ? store_feedback_list(app->store, sm->name, 0, 0, &v, &n, err) : 0;
    if (rc != 0) {
        return rc;
    }
    f = fopen(path, "w");
    if (f == NULL) {
        store_feedback_list_free(v, n);
        return nn_err_set(err, NN_EIO, "cannot write %s", path);
    }
    model_rows_header(sm->model, f);
    for (size_t i = 0; i < n; i++) {
        cJSON *inst =
            srv_feedback_holdout(v[i].hash) == holdout ? cJSON_Parse(v[i].instance) : NULL;

        if (inst != NULL) {
            model_row_write(sm->model, f, inst, v[i].label);
            (*rows)++;
            cJSON_Delete(inst);
        }
    }
    store_feedback_list_free(v, n);
    *fb_rows = *rows;
    if (kind != NULL) {
        long long kept = 0;
        size_t max = strcmp(kind, "replay") == 0 ? model_replay_rows((size_t)*fb_rows) : SIZE_MAX;

        rc = append_kept(app, sm, kind, max, f, &kept, err);
        *rows += kept;
    }
    if (fclose(f) != 0 && rc == 0) {
        rc = nn_err_set(err, NN_EIO, "cannot write %s", path);
    }
    return rc;
}

/* The size and SHA-256 of the file at path. */
static int file_digest(const char *path, long long *bytes, char sha[65], struct nn_err *err)
{
    FILE *f = fopen(path, "rb");
    gnutls_hash_hd_t h;
    unsigned char buf[65536], d[32];
    size_t got;

    *bytes = 0;
    if (f == NULL || gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        return nn_err_set(err, NN_EIO, "cannot read %s", path);
    }
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
        gnutls_hash(h, buf, got);
        *bytes += (long long)got;
    }
    fclose(f);
    gnutls_hash_deinit(h, d);
    for (int i = 0; i < 32; i++) {
        snprintf(sha + 2 * i, 3, "%02x", d[i]);
    }
    return 0;
}

static int retrain_submit(struct srv_app *app, const struct srv_model *sm, const cJSON *extra,
                          char job_id[STORE_ID_MAX], struct nn_err *err)
{
    char path[SRV_CONFIG_STR_MAX + 80], base[STORE_NAME_MAX + 16];
    struct model_params p;
    struct store_job job;
    cJSON *form = cJSON_CreateObject();
    long long rows = 0, fb_rows = 0, feedback_rows = 0;
    int rc;

    memset(&job, 0, sizeof(job));
    model_params_default(&p);
    spool_name("rt", job.spool, sizeof(job.spool));
    snprintf(path, sizeof(path), "%s/%s", app->spool_dir, job.spool);
    snprintf(base, sizeof(base), "%s@%d", sm->name, sm->version);
    rc = store_feedback_count(app->store, sm->name, &feedback_rows, err);
    if (rc == 0) {
        rc = write_rows(app, sm, 0, "replay", path, &rows, &fb_rows, err);
    }
    if (rc == 0 && fb_rows == 0) {
        rc = nn_err_set(err, NN_ENOTFOUND,
                        "model '%s' has no feedback to learn from (%lld rows, all in the holdout "
                        "share kept for the gate)",
                        sm->name, feedback_rows);
    }
    if (rc == 0 && (form == NULL || model_params_set(&p, "base", base, err) != 0 ||
                    !cJSON_AddStringToObject(form, "model", sm->name) ||
                    !cJSON_AddStringToObject(form, "base", base) ||
                    !cJSON_AddStringToObject(form, SRV_FORM_GATE, "true"))) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, extra)
    {
        if (rc == 0 && (model_params_set(&p, it->string, it->valuestring, err) != 0 ||
                        !cJSON_AddStringToObject(form, it->string, it->valuestring))) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        }
    }
    if (rc == 0) {
        rc = srv_api_train_texts(&job, &p, form) == 0
                 ? file_digest(path, &job.bytes, job.sha256, err)
                 : nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        snprintf(job.model, sizeof(job.model), "%s", sm->name);
        job.epochs = MODEL_WARM_EPOCHS;
        job.rows = rows;
        job.columns = model_n_inputs(sm->model) + 1;
        rc = srv_api_train_submit(app, &job, path, err);
    }
    if (rc != 0) {
        unlink(path);
    } else {
        snprintf(job_id, STORE_ID_MAX, "%s", job.id);
        srv_log("info",
                "model %s: retraining from version %d on %lld feedback and %lld replayed rows",
                sm->name, sm->version, fb_rows, rows - fb_rows);
    }
    cJSON_Delete(form);
    srv_api_train_texts_fini(&job);
    model_params_fini(&p);
    return rc;
}

/*
 * The training parameters of a retraining's optional JSON body, as an object of strings,
 * each checked by the parameter table (the base, label and network are the serving
 * version's: "base" is refused). @return 0, or 1 when a 400 was sent (*rc).
 */
static int retrain_params(struct srv_req *r, cJSON **extra, int *rc)
{
    struct model_params p;
    struct nn_err err;
    const cJSON *it;
    cJSON *doc;
    char num[40];

    *extra = NULL;
    if (r->body == NULL || r->body_len == 0) {
        return 0;
    }
    doc = srv_http_json_body(r);
    if (doc == NULL) {
        *rc = 0; /* 400 sent */
        return 1;
    }
    *extra = cJSON_CreateObject();
    model_params_default(&p);
    nn_err_clear(&err);
    if (!cJSON_IsObject(doc)) {
        *rc = srv_http_reply_error(r, 400, NULL,
                                   "the body is an object of training parameters (or empty)");
        goto fail;
    }
    cJSON_ArrayForEach(it, doc)
    {
        const char *v = cJSON_IsString(it) ? it->valuestring : NULL;

        if (cJSON_IsNumber(it)) {
            snprintf(num, sizeof(num), "%.17g", it->valuedouble);
            v = num;
        } else if (cJSON_IsBool(it)) {
            v = cJSON_IsTrue(it) ? "true" : "false";
        }
        if (strcmp(it->string, "base") == 0 || strcmp(it->string, "model") == 0 ||
            strcmp(it->string, SRV_FORM_GATE) == 0 || v == NULL ||
            model_params_set(&p, it->string, v, &err) != 0) {
            *rc = srv_http_reply_error(
                r, 400, srv_http_details_str("parameter", it->string), "%s",
                v == NULL || err.msg[0] == '\0'
                    ? "a retraining starts from the serving version: give training parameters "
                      "as strings or numbers, not base or model"
                    : err.msg);
            goto fail;
        }
        if (*extra != NULL && !cJSON_AddStringToObject(*extra, it->string, v)) {
            cJSON_Delete(*extra);
            *extra = NULL;
        }
    }
    model_params_fini(&p);
    cJSON_Delete(doc);
    if (*extra == NULL) {
        *rc = NN_ENOMEM;
        return 1;
    }
    return 0;
fail:
    model_params_fini(&p);
    cJSON_Delete(doc);
    cJSON_Delete(*extra);
    *extra = NULL;
    return 1;
}

int srv_api_feedback_retrain(struct srv_req *r)
{
    struct srv_model *sm;
    struct store_job *job = NULL;
    char id[STORE_ID_MAX], loc[STORE_ID_MAX + 8];
    struct nn_err err;
    cJSON *doc = NULL, *extra = NULL;
    int rc = 0;

    nn_err_clear(&err);
    if (retrain_params(r, &extra, &rc) != 0) {
        return rc;
    }
    sm = serving_model(r, &rc);
    if (sm == NULL) {
        cJSON_Delete(extra);
        return rc;
    }
    rc = retrain_submit(r->app, sm, extra, id, &err);
    cJSON_Delete(extra);
    srv_registry_release(sm);
    if (rc == NN_ENOTFOUND) {
        return srv_http_reply_error(r, 409, NULL, "%s", err.msg);
    }
    if (rc == NN_ERANGE) {
        return srv_http_reply_error(
            r, 429, srv_http_details_num("queue_size", r->app->cfg->queue_size), "%s", err.msg);
    }
    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 500, NULL);
    }
    rc = store_job_get(r->app->store, id, &job, &err);
    if (rc == 0) {
        doc = srv_api_job_json(r->app->store, job, 1);
    }
    store_job_free(job);
    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 500, NULL);
    }
    if (doc == NULL) {
        return NN_ENOMEM;
    }
    snprintf(loc, sizeof(loc), "/jobs/%s", id);
    srv_http_add_header(r, "Location", loc);
    return srv_http_reply_json(r, 202, doc);
}

/* ------------------------------------------------------------------------------------------ */
/* The runner's part: the gate and the kept rows                                               */
/* ------------------------------------------------------------------------------------------ */

int srv_feedback_gate(struct srv_app *app, const struct srv_model *champion,
                      const struct model *challenger, const struct model_limits *lim,
                      cJSON **verdict, struct nn_err *err)
{
    /* two parts, each must not get worse: the feedback's holdout share (what the users said)
       and the champion's own validation rows (what it knew) */
    char paths[2][SRV_CONFIG_STR_MAX + 80], name[80];
    struct model_gate_part parts[2] = {{"feedback", paths[0], 0}, {"validation", paths[1], 0}};
    long long fb_rows = 0;
    int rc = 0;

    *verdict = NULL;
    for (int i = 0; i < 2; i++) {
        spool_name("ho", name, sizeof(name));
        snprintf(paths[i], sizeof(paths[i]), "%s/%s", app->spool_dir, name);
        if (rc == 0) {
            rc = i == 0
                     ? write_rows(app, champion, 1, NULL, paths[i], &parts[i].rows, &fb_rows, err)
                     : write_rows(app, champion, -1, "holdout", paths[i], &parts[i].rows, &fb_rows,
                                  err);
        }
    }
    if (rc == 0) {
        rc = model_gate_parts(champion->model, challenger, parts, 2, ',', lim, verdict, err);
    }
    if (rc == 0) {
        cJSON_AddNumberToObject(*verdict, "champion_version", champion->version);
    }
    unlink(paths[0]);
    unlink(paths[1]);
    return rc;
}

void srv_feedback_keep_rows(struct srv_app *app, const char *model, int version,
                            const struct model *m, const char *path, const struct model_params *p,
                            const struct model_limits *lim)
{
    char *rep = NULL, *hold = NULL;
    size_t rep_len = 0, hold_len = 0, n_rep = 0, n_hold = 0;
    FILE *rf = open_memstream(&rep, &rep_len), *hf = open_memstream(&hold, &hold_len);
    struct nn_err err;
    int rc;

    nn_err_clear(&err);
    if (rf == NULL || hf == NULL) {
        rc = nn_err_set(&err, NN_ENOMEM, "out of memory");
    } else {
        rc = model_samples_csv(m, path, p->delimiter, lim, p->seed, p->validation_split,
                               SRV_FEEDBACK_KEEP_ROWS, rf, hf, &n_rep, &n_hold, &err);
    }
    if (rf != NULL) {
        fclose(rf);
    }
    if (hf != NULL) {
        fclose(hf);
    }
    if (rc == 0) {
        rc = store_sample_put(app->store, model, version, "replay", rep, rep_len, &err);
    }
    if (rc == 0) {
        rc = store_sample_put(app->store, model, version, "holdout", hold, hold_len, &err);
    }
    if (rc != 0) {
        srv_log("warn", "model %s version %d: its rows for retraining are not kept: %s", model,
                version, err.msg);
    }
    free(rep); /* open_memstream's buffers come from malloc */
    free(hold);
}

void srv_feedback_carry_rows(struct srv_app *app, const char *model, int from, int to)
{
    static const char *const kinds[2] = {"replay", "holdout"};

    for (int i = 0; i < 2; i++) {
        unsigned char *data = NULL;
        size_t len = 0;
        struct nn_err err;
        int rc;

        nn_err_clear(&err);
        rc = store_sample_get(app->store, model, from, kinds[i], &data, &len, &err);
        if (rc == NN_ENOTFOUND) {
            continue; /* none kept with the base: none with this one */
        }
        if (rc == 0) {
            rc = store_sample_put(app->store, model, to, kinds[i], data, len, &err);
        }
        nn_free(data);
        if (rc != 0) {
            srv_log("warn", "model %s version %d: its %s rows are not kept: %s", model, to,
                    kinds[i], err.msg);
        }
    }
}
