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
 * [n]; a request's `outputs` list picks some of them. `explanation` FP64 [n, k] (each row's
 * attributions, model_explain_cells, in the model's input order) is sent when the request
 * names it in `outputs` or sets "parameters": {"explain": true}. Model metadata lists exactly
 * these, and as inputs the `input` tensor for an all-numeric model, else one tensor per column.
 */
#include "api_kserve.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_explain.h"
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
    const char *name; /* borrowed from the request */
    const struct datatype *dt;
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

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return srv_http_reply_field(r, status, field, index, msg);
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

/* Replies 200 {"<key>": true}. */
static int reply_true(struct srv_req *r, const char *key)
{
    cJSON *doc = cJSON_CreateObject();

    if (doc == NULL || cJSON_AddBoolToObject(doc, key, 1) == NULL) {
        cJSON_Delete(doc);
        return NN_ENOMEM;
    }
    return srv_http_reply_json(r, 200, doc);
}

int srv_api_kserve_live(struct srv_req *r)
{
    return reply_true(r, "live");
}

int srv_api_kserve_ready(struct srv_req *r)
{
    if (!atomic_load(&r->app->ready)) {
        return srv_http_reply_error(r, 503, NULL,
                                    "not ready: the store is not open yet, or the daemon is "
                                    "stopping");
    }
    return reply_true(r, "ready");
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
    cJSON_AddItemToArray(outs, tensor_meta("explanation", "FP64", model_n_inputs(m)));
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

/* A datatype of the protocol: the values its elements may hold. */
struct datatype {
    const char *name;
    enum { DT_BYTES, DT_BOOL, DT_INT, DT_FLOAT } kind;
    double lo, hi;     /* DT_INT: the range; DT_FLOAT: the largest magnitude */
    const char *range; /* the same, for messages */
};

/* 2^63 and 2^64 are exact doubles; an integer-valued double below them fits. */
#define TWO_63 9223372036854775808.0
#define TWO_64 18446744073709551616.0

static const struct datatype datatypes[] = {
    {"BYTES", DT_BYTES, 0, 0, "a string"},
    {"BOOL", DT_BOOL, 0, 1, "true, false, 0 or 1"},
    {"UINT8", DT_INT, 0, 255, "an integer from 0 to 255"},
    {"UINT16", DT_INT, 0, 65535, "an integer from 0 to 65535"},
    {"UINT32", DT_INT, 0, 4294967295.0, "an integer from 0 to 4294967295"},
    {"UINT64", DT_INT, 0, TWO_64, "an integer from 0 to 18446744073709551615"},
    {"INT8", DT_INT, -128, 127, "an integer from -128 to 127"},
    {"INT16", DT_INT, -32768, 32767, "an integer from -32768 to 32767"},
    {"INT32", DT_INT, -2147483648.0, 2147483647.0, "an integer from -2147483648 to 2147483647"},
    {"INT64", DT_INT, -TWO_63, TWO_63,
     "an integer from -9223372036854775808 to 9223372036854775807"},
    {"FP16", DT_FLOAT, 0, 65504, "a number of magnitude at most 65504"},
    {"BF16", DT_FLOAT, 0, 3.3895313892515355e38, "a number of magnitude at most 3.3895314e38"},
    {"FP32", DT_FLOAT, 0, 3.4028234663852886e38, "a number of magnitude at most 3.4028235e38"},
    {"FP64", DT_FLOAT, 0, 1.7976931348623157e308, "a finite number"},
};

/* The datatype named dt, or NULL. */
static const struct datatype *datatype_find(const char *dt)
{
    for (size_t i = 0; i < sizeof(datatypes) / sizeof(datatypes[0]); i++) {
        if (strcmp(dt, datatypes[i].name) == 0) {
            return &datatypes[i];
        }
    }
    return NULL;
}

/*
 * 1 when element x fits datatype t: BYTES a string; BOOL true, false, 0 or 1; an integer
 * type an integral number in its range (2^64 and 2^63 themselves excluded); a float type a
 * number whose magnitude it holds (cJSON reads 1e999 as infinity, which none holds).
 */
static int datatype_fits(const struct datatype *t, const cJSON *x)
{
    double v = cJSON_IsNumber(x) ? x->valuedouble : 0;

    switch (t->kind) {
    case DT_BYTES:
        return cJSON_IsString(x);
    case DT_BOOL:
        return cJSON_IsBool(x) || (cJSON_IsNumber(x) && (v == 0 || v == 1));
    case DT_INT:
        return cJSON_IsNumber(x) && v == floor(v) && v >= t->lo &&
               (t->hi >= TWO_63 ? v < t->hi : v <= t->hi);
    default:
        return cJSON_IsNumber(x) && v >= -t->hi && v <= t->hi;
    }
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
    t->dt = datatype_find(dt->valuestring);
    if (t->dt == NULL) {
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
        if (!datatype_fits(t->dt, t->leaf[e])) {
            char msg[300], val[40] = "";
            if (cJSON_IsNumber(t->leaf[e])) {
                snprintf(val, sizeof(val), " (%.17g)", t->leaf[e]->valuedouble);
            }
            snprintf(field, sizeof(field), "inputs[%ld].data[%ld]", i, e);
            snprintf(msg, sizeof(msg), "element %ld of '%.64s'%s is not %s (%s)", e, t->name, val,
                     t->dt->range, t->dt->name);
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

/* Which outputs the request asks for (all but the explanation when it names none; the
 * explanation too when its "parameters" say "explain"). -1 after replying 400. */
static int wanted_outputs(struct srv_req *r, const cJSON *req, int regression, int *probs,
                          int *label, int *value, int *expl)
{
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(req, "outputs");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "parameters");
    const cJSON *o;
    long i = 0;
    int top = 0, rc = 0;

    *probs = *label = !regression;
    *value = regression;
    *expl = 0;
    if (params != NULL && !cJSON_IsNull(params) && !cJSON_IsObject(params)) {
        reply_field(r, 400, "parameters", -1, "\"parameters\" must be an object");
        return -1;
    }
    if (srv_explain_json(r, cJSON_GetObjectItemCaseSensitive(params, "explain"),
                         "parameters.explain", &top, &rc) != 0) {
        return -1;
    }
    *expl = top > 0;
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
        } else if (strcmp(name->valuestring, "explanation") == 0) {
            *expl = 1;
        } else {
            reply_field(r, 400, field, i, "the model has no output '%.64s'", name->valuestring);
            return -1;
        }
        i++;
    }
    return 0;
}

/* One inference request on its way through the phases of srv_api_kserve_infer. */
struct infer {
    struct srv_req *r;
    cJSON *doc;           /* the request; owned */
    const cJSON *id;      /* the request's "id", or NULL */
    struct srv_model *sm; /* a registry reference; owned */
    const struct model *m;
    int k, kc, regression; /* model inputs, classes, regression (or no classes) */
    int want_probs, want_label, want_value, want_expl;
    struct tensor *ts; /* nt input tensors; owned */
    long nt;
    int matrix;   /* 1: one [n, k] tensor; 0: one tensor per column */
    int *colmap;  /* column mode: model input -> tensor index; owned */
    long n;       /* rows */
    float *out;   /* n x (regression ? 1 : kc) model outputs; owned */
    double *attr; /* n x k attributions when want_expl; owned */
    int rc;       /* what the handler returns once a phase stops */
};

/* A phase's stop after a reply (or an error code for a 500): q->rc holds what to return. */
static int stop(struct infer *q, int rc)
{
    q->rc = rc;
    return 1;
}

/* Reads the request: the body, "inputs", "id", the model, "outputs", each tensor. */
static int infer_parse(struct infer *q)
{
    struct srv_req *r = q->r;

    q->doc = srv_http_json_body(r);
    if (q->doc == NULL) {
        return stop(q, 0);
    }
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(q->doc, "inputs");
    if (!cJSON_IsObject(q->doc) || !cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) == 0) {
        return stop(q, reply_field(r, 400, "inputs", -1,
                                   "the body must be an inference request with a non-empty "
                                   "\"inputs\" array"));
    }
    q->id = cJSON_GetObjectItemCaseSensitive(q->doc, "id");
    if (q->id != NULL && !cJSON_IsString(q->id)) {
        return stop(q, reply_field(r, 400, "id", -1, "\"id\" must be a string"));
    }
    if (model_ref(r, &q->sm) != 0) {
        return stop(q, 0);
    }
    q->m = q->sm->model;
    q->k = model_n_inputs(q->m);
    q->kc = model_n_classes(q->m);
    q->regression = model_task(q->m) == NN_TASK_REGRESSION || q->kc == 0;
    if (wanted_outputs(r, q->doc, q->regression, &q->want_probs, &q->want_label, &q->want_value,
                       &q->want_expl) != 0) {
        return stop(q, 0);
    }
    q->nt = cJSON_GetArraySize(inputs);
    if (q->nt > KSERVE_MAX_TENSORS) {
        return stop(q, reply_field(r, 400, "inputs", -1, "too many input tensors"));
    }
    int k1 = q->k > 0 ? q->k : 1;
    q->ts = nn_calloc((size_t)q->nt, sizeof(*q->ts));
    q->colmap = nn_malloc((size_t)k1 * sizeof(*q->colmap));
    if (q->ts == NULL || q->colmap == NULL) {
        return stop(q, NN_ENOMEM);
    }
    for (long i = 0; i < q->nt; i++) {
        if (tensor_parse(r, cJSON_GetArrayItem(inputs, (int)i), i, r->app->cfg->max_instances * k1,
                         &q->ts[i]) != 0) {
            return stop(q, 0);
        }
    }
    return 0;
}

