/*
 * store_sql: what every SQL backend of the store shares (store_sqlite*.c, store_pg*.c), after
 * GNUnet/Taler's query-parameter arrays and transaction runner. A backend supplies a driver
 * (struct sql_driver: run a statement, step its rows, read a row's columns, open, close and
 * judge a connection, and the few SQL texts its dialect writes differently); the rest is
 * written once, in store_sql.c (the connection pool, open and close, the first-row query, the
 * change-or-fail write, rows gathered into arrays, the transaction runner, the schema check, a
 * job and a model read from a row) and store_sql_ops.c (the calls of store.h whose logic is
 * the same in every dialect).
 *
 * SQL texts use $1, $2, ... (PostgreSQL's placeholders; SQLite binds them by name) and
 * SQL_ARGS(SQL_TEXT(id), SQL_INT(n)) gives the values of $1, $2, ... in order. Statements may
 * be cached by the address of their text: pass string literals or static arrays only.
 * A transaction body may run more than once (PostgreSQL retries a serialization failure):
 * it resets what it fills. Only the backends include this header. Thread-safety: a struct
 * sql_conn is used by one thread at a time (store_sql_tx takes it for the call).
 */
#ifndef NEUROND_SERVER_STORE_SQL_H
#define NEUROND_SERVER_STORE_SQL_H

#include <math.h>
#include <pthread.h>
#include <stddef.h>

#include "store_backend.h"

/* ========================================================================================== */
/* Binds                                                                                       */
/* ========================================================================================== */

enum sql_type { SQL_T_NULL, SQL_T_INT, SQL_T_REAL, SQL_T_TEXT, SQL_T_BLOB };

/* One value bound to a statement parameter. */
struct sql_val {
    enum sql_type type;
    union {
        long long i;
        double d;
        const char *t; /* NULL binds SQL NULL */
        struct {
            const void *p;
            size_t n;
        } b;
    } u;
};

/* The values for parameters 1 .. n, in order. Borrowed for the length of one call. */
struct sql_args {
    const struct sql_val *v;
    int n;
};

#define SQL_INT(x)     ((struct sql_val){SQL_T_INT, {.i = (x)}})
#define SQL_REAL(x)    ((struct sql_val){SQL_T_REAL, {.d = (x)}})
#define SQL_TEXT(x)    ((struct sql_val){SQL_T_TEXT, {.t = (x)}})
#define SQL_BLOB(p, n) ((struct sql_val){SQL_T_BLOB, {.b = {(p), (n)}}})
/* A double, or SQL NULL when it is NaN or infinite. */
#define SQL_REAL_OR_NULL(x) (isfinite(x) ? SQL_REAL(x) : (struct sql_val){SQL_T_NULL, {.i = 0}})
#define SQL_ARGS(...)                                                                              \
    ((struct sql_args){                                                                            \
        (const struct sql_val[]){__VA_ARGS__},                                                     \
        (int)(sizeof((const struct sql_val[]){__VA_ARGS__}) / sizeof(struct sql_val))})
#define SQL_NOARGS ((struct sql_args){NULL, 0})

/* ========================================================================================== */
/* Rows, connections, the driver                                                               */
/* ========================================================================================== */

struct sql_row;

/* How a backend reads a column of the current row (columns count from 0). */
struct sql_row_ops {
    int (*null)(const struct sql_row *r, int col);
    const char *(*text)(const struct sql_row *r, int col); /* NULL for SQL NULL */
    long long (*integer)(const struct sql_row *r, int col);
    double (*real)(const struct sql_row *r, int col);
    const void *(*blob)(const struct sql_row *r, int col, size_t *len);
};

/* The current row of a result: the backend's result handle and the row's index in it. */
struct sql_row {
    const struct sql_row_ops *ops;
    void *res;
    int i;
};

/* The head of a backend's connection struct. */
struct sql_conn {
    const struct sql_driver *drv;
    struct sql_conn *next; /* the pool's link */
};

/* Returned by a row handler to stop the rows (not an error). */
#define STORE_SQL_STOP 1

