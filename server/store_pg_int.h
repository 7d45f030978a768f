/*
 * store_pg_int: the PostgreSQL backend's private toolkit, shared by its files (store_pg.c:
 * connections, statements, transactions, migrations, leases, the change feed, datasets and
 * the ops table; store_pg_models.c: models and versions; store_pg_jobs.c: jobs). Nothing
 * outside store_pg*.c includes it.
 *
 * The same shape as the SQLite backend's toolkit: a store function states its SQL text
 * ($1, $2, ...) and its binds (store_sql.h's SQL_ARGS) and nothing else; pg_tx runs it
 * inside BEGIN ... COMMIT on a pooled connection, rolls back on any error, and retries the
 * whole transaction on a serialization failure or a deadlock. Results are read from the
 * PGresult with the pg_col_* helpers. Every failure is mapped in one place (pg_error): a
 * lost or refused connection -> NN_EIO with the store marked unavailable, a constraint ->
 * NN_EINVAL, disk full -> NN_ENOSPC, anything else -> NN_EIO. Messages name the host and
 * the database, never the password.
 * Thread-safety: a struct pg_conn is used by one thread at a time (pg_tx takes it from the
 * pool for the length of the call).
 */
#ifndef NEUROND_SERVER_STORE_PG_INT_H
#define NEUROND_SERVER_STORE_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "store_backend.h"
#include "store_sql.h"

/* Now (UTC) as the API's text time, "2026-11-27T16:00:00Z". */
#define PG_NOW "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* One pooled connection. */
struct pg_conn {
    PGconn *db;
    int broken; /* the connection failed: closed instead of pooled */
    struct pg_conn *next;
};

/* The PostgreSQL store: the interface's head, then the pool. */
struct store_pg {
    struct store base;
    char *url;                 /* as given (it may hold a password: never printed) */
    char where[256];           /* "user@host:port/db", for messages */
    pthread_mutex_t lock;      /* guards free and listen */
    struct pg_conn *free;      /* idle connections; guarded by lock */
    PGconn *listen;            /* the LISTEN connection of store_changes (one caller at a time) */
    atomic_int available;      /* 0 after a failed connection, 1 after a good call */
    atomic_long down_until_ms; /* fail fast until then after a refused connection */
};

/* ----- statements ----- */

/**
 * Runs a statement. @param res [out] its rows (PQclear), or NULL when not wanted.
 * @param changes [out] rows changed, or NULL. @param binary [in] 1: results in binary
 * (only for a query of bytea columns).
 * @return 0, NN_EINVAL (a constraint), NN_ENOSPC, NN_EIO.
 */
int pg_exec(struct pg_conn *c, const char *sql, struct sql_args a, int binary, PGresult **res,
            int *changes, struct nn_err *err);

/** Runs a write that must change a row: when it changes none, fails with code and the
 *  formatted message (so that the caller's transaction is rolled back). */