/* Column mode: maps each model input to the tensor named after it, and finds n. */
static int match_columns(struct infer *q)
{
    struct srv_req *r = q->r;
    char field[64];

    for (long i = 0; i < q->nt; i++) {
        const struct tensor *t = &q->ts[i];
        int c = 0;
        while (c < q->k && strcmp(model_input_name(q->m, c), t->name) != 0) {
            c++;
        }
        snprintf(field, sizeof(field), "inputs[%ld].name", i);
        if (c == q->k) {
            return stop(q, reply_field(r, 422, field, i,
                                       "the model has no input '%.64s' (GET /v2/models/<name> "
                                       "lists them)",
                                       t->name));
        }
        if (q->colmap[c] >= 0) {
            return stop(q,
                        reply_field(r, 400, field, i, "the input '%.64s' is given twice", t->name));
        }
        snprintf(field, sizeof(field), "inputs[%ld].shape", i);
        if (t->ndims == 2 && t->dims[1] != 1) {
            return stop(q, reply_field(r, 422, field, i,
                                       "the tensor of column '%.64s' must have shape [n] or [n, 1]",
                                       t->name));
        }
        if (q->n >= 0 && t->dims[0] != q->n) {
            return stop(q, reply_field(r, 400, field, i,
                                       "the input tensors disagree on the batch size (at '%.64s')",
                                       t->name));
        }
        q->n = t->dims[0];
        q->colmap[c] = (int)i;
    }
    for (int c = 0; c < q->k; c++) {
        if (q->colmap[c] < 0) {
            const char *name = model_input_name(q->m, c);
            return stop(
                q, reply_field(r, 422, name, -1, "no tensor for the model input '%.64s'", name));
        }
    }
    return 0;
}

