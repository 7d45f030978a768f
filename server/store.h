/*
 * store: the daemon's persistent state — models with their versions (blob + card) and the
 * serving pin, training jobs with their per-epoch history, and the uploaded datasets they
 * train on. This header is the whole contract between the daemon and a storage backend; no
 * SQL appears anywhere else.
 *
 * Backends: store_open picks one from its URL ("sqlite:PATH", or a plain PATH: the SQLite
 * backend, store_sqlite*.c; "postgresql://user@host:port/db": the PostgreSQL backend,
 * store_pg*.c, which several replicas share). Each implements struct store_ops of
 * store_backend.h, as ae_epoll.c sits behind ae.c, and passes tests/unit/test_store.c, which
 * uses only the calls below. struct store is opaque here.
 *
 * The rules every backend keeps, and callers rely on:
 *   - Errors: 0 or a negative NN_E* code with err filled (err may be NULL). Besides the codes
 *     named at each call, any call may return NN_EIO (the database failed, or stayed locked
 *     past its timeout), NN_ENOSPC (the disk or the database is full) and NN_ENOMEM.
 *   - Atomicity: each call is all or nothing. A call that fails has changed nothing, and the
 *     state changes that must go together (a version and its job's success, a claim and the
 *     cleared history) are one call.
 *   - Out-parameters are written only on success; pointers and counts are NULL / 0 on failure.
 *   - Ownership: what a call returns is new and the caller's (freed with the store_*_free
 *     named, or nn_free); what a call reads is borrowed for the length of the call.
 *   - Jobs move queued -> running -> succeeded | failed | cancelled (and running -> queued
 *     on a restart); each move is conditional, so of two racing moves exactly one wins and
 *     the other gets NN_ENOTFOUND / NN_ECANCELED / NN_ERANGE as documented.
 *   - Thread-safety: every call may run from any thread at once, except store_close.
 */
#ifndef NEUROND_SERVER_STORE_H
#define NEUROND_SERVER_STORE_H

#include <stddef.h>

#include "nn/err.h"

#define STORE_ID_MAX         40  /* job ids (32 hex + NUL fits) */
#define STORE_NAME_MAX       72  /* model names are at most 64 bytes */
#define STORE_TIME_MAX       32  /* "2026-11-27T16:00:00Z" (UTC, second precision) */
#define STORE_REPLICA_ID_MAX 128 /* a replica's name (store_lease_set) */

enum store_job_status {
    STORE_JOB_QUEUED = 0,
    STORE_JOB_RUNNING = 1,
    STORE_JOB_SUCCEEDED = 2,
    STORE_JOB_FAILED = 3,
    STORE_JOB_CANCELLED = 4
};
#define STORE_JOB_N_STATUS 5

/* An open store (opaque: its backend's). */
struct store;

/* A job as stored, with its dataset. Strings marked JSON are JSON texts. Owned by the
 * struct: free with store_job_free. Times are "" when not reached yet. */
struct store_job {
    char id[STORE_ID_MAX];
    char model[STORE_NAME_MAX];
    int status;        /* enum store_job_status */
    double progress;   /* 0..1: epoch / epochs, 1 once succeeded */
    int epoch, epochs; /* last finished epoch, maximum */
    char *params;      /* JSON object: the API's "params" */
    char *form;        /* JSON object: the parameters as sent, strings */
    char spool[64];    /* dataset: file name inside the spool directory */
    long long rows, columns, bytes;
    char sha256[65];
    char *metrics;     /* JSON object or NULL (until succeeded) */
    int model_version; /* 0 = none */
    char *error_code;  /* NULL unless failed */
    char *error_message;
    char created_at[STORE_TIME_MAX], started_at[STORE_TIME_MAX], finished_at[STORE_TIME_MAX];
};

/* One finished epoch of a job. val_* and train_loss are NaN when not measured (stored as
 * such and read back as NaN). */
struct store_epoch {
    int epoch;
    double train_loss, val_loss, val_metric, seconds;
    int regression; /* 1: val_metric is an RMSE; 0: an accuracy */
};

/* A model version as stored, with its model's serving state. Owned by the struct: free with
 * store_version_free. */
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

/* A new version to store. Every pointer is borrowed for the call. */
struct store_version_new {
    const char *model;
    const unsigned char *blob;
    size_t blob_len;
    const char *card;       /* JSON */
    const char *metrics;    /* JSON */
    const char *job_id;     /* NULL for an import; else the running job it completes */
    const char *job_params; /* JSON: the job's final "params" (with job_id; NULL: "{}") */
    int job_epoch;          /* the job's final epoch (with job_id) */
    int held;               /* 1: stored but not served unless pinned (it lost the
                               champion/challenger gate); 0: the newest such is served */
};

