/*
 * store_sqlite: the SQLite backend of store.h — its driver for store_sql.h (the connection
 * pool, the statement cache, binds, stepping rows, reading columns, the one error mapping),
 * the migrations and its ops table, most of whose calls are store_sql_ops.c's.
 *
 * Connections: a pool; a call takes one, uses it on its own thread, and gives it back, so
 * each connection is used by one thread at a time (SQLite's rule) without thread-local
 * state. Each connection prepares a statement the first time its SQL text is used
 * (SQLITE_PREPARE_PERSISTENT) and keeps it: every query is a prepared statement with bound
 * values. Settings per connection: WAL journal, synchronous NORMAL (durable across a killed
 * process; docs/decisions.md), foreign keys on, a 10 s busy timeout.
 * Migrations (embedded from migrations/NNNN_name.sql) run at open, each in its own
 * transaction. A new version is in store_sqlite_models.c, the claim and the recovery in
 * store_sqlite_jobs.c.
 */
#include "store_sqlite_int.h"

#include <stdio.h>
#include <string.h>

#include "nn/alloc.h"
#include "store_migrations.h"

static const struct sql_driver sqlite_driver;

/* ------------------------------------------------------------------------------------------ */
/* Errors and columns                                                                          */
/* ------------------------------------------------------------------------------------------ */

/* Records a database error with SQLite's message: NN_ENOSPC when the disk or the database
 * file is full (SQLITE_FULL), else NN_EIO. */
static int sqlite_error(sqlite3 *db, const char *what, struct nn_err *err)
{
    if (db != NULL && (sqlite3_errcode(db) & 0xff) == SQLITE_FULL) {
        return nn_err_set(err, NN_ENOSPC, "database: %s: %s", what, sqlite3_errmsg(db));
    }
    return nn_err_set(err, NN_EIO, "database: %s: %s", what,
                      db != NULL ? sqlite3_errmsg(db) : "cannot open");
}

/* A failed step: a constraint is the caller's (NN_EINVAL), anything else the database's. */
static int step_error(struct conn *c, int step, const char *what, struct nn_err *err)
{
    if ((step & 0xff) == SQLITE_CONSTRAINT) {
        return nn_err_set(err, NN_EINVAL, "database: %s", sqlite3_errmsg(c->db));
    }
    return sqlite_error(c->db, what, err);
}

static int col_null(const struct sql_row *r, int col)
{
    return sqlite3_column_type(r->res, col) == SQLITE_NULL;
}

static const char *col_text(const struct sql_row *r, int col)
{
    return (const char *)sqlite3_column_text(r->res, col);
}

static long long col_integer(const struct sql_row *r, int col)
{
    return sqlite3_column_int64(r->res, col);
}

static double col_real(const struct sql_row *r, int col)
{
    return sqlite3_column_double(r->res, col);
}

static const void *col_blob(const struct sql_row *r, int col, size_t *len)
{
    const void *b = sqlite3_column_blob(r->res, col);

    *len = (size_t)sqlite3_column_bytes(r->res, col);
    return b;
}

static const struct sql_row_ops sqlite_row_ops = {col_null, col_text, col_integer, col_real,
                                                  col_blob};

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static void conn_free(struct sql_conn *sc)
{
    struct conn *c = (struct conn *)sc;

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
            return sqlite_error(db, "prepare", err);
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
            return sqlite_error(db, "exec", err);
        }
        tail = next;
    }
    return 0;
}

/* A new connection to the database file (the store's target). */
static int conn_open(struct store *s, struct sql_conn **out, struct nn_err *err)
{
    const char *path = ((struct store_sql *)s)->target;
    struct conn *c = nn_calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (c == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    c->base.drv = &sqlite_driver;
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
    *out = &c->base;
    return 0;
fail:
    conn_free(&c->base);
    return rc;
}

static int in_tx(struct sql_conn *c)
{
    return !sqlite3_get_autocommit(((struct conn *)c)->db);
}

/* ------------------------------------------------------------------------------------------ */
/* Statements: prepare once, bind, step                                                        */
/* ------------------------------------------------------------------------------------------ */

/* Binds value i of a to $<i+1> (by name), or to ?<i+1> in a text without names. */
static int bind(sqlite3_stmt *st, struct sql_args a, int i)
{
    const struct sql_val *v = &a.v[i];
    char name[16];
    int k;

    snprintf(name, sizeof(name), "$%d", i + 1);
    k = sqlite3_bind_parameter_index(st, name);
    k = k > 0 ? k : i + 1;
    switch (v->type) {
    case SQL_T_INT:
        return sqlite3_bind_int64(st, k, v->u.i);
    case SQL_T_REAL:
        return sqlite3_bind_double(st, k, v->u.d);
    case SQL_T_TEXT:
        return sqlite3_bind_text(st, k, v->u.t, -1, SQLITE_STATIC);
    case SQL_T_BLOB:
        return sqlite3_bind_blob64(st, k, v->u.b.p, v->u.b.n, SQLITE_STATIC);
    default:
        return sqlite3_bind_null(st, k);
    }
}

/* The connection's statement for sql, reset, with a's values bound. */
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
            return sqlite_error(c->db, "prepare", err);
        }
        c->cache[c->n_cached].sql = sql;
        c->cache[c->n_cached].st = st;
        c->n_cached++;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (int i = 0; i < a.n; i++) {
        if (bind(st, a, i) != SQLITE_OK) {
            return sqlite_error(c->db, "bind", err);
        }
    }
    *out = st;
    return 0;
}

