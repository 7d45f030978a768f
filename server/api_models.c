/*
 * api_models: model cards, deletion, pinning, export and import over the store, and the
 * registry's loader. A card is the model_card JSON stored with the version, plus the
 * server's fields (name, version, versions, serving_version, pinned, job_id, created_at).
 */
#include "api_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_onnx.h"
#include "json_count.h"
#include "log.h"
#include "model/model.h"
#include "nn/alloc.h"
#include "registry.h"
#include "reserve.h"
#include "store.h"

int srv_api_model_name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n < 1 || n > 64) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
            return 0;
        }
    }
    return 1;
}

int srv_api_models_load(void *ud, const char *name, int version, int *got, struct model **out,
                        struct nn_err *err)
{
    struct store *s = ud;
    struct store_version *v = NULL;
    int rc = store_version_get(s, name, version, 1, &v, err);

    if (rc != 0) {
        return rc;
    }
    rc = model_load(v->blob, v->blob_len, out, err);
    if (rc == 0) {
        *got = v->version;
    } else {
        /* a stored blob that does not load is our fault, not the client's */
        rc = nn_err_set(err, NN_EIO, "model '%s' version %d cannot be loaded: %s", name, v->version,
                        err != NULL ? err->msg : "bad blob");
    }
    store_version_free(v);
    return rc;
}

void srv_api_models_free(struct model *m)
{
    model_free(m);
}

/* Parses a version path segment; 0 when it is not a positive integer. */
static int parse_version(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);

    if (end == s || *end != '\0' || v < 1 || v > 1000000000L || s[0] == '+' || s[0] == ' ') {
        return 0;
    }
    return (int)v;
}

/* Moves every field of src that dst lacks into dst, in order, and deletes src (with the
 * fields dst already had). */
static void move_new_fields(cJSON *dst, cJSON *src)
{
    while (src->child != NULL) {
        cJSON *it = cJSON_DetachItemViaPointer(src, src->child);
        if (cJSON_GetObjectItemCaseSensitive(dst, it->string) != NULL) {
            cJSON_Delete(it);
            continue;
        }
        cJSON_AddItemToObject(dst, it->string, it);
    }
    cJSON_Delete(src);
}

/* The card of API.md for a stored version. New object, or NULL. */
static cJSON *card_json(const struct store_version *v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *card = cJSON_Parse(v->card);

    if (o == NULL || card == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(card);
        return NULL;
    }
    cJSON_AddStringToObject(o, "name", v->model);
    cJSON_AddNumberToObject(o, "version", v->version);
    cJSON *vs = cJSON_AddArrayToObject(o, "versions");
    for (int i = 0; vs != NULL && i < v->n_versions; i++) {
        cJSON_AddItemToArray(vs, cJSON_CreateNumber(v->versions[i]));
    }
    cJSON_AddNumberToObject(o, "serving_version", v->serving);
    cJSON_AddBoolToObject(o, "pinned", v->pinned > 0);
    /* move the card's own fields over (they never repeat the server's) */
    move_new_fields(o, card);
    if (v->job_id[0] != '\0') {
        cJSON_AddStringToObject(o, "job_id", v->job_id);
    } else {
        cJSON_AddNullToObject(o, "job_id");
    }
    cJSON_AddStringToObject(o, "created_at", v->created_at);
    return o;
}

/* Replies with the card of (name, version) (0 = serving). */
static int reply_card(struct srv_req *r, const char *name, int version, unsigned status)
{
    struct store_version *v = NULL;
    struct nn_err err;
    int rc = store_version_get(r->app->store, name, version, 0, &v, &err);

    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    cJSON *doc = card_json(v);
    store_version_free(v);
    if (doc == NULL) {
        return NN_ENOMEM;
    }
    return srv_http_reply_json(r, status, doc);
}

/* Reads the model name and optional version from the path; replies 404 when bad. */
static int path_model(struct srv_req *r, int *version)
{
    *version = 0;
    if (!srv_api_model_name_ok(r->args[0])) {
        srv_http_reply_error(r, 404, NULL, "no model '%s' (not a valid model name)", r->args[0]);
        return -1;
    }
    if (r->n_args >= 2) {
        *version = parse_version(r->args[1]);
        if (*version == 0) {
            srv_http_reply_error(r, 404, NULL, "no version '%s' of model '%s'", r->args[1],
                                 r->args[0]);
            return -1;
        }
    }
    return 0;
}

