/*
 * api_onnx: ONNX export replies and import bodies (api_onnx.h). The mapping itself is
 * model/onnx_export.c and model/onnx_import.c; this file turns their errors into replies.
 */
#include "api_onnx.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "model/onnx.h"
#include "nn/alloc.h"

int srv_api_onnx_export(struct srv_req *r, const struct model *m, const char *name, int version)
{
    unsigned char *buf = NULL;
    struct nn_err err;
    size_t len = 0;
    char disp[160];

    nn_err_clear(&err);
    int rc = model_onnx_export(m, &buf, &len, &err);
    if (rc != 0) {
        cJSON *d = cJSON_CreateObject();
        if (d != NULL && err.field[0] != '\0') {
            cJSON_AddStringToObject(d, "field", err.field);
        }
        return srv_http_reply_nn(r, rc, &err, 422, d);
    }
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s-v%d.onnx\"", name, version);
    srv_http_add_header(r, "Content-Disposition", disp);
    return srv_http_reply_buffer(r, 200, "application/onnx", (char *)buf, len);
}

int srv_api_onnx_read(struct srv_req *r, struct model **out)
{
    const struct srv_config *cfg = r->app->cfg;
    struct model_onnx_opts o = {0};
    struct nn_err err;

    *out = NULL;
    nn_err_clear(&err);
    o.inputs = srv_http_query(r, "inputs");
    o.classes = srv_http_query(r, "classes");
    o.label = srv_http_query(r, "label");
    o.task = srv_http_query(r, "task");
    o.max_params = (size_t)cfg->max_params;
    o.max_inputs = (size_t)cfg->max_csv_columns;
    if (r->body == NULL || r->body_len == 0) {
        srv_http_reply_error(r, 400, NULL, "the body must be an ONNX model (application/onnx)");
        return -1;
    }
    int rc = model_onnx_import((const unsigned char *)r->body, r->body_len, &o, out, &err);
    if (rc == 0) {
        return 0;
    }
    cJSON *d = cJSON_CreateObject();
    if (d != NULL && err.field[0] != '\0') {
        /* an option names itself; a node is named with its op (the message says which) */
        int opt = strcmp(err.field, "inputs") == 0 || strcmp(err.field, "classes") == 0 ||
                  strcmp(err.field, "label") == 0 || strcmp(err.field, "task") == 0;
        cJSON_AddStringToObject(d, opt ? "parameter" : "node", err.field);
        if (!opt && err.line > 0) {
            cJSON_AddNumberToObject(d, "node_index", (double)(err.line - 1));
        }
    }
    if (rc == NN_ERANGE) {
        rc = NN_EINVAL;
        srv_http_reply_nn(r, rc, &err, 400, d);
    } else {
        srv_http_reply_nn(r, rc, &err, 422, d);
    }
    return -1;
}
