/*
 * store_sql_feedback: the feedback calls of store.h that every SQL backend shares — listing,
 * counting and deleting a model's feedback rows, and the rows kept with a trained version (a
 * replay reservoir of its training rows, its validation rows), stored with the backend's own
 * statement and read back here. Storing a feedback row is each backend's own (an upsert that
 * tells a new row from an updated one is written differently in each dialect).
 */
#include "store_sql.h"

#include <limits.h>
#include <string.h>

#include "nn/alloc.h"

/* ------------------------------------------------------------------------------------------ */
/* Feedback                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Fills one struct store_feedback from the row (id, hash, instance, label, times). */
static int fill_feedback(const struct sql_row *r, void *elem, size_t size, struct nn_err *err)
{
    struct store_feedback *f = elem;

    (void)size;
    f->id = store_sql_col_int(r, 0);
    store_sql_col_copy(r, 1, f->hash, sizeof(f->hash));
    f->instance = store_sql_col_dup(r, 2);
    f->label = store_sql_col_dup(r, 3);
    store_sql_col_copy(r, 4, f->created_at, sizeof(f->created_at));
    store_sql_col_copy(r, 5, f->updated_at, sizeof(f->updated_at));
    if (f->instance == NULL || f->label == NULL) {
        nn_free(f->instance);
        nn_free(f->label);
        f->instance = f->label = NULL;
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    return 0;
}

/* store_sql_feedback_put's transaction: the backend's upsert, then the count. */
struct put_count {
    store_sql_tx_fn upsert;
    struct sql_feedback_put p;
    long long count;
};

static int put_count_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct put_count *t = ctx;
    int rc = t->upsert(c, &t->p, err);

    if (rc == 0) {
        rc = store_sql_int(c, "SELECT COUNT(*) FROM feedback WHERE model = $1",
                           SQL_ARGS(SQL_TEXT(t->p.model)), &t->count, err);
    }
    return rc;
}

int store_sql_feedback_put(struct store *s, const char *model, const char *hash,
                           const char *instance, const char *label, store_sql_tx_fn tx,
                           int *created, long long *count, struct nn_err *err)
{
    struct put_count t = {tx, {model, hash, instance, label, 0}, 0};
    int rc = store_sql_tx(s, STORE_SQL_WRITE, put_count_tx, &t, err);

    if (rc == 0) {
        *created = t.p.created;
        *count = t.count;
    }
    return rc;
}

/* store_sql_drop_fn: an array of struct store_feedback. */
static void drop_feedback(void *v, size_t n)
{
    store_feedback_list_free(v, n);
}

int store_sql_feedback_list(struct store *s, const char *model, long long after, int limit,
                            struct store_feedback **out, size_t *n, struct nn_err *err)
{
    void *v = NULL;
    int rc = store_sql_list(
        s,
        "SELECT id, hash, instance, label, created_at, updated_at FROM feedback "
        "WHERE model = $1 AND id > $2 ORDER BY id LIMIT $3",
        SQL_ARGS(SQL_TEXT(model), SQL_INT(after), SQL_INT(limit > 0 ? limit : INT_MAX)),
        sizeof(struct store_feedback), fill_feedback, drop_feedback, &v, n, err);

    *out = v;
    return rc;
}

int store_sql_feedback_delete(struct store *s, const char *model, const char *hash,
                              long long *deleted, struct nn_err *err)
{
    int changes = 0;
    int rc = hash != NULL ? store_sql_once(s, "DELETE FROM feedback WHERE model = $1 AND hash = $2",
                                           SQL_ARGS(SQL_TEXT(model), SQL_TEXT(hash)), NULL, NULL,
                                           &changes, err)
                          : store_sql_once(s, "DELETE FROM feedback WHERE model = $1",
                                           SQL_ARGS(SQL_TEXT(model)), NULL, NULL, &changes, err);

    if (rc == 0) {
        *deleted = changes;
    }
    return rc;
}

int store_sql_feedback_count(struct store *s, const char *model, long long *n, struct nn_err *err)
{
    long long count = 0;
    int rc = model != NULL
                 ? store_sql_once(s, "SELECT COUNT(*) FROM feedback WHERE model = $1",
                                  SQL_ARGS(SQL_TEXT(model)), store_sql_int_row, &count, NULL, err)
                 : store_sql_once(s, "SELECT COUNT(*) FROM feedback", SQL_NOARGS, store_sql_int_row,
                                  &count, NULL, err);

    if (rc == 0) {
        *n = count;
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Rows kept with a version                                                                    */
/* ------------------------------------------------------------------------------------------ */

struct sample {
    const char *sql, *model, *kind;
    int version;
    const void *data;
    size_t len;
    unsigned char *out; /* get: the copy read */
    size_t out_len;
};

static int sample_put_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct sample *p = ctx;

    return store_sql_change(c, p->sql,
                            SQL_ARGS(SQL_TEXT(p->model), SQL_INT(p->version), SQL_TEXT(p->kind),
                                     SQL_BLOB(p->data, p->len)),
                            NN_ENOTFOUND, err, "no model '%s' version %d", p->model, p->version);
}

int store_sql_sample_put(struct store *s, const char *sql, const char *model, int version,
                         const char *kind, const void *data, size_t len, struct nn_err *err)
{
    struct sample p = {sql, model, kind, version, data, len, NULL, 0};

    return store_sql_tx(s, STORE_SQL_WRITE, sample_put_tx, &p, err);
}

/* Row handler: the kept bytes, copied with a NUL after them. */
static int read_sample(const struct sql_row *r, void *ctx, struct nn_err *err)
{
    struct sample *p = ctx;
    size_t n = 0;
    const void *b = r->ops->blob(r, 0, &n);

    p->out = nn_malloc(n + 1);
    if (p->out == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (n > 0) {
        memcpy(p->out, b, n);
    }
    p->out[n] = '\0';
    p->out_len = n;
    return 0;
}

static int sample_get_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct sample *p = ctx;
    int rc;

    nn_free(p->out);
    p->out = NULL;
    /* binary: the bytes as stored */
    rc = store_sql_row(c,
                       "SELECT x.data FROM version_samples x JOIN models m ON m.id = x.model_id "
                       "WHERE m.name = $1 AND x.version = $2 AND x.kind = $3",
                       SQL_ARGS(SQL_TEXT(p->model), SQL_INT(p->version), SQL_TEXT(p->kind)), 1,
                       read_sample, p, err);
    if (rc == NN_ENOTFOUND) {
        rc = nn_err_set(err, NN_ENOTFOUND, "no %s rows kept with model '%s' version %d", p->kind,
                        p->model, p->version);
    }
    return rc;
}

int store_sql_sample_get(struct store *s, const char *model, int version, const char *kind,
                         unsigned char **data, size_t *len, struct nn_err *err)
{
    struct sample p = {NULL, model, kind, version, NULL, 0, NULL, 0};
    int rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, sample_get_tx, &p, err);

    if (rc != 0) {
        nn_free(p.out);
        return rc;
    }
    *data = p.out;
    *len = p.out_len;
    return 0;
}
