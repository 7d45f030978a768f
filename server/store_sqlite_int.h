/*
 * store_sqlite_int: the SQLite backend's private toolkit, shared by its three files
 * (store_sqlite.c: connections, statements, transactions, migrations, the ops table;
 * store_sqlite_models.c: models and versions; store_sqlite_jobs.c: jobs). Nothing outside
 * store_sqlite*.c includes it.
 *
 * The design (after GNUnet/Taler's query-parameter arrays and transaction runner, in SQLite
 * terms): a store function states its SQL text and its binds and nothing else.
 *   - store_sql_exec runs a statement with binds: SQL_ARGS(SQL_TEXT(id), SQL_INT(n)) is an
 *     array of typed values bound to ?1, ?2, ... in order;
 *   - store_sql_rows / store_sql_row step the rows through a callback (store_sql_collect_row
 *     gathers them into an array);
 *   - store_sql_once runs one statement on a pooled connection, outside a transaction;
 *   - store_sql_tx takes a pooled connection, runs a function inside BEGIN IMMEDIATE ...
 *     COMMIT (or a read snapshot, or autocommit), rolls back on any error and gives the
 *     connection back.
 * Statements are prepared once per connection and kept (a cache keyed by the SQL text's
 * address: pass string literals only). Every SQLite failure is mapped in one place
 * (store_sql_error): SQLITE_FULL -> NN_ENOSPC, a constraint -> NN_EINVAL, anything else
 * (SQLITE_BUSY after the 10 s busy timeout, I/O errors, corruption) -> NN_EIO.
 * Thread-safety: a struct conn is used by one thread at a time (store_sql_tx takes it from
 * the pool for the length of the call).
 */
#ifndef NEUROND_SERVER_STORE_SQLITE_INT_H
#define NEUROND_SERVER_STORE_SQLITE_INT_H

#include <math.h>
#include <sqlite3.h>
#include <stddef.h>

#include "store_backend.h"
#include "store_sql.h"

/* Statements a connection keeps prepared; the backend has about 35 distinct texts. */
#define STORE_SQL_CACHE_MAX 64

/* One pooled connection and its prepared statements. */
struct conn {
    sqlite3 *db;
    struct {
        const char *sql; /* the text's address is the key */
        sqlite3_stmt *st;
    } cache[STORE_SQL_CACHE_MAX];
    int n_cached;
    struct conn *next;
};

/* ----- binds: store_sql.h ----- */

/* ----- statements ----- */

/** A row handler: reads the current row of st. @return 0 to go on, or an NN_E* code (err
 *  set) to stop. */
typedef int (*store_sql_row_fn)(sqlite3_stmt *st, void *ctx, struct nn_err *err);
/** Fills one element of size bytes at elem from the current row. @return 0 or NN_E*. */
typedef int (*store_sql_fill_fn)(sqlite3_stmt *st, void *elem, size_t size, struct nn_err *err);

/**
 * Runs a statement that returns no rows.
 * @param sql [in] a string literal (its address keys the statement cache).
 * @param changes [out] rows changed; NULL when not wanted.
 * @return 0, NN_EINVAL (a constraint failed), NN_ENOSPC, NN_EIO.
 */
int store_sql_exec(struct conn *c, const char *sql, struct sql_args a, int *changes,
                   struct nn_err *err);

/**
 * Runs a write that must change at least one row: when it changes none, fails with code and
 * the formatted message (so that the caller's transaction is rolled back).
 */
