/*
 * store_sqlite_jobs: the job half of the SQLite store (store.h) — create, read, list,
 * claim, progress, fail, cancel, re-queue and the start-up recovery. Each state change is one
 * conditional UPDATE (or one transaction), so a cancel racing a worker's claim or commit has
 * exactly one winner, and the loser sees NN_ENOTFOUND / NN_ECANCELED.
 */
#include "store_sqlite_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/alloc.h"

/* ------------------------------------------------------------------------------------------ */
/* Jobs                                                                                        */
/* ------------------------------------------------------------------------------------------ */

int store_job_create(struct store *s, const struct store_job *j, struct nn_err *err)
{
    struct conn *c = NULL;
    char now[STORE_TIME_MAX];
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    store_sql_now(now);
    rc = store_sql_begin(c, err);
    if (rc != 0) {
        goto out;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_DATASET_INSERT, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, j->spool, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, j->bytes);
    sqlite3_bind_int64(st, 3, j->rows);
    sqlite3_bind_int64(st, 4, j->columns);
    sqlite3_bind_text(st, 5, j->sha256, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
    rc = store_sql_run(c, st, NULL, err);
    if (rc != 0) {
        goto out;
    }
    sqlite3_int64 ds = sqlite3_last_insert_rowid(c->db);
    st = store_sql_stmt(c, Q_JOB_INSERT, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, j->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, j->epochs);
    sqlite3_bind_text(st, 4, j->params, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, j->form, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, ds);
    sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
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

void store_job_free(struct store_job *j)
{
    if (j == NULL) {
        return;
    }
    nn_free(j->params);
    nn_free(j->form);
    nn_free(j->metrics);
    nn_free(j->error_code);
    nn_free(j->error_message);
    nn_free(j);
}

/* Reads the current row of a JOB_COLS query into a new job. */
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

static int job_get_conn(struct conn *c, const char *id, struct store_job **out, struct nn_err *err)
{
    sqlite3_stmt *st = store_sql_stmt(c, Q_JOB_GET, err);

    if (st == NULL) {
        return NN_EIO;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        sqlite3_reset(st);
        return nn_err_set(err, NN_ENOTFOUND, "no job '%s'", id);
    }
    if (step != SQLITE_ROW) {
        int rc = store_sql_error(c->db, "read job", err);
        sqlite3_reset(st);
        return rc;
    }
    struct store_job *j = job_from_row(st);
    sqlite3_reset(st);
    if (j == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    *out = j;
    return 0;
}

int store_job_get(struct store *s, const char *id, struct store_job **out, struct nn_err *err)
{
    struct conn *c = NULL;
    int rc;

    *out = NULL;
    rc = store_sql_get(s, &c, err);
    if (rc != 0) {
        return rc;
    }
    rc = job_get_conn(c, id, out, err);
    store_sql_put(s, c);
    return rc;
}

void store_job_list_free(struct store_job **jobs, size_t n)
{
    if (jobs == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        store_job_free(jobs[i]);
    }
    nn_free(jobs);
}

int store_job_list(struct store *s, int status, const char *model, int limit,
                   struct store_job ***out, size_t *n, struct nn_err *err)
{
    struct conn *c = NULL;
    struct store_job **arr = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    *n = 0;
    rc = store_sql_get(s, &c, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_JOB_LIST, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto fail;
    }
    if (status >= 0) {
        sqlite3_bind_text(st, 1, store_job_status_name(status), -1, SQLITE_STATIC);
    }
    if (model != NULL) {
        sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(st, 3, limit);
    arr = nn_calloc(limit > 0 ? (size_t)limit : 1, sizeof(*arr));
    if (arr == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && len < (size_t)limit) {
        arr[len] = job_from_row(st);
        if (arr[len] == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
            goto fail;
        }
        len++;
    }
    if (step != SQLITE_DONE && step != SQLITE_ROW) {
        rc = store_sql_error(c->db, "list jobs", err);
        goto fail;
    }
    sqlite3_reset(st);
    store_sql_put(s, c);
    *out = arr;
    *n = len;
    return 0;
fail:
    if (st != NULL) {
        sqlite3_reset(st);
    }
    store_sql_put(s, c);
    store_job_list_free(arr, len);
    return rc;
}

static double col_double_or_nan(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return NAN;
    }
    return sqlite3_column_double(st, i);
}

int store_job_history(struct store *s, const char *id, struct store_epoch **out, size_t *n,
                      struct nn_err *err)
{
    struct conn *c = NULL;
    struct store_epoch *arr = NULL;
    size_t len = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    rc = store_sql_get(s, &c, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_JOB_HISTORY, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto fail;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap == 0 ? 64 : cap * 2;
            struct store_epoch *na = nn_reallocarray(arr, ncap, sizeof(*arr));
            if (na == NULL) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory");
                goto fail;
            }
            arr = na;
            cap = ncap;
        }
        arr[len].epoch = sqlite3_column_int(st, 0);
        arr[len].train_loss = col_double_or_nan(st, 1);
        arr[len].val_loss = col_double_or_nan(st, 2);
        arr[len].val_metric = col_double_or_nan(st, 3);
        arr[len].seconds = sqlite3_column_double(st, 4);
        arr[len].regression = sqlite3_column_int(st, 5);
        len++;
    }
    if (step != SQLITE_DONE) {
        rc = store_sql_error(c->db, "read history", err);
        goto fail;
    }
    sqlite3_reset(st);
    store_sql_put(s, c);
    *out = arr;
    *n = len;
    return 0;
fail:
    if (st != NULL) {
        sqlite3_reset(st);
    }
    store_sql_put(s, c);
    nn_free(arr);
    return rc;
}

int store_job_claim(struct store *s, const char *id, struct store_job **out, struct nn_err *err)
{
    struct conn *c = NULL;
    char now[STORE_TIME_MAX];
    int changes = 0;
    int rc;

    *out = NULL;
    rc = store_sql_get(s, &c, err);
    if (rc != 0) {
        return rc;
    }
    store_sql_now(now);
    rc = store_sql_begin(c, err);
    if (rc != 0) {
        goto out;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_JOB_CLAIM, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    rc = store_sql_run(c, st, &changes, err);
    if (rc != 0) {
        goto out;
    }
    if (changes == 0) {
        rc = nn_err_set(err, NN_ENOTFOUND, "job '%s' is not queued", id);
        goto out;
    }
    st = store_sql_stmt(c, Q_HISTORY_CLEAR, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = store_sql_run(c, st, NULL, err);
    if (rc != 0) {
        goto out;
    }
    struct store_job *j = NULL;
    rc = job_get_conn(c, id, &j, err);
    if (rc != 0) {
        goto out;
    }
    rc = store_sql_commit(c, err);
    if (rc != 0) {
        store_job_free(j);
        goto out;
    }
    *out = j;
out:
    if (rc != 0) {
        store_sql_rollback(c);
    }
    store_sql_put(s, c);
    return rc;
}

static void bind_double_or_null(sqlite3_stmt *st, int i, double v)
{
    if (isfinite(v)) {
        sqlite3_bind_double(st, i, v);
    } else {
        sqlite3_bind_null(st, i);
    }
}

int store_job_progress(struct store *s, const char *id, const struct store_epoch *e,
                       struct nn_err *err)
{
    struct conn *c = NULL;
    int changes = 0;
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    rc = store_sql_begin(c, err);
    if (rc != 0) {
        goto out;
    }
    /* epochs comes from the job row: progress = epoch / epochs */
    sqlite3_stmt *st = store_sql_stmt(c, Q_JOB_GET, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int epochs = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        epochs = sqlite3_column_int(st, 5);
    }
    sqlite3_reset(st);
    double progress = epochs > 0 ? (double)e->epoch / epochs : 0.0;
    if (progress > 1) {
        progress = 1;
    }
    st = store_sql_stmt(c, Q_JOB_EPOCH, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, e->epoch);
    sqlite3_bind_double(st, 3, progress);
    rc = store_sql_run(c, st, &changes, err);
    if (rc != 0) {
        goto out;
    }
    if (changes == 0) {
        rc = nn_err_set(err, NN_ECANCELED, "job '%s' is no longer running", id);
        goto out;
    }
    st = store_sql_stmt(c, Q_HISTORY_INSERT, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, e->epoch);
    bind_double_or_null(st, 3, e->train_loss);
    bind_double_or_null(st, 4, e->val_loss);
    bind_double_or_null(st, 5, e->val_metric);
    sqlite3_bind_double(st, 6, isfinite(e->seconds) ? e->seconds : 0.0);
    sqlite3_bind_int(st, 7, e->regression != 0);
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

int store_job_fail(struct store *s, const char *id, const char *code, const char *message,
                   struct nn_err *err)
{
    struct conn *c = NULL;
    char now[STORE_TIME_MAX];
    int changes = 0;
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    store_sql_now(now);
    sqlite3_stmt *st = store_sql_stmt(c, Q_JOB_FAIL, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, code, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, message, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
    rc = store_sql_run(c, st, &changes, err);
    if (rc == 0 && changes == 0) {
        rc = nn_err_set(err, NN_ECANCELED, "job '%s' is no longer running", id);
    }
out:
    store_sql_put(s, c);
    return rc;
}

int store_job_cancel(struct store *s, const char *id, struct nn_err *err)
{
    struct conn *c = NULL;
    char now[STORE_TIME_MAX];
    int changes = 0;
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    store_sql_now(now);
    rc = store_sql_begin(c, err);
    if (rc != 0) {
        goto out;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_JOB_STATUS, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_reset(st);
        rc = step == SQLITE_DONE ? nn_err_set(err, NN_ENOTFOUND, "no job '%s'", id)
                                 : store_sql_error(c->db, "read job", err);
        goto out;
    }
    int status = store_job_status_parse((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (status != STORE_JOB_QUEUED && status != STORE_JOB_RUNNING) {
        rc = nn_err_set(err, NN_ERANGE, "job '%s' has already finished (%s)", id,
                        store_job_status_name(status));
        goto out;
    }
    st = store_sql_stmt(c, Q_JOB_CANCEL, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, now, -1, SQLITE_STATIC);
    rc = store_sql_run(c, st, &changes, err);
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

int store_job_requeue(struct store *s, const char *id, struct nn_err *err)
{
    struct conn *c = NULL;
    int changes = 0;
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    rc = store_sql_begin(c, err);
    if (rc != 0) {
        goto out;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_JOB_REQUEUE, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = store_sql_run(c, st, &changes, err);
    if (rc != 0) {
        goto out;
    }
    if (changes == 0) {
        rc = nn_err_set(err, NN_ECANCELED, "job '%s' is not running", id);
        goto out;
    }
    st = store_sql_stmt(c, Q_HISTORY_CLEAR, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto out;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
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

int store_jobs_recover(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err)
{
    struct conn *c = NULL;
    char(*arr)[STORE_ID_MAX] = NULL;
    size_t len = 0, cap = 0;
    int rc;

    *ids = NULL;
    *n = 0;
    rc = store_sql_get(s, &c, err);
    if (rc != 0) {
        return rc;
    }
    rc = store_sql_begin(c, err);
    if (rc != 0) {
        goto fail;
    }
    rc = store_sql_simple(c, Q_JOBS_REQUEUE_ALL, err);
    if (rc != 0) {
        goto fail;
    }
    rc = store_sql_simple(c, Q_HISTORY_CLEAR_QUEUED, err);
    if (rc != 0) {
        goto fail;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_JOBS_QUEUED, err);
    if (st == NULL) {
        rc = NN_EIO;
        goto fail;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            char(*na)[STORE_ID_MAX] = nn_reallocarray(arr, ncap, sizeof(*arr));
            if (na == NULL) {
                sqlite3_reset(st);
                rc = nn_err_set(err, NN_ENOMEM, "out of memory");
                goto fail;
            }
            arr = na;
            cap = ncap;
        }
        store_sql_col_copy(st, 0, arr[len], STORE_ID_MAX);
        len++;
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = store_sql_error(c->db, "list queued jobs", err);
        goto fail;
    }
    rc = store_sql_commit(c, err);
    if (rc != 0) {
        goto fail;
    }
    store_sql_put(s, c);
    *ids = arr;
    *n = len;
    return 0;
fail:
    store_sql_rollback(c);
    store_sql_put(s, c);
    nn_free(arr);
    return rc;
}

int store_jobs_count(struct store *s, long counts[STORE_JOB_N_STATUS], struct nn_err *err)
{
    struct conn *c = NULL;
    long tmp[STORE_JOB_N_STATUS] = {0};
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_JOBS_COUNT, err);
    if (st == NULL) {
        store_sql_put(s, c);
        return NN_EIO;
    }
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        int k = store_job_status_parse((const char *)sqlite3_column_text(st, 0));
        if (k >= 0) {
            tmp[k] = (long)sqlite3_column_int64(st, 1);
        }
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        rc = store_sql_error(c->db, "count jobs", err);
    } else {
        memcpy(counts, tmp, sizeof(tmp));
    }
    store_sql_put(s, c);
    return rc;
}

int store_spool_in_use(struct store *s, const char *spool, int *in_use, struct nn_err *err)
{
    struct conn *c = NULL;
    int rc = store_sql_get(s, &c, err);

    if (rc != 0) {
        return rc;
    }
    sqlite3_stmt *st = store_sql_stmt(c, Q_SPOOL_IN_USE, err);
    if (st == NULL) {
        store_sql_put(s, c);
        return NN_EIO;
    }
    sqlite3_bind_text(st, 1, spool, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *in_use = sqlite3_column_int(st, 0) > 0;
    } else {
        rc = store_sql_error(c->db, "read spool", err);
    }
    sqlite3_reset(st);
    store_sql_put(s, c);
    return rc;
}
