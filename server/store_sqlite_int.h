/*
 * store_sqlite_int: what the two files of the SQLite store share (store_sqlite.c:
 * connections, statements, migrations, models; store_sqlite_jobs.c: jobs) — the statement
 * ids, the pooled connection and the small helpers around a statement's life. Private to
 * the store: nothing outside store_sqlite*.c includes it.
 * Thread-safety: a struct conn is used by one thread at a time (taken from the pool with
 * store_sql_get, given back with store_sql_put).
 */
#ifndef NEUROND_SERVER_STORE_SQLITE_INT_H
#define NEUROND_SERVER_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stddef.h>

#include "store.h"

/* The prepared statements, one per query; the SQL text is the table in store_sqlite.c. */
enum {
    Q_BEGIN,
    Q_BEGIN_READ,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SCHEMA_VERSION,
    Q_DATASET_INSERT,
    Q_JOB_INSERT,
    Q_JOB_GET,
    Q_JOB_LIST,
    Q_JOB_HISTORY,
    Q_JOB_CLAIM,
    Q_HISTORY_CLEAR,
    Q_JOB_EPOCH,
    Q_HISTORY_INSERT,
    Q_JOB_FAIL,
    Q_JOB_STATUS,
    Q_JOB_CANCEL,
    Q_JOB_REQUEUE,
    Q_JOBS_REQUEUE_ALL,
    Q_HISTORY_CLEAR_QUEUED,
    Q_JOBS_QUEUED,
    Q_JOBS_COUNT,
    Q_SPOOL_IN_USE,
    Q_MODEL_ENSURE,
    Q_MODEL_GET,
    Q_VERSION_INSERT,
    Q_MODEL_BUMP,
    Q_JOB_SUCCEED,
    Q_VERSION_MAX,
    Q_VERSION_GET,
    Q_VERSION_LIST,
    Q_MODEL_NAMES,
    Q_MODEL_PIN,
    Q_MODEL_DELETE,
    Q_VERSION_DELETE,
    Q_MODEL_UNPIN_IF,
    N_SQL
};

/* One pooled connection and its statements, prepared on first use. */
struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[N_SQL];
    struct conn *next;
};

/** Takes an idle connection from the pool or opens a new one. @return 0 or NN_EIO. */
int store_sql_get(struct store *s, struct conn **out, struct nn_err *err);
/** Gives a connection back to the pool. */
void store_sql_put(struct store *s, struct conn *c);
/** Statement q of c, reset and unbound. Borrowed. NULL (err set) when it cannot prepare. */
sqlite3_stmt *store_sql_stmt(struct conn *c, int q, struct nn_err *err);
/** Steps a statement that returns no rows. @param changes [out] rows changed (NULL ok). */
int store_sql_run(struct conn *c, sqlite3_stmt *st, int *changes, struct nn_err *err);
/** Runs statement q (no bindings, no rows). */
int store_sql_simple(struct conn *c, int q, struct nn_err *err);
/** BEGIN IMMEDIATE. */
int store_sql_begin(struct conn *c, struct nn_err *err);
/** COMMIT. */
int store_sql_commit(struct conn *c, struct nn_err *err);
/** ROLLBACK when a transaction is open; never fails. */
void store_sql_rollback(struct conn *c);
/** A text column as a new string (nn_free); NULL for SQL NULL or out of memory. */
char *store_sql_col_dup(sqlite3_stmt *st, int i);
/** A text column copied into dst (truncated to cap; "" for NULL). */
void store_sql_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap);
/** Now, as "2026-11-27T16:00:00Z". */
void store_sql_now(char out[STORE_TIME_MAX]);
/** Records a database error with SQLite's message.
 *  @return NN_ENOSPC when the disk or the database file is full (SQLITE_FULL), else NN_EIO. */
int store_sql_error(sqlite3 *db, const char *what, struct nn_err *err);

#endif
