/*
 * store_pg_jobs: the job half of the PostgreSQL store (store.h) — create, read, list,
 * claim, progress, fail, cancel, re-queue, the start-up recovery, and what replicas add:
 * the lease of a running job (its replica and a heartbeat) and the adoption of the jobs a
 * dead replica left. A claim takes the row with FOR UPDATE SKIP LOCKED and moves it only
 * while queued, so of two replicas racing for one job exactly one wins; every later move is
 * conditional on the status (and a job's success on its lease owner too).
 */
#include "store_pg_int.h"

#include <string.h>

#include "nn/alloc.h"

#define JOB_COLS                                                                                   \
    "j.id, j.model, j.status, j.progress, j.epoch, j.epochs, j.params, j.form, j.metrics, "        \
    "j.model_version, j.error_code, j.error_message, j.created_at, j.started_at, "                 \
    "j.finished_at, d.spool, d.rows, d.columns, d.bytes, d.sha256 "                                \
    "FROM jobs j JOIN datasets d ON d.id = j.dataset_id "

static const char sql_job_get[] = "SELECT " JOB_COLS "WHERE j.id = $1";
static const char sql_history_clear[] = "DELETE FROM job_history WHERE job_id = $1";
/* a running job back to queued, its lease dropped */
#define REQUEUE_SET                                                                                \
    "status = 'queued', progress = 0, epoch = 0, started_at = NULL, queued_at = now(), "           \
    "lease_owner = NULL, lease_until = NULL "

/* ------------------------------------------------------------------------------------------ */
/* Reading jobs                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* Row i of a JOB_COLS result as a new job; NULL when out of memory. */
static struct store_job *job_from_row(const PGresult *r, int i)
{
    struct store_job *j = nn_calloc(1, sizeof(*j));

    if (j == NULL) {
        return NULL;
    }
    pg_col_copy(r, i, 0, j->id, sizeof(j->id));
    pg_col_copy(r, i, 1, j->model, sizeof(j->model));
    j->status = store_job_status_parse(PQgetvalue(r, i, 2));
    j->progress = pg_col_double(r, i, 3);
    j->epoch = (int)pg_col_int(r, i, 4);
    j->epochs = (int)pg_col_int(r, i, 5);
    j->params = pg_col_dup(r, i, 6);
    j->form = pg_col_dup(r, i, 7);
    j->metrics = pg_col_dup(r, i, 8);
    j->model_version = (int)pg_col_int(r, i, 9);
    j->error_code = pg_col_dup(r, i, 10);
    j->error_message = pg_col_dup(r, i, 11);
    pg_col_copy(r, i, 12, j->created_at, sizeof(j->created_at));
    pg_col_copy(r, i, 13, j->started_at, sizeof(j->started_at));
    pg_col_copy(r, i, 14, j->finished_at, sizeof(j->finished_at));
    pg_col_copy(r, i, 15, j->spool, sizeof(j->spool));
    j->rows = pg_col_int(r, i, 16);
    j->columns = pg_col_int(r, i, 17);
    j->bytes = pg_col_int(r, i, 18);
    pg_col_copy(r, i, 19, j->sha256, sizeof(j->sha256));
    if (j->params == NULL || j->form == NULL || (j->metrics == NULL && !PQgetisnull(r, i, 8)) ||
        (j->error_code == NULL && !PQgetisnull(r, i, 10)) ||
        (j->error_message == NULL && !PQgetisnull(r, i, 11))) {
        store_job_free(j);
        return NULL;
    }
    return j;
}

/* Reads one job on c. */
static int job_read(struct pg_conn *c, const char *id, struct store_job **out, struct nn_err *err)
{
    PGresult *r = NULL;
    int rc = pg_row(c, sql_job_get, SQL_ARGS(SQL_TEXT(id)), &r, err);

    if (rc == NN_ENOTFOUND) {
        return nn_err_set(err, NN_ENOTFOUND, "no job '%s'", id);
    }
    if (rc != 0) {
        return rc;
    }
    *out = job_from_row(r, 0);
    PQclear(r);
    return *out == NULL ? nn_err_set(err, NN_ENOMEM, "out of memory") : 0;
}

struct job_get {
    const char *id;
    struct store_job *job; /* out */
};

static int job_get_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct job_get *g = ctx;

    store_job_free(g->job);
    g->job = NULL;
    return job_read(c, g->id, &g->job, err);
}