/* Matches the tensors to the model's inputs: one [n, k] matrix, or a tensor per column. */
static int infer_match(struct infer *q)
{
    struct srv_req *r = q->r;
    long max_rows = r->app->cfg->max_instances;

    q->n = -1;
    for (int c = 0; c < q->k; c++) {
        q->colmap[c] = -1;
    }
    /* one tensor that is not a column: the [n, k] matrix ("input", or whatever a generic
     * client calls it, as KServe's own examples' "input-0") */
    q->matrix = q->nt == 1;
    for (int c = 0; q->matrix && c < q->k; c++) {
        q->matrix = strcmp(model_input_name(q->m, c), q->ts[0].name) != 0;
    }
    if (q->matrix) {
        long cols = q->ts[0].ndims == 2 ? q->ts[0].dims[1] : 1;
        if (cols != q->k) {
            return stop(q, reply_field(r, 422, "inputs[0].shape", 0,
                                       "the tensor '%.64s' has %ld columns; the model has %d "
                                       "inputs (shape [n, %d])",
                                       q->ts[0].name, cols, q->k, q->k));
        }
        q->n = q->ts[0].dims[0];
    } else if (match_columns(q) != 0) {
        return 1;
    }
    if (q->n > max_rows) {
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddStringToObject(d, "field", "inputs");
            cJSON_AddNumberToObject(d, "limit", (double)max_rows);
        }
        return stop(q, srv_http_reply_error(r, 413, d, "%ld instances: at most %ld per request",
                                            q->n, max_rows));
    }
    return 0;
}

