/*
 * store_sqlite: the SQLite backend of store.h — the only file with SQL in it.
 *
 * Connections: a pool; a call takes one, uses it on its own thread, and gives it back, so
 * each connection is used by one thread at a time (SQLite's rule) without thread-local
 * state. Each connection prepares its statements once (SQLITE_PREPARE_PERSISTENT) from the
 * table `sql` below and keeps them: every query is a prepared statement with bound values.
 * Settings per connection: WAL journal, synchronous NORMAL (durable across a killed
 * process; docs/decisions.md), foreign keys on, a 10 s busy timeout.
 * Writes that must be atomic run inside BEGIN IMMEDIATE ... COMMIT on one connection.
 * Migrations (embedded from migrations/NNNN_name.sql) run at open, each in its own transaction.
 * The job calls live in store_sqlite_jobs.c; what both files share is store_sqlite_int.h.
 */
#include "store.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nn/alloc.h"
#include "store_migrations.h"
#include "store_sqlite_int.h"

/* ------------------------------------------------------------------------------------------ */
/* Statements                                                                                  */
/* ------------------------------------------------------------------------------------------ */


#define JOB_COLS                                                                                   \
    "j.id, j.model, j.status, j.progress, j.epoch, j.epochs, j.params, j.form, j.metrics, "        \
    "j.model_version, j.error_code, j.error_message, j.created_at, j.started_at, "                 \
    "j.finished_at, d.spool, d.rows, d.columns, d.bytes, d.sha256 "                                \
    "FROM jobs j JOIN datasets d ON d.id = j.dataset_id "

