/*
 * alloc: malloc wrappers with an optional fail-after-N counter for torture tests.
 * The counter is an atomic so the daemon's threads may allocate while it is off (-1).
 */
#include "nn/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_after = -1; /* -1: never fail */
static atomic_long alloc_count = 0;

static int should_fail(void)
{
    long left = atomic_load(&fail_after);
    long n;

    if (left < 0) {
        return 0;
    }
    n = atomic_fetch_add(&alloc_count, 1);
    return n >= left;
}

void *nn_malloc(size_t n)
{
    if (should_fail()) {
        return NULL;
    }
    return malloc(n == 0 ? 1 : n);
}

void *nn_calloc(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        return NULL;
    }
    if (should_fail()) {
        return NULL;
    }
    return calloc(count == 0 ? 1 : count, size == 0 ? 1 : size);
}

void *nn_realloc(void *p, size_t n)
{
    if (should_fail()) {
        return NULL;
    }
    return realloc(p, n == 0 ? 1 : n);
}

void *nn_reallocarray(void *p, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) {
        return NULL;
    }
    return nn_realloc(p, count * size);
}

void *nn_grow(void *p, size_t *cap, size_t first, size_t size)
{
    size_t n = *cap ? *cap * 2 : first;
    void *q;

    if (*cap > SIZE_MAX / 2) {
        return NULL;
    }
    q = nn_reallocarray(p, n, size);
    if (q != NULL) {
        *cap = n;
    }
    return q;
}

void nn_free(void *p)
{
    free(p);
}

void nn_free_n(void *const p[], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        nn_free(p[i]);
    }
}

void nn_free_strv(char **v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        nn_free(v[i]);
    }
    nn_free(v);
}

char *nn_strndup(const char *s, size_t n)
{
    char *d = nn_malloc(n + 1);

    if (d == NULL) {
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *nn_strdup(const char *s)
{
    return nn_strndup(s, strlen(s));
}

void nn_alloc_fail_after(long n)
{
    atomic_store(&alloc_count, 0);
    atomic_store(&fail_after, n);
}

long nn_alloc_count(void)
{
    return atomic_load(&alloc_count);
}