/** A row handler. @return 0 to go on, STORE_SQL_STOP, or an NN_E* code (err set). */
typedef int (*store_sql_row_fn)(const struct sql_row *r, void *ctx, struct nn_err *err);
/** Fills one element of size bytes at elem from the row. @return 0 or NN_E*. */
typedef int (*store_sql_fill_fn)(const struct sql_row *r, void *elem, size_t size,
                                 struct nn_err *err);

enum store_sql_mode {
    STORE_SQL_AUTOCOMMIT, /* no transaction: each statement on its own */
    STORE_SQL_SNAPSHOT,   /* a read-only transaction: several reads see one state */
    STORE_SQL_WRITE       /* BEGIN ... COMMIT, ROLLBACK on any error */
};

/** The body of a transaction. @return 0 to commit, or an NN_E* code (err set) to roll back. */
typedef int (*store_sql_tx_fn)(struct sql_conn *c, void *ctx, struct nn_err *err);

/* The SQL texts of the shared calls that each dialect writes its own way ($1.. as noted). */
struct sql_dialect {
    const char *model_lock;   /* $1 name: as store_sql_model_get's query, row locked */
    const char *job_status;   /* $1 id: the job's status, row locked */
    const char *job_new;      /* $1 spool, $2 bytes, $3 rows, $4 columns, $5 sha256: dataset
                                 row, RETURNING its id; then job_insert */
    const char *job_insert;   /* $1 id, $2 model, $3 epochs, $4 params, $5 form, $6 dataset id */
    const char *job_progress; /* $1 id, $2 epoch: epoch and progress of a running job */
    const char *job_fail;     /* $1 id, $2 code, $3 message: a running job failed, now */
    const char *job_cancel;   /* $1 id: a queued or running job cancelled, now */
    const char *job_requeue;  /* $1 id: a running job back to queued */
    /* Records a change in the feed of a shared store (NULL: none). */
    int (*note)(struct sql_conn *c, const char *kind, const char *name, struct nn_err *err);
    /* Drops what a job that ended leaves behind (NULL: nothing). */
    int (*job_ended)(struct sql_conn *c, const char *id, struct nn_err *err);
};

/* The fields of a struct sql_dialect that both dialects write alike but for the time "now"
 * (NOW: the dialect's SQL expression of it, as "2026-11-27T16:00:00Z"). */
#define STORE_SQL_DIALECT_NOW(NOW)                                                                 \
    .job_new = "INSERT INTO datasets (spool, bytes, rows, columns, sha256, created_at) "           \
               "VALUES ($1, $2, $3, $4, $5, " NOW ") RETURNING id",                                \
    .job_insert = "INSERT INTO jobs (id, model, status, epochs, params, form, dataset_id, "        \
                  "created_at) VALUES ($1, $2, 'queued', $3, $4, $5, $6, " NOW ")"

/* A backend: statements, rows, the pool and its dialect. */
struct sql_driver {
    /** Runs a statement that returns no rows; changes [out] rows changed (may be NULL).
     *  @return 0, NN_EINVAL (a constraint failed), NN_ENOSPC, NN_EIO. */
    int (*exec)(struct sql_conn *c, const char *sql, struct sql_args a, int *changes,
                struct nn_err *err);
    /** Steps the rows of a query through fn (stops at its first non-zero return). binary:
     *  every column is text or a blob, and may be read as raw bytes. */
    int (*rows)(struct sql_conn *c, const char *sql, struct sql_args a, int binary,
                store_sql_row_fn fn, void *ctx, struct nn_err *err);
    /** Whether c is inside a transaction (one to roll back). */
    int (*in_tx)(struct sql_conn *c);
    /** Opens a new connection to the store (the pool had none idle). */
    int (*connect)(struct store *s, struct sql_conn **out, struct nn_err *err);
    /** Closes a connection and frees it. */
    void (*close)(struct sql_conn *c);
    /** Whether c may go back to the pool after a try (NULL: always); when not, it is closed
     *  and so is every idle one. */
    int (*healthy)(struct store *s, struct sql_conn *c);
    /** Whether a try that failed with rc should run again, asked once per try before c goes
     *  back (NULL: never). begin_failed: its BEGIN failed. */
    int (*retry)(struct sql_conn *c, int rc, int begin_failed);
    const char *begin[3]; /* the BEGIN of each enum store_sql_mode (NULL: none) */
    int tries;            /* runs of one transaction at most */
    const struct sql_dialect *sql;
    int (*schema_known)(void); /* the newest schema version of its embedded migrations */
};

