/*
 * api_predict: predictions from JSON instances or a CSV body.
 *
 * JSON: one registry reference for the whole request, one scratch vector, and the reply
 * written straight into one buffer (json_write). The common body, rows of numbers for an
 * all-numeric model, is read by predict_read without a cJSON tree and predicted by
 * model_predict_num with no allocation but the reply's; every other body, and every
 * error, goes the general cJSON way.
 * Probabilities are floats; they are printed at float precision (7 significant digits) so
 * 0.98f reads 0.98, not 0.98000001907348633. The label is the most probable class; a binary
 * model's is its positive class when that class's probability reaches the model's decision
 * threshold (0.5 unless set by threshold= or target_fpr= at training).
 * "explain" (api_explain.h) adds each prediction's explanation (model/explain.c), written
 * straight into the reply too: rows of numbers with "explain": true stay on the fast path
 * (model_explain_num, explanation_write); the general way prints model_expl_to_json's tree
 * with srv_json_tree, at the same float precision, so both give the same bytes.
 * CSV: the body was spooled to a file by the HTTP layer; the reply is written by
 * model_predict_csv into an unlinked temporary file in the spool directory and sent from
 * that file descriptor, so neither side is ever whole in memory; ?explain=1 adds one
 * attr_<input> column per input.
 */
#include "api_predict.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_explain.h"
#include "api_models.h"
#include "json_write.h"
#include "metrics.h"
#include "model/model.h"
#include "nn/alloc.h"
#include "predict_read.h"
#include "registry.h"
#include "tab/buf.h"

/* A reply larger than this is refused (500) rather than grown further. */
#define REPLY_MAX ((size_t)1 << 30)

/* One prediction object from the model's output vector. */
static void prediction_write(struct tab_buf *b, const struct model *m, const float *out)
{
    int k = model_n_classes(m);

    if (model_task(m) == NN_TASK_REGRESSION || k == 0) {
        srv_json_raw(b, "{\"value\":");
        srv_json_float(b, out[0]);
        srv_json_raw(b, "}");
        return;
    }
    srv_json_raw(b, "{\"label\":");
    srv_json_str(b, model_class(m, model_decide(m, out)));
    if (k == 2) {
        srv_json_raw(b, ",\"probability\":");
        srv_json_float(b, out[1]);
    }
    srv_json_raw(b, ",\"probabilities\":{");
    for (int c = 0; c < k; c++) {
        srv_json_member_float(b, c == 0, model_class(m, c), out[c]);
    }
    srv_json_raw(b, "}}");
}

/* The explanation of a model without text inputs, written straight (the fast path's): the
 * bytes srv_json_tree gives for model_expl_to_json's tree, without building it. */
static void explanation_write(struct tab_buf *b, const struct model *m, const struct model_expl *ex,
                              size_t *ord)
{
    struct model_expl_info info;
    int i, n = model_n_inputs(m);

    model_expl_info(ex, &info);
    srv_json_raw(b, "{");
    if (info.cls >= 0) {
        srv_json_raw(b, "\"class\":");
        srv_json_str(b, model_class(m, info.cls));
    }
    srv_json_member_float(b, info.cls < 0, "output", (float)info.output);
    srv_json_member_float(b, 0, "baseline", (float)info.baseline);
    srv_json_raw(b, ",\"baseline_source\":");
    srv_json_str(b, info.baseline_source);
    srv_json_raw(b, ",\"attributions\":{");
    model_expl_order(m, ex, ord);
    for (i = 0; i < n; i++) {
        srv_json_member_float(b, i == 0, model_input_name(m, (int)ord[i]),
                              (float)model_expl_input(ex, (int)ord[i]));
    }
    srv_json_raw(b, "},\"completeness\":{");
    srv_json_member_float(b, 1, "sum", (float)info.sum);
    srv_json_member_float(b, 0, "error", (float)info.error);
    srv_json_raw(b, ",\"steps\":");
    srv_json_int(b, info.steps);
    srv_json_raw(b, info.converged ? ",\"converged\":true}}" : ",\"converged\":false}}");
}

/* Sends {"model", "version", "predictions": [...]} for rows outputs of k values each, and counts
 * the predictions; each prediction with its explanation when expl (cJSON trees) or exs (fast
 * path: models without text inputs) is not NULL. */
static int reply_predictions(struct srv_req *r, const struct srv_model *sm, const float *out,
                             size_t rows, size_t k, cJSON *const *expl,
                             struct model_expl *const *exs)
{
    size_t *ord = NULL;

    struct tab_buf b;

