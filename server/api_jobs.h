/*
 * api_jobs: the job resource — GET /jobs (filters status, model, limit), GET /jobs/<id>,
 * DELETE /jobs/<id> and POST /jobs/<id>/cancel (409 once finished), GET /jobs/<id>/events
 * (server-sent events: the history so far, live epochs, then `done` with the job) — and the
 * one function that renders a stored job as the job object of API.md.
 * Thread-safety: handlers run on MHD threads, any number at once.
 */
#ifndef NEUROND_SERVER_API_JOBS_H
#define NEUROND_SERVER_API_JOBS_H

#include <cJSON.h>

#include "http.h"

struct store;
struct store_job;

/**
 * Renders a job as API.md's job object.
 * @param with_history [in] non-zero to read and add "history" from the store.
 * @return a new object (cJSON_Delete), or NULL when out of memory or the store fails.
 */
cJSON *srv_api_job_json(struct store *s, const struct store_job *j, int with_history);

/**
 * Renders one history row ({"epoch", "train_loss", "val_loss", "val_accuracy" or
 * "val_rmse", "seconds"}). @param metric [in] the name of the validation metric.
 */
cJSON *srv_api_job_epoch_json(int epoch, double train_loss, double val_loss, double val_metric,
                              double seconds, const char *metric);

/** GET /jobs */
int srv_api_jobs_list(struct srv_req *r);
/** GET /jobs/<id> */
int srv_api_jobs_get(struct srv_req *r);
/** DELETE /jobs/<id> and POST /jobs/<id>/cancel */
int srv_api_jobs_cancel(struct srv_req *r);
/** GET /jobs/<id>/events */
int srv_api_jobs_events(struct srv_req *r);

#endif
