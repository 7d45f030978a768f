/*
 * test_store: the contract of server/store.h, run against every backend in `backends`
 * below — the only part of this file that knows a backend (how to make an empty store's
 * URL, remove it, and record a newer schema behind the store's back). The tests themselves
 * call store.h only, so a second backend (PostgreSQL) adds one row and must pass them all.
 *
 * What they hold the store to: migrations applied once (re-open changes nothing), a newer
 * schema refused, version numbers (never reused; restart at 1 after a whole delete; dense
 * under concurrent writers), a version and its job's success in one transaction, the job
 * state machine and its error codes, one winner when workers race for a claim, pins,
 * history with NaN, out-parameters cleared on failure, and the start-up re-queue.
 */
#include "server/store.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "nn/alloc.h"

/* ========================================================================================== */
/* Backends: the only backend-specific code                                                   */
/* ========================================================================================== */

struct backend {
    const char *name;
    /* Writes the URL of a new, empty store into url. */
    void (*fresh)(char *url, size_t cap);
    /* Removes the store made by fresh. */
    void (*remove)(const char *url);
    /* Records schema version v as applied, as a newer neurond would (the store is closed). */
    void (*record_schema)(const char *url, int v);
};

static const char *sqlite_path(const char *url)
{
    return strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
}

static void sqlite_fresh(char *url, size_t cap)
{
    snprintf(url, cap, "sqlite:/tmp/neurond-test-store-%d-%ld.db", (int)getpid(), (long)random());
}

static void sqlite_remove(const char *url)
{
    char p[300];
    unlink(sqlite_path(url));
    snprintf(p, sizeof(p), "%s-wal", sqlite_path(url));
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", sqlite_path(url));
    unlink(p);
}

static void sqlite_record_schema(const char *url, int v)
{
    sqlite3 *db = NULL;
    char sql[128];

    snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, 'future', 'now')", v);
    assert_int_equal(sqlite3_open(sqlite_path(url), &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* PostgreSQL: each store is a new database on one server — NEUROND_TEST_PG (the URL of a
 * database we may CREATE DATABASE from), else a throwaway server that main() starts with
 * scripts/pg-tmp.sh (stopped at exit, or by its watchdog if this process dies). */
static char pg_server[256]; /* "" when there is no PostgreSQL: its rows are skipped */
static char pg_dir[128];

/* Runs one SQL command on the database of url (a test failure if it fails). */
static void pg_run(const char *url, const char *sql)
{
    PGconn *db = PQconnectdb(url);
    assert_int_equal(PQstatus(db), CONNECTION_OK);
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    }
    PQclear(r);
    PQfinish(db);
}

/* url with its database name replaced by name. */
static void pg_url_db(const char *url, const char *name, char *out, size_t cap)
{
    const char *slash = strrchr(url, '/');
    snprintf(out, cap, "%.*s/%s", (int)(slash - url), url, name);
}

static void pg_fresh(char *url, size_t cap)
{
    char name[64], sql[128];
    snprintf(name, sizeof(name), "t_%d_%ld", (int)getpid(), (long)random());
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    pg_run(pg_server, sql);
    pg_url_db(pg_server, name, url, cap);
}

static void pg_remove(const char *url)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", strrchr(url, '/') + 1);
    pg_run(pg_server, sql);
}

static void pg_record_schema(const char *url, int v)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, 'future', 'now')", v);
    pg_run(url, sql);
}

static void pg_stop(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "scripts/pg-tmp.sh destroy %s", pg_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "store: could not stop the test PostgreSQL in %s\n", pg_dir);
    }
}