int pg_change(struct pg_conn *c, const char *sql, struct sql_args a, int code, struct nn_err *err,
              const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/** Runs a query whose first row is wanted: NN_ENOTFOUND (err untouched) when there is none.
 *  @param res [out] the rows (PQclear), NULL on failure. */
int pg_row(struct pg_conn *c, const char *sql, struct sql_args a, PGresult **res,
           struct nn_err *err);

/** Runs a query of one integer: *out = row 0 column 0. NN_ENOTFOUND when no row. */
int pg_int(struct pg_conn *c, const char *sql, struct sql_args a, long long *out,
           struct nn_err *err);

/* ----- columns ----- */

/** A column as a new string (nn_free); NULL for SQL NULL or out of memory. */
char *pg_col_dup(const PGresult *r, int row, int col);
/** A column copied into dst (truncated to cap; "" for NULL). */
void pg_col_copy(const PGresult *r, int row, int col, char *dst, size_t cap);
/** An integer column (0 for NULL). */
long long pg_col_int(const PGresult *r, int row, int col);
/** A double column; NaN for NULL. */
double pg_col_double(const PGresult *r, int row, int col);

/* ----- transactions ----- */

enum pg_mode {
    PG_AUTOCOMMIT, /* no transaction */
    PG_SNAPSHOT,   /* REPEATABLE READ, READ ONLY: several reads see one state */
    PG_WRITE       /* READ COMMITTED ... COMMIT, ROLLBACK on any error */
};

/** The body of a transaction. @return 0 to commit, or an NN_E* code (err set) to roll back. */
typedef int (*pg_tx_fn)(struct pg_conn *c, void *ctx, struct nn_err *err);

/**
 * Takes a connection from the pool, runs fn on it in the given mode and gives it back; on an
 * error everything is rolled back; a serialization failure or deadlock runs fn again.
 * fn may therefore run more than once: it must reset what it fills.
 */
int pg_tx(struct store *s, enum pg_mode mode, pg_tx_fn fn, void *ctx, struct nn_err *err);

/** Appends a change to the feed and wakes the replicas (at commit). */
int pg_change_note(struct pg_conn *c, const char *kind, const char *name, struct nn_err *err);

/* ----- the operations (store_backend.h) ----- */

int store_pg_job_create(struct store *s, const struct store_job *j, struct nn_err *err);
int store_pg_job_get(struct store *s, const char *id, struct store_job **out, struct nn_err *err);
int store_pg_job_list(struct store *s, int status, const char *model, int limit,
                      struct store_job ***out, size_t *n, struct nn_err *err);
int store_pg_job_history(struct store *s, const char *id, struct store_epoch **out, size_t *n,
                         struct nn_err *err);
int store_pg_job_claim(struct store *s, const char *id, struct store_job **out, struct nn_err *err);
int store_pg_job_progress(struct store *s, const char *id, const struct store_epoch *e,
                          struct nn_err *err);
int store_pg_job_fail(struct store *s, const char *id, const char *code, const char *message,
                      struct nn_err *err);
int store_pg_job_cancel(struct store *s, const char *id, struct nn_err *err);
int store_pg_job_requeue(struct store *s, const char *id, struct nn_err *err);
int store_pg_jobs_recover(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n,
                          struct nn_err *err);
int store_pg_jobs_count(struct store *s, long counts[STORE_JOB_N_STATUS], struct nn_err *err);
int store_pg_spool_in_use(struct store *s, const char *spool, int *in_use, struct nn_err *err);
int store_pg_jobs_heartbeat(struct store *s, struct nn_err *err);
int store_pg_jobs_adopt(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err);

int store_pg_feedback_put(struct store *s, const char *model, const char *hash,
                          const char *instance, const char *label, int *created,
                          struct nn_err *err);
int store_pg_feedback_list(struct store *s, const char *model, long long after, int limit,
                           struct store_feedback **out, size_t *n, struct nn_err *err);
int store_pg_feedback_delete(struct store *s, const char *model, const char *hash,
                             long long *deleted, struct nn_err *err);
int store_pg_feedback_count(struct store *s, const char *model, long long *n, struct nn_err *err);
int store_pg_sample_put(struct store *s, const char *model, int version, const char *kind,
                        const void *data, size_t len, struct nn_err *err);
int store_pg_sample_get(struct store *s, const char *model, int version, const char *kind,
                        unsigned char **data, size_t *len, struct nn_err *err);
int store_pg_version_put(struct store *s, const struct store_version_new *v, int *version,
                         struct nn_err *err);
int store_pg_version_get(struct store *s, const char *model, int version, int with_blob,
                         struct store_version **out, struct nn_err *err);
int store_pg_model_list(struct store *s, struct store_version ***out, size_t *n,
                        struct nn_err *err);
int store_pg_serving_set(struct store *s, const char *model, int version, struct nn_err *err);
int store_pg_model_delete(struct store *s, const char *model, struct nn_err *err);
int store_pg_version_delete(struct store *s, const char *model, int version, struct nn_err *err);

#endif
