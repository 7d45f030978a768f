/*
 * store_sqlite_models: the model half of the SQLite store (store.h) — versions, pins, the
 * model list and deletions. A model row holds next_version, which only grows, so a number
 * is never reused while the model exists; a version that completes a job is stored in the
 * same transaction that marks the job succeeded.
 */
#include "store_sqlite_int.h"

#include <stdio.h>
#include <string.h>

#include "nn/alloc.h"

/* A model's row. */
struct model_row {
    sqlite3_int64 id;
    int next, pinned; /* pinned: 0 = serve the newest */
    char created[STORE_TIME_MAX];
};

static int read_model(sqlite3_stmt *st, void *ctx, struct nn_err *err)
{
    struct model_row *m = ctx;

    (void)err;
    m->id = sqlite3_column_int64(st, 0);
    m->next = sqlite3_column_int(st, 1);
    m->pinned = sqlite3_column_int(st, 2);
    store_sql_col_copy(st, 3, m->created, sizeof(m->created));
    return 0;
}

/* Reads a model's row. NN_ENOTFOUND when there is none. */
static int model_row(struct conn *c, const char *model, struct model_row *m, struct nn_err *err)
{
    int rc = store_sql_row(c,
                           "SELECT id, next_version, COALESCE(pinned_version, 0), created_at "
                           "FROM models WHERE name = ?1",
                           SQL_ARGS(SQL_TEXT(model)), read_model, m, err);

    if (rc == NN_ENOTFOUND) {
        rc = nn_err_set(err, NN_ENOTFOUND, "no model '%s'", model);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* New versions                                                                                */
/* ------------------------------------------------------------------------------------------ */

struct version_put {
    const struct store_version_new *v;
    int version; /* out */
};

/* Creates the model when needed, marks the job succeeded (first: a job no longer running
 * stops the transaction before anything is written), inserts the version, moves the
 * model's next number on. */
static int version_put_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    struct version_put *p = ctx;
    const struct store_version_new *v = p->v;
    struct model_row m = {0};
    char now[STORE_TIME_MAX];
    int rc;

    store_sql_now(now);
    rc = store_sql_exec(c,
                        "INSERT INTO models (name, created_at) VALUES (?1, ?2) "
                        "ON CONFLICT (name) DO NOTHING",
                        SQL_ARGS(SQL_TEXT(v->model), SQL_TEXT(now)), NULL, err);
    if (rc == 0) {
        rc = model_row(c, v->model, &m, err);
    }
    if (rc == 0 && v->job_id != NULL) {
        rc = store_sql_change(
            c,
            "UPDATE jobs SET status = 'succeeded', progress = 1, epoch = ?2, metrics = ?3, "
            "params = ?4, model_version = ?5, finished_at = ?6 "
            "WHERE id = ?1 AND status = 'running'",
            SQL_ARGS(SQL_TEXT(v->job_id), SQL_INT(v->job_epoch), SQL_TEXT(v->metrics),
                     SQL_TEXT(v->job_params != NULL ? v->job_params : "{}"), SQL_INT(m.next),
                     SQL_TEXT(now)),
            NN_ECANCELED, err, "job '%s' is no longer running", v->job_id);
    }
    if (rc == 0) {
        rc = store_sql_exec(c,
                            "INSERT INTO model_versions (model_id, version, blob, card, metrics, "
                            "job_id, created_at, promoted) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                            SQL_ARGS(SQL_INT(m.id), SQL_INT(m.next), SQL_BLOB(v->blob, v->blob_len),
                                     SQL_TEXT(v->card), SQL_TEXT(v->metrics), SQL_TEXT(v->job_id),
                                     SQL_TEXT(now), SQL_INT(v->held ? 0 : 1)),
                            NULL, err);
    }
    if (rc == 0) {
        rc = store_sql_exec(c, "UPDATE models SET next_version = ?2 + 1 WHERE id = ?1",
                            SQL_ARGS(SQL_INT(m.id), SQL_INT(m.next)), NULL, err);
    }
    if (rc == 0) {
        p->version = m.next;
    }
    return rc;
}

int store_sqlite_version_put(struct store *s, const struct store_version_new *v, int *version,
                             struct nn_err *err)
{
    struct version_put p = {v, 0};
    int rc = store_sql_tx(s, STORE_SQL_WRITE, version_put_tx, &p, err);