    if (exs != NULL) {
        ord = nn_calloc((size_t)model_n_inputs(sm->model) + 1, sizeof(size_t));
        if (ord == NULL) {
            return NN_ENOMEM;
        }
    }
    tab_buf_init(&b, REPLY_MAX);
    srv_json_raw(&b, "{\"model\":");
    srv_json_str(&b, sm->name);
    srv_json_raw(&b, ",\"version\":");
    srv_json_int(&b, sm->version);
    srv_json_raw(&b, ",\"predictions\":[");
    for (size_t i = 0; i < rows; i++) {
        if (i > 0) {
            srv_json_raw(&b, ",");
        }
        prediction_write(&b, sm->model, out + i * k);
        if (expl != NULL && !b.failed) {
            b.len--; /* the prediction's closing brace */
            srv_json_raw(&b, ",\"explanation\":");
            srv_json_tree(&b, expl[i]);
            srv_json_raw(&b, "}");
        } else if (exs != NULL && !b.failed) {
            b.len--;
            srv_json_raw(&b, ",\"explanation\":");
            explanation_write(&b, sm->model, exs[i], ord);
            srv_json_raw(&b, "}");
        }
    }
    nn_free(ord);
    srv_json_raw(&b, "]}");
    if (b.failed) {
        tab_buf_fini(&b);
        return NN_ENOMEM;
    }
    srv_metrics_predictions_model(r->app->metrics, sm->name, (unsigned long)rows);
    return srv_http_reply_buffer(r, 200, "application/json; charset=utf-8", (char *)b.data, b.len);
}

/* The common body answered without cJSON: 1 when it was, 0 when the general way runs. */
static int predict_fast(struct srv_req *r)
{
    struct srv_predict_doc doc;
    struct srv_model *sm = NULL;
    struct nn_err err;
    float stack_out[256], *out = stack_out;
    struct model_expl **exs = NULL;
    size_t i;
    int done = 0;

    if (!srv_predict_read(r->body, r->body_len, &doc) || r->app->cfg->max_json_depth < 3 ||
        (long)doc.rows > r->app->cfg->max_instances) {
        goto out;
    }
    const char *name = r->n_args > 0 ? r->args[0] : doc.model;
    if (!srv_api_model_name_ok(name) ||
        srv_registry_get(r->app->reg, name, doc.has_version ? doc.version : 0, &sm, &err) != 0) {
        goto out; /* the general way names the fault */
    }
    const struct model *m = sm->model;
    size_t k = (size_t)(model_n_classes(m) > 1 ? model_n_classes(m) : 1);
    if ((size_t)model_n_inputs(m) != doc.width) {
        goto out;
    }
    if (doc.rows * k > sizeof(stack_out) / sizeof(float)) {
        out = nn_malloc(doc.rows * k * sizeof(float));
    }
    if (out == NULL) {
        goto out;
    }
    if (doc.explain) {
        exs = nn_calloc(doc.rows + 1, sizeof(*exs));
        for (i = 0; exs != NULL && i < doc.rows; i++) {
            if (model_explain_num(m, doc.x + i * doc.width, -1, out + i * k, &exs[i], &err) != 0) {
                break;
            }
        }
        if (exs == NULL || i < doc.rows) {
            goto out; /* the general way names the fault (or answers 500) */
        }
    } else if (model_predict_num(m, doc.x, doc.rows, out, &err) != 0) {
        goto out; /* a non-numeric input, or no memory: the general way answers */
    }
    /* a reply too big for memory goes the general way too, which answers 500 */
    done = reply_predictions(r, sm, out, doc.rows, k, NULL, exs) != NN_ENOMEM;
out:
    for (i = 0; exs != NULL && i < doc.rows; i++) {
        model_expl_free(exs[i]);
    }
    nn_free(exs);
    if (out != stack_out) {
        nn_free(out);
    }
    srv_registry_release(sm);
    srv_predict_doc_fini(&doc);
    return done;
}