/* The head of a SQL backend's store struct: its driver and the connection pool. */
struct store_sql {
    struct store base;
    const struct sql_driver *drv;
    char *target;          /* what connect opens: a path, a URL (may hold a password) */
    pthread_mutex_t lock;  /* guards free (and what the backend says it guards) */
    struct sql_conn *free; /* idle connections; guarded by lock */
};

/**
 * Allocates a SQL store: size bytes (the backend's struct, a struct store_sql first), zeroed,
 * its head filled (ops, driver, a copy of target, an empty pool).
 * @return the new store, or NULL when out of memory (err set). Ownership: store_sql_free.
 */
void *store_sql_new(size_t size, const struct store_ops *ops, const struct sql_driver *drv,
                    const char *target, struct nn_err *err);

/** Closes every idle connection and frees the store (a backend's close calls it last). */
void store_sql_free(struct store *s);

/**
 * Ends an open: when rc (the backend's own setup) is 0, brings the schema up to date with
 * migrate and hands s out in *out; on any error closes s (its ops->close).
 * @return 0 or the error.
 */
int store_sql_open_end(struct store *s, int rc, int (*migrate)(struct store *, struct nn_err *),
                       struct store **out, struct nn_err *err);

/** Closes every idle connection (after one broke, the others likely did too). */
void store_sql_pool_drop(struct store_sql *s);

/* ========================================================================================== */
/* Statements and transactions                                                                 */
/* ========================================================================================== */

/** Runs a statement that returns no rows (driver's exec). */
int store_sql_exec(struct sql_conn *c, const char *sql, struct sql_args a, int *changes,
                   struct nn_err *err);

/**
 * Runs a write that must change at least one row: when it changes none, fails with code and
 * the formatted message (so that the caller's transaction is rolled back).
 */
