/*
 * store_pg_feedback: what PostgreSQL does its own way in the feedback calls (store.h; the
 * others are store_sql_feedback.c's): storing a feedback row (one row per content hash and
 * model: a duplicate updates the label, atomically through ON CONFLICT) and keeping rows
 * with a version.
 */
#include "store_pg_int.h"

/* One upsert; xmax = 0 tells a row just inserted from one updated. */
static int feedback_put_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct sql_feedback_put *p = ctx;
    long long inserted = 0;
    /* the model's puts one at a time, until commit: each new row's count is its own */
    int rc = store_sql_exec(c, "SELECT pg_advisory_xact_lock(hashtext('feedback:' || $1::text))",
                            SQL_ARGS(SQL_TEXT(p->model)), NULL, err);

    rc = rc != 0
             ? rc
             : store_sql_int(
                   c,
                   "INSERT INTO feedback (model, hash, instance, label, created_at, updated_at) "
                   "VALUES ($1, $2, $3, $4, " PG_NOW ", " PG_NOW ") "
                   "ON CONFLICT (model, hash) DO UPDATE SET instance = EXCLUDED.instance, "
                   "label = EXCLUDED.label, updated_at = EXCLUDED.updated_at "
                   "RETURNING (xmax = 0)::int",
                   SQL_ARGS(SQL_TEXT(p->model), SQL_TEXT(p->hash), SQL_TEXT(p->instance),
                            SQL_TEXT(p->label)),
                   &inserted, err);

    p->created = rc == 0 && inserted != 0;
    return rc;
}

int store_pg_feedback_put(struct store *s, const char *model, const char *hash,
                          const char *instance, const char *label, int *created, long long *count,
                          struct nn_err *err)
{
    return store_sql_feedback_put(s, model, hash, instance, label, feedback_put_tx, created, count,
                                  err);
}

int store_pg_sample_put(struct store *s, const char *model, int version, const char *kind,
                        const void *data, size_t len, struct nn_err *err)
{
    return store_sql_sample_put(
        s,
        "INSERT INTO version_samples (model_id, version, kind, data) "
        "SELECT v.model_id, v.version, $3::text, $4::bytea FROM model_versions v "
        "JOIN models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2 "
        "ON CONFLICT (model_id, version, kind) DO UPDATE SET data = EXCLUDED.data",
        model, version, kind, data, len, err);
}
