/*
 * store_sqlite_feedback: the feedback half of the SQLite store (store.h) — the labelled
 * instances users send back for a model (one row per content hash and model: a duplicate
 * updates the label), and the rows kept with a trained version (a replay reservoir of its
 * training rows, its validation rows) for retraining and the champion/challenger gate.
 */
#include "store_sqlite_int.h"

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

/* Inserts the row or, for a hash the model has, updates it; tells which. */
static int feedback_put_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    struct feedback_put *p = ctx;
    char now[STORE_TIME_MAX];
    int changes = 0;
    int rc;

    store_sql_now(now);
    rc = store_sql_exec(c,
                        "UPDATE feedback SET instance = ?3, label = ?4, updated_at = ?5 "
                        "WHERE model = ?1 AND hash = ?2",
                        SQL_ARGS(SQL_TEXT(p->model), SQL_TEXT(p->hash), SQL_TEXT(p->instance),
                                 SQL_TEXT(p->label), SQL_TEXT(now)),
                        &changes, err);
    if (rc == 0 && changes == 0) {
        rc = store_sql_exec(c,
                            "INSERT INTO feedback (model, hash, instance, label, created_at, "
                            "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
                            SQL_ARGS(SQL_TEXT(p->model), SQL_TEXT(p->hash), SQL_TEXT(p->instance),
                                     SQL_TEXT(p->label), SQL_TEXT(now)),
                            NULL, err);
        p->created = rc == 0;
    }
    return rc;
}

int store_sqlite_feedback_put(struct store *s, const char *model, const char *hash,
                              const char *instance, const char *label, int *created,
                              struct nn_err *err)
{
    struct feedback_put p = {model, hash, instance, label, 0};
    int rc = store_sql_tx(s, STORE_SQL_WRITE, feedback_put_tx, &p, err);

    if (rc == 0) {
        *created = p.created;
    }
    return rc;
}

/* Fills one struct store_feedback from the row (id, hash, instance, label, times). */
static int fill_feedback(sqlite3_stmt *st, void *elem, size_t size, struct nn_err *err)
{
    struct store_feedback *f = elem;

    (void)size;
    memset(f, 0, sizeof(*f));
    f->id = sqlite3_column_int64(st, 0);
    store_sql_col_copy(st, 1, f->hash, sizeof(f->hash));
    f->instance = store_sql_col_dup(st, 2);
    f->label = store_sql_col_dup(st, 3);
    store_sql_col_copy(st, 4, f->created_at, sizeof(f->created_at));
    store_sql_col_copy(st, 5, f->updated_at, sizeof(f->updated_at));
    if (f->instance == NULL || f->label == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    return 0;
}

int store_sqlite_feedback_list(struct store *s, const char *model, long long after, int limit,
                               struct store_feedback **out, size_t *n, struct nn_err *err)
{
    struct sql_collect col = {NULL, 0, 0, sizeof(struct store_feedback), fill_feedback};
    int rc =
        store_sql_once(s,
                       "SELECT id, hash, instance, label, created_at, updated_at "
                       "FROM feedback WHERE model = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                       SQL_ARGS(SQL_TEXT(model), SQL_INT(after), SQL_INT(limit > 0 ? limit : -1)),
                       store_sql_collect_row, &col, NULL, err);

    if (rc != 0) {
        store_feedback_list_free(col.v, col.n);
        return rc;
    }
    *out = col.v;
    *n = col.n;
    return 0;
}

int store_sqlite_feedback_delete(struct store *s, const char *model, const char *hash,
                                 long long *deleted, struct nn_err *err)
{
    int changes = 0;
    int rc = hash != NULL ? store_sql_once(s, "DELETE FROM feedback WHERE model = ?1 AND hash = ?2",
                                           SQL_ARGS(SQL_TEXT(model), SQL_TEXT(hash)), NULL, NULL,
                                           &changes, err)
                          : store_sql_once(s, "DELETE FROM feedback WHERE model = ?1",
                                           SQL_ARGS(SQL_TEXT(model)), NULL, NULL, &changes, err);

    if (rc == 0) {
        *deleted = changes;
    }
    return rc;
}

int store_sqlite_feedback_count(struct store *s, const char *model, long long *n,
                                struct nn_err *err)
{
    int count = 0;
    int rc = model != NULL
                 ? store_sql_once(s, "SELECT COUNT(*) FROM feedback WHERE model = ?1",
                                  SQL_ARGS(SQL_TEXT(model)), store_sql_int, &count, NULL, err)
                 : store_sql_once(s, "SELECT COUNT(*) FROM feedback", SQL_NOARGS, store_sql_int,
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
    const char *model, *kind;
    int version;
    const void *data;
    size_t len;
    unsigned char *out; /* get: the copy read */
    size_t out_len;
};

static int sample_put_tx(struct conn *c, void *ctx, struct nn_err *err)
{
    struct sample *p = ctx;

    return store_sql_change(c,
                            "INSERT OR REPLACE INTO version_samples (model_id, version, kind, "
                            "data) SELECT v.model_id, v.version, ?3, ?4 FROM model_versions v "
                            "JOIN models m ON m.id = v.model_id WHERE m.name = ?1 AND "
                            "v.version = ?2",
                            SQL_ARGS(SQL_TEXT(p->model), SQL_INT(p->version), SQL_TEXT(p->kind),
                                     SQL_BLOB(p->data, p->len)),
                            NN_ENOTFOUND, err, "no model '%s' version %d", p->model, p->version);
}

int store_sqlite_sample_put(struct store *s, const char *model, int version, const char *kind,
                            const void *data, size_t len, struct nn_err *err)
{
    struct sample p = {model, kind, version, data, len, NULL, 0};

    return store_sql_tx(s, STORE_SQL_WRITE, sample_put_tx, &p, err);
}

static int read_sample(sqlite3_stmt *st, void *ctx, struct nn_err *err)
{
    struct sample *p = ctx;
    int n = sqlite3_column_bytes(st, 0);
    const void *b = sqlite3_column_blob(st, 0);

    p->out = nn_malloc((size_t)n + 1);
    if (p->out == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (n > 0) {
        memcpy(p->out, b, (size_t)n);
    }
    p->out[n] = '\0';
    p->out_len = (size_t)n;
    return 0;
}

int store_sqlite_sample_get(struct store *s, const char *model, int version, const char *kind,
                            unsigned char **data, size_t *len, struct nn_err *err)
{
    struct sample p = {model, kind, version, NULL, 0, NULL, 0};
    int rc = store_sql_once(s,
                            "SELECT x.data FROM version_samples x JOIN models m ON "
                            "m.id = x.model_id WHERE m.name = ?1 AND x.version = ?2 AND "
                            "x.kind = ?3",
                            SQL_ARGS(SQL_TEXT(model), SQL_INT(version), SQL_TEXT(kind)),
                            read_sample, &p, NULL, err);

    if (rc == 0 && p.out == NULL) {
        rc = nn_err_set(err, NN_ENOTFOUND, "no %s rows kept with model '%s' version %d", kind,
                        model, version);
    }
    if (rc != 0) {
        nn_free(p.out);
        return rc;
    }
    *data = p.out;
    *len = p.out_len;
    return 0;
}