static int predict_json(struct srv_req *r)
{
    cJSON **expl = NULL;
    struct srv_model *sm = NULL;
    struct nn_err err;
    float *out = NULL;
    char field[200];
    int version = 0;
    int rc = 0;

    if (predict_fast(r)) {
        return 0;
    }
    cJSON *doc = srv_http_json_body(r);
    if (doc == NULL) {
        return 0;
    }
    if (!cJSON_IsObject(doc)) {
        rc = srv_http_reply_field(r, 400, "", -1,
                                  "the body must be a JSON object with \"instances\"");
        goto out;
    }
    const char *name = NULL;
    if (r->n_args > 0) {
        name = r->args[0];
    } else {
        const cJSON *mj = cJSON_GetObjectItemCaseSensitive(doc, "model");
        if (!cJSON_IsString(mj)) {
            rc = srv_http_reply_field(r, 400, "model", -1,
                                      "\"model\" (a model name) is required; or POST to "
                                      "/models/<name>/predict");
            goto out;
        }
        name = mj->valuestring;
    }
    if (!srv_api_model_name_ok(name)) {
        rc = srv_http_reply_error(r, 404, NULL, "no model '%.64s'", name);
        goto out;
    }
    const cJSON *vj = cJSON_GetObjectItemCaseSensitive(doc, "version");
    if (vj != NULL && !cJSON_IsNull(vj)) {
        if (!cJSON_IsNumber(vj) || vj->valuedouble < 1 || vj->valuedouble > 1e9 ||
            vj->valuedouble != (double)(int)vj->valuedouble) {
            rc = srv_http_reply_field(r, 400, "version", -1,
                                      "\"version\" must be a positive integer");
            goto out;
        }
        version = (int)vj->valuedouble;
    }
    const cJSON *inst = cJSON_GetObjectItemCaseSensitive(doc, "instances");
    if (!cJSON_IsArray(inst)) {
        rc = srv_http_reply_field(r, 400, "instances", -1, "\"instances\" (an array) is required");
        goto out;
    }
    long n = (long)cJSON_GetArraySize(inst);
    if (n > r->app->cfg->max_instances) {
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddStringToObject(d, "field", "instances");
            cJSON_AddNumberToObject(d, "limit", (double)r->app->cfg->max_instances);
        }
        rc = srv_http_reply_error(r, 413, d, "%ld instances: at most %ld per request", n,
                                  r->app->cfg->max_instances);
        goto out;
    }
    int top = 0;
    if (srv_explain_json(r, cJSON_GetObjectItemCaseSensitive(doc, "explain"), "explain", &top,
                         &rc) != 0) {
        goto out;
    }
    rc = srv_registry_get(r->app->reg, name, version, &sm, &err);
    if (rc != 0) {
        rc = srv_http_reply_nn(r, rc, &err, 400, NULL);
        goto out;
    }
    const struct model *m = sm->model;
    if (top > 0) {
        expl = nn_calloc((size_t)(n > 0 ? n : 1), sizeof(cJSON *));
        if (expl == NULL) {
            rc = NN_ENOMEM;
            goto out;
        }
    }
    size_t k = (size_t)(model_n_classes(m) > 1 ? model_n_classes(m) : 1);
    out = nn_calloc((size_t)(n > 0 ? n : 1) * k, sizeof(float));
    if (out == NULL) {
        rc = NN_ENOMEM;
        goto out;
    }
    long i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, inst)
    {
        if (!cJSON_IsObject(it) && !cJSON_IsArray(it)) {
            snprintf(field, sizeof(field), "instances[%ld]", i);
            rc = srv_http_reply_field(r, 422, field, i,
                                      "each instance must be an object (by input name) or an array "
                                      "(in input order)");
            goto out;
        }
        nn_err_clear(&err);
        if (expl != NULL) {
            struct model_expl *ex = NULL;

            rc = model_explain_json(m, it, -1, out + (size_t)i * k, &ex, &err);
            if (rc == 0) {
                expl[i] = model_expl_to_json(m, ex, top);
                model_expl_free(ex);
                rc = expl[i] == NULL ? nn_err_set(&err, NN_ENOMEM, "out of memory") : 0;
            }
        } else {
            rc = model_predict_json(m, it, out + (size_t)i * k, &err);
        }
        if (rc != 0) {
            if (err.field[0] != '\0') {
                snprintf(field, sizeof(field), "instances[%ld].%s", i, err.field);
            } else {
                snprintf(field, sizeof(field), "instances[%ld]", i);
            }
            char msg[400];
            snprintf(msg, sizeof(msg), "instance %ld: %s", i, err.msg);
            rc = srv_http_reply_field(r, rc == NN_ENOMEM ? 500 : 422, field, i, msg);
            goto out;
        }
        i++;
    }
    rc = reply_predictions(r, sm, out, (size_t)n, k, expl, NULL);
out:
    if (expl != NULL) {
        for (long e = 0; e < n; e++) {
            cJSON_Delete(expl[e]);
        }
        nn_free(expl);
    }
    srv_registry_release(sm);
    cJSON_Delete(doc);
    nn_free(out);
    return rc;
}

/* Answers a failed write of the CSV reply to the spool: 507 when the disk is full (errno
 * ENOSPC or EDQUOT, saved by the caller right after the failing call), else 500; both are
 * storage errors in the metrics. */