static const char *const sql[N_SQL] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_BEGIN_READ] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SCHEMA_VERSION] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
    [Q_DATASET_INSERT] = "INSERT INTO datasets (spool, bytes, rows, columns, sha256, created_at) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_JOB_INSERT] = "INSERT INTO jobs (id, model, status, epochs, params, form, dataset_id, "
                     "created_at) VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7)",
    [Q_JOB_GET] = "SELECT " JOB_COLS "WHERE j.id = ?1",
    [Q_JOB_LIST] = "SELECT " JOB_COLS "WHERE (?1 IS NULL OR j.status = ?1) "
                   "AND (?2 IS NULL OR j.model = ?2) ORDER BY j.seq DESC LIMIT ?3",
    [Q_JOB_HISTORY] = "SELECT epoch, train_loss, val_loss, val_metric, seconds, regression "
                      "FROM job_history "
                      "WHERE job_id = ?1 ORDER BY epoch",
    [Q_JOB_CLAIM] = "UPDATE jobs SET status = 'running', started_at = ?2, progress = 0, "
                    "epoch = 0 WHERE id = ?1 AND status = 'queued'",
    [Q_HISTORY_CLEAR] = "DELETE FROM job_history WHERE job_id = ?1",
    [Q_JOB_EPOCH] = "UPDATE jobs SET epoch = ?2, progress = ?3 WHERE id = ?1 AND status = "
                    "'running'",
    [Q_HISTORY_INSERT] =
        "INSERT OR REPLACE INTO job_history (job_id, epoch, train_loss, "
        "val_loss, val_metric, seconds, regression) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_JOB_FAIL] = "UPDATE jobs SET status = 'failed', error_code = ?2, error_message = ?3, "
                   "finished_at = ?4 WHERE id = ?1 AND status = 'running'",
    [Q_JOB_STATUS] = "SELECT status FROM jobs WHERE id = ?1",
    [Q_JOB_CANCEL] = "UPDATE jobs SET status = 'cancelled', finished_at = ?2 WHERE id = ?1 "
                     "AND status IN ('queued', 'running')",
    [Q_JOB_REQUEUE] = "UPDATE jobs SET status = 'queued', progress = 0, epoch = 0, "
                      "started_at = NULL WHERE id = ?1 AND status = 'running'",
    [Q_JOBS_REQUEUE_ALL] = "UPDATE jobs SET status = 'queued', progress = 0, epoch = 0, "
                           "started_at = NULL WHERE status = 'running'",
    [Q_HISTORY_CLEAR_QUEUED] = "DELETE FROM job_history WHERE job_id IN "
                               "(SELECT id FROM jobs WHERE status = 'queued')",
    [Q_JOBS_QUEUED] = "SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq",
    [Q_JOBS_COUNT] = "SELECT status, COUNT(*) FROM jobs GROUP BY status",
    [Q_SPOOL_IN_USE] = "SELECT COUNT(*) FROM jobs j JOIN datasets d ON d.id = j.dataset_id "
                       "WHERE d.spool = ?1 AND j.status IN ('queued', 'running')",
    [Q_MODEL_ENSURE] = "INSERT INTO models (name, created_at) VALUES (?1, ?2) "
                       "ON CONFLICT (name) DO NOTHING",
    [Q_MODEL_GET] = "SELECT id, next_version, COALESCE(pinned_version, 0), created_at "
                    "FROM models WHERE name = ?1",
    [Q_VERSION_INSERT] = "INSERT INTO model_versions (model_id, version, blob, card, metrics, "
                         "job_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_MODEL_BUMP] = "UPDATE models SET next_version = ?2 + 1 WHERE id = ?1",
    [Q_JOB_SUCCEED] = "UPDATE jobs SET status = 'succeeded', progress = 1, epoch = ?2, "
                      "metrics = ?3, params = ?4, model_version = ?5, finished_at = ?6 "
                      "WHERE id = ?1 AND status = 'running'",
    [Q_VERSION_MAX] = "SELECT COALESCE(MAX(version), 0) FROM model_versions WHERE model_id = ?1",
    [Q_VERSION_GET] = "SELECT CASE WHEN ?3 THEN blob END, card, metrics, COALESCE(job_id, ''), "
                      "created_at FROM model_versions WHERE model_id = ?1 AND version = ?2",
    [Q_VERSION_LIST] = "SELECT version FROM model_versions WHERE model_id = ?1 ORDER BY version",
    [Q_MODEL_NAMES] = "SELECT name FROM models m WHERE EXISTS (SELECT 1 FROM model_versions v "
                      "WHERE v.model_id = m.id) ORDER BY name",
    [Q_MODEL_PIN] = "UPDATE models SET pinned_version = NULLIF(?2, 0) WHERE id = ?1",
    [Q_MODEL_DELETE] = "DELETE FROM models WHERE name = ?1",
    [Q_VERSION_DELETE] = "DELETE FROM model_versions WHERE model_id = ?1 AND version = ?2",
    [Q_MODEL_UNPIN_IF] = "UPDATE models SET pinned_version = NULL WHERE id = ?1 AND "
                         "pinned_version = ?2",
};

static const char *const status_names[STORE_JOB_N_STATUS] = {"queued", "running", "succeeded",
                                                             "failed", "cancelled"};

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */
/* ------------------------------------------------------------------------------------------ */


struct store {
    char *path;
    pthread_mutex_t lock; /* guards free */
    struct conn *free;    /* idle connections; guarded by lock */
};

const char *store_job_status_name(int status)
{
    if (status < 0 || status >= STORE_JOB_N_STATUS) {
        return "unknown";
    }
    return status_names[status];
}

