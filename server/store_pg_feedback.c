/*
 * store_pg_feedback: the feedback half of the PostgreSQL store (store.h) — the labelled
 * instances users send back for a model (one row per content hash and model: a duplicate
 * updates the label, atomically through ON CONFLICT), and the rows kept with a trained
 * version (a replay reservoir of its training rows, its validation rows).
 */
#include "store_pg_int.h"

#include <stdio.h>
#include <string.h>

#include "nn/alloc.h"

/* ------------------------------------------------------------------------------------------ */
/* Feedback                                                                                    */
/* ------------------------------------------------------------------------------------------ */

struct feedback_put {
    const char *model, *hash, *instance, *label;
    int created; /* out */
};

/* One upsert; xmax = 0 tells a row just inserted from one updated. */
static int feedback_put_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct feedback_put *p = ctx;
    long long inserted = 0;
    int rc = pg_int(
        c,
        "INSERT INTO feedback (model, hash, instance, label, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, " PG_NOW ", " PG_NOW ") "
        "ON CONFLICT (model, hash) DO UPDATE SET instance = EXCLUDED.instance, "
        "label = EXCLUDED.label, updated_at = EXCLUDED.updated_at "
        "RETURNING (xmax = 0)::int",
        SQL_ARGS(SQL_TEXT(p->model), SQL_TEXT(p->hash), SQL_TEXT(p->instance), SQL_TEXT(p->label)),
        &inserted, err);

    p->created = rc == 0 && inserted != 0;
    return rc;
}

int store_pg_feedback_put(struct store *s, const char *model, const char *hash,
                          const char *instance, const char *label, int *created, struct nn_err *err)
{
    struct feedback_put p = {model, hash, instance, label, 0};
    int rc = pg_tx(s, PG_WRITE, feedback_put_tx, &p, err);

    if (rc == 0) {
        *created = p.created;
    }
    return rc;
}

struct feedback_list {
    const char *model;
    long long after;
    int limit;
    struct store_feedback *v; /* out */
    size_t n;
};

static void feedback_list_reset(struct feedback_list *l)
{
    store_feedback_list_free(l->v, l->n);
    l->v = NULL;
    l->n = 0;
}

static int feedback_list_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct feedback_list *l = ctx;
    PGresult *r = NULL;
    int rc, rows;

    feedback_list_reset(l);
    rc = pg_exec(c,
                 "SELECT id, hash, instance, label, created_at, updated_at FROM feedback "
                 "WHERE model = $1 AND id > $2 ORDER BY id LIMIT $3",
                 SQL_ARGS(SQL_TEXT(l->model), SQL_INT(l->after),
                          SQL_INT(l->limit > 0 ? l->limit : 2147483647)),
                 0, &r, NULL, err);
    if (rc != 0) {
        return rc;
    }
    rows = PQntuples(r);
    if (rows > 0) {
        l->v = nn_calloc((size_t)rows, sizeof(*l->v));
        if (l->v == NULL) {
            PQclear(r);
            return nn_err_set(err, NN_ENOMEM, "out of memory");
        }
    }
    for (int i = 0; i < rows; i++) {
        struct store_feedback *f = &l->v[i];

        l->n++;
        f->id = pg_col_int(r, i, 0);
        pg_col_copy(r, i, 1, f->hash, sizeof(f->hash));
        f->instance = pg_col_dup(r, i, 2);
        f->label = pg_col_dup(r, i, 3);
        pg_col_copy(r, i, 4, f->created_at, sizeof(f->created_at));
        pg_col_copy(r, i, 5, f->updated_at, sizeof(f->updated_at));
        if (f->instance == NULL || f->label == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
            break;
        }
    }
    PQclear(r);
    return rc;
}

int store_pg_feedback_list(struct store *s, const char *model, long long after, int limit,
                           struct store_feedback **out, size_t *n, struct nn_err *err)
{
    struct feedback_list l = {model, after, limit, NULL, 0};
    int rc = pg_tx(s, PG_AUTOCOMMIT, feedback_list_tx, &l, err);

    if (rc != 0) {
        feedback_list_reset(&l);
        return rc;
    }
    *out = l.v;
    *n = l.n;
    return 0;
}

struct feedback_count {
    const char *model, *hash;
    long long n; /* out */
};

