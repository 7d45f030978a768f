/*
 * api_kserve: KServe V2 / Open Inference Protocol over the registry's models.
 *
 * A request's tensors are checked against the protocol first (every tensor has a name, a
 * known datatype, a shape whose product is the number of elements in `data`, flat or nested
 * in row-major order): what breaks the protocol is 400. Then they are matched to the model:
 * either one tensor `input` of shape [n, k] (k = the model's inputs, in card order; any name
 * that is not a column is taken so, as KServe's examples call it `input-0`), or one
 * tensor per input column named after it, shape [n] (or [n, 1]); a tensor the model does not
 * know or an input with no tensor is 422, as a /predict instance that does not fit. Each row
 * becomes k text cells (numbers printed exactly, BYTES as they are) for
 * model_predict_cells, the same path the CSV predictions take.
 * Outputs: `probabilities` FP32 [n, classes] and `label` BYTES [n]; regression `value` FP32
 * [n]; a request's `outputs` list picks some of them. Model metadata lists exactly these, and
 * as inputs the `input` tensor for an all-numeric model, else one tensor per column.
 */
#include "api_kserve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_models.h"
#include "metrics.h"
#include "model/model.h"
#include "nn/alloc.h"
#include "registry.h"
#include "store.h"

#define KSERVE_SERVER_NAME    "neurond"
#define KSERVE_SERVER_VERSION NEUROND_VERSION /* the VERSION file, from the Makefile */
#define KSERVE_PLATFORM       "neurond"
#define KSERVE_MAX_TENSORS    4096
#define CELL_LEN              40

/* One input tensor of a request, checked. */
struct tensor {
    const char *name;   /* borrowed from the request */
    int bytes;          /* 1: BYTES (strings); 0: a numeric or BOOL datatype */
    int ndims;          /* 1 or 2 */
    long dims[2];       /* shape */
    long count;         /* product of the shape */
    const cJSON **leaf; /* count elements, row-major; owned array, borrowed items */
};

/* A float as the shortest decimal that reads back to the same float. */
static double tidy(float v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%.7g", (double)v);
    return strtod(buf, NULL);
}

static int reply_field(struct srv_req *r, unsigned status, const char *field, long index,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Sends an error whose details name the culprit: {"field", "index"} (index when >= 0). */
static int reply_field(struct srv_req *r, unsigned status, const char *field, long index,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    cJSON *d = cJSON_CreateObject();

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (d != NULL) {
        cJSON_AddStringToObject(d, "field", field);
        if (index >= 0) {
            cJSON_AddNumberToObject(d, "index", (double)index);
        }
    }
    return srv_http_reply_error(r, status, d, "%s", msg);
}

/* Parses the optional version path segment (args[1]); 0 = the serving one, -1 = invalid. */
static int path_version(const struct srv_req *r)
{
    if (r->n_args < 2) {
        return 0;
    }
    const char *s = r->args[1];
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || end == s || *end != '\0' || v < 1 || v > 1000000000L) {
        return -1;
    }
    return (int)v;
}

/* Takes a registry reference to the model of the path; replies (404, ...) and returns -1. */
static int model_ref(struct srv_req *r, struct srv_model **out)
{
    struct nn_err err;
    int version = path_version(r);

    if (!srv_api_model_name_ok(r->args[0])) {
        srv_http_reply_error(r, 404, NULL, "no model '%.64s'", r->args[0]);
        return -1;
    }
    if (version < 0) {
        srv_http_reply_error(r, 404, NULL, "no version '%.64s' of model '%.64s'", r->args[1],
                             r->args[0]);
        return -1;
    }
    nn_err_clear(&err);
    int rc = srv_registry_get(r->app->reg, r->args[0], version, out, &err);
    if (rc != 0) {
        srv_http_reply_nn(r, rc, &err, 400, NULL);
        return -1;
    }
    return 0;
}

/* 1 when every input of the model is numeric (then the `input` [n, k] tensor is listed). */
static int all_numeric(const struct model *m)
{
    for (int i = 0; i < model_n_inputs(m); i++) {
        if (strcmp(model_input_type(m, i), "numeric") != 0) {
            return 0;
        }
    }
    return 1;
}

