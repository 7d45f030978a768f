/*
 * store: the daemon's persistent state — models and their versions (blob + card), the
 * serving pin, training jobs with their per-epoch history, and uploaded datasets.
 *
 * This header is the whole storage interface; store_sqlite.c implements it on SQLite (WAL,
 * busy timeout, foreign keys, prepared statements only, one connection per thread at a time
 * from a small pool), and a PostgreSQL backend would be another store_<x>.c behind the same
 * calls, as ae_epoll.c sits behind ae.c. No SQL appears anywhere else.
 * Every state change that must be atomic is one call here: a new version together with its
 * job's success, a cancel, a re-queue. Schema migrations run in store_open.
 * Thread-safety: every function may be called from any thread at once; each takes a
 * connection from the pool for the length of the call.
 */
#ifndef NEUROND_SERVER_STORE_H
#define NEUROND_SERVER_STORE_H

#include <stddef.h>

#include "nn/err.h"

#define STORE_ID_MAX   40 /* job ids (32 hex + NUL fits) */
#define STORE_NAME_MAX 72 /* model names are at most 64 bytes */
#define STORE_TIME_MAX 32 /* "2026-11-27T16:00:00Z" */

enum store_job_status {
    STORE_JOB_QUEUED = 0,
    STORE_JOB_RUNNING = 1,
    STORE_JOB_SUCCEEDED = 2,
    STORE_JOB_FAILED = 3,
    STORE_JOB_CANCELLED = 4
};
#define STORE_JOB_N_STATUS 5

struct store;

/* A job as stored. Strings marked JSON are JSON texts. Owned by the struct. */
struct store_job {
    char id[STORE_ID_MAX];
    char model[STORE_NAME_MAX];
    int status;        /* enum store_job_status */
    double progress;   /* 0..1 */
    int epoch, epochs; /* last finished epoch, maximum */
    char *params;      /* JSON object: the API's "params" */
    char *form;        /* JSON object: the parameters as sent, strings */
    char spool[64];    /* dataset file name inside the spool directory */
    long long rows, columns, bytes;
    char sha256[65];
    char *metrics;     /* JSON object or NULL */
    int model_version; /* 0 = none */
    char *error_code;  /* NULL unless failed */
    char *error_message;
    char created_at[STORE_TIME_MAX], started_at[STORE_TIME_MAX], finished_at[STORE_TIME_MAX];
};

/* One finished epoch of a job. val_* are NaN when there was no validation set. */
struct store_epoch {
    int epoch;
    double train_loss, val_loss, val_metric, seconds;
    int regression; /* 1: val_metric is an RMSE; 0: an accuracy */
};

/* A model version as stored, with its model's serving state. Owned by the struct. */
struct store_version {
    char model[STORE_NAME_MAX];
    int version;
    int serving;         /* the version served now (pinned or newest) */
    int pinned;          /* 0 = not pinned */
    unsigned char *blob; /* NULL unless asked for */
    size_t blob_len;
    char *card;                /* JSON object (model_card) */
    char *metrics;             /* JSON object */
    char job_id[STORE_ID_MAX]; /* "" for an imported version */
    char created_at[STORE_TIME_MAX];
    char model_created_at[STORE_TIME_MAX];
    int *versions; /* every version of the model, ascending */
    int n_versions;
};

/* A new version to store. */
struct store_version_new {
    const char *model;
    const unsigned char *blob;
    size_t blob_len;
    const char *card;       /* JSON */
    const char *metrics;    /* JSON */
    const char *job_id;     /* NULL for an import; else the running job it completes */
    const char *job_params; /* JSON: the job's final "params" (with job_id) */
    int job_epoch;          /* the job's final epoch (with job_id) */
};

/** Name of a status ("queued", ...); "unknown" when out of range. */
const char *store_job_status_name(int status);
/** Status from its name; -1 when unknown. */
int store_job_status_parse(const char *name);

/**
 * Opens (creating if needed) the database at path and brings its schema up to date: every
 * embedded migration newer than the recorded one is applied in order, each inside a
 * transaction and recorded in schema_migrations. Re-opening is a no-op.
 * @return 0; NN_ERANGE when the database's schema is newer than this binary knows (nothing
 *         is changed); NN_EIO when it cannot be opened or migrated.
 * Ownership: *out is new; store_close. NULL on failure.
 */
int store_open(const char *path, struct store **out, struct nn_err *err);

/** Closes every pooled connection and frees the store. NULL-safe. No call may be running. */
void store_close(struct store *s);

/** The schema version recorded in the database. @param v [out]. */
int store_schema_version(struct store *s, int *v, struct nn_err *err);

/** The newest schema version this binary knows (its last embedded migration). */
int store_schema_version_known(void);

/**
 * Inserts a new queued job and its dataset in one transaction. Reads id, model, epochs,
 * params, form, spool, rows, columns, bytes, sha256 from j.
 * @return 0 or NN_EIO (NN_EINVAL for a duplicate id).
 */
