/*
 * store_sqlite_jobs: the job statements SQLite writes its own way (its struct sql_dialect
 * for store_sql_ops.c), the claim and the start-up recovery. Each state change is one
 * conditional UPDATE in one transaction, so a cancel racing a worker's claim or commit has
 * exactly one winner, and the loser sees NN_ENOTFOUND / NN_ECANCELED.
 */
#include "store_sqlite_int.h"

const struct sql_dialect store_sqlite_dialect = {
    .model_lock = NULL, /* BEGIN IMMEDIATE holds the whole database */
    .job_status = "SELECT status FROM jobs WHERE id = $1",
    STORE_SQL_DIALECT_NOW(SQLITE_NOW),
    .job_progress = "UPDATE jobs SET epoch = $2, progress = CASE WHEN epochs > 0 "
                    "THEN MIN(1.0, $2 * 1.0 / epochs) ELSE 0 END "
                    "WHERE id = $1 AND status = 'running'",
    .job_fail = "UPDATE jobs SET status = 'failed', error_code = $2, error_message = $3, "
                "finished_at = " SQLITE_NOW " WHERE id = $1 AND status = 'running'",
    .job_cancel = "UPDATE jobs SET status = 'cancelled', finished_at = " SQLITE_NOW " "
                  "WHERE id = $1 AND status IN ('queued', 'running')",
    .job_requeue = "UPDATE jobs SET status = 'queued', progress = 0, epoch = 0, "
                   "started_at = NULL WHERE id = $1 AND status = 'running'",
    .note = NULL,      /* one process: no change feed */
    .job_ended = NULL, /* the spool folder holds the datasets */
};

int store_sqlite_job_claim(struct store *s, const char *id, struct store_job **out,
                           struct nn_err *err)
{
    return store_sql_job_claim(s, id,
                               "UPDATE jobs SET status = 'running', started_at = " SQLITE_NOW ", "
                               "progress = 0, epoch = 0 WHERE id = $1 AND status = 'queued'",
                               SQL_ARGS(SQL_TEXT(id)), out, err);
}

/* Every running job back to queued, their history cleared, then the queued ids in order. */
int store_sqlite_jobs_recover(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n,
                              struct nn_err *err)
{
    return store_sql_requeue_list(
        s,
        (const char *const[]){"UPDATE jobs SET status = 'queued', progress = 0, epoch = 0, "
                              "started_at = NULL WHERE status = 'running'",
                              "DELETE FROM job_history WHERE job_id IN "
                              "(SELECT id FROM jobs WHERE status = 'queued')",
                              NULL},
        SQL_NOARGS, "SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq", SQL_NOARGS, ids, n,
        err);
}