static int reply_spool_error(struct srv_req *r, int saved_errno)
{
    if (saved_errno == ENOSPC || saved_errno == EDQUOT) {
        return srv_http_reply_error(r, 507, NULL, "no space left on the spool to write the reply");
    }
    srv_metrics_store_error(r->app->metrics);
    return srv_http_reply_error(r, 500, NULL, "cannot write the reply: %s", strerror(saved_errno));
}

static int predict_csv(struct srv_req *r)
{
    struct srv_model *sm = NULL;
    struct model_limits lim;
    struct nn_err err;
    FILE *in = NULL, *out = NULL;
    char tmpl[SRV_CONFIG_STR_MAX + 32];
    int version = 0;
    int rc = 0;
    char delim = ',';

    nn_err_clear(&err);
    const char *name = r->n_args > 0 ? r->args[0] : srv_http_query(r, "model");
    if (name == NULL) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "parameter", "model");
        return srv_http_reply_error(r, 400, d, "?model=<name> is required with a text/csv body");
    }
    if (!srv_api_model_name_ok(name)) {
        return srv_http_reply_error(r, 404, NULL, "no model '%.64s'", name);
    }
    const char *q = srv_http_query(r, "version");
    if (q != NULL) {
        char *end = NULL;
        long v = strtol(q, &end, 10);
        if (end == q || *end != '\0' || v < 1 || v > 1000000000L) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "parameter", "version");
            return srv_http_reply_error(r, 400, d, "version must be a positive integer");
        }
        version = (int)v;
    }
    const char *dq = srv_http_query(r, "delimiter");
    if (dq != NULL) {
        if (strcmp(dq, ",") == 0 || strcmp(dq, ";") == 0 || strcmp(dq, "\t") == 0) {
            delim = dq[0];
        } else if (strcmp(dq, "tab") == 0 || strcmp(dq, "\\t") == 0) {
            delim = '\t';
        } else {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "parameter", "delimiter");
            return srv_http_reply_error(r, 400, d, "delimiter must be ',', ';' or a tab");
        }
    }
    int top = 0;
    if (srv_explain_query(r, &top, &rc) != 0) {
        return rc;
    }
    rc = srv_registry_get(r->app->reg, name, version, &sm, &err);
    if (rc != 0) {
        return srv_http_reply_nn(r, rc, &err, 400, NULL);
    }
    if (r->spool_name[0] == '\0') {
        rc = srv_http_reply_error(r, 400, NULL, "the CSV body is empty");
        goto out;
    }
    in = fopen(r->spool_path, "rb");
    snprintf(tmpl, sizeof(tmpl), "%s/out-XXXXXX", r->app->spool_dir);
    int fd = mkstemp(tmpl);
    int saved = errno;
    if (fd >= 0) {
        unlink(tmpl);
        out = fdopen(fd, "w+b");
        saved = errno;
        if (out == NULL) {
            close(fd);
        }
    }
    if (in == NULL || out == NULL) {
        rc = in != NULL ? reply_spool_error(r, saved)
                        : srv_http_reply_error(r, 500, NULL, "cannot open the spool files");
        goto out;
    }
    model_limits_default(&lim);
    errno = 0;
    rc = model_predict_csv(sm->model, in, out, delim, top > 0, &lim, &err);
    saved = errno; /* a failed write leaves ferror(out) and its errno */
    if (rc != 0 && ferror(out)) {
        rc = reply_spool_error(r, saved);
        goto out;
    }
    if (rc != 0) {
        /* NN_ERANGE here is a CSV reader limit (columns, field length, rows): 400 as at /train;
         * NN_EINVAL a missing column or a bad value: 422 */
        rc = srv_http_reply_nn(r, rc, &err, rc == NN_ERANGE ? 400 : 422, NULL);
        goto out;
    }
    if (fflush(out) != 0) {
        rc = reply_spool_error(r, errno);
        goto out;
    }
    long size = ftell(out);
    int rfd = dup(fileno(out));
    if (size < 0 || rfd < 0) {
        if (rfd >= 0) {
            close(rfd);
        }
        rc = srv_http_reply_error(r, 500, NULL, "cannot send the reply");
        goto out;
    }
    rc = srv_http_reply_fd(r, 200, "text/csv; charset=utf-8", rfd, (unsigned long long)size);
out:
    if (in != NULL) {
        fclose(in);
    }
    if (out != NULL) {
        fclose(out);
    }
    srv_registry_release(sm);
    return rc;
}

int srv_api_predict_post(struct srv_req *r)
{
    if (r->body_kind == SRV_BODY_CSV) {
        return predict_csv(r);
    }
    if (r->body_kind == SRV_BODY_JSON) {
        return predict_json(r);
    }
    return srv_http_reply_error(r, 400, NULL,
                                "send the instances as a JSON body, or a CSV as text/csv");
}