int store_sql_change(struct sql_conn *c, const char *sql, struct sql_args a, int code,
                     struct nn_err *err, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/** Steps every row of a query through fn. @return 0 or NN_E*. */
int store_sql_rows(struct sql_conn *c, const char *sql, struct sql_args a, store_sql_row_fn fn,
                   void *ctx, struct nn_err *err);

/**
 * Reads the first row of a query with fn (binary: as the driver's rows).
 * @return 0; NN_ENOTFOUND when there is no row (err untouched: the caller names what is
 *         missing); or fn's / the database's error.
 */
int store_sql_row(struct sql_conn *c, const char *sql, struct sql_args a, int binary,
                  store_sql_row_fn fn, void *ctx, struct nn_err *err);

/** Row handler: column 0 as an integer into *(long long *)ctx. */
int store_sql_int_row(const struct sql_row *r, void *ctx, struct nn_err *err);

/** A query of one integer: *out = row 0, column 0. NN_ENOTFOUND (err untouched) when no row. */
int store_sql_int(struct sql_conn *c, const char *sql, struct sql_args a, long long *out,
                  struct nn_err *err);

/**
 * Takes a connection from the pool, runs fn on it in the given mode and gives it back: on
 * fn's error or a failed COMMIT the transaction is rolled back and nothing is changed; the
 * driver may run it again (fn must then reset what it fills).
 * @return 0 or the NN_E* code of fn, BEGIN or COMMIT.
 */
int store_sql_tx(struct store *s, enum store_sql_mode mode, store_sql_tx_fn fn, void *ctx,
                 struct nn_err *err);

/**
 * Transaction body: reads the recorded schema version into *(long long *)ctx; NN_ERANGE when
 * it is newer than the driver's migrations know (a newer neurond migrated the database).
 */
int store_sql_schema_check(struct sql_conn *c, void *ctx, struct nn_err *err);

/**
 * One statement on a pooled connection, outside any transaction: its rows go through fn
 * when fn is set, else it is run as store_sql_exec (changes may be NULL).
 */
int store_sql_once(struct store *s, const char *sql, struct sql_args a, store_sql_row_fn fn,
                   void *ctx, int *changes, struct nn_err *err);

/* ========================================================================================== */
/* Rows gathered into arrays, columns                                                          */
/* ========================================================================================== */

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
int store_sql_collect_row(const struct sql_row *r, void *ctx, struct nn_err *err);
/** Frees an array of n elements gathered by store_sql_list: what each owns, then v. */
typedef void (*store_sql_drop_fn)(void *v, size_t n);

/**
 * Runs one query on a pooled connection, outside any transaction, and gathers its rows into a
 * new array of elements of size bytes, each filled from its row by fill.
 * @param drop [in] frees a partial array (on error, or before the query runs again); NULL when
 *             the elements own nothing (nn_free).
 * @param out, n [out] the array (possibly NULL when n is 0) and its length; NULL and 0 on error.
 * @return 0 or NN_E*. Ownership: the caller frees *out as drop does.
 */
int store_sql_list(struct store *s, const char *sql, struct sql_args a, size_t size,
                   store_sql_fill_fn fill, store_sql_drop_fn drop, void **out, size_t *n,
                   struct nn_err *err);
/** Fill function: column 0 as an int. */
int store_sql_fill_int(const struct sql_row *r, void *elem, size_t size, struct nn_err *err);
/** Fill function: column 0 as text copied into a char[size] (truncated). */
int store_sql_fill_text(const struct sql_row *r, void *elem, size_t size, struct nn_err *err);

/** A text column as a new string (nn_free); NULL for SQL NULL or out of memory. */
char *store_sql_col_dup(const struct sql_row *r, int col);
/** A text column copied into dst (truncated to cap; "" for NULL). */
void store_sql_col_copy(const struct sql_row *r, int col, char *dst, size_t cap);
/** An integer column (0 for NULL). */
long long store_sql_col_int(const struct sql_row *r, int col);
/** A double column; NaN for NULL. */
double store_sql_col_real(const struct sql_row *r, int col);

/* ========================================================================================== */
/* Models and jobs read from rows                                                              */
/* ========================================================================================== */

/* A model's row. */
struct sql_model {
    long long id;
    int next, pinned; /* pinned: 0 = serve the newest */
    char created[STORE_TIME_MAX];
};

/** Reads a model's row, locked for update when lock is set. @return 0 or NN_ENOTFOUND. */
int store_sql_model_get(struct sql_conn *c, const char *model, int lock, struct sql_model *m,
                        struct nn_err *err);

/** Fill function: a STORE_SQL_JOB_COLS row as a new struct store_job * (store_job_free). */
int store_sql_fill_job(const struct sql_row *r, void *elem, size_t size, struct nn_err *err);

/** Reads one job on c. @return 0 or NN_ENOTFOUND. Ownership: *out is new; store_job_free. */
int store_sql_job_read(struct sql_conn *c, const char *id, struct store_job **out,
                       struct nn_err *err);

/* The columns of a job with its dataset, in the order store_sql.c reads them; a query goes
 * on with "WHERE ...". */
#define STORE_SQL_JOB_COLS                                                                         \
    "SELECT j.id, j.model, j.status, j.progress, j.epoch, j.epochs, j.params, j.form, "            \
    "j.metrics, j.model_version, j.error_code, j.error_message, j.created_at, j.started_at, "      \
    "j.finished_at, d.spool, d.rows, d.columns, d.bytes, d.sha256 "                                \
    "FROM jobs j JOIN datasets d ON d.id = j.dataset_id "

/* Clears a job's history ($1 id). */
extern const char store_sql_history_clear[];

/* ========================================================================================== */
/* The calls every SQL backend shares (store_sql_ops.c), for their ops tables                  */
/* ========================================================================================== */

store_schema_version_fn store_sql_schema_version;
store_version_get_fn store_sql_version_get;
store_model_list_fn store_sql_model_list;
store_serving_set_fn store_sql_serving_set;
store_model_delete_fn store_sql_model_delete;
store_version_delete_fn store_sql_version_delete;
store_job_create_fn store_sql_job_create;
store_job_get_fn store_sql_job_get;
store_job_list_fn store_sql_job_list;
store_job_progress_fn store_sql_job_progress;
store_job_history_fn store_sql_job_history;
store_job_fail_fn store_sql_job_fail;
store_job_id_fn store_sql_job_cancel;
store_job_id_fn store_sql_job_requeue;
store_jobs_count_fn store_sql_jobs_count;
store_spool_in_use_fn store_sql_spool_in_use;
store_feedback_list_fn store_sql_feedback_list;
store_feedback_delete_fn store_sql_feedback_delete;
store_feedback_count_fn store_sql_feedback_count;
store_sample_get_fn store_sql_sample_get;

/**
 * Keeps data with a stored version (as store_sample_put) with the backend's statement sql:
 * $1 model name, $2 version, $3 kind, $4 the bytes; it must write one row, or none when the
 * version does not exist (then NN_ENOTFOUND).
 */
int store_sql_sample_put(struct store *s, const char *sql, const char *model, int version,
                         const char *kind, const void *data, size_t len, struct nn_err *err);

/* The context of a backend's new-version transaction body (store_sql_version_put). */
struct sql_version_put {
    struct store *s;
    const struct store_version_new *v;
    int version; /* out: the new version's number */
};

/**
 * Stores a new version (as store_version_put) with the backend's transaction body tx, whose
 * ctx is a struct sql_version_put, in one write transaction.
 */
int store_sql_version_put(struct store *s, const struct store_version_new *v, store_sql_tx_fn tx,
                          int *version, struct nn_err *err);

/* The context of a backend's feedback upsert body (store_sql_feedback_put). */
struct sql_feedback_put {
    const char *model, *hash, *instance, *label;
    int created; /* out: 1 when a row was added, 0 when one was updated */
};

/**
 * Stores a feedback row (as store_feedback_put) with the backend's transaction body tx, whose
 * ctx is a struct sql_feedback_put, then counts the model's rows, in one write transaction; tx
 * must take the model's puts one at a time (SQLite's write transactions are; PostgreSQL's
 * takes a lock of the model's name first).
 */
int store_sql_feedback_put(struct store *s, const char *model, const char *hash,
                           const char *instance, const char *label, store_sql_tx_fn tx,
                           int *created, long long *count, struct nn_err *err);

/**
 * Claims a queued job (as store_job_claim) with the backend's statement sql and its binds a
 * (it must move the job $1 from queued to running only), clears its history and reads it.
 */
int store_sql_job_claim(struct store *s, const char *id, const char *sql, struct sql_args a,
                        struct store_job **out, struct nn_err *err);

/**
 * In one write transaction: runs each statement of requeue (NULL-terminated; each with
 * requeue_args) that moves jobs back to queued, then lists the ids the query list (with
 * list_args) returns: store_jobs_recover and store_jobs_adopt.
 * @param ids, n [out] a new array of n ids (possibly NULL when n is 0); nn_free.
 */
int store_sql_requeue_list(struct store *s, const char *const requeue[],
                           struct sql_args requeue_args, const char *list,
                           struct sql_args list_args, char (**ids)[STORE_ID_MAX], size_t *n,
                           struct nn_err *err);

/* The entries of a SQL backend's struct store_ops that store_sql_ops.c implements. */
#define STORE_SQL_OPS                                                                              \
    .schema_version = store_sql_schema_version, .version_get = store_sql_version_get,              \
    .model_list = store_sql_model_list, .serving_set = store_sql_serving_set,                      \
    .model_delete = store_sql_model_delete, .version_delete = store_sql_version_delete,            \
    .job_create = store_sql_job_create, .job_get = store_sql_job_get,                              \
    .job_list = store_sql_job_list, .job_progress = store_sql_job_progress,                        \
    .job_history = store_sql_job_history, .job_fail = store_sql_job_fail,                          \
    .job_cancel = store_sql_job_cancel, .job_requeue = store_sql_job_requeue,                      \
    .jobs_count = store_sql_jobs_count, .spool_in_use = store_sql_spool_in_use,                    \
    .feedback_list = store_sql_feedback_list, .feedback_delete = store_sql_feedback_delete,        \
    .feedback_count = store_sql_feedback_count, .sample_get = store_sql_sample_get

#endif