static int feedback_delete_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct feedback_count *d = ctx;
    int changes = 0;
    int rc = d->hash != NULL
                 ? pg_exec(c, "DELETE FROM feedback WHERE model = $1 AND hash = $2",
                           SQL_ARGS(SQL_TEXT(d->model), SQL_TEXT(d->hash)), 0, NULL, &changes, err)
                 : pg_exec(c, "DELETE FROM feedback WHERE model = $1", SQL_ARGS(SQL_TEXT(d->model)),
                           0, NULL, &changes, err);

    d->n = changes;
    return rc;
}

int store_pg_feedback_delete(struct store *s, const char *model, const char *hash,
                             long long *deleted, struct nn_err *err)
{
    struct feedback_count d = {model, hash, 0};
    int rc = pg_tx(s, PG_WRITE, feedback_delete_tx, &d, err);

    if (rc == 0) {
        *deleted = d.n;
    }
    return rc;
}

static int feedback_count_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct feedback_count *d = ctx;

    return d->model != NULL ? pg_int(c, "SELECT COUNT(*) FROM feedback WHERE model = $1",
                                     SQL_ARGS(SQL_TEXT(d->model)), &d->n, err)
                            : pg_int(c, "SELECT COUNT(*) FROM feedback", SQL_NOARGS, &d->n, err);
}

int store_pg_feedback_count(struct store *s, const char *model, long long *n, struct nn_err *err)
{
    struct feedback_count d = {model, NULL, 0};
    int rc = pg_tx(s, PG_AUTOCOMMIT, feedback_count_tx, &d, err);

    if (rc == 0) {
        *n = d.n;
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Rows kept with a version                                                                    */
/* ------------------------------------------------------------------------------------------ */

struct sample {
    const char *model, *kind;
    int version;
    const void *data;
    size_t len;
    unsigned char *out; /* get: the copy read */
    size_t out_len;
};

static int sample_put_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct sample *p = ctx;

    return pg_change(c,
                     "INSERT INTO version_samples (model_id, version, kind, data) "
                     "SELECT v.model_id, v.version, $3::text, $4::bytea FROM model_versions v "
                     "JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2 "
                     "ON CONFLICT (model_id, version, kind) DO UPDATE SET data = EXCLUDED.data",
                     SQL_ARGS(SQL_TEXT(p->model), SQL_INT(p->version), SQL_TEXT(p->kind),
                              SQL_BLOB(p->data, p->len)),
                     NN_ENOTFOUND, err, "no model '%s' version %d", p->model, p->version);
}

int store_pg_sample_put(struct store *s, const char *model, int version, const char *kind,
                        const void *data, size_t len, struct nn_err *err)
{
    struct sample p = {model, kind, version, data, len, NULL, 0};

    return pg_tx(s, PG_WRITE, sample_put_tx, &p, err);
}

static int sample_get_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct sample *p = ctx;
    PGresult *r = NULL;
    size_t len;
    int rc;

    nn_free(p->out);
    p->out = NULL;
    rc = pg_exec(c,
                 "SELECT x.data FROM version_samples x JOIN models m ON m.id = x.model_id "
                 "WHERE m.name = $1 AND x.version = $2 AND x.kind = $3",
                 SQL_ARGS(SQL_TEXT(p->model), SQL_INT(p->version), SQL_TEXT(p->kind)), 1, &r, NULL,
                 err);
    if (rc != 0) {
        return rc;
    }
    if (PQntuples(r) < 1) {
        PQclear(r);
        return nn_err_set(err, NN_ENOTFOUND, "no %s rows kept with model '%s' version %d", p->kind,
                          p->model, p->version);
    }
    len = (size_t)PQgetlength(r, 0, 0);
    p->out = nn_malloc(len + 1);
    if (p->out == NULL) {
        PQclear(r);
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    memcpy(p->out, PQgetvalue(r, 0, 0), len);
    p->out[len] = '\0';
    p->out_len = len;
    PQclear(r);
    return 0;
}

int store_pg_sample_get(struct store *s, const char *model, int version, const char *kind,
                        unsigned char **data, size_t *len, struct nn_err *err)
{
    struct sample p = {model, kind, version, NULL, 0, NULL, 0};
    int rc = pg_tx(s, PG_AUTOCOMMIT, sample_get_tx, &p, err);

    if (rc != 0) {
        nn_free(p.out);
        return rc;
    }
    *data = p.out;
    *len = p.out_len;
    return 0;
}
