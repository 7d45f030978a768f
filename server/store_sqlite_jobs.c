/*
 * store_sqlite_jobs: the job half of the SQLite store (store.h) — create, read, list,
 * claim, progress, fail, cancel, re-queue and the start-up recovery. Each state change is one
 * conditional UPDATE (or one transaction), so a cancel racing a worker's claim or commit has
 * exactly one winner, and the loser sees NN_ENOTFOUND / NN_ECANCELED.
 */
#include "store_sqlite_int.h"

#include <string.h>

#include "nn/alloc.h"

#define JOB_COLS                                                                                   \
    "j.id, j.model, j.status, j.progress, j.epoch, j.epochs, j.params, j.form, j.metrics, "        \
    "j.model_version, j.error_code, j.error_message, j.created_at, j.started_at, "                 \
    "j.finished_at, d.spool, d.rows, d.columns, d.bytes, d.sha256 "                                \
    "FROM jobs j JOIN datasets d ON d.id = j.dataset_id "

static const char sql_job_get[] = "SELECT " JOB_COLS "WHERE j.id = ?1";
static const char sql_history_clear[] = "DELETE FROM job_history WHERE job_id = ?1";

/* ------------------------------------------------------------------------------------------ */
/* Reading jobs                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* The current row of a JOB_COLS query as a new job; NULL when out of memory. */
static struct store_job *job_from_row(sqlite3_stmt *st)
{
    struct store_job *j = nn_calloc(1, sizeof(*j));

    if (j == NULL) {
        return NULL;
    }
    store_sql_col_copy(st, 0, j->id, sizeof(j->id));
    store_sql_col_copy(st, 1, j->model, sizeof(j->model));
    j->status = store_job_status_parse((const char *)sqlite3_column_text(st, 2));
    j->progress = sqlite3_column_double(st, 3);
    j->epoch = sqlite3_column_int(st, 4);
    j->epochs = sqlite3_column_int(st, 5);
    j->params = store_sql_col_dup(st, 6);
    j->form = store_sql_col_dup(st, 7);
    j->metrics = store_sql_col_dup(st, 8);
    j->model_version = sqlite3_column_int(st, 9);
    j->error_code = store_sql_col_dup(st, 10);
    j->error_message = store_sql_col_dup(st, 11);
    store_sql_col_copy(st, 12, j->created_at, sizeof(j->created_at));
    store_sql_col_copy(st, 13, j->started_at, sizeof(j->started_at));
    store_sql_col_copy(st, 14, j->finished_at, sizeof(j->finished_at));
    store_sql_col_copy(st, 15, j->spool, sizeof(j->spool));
    j->rows = sqlite3_column_int64(st, 16);
    j->columns = sqlite3_column_int64(st, 17);
    j->bytes = sqlite3_column_int64(st, 18);
    store_sql_col_copy(st, 19, j->sha256, sizeof(j->sha256));
    if (j->params == NULL || j->form == NULL ||
        (j->metrics == NULL && sqlite3_column_type(st, 8) != SQLITE_NULL) ||
        (j->error_code == NULL && sqlite3_column_type(st, 10) != SQLITE_NULL) ||
        (j->error_message == NULL && sqlite3_column_type(st, 11) != SQLITE_NULL)) {
        store_job_free(j);
        return NULL;
    }
    return j;
}