int store_job_status_parse(const char *name)
{
    for (int i = 0; i < STORE_JOB_N_STATUS; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

void store_sql_now(char out[STORE_TIME_MAX])
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, STORE_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int store_sql_error(sqlite3 *db, const char *what, struct nn_err *err)
{
    if (db != NULL && (sqlite3_errcode(db) & 0xff) == SQLITE_FULL) {
        return nn_err_set(err, NN_ENOSPC, "database: %s: %s", what, sqlite3_errmsg(db));
    }
    return nn_err_set(err, NN_EIO, "database: %s: %s", what,
                      db != NULL ? sqlite3_errmsg(db) : "cannot open");
}

static void conn_free(struct conn *c)
{
    if (c == NULL) {
        return;
    }
    for (int i = 0; i < N_SQL; i++) {
        sqlite3_finalize(c->st[i]);
    }
    sqlite3_close(c->db);
    nn_free(c);
}

/* Runs every statement of a multi-statement text (a migration, a PRAGMA), each prepared. */
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
int store_sql_get(struct store *s, struct conn **out, struct nn_err *err)
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

void store_sql_put(struct store *s, struct conn *c)
{
    pthread_mutex_lock(&s->lock);
    c->next = s->free;
    s->free = c;
    pthread_mutex_unlock(&s->lock);
}

/* The connection's statement q, reset and unbound; NULL (err set) when it cannot prepare. */
sqlite3_stmt *store_sql_stmt(struct conn *c, int q, struct nn_err *err)
{
    if (c->st[q] == NULL) {
        if (sqlite3_prepare_v3(c->db, sql[q], -1, SQLITE_PREPARE_PERSISTENT, &c->st[q], NULL) !=
            SQLITE_OK) {
            store_sql_error(c->db, "prepare", err);
            return NULL;
        }
    }
    sqlite3_reset(c->st[q]);
    sqlite3_clear_bindings(c->st[q]);
    return c->st[q];
}

/* Runs a statement that returns no rows; *changes (may be NULL) gets the rows changed. */
int store_sql_run(struct conn *c, sqlite3_stmt *st, int *changes, struct nn_err *err)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
            return nn_err_set(err, NN_EINVAL, "database: %s", sqlite3_errmsg(c->db));
        }
        return store_sql_error(c->db, "step", err);
    }
    if (changes != NULL) {
        *changes = sqlite3_changes(c->db);
    }
    return 0;
}

int store_sql_simple(struct conn *c, int q, struct nn_err *err)
{
    sqlite3_stmt *st = store_sql_stmt(c, q, err);

    if (st == NULL) {
        return NN_EIO;
    }
    return store_sql_run(c, st, NULL, err);
}

int store_sql_begin(struct conn *c, struct nn_err *err)
{
    return store_sql_simple(c, Q_BEGIN, err);
}

int store_sql_commit(struct conn *c, struct nn_err *err)
{
    return store_sql_simple(c, Q_COMMIT, err);
}

