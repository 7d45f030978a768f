/*
 * test_store_faults: I/O errors and a busy database injected under the store (SQLite's
 * "the Nth I/O fails" tests), through a VFS shim registered as the default VFS, so that
 * store_sqlite.c runs unchanged. For N = 1, 2, ... the Nth write, sync or truncate fails
 * (once, then the disk is healthy again) during a job's whole life: create, claim, progress,
 * a model version that completes the job, a pin and a delete. Each call must succeed or
 * return an error — never crash — and afterwards the database must pass integrity_check,
 * a version must exist only with its job succeeded, and the store must work again.
 * A second test holds the write lock from another connection: the store waits (busy
 * timeout) and succeeds once the lock is gone.
 */
#include "server/store.h"

#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nn/alloc.h"

/* ----- the VFS shim (test-only state: one test thread drives it) ----- */

struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static sqlite3_io_methods shim_io;
/* atomics: the busy test's second thread writes through the shim too */
static atomic_long fault_countdown = -1; /* > 0: the countdown-th write/sync/truncate fails */
static atomic_long fault_ops;            /* write/sync/truncate calls seen */
static atomic_int fault_fired;

static int faulty(void)
{
    atomic_fetch_add(&fault_ops, 1);
    long c = atomic_load(&fault_countdown);
    while (c > 0) {
        if (atomic_compare_exchange_weak(&fault_countdown, &c, c - 1)) {
            if (c == 1) {
                atomic_store(&fault_fired, 1);
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

#define REAL(f) (((struct shim_file *)(f))->real)

static int x_close(sqlite3_file *f)
{
    int rc = REAL(f)->pMethods != NULL ? REAL(f)->pMethods->xClose(REAL(f)) : SQLITE_OK;
    return rc;
}
static int x_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
    return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int x_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    if (faulty()) {
        return SQLITE_IOERR_WRITE;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int x_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    if (faulty()) {
        return SQLITE_IOERR_TRUNCATE;
    }
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int x_sync(sqlite3_file *f, int flags)
{
    if (faulty()) {
        return SQLITE_IOERR_FSYNC;
    }
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int x_size(sqlite3_file *f, sqlite3_int64 *s)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), s);
}
static int x_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int x_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int x_check(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int x_fcntl(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int x_sector(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int x_dev(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int x_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int x_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void x_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int x_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int x_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **pp)
{
    *pp = NULL; /* no memory-mapped reads: every read goes through xRead */
    (void)f;
    (void)o;
    (void)n;
    return SQLITE_OK;
}
static int x_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{
    (void)f;
    (void)o;
    (void)p;
    return SQLITE_OK;
}

static int x_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    struct shim_file *sf = (struct shim_file *)f;
    (void)vfs;
    sf->real = (sqlite3_file *)(sf + 1);
    memset(sf->real, 0, (size_t)real_vfs->szOsFile);
    int rc = real_vfs->xOpen(real_vfs, name, sf->real, flags, out_flags);
    sf->base.pMethods = rc == SQLITE_OK ? &shim_io : NULL;
    return rc;
}
static int x_delete(sqlite3_vfs *v, const char *n, int sync)
{
    (void)v;
    return real_vfs->xDelete(real_vfs, n, sync);
}
static int x_access(sqlite3_vfs *v, const char *n, int flags, int *out)
{
    (void)v;
    return real_vfs->xAccess(real_vfs, n, flags, out);
}
static int x_full(sqlite3_vfs *v, const char *n, int cap, char *out)
{
    (void)v;
    return real_vfs->xFullPathname(real_vfs, n, cap, out);
}
static int x_random(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}
static int x_sleep(sqlite3_vfs *v, int us)
{
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}
static int x_time(sqlite3_vfs *v, double *t)
{
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, t);
}
static int x_last_error(sqlite3_vfs *v, int n, char *out)
{
    (void)v;
    return real_vfs->xGetLastError(real_vfs, n, out);
}
static int x_time64(sqlite3_vfs *v, sqlite3_int64 *t)
{
    (void)v;
    return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

static void shim_install(void)
{
    if (real_vfs != NULL) {
        return;
    }
    real_vfs = sqlite3_vfs_find(NULL);
    shim_io = (sqlite3_io_methods){
        3,          x_close,       x_read,      x_write, x_truncate, x_sync, x_size,
        x_lock,     x_unlock,      x_check,     x_fcntl, x_sector,   x_dev,  x_shm_map,
        x_shm_lock, x_shm_barrier, x_shm_unmap, x_fetch, x_unfetch};
    shim_vfs = (sqlite3_vfs){2,
                             (int)sizeof(struct shim_file) + real_vfs->szOsFile,
                             real_vfs->mxPathname,
                             NULL,
                             "faulty",
                             NULL,
                             x_open,
                             x_delete,
                             x_access,
                             x_full,
                             NULL,
                             NULL,
                             NULL,
                             NULL,
                             x_random,
                             x_sleep,
                             x_time,
                             x_last_error,
                             x_time64,
                             NULL,
                             NULL,
                             NULL};
    assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
}

/* ----- helpers ----- */

static void remove_db(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

static const char *integrity(const char *path, char *out, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    snprintf(out, cap, "?");
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

/* Rows of the query's first column as an integer (-1 on error). */
static long query_long(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long v = -1;

    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        v = (long)sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void job_new(struct store_job *j, const char *id)
{
    memset(j, 0, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", id);
    snprintf(j->model, sizeof(j->model), "m");
    j->epochs = 3;
    j->params = (char *)"{\"epochs\":3}";
    j->form = (char *)"{\"model\":\"m\",\"epochs\":\"3\"}";
    snprintf(j->spool, sizeof(j->spool), "up-%s.csv", id);
    j->rows = 10;
    j->columns = 3;
    j->bytes = 100;
    snprintf(j->sha256, sizeof(j->sha256), "%064d", 0);
}

/* A job's whole life; returns how many calls failed (each must fail cleanly). */
static int life(struct store *s, const char *id)
{
    static const unsigned char blob[] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct store_job j, *claimed = NULL;
    struct store_epoch e = {1, 0.5, 0.4, 0.9, 0.01, 0};
    struct nn_err err;
    int failed = 0, version = 0, rc;

    job_new(&j, id);
    rc = store_job_create(s, &j, &err);
    failed += rc != 0;
    if (rc != 0) {
        assert_true(rc < 0);
        return failed;
    }
    rc = store_job_claim(s, id, &claimed, &err);
    failed += rc != 0;
    if (rc == 0) {
        store_job_free(claimed);
    }
    rc = store_job_progress(s, id, &e, &err);
    failed += rc != 0;
    struct store_version_new v = {
        "m", blob, sizeof(blob), "{\"task\":\"classification\"}", "{}", id, "{\"epochs\":3}", 1, 0};
    rc = store_version_put(s, &v, &version, &err);
    failed += rc != 0;
    if (rc == 0) {
        rc = store_serving_set(s, "m", version, &err);
        failed += rc != 0;
        rc = store_serving_set(s, "m", 0, &err);
        failed += rc != 0;
    }
    return failed;
}

/* ----- tests ----- */

static void test_nth_io_error(void **state)
{
    char path[128], ok[64], id[40];
    long n, failures = 0;

    (void)state;
    shim_install();
    snprintf(path, sizeof(path), "/tmp/neurond-test-faults-%d.db", (int)getpid());
    for (n = 1; n < 5000; n++) {
        struct store *s = NULL;
        remove_db(path);
        atomic_store(&fault_countdown, -1);
        assert_int_equal(store_open(path, &s, NULL), 0);
        /* a stored model that must survive every fault */
        assert_int_equal(life(s, "keep"), 0);
        atomic_store(&fault_ops, 0);
        atomic_store(&fault_fired, 0);
        atomic_store(&fault_countdown, n);
        snprintf(id, sizeof(id), "j%ld", n);
        int failed = life(s, id);
        int fired = atomic_load(&fault_fired);
        atomic_store(&fault_countdown, -1);
        failures += failed;
        /* the disk is healthy again: the store works on the same connections */
        snprintf(id, sizeof(id), "after%ld", n);
        assert_int_equal(life(s, id), 0);
        store_close(s);
        assert_string_equal(integrity(path, ok, sizeof(ok)), "ok");
        /* versions only with their job succeeded; the first model whole */
        assert_int_equal(query_long(path, "SELECT count(*) FROM model_versions v LEFT JOIN jobs j "
                                          "ON j.id = v.job_id WHERE j.status IS NOT 'succeeded'"),
                         0);
        assert_int_equal(query_long(path, "SELECT count(*) FROM jobs WHERE id = 'keep' AND "
                                          "status = 'succeeded' AND model_version = 1"),
                         1);
        assert_int_equal(query_long(path, "SELECT length(blob) FROM model_versions WHERE "
                                          "job_id = 'keep'"),
                         8);
        if (!fired) {
            break; /* the whole life ran without reaching the Nth operation */
        }
    }
    remove_db(path);
    print_message("store: %ld write/sync points failed in turn; %ld calls reported an error\n",
                  n - 1, failures);
    assert_true(n > 3 && n < 5000);
    assert_true(failures > 0);
}

struct holder {
    char path[128];
    int ms;
};

static void *hold_lock(void *ud)
{
    struct holder *h = ud;
    sqlite3 *db = NULL;
    struct timespec t = {h->ms / 1000, (h->ms % 1000) * 1000000L};

    sqlite3_open(h->path, &db);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    nanosleep(&t, NULL);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return NULL;
}

static void test_busy_is_retried(void **state)
{
    struct holder h;
    struct store *s = NULL;
    pthread_t t;
    char ok[64];

    (void)state;
    snprintf(h.path, sizeof(h.path), "/tmp/neurond-test-busy-%d.db", (int)getpid());
    remove_db(h.path);
    h.ms = 1500;
    assert_int_equal(store_open(h.path, &s, NULL), 0);
    assert_int_equal(pthread_create(&t, NULL, hold_lock, &h), 0);
    struct timespec wait = {0, 300 * 1000000L};
    nanosleep(&wait, NULL);
    assert_int_equal(life(s, "busy"), 0); /* waits for the lock, then succeeds */
    pthread_join(t, NULL);
    store_close(s);
    assert_string_equal(integrity(h.path, ok, sizeof(ok)), "ok");
    remove_db(h.path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nth_io_error),
        cmocka_unit_test(test_busy_is_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