int store_sql_change(struct conn *c, const char *sql, struct sql_args a, int code,
                     struct nn_err *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/** Steps every row of a query through fn (stops at fn's first error). @return 0 or NN_E*. */
int store_sql_rows(struct conn *c, const char *sql, struct sql_args a, store_sql_row_fn fn,
                   void *ctx, struct nn_err *err);

/**
 * Reads the first row of a query with fn.
 * @return 0; NN_ENOTFOUND when there is no row (err untouched: the caller names what is
 *         missing); or fn's / the database's error.
 */
int store_sql_row(struct conn *c, const char *sql, struct sql_args a, store_sql_row_fn fn,
                  void *ctx, struct nn_err *err);

/**
 * One statement on a pooled connection, outside any transaction: its rows go through fn
 * when fn is set, else it is run as store_sql_exec (changes may be NULL).
 */
int store_sql_once(struct store *s, const char *sql, struct sql_args a, store_sql_row_fn fn,
                   void *ctx, int *changes, struct nn_err *err);

/* A growing array of equal-sized elements: the context of store_sql_collect_row. Start with
 * {NULL, 0, 0, sizeof(elem), fill}. On error it holds the elements filled so far: the caller
 * frees them as on success (v with nn_free, after what each element owns). */
struct sql_collect {
    void *v;
    size_t n, cap;
    size_t size;
    store_sql_fill_fn fill;
};

/** Row handler: appends one element (struct sql_collect *ctx) filled from the row. */
int store_sql_collect_row(sqlite3_stmt *st, void *ctx, struct nn_err *err);
/** Row handler: column 0 as an int into *(int *)ctx. */
int store_sql_int(sqlite3_stmt *st, void *ctx, struct nn_err *err);
/** Fill function: column 0 as an int. */
int store_sql_fill_int(sqlite3_stmt *st, void *elem, size_t size, struct nn_err *err);
/** Fill function: column 0 as text copied into a char[size] (truncated). */
int store_sql_fill_text(sqlite3_stmt *st, void *elem, size_t size, struct nn_err *err);

/* ----- transactions ----- */

enum store_sql_mode {
    STORE_SQL_AUTOCOMMIT, /* no transaction: each statement on its own */
    STORE_SQL_SNAPSHOT,   /* BEGIN ... ROLLBACK: several reads see one state */
    STORE_SQL_WRITE       /* BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error */
};

/** The body of a transaction. @return 0 to commit, or an NN_E* code (err set) to roll back. */
typedef int (*store_sql_tx_fn)(struct conn *c, void *ctx, struct nn_err *err);

/**
 * Takes a connection from the pool, runs fn on it in the given mode and gives it back:
 * on fn's error or a failed COMMIT the transaction is rolled back and nothing is changed.
 * @return 0 or the NN_E* code of fn, BEGIN or COMMIT.
 */
int store_sql_tx(struct store *s, enum store_sql_mode mode, store_sql_tx_fn fn, void *ctx,
                 struct nn_err *err);

/* ----- columns and values ----- */

/** A text column as a new string (nn_free); NULL for SQL NULL or out of memory. */
char *store_sql_col_dup(sqlite3_stmt *st, int i);
/** A text column copied into dst (truncated to cap; "" for NULL). */
void store_sql_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap);
/** Now, as "2026-11-27T16:00:00Z". */
void store_sql_now(char out[STORE_TIME_MAX]);
/** Records a database error with SQLite's message.
 *  @return NN_ENOSPC when the disk or the database file is full (SQLITE_FULL), else NN_EIO. */
int store_sql_error(sqlite3 *db, const char *what, struct nn_err *err);

/* ----- the operations (store_backend.h), one file per group ----- */

int store_sqlite_job_create(struct store *s, const struct store_job *j, struct nn_err *err);
int store_sqlite_job_get(struct store *s, const char *id, struct store_job **out,
                         struct nn_err *err);
int store_sqlite_job_list(struct store *s, int status, const char *model, int limit,
                          struct store_job ***out, size_t *n, struct nn_err *err);
int store_sqlite_job_history(struct store *s, const char *id, struct store_epoch **out, size_t *n,
                             struct nn_err *err);
int store_sqlite_job_claim(struct store *s, const char *id, struct store_job **out,
                           struct nn_err *err);
int store_sqlite_job_progress(struct store *s, const char *id, const struct store_epoch *e,
                              struct nn_err *err);
int store_sqlite_job_fail(struct store *s, const char *id, const char *code, const char *message,
                          struct nn_err *err);
int store_sqlite_job_cancel(struct store *s, const char *id, struct nn_err *err);
int store_sqlite_job_requeue(struct store *s, const char *id, struct nn_err *err);
int store_sqlite_jobs_recover(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n,
                              struct nn_err *err);
int store_sqlite_jobs_count(struct store *s, long counts[STORE_JOB_N_STATUS], struct nn_err *err);
int store_sqlite_spool_in_use(struct store *s, const char *spool, int *in_use, struct nn_err *err);

int store_sqlite_feedback_put(struct store *s, const char *model, const char *hash,
                              const char *instance, const char *label, int *created,
                              struct nn_err *err);
int store_sqlite_feedback_list(struct store *s, const char *model, long long after, int limit,
                               struct store_feedback **out, size_t *n, struct nn_err *err);
int store_sqlite_feedback_delete(struct store *s, const char *model, const char *hash,
                                 long long *deleted, struct nn_err *err);
int store_sqlite_feedback_count(struct store *s, const char *model, long long *n,
                                struct nn_err *err);
int store_sqlite_sample_put(struct store *s, const char *model, int version, const char *kind,
                            const void *data, size_t len, struct nn_err *err);
int store_sqlite_sample_get(struct store *s, const char *model, int version, const char *kind,
                            unsigned char **data, size_t *len, struct nn_err *err);
int store_sqlite_version_put(struct store *s, const struct store_version_new *v, int *version,
                             struct nn_err *err);
int store_sqlite_version_get(struct store *s, const char *model, int version, int with_blob,
                             struct store_version **out, struct nn_err *err);
int store_sqlite_model_list(struct store *s, struct store_version ***out, size_t *n,
                            struct nn_err *err);
int store_sqlite_serving_set(struct store *s, const char *model, int version, struct nn_err *err);
int store_sqlite_model_delete(struct store *s, const char *model, struct nn_err *err);
int store_sqlite_version_delete(struct store *s, const char *model, int version,
                                struct nn_err *err);

#endif