int store_pg_job_get(struct store *s, const char *id, struct store_job **out, struct nn_err *err)
{
    struct job_get g = {id, NULL};
    int rc = pg_tx(s, PG_AUTOCOMMIT, job_get_tx, &g, err);

    if (rc != 0) {
        store_job_free(g.job);
        return rc;
    }
    *out = g.job;
    return 0;
}

struct job_list {
    int status, limit;
    const char *model;
    struct store_job **v; /* out */
    size_t n;
};

static int job_list_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct job_list *l = ctx;
    PGresult *r = NULL;
    int rc = pg_exec(c,
                     "SELECT " JOB_COLS "WHERE ($1::text IS NULL OR j.status = $1) "
                     "AND ($2::text IS NULL OR j.model = $2) ORDER BY j.seq DESC LIMIT $3",
                     SQL_ARGS(SQL_TEXT(l->status >= 0 ? store_job_status_name(l->status) : NULL),
                              SQL_TEXT(l->model), SQL_INT(l->limit)),
                     0, &r, NULL, err);

    if (rc != 0) {
        return rc;
    }
    int rows = PQntuples(r);
    l->v = nn_calloc(rows > 0 ? (size_t)rows : 1, sizeof(*l->v));
    if (l->v == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    for (int i = 0; rc == 0 && i < rows; i++) {
        l->v[i] = job_from_row(r, i);
        if (l->v[i] == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        } else {
            l->n++;
        }
    }
    PQclear(r);
    return rc;
}

int store_pg_job_list(struct store *s, int status, const char *model, int limit,
                      struct store_job ***out, size_t *n, struct nn_err *err)
{
    struct job_list l = {status, limit, model, NULL, 0};
    int rc = pg_tx(s, PG_AUTOCOMMIT, job_list_tx, &l, err);

    if (rc != 0) {
        store_job_list_free(l.v, l.n);
        return rc;
    }
    *out = l.v;
    *n = l.n;
    return 0;
}

struct job_history {
    const char *id;
    struct store_epoch *v; /* out */
    size_t n;
};

static int job_history_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct job_history *h = ctx;
    PGresult *r = NULL;
    int rc = pg_exec(c,
                     "SELECT epoch, train_loss, val_loss, val_metric, seconds, regression "
                     "FROM job_history WHERE job_id = $1 ORDER BY epoch",
                     SQL_ARGS(SQL_TEXT(h->id)), 0, &r, NULL, err);

    if (rc != 0) {
        return rc;
    }
    int rows = PQntuples(r);
    if (rows > 0) {
        h->v = nn_calloc((size_t)rows, sizeof(*h->v));
        if (h->v == NULL) {
            PQclear(r);
            return nn_err_set(err, NN_ENOMEM, "out of memory");
        }
    }
    for (int i = 0; i < rows; i++) {
        struct store_epoch *e = &h->v[i];
        e->epoch = (int)pg_col_int(r, i, 0);
        e->train_loss = pg_col_double(r, i, 1);
        e->val_loss = pg_col_double(r, i, 2);
        e->val_metric = pg_col_double(r, i, 3);
        e->seconds = pg_col_double(r, i, 4);
        e->regression = (int)pg_col_int(r, i, 5);
    }
    h->n = (size_t)rows;
    PQclear(r);
    return 0;
}

int store_pg_job_history(struct store *s, const char *id, struct store_epoch **out, size_t *n,
                         struct nn_err *err)
{
    struct job_history h = {id, NULL, 0};
    int rc = pg_tx(s, PG_AUTOCOMMIT, job_history_tx, &h, err);

    if (rc != 0) {
        nn_free(h.v);
        return rc;
    }
    *out = h.v;
    *n = h.n;
    return 0;
}

static int jobs_count_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    long *counts = ctx;
    PGresult *r = NULL;
    int rc = pg_exec(c, "SELECT status, COUNT(*) FROM jobs GROUP BY status", SQL_NOARGS, 0, &r,
                     NULL, err);

    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        int k = store_job_status_parse(PQgetvalue(r, i, 0));
        if (k >= 0) {
            counts[k] = (long)pg_col_int(r, i, 1);
        }
    }
    PQclear(r);
    return rc;
}

int store_pg_jobs_count(struct store *s, long counts[STORE_JOB_N_STATUS], struct nn_err *err)
{
    long tmp[STORE_JOB_N_STATUS] = {0};
    int rc = pg_tx(s, PG_AUTOCOMMIT, jobs_count_tx, tmp, err);

    if (rc == 0) {
        memcpy(counts, tmp, sizeof(tmp));
    }
    return rc;
}