/* Predicts row by row into q->out, each row as k text cells (the CSV predictions' path). */
static int infer_predict(struct infer *q)
{
    int per = q->regression ? 1 : q->kc, k1 = q->k > 0 ? q->k : 1;
    const char **cells = nn_calloc((size_t)k1, sizeof(*cells));
    char *numbuf = nn_malloc((size_t)k1 * CELL_LEN);
    struct nn_err err;
    int rc = 0;

    q->out = nn_malloc((size_t)(q->n > 0 ? q->n : 1) * (size_t)per * sizeof(float));
    if (q->want_expl) {
        q->attr = nn_malloc((size_t)(q->n > 0 ? q->n : 1) * (size_t)k1 * sizeof(double));
    }
    if (cells == NULL || numbuf == NULL || q->out == NULL || (q->want_expl && q->attr == NULL)) {
        rc = stop(q, NN_ENOMEM);
        goto out;
    }
    for (long i = 0; i < q->n; i++) {
        for (int c = 0; c < q->k; c++) {
            const cJSON *x = q->matrix ? q->ts[0].leaf[i * q->k + c] : q->ts[q->colmap[c]].leaf[i];
            if (cJSON_IsNumber(x) && fabs(x->valuedouble) > FLT_MAX) {
                /* a valid FP64 the model, which reads float32, cannot take */
                rc = stop(q, reply_field(q->r, 422, model_input_name(q->m, c), i,
                                         "instance %ld: input '%.64s' (%.17g) is past the range "
                                         "of the model's float32 inputs",
                                         i, model_input_name(q->m, c), x->valuedouble));
                goto out;
            }
            cells[c] = cell_of(x, numbuf + (size_t)c * CELL_LEN);
        }
        nn_err_clear(&err);
        int prc;
        if (q->want_expl) {
            struct model_expl *ex = NULL;
            prc = model_explain_cells(q->m, cells, -1, q->out + (size_t)i * (size_t)per, &ex, &err);
            for (int c = 0; prc == 0 && c < q->k; c++) {
                q->attr[(size_t)i * (size_t)k1 + (size_t)c] = model_expl_input(ex, c);
            }
            model_expl_free(ex);
        } else {
            prc = model_predict_cells(q->m, cells, q->out + (size_t)i * (size_t)per, &err);
        }
        if (prc != 0) {
            char field[200];
            if (err.field[0] != '\0') {
                snprintf(field, sizeof(field), "%s[%ld]", err.field, i);
            } else {
                snprintf(field, sizeof(field), "inputs[%ld]", i);
            }
            rc = stop(q, reply_field(q->r, prc == NN_ENOMEM ? 500 : 422, field, i,
                                     "instance %ld: %.300s", i, err.msg));
            goto out;
        }
    }
out:
    nn_free(cells);
    nn_free(numbuf);
    return rc;
}

