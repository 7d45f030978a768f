/*
 * store_sqlite_feedback: what SQLite does its own way in the feedback calls (store.h; the
 * others are store_sql_feedback.c's): storing a feedback row (one row per content hash and
 * model: a duplicate updates the label) and keeping rows with a version.
 */
#include "store_sqlite_int.h"

/* Updates the row of a hash the model has or, when there is none, inserts it; tells which. */
static int feedback_put_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct sql_feedback_put *p = ctx;
    int changes = 0;
    int rc = store_sql_exec(
        c,
        "UPDATE feedback SET instance = $3, label = $4, updated_at = " SQLITE_NOW
        " WHERE model = $1 AND hash = $2",
        SQL_ARGS(SQL_TEXT(p->model), SQL_TEXT(p->hash), SQL_TEXT(p->instance), SQL_TEXT(p->label)),
        &changes, err);

    if (rc == 0 && changes == 0) {
        rc = store_sql_exec(c,
                            "INSERT INTO feedback (model, hash, instance, label, created_at, "
                            "updated_at) VALUES ($1, $2, $3, $4, " SQLITE_NOW ", " SQLITE_NOW ")",
                            SQL_ARGS(SQL_TEXT(p->model), SQL_TEXT(p->hash), SQL_TEXT(p->instance),
                                     SQL_TEXT(p->label)),
                            NULL, err);
        p->created = rc == 0;
    }
    return rc;
}

int store_sqlite_feedback_put(struct store *s, const char *model, const char *hash,
                              const char *instance, const char *label, int *created,
                              long long *count, struct nn_err *err)
{
    return store_sql_feedback_put(s, model, hash, instance, label, feedback_put_tx, created, count,
                                  err);
}

int store_sqlite_sample_put(struct store *s, const char *model, int version, const char *kind,
                            const void *data, size_t len, struct nn_err *err)
{
    return store_sql_sample_put(s,
                                "INSERT OR REPLACE INTO version_samples (model_id, version, kind, "
                                "data) SELECT v.model_id, v.version, $3, $4 FROM model_versions v "
                                "JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND "
                                "v.version = $2",
                                model, version, kind, data, len, err);
}
