/*
 * store_sql: the toolkit every SQL backend of the store shares (store_sql.h) — statements
 * through the backend's driver, rows gathered into arrays, the transaction runner, columns,
 * and a model's and a job's row read into their structs. Backend-neutral: no SQLite or libpq
 * call here, only the driver's.
 */
#include "store_sql.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "nn/alloc.h"

const char store_sql_history_clear[] = "DELETE FROM job_history WHERE job_id = $1";

static const char sql_model_row[] = "SELECT id, next_version, COALESCE(pinned_version, 0), "
                                    "created_at FROM models WHERE name = $1";
static const char sql_job_get[] = STORE_SQL_JOB_COLS "WHERE j.id = $1";

/* ------------------------------------------------------------------------------------------ */
/* Statements                                                                                  */
/* ------------------------------------------------------------------------------------------ */

int store_sql_exec(struct sql_conn *c, const char *sql, struct sql_args a, int *changes,
                   struct nn_err *err)
{
    return c->drv->exec(c, sql, a, changes, err);
}

int store_sql_change(struct sql_conn *c, const char *sql, struct sql_args a, int code,
                     struct nn_err *err, const char *fmt, ...)
{
    int changes = 0;
    int rc = store_sql_exec(c, sql, a, &changes, err);

    if (rc == 0 && changes == 0) {
        char msg[sizeof(err->msg)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        rc = nn_err_set(err, code, "%s", msg);
    }
    return rc;
}

int store_sql_rows(struct sql_conn *c, const char *sql, struct sql_args a, store_sql_row_fn fn,
                   void *ctx, struct nn_err *err)
{
    return c->drv->rows(c, sql, a, 0, fn, ctx, err);
}

struct first {
    store_sql_row_fn fn;
    void *ctx;
    int found;
};

static int first_row(const struct sql_row *r, void *ctx, struct nn_err *err)
{
    struct first *f = ctx;
    int rc = f->fn(r, f->ctx, err);

    f->found = 1;
    return rc != 0 ? rc : STORE_SQL_STOP;
}

int store_sql_row(struct sql_conn *c, const char *sql, struct sql_args a, int binary,
                  store_sql_row_fn fn, void *ctx, struct nn_err *err)
{
    struct first f = {fn, ctx, 0};
    int rc = c->drv->rows(c, sql, a, binary, first_row, &f, err);

    return rc == 0 && !f.found ? NN_ENOTFOUND : rc;
}

int store_sql_int_row(const struct sql_row *r, void *ctx, struct nn_err *err)
{
    (void)err;
    *(long long *)ctx = store_sql_col_int(r, 0);
    return 0;
}

int store_sql_int(struct sql_conn *c, const char *sql, struct sql_args a, long long *out,
                  struct nn_err *err)
{
    return store_sql_row(c, sql, a, 0, store_sql_int_row, out, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions                                                                                */
/* ------------------------------------------------------------------------------------------ */

void *store_sql_new(size_t size, const struct store_ops *ops, const struct sql_driver *drv,
                    const char *target, struct nn_err *err)
{
    struct store_sql *s = nn_calloc(1, size);
    char *copy = nn_strdup(target);

    if (s == NULL || copy == NULL) {
        nn_free(s);
        nn_free(copy);
        nn_err_set(err, NN_ENOMEM, "out of memory");
        return NULL;
    }
    s->base.ops = ops;
    s->drv = drv;
    s->target = copy;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

int store_sql_open_end(struct store *s, int rc, int (*migrate)(struct store *, struct nn_err *),
                       struct store **out, struct nn_err *err)
{
    if (rc == 0) {
        rc = migrate(s, err);
    }
    if (rc != 0) {
        s->ops->close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_sql_pool_drop(struct store_sql *s)
{
    pthread_mutex_lock(&s->lock);
    struct sql_conn *c = s->free;
    s->free = NULL;
    pthread_mutex_unlock(&s->lock);
    while (c != NULL) {
        struct sql_conn *next = c->next;
        s->drv->close(c);
        c = next;
    }
}

void store_sql_free(struct store *base)
{
    struct store_sql *s = (struct store_sql *)base;

    store_sql_pool_drop(s);
    pthread_mutex_destroy(&s->lock);
    nn_free(s->target);
    nn_free(s);
}

/* Takes an idle connection or opens a new one. */
static int conn_get(struct store_sql *s, struct sql_conn **out, struct nn_err *err)
{
    pthread_mutex_lock(&s->lock);
    struct sql_conn *c = s->free;
    if (c != NULL) {
        s->free = c->next;
    }
    pthread_mutex_unlock(&s->lock);
    if (c == NULL) {
        return s->drv->connect(&s->base, out, err);
    }
    c->next = NULL;
    *out = c;
    return 0;
}

/* Gives c back to the pool, or closes it and the idle ones when it is not healthy. */
static void conn_put(struct store_sql *s, struct sql_conn *c)
{
    if (s->drv->healthy != NULL && !s->drv->healthy(&s->base, c)) {
        s->drv->close(c);
        store_sql_pool_drop(s);
        return;
    }
    pthread_mutex_lock(&s->lock);
    c->next = s->free;
    s->free = c;
    pthread_mutex_unlock(&s->lock);
}

int store_sql_tx(struct store *base, enum store_sql_mode mode, store_sql_tx_fn fn, void *ctx,
                 struct nn_err *err)
{
    struct store_sql *s = (struct store_sql *)base;
    const struct sql_driver *d = s->drv;
    int rc = 0;
    int again = 1;

    for (int attempt = 0; again && attempt < d->tries; attempt++) {
        struct sql_conn *c = NULL;
        int begin_failed = 0;
        rc = conn_get(s, &c, err);
        if (rc != 0) {
            return rc;
        }
        if (d->begin[mode] != NULL) {
            rc = store_sql_exec(c, d->begin[mode], SQL_NOARGS, NULL, err);
            begin_failed = rc != 0;
        }
        if (rc == 0) {
            rc = fn(c, ctx, err);
        }
        if (rc == 0 && mode == STORE_SQL_WRITE) {
            rc = store_sql_exec(c, "COMMIT", SQL_NOARGS, NULL, err);
        }
        if (d->in_tx(c)) { /* a snapshot, or a write that failed */
            store_sql_exec(c, "ROLLBACK", SQL_NOARGS, NULL, NULL);
        }
        again = d->retry != NULL && d->retry(c, rc, begin_failed);
        conn_put(s, c);
    }
    return rc;
}

static const char sql_schema_version[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

int store_sql_schema_check(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    long long *cur = ctx;
    int known = c->drv->schema_known();
    int rc = store_sql_int(c, sql_schema_version, SQL_NOARGS, cur, err);

    if (rc == NN_ENOTFOUND) {
        rc = nn_err_set(err, NN_EIO, "database: no schema version");
    }
    if (rc == 0 && *cur > known) {
        rc = nn_err_set(err, NN_ERANGE,
                        "the database schema is version %lld, newer than this binary knows "
                        "(%d): refusing to start; use a newer neurond",
                        *cur, known);
    }
    return rc;
}

static int schema_read(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    return store_sql_int(c, sql_schema_version, SQL_NOARGS, ctx, err);
}

int store_sql_schema_version(struct store *s, int *v, struct nn_err *err)
{
    long long cur = 0;
    int rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, schema_read, &cur, err);

    if (rc == 0) {
        *v = (int)cur;
    }
    return rc;
}

struct once {
    const char *sql;
    struct sql_args a;
    store_sql_row_fn fn;
    void *ctx;
    int *changes;
};

static int once_run(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct once *o = ctx;

    if (o->fn != NULL) {
        return store_sql_rows(c, o->sql, o->a, o->fn, o->ctx, err);
    }
    return store_sql_exec(c, o->sql, o->a, o->changes, err);
}

int store_sql_once(struct store *s, const char *sql, struct sql_args a, store_sql_row_fn fn,
                   void *ctx, int *changes, struct nn_err *err)
{
    struct once o = {sql, a, fn, ctx, changes};

    return store_sql_tx(s, STORE_SQL_AUTOCOMMIT, once_run, &o, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Rows gathered into arrays, columns                                                          */
/* ------------------------------------------------------------------------------------------ */

int store_sql_collect_row(const struct sql_row *r, void *ctx, struct nn_err *err)
{
    struct sql_collect *k = ctx;

    if (k->n == k->cap) {
        size_t ncap = k->cap == 0 ? 16 : k->cap * 2;
        void *na = nn_reallocarray(k->v, ncap, k->size);
        if (na == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory");
        }
        k->v = na;
        k->cap = ncap;
    }
    void *elem = (char *)k->v + k->n * k->size;
    memset(elem, 0, k->size);
    int rc = k->fill(r, elem, k->size, err);
    if (rc == 0) {
        k->n++;
    }
    return rc;
}

struct list {
    const char *sql;
    struct sql_args a;
    store_sql_drop_fn drop;
    struct sql_collect k;
};

/* Frees what a list gathered so far and empties it. */
static void list_drop(struct list *l)
{
    if (l->drop != NULL) {
        l->drop(l->k.v, l->k.n);
    } else {
        nn_free(l->k.v);
    }
    l->k.v = NULL;
    l->k.n = l->k.cap = 0;
}

static int list_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct list *l = ctx;

    list_drop(l); /* a run again starts afresh */
    return store_sql_rows(c, l->sql, l->a, store_sql_collect_row, &l->k, err);
}

int store_sql_list(struct store *s, const char *sql, struct sql_args a, size_t size,
                   store_sql_fill_fn fill, store_sql_drop_fn drop, void **out, size_t *n,
                   struct nn_err *err)
{
    struct list l = {sql, a, drop, {NULL, 0, 0, size, fill}};
    int rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, list_tx, &l, err);

    if (rc != 0) {
        list_drop(&l);
    }
    *out = l.k.v;
    *n = l.k.n;
    return rc;
}

int store_sql_fill_int(const struct sql_row *r, void *elem, size_t size, struct nn_err *err)
{
    (void)size;
    (void)err;
    *(int *)elem = (int)store_sql_col_int(r, 0);
    return 0;
}

int store_sql_fill_text(const struct sql_row *r, void *elem, size_t size, struct nn_err *err)
{
    (void)err;
    store_sql_col_copy(r, 0, elem, size);
    return 0;
}

char *store_sql_col_dup(const struct sql_row *r, int col)
{
    const char *t = r->ops->text(r, col);

    return t != NULL ? nn_strdup(t) : NULL;
}

void store_sql_col_copy(const struct sql_row *r, int col, char *dst, size_t cap)
{
    const char *t = r->ops->text(r, col);

    snprintf(dst, cap, "%s", t != NULL ? t : "");
}

long long store_sql_col_int(const struct sql_row *r, int col)
{
    return r->ops->null(r, col) ? 0 : r->ops->integer(r, col);
}

double store_sql_col_real(const struct sql_row *r, int col)
{
    return r->ops->null(r, col) ? NAN : r->ops->real(r, col);
}

/* ------------------------------------------------------------------------------------------ */
/* Models and jobs read from rows                                                              */
/* ------------------------------------------------------------------------------------------ */

static int read_model(const struct sql_row *r, void *ctx, struct nn_err *err)
{
    struct sql_model *m = ctx;

    (void)err;
    m->id = store_sql_col_int(r, 0);
    m->next = (int)store_sql_col_int(r, 1);
    m->pinned = (int)store_sql_col_int(r, 2);
    store_sql_col_copy(r, 3, m->created, sizeof(m->created));
    return 0;
}

int store_sql_model_get(struct sql_conn *c, const char *model, int lock, struct sql_model *m,
                        struct nn_err *err)
{
    const char *lock_sql = c->drv->sql->model_lock;
    int rc = store_sql_row(c, lock && lock_sql != NULL ? lock_sql : sql_model_row,
                           SQL_ARGS(SQL_TEXT(model)), 0, read_model, m, err);

    if (rc == NN_ENOTFOUND) {
        rc = nn_err_set(err, NN_ENOTFOUND, "no model '%s'", model);
    }
    return rc;
}

/* A STORE_SQL_JOB_COLS row as a new job; NULL when out of memory. */
static struct store_job *job_from_row(const struct sql_row *r)
{
    struct store_job *j = nn_calloc(1, sizeof(*j));

    if (j == NULL) {
        return NULL;
    }
    store_sql_col_copy(r, 0, j->id, sizeof(j->id));
    store_sql_col_copy(r, 1, j->model, sizeof(j->model));
    j->status = store_job_status_parse(r->ops->text(r, 2));
    j->progress = store_sql_col_real(r, 3);
    j->epoch = (int)store_sql_col_int(r, 4);
    j->epochs = (int)store_sql_col_int(r, 5);
    j->params = store_sql_col_dup(r, 6);
    j->form = store_sql_col_dup(r, 7);
    j->metrics = store_sql_col_dup(r, 8);
    j->model_version = (int)store_sql_col_int(r, 9);
    j->error_code = store_sql_col_dup(r, 10);
    j->error_message = store_sql_col_dup(r, 11);
    store_sql_col_copy(r, 12, j->created_at, sizeof(j->created_at));
    store_sql_col_copy(r, 13, j->started_at, sizeof(j->started_at));
    store_sql_col_copy(r, 14, j->finished_at, sizeof(j->finished_at));
    store_sql_col_copy(r, 15, j->spool, sizeof(j->spool));
    j->rows = store_sql_col_int(r, 16);
    j->columns = store_sql_col_int(r, 17);
    j->bytes = store_sql_col_int(r, 18);
    store_sql_col_copy(r, 19, j->sha256, sizeof(j->sha256));
    if (j->params == NULL || j->form == NULL || (j->metrics == NULL && !r->ops->null(r, 8)) ||
        (j->error_code == NULL && !r->ops->null(r, 10)) ||
        (j->error_message == NULL && !r->ops->null(r, 11))) {
        store_job_free(j);
        return NULL;
    }
    return j;
}

int store_sql_fill_job(const struct sql_row *r, void *elem, size_t size, struct nn_err *err)
{
    struct store_job *j = job_from_row(r);

    (void)size;
    if (j == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    *(struct store_job **)elem = j;
    return 0;
}

/* Row handler: the job into *(struct store_job **)ctx. */
static int read_job(const struct sql_row *r, void *ctx, struct nn_err *err)
{
    return store_sql_fill_job(r, ctx, sizeof(struct store_job *), err);
}

int store_sql_job_read(struct sql_conn *c, const char *id, struct store_job **out,
                       struct nn_err *err)
{
    int rc = store_sql_row(c, sql_job_get, SQL_ARGS(SQL_TEXT(id)), 0, read_job, out, err);

    return rc == NN_ENOTFOUND ? nn_err_set(err, NN_ENOTFOUND, "no job '%s'", id) : rc;
}
