/*
 * store_sql_ops: the calls of store.h whose logic is the same in every SQL backend, written
 * once over the driver of store_sql.h — reading versions and the model list, pins and
 * deletions, and the job calls but the recovery (the claim takes its backend's statement). Where a
 * dialect writes a statement its own way (a row lock, "now", a lease) the text comes from its
 * struct sql_dialect; a shared store's change feed and the datasets of ended jobs go through its
 * hooks. What differs in substance (a new version, a claim, the recovery) stays in the
 * backends. Every transaction body here resets what it fills: a backend may run it again.
 */
#include "store_sql.h"

#include <stdio.h>
#include <string.h>

#include "nn/alloc.h"

/* Records a change in the feed when the backend keeps one. */
static int note(struct sql_conn *c, const char *kind, const char *name, struct nn_err *err)
{
    return c->drv->sql->note != NULL ? c->drv->sql->note(c, kind, name, err) : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading versions                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Reads blob (when selected), card, metrics, job id and time into the version ctx. */
static int read_version(const struct sql_row *r, void *ctx, struct nn_err *err)
{
    struct store_version *v = ctx;

    if (!r->ops->null(r, 0)) {
        size_t n = 0;
        const void *b = r->ops->blob(r, 0, &n);
        v->blob = nn_malloc(n > 0 ? n : 1);
        if (v->blob == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory");
        }
        if (n > 0) {
            memcpy(v->blob, b, n);
        }
        v->blob_len = n;
    }
    v->card = store_sql_col_dup(r, 1);
    v->metrics = store_sql_col_dup(r, 2);
    store_sql_col_copy(r, 3, v->job_id, sizeof(v->job_id));
    store_sql_col_copy(r, 4, v->created_at, sizeof(v->created_at));
    if (v->card == NULL || v->metrics == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    return 0;
}

/* Fills v (its model name set) with version (0: the serving one) and the model's state. */
static int version_fill(struct sql_conn *c, struct store_version *v, int version, int with_blob,
                        struct nn_err *err)
{
    struct sql_model m = {0};
    struct sql_collect vs = {NULL, 0, 0, sizeof(int), store_sql_fill_int};
    long long newest = 0;
    int rc = store_sql_model_get(c, v->model, 0, &m, err);

    if (rc != 0) {
        return rc;
    }
    snprintf(v->model_created_at, sizeof(v->model_created_at), "%s", m.created);
    v->pinned = m.pinned;
    v->serving = m.pinned;
    if (v->serving == 0) {
        /* the newest not held back by the gate (none: the newest) */
        rc = store_sql_int(c,
                           "SELECT COALESCE(MAX(CASE WHEN promoted <> 0 THEN version END), "
                           "MAX(version), 0) FROM model_versions WHERE model_id = $1",
                           SQL_ARGS(SQL_INT(m.id)), &newest, err);
        if (rc != 0) {
            return rc;
        }
        v->serving = (int)newest;
    }
    if (v->serving == 0) {
        return nn_err_set(err, NN_ENOTFOUND, "model '%s' has no versions", v->model);
    }
    v->version = version > 0 ? version : v->serving;
    /* binary: the blob as stored, no escaping (every column is text or the blob) */
    rc = store_sql_row(c,
                       "SELECT CASE WHEN $3 THEN blob END, card, metrics, COALESCE(job_id, ''), "
                       "created_at FROM model_versions WHERE model_id = $1 AND version = $2",
                       SQL_ARGS(SQL_INT(m.id), SQL_INT(v->version), SQL_INT(with_blob != 0)), 1,
                       read_version, v, err);
    if (rc == NN_ENOTFOUND) {
        return nn_err_set(err, NN_ENOTFOUND, "model '%s' has no version %d", v->model, v->version);
    }
    if (rc == 0) {
        rc = store_sql_rows(c,
                            "SELECT version FROM model_versions WHERE model_id = $1 "
                            "ORDER BY version",
                            SQL_ARGS(SQL_INT(m.id)), store_sql_collect_row, &vs, err);
    }
    v->versions = vs.v;
    v->n_versions = (int)vs.n;
    return rc;
}

/* Reads one version of a model as a new struct. */
static int version_read(struct sql_conn *c, const char *model, int version, int with_blob,
                        struct store_version **out, struct nn_err *err)
{
    struct store_version *v = nn_calloc(1, sizeof(*v));

    if (v == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    snprintf(v->model, sizeof(v->model), "%s", model);
    int rc = version_fill(c, v, version, with_blob, err);
    if (rc != 0) {
        store_version_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

struct version_get {
    const char *model;
    int version, with_blob;
    struct store_version *out;
};

static int version_get_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct version_get *g = ctx;

    store_version_free(g->out);
    g->out = NULL;
    return version_read(c, g->model, g->version, g->with_blob, &g->out, err);
}

int store_sql_version_get(struct store *s, const char *model, int version, int with_blob,
                          struct store_version **out, struct nn_err *err)
{
    struct version_get g = {model, version, with_blob, NULL};
    int rc = store_sql_tx(s, STORE_SQL_SNAPSHOT, version_get_tx, &g, err);

    if (rc != 0) {
        store_version_free(g.out); /* read, but the snapshot failed after */
        return rc;
    }
    *out = g.out;
    return 0;
}

struct model_list {
    struct sql_collect names; /* char[STORE_NAME_MAX] each */
    struct store_version **arr;
    size_t done;
};

/* Every model with a version, name ascending, then each one's serving version. */
static int model_list_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct model_list *l = ctx;
    int rc;

    store_version_list_free(l->arr, l->done);
    l->arr = NULL;
    l->done = 0;
    l->names.n = 0;
    rc = store_sql_rows(c,
                        "SELECT name FROM models m WHERE EXISTS (SELECT 1 FROM "
                        "model_versions v WHERE v.model_id = m.id) ORDER BY name",
                        SQL_NOARGS, store_sql_collect_row, &l->names, err);
    if (rc != 0) {
        return rc;
    }
    char(*names)[STORE_NAME_MAX] = l->names.v;
    l->arr = nn_calloc(l->names.n > 0 ? l->names.n : 1, sizeof(*l->arr));
    if (l->arr == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    for (; l->done < l->names.n; l->done++) {
        rc = version_read(c, names[l->done], 0, 0, &l->arr[l->done], err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int store_sql_model_list(struct store *s, struct store_version ***out, size_t *n,
                         struct nn_err *err)
{
    struct model_list l = {{NULL, 0, 0, STORE_NAME_MAX, store_sql_fill_text}, NULL, 0};
    int rc = store_sql_tx(s, STORE_SQL_SNAPSHOT, model_list_tx, &l, err);

    nn_free(l.names.v);
    if (rc != 0) {
        store_version_list_free(l.arr, l.done);
        return rc;
    }
    *out = l.arr;
    *n = l.done;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Pins and deletions                                                                          */
/* ------------------------------------------------------------------------------------------ */

/* A change of the versions a model serves: a query on one version that must find it (none:
 * any version), then an update of the model's pin, under the model's row lock. */
struct pin_change {
    const char *model;
    int version;
    const char *version_sql; /* $1 model id, $2 version: returns a row, or NULL */
    const char *pin_sql;     /* $1 model id, $2 version */
};

static int pin_change_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const struct pin_change *p = ctx;
    struct sql_model m = {0};
    long long found = 0;
    int rc = store_sql_model_get(c, p->model, 1, &m, err);

    if (rc == 0 && p->version_sql != NULL) {
        rc = store_sql_int(c, p->version_sql, SQL_ARGS(SQL_INT(m.id), SQL_INT(p->version)), &found,
                           err);
        if (rc == NN_ENOTFOUND) {
            rc =
                nn_err_set(err, NN_ENOTFOUND, "model '%s' has no version %d", p->model, p->version);
        }
    }
    if (rc == 0) {
        rc = store_sql_exec(c, p->pin_sql, SQL_ARGS(SQL_INT(m.id), SQL_INT(p->version)), NULL, err);
    }
    return rc == 0 ? note(c, "model", p->model, err) : rc;
}

int store_sql_serving_set(struct store *s, const char *model, int version, struct nn_err *err)
{
    struct pin_change p = {
        model, version,
        version > 0 ? "SELECT 1 FROM model_versions WHERE model_id = $1 AND version = $2" : NULL,
        "UPDATE models SET pinned_version = NULLIF(CAST($2 AS INTEGER), 0) WHERE id = $1"};

    return store_sql_tx(s, STORE_SQL_WRITE, pin_change_tx, &p, err);
}

/* The version's row goes; a pin on it goes too (the newest is served again). */
int store_sql_version_delete(struct store *s, const char *model, int version, struct nn_err *err)
{
    struct pin_change p = {
        model, version,
        "DELETE FROM model_versions WHERE model_id = $1 AND version = $2 RETURNING version",
        "UPDATE models SET pinned_version = NULL WHERE id = $1 AND pinned_version = $2"};

    return store_sql_tx(s, STORE_SQL_WRITE, pin_change_tx, &p, err);
}

/* The model's row goes, its versions with it (cascade), and the feedback sent for it: a model
   made later under the same name starts without it. */
static int model_delete_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const char *model = ctx;
    int rc = store_sql_change(c, "DELETE FROM models WHERE name = $1", SQL_ARGS(SQL_TEXT(model)),
                              NN_ENOTFOUND, err, "no model '%s'", model);

    if (rc == 0) {
        rc = store_sql_exec(c, "DELETE FROM feedback WHERE model = $1", SQL_ARGS(SQL_TEXT(model)),
                            NULL, err);
    }
    return rc == 0 ? note(c, "model", model, err) : rc;
}

int store_sql_model_delete(struct store *s, const char *model, struct nn_err *err)
{
    return store_sql_tx(s, STORE_SQL_WRITE, model_delete_tx, (void *)model, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Reading jobs                                                                                */
/* ------------------------------------------------------------------------------------------ */

struct job_get {
    const char *id;
    struct store_job *job; /* out */
};

static int job_get_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct job_get *g = ctx;

    store_job_free(g->job);
    g->job = NULL;
    return store_sql_job_read(c, g->id, &g->job, err);
}

int store_sql_job_get(struct store *s, const char *id, struct store_job **out, struct nn_err *err)
{
    struct job_get g = {id, NULL};
    int rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, job_get_tx, &g, err);

    if (rc != 0) {
        store_job_free(g.job);
        return rc;
    }
    *out = g.job;
    return 0;
}

/* store_sql_drop_fn: an array of struct store_job *. */
static void drop_jobs(void *v, size_t n)
{
    store_job_list_free(v, n);
}

int store_sql_job_list(struct store *s, int status, const char *model, int limit,
                       struct store_job ***out, size_t *n, struct nn_err *err)
{
    const char *st = status >= 0 ? store_job_status_name(status) : NULL;
    void *v = NULL;
    int rc = store_sql_list(s,
                            STORE_SQL_JOB_COLS "WHERE (CAST($1 AS TEXT) IS NULL OR j.status = $1) "
                                               "AND (CAST($2 AS TEXT) IS NULL OR j.model = $2) "
                                               "ORDER BY j.seq DESC LIMIT $3",
                            SQL_ARGS(SQL_TEXT(st), SQL_TEXT(model), SQL_INT(limit)),
                            sizeof(struct store_job *), store_sql_fill_job, drop_jobs, &v, n, err);

    *out = v;
    return rc;
}

static int fill_epoch(const struct sql_row *r, void *elem, size_t size, struct nn_err *err)
{
    struct store_epoch *e = elem;

    (void)size;
    (void)err;
    e->epoch = (int)store_sql_col_int(r, 0);
    e->train_loss = store_sql_col_real(r, 1);
    e->val_loss = store_sql_col_real(r, 2);
    e->val_metric = store_sql_col_real(r, 3);
    e->seconds = store_sql_col_real(r, 4);
    e->regression = (int)store_sql_col_int(r, 5);
    return 0;
}

int store_sql_job_history(struct store *s, const char *id, struct store_epoch **out, size_t *n,
                          struct nn_err *err)
{
    void *v = NULL;
    int rc = store_sql_list(s,
                            "SELECT epoch, train_loss, val_loss, val_metric, seconds, regression "
                            "FROM job_history WHERE job_id = $1 ORDER BY epoch",
                            SQL_ARGS(SQL_TEXT(id)), sizeof(struct store_epoch), fill_epoch, NULL,
                            &v, n, err);

    *out = v;
    return rc;
}

static int count_status(const struct sql_row *r, void *ctx, struct nn_err *err)
{
    long *counts = ctx;
    int k = store_job_status_parse(r->ops->text(r, 0));

    (void)err;
    if (k >= 0) {
        counts[k] = (long)store_sql_col_int(r, 1);
    }
    return 0;
}

static int jobs_count_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    memset(ctx, 0, sizeof(long) * STORE_JOB_N_STATUS);
    return store_sql_rows(c, "SELECT status, COUNT(*) FROM jobs GROUP BY status", SQL_NOARGS,
                          count_status, ctx, err);
}

int store_sql_jobs_count(struct store *s, long counts[STORE_JOB_N_STATUS], struct nn_err *err)
{
    long tmp[STORE_JOB_N_STATUS] = {0};
    int rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, jobs_count_tx, tmp, err);

    if (rc == 0) {
        memcpy(counts, tmp, sizeof(tmp));
    }
    return rc;
}

int store_sql_spool_in_use(struct store *s, const char *spool, int *in_use, struct nn_err *err)
{
    long long n = 0;
    int rc = store_sql_once(s,
                            "SELECT COUNT(*) FROM jobs j JOIN datasets d ON d.id = j.dataset_id "
                            "WHERE d.spool = $1 AND j.status IN ('queued', 'running')",
                            SQL_ARGS(SQL_TEXT(spool)), store_sql_int_row, &n, NULL, err);

    if (rc == 0) {
        *in_use = n > 0;
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Changing jobs                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* The dataset row, then the job row pointing at it. ctx: the const struct store_job. */
static int job_create_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const struct store_job *j = ctx;
    const struct sql_dialect *d = c->drv->sql;
    long long dataset = 0;
    int rc = store_sql_int(c, d->job_new,
                           SQL_ARGS(SQL_TEXT(j->spool), SQL_INT(j->bytes), SQL_INT(j->rows),
                                    SQL_INT(j->columns), SQL_TEXT(j->sha256)),
                           &dataset, err);

    if (rc == 0) {
        rc = store_sql_exec(c, d->job_insert,
                            SQL_ARGS(SQL_TEXT(j->id), SQL_TEXT(j->model), SQL_INT(j->epochs),
                                     SQL_TEXT(j->params), SQL_TEXT(j->form), SQL_INT(dataset)),
                            NULL, err);
    }
    return rc;
}

int store_sql_job_create(struct store *s, const struct store_job *j, struct nn_err *err)
{
    return store_sql_tx(s, STORE_SQL_WRITE, job_create_tx, (void *)j, err);
}

int store_sql_version_put(struct store *s, const struct store_version_new *v, store_sql_tx_fn tx,
                          int *version, struct nn_err *err)
{
    struct sql_version_put p = {s, v, 0};
    int rc = store_sql_tx(s, STORE_SQL_WRITE, tx, &p, err);

    if (rc == 0) {
        *version = p.version;
    }
    return rc;
}

struct job_claim {
    const char *id, *sql;
    struct sql_args a;
    struct store_job *job; /* out */
};

/* Queued to running (the backend's statement), history cleared, then the job as it is. */
static int job_claim_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct job_claim *k = ctx;
    int rc = store_sql_change(c, k->sql, k->a, NN_ENOTFOUND, err, "job '%s' is not queued", k->id);

    store_job_free(k->job);
    k->job = NULL;
    if (rc == 0) {
        rc = store_sql_exec(c, store_sql_history_clear, SQL_ARGS(SQL_TEXT(k->id)), NULL, err);
    }
    if (rc == 0) {
        rc = store_sql_job_read(c, k->id, &k->job, err);
    }
    return rc;
}

int store_sql_job_claim(struct store *s, const char *id, const char *sql, struct sql_args a,
                        struct store_job **out, struct nn_err *err)
{
    struct job_claim k = {id, sql, a, NULL};
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
static int job_progress_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const struct job_epoch *k = ctx;
    const struct store_epoch *e = k->e;
    int rc =
        store_sql_change(c, c->drv->sql->job_progress, SQL_ARGS(SQL_TEXT(k->id), SQL_INT(e->epoch)),
                         NN_ECANCELED, err, "job '%s' is no longer running", k->id);

    if (rc == 0) {
        rc = store_sql_exec(
            c,
            "INSERT INTO job_history (job_id, epoch, train_loss, val_loss, val_metric, seconds, "
            "regression) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (job_id, epoch) DO UPDATE SET train_loss = EXCLUDED.train_loss, "
            "val_loss = EXCLUDED.val_loss, val_metric = EXCLUDED.val_metric, "
            "seconds = EXCLUDED.seconds, regression = EXCLUDED.regression",
            SQL_ARGS(SQL_TEXT(k->id), SQL_INT(e->epoch), SQL_REAL_OR_NULL(e->train_loss),
                     SQL_REAL_OR_NULL(e->val_loss), SQL_REAL_OR_NULL(e->val_metric),
                     SQL_REAL(isfinite(e->seconds) ? e->seconds : 0.0),
                     SQL_INT(e->regression != 0)),
            NULL, err);
    }
    return rc;
}

int store_sql_job_progress(struct store *s, const char *id, const struct store_epoch *e,
                           struct nn_err *err)
{
    struct job_epoch k = {id, e};

    return store_sql_tx(s, STORE_SQL_WRITE, job_progress_tx, &k, err);
}

/* What an ended job leaves behind, dropped when the backend keeps any. */
static int job_ended(struct sql_conn *c, const char *id, struct nn_err *err)
{
    return c->drv->sql->job_ended != NULL ? c->drv->sql->job_ended(c, id, err) : 0;
}

struct job_fail {
    const char *id, *code, *message;
};

static int job_fail_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const struct job_fail *f = ctx;
    int rc = store_sql_change(c, c->drv->sql->job_fail,
                              SQL_ARGS(SQL_TEXT(f->id), SQL_TEXT(f->code), SQL_TEXT(f->message)),
                              NN_ECANCELED, err, "job '%s' is no longer running", f->id);

    return rc == 0 ? job_ended(c, f->id, err) : rc;
}

int store_sql_job_fail(struct store *s, const char *id, const char *code, const char *message,
                       struct nn_err *err)
{
    struct job_fail f = {id, code, message};

    return store_sql_tx(s, STORE_SQL_WRITE, job_fail_tx, &f, err);
}

static int read_status(const struct sql_row *r, void *ctx, struct nn_err *err)
{
    (void)err;
    *(int *)ctx = store_job_status_parse(r->ops->text(r, 0));
    return 0;
}

/* The job's status decides: queued or running are cancelled (on a shared store, the replica
 * running it hears of it through the change feed), anything else is final. */
static int job_cancel_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const char *id = ctx;
    int status = -1;
    int rc = store_sql_row(c, c->drv->sql->job_status, SQL_ARGS(SQL_TEXT(id)), 0, read_status,
                           &status, err);

    if (rc == NN_ENOTFOUND) {
        return nn_err_set(err, NN_ENOTFOUND, "no job '%s'", id);
    }
    if (rc == 0 && status != STORE_JOB_QUEUED && status != STORE_JOB_RUNNING) {
        return nn_err_set(err, NN_ERANGE, "job '%s' has already finished (%s)", id,
                          store_job_status_name(status));
    }
    if (rc == 0) {
        rc = store_sql_exec(c, c->drv->sql->job_cancel, SQL_ARGS(SQL_TEXT(id)), NULL, err);
    }
    if (rc == 0) {
        rc = job_ended(c, id, err);
    }
    return rc == 0 ? note(c, "cancel", id, err) : rc;
}

int store_sql_job_cancel(struct store *s, const char *id, struct nn_err *err)
{
    return store_sql_tx(s, STORE_SQL_WRITE, job_cancel_tx, (void *)id, err);
}

static int job_requeue_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const char *id = ctx;
    int rc = store_sql_change(c, c->drv->sql->job_requeue, SQL_ARGS(SQL_TEXT(id)), NN_ECANCELED,
                              err, "job '%s' is not running", id);

    if (rc == 0) {
        rc = store_sql_exec(c, store_sql_history_clear, SQL_ARGS(SQL_TEXT(id)), NULL, err);
    }
    return rc;
}

int store_sql_job_requeue(struct store *s, const char *id, struct nn_err *err)
{
    return store_sql_tx(s, STORE_SQL_WRITE, job_requeue_tx, (void *)id, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Re-queues                                                                                   */
/* ------------------------------------------------------------------------------------------ */

struct requeue {
    const char *const *requeue;
    struct sql_args requeue_args;
    const char *list;
    struct sql_args list_args;
    struct sql_collect ids; /* out: char[STORE_ID_MAX] each */
};

static int requeue_list_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct requeue *q = ctx;
    int rc = 0;

    for (int i = 0; rc == 0 && q->requeue[i] != NULL; i++) {
        rc = store_sql_exec(c, q->requeue[i], q->requeue_args, NULL, err);
    }
    q->ids.n = 0;
    if (rc == 0) {
        rc = store_sql_rows(c, q->list, q->list_args, store_sql_collect_row, &q->ids, err);
    }
    return rc;
}

int store_sql_requeue_list(struct store *s, const char *const requeue[],
                           struct sql_args requeue_args, const char *list,
                           struct sql_args list_args, char (**ids)[STORE_ID_MAX], size_t *n,
                           struct nn_err *err)
{
    struct requeue q = {
        requeue, requeue_args, list, list_args, {NULL, 0, 0, STORE_ID_MAX, store_sql_fill_text}};
    int rc = store_sql_tx(s, STORE_SQL_WRITE, requeue_list_tx, &q, err);

    if (rc != 0) {
        nn_free(q.ids.v);
        return rc;
    }
    *ids = q.ids.v;
    *n = q.ids.n;
    return 0;
}