    if (rc == 0) {
        *version = p.version;
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading versions                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Reads blob (when selected), card, metrics, job id and time into the version ctx. */
static int read_version(sqlite3_stmt *st, void *ctx, struct nn_err *err)
{
    struct store_version *v = ctx;

    if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
        int n = sqlite3_column_bytes(st, 0);
        const void *b = sqlite3_column_blob(st, 0);
        v->blob = nn_malloc(n > 0 ? (size_t)n : 1);
        if (v->blob == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory");
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
    if (v->card == NULL || v->metrics == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    return 0;
}

/* Fills v (its model name set) with version (0: the serving one) and the model's state. */
static int version_fill(struct conn *c, struct store_version *v, int version, int with_blob,
                        struct nn_err *err)
{
    struct model_row m = {0};
    struct sql_collect vs = {NULL, 0, 0, sizeof(int), store_sql_fill_int};
    int rc = model_row(c, v->model, &m, err);

    if (rc != 0) {
        return rc;
    }
    snprintf(v->model_created_at, sizeof(v->model_created_at), "%s", m.created);
    v->pinned = m.pinned;
    v->serving = m.pinned;
    if (v->serving == 0) {
        rc = store_sql_row(c,
                           /* the newest not held back by the gate (none: the newest) */
                           "SELECT COALESCE(MAX(CASE WHEN promoted <> 0 THEN version END), "
                           "MAX(version), 0) FROM model_versions WHERE model_id = ?1",
                           SQL_ARGS(SQL_INT(m.id)), store_sql_int, &v->serving, err);
        if (rc != 0) {
            return rc;
        }
    }
    if (v->serving == 0) {
        return nn_err_set(err, NN_ENOTFOUND, "model '%s' has no versions", v->model);
    }
    v->version = version > 0 ? version : v->serving;
    rc = store_sql_row(c,
                       "SELECT CASE WHEN ?3 THEN blob END, card, metrics, COALESCE(job_id, ''), "
                       "created_at FROM model_versions WHERE model_id = ?1 AND version = ?2",
                       SQL_ARGS(SQL_INT(m.id), SQL_INT(v->version), SQL_INT(with_blob != 0)),
                       read_version, v, err);
    if (rc == NN_ENOTFOUND) {
        return nn_err_set(err, NN_ENOTFOUND, "model '%s' has no version %d", v->model, v->version);
    }
    if (rc == 0) {
        rc = store_sql_rows(c,
                            "SELECT version FROM model_versions WHERE model_id = ?1 "
                            "ORDER BY version",
                            SQL_ARGS(SQL_INT(m.id)), store_sql_collect_row, &vs, err);
    }
    v->versions = vs.v;
    v->n_versions = (int)vs.n;
    return rc;
}

/* Reads one version of a model as a new struct. */
static int version_read(struct conn *c, const char *model, int version, int with_blob,
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

static int version_get_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    struct version_get *g = ctx;

    return version_read(c, g->model, g->version, g->with_blob, &g->out, err);
}

int store_sqlite_version_get(struct store *s, const char *model, int version, int with_blob,
                             struct store_version **out, struct nn_err *err)
{
    struct version_get g = {model, version, with_blob, NULL};
    int rc = store_sql_tx(s, STORE_SQL_SNAPSHOT, version_get_tx, &g, err);

    if (rc == 0) {
        *out = g.out;
    }
    return rc;
}

struct model_list {
    struct sql_collect names; /* char[STORE_NAME_MAX] each */
    struct store_version **arr;
    size_t done;
};

/* Every model with a version, name ascending, then each one's serving version. */
static int model_list_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    struct model_list *l = ctx;
    int rc = store_sql_rows(c,
                            "SELECT name FROM models m WHERE EXISTS (SELECT 1 FROM "
                            "model_versions v WHERE v.model_id = m.id) ORDER BY name",
                            SQL_NOARGS, store_sql_collect_row, &l->names, err);
    char(*names)[STORE_NAME_MAX] = l->names.v;

    if (rc != 0) {
        return rc;
    }
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

int store_sqlite_model_list(struct store *s, struct store_version ***out, size_t *n,
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

struct model_version {
    const char *model;
    int version;
};

static int serving_set_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    const struct model_version *mv = ctx;
    struct model_row m = {0};
    int one = 0;
    int rc = model_row(c, mv->model, &m, err);

    if (rc == 0 && mv->version > 0) {
        rc = store_sql_row(c, "SELECT 1 FROM model_versions WHERE model_id = ?1 AND version = ?2",
                           SQL_ARGS(SQL_INT(m.id), SQL_INT(mv->version)), store_sql_int, &one, err);
        if (rc == NN_ENOTFOUND) {
            rc = nn_err_set(err, NN_ENOTFOUND, "model '%s' has no version %d", mv->model,
                            mv->version);
        }
    }
    if (rc == 0) {
        rc = store_sql_exec(c, "UPDATE models SET pinned_version = NULLIF(?2, 0) WHERE id = ?1",
                            SQL_ARGS(SQL_INT(m.id), SQL_INT(mv->version)), NULL, err);
    }
    return rc;
}

int store_sqlite_serving_set(struct store *s, const char *model, int version, struct nn_err *err)
{
    struct model_version mv = {model, version};

    return store_sql_tx(s, STORE_SQL_WRITE, serving_set_tx, &mv, err);
}

int store_sqlite_model_delete(struct store *s, const char *model, struct nn_err *err)
{
    int changes = 0;
    int rc = store_sql_once(s, "DELETE FROM models WHERE name = ?1", SQL_ARGS(SQL_TEXT(model)),
                            NULL, NULL, &changes, err);

    if (rc == 0 && changes == 0) {
        rc = nn_err_set(err, NN_ENOTFOUND, "no model '%s'", model);
    }
    return rc;
}

static int version_delete_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    const struct model_version *mv = ctx;
    struct model_row m = {0};
    int rc = model_row(c, mv->model, &m, err);

    if (rc == 0) {
        rc = store_sql_change(c, "DELETE FROM model_versions WHERE model_id = ?1 AND version = ?2",
                              SQL_ARGS(SQL_INT(m.id), SQL_INT(mv->version)), NN_ENOTFOUND, err,
                              "model '%s' has no version %d", mv->model, mv->version);
    }
    if (rc == 0) {
        rc = store_sql_exec(c,
                            "UPDATE models SET pinned_version = NULL WHERE id = ?1 AND "
                            "pinned_version = ?2",
                            SQL_ARGS(SQL_INT(m.id), SQL_INT(mv->version)), NULL, err);
    }
    return rc;
}

int store_sqlite_version_delete(struct store *s, const char *model, int version, struct nn_err *err)
{
    struct model_version mv = {model, version};

    return store_sql_tx(s, STORE_SQL_WRITE, version_delete_tx, &mv, err);
}