/* One feedback row of a model (a labelled instance a user sent back). Owned by the array of
 * store_feedback_list: store_feedback_list_free. */
struct store_feedback {
    long long id;   /* grows with each new row */
    char hash[65];  /* the instance's content hash (hex), unique within a model */
    char *instance; /* JSON object keyed by input name */
    char *label;
    char created_at[STORE_TIME_MAX], updated_at[STORE_TIME_MAX];
};

/* ========================================================================================== */
/* Opening                                                                                     */
/* ========================================================================================== */

/**
 * Opens the store named by url, creating it if needed, and brings its schema up to date:
 * every migration newer than the recorded schema version is applied in order, each in its
 * own transaction. Opening an up-to-date store changes nothing.
 * @param url [in] "sqlite:PATH" or a plain file PATH (SQLite).
 * @return 0; NN_EINVAL for a URL no backend of this build serves; NN_ERANGE when the stored
 *         schema is newer than this binary knows (nothing is changed); NN_EIO when the store
 *         cannot be opened or migrated.
 * Ownership: *out is new; store_close. NULL on failure.
 */
int store_open(const char *url, struct store **out, struct nn_err *err);

/** Closes the store and frees it. NULL-safe. No other call may be running. */
void store_close(struct store *s);

/** The schema version recorded in the store. @param v [out]. @return 0 or NN_EIO. */
int store_schema_version(struct store *s, int *v, struct nn_err *err);

/** The newest schema version this binary knows (its last embedded migration). */
int store_schema_version_known(void);

/* ========================================================================================== */
/* Models, versions and pins                                                                   */
/* ========================================================================================== */

/**
 * Stores a new version of a model (creating the model when needed) and, when v->job_id is
 * set, marks that running job succeeded with v->metrics, v->job_params, v->job_epoch and the
 * version, in one transaction: either both are visible or neither. Version numbers start at
 * 1 and only grow within a model; a number is never reused while the model exists.
 * @param version [out] the new version number.
 * @return 0; NN_ECANCELED when v->job_id is not running (cancelled: nothing stored).
 */
int store_version_put(struct store *s, const struct store_version_new *v, int *version,
                      struct nn_err *err);

/**
 * Reads one version of a model, read from one consistent state of the store.
 * @param version [in] the version, or 0 for the serving one (pinned, else the newest not
 *        held: see store_version_new.held).
 * @param with_blob [in] non-zero to read the blob too (else blob is NULL).
 * @return 0 or NN_ENOTFOUND (no such model, no such version, or no versions at all).
 * Ownership: *out is new; store_version_free. NULL on failure.
 */
int store_version_get(struct store *s, const char *model, int version, int with_blob,
                      struct store_version **out, struct nn_err *err);

/**
 * Lists every model that has at least one version, name ascending: each entry is its serving
 * version (card, no blob), all read from one consistent state.
 * @param out, n [out] a new array of n entries (possibly NULL when n is 0);
 *        store_version_list_free.
 */
int store_model_list(struct store *s, struct store_version ***out, size_t *n, struct nn_err *err);

/**
 * Pins the serving version of a model, or un-pins it (version 0: serve the newest). A pin
 * survives new versions.
 * @return 0 or NN_ENOTFOUND (no such model, or no such version).
 */
int store_serving_set(struct store *s, const char *model, int version, struct nn_err *err);

/**
 * Deletes a model with all its versions; trained again later, its numbering restarts at 1.
 * Jobs are kept. @return 0 or NN_ENOTFOUND.
 */
int store_model_delete(struct store *s, const char *model, struct nn_err *err);

/**
 * Deletes one version; a pin on it is removed (the newest is served again). Its number is
 * not reused. @return 0 or NN_ENOTFOUND (no such model or version).
 */
int store_version_delete(struct store *s, const char *model, int version, struct nn_err *err);

/** Frees a version. NULL-safe. */
void store_version_free(struct store_version *v);

/** Frees a list from store_model_list. NULL-safe. */
void store_version_list_free(struct store_version **v, size_t n);

/* ========================================================================================== */
/* Jobs and their datasets                                                                     */
/* ========================================================================================== */

/**
 * Inserts a new queued job and its dataset in one transaction. Reads id, model, epochs,
 * params, form, spool, rows, columns, bytes, sha256 from j; created_at is now.
 * @return 0 or NN_EINVAL (a job with this id exists).
 */
int store_job_create(struct store *s, const struct store_job *j, struct nn_err *err);

