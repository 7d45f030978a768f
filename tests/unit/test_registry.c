/*
 * test_registry: the serving-model cache — one load per (name, version) until invalidated,
 * references keep a swapped-out model alive until released, a load that raced with an
 * invalidation is not cached, errors pass through, and many threads getting while another
 * invalidates free every model exactly once.
 */
#include "server/registry.h"

#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* A stand-in for struct model: the registry never looks inside. */
struct fake {
    int version;
    int freed;
};

struct loader {
    atomic_int loads;
    atomic_int frees;
    atomic_int serving; /* the version "the store" serves */
};

static struct loader *the_loader;

static int load(void *ud, const char *name, int version, int *got, struct model **out,
                struct nn_err *err)
{
    struct loader *l = ud;

    if (strcmp(name, "missing") == 0) {
        return nn_err_set(err, NN_ENOTFOUND, "no model '%s'", name);
    }
    struct fake *f = calloc(1, sizeof(*f));
    f->version = version > 0 ? version : atomic_load(&l->serving);
    *got = f->version;
    atomic_fetch_add(&l->loads, 1);
    *out = (struct model *)f;
    return 0;
}

static void free_model(struct model *m)
{
    struct fake *f = (struct fake *)m;
    assert_int_equal(f->freed, 0);
    f->freed = 1;
    atomic_fetch_add(&the_loader->frees, 1);
    free(f);
}

static void test_cache_and_refs(void **state)
{
    struct loader l = {0, 0, 1};
    struct srv_registry *r = NULL;
    struct srv_model *a = NULL, *b = NULL, *c = NULL, *v1 = NULL;

    (void)state;
    the_loader = &l;
    assert_int_equal(srv_registry_new(load, free_model, &l, &r, NULL), 0);
    assert_int_equal(srv_registry_get(r, "m", 0, &a, NULL), 0);
    assert_int_equal(srv_registry_get(r, "m", 0, &b, NULL), 0);
    assert_ptr_equal(a, b);
    assert_int_equal(atomic_load(&l.loads), 1);
    assert_int_equal(a->version, 1);
    assert_string_equal(a->name, "m");
    assert_int_equal(atomic_load(&a->refs), 3); /* two users + the cache */
    assert_int_equal(srv_registry_count(r), 1);
    /* a new version lands: the held model stays valid, the next get sees version 2 */
    atomic_store(&l.serving, 2);
    srv_registry_invalidate(r, "m");
    assert_int_equal(srv_registry_count(r), 0);
    assert_int_equal(atomic_load(&l.frees), 0);
    assert_int_equal(((struct fake *)a->model)->version, 1);
    assert_int_equal(srv_registry_get(r, "m", 0, &c, NULL), 0);
    assert_ptr_not_equal(c, a);
    assert_int_equal(c->version, 2);
    srv_registry_release(a);
    assert_int_equal(atomic_load(&l.frees), 0);
    srv_registry_release(b); /* the last user of version 1 */
    assert_int_equal(atomic_load(&l.frees), 1);
    /* explicit versions are separate entries */
    assert_int_equal(srv_registry_get(r, "m", 1, &v1, NULL), 0);
    assert_int_equal(v1->version, 1);
    assert_int_equal(srv_registry_count(r), 2);
    srv_registry_release(v1);
    srv_registry_release(c);
    /* another name is not touched by an invalidation */
    struct srv_model *o = NULL;
    assert_int_equal(srv_registry_get(r, "other", 0, &o, NULL), 0);
    srv_registry_invalidate(r, "m");
    assert_int_equal(srv_registry_count(r), 1);
    srv_registry_release(o);
    srv_registry_free(r);
    assert_int_equal(atomic_load(&l.frees), atomic_load(&l.loads));
}

static void test_errors_pass_through(void **state)
{
    struct loader l = {0, 0, 1};
    struct srv_registry *r = NULL;
    struct srv_model *m = (struct srv_model *)1;
    struct nn_err err;

    (void)state;
    the_loader = &l;
    assert_int_equal(srv_registry_new(load, free_model, &l, &r, NULL), 0);
    assert_int_equal(srv_registry_get(r, "missing", 0, &m, &err), NN_ENOTFOUND);
    assert_null(m);
    assert_non_null(strstr(err.msg, "missing"));
    assert_int_equal(srv_registry_count(r), 0);
    srv_registry_release(NULL);
    srv_registry_free(r);
}

struct hammer {
    struct srv_registry *r;
    struct loader *l;
    atomic_int stop;
    atomic_int bad;
};

static void *getter(void *arg)
{
    struct hammer *h = arg;

    while (!atomic_load(&h->stop)) {
        struct srv_model *m = NULL;
        if (srv_registry_get(h->r, "hot", 0, &m, NULL) != 0) {
            atomic_fetch_add(&h->bad, 1);
            continue;
        }
        struct fake *f = (struct fake *)m->model;
        if (f->freed || f->version != m->version) {
            atomic_fetch_add(&h->bad, 1);
        }
        srv_registry_release(m);
        sched_yield(); /* let the swapping thread run on a small machine */
    }
    return NULL;
}

static void test_concurrent_get_and_swap(void **state)
{
    struct loader l = {0, 0, 1};
    struct hammer h;
    pthread_t t[4];

    (void)state;
    the_loader = &l;
    memset(&h, 0, sizeof(h));
    h.l = &l;
    assert_int_equal(srv_registry_new(load, free_model, &l, &h.r, NULL), 0);
    for (int i = 0; i < 4; i++) {
        pthread_create(&t[i], NULL, getter, &h);
    }
    while (atomic_load(&l.loads) < 1) {
        sched_yield();
    }
    for (int v = 2; v < 100; v++) {
        struct timespec ts = {0, 20000};
        atomic_store(&l.serving, v);
        srv_registry_invalidate(h.r, "hot");
        nanosleep(&ts, NULL);
    }
    struct srv_model *last = NULL; /* after the last swap: the newest version */
    assert_int_equal(srv_registry_get(h.r, "hot", 0, &last, NULL), 0);
    assert_int_equal(last->version, 99);
    srv_registry_release(last);
    atomic_store(&h.stop, 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    assert_int_equal(atomic_load(&h.bad), 0);
    srv_registry_free(h.r);
    assert_int_equal(atomic_load(&l.frees), atomic_load(&l.loads));
    assert_true(atomic_load(&l.loads) >= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_and_refs),
        cmocka_unit_test(test_errors_pass_through),
        cmocka_unit_test(test_concurrent_get_and_swap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
