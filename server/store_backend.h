/*
 * store_backend: what a storage backend implements — one table of operations, the calls of
 * store.h minus what store.c does for every backend (choosing the backend from the URL,
 * clearing out-parameters before a call, the status names, freeing the returned structs).
 * Only store.c and the backends (store_<name>*.c) include it.
 *
 * A backend's store struct starts with a struct store, whose ops points at the backend's
 * table; the backend casts back to its own struct. Each operation keeps the contract
 * written in store.h (codes, atomicity, ownership: what it returns is allocated with
 * nn_malloc / nn_calloc / nn_strdup so that the store_*_free calls of store.c free it).
 * Adding a backend: a store_<name>.c with its ops table, one row in store.c's backends[],
 * its migrations, and its row in tests/unit/test_store.c's backend table.
 */
#ifndef NEUROND_SERVER_STORE_BACKEND_H
#define NEUROND_SERVER_STORE_BACKEND_H

#include "store.h"

/* The type of each operation: one per call of store.h, with its signature, so that a backend
 * declares its functions as `store_job_get_fn store_pg_job_get;`. */
typedef int store_open_fn(const char *target, struct store **out, struct nn_err *err);
typedef void store_close_fn(struct store *s);
typedef int store_schema_version_fn(struct store *s, int *v, struct nn_err *err);
typedef int store_version_put_fn(struct store *s, const struct store_version_new *v, int *version,
                                 struct nn_err *err);
typedef int store_version_get_fn(struct store *s, const char *model, int version, int with_blob,
                                 struct store_version **out, struct nn_err *err);
typedef int store_model_list_fn(struct store *s, struct store_version ***out, size_t *n,
                                struct nn_err *err);
typedef int store_serving_set_fn(struct store *s, const char *model, int version,
                                 struct nn_err *err);
typedef int store_model_delete_fn(struct store *s, const char *model, struct nn_err *err);
typedef int store_version_delete_fn(struct store *s, const char *model, int version,
                                    struct nn_err *err);
typedef int store_job_create_fn(struct store *s, const struct store_job *j, struct nn_err *err);
typedef int store_job_get_fn(struct store *s, const char *id, struct store_job **out,
                             struct nn_err *err);
typedef int store_job_list_fn(struct store *s, int status, const char *model, int limit,
                              struct store_job ***out, size_t *n, struct nn_err *err);
typedef int store_job_progress_fn(struct store *s, const char *id, const struct store_epoch *e,
                                  struct nn_err *err);
typedef int store_job_history_fn(struct store *s, const char *id, struct store_epoch **out,
                                 size_t *n, struct nn_err *err);
typedef int store_job_fail_fn(struct store *s, const char *id, const char *code,
                              const char *message, struct nn_err *err);
typedef int store_job_id_fn(struct store *s, const char *id, struct nn_err *err);
typedef int store_job_ids_fn(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n,
                             struct nn_err *err);
typedef int store_jobs_count_fn(struct store *s, long counts[STORE_JOB_N_STATUS],
                                struct nn_err *err);
typedef int store_spool_in_use_fn(struct store *s, const char *spool, int *in_use,
                                  struct nn_err *err);
typedef int store_feedback_put_fn(struct store *s, const char *model, const char *hash,
                                  const char *instance, const char *label, int *created,
                                  long long *count, struct nn_err *err);
typedef int store_feedback_list_fn(struct store *s, const char *model, long long after, int limit,
                                   struct store_feedback **out, size_t *n, struct nn_err *err);
typedef int store_feedback_delete_fn(struct store *s, const char *model, const char *hash,
                                     long long *deleted, struct nn_err *err);
typedef int store_feedback_count_fn(struct store *s, const char *model, long long *n,
                                    struct nn_err *err);
typedef int store_sample_put_fn(struct store *s, const char *model, int version, const char *kind,
                                const void *data, size_t len, struct nn_err *err);
typedef int store_sample_get_fn(struct store *s, const char *model, int version, const char *kind,
                                unsigned char **data, size_t *len, struct nn_err *err);
typedef int store_heartbeat_fn(struct store *s, struct nn_err *err);
typedef int store_changes_fn(struct store *s, long long *since, int wait_ms, store_change_fn fn,
                             void *ud, struct nn_err *err);
typedef int store_dataset_fn(struct store *s, const char *spool, const char *path,
                             struct nn_err *err);
typedef int store_dataset_delete_fn(struct store *s, const char *spool, struct nn_err *err);
typedef int store_available_fn(struct store *s);

struct store_ops {
    const char *scheme; /* the URL scheme it serves ("sqlite") */

    /* target: the URL without "scheme:" (a path for SQLite). Creates and migrates. */
    store_open_fn *open;
    store_close_fn *close;
    store_schema_version_fn *schema_version;

    /* models, versions and pins */
    store_version_put_fn *version_put;
    store_version_get_fn *version_get;
    store_model_list_fn *model_list;
    store_serving_set_fn *serving_set;
    store_model_delete_fn *model_delete;
    store_version_delete_fn *version_delete;

    /* jobs and their datasets */
    store_job_create_fn *job_create;
    store_job_get_fn *job_get;
    store_job_list_fn *job_list;
    store_job_get_fn *job_claim;
    store_job_progress_fn *job_progress;
    store_job_history_fn *job_history;
    store_job_fail_fn *job_fail;
    store_job_id_fn *job_cancel;
    store_job_id_fn *job_requeue;
    store_job_ids_fn *jobs_recover;
    store_jobs_count_fn *jobs_count;
    store_spool_in_use_fn *spool_in_use;

    /* feedback and the rows kept with a version */
    store_feedback_put_fn *feedback_put;
    store_feedback_list_fn *feedback_list;
    store_feedback_delete_fn *feedback_delete;
    store_feedback_count_fn *feedback_count;
    store_sample_put_fn *sample_put;
    store_sample_get_fn *sample_get;

    /* replicas: NULL in a backend that one process owns (store.c then does nothing) */
    store_heartbeat_fn *jobs_heartbeat;
    store_job_ids_fn *jobs_adopt;
    store_changes_fn *changes;
    store_dataset_fn *dataset_put;
    store_dataset_fn *dataset_get;
    store_dataset_delete_fn *dataset_delete;
    store_available_fn *available;
};

/* The head of every backend's store struct. replica and lease_s are set by store.c after
 * open (store_lease_set) and read by the backend's claims. */
struct store {
    const struct store_ops *ops;
    char replica[STORE_REPLICA_ID_MAX];
    int lease_s;
};

/* The SQLite backend (store_sqlite.c). */
extern const struct store_ops store_sqlite_ops;
/* The PostgreSQL backend (store_pg.c). */
extern const struct store_ops store_pg_ops;

#endif