/**
 * Reads one job with its dataset. @return 0 or NN_ENOTFOUND.
 * Ownership: *out is new; store_job_free. NULL on failure.
 */
int store_job_get(struct store *s, const char *id, struct store_job **out, struct nn_err *err);

/**
 * Lists jobs, newest first.
 * @param status [in] an enum store_job_status, or -1 for any.
 * @param model [in] a model name, or NULL for any.
 * @param limit [in] at most this many (>= 1).
 * @param out, n [out] a new array of n jobs (possibly NULL when n is 0); store_job_list_free.
 */
int store_job_list(struct store *s, int status, const char *model, int limit,
                   struct store_job ***out, size_t *n, struct nn_err *err);

/**
 * Moves a queued job to running (started_at = now, progress and history cleared) and returns
 * it, in one transaction.
 * @return 0, or NN_ENOTFOUND when there is no such job or it is not queued (cancelled, or
 *         claimed by another worker).
 * Ownership: *out is new; store_job_free. NULL on failure.
 */
int store_job_claim(struct store *s, const char *id, struct store_job **out, struct nn_err *err);

/**
 * Records one finished epoch of a running job in one transaction: its epoch, its progress
 * (epoch / epochs, at most 1) and the history row (replacing one of the same epoch).
 * @return 0, or NN_ECANCELED when the job is not running (nothing changed).
 */
int store_job_progress(struct store *s, const char *id, const struct store_epoch *e,
                       struct nn_err *err);

/**
 * Reads a job's history, epoch ascending (empty for an unknown job).
 * @param out, n [out] a new array of n epochs (possibly NULL when n is 0); nn_free.
 */
int store_job_history(struct store *s, const char *id, struct store_epoch **out, size_t *n,
                      struct nn_err *err);

/**
 * Marks a running job failed with an error code and message (finished_at = now).
 * @return 0, or NN_ECANCELED when the job is not running (nothing changed).
 */
int store_job_fail(struct store *s, const char *id, const char *code, const char *message,
                   struct nn_err *err);

/**
 * Cancels a queued or running job (status cancelled, finished_at = now).
 * @return 0, NN_ENOTFOUND, or NN_ERANGE when the job had already finished (nothing changed).
 */
int store_job_cancel(struct store *s, const char *id, struct nn_err *err);

/**
 * Puts a running job back to queued (progress, epoch, started_at and history cleared), for a
 * daemon that stops while training. @return 0, or NN_ECANCELED when it was not running.
 */
int store_job_requeue(struct store *s, const char *id, struct nn_err *err);

/**
 * At start-up, in one transaction: moves every running job back to queued (as
 * store_job_requeue) and lists every queued job, oldest first, so they can be queued again.
 * @param ids, n [out] a new array of n ids (possibly NULL when n is 0); nn_free.
 */
int store_jobs_recover(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err);

/** Counts jobs by status. @param counts [out] indexed by enum store_job_status. */
int store_jobs_count(struct store *s, long counts[STORE_JOB_N_STATUS], struct nn_err *err);

/**
 * Tells whether a spool file is the dataset of a queued or running job (a file no such job
 * uses may be deleted). @param in_use [out] 1 or 0.
 */
int store_spool_in_use(struct store *s, const char *spool, int *in_use, struct nn_err *err);

/* ========================================================================================== */
/* Feedback and the rows kept with a version (learning from feedback)                          */
/* ========================================================================================== */

/**
 * Stores one feedback row of a model, or, when the model already has a row of that hash,
 * replaces its instance and label (updated_at = now): a duplicate is stored once.
 * @param created [out] 1 when a row was added, 0 when one was updated.
 * @param count [out] the model's rows after it, counted in the same transaction, the puts of a
 *              model taken one at a time (also across replicas): each new row has its own
 *              count. May be NULL.
 */
int store_feedback_put(struct store *s, const char *model, const char *hash, const char *instance,
                       const char *label, int *created, long long *count, struct nn_err *err);

/**
 * Lists a model's feedback, id ascending, from one consistent state.
 * @param after [in] only rows with an id above it (0: from the first).
 * @param limit [in] at most this many; <= 0: all.
 * @param out, n [out] a new array of n rows (NULL when n is 0); store_feedback_list_free.
 */
int store_feedback_list(struct store *s, const char *model, long long after, int limit,
                        struct store_feedback **out, size_t *n, struct nn_err *err);

/**
 * Deletes a model's feedback row of a hash, or all its rows (hash NULL).
 * @param deleted [out] how many rows went (0 is not an error).
 */
int store_feedback_delete(struct store *s, const char *model, const char *hash, long long *deleted,
                          struct nn_err *err);

