/*
 * store_pg_models: the model half of the PostgreSQL store (store.h) — versions, pins, the
 * model list and deletions. A new version locks its model's row (SELECT ... FOR UPDATE), so
 * two replicas finishing jobs of one model at the same moment take numbers one after the
 * other: dense and unique. Every change is written to the change feed in its transaction,
 * so the other replicas drop their cached copy within the feed's wait.
 */
#include "store_pg_int.h"

#include <stdio.h>
#include <string.h>

#include "nn/alloc.h"

/* A model's row. */
struct model_row {
    long long id;
    int next, pinned; /* pinned: 0 = serve the newest */
    char created[STORE_TIME_MAX];
};

/* Reads a model's row (locked for update when lock is set). NN_ENOTFOUND when none. */
static int model_row(struct pg_conn *c, const char *model, int lock, struct model_row *m,
                     struct nn_err *err)
{
    PGresult *r = NULL;
    int rc = pg_row(c,
                    lock ? "SELECT id, next_version, COALESCE(pinned_version, 0), created_at "
                           "FROM models WHERE name = $1 FOR UPDATE"
                         : "SELECT id, next_version, COALESCE(pinned_version, 0), created_at "
                           "FROM models WHERE name = $1",
                    SQL_ARGS(SQL_TEXT(model)), &r, err);

    if (rc == NN_ENOTFOUND) {
        return nn_err_set(err, NN_ENOTFOUND, "no model '%s'", model);
    }
    if (rc != 0) {
        return rc;
    }
    m->id = pg_col_int(r, 0, 0);
    m->next = (int)pg_col_int(r, 0, 1);
    m->pinned = (int)pg_col_int(r, 0, 2);
    pg_col_copy(r, 0, 3, m->created, sizeof(m->created));
    PQclear(r);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* New versions                                                                                */
/* ------------------------------------------------------------------------------------------ */

struct version_put {
    struct store *s;
    const struct store_version_new *v;
    int version; /* out */
};

/* Creates the model when needed and locks its row, marks the job succeeded (first: a job no
 * longer running, or now leased by another replica, stops the transaction before anything
 * is written), inserts the version, moves the model's next number on, notes the change. */
static int version_put_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct version_put *p = ctx;
    const struct store_version_new *v = p->v;
    struct model_row m = {0};
    int rc = pg_exec(c,
                     "INSERT INTO models (name, created_at) VALUES ($1, " PG_NOW ") "
                     "ON CONFLICT (name) DO NOTHING",
                     SQL_ARGS(SQL_TEXT(v->model)), 0, NULL, NULL, err);

    if (rc == 0) {
        rc = model_row(c, v->model, 1, &m, err);
    }
    if (rc == 0 && v->job_id != NULL) {
        rc = pg_change(c,
                       "UPDATE jobs SET status = 'succeeded', progress = 1, epoch = $2, "
                       "metrics = $3, params = $4, model_version = $5, finished_at = " PG_NOW ", "
                       "lease_owner = NULL, lease_until = NULL "
                       "WHERE id = $1 AND status = 'running' AND lease_owner = $6",
                       SQL_ARGS(SQL_TEXT(v->job_id), SQL_INT(v->job_epoch), SQL_TEXT(v->metrics),
                                SQL_TEXT(v->job_params != NULL ? v->job_params : "{}"),
                                SQL_INT(m.next), SQL_TEXT(p->s->replica)),
                       NN_ECANCELED, err, "job '%s' is no longer running", v->job_id);
    }
    if (rc == 0 && v->job_id != NULL) {
        rc = pg_exec(c,
                     "DELETE FROM dataset_chunks WHERE spool = (SELECT d.spool FROM jobs j "
                     "JOIN datasets d ON d.id = j.dataset_id WHERE j.id = $1)",
                     SQL_ARGS(SQL_TEXT(v->job_id)), 0, NULL, NULL, err);
    }
    if (rc == 0) {
        rc = pg_exec(c,
                     "INSERT INTO model_versions (model_id, version, blob, card, metrics, job_id, "
                     "created_at, promoted) VALUES ($1, $2, $3, $4, $5, $6, " PG_NOW ", $7)",
                     SQL_ARGS(SQL_INT(m.id), SQL_INT(m.next), SQL_BLOB(v->blob, v->blob_len),
                              SQL_TEXT(v->card), SQL_TEXT(v->metrics), SQL_TEXT(v->job_id),
                              SQL_INT(v->held ? 0 : 1)),
                     0, NULL, NULL, err);
    }
    if (rc == 0) {
        rc = pg_exec(c, "UPDATE models SET next_version = $2 + 1 WHERE id = $1",
                     SQL_ARGS(SQL_INT(m.id), SQL_INT(m.next)), 0, NULL, NULL, err);
    }
    if (rc == 0) {
        rc = pg_change_note(c, "model", v->model, err);
    }
    if (rc == 0 && m.next % 64 == 0) { /* now and then: the feed keeps an hour */
        rc = pg_exec(c, "DELETE FROM changes WHERE at < now() - interval '1 hour'", SQL_NOARGS, 0,
                     NULL, NULL, err);
    }
    p->version = m.next;
    return rc;
}