void store_sql_rollback(struct conn *c)
{
    if (!sqlite3_get_autocommit(c->db)) {
        store_sql_simple(c, Q_ROLLBACK, NULL);
    }
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
/* Open, migrate, close                                                                        */
/* ------------------------------------------------------------------------------------------ */

int store_schema_version_known(void)
{
    return store_n_migrations > 0 ? store_migrations[store_n_migrations - 1].version : 0;
}

static int migrate(struct conn *c, struct nn_err *err)
{
    int rc = exec_all(c->db,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                      "applied_at TEXT NOT NULL)",
                      err);
    if (rc != 0) {
        return rc;
    }
    for (int i = 0; i < store_n_migrations; i++) {
        const struct store_migration *m = &store_migrations[i];
        rc = store_sql_begin(c, err);
        if (rc != 0) {
            return rc;
        }
        sqlite3_stmt *st = store_sql_stmt(c, Q_SCHEMA_VERSION, err);
        if (st == NULL || sqlite3_step(st) != SQLITE_ROW) {
            rc = store_sql_error(c->db, "read schema version", err);
            goto fail;
        }
        int cur = sqlite3_column_int(st, 0);
        sqlite3_reset(st);
        if (cur > store_schema_version_known()) {
            rc = nn_err_set(err, NN_ERANGE,
                            "the database schema is version %d, newer than this binary knows "
                            "(%d): refusing to start; use a newer neurond",
                            cur, store_schema_version_known());
            goto fail;
        }
        if (m->version <= cur) {
            store_sql_rollback(c);
            continue;
        }
        rc = exec_all(c->db, m->sql, err);
        if (rc != 0) {
            goto fail;
        }
        char now[STORE_TIME_MAX];
        store_sql_now(now);
        sqlite3_stmt *ins = NULL;
        if (sqlite3_prepare_v2(c->db,
                               "INSERT INTO schema_migrations (version, name, applied_at) "
                               "VALUES (?1, ?2, ?3)",
                               -1, &ins, NULL) != SQLITE_OK) {
            rc = store_sql_error(c->db, "prepare", err);
            goto fail;
        }
        sqlite3_bind_int(ins, 1, m->version);
        sqlite3_bind_text(ins, 2, m->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, now, -1, SQLITE_TRANSIENT);
        int step = sqlite3_step(ins);
        sqlite3_finalize(ins);
        if (step != SQLITE_DONE) {
            rc = store_sql_error(c->db, "record migration", err);
            goto fail;
        }
        rc = store_sql_commit(c, err);
        if (rc != 0) {
            goto fail;
        }
    }
    /* A database newer than every migration we know, with nothing left for us to apply. */
    int v = 0;
    sqlite3_stmt *st = store_sql_stmt(c, Q_SCHEMA_VERSION, err);
    if (st == NULL || sqlite3_step(st) != SQLITE_ROW) {
        return store_sql_error(c->db, "read schema version", err);
    }
    v = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    if (v > store_schema_version_known()) {
        return nn_err_set(err, NN_ERANGE,
                          "the database schema is version %d, newer than this binary knows "
                          "(%d): refusing to start; use a newer neurond",
                          v, store_schema_version_known());
    }
    return 0;
fail:
    store_sql_rollback(c);
    return rc;
}

int store_open(const char *path, struct store **out, struct nn_err *err)
{
    struct store *s = nn_calloc(1, sizeof(*s));
    struct conn *c = NULL;
    int rc;

    *out = NULL;
    if (s == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->lock, NULL);
    s->path = nn_strdup(path);
    if (s->path == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    rc = conn_open(path, &c, err);
    if (rc != 0) {
        goto fail;
    }
    rc = migrate(c, err);
    if (rc != 0) {
        goto fail;
    }
    store_sql_put(s, c);
    *out = s;
    return 0;
fail:
    conn_free(c);
    store_close(s);
    return rc;
}

void store_close(struct store *s)
{
    if (s == NULL) {
        return;
    }
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

int store_schema_version(struct store *s, int *v, struct nn_err *err)
{
    struct conn *c = NULL;
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_SCHEMA_VERSION, err);
    if (st == NULL || sqlite3_step(st) != SQLITE_ROW) {
        rc = store_sql_error(c->db, "read schema version", err);
    } else {
        *v = sqlite3_column_int(st, 0);
        sqlite3_reset(st);
    }
    store_sql_put(s, c);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Models and versions                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Reads a model row: id, next version, pin, created_at. NN_ENOTFOUND when there is none. */
static int model_row(struct conn *c, const char *model, sqlite3_int64 *id, int *next, int *pinned,
                     char created[STORE_TIME_MAX], struct nn_err *err)
{
    sqlite3_stmt *st = store_sql_stmt(c, Q_MODEL_GET, err);

    if (st == NULL) {
        return NN_EIO;
    }
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_reset(st);
        if (step == SQLITE_DONE) {
            return nn_err_set(err, NN_ENOTFOUND, "no model '%s'", model);
        }
        return store_sql_error(c->db, "read model", err);
    }
    *id = sqlite3_column_int64(st, 0);
    *next = sqlite3_column_int(st, 1);
    *pinned = sqlite3_column_int(st, 2);
    if (created != NULL) {
        store_sql_col_copy(st, 3, created, STORE_TIME_MAX);
    }
    sqlite3_reset(st);
    return 0;
}

int store_version_put(struct store *s, const struct store_version_new *v, int *version,
                      struct nn_err *err)
{
    struct conn *c = NULL;
    char now[STORE_TIME_MAX];
    sqlite3_int64 mid = 0;
    int next = 0, pinned = 0, changes = 0;
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    store_sql_now(now);
    rc = store_sql_begin(c, err);
    if (rc != 0) {
        goto out;
    }
    if (v->job_id != NULL) {
        sqlite3_stmt *js = store_sql_stmt(c, Q_JOB_STATUS, err);
        if (js == NULL) {
            rc = NN_EIO;
            goto out;
        }
        sqlite3_bind_text(js, 1, v->job_id, -1, SQLITE_STATIC);
        int running =
            sqlite3_step(js) == SQLITE_ROW &&
            store_job_status_parse((const char *)sqlite3_column_text(js, 0)) == STORE_JOB_RUNNING;
        sqlite3_reset(js);
        if (!running) {
            rc = nn_err_set(err, NN_ECANCELED, "job '%s' is no longer running", v->job_id);
            goto out;
        }
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_MODEL_ENSURE, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, v->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    rc = store_sql_run(c, st, NULL, err);
    if (rc != 0) {
        goto out;
    }
    rc = model_row(c, v->model, &mid, &next, &pinned, NULL, err);
    if (rc != 0) {
        goto out;
    }
    st = store_sql_stmt(c, Q_VERSION_INSERT, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_int(st, 2, next);
    sqlite3_bind_blob64(st, 3, v->blob, v->blob_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, v->card, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, v->metrics, -1, SQLITE_STATIC);
    if (v->job_id != NULL) {
        sqlite3_bind_text(st, 6, v->job_id, -1, SQLITE_STATIC);
    }
    sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
    rc = store_sql_run(c, st, NULL, err);
    if (rc != 0) {
        goto out;
    }
    st = store_sql_stmt(c, Q_MODEL_BUMP, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_int(st, 2, next);
    rc = store_sql_run(c, st, NULL, err);
    if (rc != 0) {
        goto out;
    }
    if (v->job_id != NULL) {
        st = store_sql_stmt(c, Q_JOB_SUCCEED, err);
        if (st == NULL) {
            rc = NN_EIO;
            goto out;
        }
        sqlite3_bind_text(st, 1, v->job_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, v->job_epoch);
        sqlite3_bind_text(st, 3, v->metrics, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, v->job_params != NULL ? v->job_params : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 5, next);
        sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
        rc = store_sql_run(c, st, &changes, err);
        if (rc != 0) {
            goto out;
        }
        if (changes != 1) {
            rc = nn_err_set(err, NN_ECANCELED, "job '%s' is no longer running", v->job_id);
            goto out;
        }
    }
    rc = store_sql_commit(c, err);
    if (rc == 0) {
        *version = next;
    }
out:
    if (rc != 0) {
        store_sql_rollback(c);
    }
    store_sql_put(s, c);
    return rc;
}

void store_version_free(struct store_version *v)
{
    if (v == NULL) {
        return;
    }
    nn_free(v->blob);
    nn_free(v->card);
    nn_free(v->metrics);
    nn_free(v->versions);
    nn_free(v);
}

static int version_get_conn(struct conn *c, const char *model, int version, int with_blob,
                            struct store_version **out, struct nn_err *err)
{
    struct store_version *v = nn_calloc(1, sizeof(*v));
    sqlite3_stmt *st = NULL;
    sqlite3_int64 mid = 0;
    int next = 0, pinned = 0, rc;

    if (v == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    snprintf(v->model, sizeof(v->model), "%s", model);
    rc = model_row(c, model, &mid, &next, &pinned, v->model_created_at, err);
    if (rc != 0) {
        goto fail;
    }
    v->pinned = pinned;
    if (pinned > 0) {
        v->serving = pinned;
    } else {
        st = store_sql_stmt(c, Q_VERSION_MAX, err);
        if (st == NULL) {
            rc = NN_EIO;
            goto fail;
        }
        sqlite3_bind_int64(st, 1, mid);
        if (sqlite3_step(st) != SQLITE_ROW) {
            rc = store_sql_error(c->db, "read versions", err);
            goto fail;
        }
        v->serving = sqlite3_column_int(st, 0);
        sqlite3_reset(st);
    }
    if (v->serving == 0) {
        rc = nn_err_set(err, NN_ENOTFOUND, "model '%s' has no versions", model);
        goto fail;
    }
    v->version = version > 0 ? version : v->serving;
    st = store_sql_stmt(c, Q_VERSION_GET, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto fail;
    }
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_int(st, 2, v->version);
    sqlite3_bind_int(st, 3, with_blob != 0);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        rc = step == SQLITE_DONE
                 ? nn_err_set(err, NN_ENOTFOUND, "model '%s' has no version %d", model, v->version)
                 : store_sql_error(c->db, "read version", err);
        goto fail;
    }
    if (with_blob) {
        int n = sqlite3_column_bytes(st, 0);
        const void *b = sqlite3_column_blob(st, 0);
        v->blob = nn_malloc(n > 0 ? (size_t)n : 1);
        if (v->blob == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
            goto fail;
        }
        if (n > 0) {
            memcpy(v->blob, b, (size_t)n);
        }
        v->blob_len = (size_t)n;
    }
    v->card = store_sql_col_dup(st, 1);
    v->metrics = store_sql_col_dup(st, 2);
    store_sql_col_copy(st, 3, v->job_id, sizeof(v->job_id));
    store_sql_col_copy(st, 4, v->created_at, sizeof(v->created_at));
    sqlite3_reset(st);
    if (v->card == NULL || v->metrics == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    st = store_sql_stmt(c, Q_VERSION_LIST, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto fail;
    }
    sqlite3_bind_int64(st, 1, mid);
    int cap = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (v->n_versions == cap) {
            int ncap = cap == 0 ? 8 : cap * 2;
            int *na = nn_reallocarray(v->versions, (size_t)ncap, sizeof(int));
            if (na == NULL) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory");
                goto fail;
            }
            v->versions = na;
            cap = ncap;
        }
        v->versions[v->n_versions++] = sqlite3_column_int(st, 0);
    }
    if (step != SQLITE_DONE) {
        rc = store_sql_error(c->db, "list versions", err);
        goto fail;
    }
    sqlite3_reset(st);
    *out = v;
    return 0;
fail:
    if (st != NULL) {
        sqlite3_reset(st);
    }
    store_version_free(v);
    return rc;
}

int store_version_get(struct store *s, const char *model, int version, int with_blob,
                      struct store_version **out, struct nn_err *err)
{
    struct conn *c = NULL;
    int rc;

    *out = NULL;
    rc = store_sql_get(s, &c, err);
    if (rc != 0) {
        return rc;
    }
    rc = store_sql_simple(c, Q_BEGIN_READ, err); /* one snapshot for the several reads */
    if (rc == 0) {
        rc = version_get_conn(c, model, version, with_blob, out, err);
        store_sql_rollback(c);
    }
    store_sql_put(s, c);
    return rc;
}

void store_version_list_free(struct store_version **v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        store_version_free(v[i]);
    }
    nn_free(v);
}

int store_model_list(struct store *s, struct store_version ***out, size_t *n, struct nn_err *err)
{
    struct conn *c = NULL;
    struct store_version **arr = NULL;
    char(*names)[STORE_NAME_MAX] = NULL;
    size_t len = 0, cap = 0, done = 0;
    int rc;

    *out = NULL;
    *n = 0;
    rc = store_sql_get(s, &c, err);
    if (rc != 0) {
        return rc;
    }
    rc = store_sql_simple(c, Q_BEGIN_READ, err);
    if (rc != 0) {
        goto fail;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_MODEL_NAMES, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto fail;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            char(*nn)[STORE_NAME_MAX] = nn_reallocarray(names, ncap, sizeof(*names));
            if (nn == NULL) {
                sqlite3_reset(st);
                rc = nn_err_set(err, NN_ENOMEM, "out of memory");
                goto fail;
            }
            names = nn;
            cap = ncap;
        }
        store_sql_col_copy(st, 0, names[len], STORE_NAME_MAX);
        len++;
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = store_sql_error(c->db, "list models", err);
        goto fail;
    }
    arr = nn_calloc(len > 0 ? len : 1, sizeof(*arr));
    if (arr == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    for (done = 0; done < len; done++) {
        rc = version_get_conn(c, names[done], 0, 0, &arr[done], err);
        if (rc != 0) {
            goto fail;
        }
    }
    store_sql_rollback(c);
    store_sql_put(s, c);
    nn_free(names);
    *out = arr;
    *n = len;
    return 0;
fail:
    store_sql_rollback(c);
    store_sql_put(s, c);
    nn_free(names);
    store_version_list_free(arr, done);
    return rc;
}

int store_serving_set(struct store *s, const char *model, int version, struct nn_err *err)
{
    struct conn *c = NULL;
    sqlite3_int64 mid = 0;
    int next = 0, pinned = 0;
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    rc = store_sql_begin(c, err);
    if (rc != 0) {
        goto out;
    }
    rc = model_row(c, model, &mid, &next, &pinned, NULL, err);
    if (rc != 0) {
        goto out;
    }
    sqlite3_stmt *st;
    if (version > 0) {
        st = store_sql_stmt(c, Q_VERSION_GET, err);
        if (st == NULL) {
            rc = NN_EIO;
            goto out;
        }
        sqlite3_bind_int64(st, 1, mid);
        sqlite3_bind_int(st, 2, version);
        sqlite3_bind_int(st, 3, 0);
        int step = sqlite3_step(st);
        sqlite3_reset(st);
        if (step != SQLITE_ROW) {
            rc = nn_err_set(err, NN_ENOTFOUND, "model '%s' has no version %d", model, version);
            goto out;
        }
    }
    st = store_sql_stmt(c, Q_MODEL_PIN, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_int(st, 2, version);
    rc = store_sql_run(c, st, NULL, err);
    if (rc != 0) {
        goto out;
    }
    rc = store_sql_commit(c, err);
out:
    if (rc != 0) {
        store_sql_rollback(c);
    }
    store_sql_put(s, c);
    return rc;
}

int store_model_delete(struct store *s, const char *model, struct nn_err *err)
{
    struct conn *c = NULL;
    int changes = 0;
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_MODEL_DELETE, err);
    if (st == NULL) {
        store_sql_put(s, c);
        return NN_EIO;
    }
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    rc = store_sql_run(c, st, &changes, err);
    if (rc == 0 && changes == 0) {
        rc = nn_err_set(err, NN_ENOTFOUND, "no model '%s'", model);
    }
    store_sql_put(s, c);
    return rc;
}

int store_version_delete(struct store *s, const char *model, int version, struct nn_err *err)
{
    struct conn *c = NULL;
    sqlite3_int64 mid = 0;
    int next = 0, pinned = 0, changes = 0;
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    rc = store_sql_begin(c, err);
    if (rc != 0) {
        goto out;
    }
    rc = model_row(c, model, &mid, &next, &pinned, NULL, err);
    if (rc != 0) {
        goto out;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_VERSION_DELETE, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_int(st, 2, version);
    rc = store_sql_run(c, st, &changes, err);
    if (rc != 0) {
        goto out;
    }
    if (changes == 0) {
        rc = nn_err_set(err, NN_ENOTFOUND, "model '%s' has no version %d", model, version);
        goto out;
    }
    st = store_sql_stmt(c, Q_MODEL_UNPIN_IF, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_int(st, 2, version);
    rc = store_sql_run(c, st, NULL, err);
    if (rc != 0) {
        goto out;
    }
    rc = store_sql_commit(c, err);
out:
    if (rc != 0) {
        store_sql_rollback(c);
    }
    store_sql_put(s, c);
    return rc;
}
