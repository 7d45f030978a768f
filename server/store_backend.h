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

struct store_ops {
    const char *scheme; /* the URL scheme it serves ("sqlite") */

    /* target: the URL without "scheme:" (a path for SQLite). Creates and migrates. */
    int (*open)(const char *target, struct store **out, struct nn_err *err);
    void (*close)(struct store *s);
    int (*schema_version)(struct store *s, int *v, struct nn_err *err);

    /* models, versions and pins */
    int (*version_put)(struct store *s, const struct store_version_new *v, int *version,
                       struct nn_err *err);
    int (*version_get)(struct store *s, const char *model, int version, int with_blob,
                       struct store_version **out, struct nn_err *err);
    int (*model_list)(struct store *s, struct store_version ***out, size_t *n, struct nn_err *err);
    int (*serving_set)(struct store *s, const char *model, int version, struct nn_err *err);
    int (*model_delete)(struct store *s, const char *model, struct nn_err *err);
    int (*version_delete)(struct store *s, const char *model, int version, struct nn_err *err);

    /* jobs and their datasets */
    int (*job_create)(struct store *s, const struct store_job *j, struct nn_err *err);
    int (*job_get)(struct store *s, const char *id, struct store_job **out, struct nn_err *err);
    int (*job_list)(struct store *s, int status, const char *model, int limit,
                    struct store_job ***out, size_t *n, struct nn_err *err);
    int (*job_claim)(struct store *s, const char *id, struct store_job **out, struct nn_err *err);
    int (*job_progress)(struct store *s, const char *id, const struct store_epoch *e,
                        struct nn_err *err);
    int (*job_history)(struct store *s, const char *id, struct store_epoch **out, size_t *n,
                       struct nn_err *err);
    int (*job_fail)(struct store *s, const char *id, const char *code, const char *message,
                    struct nn_err *err);
    int (*job_cancel)(struct store *s, const char *id, struct nn_err *err);
    int (*job_requeue)(struct store *s, const char *id, struct nn_err *err);
    int (*jobs_recover)(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err);
    int (*jobs_count)(struct store *s, long counts[STORE_JOB_N_STATUS], struct nn_err *err);
    int (*spool_in_use)(struct store *s, const char *spool, int *in_use, struct nn_err *err);

    /* feedback and the rows kept with a version */
    int (*feedback_put)(struct store *s, const char *model, const char *hash, const char *instance,
                        const char *label, int *created, struct nn_err *err);
    int (*feedback_list)(struct store *s, const char *model, long long after, int limit,
                         struct store_feedback **out, size_t *n, struct nn_err *err);
    int (*feedback_delete)(struct store *s, const char *model, const char *hash, long long *deleted,
                           struct nn_err *err);
    int (*feedback_count)(struct store *s, const char *model, long long *n, struct nn_err *err);
    int (*sample_put)(struct store *s, const char *model, int version, const char *kind,
                      const void *data, size_t len, struct nn_err *err);
    int (*sample_get)(struct store *s, const char *model, int version, const char *kind,
                      unsigned char **data, size_t *len, struct nn_err *err);

    /* replicas: NULL in a backend that one process owns (store.c then does nothing) */
    int (*jobs_heartbeat)(struct store *s, struct nn_err *err);
    int (*jobs_adopt)(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err);
    int (*changes)(struct store *s, long long *since, int wait_ms, store_change_fn fn, void *ud,
                   struct nn_err *err);
    int (*dataset_put)(struct store *s, const char *spool, const char *path, struct nn_err *err);
    int (*dataset_get)(struct store *s, const char *spool, const char *path, struct nn_err *err);
    int (*dataset_delete)(struct store *s, const char *spool, struct nn_err *err);
    int (*available)(struct store *s);
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