/* Fill function: one struct store_job * per row. */
static int fill_job(sqlite3_stmt *st, void *elem, size_t size, struct nn_err *err)
{
    struct store_job *j = job_from_row(st);

    (void)size;
    if (j == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    *(struct store_job **)elem = j;
    return 0;
}

/* Row handler: the job into *(struct store_job **)ctx. */
static int read_job(sqlite3_stmt *st, void *ctx, struct nn_err *err)
{
    return fill_job(st, ctx, sizeof(struct store_job *), err);
}

/* Reads one job on c. */
static int job_read(struct conn *c, const char *id, struct store_job **out, struct nn_err *err)
{
    int rc = store_sql_row(c, sql_job_get, SQL_ARGS(SQL_TEXT(id)), read_job, out, err);

    return rc == NN_ENOTFOUND ? nn_err_set(err, NN_ENOTFOUND, "no job '%s'", id) : rc;
}

int store_sqlite_job_get(struct store *s, const char *id, struct store_job **out,
                         struct nn_err *err)
{
    struct store_job *j = NULL;
    int rc = store_sql_once(s, sql_job_get, SQL_ARGS(SQL_TEXT(id)), read_job, &j, NULL, err);

    if (rc == 0 && j == NULL) {
        rc = nn_err_set(err, NN_ENOTFOUND, "no job '%s'", id);
    }
    if (rc == 0) {
        *out = j;
    }
    return rc;
}

int store_sqlite_job_list(struct store *s, int status, const char *model, int limit,
                          struct store_job ***out, size_t *n, struct nn_err *err)
{
    struct sql_collect k = {NULL, 0, 0, sizeof(struct store_job *), fill_job};
    int rc = store_sql_once(s,
                            "SELECT " JOB_COLS "WHERE (?1 IS NULL OR j.status = ?1) "
                            "AND (?2 IS NULL OR j.model = ?2) ORDER BY j.seq DESC LIMIT ?3",
                            SQL_ARGS(SQL_TEXT(status >= 0 ? store_job_status_name(status) : NULL),
                                     SQL_TEXT(model), SQL_INT(limit)),
                            store_sql_collect_row, &k, NULL, err);

    if (rc != 0) {
        store_job_list_free(k.v, k.n);
        return rc;
    }
    *out = k.v;
    *n = k.n;
    return 0;
}

/* A REAL column, NaN for NULL. */
static double col_double_or_nan(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return NAN;
    }
    return sqlite3_column_double(st, i);
}

static int fill_epoch(sqlite3_stmt *st, void *elem, size_t size, struct nn_err *err)
{
    struct store_epoch *e = elem;

    (void)size;
    (void)err;
    e->epoch = sqlite3_column_int(st, 0);
    e->train_loss = col_double_or_nan(st, 1);
    e->val_loss = col_double_or_nan(st, 2);
    e->val_metric = col_double_or_nan(st, 3);
    e->seconds = sqlite3_column_double(st, 4);
    e->regression = sqlite3_column_int(st, 5);
    return 0;
}

int store_sqlite_job_history(struct store *s, const char *id, struct store_epoch **out, size_t *n,
                             struct nn_err *err)
{
    struct sql_collect k = {NULL, 0, 0, sizeof(struct store_epoch), fill_epoch};
    int rc = store_sql_once(s,
                            "SELECT epoch, train_loss, val_loss, val_metric, seconds, regression "
                            "FROM job_history WHERE job_id = ?1 ORDER BY epoch",
                            SQL_ARGS(SQL_TEXT(id)), store_sql_collect_row, &k, NULL, err);

    if (rc != 0) {
        nn_free(k.v);
        return rc;
    }
    *out = k.v;
    *n = k.n;
    return 0;
}

static int count_status(sqlite3_stmt *st, void *ctx, struct nn_err *err)
{
    long *counts = ctx;
    int k = store_job_status_parse((const char *)sqlite3_column_text(st, 0));

    (void)err;
    if (k >= 0) {
        counts[k] = (long)sqlite3_column_int64(st, 1);
    }
    return 0;
}

int store_sqlite_jobs_count(struct store *s, long counts[STORE_JOB_N_STATUS], struct nn_err *err)
{
    long tmp[STORE_JOB_N_STATUS] = {0};
    int rc = store_sql_once(s, "SELECT status, COUNT(*) FROM jobs GROUP BY status", SQL_NOARGS,
                            count_status, tmp, NULL, err);

    if (rc == 0) {
        memcpy(counts, tmp, sizeof(tmp));
    }
    return rc;
}