static int spool_in_use_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const char **spool = ctx;
    long long n = 0;
    int rc = pg_int(c,
                    "SELECT COUNT(*) FROM jobs j JOIN datasets d ON d.id = j.dataset_id "
                    "WHERE d.spool = $1 AND j.status IN ('queued', 'running')",
                    SQL_ARGS(SQL_TEXT(spool[0])), &n, err);

    spool[1] = n > 0 ? "1" : NULL;
    return rc;
}

int store_pg_spool_in_use(struct store *s, const char *spool, int *in_use, struct nn_err *err)
{
    const char *k[2] = {spool, NULL};
    int rc = pg_tx(s, PG_AUTOCOMMIT, spool_in_use_tx, k, err);

    if (rc == 0) {
        *in_use = k[1] != NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Changing jobs                                                                               */
/* ------------------------------------------------------------------------------------------ */

static int job_create_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const struct store_job *j = ctx;
    long long dataset = 0;
    int rc = pg_int(c,
                    "INSERT INTO datasets (spool, bytes, rows, columns, sha256, created_at) "
                    "VALUES ($1, $2, $3, $4, $5, " PG_NOW ") RETURNING id",
                    SQL_ARGS(SQL_TEXT(j->spool), SQL_INT(j->bytes), SQL_INT(j->rows),
                             SQL_INT(j->columns), SQL_TEXT(j->sha256)),
                    &dataset, err);

    if (rc == 0) {
        rc = pg_exec(c,
                     "INSERT INTO jobs (id, model, status, epochs, params, form, dataset_id, "
                     "created_at) VALUES ($1, $2, 'queued', $3, $4, $5, $6, " PG_NOW ")",
                     SQL_ARGS(SQL_TEXT(j->id), SQL_TEXT(j->model), SQL_INT(j->epochs),
                              SQL_TEXT(j->params), SQL_TEXT(j->form), SQL_INT(dataset)),
                     0, NULL, NULL, err);
    }
    return rc;
}

int store_pg_job_create(struct store *s, const struct store_job *j, struct nn_err *err)
{
    return pg_tx(s, PG_WRITE, job_create_tx, (void *)j, err);
}

struct job_claim {
    struct store *s;
    const char *id;
    struct store_job *job; /* out */
};

static int job_claim_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct job_claim *k = ctx;
    int rc = pg_change(c,
                       "UPDATE jobs SET status = 'running', started_at = " PG_NOW ", "
                       "progress = 0, epoch = 0, lease_owner = $2, "
                       "lease_until = now() + make_interval(secs => $3) "
                       "WHERE id = (SELECT id FROM jobs WHERE id = $1 AND status = 'queued' "
                       "FOR UPDATE SKIP LOCKED) AND status = 'queued'",
                       SQL_ARGS(SQL_TEXT(k->id), SQL_TEXT(k->s->replica), SQL_INT(k->s->lease_s)),
                       NN_ENOTFOUND, err, "job '%s' is not queued", k->id);

    store_job_free(k->job);
    k->job = NULL;
    if (rc == 0) {
        rc = pg_exec(c, sql_history_clear, SQL_ARGS(SQL_TEXT(k->id)), 0, NULL, NULL, err);
    }
    if (rc == 0) {
        rc = job_read(c, k->id, &k->job, err);
    }
    return rc;
}

int store_pg_job_claim(struct store *s, const char *id, struct store_job **out, struct nn_err *err)
{
    struct job_claim k = {s, id, NULL};
    int rc = pg_tx(s, PG_WRITE, job_claim_tx, &k, err);

    if (rc != 0) {
        store_job_free(k.job);
        return rc;
    }
    *out = k.job;
    return 0;
}

struct job_epoch {
    const char *id;
    const struct store_epoch *e;
};

