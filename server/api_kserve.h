/*
 * api_kserve: the KServe V2 / Open Inference Protocol REST endpoints (API.md, last section),
 * so that existing KServe and Triton HTTP clients can call neurond unchanged: server
 * metadata, liveness and readiness, model metadata and readiness, and inference with
 * `inputs`/`outputs` tensors.
 *
 * Inference reuses the models the registry serves to /predict: the tensors are turned into
 * one row of cells per instance (model_predict_cells), so a KServe call and a /predict
 * call give the same numbers. Only the JSON tensor form is spoken (no binary extension).
 * Thread-safety: handlers run on MHD threads, any number at once.
 */
#ifndef NEUROND_SERVER_API_KSERVE_H
#define NEUROND_SERVER_API_KSERVE_H

#include "http.h"

/** GET /v2: server metadata {"name", "version", "extensions"}. */
int srv_api_kserve_server(struct srv_req *r);

/** GET /v2/health/live: 200 {"live": true} while the process serves. */
int srv_api_kserve_live(struct srv_req *r);

/** GET /v2/health/ready: 200 {"ready": true} once the store is open; 503 otherwise. */
int srv_api_kserve_ready(struct srv_req *r);

/**
 * GET /v2/models/<name>[/versions/<v>]: model metadata {"name", "versions", "platform",
 * "inputs", "outputs"} with the tensors infer accepts and returns. 404 for no such model.
 */
int srv_api_kserve_model(struct srv_req *r);

/** GET /v2/models/<name>[/versions/<v>]/ready: 200 {"name", "ready": true}, or 404. */
int srv_api_kserve_model_ready(struct srv_req *r);

/**
 * POST /v2/models/<name>[/versions/<v>]/infer: an inference request {"id"?, "parameters"?,
 * "inputs": [...], "outputs"?: [...]} answered with {"model_name", "model_version", "id"?,
 * "outputs": [...]}. 400 for a malformed request (shape and data disagree, bad datatype),
 * 422 when the tensors do not fit the model (unknown or missing input), 404 for no model.
 */
int srv_api_kserve_infer(struct srv_req *r);

#endif