int store_sqlite_spool_in_use(struct store *s, const char *spool, int *in_use, struct nn_err *err)
{
    int count = 0;
    int rc = store_sql_once(s,
                            "SELECT COUNT(*) FROM jobs j JOIN datasets d ON d.id = j.dataset_id "
                            "WHERE d.spool = ?1 AND j.status IN ('queued', 'running')",
                            SQL_ARGS(SQL_TEXT(spool)), store_sql_int, &count, NULL, err);

    if (rc == 0) {
        *in_use = count > 0;
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Changing jobs                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* The dataset row, then the job row pointing at it. ctx: the const struct store_job. */
static int job_create_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    const struct store_job *j = ctx;
    char now[STORE_TIME_MAX];
    int rc;

    store_sql_now(now);
    rc = store_sql_exec(c,
                        "INSERT INTO datasets (spool, bytes, rows, columns, sha256, created_at) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        SQL_ARGS(SQL_TEXT(j->spool), SQL_INT(j->bytes), SQL_INT(j->rows),
                                 SQL_INT(j->columns), SQL_TEXT(j->sha256), SQL_TEXT(now)),
                        NULL, err);
    if (rc == 0) {
        rc = store_sql_exec(c,
                            "INSERT INTO jobs (id, model, status, epochs, params, form, "
                            "dataset_id, created_at) "
                            "VALUES (?1, ?2, 'queued', ?3, ?4, ?5, ?6, ?7)",
                            SQL_ARGS(SQL_TEXT(j->id), SQL_TEXT(j->model), SQL_INT(j->epochs),
                                     SQL_TEXT(j->params), SQL_TEXT(j->form),
                                     SQL_INT(sqlite3_last_insert_rowid(c->db)), SQL_TEXT(now)),
                            NULL, err);
    }
    return rc;
}

int store_sqlite_job_create(struct store *s, const struct store_job *j, struct nn_err *err)
{
    return store_sql_tx(s, STORE_SQL_WRITE, job_create_tx, (void *)j, err);
}

struct job_claim {
    const char *id;
    struct store_job *job; /* out */
};

static int job_claim_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    struct job_claim *k = ctx;
    char now[STORE_TIME_MAX];
    int rc;

    store_sql_now(now);
    rc = store_sql_change(c,
                          "UPDATE jobs SET status = 'running', started_at = ?2, progress = 0, "
                          "epoch = 0 WHERE id = ?1 AND status = 'queued'",
                          SQL_ARGS(SQL_TEXT(k->id), SQL_TEXT(now)), NN_ENOTFOUND, err,
                          "job '%s' is not queued", k->id);
    if (rc == 0) {
        rc = store_sql_exec(c, sql_history_clear, SQL_ARGS(SQL_TEXT(k->id)), NULL, err);
    }
    if (rc == 0) {
        rc = job_read(c, k->id, &k->job, err);
    }
    return rc;
}

int store_sqlite_job_claim(struct store *s, const char *id, struct store_job **out,
                           struct nn_err *err)
{
    struct job_claim k = {id, NULL};
    int rc = store_sql_tx(s, STORE_SQL_WRITE, job_claim_tx, &k, err);

    if (rc != 0) {
        store_job_free(k.job); /* read, but the commit failed */
        return rc;
    }
    *out = k.job;
    return 0;
}

struct job_epoch {
    const char *id;
    const struct store_epoch *e;
};

/* The job's epoch and progress (epoch / epochs, at most 1), then its history row. */
static int job_progress_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    const struct job_epoch *k = ctx;
    const struct store_epoch *e = k->e;
    int rc = store_sql_change(c,
                              "UPDATE jobs SET epoch = ?2, progress = CASE WHEN epochs > 0 "
                              "THEN MIN(1.0, ?2 * 1.0 / epochs) ELSE 0 END "
                              "WHERE id = ?1 AND status = 'running'",
                              SQL_ARGS(SQL_TEXT(k->id), SQL_INT(e->epoch)), NN_ECANCELED, err,
                              "job '%s' is no longer running", k->id);

    if (rc == 0) {
        rc = store_sql_exec(c,
                            "INSERT OR REPLACE INTO job_history (job_id, epoch, train_loss, "
                            "val_loss, val_metric, seconds, regression) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            SQL_ARGS(SQL_TEXT(k->id), SQL_INT(e->epoch),
                                     SQL_REAL_OR_NULL(e->train_loss), SQL_REAL_OR_NULL(e->val_loss),
                                     SQL_REAL_OR_NULL(e->val_metric),
                                     SQL_REAL(isfinite(e->seconds) ? e->seconds : 0.0),
                                     SQL_INT(e->regression != 0)),
                            NULL, err);
    }
    return rc;
}

int store_sqlite_job_progress(struct store *s, const char *id, const struct store_epoch *e,
                              struct nn_err *err)
{
    struct job_epoch k = {id, e};

    return store_sql_tx(s, STORE_SQL_WRITE, job_progress_tx, &k, err);
}

