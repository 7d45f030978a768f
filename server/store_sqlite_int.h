/*
 * store_sqlite_int: the SQLite backend's private half, shared by its files (store_sqlite.c:
 * connections, the statement cache, binds, the driver of store_sql.h, migrations, the ops
 * table; store_sqlite_models.c: a new version; store_sqlite_jobs.c: the claim, the recovery
 * and the dialect's job statements). Nothing outside store_sqlite*.c includes it.
 *
 * The calls themselves are store_sql.h's, shared with PostgreSQL; what is SQLite's is how a
 * statement runs: prepared once per connection and kept (a cache keyed by the SQL text's
 * address), $N bound by name, every failure mapped in one place (SQLITE_FULL -> NN_ENOSPC, a
 * constraint -> NN_EINVAL, anything else: SQLITE_BUSY after the 10 s busy timeout, I/O
 * errors, corruption -> NN_EIO). Thread-safety: a struct conn is used by one thread at a time
 * (store_sql_tx takes it from the pool for the length of the call).
 */
#ifndef NEUROND_SERVER_STORE_SQLITE_INT_H
#define NEUROND_SERVER_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stddef.h>

#include "store_sql.h"

/* Statements a connection keeps prepared; the backend has about 35 distinct texts. */
#define STORE_SQL_CACHE_MAX 64

/* Now (UTC) as the API's text time, "2026-11-27T16:00:00Z". */
#define SQLITE_NOW "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"

/* One pooled connection and its prepared statements. */
struct conn {
    struct sql_conn base;
    sqlite3 *db;
    struct {
        const char *sql; /* the text's address is the key */
        sqlite3_stmt *st;
    } cache[STORE_SQL_CACHE_MAX];
    int n_cached;
};

/* The SQL texts of store_sql_ops.c that SQLite writes its own way (store_sqlite_jobs.c). */
extern const struct sql_dialect store_sqlite_dialect;

/* ----- the operations of store_backend.h that are SQLite's own ----- */

store_version_put_fn store_sqlite_version_put;
store_job_get_fn store_sqlite_job_claim;
store_job_ids_fn store_sqlite_jobs_recover;
store_feedback_put_fn store_sqlite_feedback_put;
store_sample_put_fn store_sqlite_sample_put;

#endif