int srv_api_models_list(struct srv_req *r)
{
    struct store_version **list = NULL;
    struct nn_err err;
    size_t n = 0;
    int rc = store_model_list(r->app->store, &list, &n, &err);

    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "models");
    for (size_t i = 0; arr != NULL && i < n; i++) {
        const struct store_version *v = list[i];
        cJSON *o = cJSON_CreateObject();
        cJSON *card = cJSON_Parse(v->card);
        const cJSON *task = cJSON_GetObjectItemCaseSensitive(card, "task");
        cJSON_AddStringToObject(o, "name", v->model);
        cJSON_AddNumberToObject(o, "version", v->serving);
        cJSON *vs = cJSON_AddArrayToObject(o, "versions");
        for (int k = 0; vs != NULL && k < v->n_versions; k++) {
            cJSON_AddItemToArray(vs, cJSON_CreateNumber(v->versions[k]));
        }
        cJSON_AddBoolToObject(o, "pinned", v->pinned > 0);
        cJSON_AddStringToObject(o, "task", cJSON_IsString(task) ? task->valuestring : "");
        cJSON_AddStringToObject(o, "created_at", v->model_created_at);
        cJSON_Delete(card);
        cJSON_AddItemToArray(arr, o);
    }
    store_version_list_free(list, n);
    if (arr == NULL) {
        cJSON_Delete(doc);
        return NN_ENOMEM;
    }
    return srv_http_reply_json(r, 200, doc);
}

int srv_api_models_get(struct srv_req *r)
{
    int version;

    if (path_model(r, &version) != 0) {
        return 0;
    }
    return reply_card(r, r->args[0], version, 200);
}

/* Deletes the model r->args[0] (version 0) or one of its versions. */
static int delete_model(struct srv_req *r, int version, struct nn_err *err)
{
    if (version > 0) {
        return store_version_delete(r->app->store, r->args[0], version, err);
    }
    return store_model_delete(r->app->store, r->args[0], err);
}

/* On a full disk the delete is tried again after releasing the reserve (reserve.h). */
int srv_api_models_delete(struct srv_req *r)
{
    struct nn_err err;
    int version;
    int rc;

    if (path_model(r, &version) != 0) {
        return 0;
    }
    rc = delete_model(r, version, &err);
    if (rc == NN_ENOSPC && srv_reserve_release(r->app->cfg->db)) {
        srv_log("warn", "the disk is full: released %s.reserve to delete model %s", r->app->cfg->db,
                r->args[0]);
        rc = delete_model(r, version, &err);
    }
    if (rc == 0) {
        srv_reserve_fill(r->app->cfg->db); /* again, once there is room */
    }
    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    srv_registry_invalidate(r->app->reg, r->args[0]);
    return srv_http_reply_empty(r, 204);
}

int srv_api_models_serving(struct srv_req *r)
{
    struct nn_err err;
    int version;

    if (path_model(r, &version) != 0) {
        return 0;
    }
    cJSON *doc = srv_http_json_body(r);
    if (doc == NULL) {
        return 0;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "version");
    if (!cJSON_IsObject(doc) || v == NULL ||
        !(cJSON_IsNull(v) || (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 1e9 &&
                              v->valuedouble == (double)(int)v->valuedouble))) {
        cJSON_Delete(doc);
        cJSON *d = srv_http_details_str("field", "version");
        return srv_http_reply_error(r, 400, d,
                                    "the body must be {\"version\": <a version number>} to pin, "
                                    "or {\"version\": null} to serve the newest");
    }
    int pin = cJSON_IsNull(v) ? 0 : (int)v->valuedouble;
    cJSON_Delete(doc);
    int rc = store_serving_set(r->app->store, r->args[0], pin, &err);
    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    srv_registry_invalidate(r->app->reg, r->args[0]);
    return reply_card(r, r->args[0], 0, 200);
}

int srv_api_models_export(struct srv_req *r)
{
    struct srv_model *m = NULL;
    struct nn_err err;
    int version;

    if (path_model(r, &version) != 0) {
        return 0;
    }
    const char *q = srv_http_query(r, "version");
    if (q != NULL) {
        version = parse_version(q);
        if (version == 0) {
            cJSON *d = srv_http_details_str("parameter", "version");
            return srv_http_reply_error(r, 400, d, "version must be a positive integer");
        }
    }
    const char *fmt = srv_http_query(r, "format");
    if (fmt != NULL && strcmp(fmt, "json") != 0 && strcmp(fmt, "onnx") != 0) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "parameter", "format");
        return srv_http_reply_error(r, 400, d, "format must be json or onnx");
    }
    int rc = srv_registry_get(r->app->reg, r->args[0], version, &m, &err);
    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    if (fmt != NULL && strcmp(fmt, "onnx") == 0) {
        rc = srv_api_onnx_export(r, m->model, m->name, m->version);
        srv_registry_release(m);
        return rc;
    }
    cJSON *exp = model_export(m->model);
    cJSON *doc = exp != NULL ? cJSON_CreateObject() : NULL;
    if (doc != NULL) {
        /* name and version first, then the export's own fields */
        cJSON_AddStringToObject(doc, "name", m->name);
        cJSON_AddNumberToObject(doc, "version", m->version);
        move_new_fields(doc, exp);
        exp = NULL;
    }
    cJSON_Delete(exp);
    srv_registry_release(m);
    if (doc == NULL) {
        return NN_ENOMEM;
    }
    return srv_http_reply_json(r, 200, doc);
}