/* {"name", "datatype", "shape": [-1] or [-1, d]} */
static cJSON *tensor_meta(const char *name, const char *datatype, int d)
{
    cJSON *t = cJSON_CreateObject();

    if (t == NULL) {
        return NULL;
    }
    cJSON_AddStringToObject(t, "name", name);
    cJSON_AddStringToObject(t, "datatype", datatype);
    cJSON *shape = cJSON_AddArrayToObject(t, "shape");
    cJSON_AddItemToArray(shape, cJSON_CreateNumber(-1));
    if (d > 0) {
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(d));
    }
    return t;
}

int srv_api_kserve_server(struct srv_req *r)
{
    cJSON *doc = cJSON_CreateObject();

    if (doc == NULL) {
        return NN_ENOMEM;
    }
    cJSON_AddStringToObject(doc, "name", KSERVE_SERVER_NAME);
    cJSON_AddStringToObject(doc, "version", KSERVE_SERVER_VERSION);
    cJSON_AddArrayToObject(doc, "extensions");
    return srv_http_reply_json(r, 200, doc);
}

int srv_api_kserve_live(struct srv_req *r)
{
    cJSON *doc = cJSON_CreateObject();

    if (doc == NULL || cJSON_AddBoolToObject(doc, "live", 1) == NULL) {
        cJSON_Delete(doc);
        return NN_ENOMEM;
    }
    return srv_http_reply_json(r, 200, doc);
}

int srv_api_kserve_ready(struct srv_req *r)
{
    if (!atomic_load(&r->app->ready)) {
        return srv_http_reply_error(r, 503, NULL,
                                    "not ready: the store is not open yet, or the daemon is "
                                    "stopping");
    }
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL || cJSON_AddBoolToObject(doc, "ready", 1) == NULL) {
        cJSON_Delete(doc);
        return NN_ENOMEM;
    }
    return srv_http_reply_json(r, 200, doc);
}

int srv_api_kserve_model(struct srv_req *r)
{
    struct srv_model *sm = NULL;
    struct store_version *v = NULL;
    struct nn_err err;

    if (model_ref(r, &sm) != 0) {
        return 0;
    }
    int rc = store_version_get(r->app->store, sm->name, sm->version, 0, &v, &err);
    if (rc != 0) {
        srv_registry_release(sm);
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    const struct model *m = sm->model;
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    cJSON_AddStringToObject(doc, "name", sm->name);
    cJSON *vs = cJSON_AddArrayToObject(doc, "versions");
    for (int i = 0; vs != NULL && i < v->n_versions; i++) {
        char num[16];
        snprintf(num, sizeof(num), "%d", v->versions[i]);
        cJSON_AddItemToArray(vs, cJSON_CreateString(num));
    }
    cJSON_AddStringToObject(doc, "platform", KSERVE_PLATFORM);
    cJSON *ins = cJSON_AddArrayToObject(doc, "inputs");
    if (all_numeric(m)) {
        cJSON_AddItemToArray(ins, tensor_meta("input", "FP32", model_n_inputs(m)));
    } else {
        for (int i = 0; i < model_n_inputs(m); i++) {
            int num = strcmp(model_input_type(m, i), "numeric") == 0;
            cJSON_AddItemToArray(ins,
                                 tensor_meta(model_input_name(m, i), num ? "FP32" : "BYTES", 0));
        }
    }
    cJSON *outs = cJSON_AddArrayToObject(doc, "outputs");
    int k = model_n_classes(m);
    if (model_task(m) == NN_TASK_REGRESSION || k == 0) {
        cJSON_AddItemToArray(outs, tensor_meta("value", "FP32", 0));
    } else {
        cJSON_AddItemToArray(outs, tensor_meta("probabilities", "FP32", k));
        cJSON_AddItemToArray(outs, tensor_meta("label", "BYTES", 0));
    }
    rc = srv_http_reply_json(r, 200, doc);
out:
    store_version_free(v);
    srv_registry_release(sm);
    return rc;
}

int srv_api_kserve_model_ready(struct srv_req *r)
{
    struct srv_model *sm = NULL;

    if (model_ref(r, &sm) != 0) {
        return 0;
    }
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL) {
        srv_registry_release(sm);
        return NN_ENOMEM;
    }
    cJSON_AddStringToObject(doc, "name", sm->name);
    cJSON_AddBoolToObject(doc, "ready", 1);
    srv_registry_release(sm);
    return srv_http_reply_json(r, 200, doc);
}