int store_pg_version_put(struct store *s, const struct store_version_new *v, int *version,
                         struct nn_err *err)
{
    struct version_put p = {s, v, 0};
    int rc = pg_tx(s, PG_WRITE, version_put_tx, &p, err);

    if (rc == 0) {
        *version = p.version;
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading versions                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Fills v (its model name set) with version (0: the serving one) and the model's state. */
static int version_fill(struct pg_conn *c, struct store_version *v, int version, int with_blob,
                        struct nn_err *err)
{
    struct model_row m = {0};
    PGresult *r = NULL;
    long long newest = 0;
    int rc = model_row(c, v->model, 0, &m, err);

    if (rc != 0) {
        return rc;
    }
    snprintf(v->model_created_at, sizeof(v->model_created_at), "%s", m.created);
    v->pinned = m.pinned;
    v->serving = m.pinned;
    if (v->serving == 0) {
        /* the newest not held back by the gate (none: the newest) */
        rc = pg_int(c,
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
    rc = pg_row(c,
                "SELECT card, metrics, COALESCE(job_id, ''), created_at FROM model_versions "
                "WHERE model_id = $1 AND version = $2",
                SQL_ARGS(SQL_INT(m.id), SQL_INT(v->version)), &r, err);
    if (rc == NN_ENOTFOUND) {
        return nn_err_set(err, NN_ENOTFOUND, "model '%s' has no version %d", v->model, v->version);
    }
    if (rc != 0) {
        return rc;
    }
    v->card = pg_col_dup(r, 0, 0);
    v->metrics = pg_col_dup(r, 0, 1);
    pg_col_copy(r, 0, 2, v->job_id, sizeof(v->job_id));
    pg_col_copy(r, 0, 3, v->created_at, sizeof(v->created_at));
    PQclear(r);
    if (v->card == NULL || v->metrics == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (with_blob) { /* binary result: the bytes as stored, no escaping */
        rc = pg_exec(c, "SELECT blob FROM model_versions WHERE model_id = $1 AND version = $2",
                     SQL_ARGS(SQL_INT(m.id), SQL_INT(v->version)), 1, &r, NULL, err);
        if (rc == 0 && PQntuples(r) != 1) {
            rc =
                nn_err_set(err, NN_ENOTFOUND, "model '%s' has no version %d", v->model, v->version);
        }
        size_t len = rc == 0 ? (size_t)PQgetlength(r, 0, 0) : 0;
        if (rc == 0) {
            v->blob = nn_malloc(len > 0 ? len : 1);
            if (v->blob == NULL) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory");
            } else {
                memcpy(v->blob, PQgetvalue(r, 0, 0), len);
                v->blob_len = len;
            }
        }
        PQclear(r);
        if (rc != 0) {
            return rc;
        }
    }
    rc = pg_exec(c, "SELECT version FROM model_versions WHERE model_id = $1 ORDER BY version",
                 SQL_ARGS(SQL_INT(m.id)), 0, &r, NULL, err);
    if (rc != 0) {
        return rc;
    }
    int rows = PQntuples(r);
    v->versions = nn_calloc(rows > 0 ? (size_t)rows : 1, sizeof(int));
    if (v->versions == NULL) {
        PQclear(r);
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    for (int i = 0; i < rows; i++) {
        v->versions[i] = (int)pg_col_int(r, i, 0);
    }
    v->n_versions = rows;
    PQclear(r);
    return 0;
}

/* Reads one version of a model as a new struct. */
static int version_read(struct pg_conn *c, const char *model, int version, int with_blob,
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

static int version_get_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct version_get *g = ctx;

    store_version_free(g->out);
    g->out = NULL;
    return version_read(c, g->model, g->version, g->with_blob, &g->out, err);
}

int store_pg_version_get(struct store *s, const char *model, int version, int with_blob,
                         struct store_version **out, struct nn_err *err)
{
    struct version_get g = {model, version, with_blob, NULL};
    int rc = pg_tx(s, PG_SNAPSHOT, version_get_tx, &g, err);

    if (rc != 0) {
        store_version_free(g.out);
        return rc;
    }
    *out = g.out;
    return 0;
}

struct model_list {
    struct store_version **arr; /* out */
    size_t done;
};

/* Every model with a version, name ascending, then each one's serving version. */
static int model_list_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct model_list *l = ctx;
    PGresult *r = NULL;
    int rc = pg_exec(c,
                     "SELECT name FROM models m WHERE EXISTS (SELECT 1 FROM model_versions v "
                     "WHERE v.model_id = m.id) ORDER BY name",
                     SQL_NOARGS, 0, &r, NULL, err);

    store_version_list_free(l->arr, l->done);
    l->arr = NULL;
    l->done = 0;
    if (rc != 0) {
        return rc;
    }
    int rows = PQntuples(r);
    l->arr = nn_calloc(rows > 0 ? (size_t)rows : 1, sizeof(*l->arr));
    if (l->arr == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    for (; rc == 0 && l->done < (size_t)rows; l->done++) {
        rc = version_read(c, PQgetvalue(r, (int)l->done, 0), 0, 0, &l->arr[l->done], err);
        if (rc != 0) {
            break;
        }
    }
    PQclear(r);
    return rc;
}

int store_pg_model_list(struct store *s, struct store_version ***out, size_t *n, struct nn_err *err)
{
    struct model_list l = {NULL, 0};
    int rc = pg_tx(s, PG_SNAPSHOT, model_list_tx, &l, err);

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

struct model_version {
    const char *model;
    int version;
};

static int serving_set_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const struct model_version *mv = ctx;
    struct model_row m = {0};
    long long one = 0;
    int rc = model_row(c, mv->model, 1, &m, err);

    if (rc == 0 && mv->version > 0) {
        rc = pg_int(c, "SELECT 1 FROM model_versions WHERE model_id = $1 AND version = $2",
                    SQL_ARGS(SQL_INT(m.id), SQL_INT(mv->version)), &one, err);
        if (rc == NN_ENOTFOUND) {
            rc = nn_err_set(err, NN_ENOTFOUND, "model '%s' has no version %d", mv->model,
                            mv->version);
        }
    }
    if (rc == 0) {
        rc = pg_exec(c, "UPDATE models SET pinned_version = NULLIF($2::int, 0) WHERE id = $1",
                     SQL_ARGS(SQL_INT(m.id), SQL_INT(mv->version)), 0, NULL, NULL, err);
    }
    if (rc == 0) {
        rc = pg_change_note(c, "model", mv->model, err);
    }
    return rc;
}

int store_pg_serving_set(struct store *s, const char *model, int version, struct nn_err *err)
{
    struct model_version mv = {model, version};

    return pg_tx(s, PG_WRITE, serving_set_tx, &mv, err);
}

static int model_delete_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const char *model = ctx;
    int rc = pg_change(c, "DELETE FROM models WHERE name = $1", SQL_ARGS(SQL_TEXT(model)),
                       NN_ENOTFOUND, err, "no model '%s'", model);

    return rc == 0 ? pg_change_note(c, "model", model, err) : rc;
}

int store_pg_model_delete(struct store *s, const char *model, struct nn_err *err)
{
    return pg_tx(s, PG_WRITE, model_delete_tx, (void *)model, err);
}

static int version_delete_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const struct model_version *mv = ctx;
    struct model_row m = {0};
    int rc = model_row(c, mv->model, 1, &m, err);

    if (rc == 0) {
        rc = pg_change(c, "DELETE FROM model_versions WHERE model_id = $1 AND version = $2",
                       SQL_ARGS(SQL_INT(m.id), SQL_INT(mv->version)), NN_ENOTFOUND, err,
                       "model '%s' has no version %d", mv->model, mv->version);
    }
    if (rc == 0) {
        rc = pg_exec(c,
                     "UPDATE models SET pinned_version = NULL WHERE id = $1 AND "
                     "pinned_version = $2",
                     SQL_ARGS(SQL_INT(m.id), SQL_INT(mv->version)), 0, NULL, NULL, err);
    }
    if (rc == 0) {
        rc = pg_change_note(c, "model", mv->model, err);
    }
    return rc;
}

int store_pg_version_delete(struct store *s, const char *model, int version, struct nn_err *err)
{
    struct model_version mv = {model, version};

    return pg_tx(s, PG_WRITE, version_delete_tx, &mv, err);
}