/** Counts the feedback rows of a model (model NULL: of every model). @param n [out]. */
int store_feedback_count(struct store *s, const char *model, long long *n, struct nn_err *err);

/** Frees an array from store_feedback_list. NULL-safe. */
void store_feedback_list_free(struct store_feedback *f, size_t n);

/**
 * Keeps data (a CSV with its header) with a stored version under kind ("replay": a sample of
 * its training rows; "holdout": its validation rows), replacing one of the same kind. Deleted
 * with the version. @return 0 or NN_ENOTFOUND (no such model or version).
 */
int store_sample_put(struct store *s, const char *model, int version, const char *kind,
                     const void *data, size_t len, struct nn_err *err);

/**
 * Reads what store_sample_put kept. @return 0 or NN_ENOTFOUND (none of that kind).
 * Ownership: *data is new (nn_free), NUL-terminated past *len; NULL on failure.
 */
int store_sample_get(struct store *s, const char *model, int version, const char *kind,
                     unsigned char **data, size_t *len, struct nn_err *err);

/* ========================================================================================== */
/* Replicas: leases, the change feed and stored datasets (a shared store only)                */
/* ========================================================================================== */

/* A change another replica made, from store_changes. */
enum store_change_kind {
    STORE_CHANGE_MODEL = 0, /* a version stored or deleted, a pin, a model deleted: name */
    STORE_CHANGE_CANCEL = 1 /* a job cancelled: name is its id */
};

/** Called once per change, oldest first. name is borrowed for the call. */
typedef void (*store_change_fn)(void *ud, int kind, const char *name);

/**
 * Whether several processes may share this store (1: PostgreSQL; 0: SQLite, one process).
 * On a store that is not shared, the calls of this section do nothing and return 0 (but
 * store_dataset_get: NN_ENOTFOUND, the spool folder is the only copy).
 */
int store_shared(struct store *s);

/**
 * Names this process in the store and sets the lease of the jobs it claims: a running job
 * whose lease is not renewed (store_jobs_heartbeat) for lease_s seconds is re-queued by
 * store_jobs_adopt. Default: "<hostname>:<pid>" and 30 s. Call before any claim.
 * Thread-safety: call before threads use the store.
 */
void store_lease_set(struct store *s, const char *replica, int lease_s);

/** Renews the lease of every job this replica runs. @return 0 or NN_EIO. */
int store_jobs_heartbeat(struct store *s, struct nn_err *err);

/**
 * In one transaction: re-queues every running job whose lease expired (its replica died;
 * history cleared, as store_job_requeue) and lists them with every job left queued for a
 * whole lease (its replica may be gone before it claimed it), oldest first.
 * @param ids, n [out] a new array of n ids (possibly NULL when n is 0); nn_free.
 */
int store_jobs_adopt(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err);

/**
 * Waits up to wait_ms for a change made through any handle on the store, then calls fn for
 * every change recorded after *since and moves *since past them. With *since < 0, only sets
 * *since to the newest change (no calls). A missed wake-up is caught by the next call: the
 * changes are read from the store, not from the wake-up.
 * @return 0, or NN_EIO when the store cannot be reached (call again later: nothing is lost).
 */
int store_changes(struct store *s, long long *since, int wait_ms, store_change_fn fn, void *ud,
                  struct nn_err *err);

/**
 * Stores the bytes of file path as the dataset named spool, read and written in chunks (never
 * whole in memory), in one transaction. @return 0 or NN_EIO (the file or the store).
 */
int store_dataset_put(struct store *s, const char *spool, const char *path, struct nn_err *err);

/**
 * Writes the stored dataset spool to path (through a temporary file renamed at the end), a
 * chunk at a time. @return 0, NN_ENOTFOUND (none stored), NN_EIO, NN_ENOSPC.
 */
int store_dataset_get(struct store *s, const char *spool, const char *path, struct nn_err *err);

/** Deletes the stored dataset spool (nothing when there is none). @return 0 or NN_EIO. */
int store_dataset_delete(struct store *s, const char *spool, struct nn_err *err);

/**
 * Whether the last call could reach the database (1) or not (0): /healthz and the 503 of a
 * write. Always 1 for a store that is not shared. Thread-safety: any thread.
 */
int store_available(struct store *s);

/** Frees a job. NULL-safe. */
void store_job_free(struct store_job *j);

/** Frees a list from store_job_list. NULL-safe. */
void store_job_list_free(struct store_job **jobs, size_t n);

/** Name of a status ("queued", ...); "unknown" when out of range. */
const char *store_job_status_name(int status);

/** Status from its name; -1 when unknown. */
int store_job_status_parse(const char *name);

#endif
