/*
 * test_jobs: the worker pool — a bounded queue (reserve fails when full: the API's 429),
 * FIFO order, cancel of a queued job (never run) and of a running one (its flag set to
 * "user"), stop (running jobs see "stop"), and recovered jobs queued past the bound.
 */
#include "server/jobs.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

struct rec {
    pthread_mutex_t lock;
    char order[16][16];
    int n;
    int cancel_seen[16];
    atomic_int release; /* 1: jobs named "block*" may return */
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Records the id; "block*" jobs wait until released or cancelled. */
static void run(void *ud, const char *id, atomic_int *cancel)
{
    struct rec *r = ud;
    int seen = 0;

    pthread_mutex_lock(&r->lock);
    int slot = r->n++;
    snprintf(r->order[slot], sizeof(r->order[slot]), "%s", id);
    pthread_mutex_unlock(&r->lock);
    if (strncmp(id, "block", 5) == 0) {
        while (!atomic_load(&r->release)) {
            seen = atomic_load(cancel);
            if (seen != 0) {
                break;
            }
            sleep_ms(1);
        }
    }
    pthread_mutex_lock(&r->lock);
    r->cancel_seen[slot] = seen;
    pthread_mutex_unlock(&r->lock);
}

static int ran(struct rec *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->n;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void wait_until(struct rec *r, int n)
{
    for (int i = 0; i < 5000 && ran(r) < n; i++) {
        sleep_ms(1);
    }
    assert_true(ran(r) >= n);
}

static void submit(struct srv_jobs *j, const char *id)
{
    struct srv_jobs_slot *slot = NULL;
    assert_int_equal(srv_jobs_reserve(j, &slot, NULL), 0);
    srv_jobs_commit(j, slot, id);
}

static void test_bounded_queue(void **state)
{
    static struct rec r = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, {0}, 0};
    struct srv_jobs *j = NULL;
    struct srv_jobs_slot *slot = NULL;
    struct nn_err err;

    (void)state;
    assert_int_equal(srv_jobs_new(1, 2, run, &r, &j, NULL), 0);
    submit(j, "block-1");
    wait_until(&r, 1); /* the worker holds it */
    assert_int_equal(srv_jobs_busy(j), 1);
    submit(j, "a");
    assert_int_equal(srv_jobs_reserve(j, &slot, NULL), 0); /* reserved counts too */
    assert_int_equal(srv_jobs_depth(j), 2);
    struct srv_jobs_slot *none = (struct srv_jobs_slot *)1;
    assert_int_equal(srv_jobs_reserve(j, &none, &err), NN_ERANGE);
    assert_null(none);
    assert_non_null(strstr(err.msg, "full"));
    srv_jobs_unreserve(j, slot);
    assert_int_equal(srv_jobs_depth(j), 1);
    submit(j, "b");
    assert_int_equal(srv_jobs_reserve(j, &none, NULL), NN_ERANGE);
    /* recovered jobs are never refused */
    assert_int_equal(srv_jobs_push_recovered(j, "c", NULL), 0);
    assert_int_equal(srv_jobs_depth(j), 3);
    atomic_store(&r.release, 1);
    wait_until(&r, 4);
    assert_string_equal(r.order[0], "block-1");
    assert_string_equal(r.order[1], "a"); /* FIFO */
    assert_string_equal(r.order[2], "b");
    assert_string_equal(r.order[3], "c");
    srv_jobs_free(j);
}

static void test_cancel_queued_and_running(void **state)
{
    static struct rec r = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, {0}, 0};
    struct srv_jobs *j = NULL;

    (void)state;
    assert_int_equal(srv_jobs_new(1, 8, run, &r, &j, NULL), 0);
    submit(j, "block-run");
    wait_until(&r, 1);
    submit(j, "queued-x");
    submit(j, "after");
    assert_int_equal(srv_jobs_cancel(j, "queued-x"), 1);
    assert_int_equal(srv_jobs_depth(j), 1);
    assert_int_equal(srv_jobs_cancel(j, "unknown"), 0);
    assert_int_equal(srv_jobs_cancel(j, "block-run"), 1);
    wait_until(&r, 2);
    sleep_ms(20);
    assert_int_equal(ran(&r), 2); /* queued-x never ran */
    assert_string_equal(r.order[1], "after");
    pthread_mutex_lock(&r.lock);
    assert_int_equal(r.cancel_seen[0], SRV_JOBS_CANCEL_USER);
    pthread_mutex_unlock(&r.lock);
    srv_jobs_free(j);
}

static void test_stop_cancels_running(void **state)
{
    static struct rec r = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, {0}, 0};
    struct srv_jobs *j = NULL;
    struct srv_jobs_slot *slot = NULL;

    (void)state;
    assert_int_equal(srv_jobs_new(2, 4, run, &r, &j, NULL), 0);
    submit(j, "block-a");
    submit(j, "block-b");
    wait_until(&r, 2);
    submit(j, "never");
    srv_jobs_stop(j);
    assert_int_equal(ran(&r), 2);
    assert_int_equal(r.cancel_seen[0], SRV_JOBS_CANCEL_STOP);
    assert_int_equal(r.cancel_seen[1], SRV_JOBS_CANCEL_STOP);
    assert_int_equal(srv_jobs_reserve(j, &slot, NULL), NN_ERANGE); /* stopping */
    assert_int_equal(srv_jobs_busy(j), 0);
    srv_jobs_free(j);
}

static void test_bad_sizes(void **state)
{
    static struct rec r = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, {0}, 0};
    struct srv_jobs *j = (struct srv_jobs *)1;

    (void)state;
    assert_int_equal(srv_jobs_new(0, 4, run, &r, &j, NULL), NN_EINVAL);
    assert_null(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounded_queue),
        cmocka_unit_test(test_cancel_queued_and_running),
        cmocka_unit_test(test_stop_cancels_running),
        cmocka_unit_test(test_bad_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