static int sqlite_exec(struct sql_conn *sc, const char *sql, struct sql_args a, int *changes,
                       struct nn_err *err)
{
    struct conn *c = (struct conn *)sc;
    sqlite3_stmt *st = NULL;
    int rc = prepare(c, sql, a, &st, err);

    if (rc != 0) {
        return rc;
    }
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        return step_error(c, step, "step", err);
    }
    if (changes != NULL) {
        *changes = sqlite3_changes(c->db);
    }
    return 0;
}

static int sqlite_rows(struct sql_conn *sc, const char *sql, struct sql_args a, int binary,
                       store_sql_row_fn fn, void *ctx, struct nn_err *err)
{
    struct conn *c = (struct conn *)sc;
    struct sql_row r = {&sqlite_row_ops, NULL, 0};
    sqlite3_stmt *st = NULL;
    int rc = prepare(c, sql, a, &st, err);
    int step;

    (void)binary; /* SQLite's blobs are bytes anyway */
    if (rc != 0) {
        return rc;
    }
    r.res = st;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        rc = fn(&r, ctx, err);
        if (rc != 0) {
            break;
        }
    }
    if (rc == STORE_SQL_STOP) {
        rc = 0;
    } else if (rc == 0 && step != SQLITE_DONE) {
        rc = step_error(c, step, "read", err);
    }
    sqlite3_reset(st);
    return rc;
}

static const struct sql_driver sqlite_driver = {
    .exec = sqlite_exec,
    .rows = sqlite_rows,
    .in_tx = in_tx,
    .connect = conn_open,
    .close = conn_free,
    .begin = {NULL, "BEGIN", "BEGIN IMMEDIATE"},
    .tries = 1,
    .sql = &store_sqlite_dialect,
    .schema_known = store_schema_version_known,
};

/* ------------------------------------------------------------------------------------------ */
/* Open, migrate, close                                                                        */
/* ------------------------------------------------------------------------------------------ */

static int create_migrations_table(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    (void)ctx;
    return exec_all(((struct conn *)c)->db,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                    "applied_at TEXT NOT NULL)",
                    err);
}

/* One migration, unless the database already has it. */
static int migrate_one(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const struct store_migration *m = ctx;
    long long cur = 0;
    int rc = store_sql_schema_check(c, &cur, err);

    if (rc != 0 || m->version <= cur) {
        return rc;
    }
    rc = exec_all(((struct conn *)c)->db, m->sql, err);
    if (rc != 0) {
        return rc;
    }
    return store_sql_exec(c,
                          "INSERT INTO schema_migrations (version, name, applied_at) "
                          "VALUES ($1, $2, " SQLITE_NOW ")",
                          SQL_ARGS(SQL_INT(m->version), SQL_TEXT(m->name)), NULL, err);
}

/* Applies the embedded migrations, then checks that nothing newer is recorded (a database
 * newer than every migration we know, with nothing left for us to apply). */
static int migrate(struct store *s, struct nn_err *err)
{
    long long cur = 0;
    int rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, create_migrations_table, NULL, err);

    for (int i = 0; rc == 0 && i < store_n_migrations; i++) {
        rc = store_sql_tx(s, STORE_SQL_WRITE, migrate_one, (void *)&store_migrations[i], err);
    }
    if (rc == 0) {
        rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, store_sql_schema_check, &cur, err);
    }
    return rc;
}

static int sqlite_open(const char *path, struct store **out, struct nn_err *err)
{
    struct store_sql *s = store_sql_new(sizeof(*s), &store_sqlite_ops, &sqlite_driver, path, err);

    return s != NULL ? store_sql_open_end(&s->base, 0, migrate, out, err) : NN_ENOMEM;
}

const struct store_ops store_sqlite_ops = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .close = store_sql_free,
    .version_put = store_sqlite_version_put,
    .job_claim = store_sqlite_job_claim,
    .jobs_recover = store_sqlite_jobs_recover,
    .feedback_put = store_sqlite_feedback_put,
    .sample_put = store_sqlite_sample_put,
    STORE_SQL_OPS,
};
