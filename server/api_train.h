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

/** POST /train */
int srv_api_train_post(struct srv_req *r);

/**
 * Runs job id (srv_jobs_run_fn; ud is the struct srv_app). Writes every outcome to the store.
 */
void srv_api_train_run(void *ud, const char *id, atomic_int *cancel);

#endif
