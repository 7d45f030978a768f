/*
 * api_models: the model resource — list, card (serving or one version), delete (whole or
 * one version), pin/un-pin the serving version, export and import — plus the registry's
 * loader (store blob -> model) and the model-name rule of API.md.
 * Every change to a model invalidates its registry entries, so the next prediction serves
 * the new state with no restart.
 * Thread-safety: handlers run on MHD threads, any number at once.
 */
#ifndef NEUROND_SERVER_API_MODELS_H
#define NEUROND_SERVER_API_MODELS_H

#include "http.h"

struct model;

/** 1 when name matches [A-Za-z0-9][A-Za-z0-9_.-]{0,63}. */
int srv_api_model_name_ok(const char *name);

/**
 * srv_registry_load_fn over the store (ud is the struct store): reads the blob of a version
 * (0 = serving) and decodes it.
 */
int srv_api_models_load(void *ud, const char *name, int version, int *got, struct model **out,
                        struct nn_err *err);

/** srv_registry_free_fn: model_free. */
void srv_api_models_free(struct model *m);

/** GET /models */
int srv_api_models_list(struct srv_req *r);
/** GET /models/<name> and GET /models/<name>/versions/<v> */
int srv_api_models_get(struct srv_req *r);
/** DELETE /models/<name> and DELETE /models/<name>/versions/<v> */
int srv_api_models_delete(struct srv_req *r);
/** PUT /models/<name>/serving {"version": n | null} */
int srv_api_models_serving(struct srv_req *r);
/** GET /models/<name>[/versions/<v>]/export[?version=v&format=json|onnx] (onnx: api_onnx.h) */
int srv_api_models_export(struct srv_req *r);
/** POST /models/<name>/import: export JSON, or application/onnx (api_onnx.h) */
int srv_api_models_import(struct srv_req *r);

#endif
