/*
 * test_store: the SQLite store — migrations applied once and recorded (re-open is a no-op),
 * a newer schema refused, version numbering (never reused; restart at 1 after a whole
 * delete), a version and its job's success in one transaction, cancel rules, pins, and the
 * start-up re-queue of jobs left queued or running.
 */
#include "server/store.h"

#include <math.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nn/alloc.h"

struct fix {
    char path[256];
    struct store *s;
};

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "/tmp/neurond-test-store-%d-%ld.db", (int)getpid(),
             (long)random());
    assert_int_equal(store_open(f->path, &f->s, NULL), 0);
    *state = f;
    return 0;
}

static void remove_db(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

static int teardown(void **state)
{
    struct fix *f = *state;
    store_close(f->s);
    remove_db(f->path);
    free(f);
    return 0;
}

static int count(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int n = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        n = sqlite3_column_int(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void new_job(struct store *s, const char *id, const char *model)
{
    struct store_job j;
    memset(&j, 0, sizeof(j));
    snprintf(j.id, sizeof(j.id), "%s", id);
    snprintf(j.model, sizeof(j.model), "%s", model);
    j.epochs = 10;
    j.params = (char *)"{\"epochs\":10}";
    j.form = (char *)"{\"model\":\"m\",\"epochs\":\"10\"}";
    snprintf(j.spool, sizeof(j.spool), "up-%s.csv", id);
    j.rows = 100;
    j.columns = 5;
    j.bytes = 1234;
    snprintf(j.sha256, sizeof(j.sha256), "%064d", 0);
    assert_int_equal(store_job_create(s, &j, NULL), 0);
}

static int put_version(struct store *s, const char *model, const char *job_id, int *version)
{
    static const unsigned char blob[] = {1, 2, 3, 4};
    struct store_version_new v = {model,
                                  blob,
                                  sizeof(blob),
                                  "{\"task\":\"classification\"}",
                                  "{\"val_accuracy\":0.9}",
                                  job_id,
                                  "{\"epochs\":3}",
                                  3};
    return store_version_put(s, &v, version, NULL);
}

static void test_migrations_idempotent(void **state)
{
    struct fix *f = *state;
    int v = 0;

    assert_int_equal(store_schema_version(f->s, &v, NULL), 0);
    assert_int_equal(v, store_schema_version_known());
    assert_true(v >= 1);
    int applied = count(f->path, "SELECT COUNT(*) FROM schema_migrations");
    assert_true(applied >= 1);
    new_job(f->s, "j1", "m");
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(f->path, &f->s, NULL), 0); /* again: nothing re-applied */
    assert_int_equal(count(f->path, "SELECT COUNT(*) FROM schema_migrations"), applied);
    assert_int_equal(count(f->path, "SELECT COUNT(*) FROM jobs"), 1);
}

static void test_newer_schema_refused(void **state)
{
    struct fix *f = *state;
    struct store *s2 = (struct store *)1;
    struct nn_err err;
    sqlite3 *db = NULL;

    store_close(f->s);
    f->s = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO schema_migrations VALUES (9999, '9999_x', 'now')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    nn_err_clear(&err);
    assert_int_equal(store_open(f->path, &s2, &err), NN_ERANGE);
    assert_null(s2);
    assert_non_null(strstr(err.msg, "newer than this binary"));
    assert_int_equal(count(f->path, "SELECT MAX(version) FROM schema_migrations"), 9999);
}

static void test_version_numbering(void **state)
{
    struct fix *f = *state;
    int v = 0;
    struct store_version *sv = NULL;

    assert_int_equal(put_version(f->s, "m", NULL, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(put_version(f->s, "m", NULL, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(put_version(f->s, "other", NULL, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(store_version_delete(f->s, "m", 2, NULL), 0);
    assert_int_equal(store_version_delete(f->s, "m", 2, NULL), NN_ENOTFOUND);
    assert_int_equal(put_version(f->s, "m", NULL, &v), 0);
    assert_int_equal(v, 3); /* 2 is never reused */
    assert_int_equal(store_version_get(f->s, "m", 0, 1, &sv, NULL), 0);
    assert_int_equal(sv->version, 3);
    assert_int_equal(sv->n_versions, 2);
    assert_int_equal(sv->versions[0], 1);
    assert_int_equal(sv->versions[1], 3);
    assert_int_equal(sv->blob_len, 4);
    assert_int_equal(sv->blob[3], 4);
    assert_string_equal(sv->job_id, "");
    store_version_free(sv);
    assert_int_equal(store_model_delete(f->s, "m", NULL), 0);
    assert_int_equal(store_version_get(f->s, "m", 0, 0, &sv, NULL), NN_ENOTFOUND);
    assert_null(sv);
    assert_int_equal(put_version(f->s, "m", NULL, &v), 0);
    assert_int_equal(v, 1); /* deleted whole: starts again at 1 */
    assert_int_equal(store_model_delete(f->s, "nosuch", NULL), NN_ENOTFOUND);
}

static void test_pin(void **state)
{
    struct fix *f = *state;
    int v = 0;
    struct store_version *sv = NULL;

    put_version(f->s, "p", NULL, &v);
    put_version(f->s, "p", NULL, &v);
    assert_int_equal(store_serving_set(f->s, "p", 1, NULL), 0);
    assert_int_equal(store_version_get(f->s, "p", 0, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, 1);
    assert_int_equal(sv->pinned, 1);
    assert_null(sv->blob);
    store_version_free(sv);
    put_version(f->s, "p", NULL, &v); /* a new version does not move the pin */
    assert_int_equal(store_version_get(f->s, "p", 0, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, 1);
    store_version_free(sv);
    assert_int_equal(store_serving_set(f->s, "p", 7, NULL), NN_ENOTFOUND);
    assert_int_equal(store_serving_set(f->s, "q", 1, NULL), NN_ENOTFOUND);
    assert_int_equal(store_serving_set(f->s, "p", 0, NULL), 0);
    assert_int_equal(store_version_get(f->s, "p", 0, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, 3);
    assert_int_equal(sv->pinned, 0);
    store_version_free(sv);
    /* deleting the pinned version removes the pin */
    store_serving_set(f->s, "p", 2, NULL);
    store_version_delete(f->s, "p", 2, NULL);
    assert_int_equal(store_version_get(f->s, "p", 0, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, 3);
    store_version_free(sv);

    struct store_version **list = NULL;
    size_t n = 0;
    assert_int_equal(store_model_list(f->s, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->model, "p");
    assert_int_equal(list[0]->serving, 3);
    store_version_list_free(list, n);
}

static void test_version_and_job_one_transaction(void **state)
{
    struct fix *f = *state;
    struct store_job *j = NULL;
    struct store_version *sv = NULL;
    int v = 0;

    new_job(f->s, "run", "tm");
    /* a queued job cannot complete */
    assert_int_equal(put_version(f->s, "tm", "run", &v), NN_ECANCELED);
    assert_int_equal(store_version_get(f->s, "tm", 0, 0, &sv, NULL), NN_ENOTFOUND);
    assert_int_equal(store_job_claim(f->s, "run", &j, NULL), 0);
    assert_int_equal(j->status, STORE_JOB_RUNNING);
    assert_true(j->started_at[0] != '\0');
    store_job_free(j);
    assert_int_equal(store_job_claim(f->s, "run", &j, NULL), NN_ENOTFOUND); /* only once */
    struct store_epoch e = {1, 0.5, 0.6, 0.8, 0.01, 0};
    assert_int_equal(store_job_progress(f->s, "run", &e, NULL), 0);
    assert_int_equal(put_version(f->s, "tm", "run", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(store_job_get(f->s, "run", &j, NULL), 0);
    assert_int_equal(j->status, STORE_JOB_SUCCEEDED);
    assert_int_equal(j->model_version, 1);
    assert_true(j->progress == 1.0);
    assert_int_equal(j->epoch, 3);
    assert_string_equal(j->params, "{\"epochs\":3}");
    assert_string_equal(j->metrics, "{\"val_accuracy\":0.9}");
    assert_true(j->finished_at[0] != '\0');
    store_job_free(j);
    assert_int_equal(store_version_get(f->s, "tm", 1, 0, &sv, NULL), 0);
    assert_string_equal(sv->job_id, "run");
    store_version_free(sv);
    /* a job cancelled while training: its model never lands */
    new_job(f->s, "late", "tm");
    assert_int_equal(store_job_claim(f->s, "late", &j, NULL), 0);
    store_job_free(j);
    assert_int_equal(store_job_cancel(f->s, "late", NULL), 0);
    assert_int_equal(store_job_progress(f->s, "late", &e, NULL), NN_ECANCELED);
    assert_int_equal(put_version(f->s, "tm", "late", &v), NN_ECANCELED);
    assert_int_equal(store_version_get(f->s, "tm", 2, 0, &sv, NULL), NN_ENOTFOUND);
    assert_int_equal(count(f->path, "SELECT next_version FROM models WHERE name = 'tm'"), 2);
}

static void test_cancel_rules(void **state)
{
    struct fix *f = *state;
    struct store_job *j = NULL;

    new_job(f->s, "a", "m");
    assert_int_equal(store_job_cancel(f->s, "a", NULL), 0);
    assert_int_equal(store_job_cancel(f->s, "a", NULL), NN_ERANGE);
    assert_int_equal(store_job_cancel(f->s, "zz", NULL), NN_ENOTFOUND);
    assert_int_equal(store_job_claim(f->s, "a", &j, NULL), NN_ENOTFOUND);
    new_job(f->s, "b", "m");
    assert_int_equal(store_job_claim(f->s, "b", &j, NULL), 0);
    store_job_free(j);
    assert_int_equal(store_job_fail(f->s, "b", "diverged", "loss is NaN", NULL), 0);
    assert_int_equal(store_job_cancel(f->s, "b", NULL), NN_ERANGE);
    assert_int_equal(store_job_get(f->s, "b", &j, NULL), 0);
    assert_int_equal(j->status, STORE_JOB_FAILED);
    assert_string_equal(j->error_code, "diverged");
    assert_string_equal(j->error_message, "loss is NaN");
    store_job_free(j);
    long counts[STORE_JOB_N_STATUS];
    assert_int_equal(store_jobs_count(f->s, counts, NULL), 0);
    assert_int_equal(counts[STORE_JOB_CANCELLED], 1);
    assert_int_equal(counts[STORE_JOB_FAILED], 1);
    assert_int_equal(counts[STORE_JOB_QUEUED], 0);
}

static void test_list_and_history(void **state)
{
    struct fix *f = *state;
    struct store_job **list = NULL;
    struct store_job *j = NULL;
    struct store_epoch *h = NULL;
    size_t n = 0;

    new_job(f->s, "l1", "x");
    new_job(f->s, "l2", "y");
    new_job(f->s, "l3", "x");
    assert_int_equal(store_job_list(f->s, -1, NULL, 50, &list, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[0]->id, "l3"); /* newest first */
    assert_string_equal(list[2]->id, "l1");
    assert_int_equal(list[0]->rows, 100);
    store_job_list_free(list, n);
    assert_int_equal(store_job_list(f->s, -1, "x", 1, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->id, "l3");
    store_job_list_free(list, n);
    assert_int_equal(store_job_claim(f->s, "l2", &j, NULL), 0);
    store_job_free(j);
    assert_int_equal(store_job_list(f->s, STORE_JOB_RUNNING, NULL, 50, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->id, "l2");
    store_job_list_free(list, n);
    for (int e = 1; e <= 3; e++) {
        struct store_epoch ep = {e, 1.0 / e, NAN, 0.5, 0.1, e == 3};
        assert_int_equal(store_job_progress(f->s, "l2", &ep, NULL), 0);
    }
    assert_int_equal(store_job_history(f->s, "l2", &h, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(h[2].epoch, 3);
    assert_true(isnan(h[0].val_loss));
    assert_true(fabs(h[1].train_loss - 0.5) < 1e-12);
    assert_int_equal(h[2].regression, 1);
    assert_int_equal(h[0].regression, 0);
    nn_free(h);
    assert_int_equal(store_job_get(f->s, "l2", &j, NULL), 0);
    assert_int_equal(j->epoch, 3);
    assert_true(fabs(j->progress - 0.3) < 1e-12);
    store_job_free(j);
}

static void test_restart_requeues(void **state)
{
    struct fix *f = *state;
    struct store_job *j = NULL;
    char(*ids)[STORE_ID_MAX] = NULL;
    size_t n = 0;
    int in_use = 0;

    new_job(f->s, "first", "m");
    new_job(f->s, "second", "m");
    new_job(f->s, "done", "m");
    assert_int_equal(store_job_claim(f->s, "first", &j, NULL), 0);
    store_job_free(j);
    struct store_epoch e = {1, 0.5, 0.6, 0.8, 0.01, 0};
    assert_int_equal(store_job_progress(f->s, "first", &e, NULL), 0);
    assert_int_equal(store_job_cancel(f->s, "done", NULL), 0);
    /* the process dies here; a new one opens the store */
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(f->path, &f->s, NULL), 0);
    assert_int_equal(store_jobs_recover(f->s, &ids, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ids[0], "first"); /* oldest first */
    assert_string_equal(ids[1], "second");
    nn_free(ids);
    assert_int_equal(store_job_get(f->s, "first", &j, NULL), 0);
    assert_int_equal(j->status, STORE_JOB_QUEUED);
    assert_int_equal(j->epoch, 0);
    assert_true(j->progress == 0.0);
    assert_string_equal(j->started_at, "");
    store_job_free(j);
    struct store_epoch *h = NULL;
    assert_int_equal(store_job_history(f->s, "first", &h, &n, NULL), 0);
    assert_int_equal(n, 0);
    nn_free(h);
    assert_int_equal(store_spool_in_use(f->s, "up-first.csv", &in_use, NULL), 0);
    assert_int_equal(in_use, 1);
    assert_int_equal(store_spool_in_use(f->s, "up-done.csv", &in_use, NULL), 0);
    assert_int_equal(in_use, 0);
    /* a running job put back by a graceful stop */
    assert_int_equal(store_job_claim(f->s, "second", &j, NULL), 0);
    store_job_free(j);
    assert_int_equal(store_job_requeue(f->s, "second", NULL), 0);
    assert_int_equal(store_job_requeue(f->s, "second", NULL), NN_ECANCELED);
    assert_int_equal(store_job_get(f->s, "second", &j, NULL), 0);
    assert_int_equal(j->status, STORE_JOB_QUEUED);
    store_job_free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_numbering, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version_and_job_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_requeues, setup, teardown),
    };
    srandom((unsigned)getpid());
    return cmocka_run_group_tests(tests, NULL, NULL);
}
