/*
 * store_sqlite: the SQLite backend of store.h (its ops table), and the toolkit its files
 * share (store_sqlite_int.h): the connection pool, the statement cache, binds, row
 * callbacks, the transaction runner, the one error mapping, and the migrations.
 *
 * Connections: a pool; a call takes one, uses it on its own thread, and gives it back, so
 * each connection is used by one thread at a time (SQLite's rule) without thread-local
 * state. Each connection prepares a statement the first time its SQL text is used
 * (SQLITE_PREPARE_PERSISTENT) and keeps it: every query is a prepared statement with bound
 * values. Settings per connection: WAL journal, synchronous NORMAL (durable across a killed
 * process; docs/decisions.md), foreign keys on, a 10 s busy timeout.
 * Migrations (embedded from migrations/NNNN_name.sql) run at open, each in its own
 * transaction. Models live in store_sqlite_models.c, jobs in store_sqlite_jobs.c.
 */
#include "store_sqlite_int.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nn/alloc.h"
#include "store_migrations.h"

/* The SQLite store: the interface's head, then the pool. */
struct store_sqlite {
    struct store base;
    char *path;
    pthread_mutex_t lock; /* guards free */
    struct conn *free;    /* idle connections; guarded by lock */
};

/* ------------------------------------------------------------------------------------------ */
/* Errors, columns, time                                                                       */
/* ------------------------------------------------------------------------------------------ */

int store_sql_error(sqlite3 *db, const char *what, struct nn_err *err)
{
    if (db != NULL && (sqlite3_errcode(db) & 0xff) == SQLITE_FULL) {
        return nn_err_set(err, NN_ENOSPC, "database: %s: %s", what, sqlite3_errmsg(db));
    }
    return nn_err_set(err, NN_EIO, "database: %s: %s", what,
                      db != NULL ? sqlite3_errmsg(db) : "cannot open");
}

void store_sql_now(char out[STORE_TIME_MAX])
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, STORE_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *store_sql_col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    if (t == NULL) {
        return NULL;
    }
    return nn_strdup((const char *)t);
}

void store_sql_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void conn_free(struct conn *c)
{
    if (c == NULL) {
        return;
    }
    for (int i = 0; i < c->n_cached; i++) {
        sqlite3_finalize(c->cache[i].st);
    }
    sqlite3_close(c->db);
    nn_free(c);
}

/* Runs every statement of a multi-statement text (a migration, a PRAGMA), each prepared
 * once and finalised: these are not kept in the cache. */
static int exec_all(sqlite3 *db, const char *text, struct nn_err *err)
{
    const char *tail = text;

    while (tail != NULL && *tail != '\0') {
        sqlite3_stmt *st = NULL;
        const char *next = NULL;
        if (sqlite3_prepare_v2(db, tail, -1, &st, &next) != SQLITE_OK) {
            return store_sql_error(db, "prepare", err);
        }
        if (st == NULL) { /* only whitespace or comments left */
            break;
        }
        int rc = sqlite3_step(st);
        while (rc == SQLITE_ROW) {
            rc = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            return store_sql_error(db, "exec", err);
        }
        tail = next;
    }
    return 0;
}