/*
 * Adds the output tensor {"name", "datatype", "shape", "data"} to outs: "label" (BYTES [n],
 * each row's class by the model's decision rule, model_decide), else FP64 [n, k] read from
 * dvals when it is not NULL, else FP32 [n, k] (k > 0) or [n] read from vals.
 * @return 0 or NN_ENOMEM.
 */
static int add_output(cJSON *outs, const struct infer *q, const char *name, const float *vals,
                      const double *dvals, int k)
{
    int label = strcmp(name, "label") == 0;
    long count = q->n * (k > 0 ? k : 1);
    cJSON *t = cJSON_CreateObject();

    if (t == NULL || !cJSON_AddItemToArray(outs, t)) {
        cJSON_Delete(t);
        return NN_ENOMEM;
    }
    cJSON_AddStringToObject(t, "name", name);
    cJSON_AddStringToObject(t, "datatype", label ? "BYTES" : dvals != NULL ? "FP64" : "FP32");
    cJSON *shape = cJSON_AddArrayToObject(t, "shape");
    cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)q->n));
    if (k > 0) {
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(k));
    }
    cJSON *d = cJSON_AddArrayToObject(t, "data");
    for (long e = 0; d != NULL && e < count; e++) {
        if (label) {
            const float *p = vals + (size_t)e * (size_t)q->kc;
            cJSON_AddItemToArray(d, cJSON_CreateString(model_class(q->m, model_decide(q->m, p))));
        } else if (dvals != NULL) {
            cJSON_AddItemToArray(d, cJSON_CreateNumber(dvals[e]));
        } else {
            cJSON_AddItemToArray(d, cJSON_CreateNumber(tidy(vals[e])));
        }
    }
    return d != NULL && cJSON_GetArraySize(d) == count ? 0 : NN_ENOMEM;
}

/* Sends the inference response: model, version, id, the outputs asked for. */
static int infer_reply(struct infer *q)
{
    cJSON *reply = cJSON_CreateObject();
    char ver[16];
    int rc = 0;

    snprintf(ver, sizeof(ver), "%d", q->sm->version);
    cJSON_AddStringToObject(reply, "model_name", q->sm->name);
    cJSON_AddStringToObject(reply, "model_version", ver);
    if (q->id != NULL) {
        cJSON_AddStringToObject(reply, "id", q->id->valuestring);
    }
    cJSON *outs = cJSON_AddArrayToObject(reply, "outputs");
    if (reply == NULL || outs == NULL) {
        rc = NN_ENOMEM;
    }
    if (rc == 0 && q->want_probs) {
        rc = add_output(outs, q, "probabilities", q->out, NULL, q->kc);
    }
    if (rc == 0 && q->want_label) {
        rc = add_output(outs, q, "label", q->out, NULL, 0);
    }
    if (rc == 0 && q->want_value) {
        rc = add_output(outs, q, "value", q->out, NULL, 0);
    }
    if (rc == 0 && q->want_expl) {
        rc = add_output(outs, q, "explanation", NULL, q->attr, q->k);
    }
    if (rc != 0) {
        cJSON_Delete(reply);
        return rc;
    }
    srv_metrics_predictions_model(q->r->app->metrics, q->sm->name, (unsigned long)q->n);
    return srv_http_reply_json(q->r, 200, reply);
}

int srv_api_kserve_infer(struct srv_req *r)
{
    struct infer q;

    memset(&q, 0, sizeof(q));
    q.r = r;
    int rc = infer_parse(&q) != 0 || infer_match(&q) != 0 || infer_predict(&q) != 0
                 ? q.rc
                 : infer_reply(&q);
    for (long i = 0; q.ts != NULL && i < q.nt; i++) {
        nn_free(q.ts[i].leaf);
    }
    nn_free(q.ts);
    nn_free(q.colmap);
    nn_free(q.out);
    nn_free(q.attr);
    cJSON_Delete(q.doc);
    srv_registry_release(q.sm);
    return rc;
}
