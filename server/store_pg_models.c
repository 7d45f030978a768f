/*
 * store_pg_models: a new model version in the PostgreSQL store (store.h; the other model
 * calls are store_sql_ops.c's). It locks its model's row (SELECT ... FOR UPDATE), so two
 * replicas finishing jobs of one model at the same moment take numbers one after the other:
 * dense and unique. The change goes to the change feed in its transaction, so the other
 * replicas drop their cached copy within the feed's wait.
 */
#include "store_pg_int.h"

/* Creates the model when needed and locks its row, marks the job succeeded (first: a job no
 * longer running, or now leased by another replica, stops the transaction before anything
 * is written), inserts the version, moves the model's next number on, notes the change. */
static int version_put_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct sql_version_put *p = ctx;
    const struct store_version_new *v = p->v;
    struct sql_model m = {0};
    int rc = store_sql_exec(c,
                            "INSERT INTO models (name, created_at) VALUES ($1, " PG_NOW ") "
                            "ON CONFLICT (name) DO NOTHING",
                            SQL_ARGS(SQL_TEXT(v->model)), NULL, err);

    if (rc == 0) {
        rc = store_sql_model_get(c, v->model, 1, &m, err);
    }
    if (rc == 0 && v->job_id != NULL) {
        rc = store_sql_change(
            c,
            "UPDATE jobs SET status = 'succeeded', progress = 1, epoch = $2, metrics = $3, "
            "params = $4, model_version = $5, finished_at = " PG_NOW ", lease_owner = NULL, "
            "lease_until = NULL WHERE id = $1 AND status = 'running' AND lease_owner = $6",
            SQL_ARGS(SQL_TEXT(v->job_id), SQL_INT(v->job_epoch), SQL_TEXT(v->metrics),
                     SQL_TEXT(v->job_params != NULL ? v->job_params : "{}"), SQL_INT(m.next),
                     SQL_TEXT(p->s->replica)),
            NN_ECANCELED, err, "job '%s' is no longer running", v->job_id);
    }
    if (rc == 0 && v->job_id != NULL) {
        rc = store_pg_dialect.job_ended(c, v->job_id, err);
    }
    if (rc == 0) {
        rc = store_sql_exec(c,
                            "INSERT INTO model_versions (model_id, version, blob, card, metrics, "
                            "job_id, created_at, promoted) VALUES ($1, $2, $3, $4, $5, $6, " PG_NOW
                            ", $7)",
                            SQL_ARGS(SQL_INT(m.id), SQL_INT(m.next), SQL_BLOB(v->blob, v->blob_len),
                                     SQL_TEXT(v->card), SQL_TEXT(v->metrics), SQL_TEXT(v->job_id),
                                     SQL_INT(v->held ? 0 : 1)),
                            NULL, err);
    }
    if (rc == 0) {
        rc = store_sql_exec(c, "UPDATE models SET next_version = $2 + 1 WHERE id = $1",
                            SQL_ARGS(SQL_INT(m.id), SQL_INT(m.next)), NULL, err);
    }
    if (rc == 0) {
        rc = store_pg_dialect.note(c, "model", v->model, err);
    }
    if (rc == 0 && m.next % 64 == 0) { /* now and then: the feed keeps an hour */
        rc = store_sql_exec(c, "DELETE FROM changes WHERE at < now() - interval '1 hour'",
                            SQL_NOARGS, NULL, err);
    }
    p->version = m.next;
    return rc;
}

int store_pg_version_put(struct store *s, const struct store_version_new *v, int *version,
                         struct nn_err *err)
{
    return store_sql_version_put(s, v, version_put_tx, version, err);
}