int store_job_create(struct store *s, const struct store_job *j, struct nn_err *err);

/**
 * Reads one job. @return 0 or NN_ENOTFOUND.
 * Ownership: *out is new; store_job_free. NULL on failure.
 */
int store_job_get(struct store *s, const char *id, struct store_job **out, struct nn_err *err);

/** Frees a job. NULL-safe. */
void store_job_free(struct store_job *j);

/**
 * Lists jobs, newest first.
 * @param status [in] -1 for any. @param model [in] NULL for any. @param limit [in] at most.
 * @param out, n [out] a new array of n jobs; store_job_list_free.
 */
int store_job_list(struct store *s, int status, const char *model, int limit,
                   struct store_job ***out, size_t *n, struct nn_err *err);

/** Frees a list from store_job_list. NULL-safe. */
void store_job_list_free(struct store_job **jobs, size_t n);

/**
 * Reads a job's history, epoch ascending. @param out, n [out] new array; nn_free.
 */
int store_job_history(struct store *s, const char *id, struct store_epoch **out, size_t *n,
                      struct nn_err *err);

/**
 * Moves a queued job to running (started_at = now) and returns it.
 * @return 0, or NN_ENOTFOUND when there is no such job or it is not queued (cancelled).
 * Ownership: *out is new; store_job_free.
 */
int store_job_claim(struct store *s, const char *id, struct store_job **out, struct nn_err *err);

/**
 * Records one finished epoch of a running job (its epoch, progress and history row) in one
 * transaction. @return 0, or NN_ECANCELED when the job is no longer running.
 */
int store_job_progress(struct store *s, const char *id, const struct store_epoch *e,
                       struct nn_err *err);

/**
 * Marks a running job failed with an error code and message.
 * @return 0, or NN_ECANCELED when the job is no longer running (nothing changed).
 */
int store_job_fail(struct store *s, const char *id, const char *code, const char *message,
                   struct nn_err *err);

/**
 * Cancels a queued or running job (status cancelled, finished_at = now).
 * @return 0, NN_ENOTFOUND, or NN_ERANGE when the job had already finished.
 */
int store_job_cancel(struct store *s, const char *id, struct nn_err *err);

/**
 * Puts a running job back to queued (progress, epoch and history cleared), for a daemon that
 * stops while training. @return 0 or NN_ECANCELED when it was not running.
 */
int store_job_requeue(struct store *s, const char *id, struct nn_err *err);

/**
 * At start-up: moves every running job back to queued and lists every queued job, oldest
 * first, so they can be queued again. @param ids, n [out] new array of ids; nn_free.
 */
int store_jobs_recover(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err);

/** Counts jobs by status. @param counts [out] indexed by enum store_job_status. */
int store_jobs_count(struct store *s, long counts[STORE_JOB_N_STATUS], struct nn_err *err);

/**
 * Tells whether a spool file belongs to a queued or running job.
 * @param in_use [out] 1 or 0.
 */
int store_spool_in_use(struct store *s, const char *spool, int *in_use, struct nn_err *err);

/**
 * Stores a new version of a model (creating the model at version 1 when needed) and, when
 * v->job_id is set, marks that job succeeded with its metrics, params and the version, all in
 * one transaction: either both are visible or neither.
 * @param version [out] the new version number.
 * @return 0; NN_ECANCELED when the job is no longer running (nothing stored); NN_EIO.
 */
int store_version_put(struct store *s, const struct store_version_new *v, int *version,
                      struct nn_err *err);

/**
 * Reads one version of a model.
 * @param version [in] the version, or 0 for the serving one (pinned, else the newest).
 * @param with_blob [in] non-zero to read the blob too.
 * @return 0 or NN_ENOTFOUND (no such model, or it has no such version / no versions).
 * Ownership: *out is new; store_version_free.
 */
int store_version_get(struct store *s, const char *model, int version, int with_blob,
                      struct store_version **out, struct nn_err *err);

/** Frees a version. NULL-safe. */
void store_version_free(struct store_version *v);

/**
 * Lists every model that has at least one version: its serving version (card, no blob),
 * name ascending. @param out, n [out] new array; store_version_list_free.
 */
int store_model_list(struct store *s, struct store_version ***out, size_t *n, struct nn_err *err);

/** Frees a list from store_model_list. NULL-safe. */
void store_version_list_free(struct store_version **v, size_t n);

/**
 * Pins the serving version of a model, or un-pins it (version 0: serve the newest).
 * @return 0 or NN_ENOTFOUND (no model, or no such version).
 */
int store_serving_set(struct store *s, const char *model, int version, struct nn_err *err);

/** Deletes a model and all its versions (its numbering restarts at 1). @return 0 or NN_ENOTFOUND.
 */
int store_model_delete(struct store *s, const char *model, struct nn_err *err);

/**
 * Deletes one version; a pin on it is removed (the newest is served again). Numbers are not
 * reused. @return 0 or NN_ENOTFOUND.
 */
int store_version_delete(struct store *s, const char *model, int version, struct nn_err *err);

#endif