/* ------------------------------------------------------------------------------------------ */
/* Inference                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* 1 for BYTES, 0 for a numeric or BOOL datatype, -1 for anything else. */
static int datatype_kind(const char *dt)
{
    static const char *const numeric[] = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64",
                                          "INT8", "INT16", "INT32",  "INT64",  "FP16",
                                          "FP32", "FP64",  "BF16"};

    if (strcmp(dt, "BYTES") == 0) {
        return 1;
    }
    for (size_t i = 0; i < sizeof(numeric) / sizeof(numeric[0]); i++) {
        if (strcmp(dt, numeric[i]) == 0) {
            return 0;
        }
    }
    return -1;
}

/* Collects the leaves of data (nested arrays, row-major) into t->leaf; -1 past t->count. */
static int flatten(const cJSON *data, struct tensor *t, long *n, int depth)
{
    const cJSON *it;

    if (!cJSON_IsArray(data)) {
        if (*n >= t->count) {
            return -1;
        }
        t->leaf[(*n)++] = data;
        return 0;
    }
    if (depth > 8) {
        return -1;
    }
    cJSON_ArrayForEach(it, data)
    {
        if (flatten(it, t, n, depth + 1) != 0) {
            return -1;
        }
    }
    return 0;
}

/*
 * Checks input tensor i of the request against the protocol and fills t. Replies 400 and
 * returns -1 when it breaks the protocol.
 */
static int tensor_parse(struct srv_req *r, const cJSON *j, long i, long max_elems, struct tensor *t)
{
    char field[64];

    snprintf(field, sizeof(field), "inputs[%ld]", i);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "datatype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
    if (!cJSON_IsObject(j) || !cJSON_IsString(name) || !cJSON_IsString(dt) ||
        !cJSON_IsArray(shape) || data == NULL) {
        reply_field(r, 400, field, i,
                    "each input tensor needs \"name\", \"datatype\", \"shape\" and \"data\"");
        return -1;
    }
    t->name = name->valuestring;
    t->bytes = datatype_kind(dt->valuestring);
    if (t->bytes < 0) {
        snprintf(field, sizeof(field), "inputs[%ld].datatype", i);
        reply_field(r, 400, field, i, "unknown datatype '%.32s'", dt->valuestring);
        return -1;
    }
    int nd = cJSON_GetArraySize(shape);
    if (nd < 1 || nd > 2) {
        snprintf(field, sizeof(field), "inputs[%ld].shape", i);
        reply_field(r, 400, field, i, "a shape is [n] or [n, k]");
        return -1;
    }
    t->ndims = nd;
    t->count = 1;
    for (int d = 0; d < nd; d++) {
        const cJSON *dj = cJSON_GetArrayItem(shape, d);
        if (!cJSON_IsNumber(dj) || dj->valuedouble < 0 || dj->valuedouble > (double)max_elems ||
            dj->valuedouble != (double)(long)dj->valuedouble) {
            snprintf(field, sizeof(field), "inputs[%ld].shape", i);
            reply_field(r, 400, field, i, "shape dimensions must be non-negative integers");
            return -1;
        }
        t->dims[d] = (long)dj->valuedouble;
        t->count *= t->dims[d];
        if (t->count > max_elems) {
            snprintf(field, sizeof(field), "inputs[%ld].shape", i);
            reply_field(r, 413, field, i, "the tensor is larger than a request may be");
            return -1;
        }
    }
    t->leaf = nn_calloc((size_t)(t->count > 0 ? t->count : 1), sizeof(*t->leaf));
    if (t->leaf == NULL) {
        srv_http_reply_error(r, 500, NULL, "out of memory");
        return -1;
    }
    long n = 0;
    snprintf(field, sizeof(field), "inputs[%ld].data", i);
    if (flatten(data, t, &n, 0) != 0 || n != t->count) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "the data of '%.64s' does not hold the %ld elements its shape says", t->name,
                 t->count);
        reply_field(r, 400, field, i, "%s", msg);
        return -1;
    }
    for (long e = 0; e < n; e++) {
        const cJSON *x = t->leaf[e];
        int ok = t->bytes ? cJSON_IsString(x) : (cJSON_IsNumber(x) || cJSON_IsBool(x));
        if (!ok) {
            char msg[160];
            snprintf(field, sizeof(field), "inputs[%ld].data[%ld]", i, e);
            snprintf(msg, sizeof(msg), "element %ld of '%.64s' is not %s", e, t->name,
                     t->bytes ? "a string (BYTES)" : "a number");
            reply_field(r, 400, field, i, "%s", msg);
            return -1;
        }
    }
    return 0;
}

