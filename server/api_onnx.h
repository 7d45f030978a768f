/*
 * api_onnx: the ONNX side of the model resource (model/onnx.h) — the graph a model exports as
 * (GET /models/<name>[/versions/<v>]/export?format=onnx) and the model an application/onnx
 * import body makes (POST /models/<name>/import). api_models.c routes to these calls and keeps
 * the rest (registry, store, cards).
 * Thread-safety: handlers' helpers, any number at once.
 */
#ifndef NEUROND_SERVER_API_ONNX_H
#define NEUROND_SERVER_API_ONNX_H

#include "http.h"

struct model;

/**
 * Replies 200 with m as an ONNX model (application/onnx), or 422 naming the column a model with
 * a text input cannot export (details.field).
 * @return what the reply call returns.
 */
int srv_api_onnx_export(struct srv_req *r, const struct model *m, const char *name, int version);

/**
 * Reads the request's application/onnx body into a model, with the query parameters inputs,
 * classes, label and task, under --max-params and --max-csv-columns. On failure replies 400
 * (not a protobuf ModelProto, a limit) or 422 (a node outside the subset: details.node and
 * details.op; a bad parameter: details.parameter) and returns -1.
 * @return 0 with *out a new model (model_free), or -1 replied.
 */
int srv_api_onnx_read(struct srv_req *r, struct model **out);

#endif
