/*
 * store_sqlite_models: a new model version in the SQLite store (store.h; the other model
 * calls are store_sql_ops.c's). A model row holds next_version, which only grows, so a
 * number is never reused while the model exists; a version that completes a job is stored in
 * the same transaction that marks the job succeeded.
 */
#include "store_sqlite_int.h"

#include <time.h>

/* Now, as "2026-11-27T16:00:00Z": one time for every row a new version writes. */
static void now_text(char out[STORE_TIME_MAX])
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, STORE_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Creates the model when needed, marks the job succeeded (first: a job no longer running
 * stops the transaction before anything is written), inserts the version, moves the
 * model's next number on. */
static int version_put_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct sql_version_put *p = ctx;
    const struct store_version_new *v = p->v;
    struct sql_model m = {0};
    char now[STORE_TIME_MAX];
    int rc;

    now_text(now);
    rc = store_sql_exec(c,
                        "INSERT INTO models (name, created_at) VALUES ($1, $2) "
                        "ON CONFLICT (name) DO NOTHING",
                        SQL_ARGS(SQL_TEXT(v->model), SQL_TEXT(now)), NULL, err);
    if (rc == 0) {
        rc = store_sql_model_get(c, v->model, 1, &m, err);
    }
    if (rc == 0 && v->job_id != NULL) {
        rc = store_sql_change(
            c,
            "UPDATE jobs SET status = 'succeeded', progress = 1, epoch = $2, metrics = $3, "
            "params = $4, model_version = $5, finished_at = $6 "
            "WHERE id = $1 AND status = 'running'",
            SQL_ARGS(SQL_TEXT(v->job_id), SQL_INT(v->job_epoch), SQL_TEXT(v->metrics),
                     SQL_TEXT(v->job_params != NULL ? v->job_params : "{}"), SQL_INT(m.next),
                     SQL_TEXT(now)),
            NN_ECANCELED, err, "job '%s' is no longer running", v->job_id);
    }
    if (rc == 0) {
        rc = store_sql_exec(c,
                            "INSERT INTO model_versions (model_id, version, blob, card, metrics, "
                            "job_id, created_at, promoted) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                            SQL_ARGS(SQL_INT(m.id), SQL_INT(m.next), SQL_BLOB(v->blob, v->blob_len),
                                     SQL_TEXT(v->card), SQL_TEXT(v->metrics), SQL_TEXT(v->job_id),
                                     SQL_TEXT(now), SQL_INT(v->held ? 0 : 1)),
                            NULL, err);
    }
    if (rc == 0) {
        rc = store_sql_exec(c, "UPDATE models SET next_version = $2 + 1 WHERE id = $1",
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
    return store_sql_version_put(s, v, version_put_tx, version, err);
}
