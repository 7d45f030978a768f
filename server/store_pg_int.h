/*
 * store_pg_int: the PostgreSQL backend's private half, shared by its files (store_pg.c: the
 * driver of store_sql.h — connections, statements with binds, rows, the retry of a
 * transaction — the one error mapping, migrations, the change feed, datasets and the ops
 * table; store_pg_models.c: a new version; store_pg_jobs.c: the dialect's job statements,
 * the claim, recovery, leases and adoption). Nothing outside store_pg*.c includes it.
 *
 * The calls themselves are mostly store_sql.h's, shared with SQLite; what is PostgreSQL's:
 * a transaction that meets a serialization failure or a deadlock runs again; results are
 * text, or binary for bytea; every failure is mapped in one place (pg_error): a lost or
 * refused connection -> NN_EIO with the store marked unavailable, a constraint ->
 * NN_EINVAL, disk full -> NN_ENOSPC, anything else -> NN_EIO. Messages name the host and
 * the database, never the password.
 * Thread-safety: a struct pg_conn is used by one thread at a time (store_sql_tx takes it
 * from the pool for the length of the call).
 */
#ifndef NEUROND_SERVER_STORE_PG_INT_H
#define NEUROND_SERVER_STORE_PG_INT_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stddef.h>

#include "store_sql.h"

/* Now (UTC) as the API's text time, "2026-11-27T16:00:00Z". */
#define PG_NOW "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* One pooled connection. */
struct pg_conn {
    struct sql_conn base;
    PGconn *db;
    int broken; /* the connection failed: closed instead of pooled */
    int retry;  /* a serialization failure or deadlock: the transaction runs again */
};

/* The PostgreSQL store: the SQL backends' head (base.target: the URL as given, which may
 * hold a password, never printed), then what replicas need. */
struct store_pg {
    struct store_sql base;
    char where[256];           /* "user@host:port/db", for messages */
    PGconn *listen;            /* the LISTEN connection of store_changes; guarded by base.lock */
    atomic_int available;      /* 0 after a failed connection, 1 after a good call */
    atomic_long down_until_ms; /* fail fast until then after a refused connection */
};

/**
 * Runs a statement. @param res [out] its rows (PQclear), or NULL when not wanted.
 * @param changes [out] rows changed, or NULL. @param binary [in] 1: results in binary
 * (only for a query of text and bytea columns).
 * @return 0, NN_EINVAL (a constraint), NN_ENOSPC, NN_EIO.
 */
int pg_exec(struct sql_conn *c, const char *sql, struct sql_args a, int binary, PGresult **res,
            int *changes, struct nn_err *err);

/* The SQL texts of store_sql_ops.c that PostgreSQL writes its own way (store_pg_jobs.c). */
extern const struct sql_dialect store_pg_dialect;

/* ----- the operations of store_backend.h that are PostgreSQL's own ----- */

store_version_put_fn store_pg_version_put;
store_job_get_fn store_pg_job_claim;
store_job_ids_fn store_pg_jobs_recover;
store_feedback_put_fn store_pg_feedback_put;
store_sample_put_fn store_pg_sample_put;
store_heartbeat_fn store_pg_jobs_heartbeat;
store_job_ids_fn store_pg_jobs_adopt;

#endif
