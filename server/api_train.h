/*
 * api_train: POST /train (accept a CSV and parameters, check them, queue a job: 202) and
 * the job runner a worker calls for each queued job (train, then store the new version and
 * mark the job succeeded in one transaction, or fail / re-queue it).
 *
 * A request is refused at once (400, no job) when a parameter is unknown or out of range
 * or the CSV is malformed (with its line and column); 429 when the queue is full. The
 * upload stays in the spool directory under its server-made name until the job ends.
 * Thread-safety: the handler runs on MHD threads; the runner on worker threads.
 */
#ifndef NEUROND_SERVER_API_TRAIN_H
#define NEUROND_SERVER_API_TRAIN_H

#include <stdatomic.h>

#include "http.h"

struct model_params;
struct srv_app;
struct store_job;

/* The form key of a retraining job (POST /models/<name>/retrain): its challenger must pass
   the champion/challenger gate before it is served. Not a training parameter. */
#define SRV_FORM_GATE "gate"

/** POST /train */
int srv_api_train_post(struct srv_req *r);

/**
 * Writes a job's texts: job->params, the JSON of p (the API's "params"), and job->form, the
 * JSON of form (the parameters as sent).
 * @return 0 or NN_ENOMEM (then neither is set). Ownership: srv_api_train_texts_fini frees both.
 */
int srv_api_train_texts(struct store_job *job, const struct model_params *p, const cJSON *form);

/** Frees the texts srv_api_train_texts wrote into job and clears them (none: a no-op). */
void srv_api_train_texts_fini(struct store_job *job);

/**
 * Queues a job the server made itself (a retraining): reserves a queue slot, gives the job a
 * new id, stores it with the file at path as its dataset, and hands it to a worker.
 * Reads model, epochs, params, form, spool, rows, columns, bytes, sha256 from job.
 * @return 0, NN_ERANGE (the queue is full), or the store's error (nothing stays).
 */
int srv_api_train_submit(struct srv_app *app, struct store_job *job, const char *path,
                         struct nn_err *err);

/**
 * Runs job id (srv_jobs_run_fn; ud is the struct srv_app). Writes every outcome to the store.
 */
void srv_api_train_run(void *ud, const char *id, atomic_int *cancel);

#endif