static int job_progress_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const struct job_epoch *k = ctx;
    const struct store_epoch *e = k->e;
    int rc = pg_change(c,
                       "UPDATE jobs SET epoch = $2::int, progress = CASE WHEN epochs > 0 "
                       "THEN LEAST(1.0, $2::int::float8 / epochs) ELSE 0 END "
                       "WHERE id = $1 AND status = 'running'",
                       SQL_ARGS(SQL_TEXT(k->id), SQL_INT(e->epoch)), NN_ECANCELED, err,
                       "job '%s' is no longer running", k->id);

    if (rc == 0) {
        rc = pg_exec(c,
                     "INSERT INTO job_history (job_id, epoch, train_loss, val_loss, val_metric, "
                     "seconds, regression) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                     "ON CONFLICT (job_id, epoch) DO UPDATE SET train_loss = EXCLUDED.train_loss, "
                     "val_loss = EXCLUDED.val_loss, val_metric = EXCLUDED.val_metric, "
                     "seconds = EXCLUDED.seconds, regression = EXCLUDED.regression",
                     SQL_ARGS(SQL_TEXT(k->id), SQL_INT(e->epoch), SQL_REAL_OR_NULL(e->train_loss),
                              SQL_REAL_OR_NULL(e->val_loss), SQL_REAL_OR_NULL(e->val_metric),
                              SQL_REAL(isfinite(e->seconds) ? e->seconds : 0.0),
                              SQL_INT(e->regression != 0)),
                     0, NULL, NULL, err);
    }
    return rc;
}

int store_pg_job_progress(struct store *s, const char *id, const struct store_epoch *e,
                          struct nn_err *err)
{
    struct job_epoch k = {id, e};

    return pg_tx(s, PG_WRITE, job_progress_tx, &k, err);
}

/* The stored dataset of a job that ended: no replica will train it again. */
static int dataset_drop(struct pg_conn *c, const char *id, struct nn_err *err)
{
    return pg_exec(c,
                   "DELETE FROM dataset_chunks WHERE spool = (SELECT d.spool FROM jobs j "
                   "JOIN datasets d ON d.id = j.dataset_id WHERE j.id = $1)",
                   SQL_ARGS(SQL_TEXT(id)), 0, NULL, NULL, err);
}

struct job_fail {
    const char *id, *code, *message;
};

static int job_fail_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const struct job_fail *f = ctx;
    int rc = pg_change(c,
                       "UPDATE jobs SET status = 'failed', error_code = $2, error_message = $3, "
                       "finished_at = " PG_NOW ", lease_owner = NULL, lease_until = NULL "
                       "WHERE id = $1 AND status = 'running'",
                       SQL_ARGS(SQL_TEXT(f->id), SQL_TEXT(f->code), SQL_TEXT(f->message)),
                       NN_ECANCELED, err, "job '%s' is no longer running", f->id);

    return rc == 0 ? dataset_drop(c, f->id, err) : rc;
}

int store_pg_job_fail(struct store *s, const char *id, const char *code, const char *message,
                      struct nn_err *err)
{
    struct job_fail f = {id, code, message};

    return pg_tx(s, PG_WRITE, job_fail_tx, &f, err);
}

/* The job's status decides: queued or running are cancelled (the replica running it hears
 * of it through the change feed), anything else is final. */
static int job_cancel_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const char *id = ctx;
    PGresult *r = NULL;
    int rc = pg_row(c, "SELECT status FROM jobs WHERE id = $1 FOR UPDATE", SQL_ARGS(SQL_TEXT(id)),
                    &r, err);

    if (rc == NN_ENOTFOUND) {
        return nn_err_set(err, NN_ENOTFOUND, "no job '%s'", id);
    }
    if (rc != 0) {
        return rc;
    }
    int status = store_job_status_parse(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (status != STORE_JOB_QUEUED && status != STORE_JOB_RUNNING) {
        return nn_err_set(err, NN_ERANGE, "job '%s' has already finished (%s)", id,
                          store_job_status_name(status));
    }
    rc = pg_exec(c,
                 "UPDATE jobs SET status = 'cancelled', finished_at = " PG_NOW ", "
                 "lease_owner = NULL, lease_until = NULL WHERE id = $1",
                 SQL_ARGS(SQL_TEXT(id)), 0, NULL, NULL, err);
    if (rc == 0) {
        rc = dataset_drop(c, id, err);
    }
    if (rc == 0) {
        rc = pg_change_note(c, "cancel", id, err);
    }
    return rc;
}

int store_pg_job_cancel(struct store *s, const char *id, struct nn_err *err)
{
    return pg_tx(s, PG_WRITE, job_cancel_tx, (void *)id, err);
}

static int job_requeue_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const char *id = ctx;
    int rc = pg_change(c, "UPDATE jobs SET " REQUEUE_SET "WHERE id = $1 AND status = 'running'",
                       SQL_ARGS(SQL_TEXT(id)), NN_ECANCELED, err, "job '%s' is not running", id);

    if (rc == 0) {
        rc = pg_exec(c, sql_history_clear, SQL_ARGS(SQL_TEXT(id)), 0, NULL, NULL, err);
    }
    return rc;
}

