/*
 * store_sql: the typed bind values every SQL backend of the store takes (after GNUnet/
 * Taler's query-parameter arrays): SQL_ARGS(SQL_TEXT(id), SQL_INT(n)) is an array of values
 * bound to the statement's parameters 1, 2, ... in order (?1 in SQLite, $1 in PostgreSQL).
 * Only the backends (store_<name>*.c) include it. Plain data: no state, thread-safe.
 */
#ifndef NEUROND_SERVER_STORE_SQL_H
#define NEUROND_SERVER_STORE_SQL_H

#include <math.h>
#include <stddef.h>

enum sql_type { SQL_T_NULL, SQL_T_INT, SQL_T_REAL, SQL_T_TEXT, SQL_T_BLOB };

/* One value bound to a statement parameter. */
struct sql_val {
    enum sql_type type;
    union {
        long long i;
        double d;
        const char *t; /* NULL binds SQL NULL */
        struct {
            const void *p;
            size_t n;
        } b;
    } u;
};

/* The values for parameters 1 .. n, in order. Borrowed for the length of one call. */
struct sql_args {
    const struct sql_val *v;
    int n;
};

#define SQL_INT(x)     ((struct sql_val){SQL_T_INT, {.i = (x)}})
#define SQL_REAL(x)    ((struct sql_val){SQL_T_REAL, {.d = (x)}})
#define SQL_TEXT(x)    ((struct sql_val){SQL_T_TEXT, {.t = (x)}})
#define SQL_BLOB(p, n) ((struct sql_val){SQL_T_BLOB, {.b = {(p), (n)}}})
/* A double, or SQL NULL when it is NaN or infinite. */
#define SQL_REAL_OR_NULL(x) (isfinite(x) ? SQL_REAL(x) : (struct sql_val){SQL_T_NULL, {.i = 0}})
#define SQL_ARGS(...)                                                                              \
    ((struct sql_args){                                                                            \
        (const struct sql_val[]){__VA_ARGS__},                                                     \
        (int)(sizeof((const struct sql_val[]){__VA_ARGS__}) / sizeof(struct sql_val))})
#define SQL_NOARGS ((struct sql_args){NULL, 0})

#endif