/* The text cell of one tensor element; numbers are printed so they read back exactly. */
static const char *cell_of(const cJSON *x, char *buf)
{
    if (cJSON_IsString(x)) {
        return x->valuestring;
    }
    if (cJSON_IsBool(x)) {
        return cJSON_IsTrue(x) ? "1" : "0";
    }
    snprintf(buf, CELL_LEN, "%.17g", x->valuedouble);
    return buf;
}

/* Which outputs the request asks for (all when it names none). -1 after replying 400. */
static int wanted_outputs(struct srv_req *r, const cJSON *req, int regression, int *probs,
                          int *label, int *value)
{
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(req, "outputs");
    const cJSON *o;
    long i = 0;

    *probs = *label = !regression;
    *value = regression;
    if (outs == NULL || cJSON_IsNull(outs)) {
        return 0;
    }
    if (!cJSON_IsArray(outs)) {
        reply_field(r, 400, "outputs", -1, "\"outputs\" must be an array");
        return -1;
    }
    if (cJSON_GetArraySize(outs) == 0) {
        return 0;
    }
    *probs = *label = *value = 0;
    cJSON_ArrayForEach(o, outs)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        char field[64];
        snprintf(field, sizeof(field), "outputs[%ld].name", i);
        if (!cJSON_IsString(name)) {
            reply_field(r, 400, field, i, "each requested output needs a \"name\"");
            return -1;
        }
        if (!regression && strcmp(name->valuestring, "probabilities") == 0) {
            *probs = 1;
        } else if (!regression && strcmp(name->valuestring, "label") == 0) {
            *label = 1;
        } else if (regression && strcmp(name->valuestring, "value") == 0) {
            *value = 1;
        } else {
            reply_field(r, 400, field, i, "the model has no output '%.64s'", name->valuestring);
            return -1;
        }
        i++;
    }
    return 0;
}

/* {"name", "datatype", "shape", "data": []}; returns the data array (owned by parent). */
static cJSON *add_output(cJSON *outs, const char *name, const char *datatype, long n, int k)
{
    cJSON *t = cJSON_CreateObject();

    if (t == NULL) {
        return NULL;
    }
    cJSON_AddItemToArray(outs, t);
    cJSON_AddStringToObject(t, "name", name);
    cJSON_AddStringToObject(t, "datatype", datatype);
    cJSON *shape = cJSON_AddArrayToObject(t, "shape");
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)n));
    if (k > 0) {
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(k));
    }
    return cJSON_AddArrayToObject(t, "data");
}