int store_pg_job_requeue(struct store *s, const char *id, struct nn_err *err)
{
    return pg_tx(s, PG_WRITE, job_requeue_tx, (void *)id, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Recovery, leases, adoption                                                                  */
/* ------------------------------------------------------------------------------------------ */

struct id_list {
    struct store *s;
    char (*v)[STORE_ID_MAX]; /* out */
    size_t n;
};

/* Copies column 0 of every row into l (replacing what a previous try filled). */
static int ids_from(PGresult *r, struct id_list *l, struct nn_err *err)
{
    int rows = PQntuples(r);

    nn_free(l->v);
    l->v = NULL;
    l->n = 0;
    if (rows == 0) {
        return 0;
    }
    l->v = nn_calloc((size_t)rows, STORE_ID_MAX);
    if (l->v == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        pg_col_copy(r, i, 0, l->v[i], STORE_ID_MAX);
    }
    l->n = (size_t)rows;
    return 0;
}

/* Re-queues the running jobs that match cond ($1: this replica), clears their history. */
#define REQUEUE_WHERE(cond)                                                                        \
    "WITH q AS (UPDATE jobs SET " REQUEUE_SET "WHERE status = 'running' AND (" cond ") "           \
    "RETURNING id) DELETE FROM job_history WHERE job_id IN (SELECT id FROM q)"

/* At start: this replica's running jobs (it died or was killed) and those of any replica
 * whose lease expired go back to queued; then every queued job is listed. Other replicas'
 * live jobs are left alone. */
static int jobs_recover_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct id_list *l = ctx;
    PGresult *r = NULL;
    int rc = pg_exec(c, REQUEUE_WHERE("lease_owner = $1 OR lease_until < now()"),
                     SQL_ARGS(SQL_TEXT(l->s->replica)), 0, NULL, NULL, err);

    if (rc == 0) {
        rc = pg_exec(c, "SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq", SQL_NOARGS, 0,
                     &r, NULL, err);
    }
    if (rc == 0) {
        rc = ids_from(r, l, err);
    }
    PQclear(r);
    return rc;
}

int store_pg_jobs_recover(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n,
                          struct nn_err *err)
{
    struct id_list l = {s, NULL, 0};
    int rc = pg_tx(s, PG_WRITE, jobs_recover_tx, &l, err);

    if (rc != 0) {
        nn_free(l.v);
        return rc;
    }
    *ids = l.v;
    *n = l.n;
    return 0;
}

static int heartbeat_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct store *s = ctx;

    return pg_exec(c,
                   "UPDATE jobs SET lease_until = now() + make_interval(secs => $2) "
                   "WHERE status = 'running' AND lease_owner = $1",
                   SQL_ARGS(SQL_TEXT(s->replica), SQL_INT(s->lease_s)), 0, NULL, NULL, err);
}

int store_pg_jobs_heartbeat(struct store *s, struct nn_err *err)
{
    return pg_tx(s, PG_AUTOCOMMIT, heartbeat_tx, s, err);
}

/* Expired leases back to queued; then the jobs queued for a whole lease, oldest first. */
static int jobs_adopt_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct id_list *l = ctx;
    PGresult *r = NULL;
    int rc = pg_exec(c, REQUEUE_WHERE("lease_until < now() AND $1::text IS NOT NULL"),
                     SQL_ARGS(SQL_TEXT(l->s->replica)), 0, NULL, NULL, err);

    if (rc == 0) {
        rc = pg_exec(c,
                     /* now() is the transaction's start: queued_at = now() are the jobs
                        this transaction just re-queued */
                     "SELECT id FROM jobs WHERE status = 'queued' AND (queued_at = now() OR "
                     "queued_at < now() - make_interval(secs => $1)) ORDER BY seq",
                     SQL_ARGS(SQL_INT(l->s->lease_s)), 0, &r, NULL, err);
    }
    if (rc == 0) {
        rc = ids_from(r, l, err);
    }
    PQclear(r);
    return rc;
}

int store_pg_jobs_adopt(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err)
{
    struct id_list l = {s, NULL, 0};
    int rc = pg_tx(s, PG_WRITE, jobs_adopt_tx, &l, err);

    if (rc != 0) {
        nn_free(l.v);
        return rc;
    }
    *ids = l.v;
    *n = l.n;
    return 0;
}
