/*
 * registry: a small list of cached, refcounted models behind a rwlock that is held only to
 * find an entry and bump its refcount (see registry.h for the design).
 */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np: writers must not starve */
#include "registry.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "nn/alloc.h"

struct entry {
    char name[72];
    int version; /* requested: 0 = serving */
    struct srv_model *m;
    struct entry *next;
};

struct srv_registry {
    pthread_rwlock_t lock;
    struct entry *head; /* guarded by lock */
    unsigned long gen;  /* guarded by lock; bumped by every invalidation */
    srv_registry_load_fn load;
    srv_registry_free_fn free_fn;
    void *ud;
};

int srv_registry_new(srv_registry_load_fn load, srv_registry_free_fn free_fn, void *ud,
                     struct srv_registry **out, struct nn_err *err)
{
    struct srv_registry *r = nn_calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory for the registry");
    }
    /* glibc's default rwlock prefers readers: under a steady stream of predictions an
       invalidation (a new version, a pin) could wait for ever. Prefer the writer; its
       critical section is a few pointer moves. */
    pthread_rwlockattr_t attr;
    int ok = pthread_rwlockattr_init(&attr) == 0;
    if (ok) {
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        ok = pthread_rwlock_init(&r->lock, &attr) == 0;
        pthread_rwlockattr_destroy(&attr);
    }
    if (!ok) {
        nn_free(r);
        return nn_err_set(err, NN_ENOMEM, "cannot make the registry lock");
    }
    r->load = load;
    r->free_fn = free_fn;
    r->ud = ud;
    *out = r;
    return 0;
}

void srv_registry_release(struct srv_model *m)
{
    if (m == NULL) {
        return;
    }
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
        if (m->free_fn != NULL) {
            m->free_fn(m->model);
        }
        nn_free(m);
    }
}

static void free_entries(struct entry *e)
{
    while (e != NULL) {
        struct entry *next = e->next;
        srv_registry_release(e->m);
        nn_free(e);
        e = next;
    }
}

void srv_registry_free(struct srv_registry *r)
{
    if (r == NULL) {
        return;
    }
    free_entries(r->head);
    pthread_rwlock_destroy(&r->lock);
    nn_free(r);
}

static struct entry *find(struct srv_registry *r, const char *name, int version)
{
    for (struct entry *e = r->head; e != NULL; e = e->next) {
        if (e->version == version && strcmp(e->name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

int srv_registry_get(struct srv_registry *r, const char *name, int version, struct srv_model **out,
                     struct nn_err *err)
{
    struct model *model = NULL;
    struct srv_model *m = NULL;
    int got = 0;

    *out = NULL;
    if (strlen(name) >= sizeof(m->name)) {
        return nn_err_set(err, NN_ENOTFOUND, "no model '%.64s...'", name);
    }
    pthread_rwlock_rdlock(&r->lock);
    struct entry *e = find(r, name, version);
    if (e != NULL) {
        m = e->m;
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    }
    unsigned long gen = r->gen;
    pthread_rwlock_unlock(&r->lock);
    if (m != NULL) {
        *out = m;
        return 0;
    }

    int rc = r->load(r->ud, name, version, &got, &model, err);
    if (rc != 0) {
        return rc;
    }
    m = nn_calloc(1, sizeof(*m));
    struct entry *ne = nn_calloc(1, sizeof(*ne));
    if (m == NULL || ne == NULL) {
        nn_free(m);
        nn_free(ne);
        r->free_fn(model);
        return nn_err_set(err, NN_ENOMEM, "out of memory for a model");
    }
    atomic_init(&m->refs, 1);
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->version = got;
    m->model = model;
    m->free_fn = r->free_fn;

    pthread_rwlock_wrlock(&r->lock);
    if (r->gen == gen && find(r, name, version) == NULL) {
        snprintf(ne->name, sizeof(ne->name), "%s", name);
        ne->version = version;
        ne->m = m;
        atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
        ne->next = r->head;
        r->head = ne;
        ne = NULL;
    }
    pthread_rwlock_unlock(&r->lock);
    nn_free(ne);
    *out = m;
    return 0;
}

void srv_registry_invalidate(struct srv_registry *r, const char *name)
{
    struct entry *gone = NULL;

    pthread_rwlock_wrlock(&r->lock);
    r->gen++;
    struct entry **pp = &r->head;
    while (*pp != NULL) {
        struct entry *e = *pp;
        if (strcmp(e->name, name) == 0) {
            *pp = e->next;
            e->next = gone;
            gone = e;
        } else {
            pp = &e->next;
        }
    }
    pthread_rwlock_unlock(&r->lock);
    free_entries(gone); /* models still in use live on until their last release */
}

long srv_registry_count(struct srv_registry *r)
{
    long n = 0;

    pthread_rwlock_rdlock(&r->lock);
    for (struct entry *e = r->head; e != NULL; e = e->next) {
        n++;
    }
    pthread_rwlock_unlock(&r->lock);
    return n;
}