int srv_api_kserve_infer(struct srv_req *r)
{
    struct srv_model *sm = NULL;
    struct tensor *ts = NULL;
    long nt = 0;
    int *colmap = NULL; /* model input -> tensor index (column mode) */
    const char **cells = NULL;
    char *numbuf = NULL;
    float *out = NULL;
    cJSON *reply = NULL;
    struct nn_err err;
    int rc = 0;

    cJSON *doc = srv_http_json_body(r);
    if (doc == NULL) {
        return 0;
    }
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(doc, "inputs");
    if (!cJSON_IsObject(doc) || !cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) == 0) {
        rc = reply_field(r, 400, "inputs", -1,
                         "the body must be an inference request with a non-empty \"inputs\" "
                         "array");
        goto out;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
    if (id != NULL && !cJSON_IsString(id)) {
        rc = reply_field(r, 400, "id", -1, "\"id\" must be a string");
        goto out;
    }
    if (model_ref(r, &sm) != 0) {
        goto out;
    }
    const struct model *m = sm->model;
    int k = model_n_inputs(m);
    int kc = model_n_classes(m);
    int regression = model_task(m) == NN_TASK_REGRESSION || kc == 0;
    int want_probs, want_label, want_value;
    if (wanted_outputs(r, doc, regression, &want_probs, &want_label, &want_value) != 0) {
        goto out;
    }
    long max_rows = r->app->cfg->max_instances;
    nt = cJSON_GetArraySize(inputs);
    if (nt > KSERVE_MAX_TENSORS) {
        rc = reply_field(r, 400, "inputs", -1, "too many input tensors");
        goto out;
    }
    ts = nn_calloc((size_t)nt, sizeof(*ts));
    colmap = nn_malloc((size_t)(k > 0 ? k : 1) * sizeof(*colmap));
    if (ts == NULL || colmap == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    for (long i = 0; i < nt; i++) {
        if (tensor_parse(r, cJSON_GetArrayItem(inputs, (int)i), i, max_rows * (k > 0 ? k : 1),
                         &ts[i]) != 0) {
            goto out;
        }
    }

    /* match the tensors to the model's inputs */
    long n = -1;
    int matrix = 0;
    for (int c = 0; c < k; c++) {
        colmap[c] = -1;
    }
    if (nt == 1) {
        /* one tensor that is not a column: the [n, k] matrix ("input", or whatever a generic
         * client calls it, as KServe's own examples' "input-0") */
        matrix = 1;
        for (int c = 0; c < k; c++) {
            if (strcmp(model_input_name(m, c), ts[0].name) == 0) {
                matrix = 0;
            }
        }
    }
    if (matrix) {
        long cols = ts[0].ndims == 2 ? ts[0].dims[1] : 1;
        if (cols != k) {
            char msg[160];
            snprintf(msg, sizeof(msg),
                     "the tensor '%.64s' has %ld columns; the model has %d inputs (shape [n, %d])",
                     ts[0].name, cols, k, k);
            rc = reply_field(r, 422, "inputs[0].shape", 0, "%s", msg);
            goto out;
        }
        n = ts[0].dims[0];
    } else {
        for (long i = 0; i < nt; i++) {
            int c = 0;
            char field[64];
            while (c < k && strcmp(model_input_name(m, c), ts[i].name) != 0) {
                c++;
            }
            snprintf(field, sizeof(field), "inputs[%ld].name", i);
            if (c == k) {
                rc = reply_field(r, 422, field, i,
                                 "the model has no input '%.64s' (GET /v2/models/<name> lists "
                                 "them)",
                                 ts[i].name);
                goto out;
            }
            if (colmap[c] >= 0) {
                rc = reply_field(r, 400, field, i, "the input '%.64s' is given twice", ts[i].name);
                goto out;
            }
            if (ts[i].ndims == 2 && ts[i].dims[1] != 1) {
                snprintf(field, sizeof(field), "inputs[%ld].shape", i);
                rc = reply_field(r, 422, field, i,
                                 "the tensor of column '%.64s' must have shape [n] or [n, 1]",
                                 ts[i].name);
                goto out;
            }
            if (n >= 0 && ts[i].dims[0] != n) {
                snprintf(field, sizeof(field), "inputs[%ld].shape", i);
                rc = reply_field(r, 400, field, i,
                                 "the input tensors disagree on the batch size (at '%.64s')",
                                 ts[i].name);
                goto out;
            }
            n = ts[i].dims[0];
            colmap[c] = (int)i;
        }
        for (int c = 0; c < k; c++) {
            if (colmap[c] < 0) {
                rc = reply_field(r, 422, model_input_name(m, c), -1,
                                 "no tensor for the model input '%.64s'", model_input_name(m, c));
                goto out;
            }
        }
    }
    if (n > max_rows) {
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddStringToObject(d, "field", "inputs");
            cJSON_AddNumberToObject(d, "limit", (double)max_rows);
        }
        rc = srv_http_reply_error(r, 413, d, "%ld instances: at most %ld per request", n, max_rows);
        goto out;
    }

    /* predict row by row */
    int per = regression ? 1 : kc;
    cells = nn_calloc((size_t)(k > 0 ? k : 1), sizeof(*cells));
    numbuf = nn_malloc((size_t)(k > 0 ? k : 1) * CELL_LEN);
    out = nn_malloc((size_t)(n > 0 ? n : 1) * (size_t)per * sizeof(float));
    reply = cJSON_CreateObject();
    if (cells == NULL || numbuf == NULL || out == NULL || reply == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    for (long i = 0; i < n; i++) {
        for (int c = 0; c < k; c++) {
            const cJSON *x = matrix ? ts[0].leaf[i * k + c] : ts[colmap[c]].leaf[i];
            cells[c] = cell_of(x, numbuf + (size_t)c * CELL_LEN);
        }
        nn_err_clear(&err);
        rc = model_predict_cells(m, cells, out + (size_t)i * (size_t)per, &err);
        if (rc != 0) {
            char field[200], msg[400];
            if (err.field[0] != '\0') {
                snprintf(field, sizeof(field), "%s[%ld]", err.field, i);
            } else {
                snprintf(field, sizeof(field), "inputs[%ld]", i);
            }
            snprintf(msg, sizeof(msg), "instance %ld: %s", i, err.msg);
            rc = reply_field(r, rc == NN_ENOMEM ? 500 : 422, field, i, "%s", msg);
            goto out;
        }
    }

    char ver[16];
    snprintf(ver, sizeof(ver), "%d", sm->version);
    cJSON_AddStringToObject(reply, "model_name", sm->name);
    cJSON_AddStringToObject(reply, "model_version", ver);
    if (id != NULL) {
        cJSON_AddStringToObject(reply, "id", id->valuestring);
    }
    cJSON *outs = cJSON_AddArrayToObject(reply, "outputs");
    if (outs == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    if (want_probs) {
        cJSON *d = add_output(outs, "probabilities", "FP32", n, kc);
        for (long e = 0; d != NULL && e < n * kc; e++) {
            cJSON_AddItemToArray(d, cJSON_CreateNumber(tidy(out[e])));
        }
        if (d == NULL || cJSON_GetArraySize(d) != n * kc) {
            rc = NN_ENOMEM;
            goto out;
        }
    }
    if (want_label) {
        cJSON *d = add_output(outs, "label", "BYTES", n, 0);
        for (long i = 0; d != NULL && i < n; i++) {
            const float *p = out + (size_t)i * (size_t)kc;
            int best = 0;
            for (int c = 1; c < kc; c++) {
                if (p[c] > p[best]) {
                    best = c;
                }
            }
            cJSON_AddItemToArray(d, cJSON_CreateString(model_class(m, best)));
        }
        if (d == NULL || cJSON_GetArraySize(d) != n) {
            rc = NN_ENOMEM;
            goto out;
        }
    }
    if (want_value) {
        cJSON *d = add_output(outs, "value", "FP32", n, 0);
        for (long i = 0; d != NULL && i < n; i++) {
            cJSON_AddItemToArray(d, cJSON_CreateNumber(tidy(out[i])));
        }
        if (d == NULL || cJSON_GetArraySize(d) != n) {
            rc = NN_ENOMEM;
            goto out;
        }
    }
    srv_metrics_predictions_model(r->app->metrics, sm->name, (unsigned long)n);
    rc = srv_http_reply_json(r, 200, reply);
    reply = NULL;
out:
    for (long i = 0; ts != NULL && i < nt; i++) {
        nn_free(ts[i].leaf);
    }
    nn_free(ts);
    nn_free(colmap);
    nn_free(cells);
    nn_free(numbuf);
    nn_free(out);
    cJSON_Delete(reply);
    cJSON_Delete(doc);
    srv_registry_release(sm);
    return rc;
}
