/*
 * alloc: the one allocation wrapper of nn/ and server/ (SQLite's way).
 *
 * Every heap allocation goes through these so tests can make the Nth one fail
 * (nn_alloc_fail_after). Failure is reported to the caller as NN_ENOMEM, never by aborting:
 * sizes come from users. nn_free(NULL) is a no-op.
 * Thread-safety: the wrappers are thread-safe; the fault-injection counter is process-wide
 * and meant for single-threaded tests.
 */
#ifndef NEUROND_NN_ALLOC_H
#define NEUROND_NN_ALLOC_H

#include <stddef.h>

/** malloc; returns NULL on failure (or when fault injection says so). */
void *nn_malloc(size_t n);
/** calloc with an overflow check on count * size; NULL on failure. */
void *nn_calloc(size_t count, size_t size);
/** realloc; on failure returns NULL and leaves p untouched. */
void *nn_realloc(void *p, size_t n);
/** realloc of count * size elements with an overflow check; NULL on failure, p untouched. */
void *nn_reallocarray(void *p, size_t count, size_t size);
/**
 * Grows an array of *cap elements of size bytes: to first elements when *cap is 0, else to
 * twice *cap (vectors' doubling). @return the new array, with *cap updated; NULL when out of
 * memory, p and *cap untouched. Ownership: p is taken on success (caller keeps the result).
 */
void *nn_grow(void *p, size_t *cap, size_t first, size_t size);
/** free; NULL is a no-op. */
void nn_free(void *p);
/** Frees each of the n pointers of p with nn_free, in order (NULL ones are no-ops). */
void nn_free_n(void *const p[], size_t n);
/* nn_free on each argument, in order: NN_FREE_ALL(x->a, x->b, x) frees a struct's buffers,
 * then the struct (object pointers only). */
#define NN_FREE_ALL(...)                                                                           \
    nn_free_n((void *const[]){__VA_ARGS__}, sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *))
/** Frees the n strings of v, then v (an array from nn_malloc/nn_calloc); v NULL is a no-op. */
void nn_free_strv(char **v, size_t n);
/** strdup through nn_malloc; NULL on failure. */
char *nn_strdup(const char *s);
/** Copies n bytes of s and a terminating NUL through nn_malloc; NULL on failure. */
char *nn_strndup(const char *s, size_t n);

/**
 * Fault injection for tests: the allocation after the next n succeed fails, and every
 * one after it too (curl's -t, SQLite's OOM tests). n < 0 turns injection off.
 */
void nn_alloc_fail_after(long n);
/** Number of allocations made since the last nn_alloc_fail_after call. */
long nn_alloc_count(void);

#endif