/* Finds or starts the PostgreSQL server; leaves pg_server "" (and says why) when none. */
static void pg_start(void)
{
    const char *env = getenv("NEUROND_TEST_PG");
    char cmd[256];

    if (env != NULL && env[0] != '\0') {
        snprintf(pg_server, sizeof(pg_server), "%s", env);
        return;
    }
    snprintf(pg_dir, sizeof(pg_dir), "/tmp/neurond-test-pg-%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "scripts/pg-tmp.sh start %s %d", pg_dir, (int)getpid());
    FILE *p = popen(cmd, "r");
    if (p == NULL || fgets(pg_server, sizeof(pg_server), p) == NULL) {
        pg_server[0] = '\0';
    }
    int rc = p != NULL ? pclose(p) : -1;
    pg_server[strcspn(pg_server, "\n")] = '\0';
    if (rc != 0 || pg_server[0] == '\0') {
        pg_server[0] = '\0';
        printf("store: no PostgreSQL server (scripts/pg-tmp.sh exited %d): the postgresql "
               "backend's tests are SKIPPED\n",
               WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
        return;
    }
    atexit(pg_stop);
}

static const struct backend backends[] = {
    {"sqlite", sqlite_fresh, sqlite_remove, sqlite_record_schema},
    {"postgresql", pg_fresh, pg_remove, pg_record_schema},
};
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* ========================================================================================== */
/* Fixture and helpers (store.h only from here on)                                            */
/* ========================================================================================== */

struct fix {
    const struct backend *b;
    char url[256];
    struct store *s;
};

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    f->b = *state; /* the backend, from cmocka's prestate */
    f->b->fresh(f->url, sizeof(f->url));
    assert_int_equal(store_open(f->url, &f->s, NULL), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    store_close(f->s);
    f->b->remove(f->url);
    free(f);
    return 0;
}

/* Closes and opens the store again, as a restarted daemon does. */
static void reopen(struct fix *f)
{
    store_close(f->s);
    f->s = NULL;
    assert_int_equal(store_open(f->url, &f->s, NULL), 0);
}

static int try_job(struct store *s, const char *id, const char *model, int epochs)
{
    struct store_job j;
    memset(&j, 0, sizeof(j));
    snprintf(j.id, sizeof(j.id), "%s", id);
    snprintf(j.model, sizeof(j.model), "%s", model);
    j.epochs = epochs;
    j.params = (char *)"{\"epochs\":10}";
    j.form = (char *)"{\"model\":\"m\",\"epochs\":\"10\"}";
    snprintf(j.spool, sizeof(j.spool), "up-%s.csv", id);
    j.rows = 100;
    j.columns = 5;
    j.bytes = 1234;
    snprintf(j.sha256, sizeof(j.sha256), "%064d", 0);
    return store_job_create(s, &j, NULL);
}

static void new_job(struct store *s, const char *id, const char *model)
{
    assert_int_equal(try_job(s, id, model, 10), 0);
}

static void claim(struct store *s, const char *id)
{
    struct store_job *j = NULL;
    assert_int_equal(store_job_claim(s, id, &j, NULL), 0);
    assert_int_equal(j->status, STORE_JOB_RUNNING);
    store_job_free(j);
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
                                  3,
                                  0};
    return store_version_put(s, &v, version, NULL);
}

static int job_status(struct store *s, const char *id)
{
    struct store_job *j = NULL;
    assert_int_equal(store_job_get(s, id, &j, NULL), 0);
    int status = j->status;
    store_job_free(j);
    return status;
}

static size_t n_models(struct store *s)
{
    struct store_version **list = NULL;
    size_t n = 0;
    assert_int_equal(store_model_list(s, &list, &n, NULL), 0);
    store_version_list_free(list, n);
    return n;
}

/* ========================================================================================== */
/* Opening and migrations                                                                     */
/* ========================================================================================== */

static void test_migrations_once(void **state)
{
    struct fix *f = *state;
    struct store *second = NULL;
    struct store_job **list = NULL;
    size_t n = 0;
    int v = 0;

    assert_int_equal(store_schema_version(f->s, &v, NULL), 0);
    assert_int_equal(v, store_schema_version_known());
    assert_true(v >= 1);
    new_job(f->s, "j1", "m");
    /* a second handle on the same store (another replica) sees the same state */
    assert_int_equal(store_open(f->url, &second, NULL), 0);
    assert_int_equal(job_status(second, "j1"), STORE_JOB_QUEUED);
    store_close(second);
    reopen(f); /* again: nothing re-applied, nothing lost */
    assert_int_equal(store_schema_version(f->s, &v, NULL), 0);
    assert_int_equal(v, store_schema_version_known());
    assert_int_equal(store_job_list(f->s, -1, NULL, 50, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->id, "j1");
    store_job_list_free(list, n);
}

static void test_newer_schema_refused(void **state)
{
    struct fix *f = *state;
    struct store *s2 = (struct store *)1;
    struct nn_err err;

    new_job(f->s, "kept", "m");
    store_close(f->s);
    f->s = NULL;
    f->b->record_schema(f->url, store_schema_version_known() + 1);
    nn_err_clear(&err);
    assert_int_equal(store_open(f->url, &s2, &err), NN_ERANGE);
    assert_null(s2);
    assert_non_null(strstr(err.msg, "newer than this binary"));
    assert_int_equal(store_open(f->url, &s2, &err), NN_ERANGE); /* and again: unchanged */
    assert_null(s2);
}

static void test_unknown_backend(void **state)
{
    struct store *s2 = (struct store *)1;
    struct nn_err err;

    (void)state;
    nn_err_clear(&err);
    assert_int_equal(store_open("nosuch://host/db", &s2, &err), NN_EINVAL);
    assert_null(s2);
    assert_non_null(strstr(err.msg, "nosuch"));
}

/* ========================================================================================== */
/* Models, versions and pins                                                                  */
/* ========================================================================================== */

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
    assert_int_equal(store_version_delete(f->s, "nosuch", 1, NULL), NN_ENOTFOUND);
    assert_int_equal(put_version(f->s, "m", NULL, &v), 0);
    assert_int_equal(v, 3); /* 2 is never reused */
    assert_int_equal(store_version_get(f->s, "m", 0, 1, &sv, NULL), 0);
    assert_string_equal(sv->model, "m");
    assert_int_equal(sv->version, 3);
    assert_int_equal(sv->serving, 3);
    assert_int_equal(sv->n_versions, 2);
    assert_int_equal(sv->versions[0], 1);
    assert_int_equal(sv->versions[1], 3);
    assert_int_equal(sv->blob_len, 4);
    assert_int_equal(sv->blob[3], 4);
    assert_string_equal(sv->card, "{\"task\":\"classification\"}");
    assert_string_equal(sv->metrics, "{\"val_accuracy\":0.9}");
    assert_string_equal(sv->job_id, "");
    assert_int_equal(strlen(sv->created_at), 20); /* 2026-11-27T16:00:00Z */
    assert_int_equal(sv->created_at[19], 'Z');
    assert_int_equal(strlen(sv->model_created_at), 20);
    store_version_free(sv);
    assert_int_equal(store_model_delete(f->s, "m", NULL), 0);
    sv = (struct store_version *)1;
    assert_int_equal(store_version_get(f->s, "m", 0, 0, &sv, NULL), NN_ENOTFOUND);
    assert_null(sv);
    assert_int_equal(put_version(f->s, "m", NULL, &v), 0);
    assert_int_equal(v, 1); /* deleted whole: starts again at 1 */
    assert_int_equal(store_model_delete(f->s, "nosuch", NULL), NN_ENOTFOUND);
}

static void test_blob_round_trip(void **state)
{
    struct fix *f = *state;
    size_t len = 300000;
    unsigned char *blob = malloc(len);
    struct store_version *sv = NULL;
    int v = 0;

    for (size_t i = 0; i < len; i++) {
        blob[i] = (unsigned char)(i * 7 + i / 251);
    }
    struct store_version_new nv = {"big", blob, len, "{}", "{}", NULL, NULL, 0, 0};
    assert_int_equal(store_version_put(f->s, &nv, &v, NULL), 0);
    assert_int_equal(store_version_get(f->s, "big", v, 1, &sv, NULL), 0);
    assert_int_equal(sv->blob_len, len);
    assert_memory_equal(sv->blob, blob, len);
    store_version_free(sv);
    assert_int_equal(store_version_get(f->s, "big", v, 0, &sv, NULL), 0);
    assert_null(sv->blob); /* not asked for */
    assert_int_equal(sv->blob_len, 0);
    store_version_free(sv);
    assert_int_equal(store_version_get(f->s, "big", 9, 0, &sv, NULL), NN_ENOTFOUND);
    assert_null(sv);
    free(blob);
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
    store_version_free(sv);
    put_version(f->s, "p", NULL, &v); /* a new version does not move the pin */
    assert_int_equal(store_version_get(f->s, "p", 0, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, 1);
    store_version_free(sv);
    assert_int_equal(store_version_get(f->s, "p", 3, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, 3); /* another version, asked for by number */
    assert_int_equal(sv->serving, 1);
    store_version_free(sv);
    assert_int_equal(store_serving_set(f->s, "p", 7, NULL), NN_ENOTFOUND);
    assert_int_equal(store_serving_set(f->s, "q", 1, NULL), NN_ENOTFOUND);
    assert_int_equal(store_serving_set(f->s, "p", 0, NULL), 0);
    assert_int_equal(store_version_get(f->s, "p", 0, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, 3);
    assert_int_equal(sv->pinned, 0);
    store_version_free(sv);
    /* deleting the pinned version removes the pin */
    assert_int_equal(store_serving_set(f->s, "p", 2, NULL), 0);
    assert_int_equal(store_version_delete(f->s, "p", 2, NULL), 0);
    assert_int_equal(store_version_get(f->s, "p", 0, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, 3);
    assert_int_equal(sv->pinned, 0);
    store_version_free(sv);

    struct store_version **list = NULL;
    size_t n = 0;
    put_version(f->s, "a-first", NULL, &v);
    assert_int_equal(store_model_list(f->s, &list, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0]->model, "a-first"); /* name ascending */
    assert_string_equal(list[1]->model, "p");
    assert_int_equal(list[1]->serving, 3);
    assert_int_equal(list[1]->n_versions, 2);
    assert_null(list[1]->blob);
    store_version_list_free(list, n);
}

/* ========================================================================================== */
/* Jobs                                                                                       */
/* ========================================================================================== */

static void test_version_and_job_one_transaction(void **state)
{
    struct fix *f = *state;
    struct store_job *j = NULL;
    struct store_version *sv = NULL;
    int v = 0;

    new_job(f->s, "run", "tm");
    /* a queued job cannot complete, and nothing of its model is stored */
    assert_int_equal(put_version(f->s, "tm", "run", &v), NN_ECANCELED);
    assert_int_equal(store_version_get(f->s, "tm", 0, 0, &sv, NULL), NN_ENOTFOUND);
    assert_int_equal(n_models(f->s), 0);
    assert_int_equal(store_job_claim(f->s, "run", &j, NULL), 0);
    assert_int_equal(j->status, STORE_JOB_RUNNING);
    assert_true(j->started_at[0] != '\0');
    store_job_free(j);
    j = (struct store_job *)1;
    assert_int_equal(store_job_claim(f->s, "run", &j, NULL), NN_ENOTFOUND); /* only once */
    assert_null(j);
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
    assert_int_equal(put_version(f->s, "tm", "run", &v), NN_ECANCELED); /* succeeded once */
    /* a job cancelled while training: its model never lands, its number is not spent */
    new_job(f->s, "late", "tm");
    claim(f->s, "late");
    assert_int_equal(store_job_cancel(f->s, "late", NULL), 0);
    assert_int_equal(store_job_progress(f->s, "late", &e, NULL), NN_ECANCELED);
    assert_int_equal(put_version(f->s, "tm", "late", &v), NN_ECANCELED);
    assert_int_equal(store_version_get(f->s, "tm", 2, 0, &sv, NULL), NN_ENOTFOUND);
    assert_int_equal(job_status(f->s, "late"), STORE_JOB_CANCELLED);
    assert_int_equal(put_version(f->s, "tm", NULL, &v), 0);
    assert_int_equal(v, 2);
}

static void test_job_fields(void **state)
{
    struct fix *f = *state;
    struct store_job *j = (struct store_job *)1;

    assert_int_equal(store_job_get(f->s, "nosuch", &j, NULL), NN_ENOTFOUND);
    assert_null(j);
    new_job(f->s, "f1", "fields");
    assert_int_equal(try_job(f->s, "f1", "other", 3), NN_EINVAL); /* duplicate id */
    assert_int_equal(store_job_get(f->s, "f1", &j, NULL), 0);
    assert_string_equal(j->id, "f1");
    assert_string_equal(j->model, "fields"); /* the first one, untouched */
    assert_int_equal(j->status, STORE_JOB_QUEUED);
    assert_int_equal(j->epochs, 10);
    assert_int_equal(j->epoch, 0);
    assert_true(j->progress == 0.0);
    assert_string_equal(j->params, "{\"epochs\":10}");
    assert_string_equal(j->form, "{\"model\":\"m\",\"epochs\":\"10\"}");
    assert_string_equal(j->spool, "up-f1.csv");
    assert_int_equal(j->rows, 100);
    assert_int_equal(j->columns, 5);
    assert_int_equal(j->bytes, 1234);
    assert_int_equal(strlen(j->sha256), 64);
    assert_null(j->metrics);
    assert_null(j->error_code);
    assert_null(j->error_message);
    assert_int_equal(j->model_version, 0);
    assert_int_equal(strlen(j->created_at), 20);
    assert_string_equal(j->started_at, "");
    assert_string_equal(j->finished_at, "");
    store_job_free(j);
}

static void test_cancel_rules(void **state)
{
    struct fix *f = *state;
    struct store_job *j = NULL;
    struct store_epoch e = {1, 0.5, 0.6, 0.8, 0.01, 0};

    new_job(f->s, "a", "m");
    /* moves that need a running job refuse a queued one */
    assert_int_equal(store_job_progress(f->s, "a", &e, NULL), NN_ECANCELED);
    assert_int_equal(store_job_fail(f->s, "a", "x", "y", NULL), NN_ECANCELED);
    assert_int_equal(store_job_requeue(f->s, "a", NULL), NN_ECANCELED);
    assert_int_equal(job_status(f->s, "a"), STORE_JOB_QUEUED);
    assert_int_equal(store_job_cancel(f->s, "a", NULL), 0);
    assert_int_equal(store_job_cancel(f->s, "a", NULL), NN_ERANGE);
    assert_int_equal(store_job_cancel(f->s, "zz", NULL), NN_ENOTFOUND);
    assert_int_equal(store_job_claim(f->s, "a", &j, NULL), NN_ENOTFOUND);
    assert_int_equal(store_job_get(f->s, "a", &j, NULL), 0);
    assert_true(j->finished_at[0] != '\0');
    store_job_free(j);
    new_job(f->s, "b", "m");
    claim(f->s, "b");
    assert_int_equal(store_job_fail(f->s, "b", "diverged", "loss is NaN", NULL), 0);
    assert_int_equal(store_job_fail(f->s, "b", "again", "no", NULL), NN_ECANCELED);
    assert_int_equal(store_job_cancel(f->s, "b", NULL), NN_ERANGE);
    assert_int_equal(store_job_get(f->s, "b", &j, NULL), 0);
    assert_int_equal(j->status, STORE_JOB_FAILED);
    assert_string_equal(j->error_code, "diverged");
    assert_string_equal(j->error_message, "loss is NaN");
    store_job_free(j);
    new_job(f->s, "c", "m");
    claim(f->s, "c");
    assert_int_equal(store_job_cancel(f->s, "c", NULL), 0); /* running: cancelled too */
    long counts[STORE_JOB_N_STATUS];
    assert_int_equal(store_jobs_count(f->s, counts, NULL), 0);
    assert_int_equal(counts[STORE_JOB_CANCELLED], 2);
    assert_int_equal(counts[STORE_JOB_FAILED], 1);
    assert_int_equal(counts[STORE_JOB_QUEUED], 0);
    assert_int_equal(counts[STORE_JOB_RUNNING], 0);
    assert_int_equal(counts[STORE_JOB_SUCCEEDED], 0);
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
    assert_int_equal(store_job_list(f->s, -1, "none", 5, &list, &n, NULL), 0);
    assert_int_equal(n, 0);
    store_job_list_free(list, n);
    claim(f->s, "l2");
    assert_int_equal(store_job_list(f->s, STORE_JOB_RUNNING, NULL, 50, &list, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->id, "l2");
    store_job_list_free(list, n);
    for (int e = 1; e <= 3; e++) {
        struct store_epoch ep = {e, 1.0 / e, NAN, 0.5, 0.1, e == 3};
        assert_int_equal(store_job_progress(f->s, "l2", &ep, NULL), 0);
    }
    struct store_epoch again = {3, 0.25, 0.5, INFINITY, NAN, 1}; /* epoch 3 once more */
    assert_int_equal(store_job_progress(f->s, "l2", &again, NULL), 0);
    assert_int_equal(store_job_history(f->s, "l2", &h, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(h[0].epoch, 1);
    assert_int_equal(h[2].epoch, 3);
    assert_true(isnan(h[0].val_loss));
    assert_true(fabs(h[1].train_loss - 0.5) < 1e-12);
    assert_true(fabs(h[2].train_loss - 0.25) < 1e-12); /* replaced */
    assert_true(isnan(h[2].val_metric));               /* infinite: not a figure */
    assert_true(h[2].seconds == 0.0);
    assert_true(fabs(h[1].seconds - 0.1) < 1e-12);
    assert_int_equal(h[2].regression, 1);
    assert_int_equal(h[0].regression, 0);
    nn_free(h);
    assert_int_equal(store_job_get(f->s, "l2", &j, NULL), 0);
    assert_int_equal(j->epoch, 3);
    assert_true(fabs(j->progress - 0.3) < 1e-12);
    store_job_free(j);
    struct store_epoch over = {12, 0.1, 0.1, 0.9, 0.1, 0}; /* past epochs: progress stops at 1 */
    assert_int_equal(store_job_progress(f->s, "l2", &over, NULL), 0);
    assert_int_equal(store_job_get(f->s, "l2", &j, NULL), 0);
    assert_true(j->progress == 1.0);
    store_job_free(j);
    h = (struct store_epoch *)1;
    assert_int_equal(store_job_history(f->s, "nosuch", &h, &n, NULL), 0);
    assert_int_equal(n, 0);
    nn_free(h);
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
    claim(f->s, "first");
    struct store_epoch e = {1, 0.5, 0.6, 0.8, 0.01, 0};
    assert_int_equal(store_job_progress(f->s, "first", &e, NULL), 0);
    assert_int_equal(store_job_cancel(f->s, "done", NULL), 0);
    reopen(f); /* the process died here; a new one opens the store */
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
    assert_int_equal(store_spool_in_use(f->s, "up-nosuch.csv", &in_use, NULL), 0);
    assert_int_equal(in_use, 0);
    /* a running job put back by a graceful stop: its history goes with it */
    claim(f->s, "second");
    assert_int_equal(store_job_progress(f->s, "second", &e, NULL), 0);
    assert_int_equal(store_job_requeue(f->s, "second", NULL), 0);
    assert_int_equal(store_job_requeue(f->s, "second", NULL), NN_ECANCELED);
    assert_int_equal(job_status(f->s, "second"), STORE_JOB_QUEUED);
    assert_int_equal(store_job_history(f->s, "second", &h, &n, NULL), 0);
    assert_int_equal(n, 0);
    nn_free(h);
    /* nothing left running: recovery lists the queued ones only */
    assert_int_equal(store_jobs_recover(f->s, &ids, &n, NULL), 0);
    assert_int_equal(n, 2);
    nn_free(ids);
}

/* One read of the store (op 0..N_OOM_OPS-1); checks the out-parameters when it fails. */
#define N_OOM_OPS 7
static int oom_op(struct fix *f, int op)
{
    struct store_job *j = (struct store_job *)1, **jobs = (struct store_job **)1;
    struct store_version *v = (struct store_version *)1, **list = (struct store_version **)1;
    struct store_epoch *h = (struct store_epoch *)1;
    char(*ids)[STORE_ID_MAX] = (char(*)[STORE_ID_MAX])1;
    struct store *s2 = (struct store *)1;
    size_t n = 1;
    int rc = -100;

    switch (op) {
    case 0:
        rc = store_job_get(f->s, "o1", &j, NULL);
        store_job_free(rc == 0 ? j : NULL);
        return rc != 0 && j != NULL ? -100 : rc;
    case 1:
        rc = store_job_list(f->s, -1, NULL, 10, &jobs, &n, NULL);
        store_job_list_free(rc == 0 ? jobs : NULL, n);
        return rc != 0 && (jobs != NULL || n != 0) ? -100 : rc;
    case 2:
        rc = store_job_history(f->s, "o1", &h, &n, NULL);
        nn_free(rc == 0 ? h : NULL);
        return rc != 0 && (h != NULL || n != 0) ? -100 : rc;
    case 3:
        rc = store_version_get(f->s, "om", 0, 1, &v, NULL);
        store_version_free(rc == 0 ? v : NULL);
        return rc != 0 && v != NULL ? -100 : rc;
    case 4:
        rc = store_model_list(f->s, &list, &n, NULL);
        store_version_list_free(rc == 0 ? list : NULL, n);
        return rc != 0 && (list != NULL || n != 0) ? -100 : rc;
    case 5:
        rc = store_open(f->url, &s2, NULL);
        store_close(rc == 0 ? s2 : NULL);
        return rc != 0 && s2 != NULL ? -100 : rc;
    default:
        rc = store_jobs_recover(f->s, &ids, &n, NULL);
        nn_free(rc == 0 ? ids : NULL);
        return rc != 0 && (ids != NULL || n != 0) ? -100 : rc;
    }
}

/* Each read fails cleanly (NN_ENOMEM, nothing returned, nothing leaked: run it under ASan)
 * when the Nth allocation fails, for N = 0, 1, ... until it succeeds. */
static void test_out_of_memory(void **state)
{
    struct fix *f = *state;
    struct store_epoch e = {1, 0.5, 0.6, 0.8, 0.01, 0};
    int v = 0;

    new_job(f->s, "o1", "om");
    new_job(f->s, "o2", "om");
    claim(f->s, "o1");
    assert_int_equal(store_job_progress(f->s, "o1", &e, NULL), 0);
    e.epoch = 2;
    assert_int_equal(store_job_progress(f->s, "o1", &e, NULL), 0);
    assert_int_equal(put_version(f->s, "om", NULL, &v), 0);
    assert_int_equal(put_version(f->s, "om", NULL, &v), 0);
    for (int op = 0; op < N_OOM_OPS; op++) {
        long n;
        for (n = 0; n < 1000; n++) {
            nn_alloc_fail_after(n);
            int rc = oom_op(f, op);
            long made = nn_alloc_count();
            nn_alloc_fail_after(-1);
            if (made <= n) { /* no allocation failed: done */
                assert_int_equal(rc, 0);
                break;
            }
            if (rc != NN_ENOMEM) { /* a failed allocation is reported, never absorbed */
                fail_msg("read %d, allocation %ld failing: returned %d", op, n, rc);
            }
        }
        assert_true(n > 0 && n < 1000);
    }
}

/* ========================================================================================== */
/* Concurrent callers (worker threads, or replicas on one store)                              */
/* ========================================================================================== */

#define RACE_THREADS 4
#define RACE_JOBS    40
#define RACE_IMPORTS 20 /* versions of one model each thread imports at the same time */

struct racer {
    struct store *s;
    pthread_barrier_t *start;
    int claimed[RACE_JOBS]; /* 1 where this thread won the claim */
    int versions[RACE_JOBS];
    int imported[RACE_IMPORTS];
    int errors;
};

/* Claims every job it can and completes each one it won with a version of model "race",
 * then imports versions of model "imports". */
static void *race(void *ud)
{
    struct racer *r = ud;
    char id[16];

    pthread_barrier_wait(r->start);
    for (int i = 0; i < RACE_JOBS; i++) {
        struct store_job *j = NULL;
        snprintf(id, sizeof(id), "r%d", i);
        int rc = store_job_claim(r->s, id, &j, NULL);
        if (rc == NN_ENOTFOUND) {
            continue;
        }
        r->errors += rc != 0 || j == NULL;
        store_job_free(j);
        r->claimed[i] = rc == 0;
        if (rc == 0) {
            r->errors += put_version(r->s, "race", id, &r->versions[i]) != 0;
        }
    }
    for (int i = 0; i < RACE_IMPORTS; i++) {
        r->errors += put_version(r->s, "imports", NULL, &r->imported[i]) != 0;
    }
    return NULL;
}

/* Feedback: stored once per hash (a duplicate updates the label), listed in order, counted,
 * deleted one or all; it survives a restart. */
static void test_feedback(void **state)
{
    struct fix *f = *state;
    struct store_feedback *v = NULL;
    size_t n = 0;
    long long count = 0, deleted = 0;
    int created = -1;

    assert_int_equal(store_feedback_put(f->s, "spam", "h1", "{\"text\":\"buy\"}", "spam", &created,
                                        &count, NULL),
                     0);
    assert_int_equal(created, 1);
    assert_int_equal(count, 1);
    assert_int_equal(
        store_feedback_put(f->s, "spam", "h2", "{\"text\":\"hi\"}", "ham", &created, &count, NULL),
        0);
    assert_int_equal(count, 2);
    assert_int_equal(
        store_feedback_put(f->s, "other", "h1", "{\"x\":1}", "a", &created, &count, NULL), 0);
    assert_int_equal(created, 1);
    assert_int_equal(count, 1); /* the model's rows only */
    /* the same hash again: one row, the new label */
    assert_int_equal(
        store_feedback_put(f->s, "spam", "h1", "{\"text\":\"buy\"}", "ham", &created, &count, NULL),
        0);
    assert_int_equal(created, 0);
    assert_int_equal(count, 2);
    reopen(f);
    assert_int_equal(store_feedback_count(f->s, "spam", &count, NULL), 0);
    assert_int_equal(count, 2);
    assert_int_equal(store_feedback_count(f->s, NULL, &count, NULL), 0);
    assert_int_equal(count, 3);
    assert_int_equal(store_feedback_list(f->s, "spam", 0, 0, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].hash, "h1");
    assert_string_equal(v[0].label, "ham");
    assert_string_equal(v[0].instance, "{\"text\":\"buy\"}");
    assert_string_equal(v[1].hash, "h2");
    assert_true(v[1].id > v[0].id);
    assert_true(v[0].created_at[0] != '\0' && v[0].updated_at[0] != '\0');
    long long first = v[0].id;
    store_feedback_list_free(v, n);
    /* after an id, and a limit */
    assert_int_equal(store_feedback_list(f->s, "spam", first, 0, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].hash, "h2");
    store_feedback_list_free(v, n);
    assert_int_equal(store_feedback_list(f->s, "spam", 0, 1, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    store_feedback_list_free(v, n);
    /* delete one, then all */
    assert_int_equal(store_feedback_delete(f->s, "spam", "h2", &deleted, NULL), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_feedback_delete(f->s, "spam", "h2", &deleted, NULL), 0);
    assert_int_equal(deleted, 0);
    assert_int_equal(store_feedback_delete(f->s, "spam", NULL, &deleted, NULL), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_feedback_list(f->s, "spam", 0, 0, &v, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_null(v);
    assert_int_equal(store_feedback_count(f->s, "other", &count, NULL), 0);
    assert_int_equal(count, 1);
}

/* Rows kept with a version: replaced by kind, gone with the version; a held version is not
 * served unless pinned. */
static void test_samples_and_held(void **state)
{
    struct fix *f = *state;
    static const unsigned char blob[] = {1, 2, 3};
    struct store_version *sv = NULL;
    unsigned char *data = NULL;
    size_t len = 0;
    int v1 = 0, v2 = 0;

    assert_int_equal(put_version(f->s, "m", NULL, &v1), 0);
    assert_int_equal(store_sample_put(f->s, "m", v1, "replay", "a,b\n1,2\n", 8, NULL), 0);
    assert_int_equal(store_sample_put(f->s, "m", v1, "replay", "a,b\n3,4\n", 8, NULL), 0);
    assert_int_equal(store_sample_put(f->s, "m", v1, "holdout", "a,b\n", 4, NULL), 0);
    assert_int_equal(store_sample_put(f->s, "m", 9, "replay", "x", 1, NULL), NN_ENOTFOUND);
    assert_int_equal(store_sample_put(f->s, "nope", 1, "replay", "x", 1, NULL), NN_ENOTFOUND);
    assert_int_equal(store_sample_get(f->s, "m", v1, "replay", &data, &len, NULL), 0);
    assert_int_equal(len, 8);
    assert_string_equal((char *)data, "a,b\n3,4\n");
    nn_free(data);
    assert_int_equal(store_sample_get(f->s, "m", 9, "replay", &data, &len, NULL), NN_ENOTFOUND);
    assert_null(data);
    /* a held version: stored, not served; pinned, served */
    struct store_version_new nv = {"m", blob, sizeof(blob), "{}", "{}", NULL, NULL, 0, 1};
    assert_int_equal(store_version_put(f->s, &nv, &v2, NULL), 0);
    assert_int_equal(v2, v1 + 1);
    assert_int_equal(store_version_get(f->s, "m", 0, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, v1);
    assert_int_equal(sv->n_versions, 2);
    store_version_free(sv);
    assert_int_equal(store_serving_set(f->s, "m", v2, NULL), 0);
    assert_int_equal(store_version_get(f->s, "m", 0, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, v2);
    store_version_free(sv);
    assert_int_equal(store_serving_set(f->s, "m", 0, NULL), 0);
    /* deleting the version deletes its rows */
    assert_int_equal(store_version_delete(f->s, "m", v1, NULL), 0);
    assert_int_equal(store_sample_get(f->s, "m", v1, "holdout", &data, &len, NULL), NN_ENOTFOUND);
    /* only a held version left: it is served (the newest) */
    assert_int_equal(store_version_get(f->s, "m", 0, 0, &sv, NULL), 0);
    assert_int_equal(sv->version, v2);
    store_version_free(sv);
}

static void test_racing_workers(void **state)
{
    struct fix *f = *state;
    struct racer r[RACE_THREADS];
    pthread_t t[RACE_THREADS];
    char id[16];
    int seen[RACE_JOBS + 1] = {0};
    pthread_barrier_t start;

    for (int i = 0; i < RACE_JOBS; i++) {
        snprintf(id, sizeof(id), "r%d", i);
        new_job(f->s, id, "race");
    }
    memset(r, 0, sizeof(r));
    pthread_barrier_init(&start, NULL, RACE_THREADS);
    for (int k = 0; k < RACE_THREADS; k++) {
        r[k].s = f->s;
        r[k].start = &start;
        if (k % 2 == 1) { /* half of them through a store of their own, as another replica */
            assert_int_equal(store_open(f->url, &r[k].s, NULL), 0);
        }
        assert_int_equal(pthread_create(&t[k], NULL, race, &r[k]), 0);
    }
    for (int k = 0; k < RACE_THREADS; k++) {
        pthread_join(t[k], NULL);
        assert_int_equal(r[k].errors, 0);
    }
    pthread_barrier_destroy(&start);
    for (int i = 0; i < RACE_JOBS; i++) {
        int winners = 0;
        for (int k = 0; k < RACE_THREADS; k++) {
            if (r[k].claimed[i]) {
                winners++;
                assert_true(r[k].versions[i] >= 1 && r[k].versions[i] <= RACE_JOBS);
                seen[r[k].versions[i]]++;
            }
        }
        assert_int_equal(winners, 1); /* each job trained by exactly one worker */
        snprintf(id, sizeof(id), "r%d", i);
        assert_int_equal(job_status(f->s, id), STORE_JOB_SUCCEEDED);
    }
    for (int v = 1; v <= RACE_JOBS; v++) {
        assert_int_equal(seen[v], 1); /* versions dense and unique */
    }
    int imported[RACE_THREADS * RACE_IMPORTS + 1] = {0};
    for (int k = 0; k < RACE_THREADS; k++) {
        for (int i = 0; i < RACE_IMPORTS; i++) {
            assert_true(r[k].imported[i] >= 1 && r[k].imported[i] <= RACE_THREADS * RACE_IMPORTS);
            imported[r[k].imported[i]]++;
        }
    }
    for (int v = 1; v <= RACE_THREADS * RACE_IMPORTS; v++) {
        assert_int_equal(imported[v], 1);
    }
    for (int k = 1; k < RACE_THREADS; k += 2) {
        store_close(r[k].s);
    }
}

/* ========================================================================================== */
/* The suite, once per backend                                                                */
/* ========================================================================================== */

static const struct {
    const char *name;
    CMUnitTestFunction fn;
} suite[] = {
    {"migrations_once", test_migrations_once},
    {"newer_schema_refused", test_newer_schema_refused},
    {"unknown_backend", test_unknown_backend},
    {"version_numbering", test_version_numbering},
    {"blob_round_trip", test_blob_round_trip},
    {"pin", test_pin},
    {"version_and_job_one_transaction", test_version_and_job_one_transaction},
    {"job_fields", test_job_fields},
    {"cancel_rules", test_cancel_rules},
    {"list_and_history", test_list_and_history},
    {"restart_requeues", test_restart_requeues},
    {"out_of_memory", test_out_of_memory},
    {"racing_workers", test_racing_workers},
    {"feedback", test_feedback},
    {"samples_and_held", test_samples_and_held},
};
#define N_SUITE (sizeof(suite) / sizeof(suite[0]))

int main(void)
{
    static struct CMUnitTest tests[N_BACKENDS * N_SUITE];
    static char names[N_BACKENDS * N_SUITE][80];

    size_t k = 0;

    srandom((unsigned)getpid());
    pg_start();
    for (size_t b = 0; b < N_BACKENDS; b++) {
        if (backends[b].fresh == pg_fresh && pg_server[0] == '\0') {
            continue;
        }
        for (size_t i = 0; i < N_SUITE; i++, k++) {
            snprintf(names[k], sizeof(names[k]), "%s: %s", backends[b].name, suite[i].name);
            tests[k] =
                (struct CMUnitTest){names[k], suite[i].fn, setup, teardown, (void *)&backends[b]};
        }
    }
    return _cmocka_run_group_tests("store", tests, k, NULL, NULL);
}