/* Replies 400 naming the limit for an import past one. */
static int reply_count(struct srv_req *r, const char *field, size_t n, long limit, const char *what)
{
    cJSON *d = cJSON_CreateObject();

    if (d != NULL) {
        cJSON_AddStringToObject(d, "field", field);
        cJSON_AddNumberToObject(d, "limit", (double)limit);
    }
    srv_http_reply_error(r, 400, d, "the model has %zu %s: this daemon takes at most %ld", n, what,
                         limit);
    return -1;
}

/*
 * Checks the counts of the import's text against the limits before cJSON builds a tree of
 * it (json_count.h): inputs up to --max-csv-columns (a model's inputs are columns), layers up
 * to MODEL_MAX_HIDDEN + 1, weights and biases up to --max-params. @return 0, or -1 replied.
 */
static int import_counts_ok(struct srv_req *r)
{
    const struct srv_config *cfg = r->app->cfg;
    struct srv_json_counts c;

    if (r->body == NULL) {
        return 0; /* srv_http_json_body answers */
    }
    srv_json_count(r->body, r->body_len, &c);
    if (c.inputs > (size_t)cfg->max_csv_columns) {
        return reply_count(r, "inputs", c.inputs, cfg->max_csv_columns,
                           "inputs (--max-csv-columns)");
    }
    if (c.layers > MODEL_MAX_HIDDEN + 1) {
        return reply_count(r, "layers", c.layers, MODEL_MAX_HIDDEN + 1, "layers");
    }
    if (c.numbers > (size_t)cfg->max_params) {
        return reply_count(r, "layers", c.numbers, cfg->max_params,
                           "weights and biases (--max-params)");
    }
    return 0;
}

int srv_api_models_import(struct srv_req *r)
{
    struct model *m = NULL;
    struct nn_err err;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    cJSON *cj = NULL, *mj = NULL;
    char *card = NULL, *metrics = NULL;
    int version = 0;
    int rc;

    nn_err_clear(&err);
    if (path_model(r, &version) != 0) {
        return 0;
    }
    if (r->body_kind == SRV_BODY_ONNX) {
        if (srv_api_onnx_read(r, &m) != 0) {
            return 0;
        }
        rc = 0;
    } else {
        if (import_counts_ok(r) != 0) {
            return 0;
        }
        cJSON *doc = srv_http_json_body(r);
        if (doc == NULL) {
            return 0;
        }
        rc = model_import(doc, &m, &err);
        cJSON_Delete(doc);
    }
    if (rc != 0) {
        cJSON *d = cJSON_CreateObject();
        if (d != NULL && err.field[0] != '\0') {
            cJSON_AddStringToObject(d, "field", err.field);
        }
        rc = srv_http_reply_nn(r, rc == NN_ENOMEM ? NN_EINVAL : rc, &err, 400, d);
        goto out;
    }
    rc = model_save(m, &blob, &blob_len, &err);
    if (rc != 0) {
        rc = srv_http_reply_nn(r, rc, &err, 400, NULL);
        goto out;
    }
    cj = model_card(m);
    mj = model_metrics(m);
    card = cj != NULL ? cJSON_PrintUnformatted(cj) : NULL;
    if (mj == NULL) {
        mj = cJSON_CreateObject();
    }
    metrics = mj != NULL ? cJSON_PrintUnformatted(mj) : NULL;
    if (card == NULL || metrics == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    struct store_version_new v = {r->args[0], blob, blob_len, card, metrics, NULL, NULL, 0, 0};
    rc = store_version_put(r->app->store, &v, &version, &err);
    if (rc != 0) {
        rc = srv_http_reply_nn(r, rc, &err, 400, NULL);
        goto out;
    }
    srv_registry_invalidate(r->app->reg, r->args[0]);
    char loc[160];
    snprintf(loc, sizeof(loc), "/models/%s/versions/%d", r->args[0], version);
    srv_http_add_header(r, "Location", loc);
    rc = reply_card(r, r->args[0], version, 201);
out:
    model_free(m);
    nn_free(blob);
    cJSON_Delete(cj);
    cJSON_Delete(mj);
    cJSON_free(card);
    cJSON_free(metrics);
    return rc;
}