int store_sqlite_job_fail(struct store *s, const char *id, const char *code, const char *message,
                          struct nn_err *err)
{
    char now[STORE_TIME_MAX];
    int changes = 0;
    int rc;

    store_sql_now(now);
    rc = store_sql_once(s,
                        "UPDATE jobs SET status = 'failed', error_code = ?2, error_message = ?3, "
                        "finished_at = ?4 WHERE id = ?1 AND status = 'running'",
                        SQL_ARGS(SQL_TEXT(id), SQL_TEXT(code), SQL_TEXT(message), SQL_TEXT(now)),
                        NULL, NULL, &changes, err);
    if (rc == 0 && changes == 0) {
        rc = nn_err_set(err, NN_ECANCELED, "job '%s' is no longer running", id);
    }
    return rc;
}

static int read_status(sqlite3_stmt *st, void *ctx, struct nn_err *err)
{
    (void)err;
    *(int *)ctx = store_job_status_parse((const char *)sqlite3_column_text(st, 0));
    return 0;
}

/* The job's status decides: queued or running are cancelled, anything else is final. */
static int job_cancel_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    const char *id = ctx;
    char now[STORE_TIME_MAX];
    int status = -1;
    int rc = store_sql_row(c, "SELECT status FROM jobs WHERE id = ?1", SQL_ARGS(SQL_TEXT(id)),
                           read_status, &status, err);

    if (rc == NN_ENOTFOUND) {
        return nn_err_set(err, NN_ENOTFOUND, "no job '%s'", id);
    }
    if (rc == 0 && status != STORE_JOB_QUEUED && status != STORE_JOB_RUNNING) {
        return nn_err_set(err, NN_ERANGE, "job '%s' has already finished (%s)", id,
                          store_job_status_name(status));
    }
    if (rc == 0) {
        store_sql_now(now);
        rc = store_sql_exec(c,
                            "UPDATE jobs SET status = 'cancelled', finished_at = ?2 "
                            "WHERE id = ?1 AND status IN ('queued', 'running')",
                            SQL_ARGS(SQL_TEXT(id), SQL_TEXT(now)), NULL, err);
    }
    return rc;
}

int store_sqlite_job_cancel(struct store *s, const char *id, struct nn_err *err)
{
    return store_sql_tx(s, STORE_SQL_WRITE, job_cancel_tx, (void *)id, err);
}

static int job_requeue_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    const char *id = ctx;
    int rc =
        store_sql_change(c,
                         "UPDATE jobs SET status = 'queued', progress = 0, epoch = 0, "
                         "started_at = NULL WHERE id = ?1 AND status = 'running'",
                         SQL_ARGS(SQL_TEXT(id)), NN_ECANCELED, err, "job '%s' is not running", id);

    if (rc == 0) {
        rc = store_sql_exec(c, sql_history_clear, SQL_ARGS(SQL_TEXT(id)), NULL, err);
    }
    return rc;
}

int store_sqlite_job_requeue(struct store *s, const char *id, struct nn_err *err)
{
    return store_sql_tx(s, STORE_SQL_WRITE, job_requeue_tx, (void *)id, err);
}

/* Every running job back to queued, their history cleared, then the queued ids in order. */
static int jobs_recover_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    int rc = store_sql_exec(c,
                            "UPDATE jobs SET status = 'queued', progress = 0, epoch = 0, "
                            "started_at = NULL WHERE status = 'running'",
                            SQL_NOARGS, NULL, err);

    if (rc == 0) {
        rc = store_sql_exec(c,
                            "DELETE FROM job_history WHERE job_id IN "
                            "(SELECT id FROM jobs WHERE status = 'queued')",
                            SQL_NOARGS, NULL, err);
    }
    if (rc == 0) {
        rc = store_sql_rows(c, "SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq",
                            SQL_NOARGS, store_sql_collect_row, ctx, err);
    }
    return rc;
}

int store_sqlite_jobs_recover(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n,
                              struct nn_err *err)
{
    struct sql_collect k = {NULL, 0, 0, STORE_ID_MAX, store_sql_fill_text};
    int rc = store_sql_tx(s, STORE_SQL_WRITE, jobs_recover_tx, &k, err);

    if (rc != 0) {
        nn_free(k.v);
        return rc;
    }
    *ids = k.v;
    *n = k.n;
    return 0;
}