static int conn_open(const char *path, struct conn **out, struct nn_err *err)
{
    struct conn *c = nn_calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (c == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (sqlite3_open_v2(path, &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = nn_err_set(err, NN_EIO, "database %s: %s", path,
                        c->db != NULL ? sqlite3_errmsg(c->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, 10000);
    sqlite3_extended_result_codes(c->db, 1);
    rc = exec_all(c->db,
                  "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                  "PRAGMA foreign_keys = ON; PRAGMA secure_delete = FAST;",
                  err);
    if (rc != 0) {
        goto fail;
    }
    *out = c;
    return 0;
fail:
    conn_free(c);
    return rc;
}

/* Takes an idle connection or opens a new one. */
static int conn_get(struct store_sqlite *s, struct conn **out, struct nn_err *err)
{
    pthread_mutex_lock(&s->lock);
    struct conn *c = s->free;
    if (c != NULL) {
        s->free = c->next;
    }
    pthread_mutex_unlock(&s->lock);
    if (c != NULL) {
        c->next = NULL;
        *out = c;
        return 0;
    }
    return conn_open(s->path, out, err);
}

static void conn_put(struct store_sqlite *s, struct conn *c)
{
    pthread_mutex_lock(&s->lock);
    c->next = s->free;
    s->free = c;
    pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------------------------------ */
/* Statements: prepare once, bind, step                                                        */
/* ------------------------------------------------------------------------------------------ */

/* The connection's statement for sql, reset, with a's values bound to ?1 .. ?n. */
static int prepare(struct conn *c, const char *sql, struct sql_args a, sqlite3_stmt **out,
                   struct nn_err *err)
{
    sqlite3_stmt *st = NULL;

    for (int i = 0; i < c->n_cached && st == NULL; i++) {
        if (c->cache[i].sql == sql) {
            st = c->cache[i].st;
        }
    }
    if (st == NULL) {
        if (c->n_cached == STORE_SQL_CACHE_MAX) {
            return nn_err_set(err, NN_EIO, "database: more than %d statements",
                              STORE_SQL_CACHE_MAX);
        }
        if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
            return store_sql_error(c->db, "prepare", err);
        }
        c->cache[c->n_cached].sql = sql;
        c->cache[c->n_cached].st = st;
        c->n_cached++;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (int i = 0; i < a.n; i++) {
        const struct sql_val *v = &a.v[i];
        int rc;
        switch (v->type) {
        case SQL_T_INT:
            rc = sqlite3_bind_int64(st, i + 1, v->u.i);
            break;
        case SQL_T_REAL:
            rc = sqlite3_bind_double(st, i + 1, v->u.d);
            break;
        case SQL_T_TEXT:
            rc = sqlite3_bind_text(st, i + 1, v->u.t, -1, SQLITE_STATIC);
            break;
        case SQL_T_BLOB:
            rc = sqlite3_bind_blob64(st, i + 1, v->u.b.p, v->u.b.n, SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(st, i + 1);
            break;
        }
        if (rc != SQLITE_OK) {
            return store_sql_error(c->db, "bind", err);
        }
    }
    *out = st;
    return 0;
}

int store_sql_exec(struct conn *c, const char *sql, struct sql_args a, int *changes,
                   struct nn_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(c, sql, a, &st, err);

    if (rc != 0) {
        return rc;
    }
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        if ((step & 0xff) == SQLITE_CONSTRAINT) {
            return nn_err_set(err, NN_EINVAL, "database: %s", sqlite3_errmsg(c->db));
        }
        return store_sql_error(c->db, "step", err);
    }
    if (changes != NULL) {
        *changes = sqlite3_changes(c->db);
    }
    return 0;
}

int store_sql_change(struct conn *c, const char *sql, struct sql_args a, int code,
                     struct nn_err *err, const char *fmt, ...)
{
    int changes = 0;
    int rc = store_sql_exec(c, sql, a, &changes, err);

    if (rc == 0 && changes == 0) {
        char msg[sizeof(err->msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        rc = nn_err_set(err, code, "%s", msg);
    }
    return rc;
}

int store_sql_rows(struct conn *c, const char *sql, struct sql_args a, store_sql_row_fn fn,
                   void *ctx, struct nn_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(c, sql, a, &st, err);
    int step;

    if (rc != 0) {
        return rc;
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = fn(st, ctx, err);
        if (rc != 0) {
            break;
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = store_sql_error(c->db, "read", err);
    }
    sqlite3_reset(st);
    return rc;
}

int store_sql_row(struct conn *c, const char *sql, struct sql_args a, store_sql_row_fn fn,
                  void *ctx, struct nn_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = prepare(c, sql, a, &st, err);

    if (rc != 0) {
        return rc;
    }
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        rc = fn(st, ctx, err);
    } else if (step == SQLITE_DONE) {
        rc = NN_ENOTFOUND;
    } else {
        rc = store_sql_error(c->db, "read", err);
    }
    sqlite3_reset(st);
    return rc;
}

int store_sql_collect_row(sqlite3_stmt *st, void *ctx, struct nn_err *err)
{
    struct sql_collect *k = ctx;

    if (k->n == k->cap) {
        size_t ncap = k->cap == 0 ? 16 : k->cap * 2;
        void *na = nn_reallocarray(k->v, ncap, k->size);
        if (na == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory");
        }
        k->v = na;
        k->cap = ncap;
    }
    void *elem = (char *)k->v + k->n * k->size;
    memset(elem, 0, k->size);
    int rc = k->fill(st, elem, k->size, err);
    if (rc == 0) {
        k->n++;
    }
    return rc;
}

int store_sql_int(sqlite3_stmt *st, void *ctx, struct nn_err *err)
{
    (void)err;
    *(int *)ctx = sqlite3_column_int(st, 0);
    return 0;
}

int store_sql_fill_int(sqlite3_stmt *st, void *elem, size_t size, struct nn_err *err)
{
    (void)size;
    return store_sql_int(st, elem, err);
}

int store_sql_fill_text(sqlite3_stmt *st, void *elem, size_t size, struct nn_err *err)
{
    (void)err;
    store_sql_col_copy(st, 0, elem, size);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions                                                                                */
/* ------------------------------------------------------------------------------------------ */

int store_sql_tx(struct store *base, enum store_sql_mode mode, store_sql_tx_fn fn, void *ctx,
                 struct nn_err *err)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    struct conn *c = NULL;
    int rc = conn_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    if (mode != STORE_SQL_AUTOCOMMIT) {
        rc = store_sql_exec(c, mode == STORE_SQL_WRITE ? "BEGIN IMMEDIATE" : "BEGIN", SQL_NOARGS,
                            NULL, err);
    }
    if (rc == 0) {
        rc = fn(c, ctx, err);
    }
    if (rc == 0 && mode == STORE_SQL_WRITE) {
        rc = store_sql_exec(c, "COMMIT", SQL_NOARGS, NULL, err);
    }
    if (!sqlite3_get_autocommit(c->db)) { /* a snapshot, or a write that failed */
        store_sql_exec(c, "ROLLBACK", SQL_NOARGS, NULL, NULL);
    }
    conn_put(s, c);
    return rc;
}

struct once {
    const char *sql;
    struct sql_args a;
    store_sql_row_fn fn;
    void *ctx;
    int *changes;
};

static int once_run(struct conn *c, void *ctx, struct nn_err *err)
{
    struct once *o = ctx;

    if (o->fn != NULL) {
        return store_sql_rows(c, o->sql, o->a, o->fn, o->ctx, err);
    }
    return store_sql_exec(c, o->sql, o->a, o->changes, err);
}

int store_sql_once(struct store *s, const char *sql, struct sql_args a, store_sql_row_fn fn,
                   void *ctx, int *changes, struct nn_err *err)
{
    struct once o = {sql, a, fn, ctx, changes};

    return store_sql_tx(s, STORE_SQL_AUTOCOMMIT, once_run, &o, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Open, migrate, close                                                                        */
/* ------------------------------------------------------------------------------------------ */

static const char sql_schema_version[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

/* Reads the recorded schema version into *(int *)ctx. */
static int read_schema_version(struct conn *c, void *ctx, struct nn_err *err)
{
    int rc = store_sql_row(c, sql_schema_version, SQL_NOARGS, store_sql_int, ctx, err);

    return rc == NN_ENOTFOUND ? store_sql_error(c->db, "read schema version", err) : rc;
}

/* Reads the schema version into *(int *)ctx; NN_ERANGE when it is newer than this binary
 * knows (a newer neurond migrated the database: refuse it, change nothing). */
static int check_schema(struct conn *c, void *ctx, struct nn_err *err)
{
    int rc = read_schema_version(c, ctx, err);
    int cur = *(int *)ctx;

    if (rc == 0 && cur > store_schema_version_known()) {
        rc = nn_err_set(err, NN_ERANGE,
                        "the database schema is version %d, newer than this binary knows "
                        "(%d): refusing to start; use a newer neurond",
                        cur, store_schema_version_known());
    }
    return rc;
}

static int create_migrations_table(struct conn *c, void *ctx, struct nn_err *err)
{
    (void)ctx;
    return exec_all(c->db,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                    "applied_at TEXT NOT NULL)",
                    err);
}

/* One migration, unless the database already has it. */
static int migrate_one(struct conn *c, void *ctx, struct nn_err *err)
{
    const struct store_migration *m = ctx;
    char now[STORE_TIME_MAX];
    int cur = 0;
    int rc = check_schema(c, &cur, err);

    if (rc != 0 || m->version <= cur) {
        return rc;
    }
    rc = exec_all(c->db, m->sql, err);
    if (rc != 0) {
        return rc;
    }
    store_sql_now(now);
    return store_sql_exec(c,
                          "INSERT INTO schema_migrations (version, name, applied_at) "
                          "VALUES (?1, ?2, ?3)",
                          SQL_ARGS(SQL_INT(m->version), SQL_TEXT(m->name), SQL_TEXT(now)), NULL,
                          err);
}

/* Applies the embedded migrations, then checks that nothing newer is recorded (a database
 * newer than every migration we know, with nothing left for us to apply). */
static int migrate(struct store *s, struct nn_err *err)
{
    int cur = 0;
    int rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, create_migrations_table, NULL, err);

    for (int i = 0; rc == 0 && i < store_n_migrations; i++) {
        rc = store_sql_tx(s, STORE_SQL_WRITE, migrate_one, (void *)&store_migrations[i], err);
    }
    if (rc == 0) {
        rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, check_schema, &cur, err);
    }
    return rc;
}

static void sqlite_close(struct store *base)
{
    struct store_sqlite *s = (struct store_sqlite *)base;
    struct conn *c = s->free;

    while (c != NULL) {
        struct conn *next = c->next;
        conn_free(c);
        c = next;
    }
    pthread_mutex_destroy(&s->lock);
    nn_free(s->path);
    nn_free(s);
}

static int sqlite_open(const char *path, struct store **out, struct nn_err *err)
{
    struct store_sqlite *s = nn_calloc(1, sizeof(*s));
    int rc;

    if (s == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    s->base.ops = &store_sqlite_ops;
    pthread_mutex_init(&s->lock, NULL);
    s->path = nn_strdup(path);
    if (s->path == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    rc = migrate(&s->base, err);
    if (rc != 0) {
        goto fail;
    }
    *out = &s->base;
    return 0;
fail:
    sqlite_close(&s->base);
    return rc;
}

static int sqlite_schema_version(struct store *s, int *v, struct nn_err *err)
{
    int tmp = 0;
    int rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, read_schema_version, &tmp, err);

    if (rc == 0) {
        *v = tmp;
    }
    return rc;
}

const struct store_ops store_sqlite_ops = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .schema_version = sqlite_schema_version,
    .version_put = store_sqlite_version_put,
    .version_get = store_sqlite_version_get,
    .model_list = store_sqlite_model_list,
    .serving_set = store_sqlite_serving_set,
    .model_delete = store_sqlite_model_delete,
    .version_delete = store_sqlite_version_delete,
    .job_create = store_sqlite_job_create,
    .job_get = store_sqlite_job_get,
    .job_list = store_sqlite_job_list,
    .job_claim = store_sqlite_job_claim,
    .job_progress = store_sqlite_job_progress,
    .job_history = store_sqlite_job_history,
    .job_fail = store_sqlite_job_fail,
    .job_cancel = store_sqlite_job_cancel,
    .job_requeue = store_sqlite_job_requeue,
    .jobs_recover = store_sqlite_jobs_recover,
    .jobs_count = store_sqlite_jobs_count,
    .spool_in_use = store_sqlite_spool_in_use,
    .feedback_put = store_sqlite_feedback_put,
    .feedback_list = store_sqlite_feedback_list,
    .feedback_delete = store_sqlite_feedback_delete,
    .feedback_count = store_sqlite_feedback_count,
    .sample_put = store_sqlite_sample_put,
    .sample_get = store_sqlite_sample_get,
};
