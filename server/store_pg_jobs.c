/*
 * store_pg_jobs: the job statements PostgreSQL writes its own way (its struct sql_dialect
 * for store_sql_ops.c: row locks, the server's "now", leases, the change feed and the
 * stored datasets), the claim, the start-up recovery, and what replicas add: the lease of a
 * running job (its replica and a heartbeat) and the adoption of the jobs a dead replica
 * left. A claim takes the row with FOR UPDATE SKIP LOCKED and moves it only while queued, so
 * of two replicas racing for one job exactly one wins; every later move is conditional on
 * the status (and a job's success on its lease owner too).
 */
#include "store_pg_int.h"

#include "nn/alloc.h"

/* a running job back to queued, its lease dropped */
#define REQUEUE_SET                                                                                \
    "status = 'queued', progress = 0, epoch = 0, started_at = NULL, queued_at = now(), "           \
    "lease_owner = NULL, lease_until = NULL "

/* The stored dataset of a job that ended: no replica will train it again. */
static int dataset_drop(struct sql_conn *c, const char *id, struct nn_err *err)
{
    return store_sql_exec(c,
                          "DELETE FROM dataset_chunks WHERE spool = (SELECT d.spool FROM jobs j "
                          "JOIN datasets d ON d.id = j.dataset_id WHERE j.id = $1)",
                          SQL_ARGS(SQL_TEXT(id)), NULL, err);
}

/* Appends a change to the feed and wakes the replicas (at commit). */
static int change_note(struct sql_conn *c, const char *kind, const char *name, struct nn_err *err)
{
    return store_sql_exec(c,
                          "WITH n AS (INSERT INTO changes (kind, name) VALUES ($1, $2) "
                          "RETURNING seq) SELECT pg_notify('neurond_changes', seq::text) FROM n",
                          SQL_ARGS(SQL_TEXT(kind), SQL_TEXT(name)), NULL, err);
}

const struct sql_dialect store_pg_dialect = {
    .model_lock = "SELECT id, next_version, COALESCE(pinned_version, 0), created_at "
                  "FROM models WHERE name = $1 FOR UPDATE",
    .job_status = "SELECT status FROM jobs WHERE id = $1 FOR UPDATE",
    STORE_SQL_DIALECT_NOW(PG_NOW),
    .job_progress = "UPDATE jobs SET epoch = $2::int, progress = CASE WHEN epochs > 0 "
                    "THEN LEAST(1.0, $2::int::float8 / epochs) ELSE 0 END "
                    "WHERE id = $1 AND status = 'running'",
    .job_fail = "UPDATE jobs SET status = 'failed', error_code = $2, error_message = $3, "
                "finished_at = " PG_NOW ", lease_owner = NULL, lease_until = NULL "
                "WHERE id = $1 AND status = 'running'",
    .job_cancel = "UPDATE jobs SET status = 'cancelled', finished_at = " PG_NOW ", "
                  "lease_owner = NULL, lease_until = NULL WHERE id = $1",
    .job_requeue = "UPDATE jobs SET " REQUEUE_SET "WHERE id = $1 AND status = 'running'",
    .note = change_note,
    .job_ended = dataset_drop,
};

/* ------------------------------------------------------------------------------------------ */
/* The claim                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* Queued to running under this replica's lease. */
int store_pg_job_claim(struct store *s, const char *id, struct store_job **out, struct nn_err *err)
{
    return store_sql_job_claim(
        s, id,
        "UPDATE jobs SET status = 'running', started_at = " PG_NOW ", progress = 0, epoch = 0, "
        "lease_owner = $2, lease_until = now() + make_interval(secs => $3) "
        "WHERE id = (SELECT id FROM jobs WHERE id = $1 AND status = 'queued' "
        "FOR UPDATE SKIP LOCKED) AND status = 'queued'",
        SQL_ARGS(SQL_TEXT(id), SQL_TEXT(s->replica), SQL_INT(s->lease_s)), out, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Recovery, leases, adoption                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Re-queues the running jobs that match cond, clears their history. */
#define REQUEUE_WHERE(cond)                                                                        \
    "WITH q AS (UPDATE jobs SET " REQUEUE_SET "WHERE status = 'running' AND (" cond ") "           \
    "RETURNING id) DELETE FROM job_history WHERE job_id IN (SELECT id FROM q)"

/* At start: this replica's running jobs (it died or was killed) and those of any replica
 * whose lease expired go back to queued; then every queued job is listed. Other replicas'
 * live jobs are left alone. */
int store_pg_jobs_recover(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n,
                          struct nn_err *err)
{
    return store_sql_requeue_list(
        s, (const char *const[]){REQUEUE_WHERE("lease_owner = $1 OR lease_until < now()"), NULL},
        SQL_ARGS(SQL_TEXT(s->replica)), "SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq",
        SQL_NOARGS, ids, n, err);
}

/* Expired leases back to queued; then the jobs queued for a whole lease, oldest first. */
int store_pg_jobs_adopt(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err)
{
    return store_sql_requeue_list(
        s, (const char *const[]){REQUEUE_WHERE("lease_until < now()"), NULL}, SQL_NOARGS,
        /* now() is the transaction's start: queued_at = now() are the jobs this transaction
           just re-queued */
        "SELECT id FROM jobs WHERE status = 'queued' AND (queued_at = now() OR "
        "queued_at < now() - make_interval(secs => $1)) ORDER BY seq",
        SQL_ARGS(SQL_INT(s->lease_s)), ids, n, err);
}

static int heartbeat_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct store *s = ctx;

    return store_sql_exec(c,
                          "UPDATE jobs SET lease_until = now() + make_interval(secs => $2) "
                          "WHERE status = 'running' AND lease_owner = $1",
                          SQL_ARGS(SQL_TEXT(s->replica), SQL_INT(s->lease_s)), NULL, err);
}

int store_pg_jobs_heartbeat(struct store *s, struct nn_err *err)
{
    return store_sql_tx(s, STORE_SQL_AUTOCOMMIT, heartbeat_tx, s, err);
}
