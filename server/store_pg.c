/*
 * store_pg: the PostgreSQL backend of store.h (libpq), shared by several replicas, and the
 * toolkit its files share (store_pg_int.h): the connection pool, statements with binds,
 * the transaction runner, the one error mapping, the migrations (under an advisory lock, so
 * replicas started together migrate once), the change feed (LISTEN/NOTIFY over a table) and
 * the datasets stored in chunks. Models live in store_pg_models.c, jobs in store_pg_jobs.c.
 *
 * The URL is handed to libpq as is: the password comes from it, PGPASSWORD or a passfile,
 * as libpq decides; messages name "user@host:port/db" only. After a refused connection the
 * store fails fast (NN_EIO, "store unavailable") for a second instead of waiting for each
 * call's connect timeout, so a write answers 503 at once while the database is down.
 */
#include "store_pg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nn/alloc.h"
#include "store_migrations.h"

#define PG_CONNECT_TIMEOUT "5"
#define PG_DOWN_MS         1000          /* fail fast this long after a refused connection */
#define PG_TX_TRIES        8             /* a serialization failure or deadlock: run again */
#define PG_CHUNK           (1024 * 1024) /* dataset chunk */
#define PG_MIGRATE_LOCK    "7234568123"  /* advisory lock key of the migrations */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------------------------ */
/* Errors and columns                                                                          */
/* ------------------------------------------------------------------------------------------ */

/* The first line of a libpq message (they end with a newline). */
static void first_line(const char *msg, char *out, size_t cap)
{
    size_t n = strcspn(msg != NULL ? msg : "", "\n");

    snprintf(out, cap, "%.*s", (int)n, msg != NULL ? msg : "");
}

/* Maps a failed result (or a failed connection when r is NULL) to an NN_E* code. A
 * serialization failure or deadlock is NN_EIO with *retry set (when retry is given). */
static int pg_error(struct pg_conn *c, PGresult *r, const char *what, int *retry,
                    struct nn_err *err)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char msg[200];

    first_line(r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c->db), msg, sizeof(msg));
    if (c->db == NULL || PQstatus(c->db) != CONNECTION_OK) {
        c->broken = 1;
        return nn_err_set(err, NN_EIO, "store unavailable: %s: %s", what, msg);
    }
    if (state != NULL && strncmp(state, "23", 2) == 0) {
        return nn_err_set(err, NN_EINVAL, "database: %s", msg);
    }
    if (state != NULL && strcmp(state, "53100") == 0) {
        return nn_err_set(err, NN_ENOSPC, "database: %s: %s", what, msg);
    }
    if (state != NULL && retry != NULL &&
        (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
        *retry = 1;
    }
    if (state != NULL && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)) {
        c->broken = 1; /* connection exception, admin shutdown */
        return nn_err_set(err, NN_EIO, "store unavailable: %s: %s", what, msg);
    }
    return nn_err_set(err, NN_EIO, "database: %s: %s", what, msg);
}

char *pg_col_dup(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) {
        return NULL;
    }
    return nn_strdup(PQgetvalue(r, row, col));
}

void pg_col_copy(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

long long pg_col_int(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

double pg_col_double(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col)) {
        return NAN;
    }
    return strtod(PQgetvalue(r, row, col), NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Statements                                                                                  */
/* ------------------------------------------------------------------------------------------ */

#define PG_MAX_ARGS 16

/* Set by pg_exec on a serialization failure or deadlock: pg_tx runs the transaction again. */
static _Thread_local int tx_retry;

int pg_exec(struct pg_conn *c, const char *sql, struct sql_args a, int binary, PGresult **res,
            int *changes, struct nn_err *err)
{
    const char *values[PG_MAX_ARGS];
    int lengths[PG_MAX_ARGS], formats[PG_MAX_ARGS];
    char num[PG_MAX_ARGS][32];

    if (res != NULL) {
        *res = NULL;
    }
    if (a.n > PG_MAX_ARGS) {
        return nn_err_set(err, NN_EINVAL, "database: more than %d parameters", PG_MAX_ARGS);
    }
    for (int i = 0; i < a.n; i++) {
        const struct sql_val *v = &a.v[i];
        lengths[i] = 0;
        formats[i] = 0;
        switch (v->type) {
        case SQL_T_INT:
            snprintf(num[i], sizeof(num[i]), "%lld", v->u.i);
            values[i] = num[i];
            break;
        case SQL_T_REAL:
            snprintf(num[i], sizeof(num[i]), "%.17g", v->u.d);
            values[i] = num[i];
            break;
        case SQL_T_TEXT:
            values[i] = v->u.t;
            break;
        case SQL_T_BLOB:
            values[i] = v->u.b.p != NULL ? v->u.b.p : "";
            lengths[i] = (int)v->u.b.n;
            formats[i] = 1;
            break;
        default:
            values[i] = NULL;
            break;
        }
    }
    PGresult *r = PQexecParams(c->db, sql, a.n, NULL, values, lengths, formats, binary);
    ExecStatusType st = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        int rc = r == NULL && PQstatus(c->db) == CONNECTION_OK
                     ? nn_err_set(err, NN_ENOMEM, "out of memory for a database result")
                     : pg_error(c, r, "query", &tx_retry, err);
        PQclear(r);
        return rc;
    }
    if (changes != NULL) {
        const char *t = PQcmdTuples(r);
        *changes = t[0] != '\0' ? atoi(t) : 0;
    }
    if (res != NULL) {
        *res = r;
    } else {
        PQclear(r);
    }
    return 0;
}

int pg_change(struct pg_conn *c, const char *sql, struct sql_args a, int code, struct nn_err *err,
              const char *fmt, ...)
{
    int changes = 0;
    int rc = pg_exec(c, sql, a, 0, NULL, &changes, err);

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

int pg_row(struct pg_conn *c, const char *sql, struct sql_args a, PGresult **res,
           struct nn_err *err)
{
    int rc = pg_exec(c, sql, a, 0, res, NULL, err);

    if (rc == 0 && PQntuples(*res) == 0) {
        PQclear(*res);
        *res = NULL;
        rc = NN_ENOTFOUND;
    }
    return rc;
}

int pg_int(struct pg_conn *c, const char *sql, struct sql_args a, long long *out,
           struct nn_err *err)
{
    PGresult *r = NULL;
    int rc = pg_row(c, sql, a, &r, err);

    if (rc == 0) {
        *out = pg_col_int(r, 0, 0);
        PQclear(r);
    }
    return rc;
}

int pg_change_note(struct pg_conn *c, const char *kind, const char *name, struct nn_err *err)
{
    return pg_exec(c,
                   "WITH n AS (INSERT INTO changes (kind, name) VALUES ($1, $2) RETURNING seq) "
                   "SELECT pg_notify('neurond_changes', seq::text) FROM n",
                   SQL_ARGS(SQL_TEXT(kind), SQL_TEXT(name)), 0, NULL, NULL, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* A new libpq connection to the store's URL; NN_EIO naming host and database. */
static int connect_db(struct store_pg *s, PGconn **out, struct nn_err *err)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "options", NULL};
    const char *vals[] = {s->url, PG_CONNECT_TIMEOUT, "neurond", "-c client_min_messages=warning",
                          NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    char msg[200];

    *out = NULL;
    if (db == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory connecting to the store");
    }
    if (PQstatus(db) != CONNECTION_OK) {
        first_line(PQerrorMessage(db), msg, sizeof(msg));
        PQfinish(db);
        atomic_store(&s->available, 0);
        atomic_store(&s->down_until_ms, now_ms() + PG_DOWN_MS);
        return nn_err_set(err, NN_EIO, "store unavailable: cannot connect to %s: %s", s->where,
                          msg);
    }
    *out = db;
    return 0;
}

static void conn_free(struct pg_conn *c)
{
    if (c != NULL) {
        PQfinish(c->db);
        nn_free(c);
    }
}

/* Takes an idle connection or opens one (fails fast while the database is known down). */
static int conn_get(struct store_pg *s, struct pg_conn **out, struct nn_err *err)
{
    pthread_mutex_lock(&s->lock);
    struct pg_conn *c = s->free;
    if (c != NULL) {
        s->free = c->next;
    }
    pthread_mutex_unlock(&s->lock);
    if (c != NULL) {
        c->next = NULL;
        *out = c;
        return 0;
    }
    if (now_ms() < atomic_load(&s->down_until_ms)) {
        return nn_err_set(err, NN_EIO, "store unavailable: %s does not answer", s->where);
    }
    c = nn_calloc(1, sizeof(*c));
    if (c == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    int rc = connect_db(s, &c->db, err);
    if (rc != 0) {
        nn_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void conn_put(struct store_pg *s, struct pg_conn *c)
{
    if (c->broken || PQstatus(c->db) != CONNECTION_OK) {
        conn_free(c);
        atomic_store(&s->available, 0);
        return;
    }
    atomic_store(&s->available, 1);
    pthread_mutex_lock(&s->lock);
    c->next = s->free;
    s->free = c;
    pthread_mutex_unlock(&s->lock);
}

/* Drops every pooled connection (after one broke, the others likely did too). */
static void pool_drop(struct store_pg *s)
{
    pthread_mutex_lock(&s->lock);
    struct pg_conn *c = s->free;
    s->free = NULL;
    pthread_mutex_unlock(&s->lock);
    while (c != NULL) {
        struct pg_conn *next = c->next;
        conn_free(c);
        c = next;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Transactions                                                                                */
/* ------------------------------------------------------------------------------------------ */

int pg_tx(struct store *base, enum pg_mode mode, pg_tx_fn fn, void *ctx, struct nn_err *err)
{
    struct store_pg *s = (struct store_pg *)base;
    static const char *const begin[] = {NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                                        "BEGIN"};
    int rc = 0;

    for (int attempt = 0; attempt < PG_TX_TRIES; attempt++) {
        struct pg_conn *c = NULL;
        int fresh_try = 0;
        rc = conn_get(s, &c, err);
        if (rc != 0) {
            return rc;
        }
        tx_retry = 0;
        if (begin[mode] != NULL) {
            rc = pg_exec(c, begin[mode], SQL_NOARGS, 0, NULL, NULL, err);
            /* a pooled connection the server closed meanwhile: nothing ran, try a new one */
            fresh_try = rc != 0 && c->broken;
        }
        if (rc == 0) {
            rc = fn(c, ctx, err);
        }
        if (rc == 0 && mode == PG_WRITE) {
            rc = pg_exec(c, "COMMIT", SQL_NOARGS, 0, NULL, NULL, err);
        }
        if (!c->broken && PQtransactionStatus(c->db) != PQTRANS_IDLE) {
            pg_exec(c, "ROLLBACK", SQL_NOARGS, 0, NULL, NULL, NULL);
        }
        int broken = c->broken;
        conn_put(s, c);
        if (broken) {
            pool_drop(s);
        }
        if (rc == 0 || !(tx_retry || fresh_try)) {
            return rc;
        }
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Migrations                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static int pg_known(void)
{
    return store_pg_n_migrations > 0 ? store_pg_migrations[store_pg_n_migrations - 1].version : 0;
}

/* The recorded schema version into *(long long *)ctx; NN_ERANGE when newer than we know. */
static int check_schema(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    long long *cur = ctx;
    int rc =
        pg_int(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", SQL_NOARGS, cur, err);

    if (rc == NN_ENOTFOUND) {
        rc = nn_err_set(err, NN_EIO, "database: no schema version");
    }
    if (rc == 0 && *cur > pg_known()) {
        rc = nn_err_set(err, NN_ERANGE,
                        "the database schema is version %lld, newer than this binary knows "
                        "(%d): refusing to start; use a newer neurond",
                        *cur, pg_known());
    }
    return rc;
}

/* One migration, unless the database has it. Each file is one multi-statement text, run by
 * the simple query protocol inside the transaction. */
static int migrate_one(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const struct store_migration *m = ctx;
    long long cur = 0;
    int rc = check_schema(c, &cur, err);

    if (rc != 0 || m->version <= cur) {
        return rc;
    }
    PGresult *r = PQexec(c->db, m->sql);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pg_error(c, r, m->name, NULL, err);
        PQclear(r);
        return rc;
    }
    PQclear(r);
    return pg_exec(c,
                   "INSERT INTO schema_migrations (version, name, applied_at) "
                   "VALUES ($1, $2, " PG_NOW ")",
                   SQL_ARGS(SQL_INT(m->version), SQL_TEXT(m->name)), 0, NULL, NULL, err);
}

/* Holds the migration lock on one session for the whole run: replicas started at once
 * wait for the first one, then find nothing left to apply. */
static int migrate_locked(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    struct store *s = ctx;
    long long cur = 0;
    int rc =
        pg_exec(c, "SELECT pg_advisory_lock(" PG_MIGRATE_LOCK ")", SQL_NOARGS, 0, NULL, NULL, err);

    if (rc != 0) {
        return rc;
    }
    rc = pg_exec(c,
                 "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                 "name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                 SQL_NOARGS, 0, NULL, NULL, err);
    for (int i = 0; rc == 0 && i < store_pg_n_migrations; i++) {
        rc = pg_exec(c, "BEGIN", SQL_NOARGS, 0, NULL, NULL, err);
        if (rc == 0) {
            rc = migrate_one(c, (void *)&store_pg_migrations[i], err);
        }
        if (rc == 0) {
            rc = pg_exec(c, "COMMIT", SQL_NOARGS, 0, NULL, NULL, err);
        }
        if (rc != 0 && !c->broken) {
            pg_exec(c, "ROLLBACK", SQL_NOARGS, 0, NULL, NULL, NULL);
        }
    }
    if (rc == 0) {
        rc = check_schema(c, &cur, err);
    }
    if (!c->broken) {
        pg_exec(c, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")", SQL_NOARGS, 0, NULL, NULL,
                NULL);
    }
    (void)s;
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Open and close                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* "user@host:port/db" from the URL, for messages (never the password). */
static int describe(const char *url, char *out, size_t cap, struct nn_err *err)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    const char *user = "", *host = "", *port = "", *db = "";

    if (opts == NULL) {
        PQfreemem(perr); /* it may quote the URL, password and all: not shown */
        return nn_err_set(err, NN_EINVAL,
                          "store URL is malformed: expected postgresql://user@host:port/db");
    }
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL) {
            continue;
        }
        if (strcmp(o->keyword, "user") == 0) {
            user = o->val;
        } else if (strcmp(o->keyword, "host") == 0) {
            host = o->val;
        } else if (strcmp(o->keyword, "port") == 0) {
            port = o->val;
        } else if (strcmp(o->keyword, "dbname") == 0) {
            db = o->val;
        }
    }
    snprintf(out, cap, "%s%s%s%s%s/%s", user, user[0] != '\0' ? "@" : "",
             host[0] != '\0' ? host : "localhost", port[0] != '\0' ? ":" : "", port,
             db[0] != '\0' ? db : "(default database)");
    PQconninfoFree(opts);
    return 0;
}

static void pg_close(struct store *base)
{
    struct store_pg *s = (struct store_pg *)base;

    pool_drop(s);
    if (s->listen != NULL) {
        PQfinish(s->listen);
    }
    pthread_mutex_destroy(&s->lock);
    nn_free(s->url);
    nn_free(s);
}

static int pg_open(const char *url, struct store **out, struct nn_err *err)
{
    struct store_pg *s = nn_calloc(1, sizeof(*s));
    int rc;

    if (s == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    s->base.ops = &store_pg_ops;
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->available, 1);
    atomic_init(&s->down_until_ms, 0);
    s->url = nn_strdup(url);
    if (s->url == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    rc = describe(url, s->where, sizeof(s->where), err);
    if (rc == 0) {
        rc = pg_tx(&s->base, PG_AUTOCOMMIT, migrate_locked, s, err);
    }
    if (rc != 0) {
        goto fail;
    }
    *out = &s->base;
    return 0;
fail:
    pg_close(&s->base);
    return rc;
}

static int schema_read(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    return pg_int(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", SQL_NOARGS, ctx,
                  err);
}

static int pg_schema_version(struct store *s, int *v, struct nn_err *err)
{
    long long tmp = 0;
    int rc = pg_tx(s, PG_AUTOCOMMIT, schema_read, &tmp, err);

    if (rc == 0) {
        *v = (int)tmp;
    }
    return rc;
}

static int pg_available(struct store *base)
{
    return atomic_load(&((struct store_pg *)base)->available);
}

/* ------------------------------------------------------------------------------------------ */
/* The change feed                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* The LISTEN connection, made on first use (or again after it broke). */
static int listen_conn(struct store_pg *s, struct nn_err *err)
{
    if (s->listen != NULL && PQstatus(s->listen) == CONNECTION_OK) {
        return 0;
    }
    if (s->listen != NULL) {
        PQfinish(s->listen);
        s->listen = NULL;
    }
    PGconn *db = NULL;
    int rc = connect_db(s, &db, err);
    if (rc != 0) {
        return rc;
    }
    PGresult *r = PQexec(db, "LISTEN neurond_changes");
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        PQfinish(db);
        return nn_err_set(err, NN_EIO, "store unavailable: LISTEN on %s failed", s->where);
    }
    PQclear(r);
    s->listen = db;
    return 0;
}

/* Waits up to wait_ms for a notification on the LISTEN connection (any is enough: the feed
 * table says what changed). */
static int listen_wait(struct store_pg *s, int wait_ms, struct nn_err *err)
{
    struct pollfd pfd = {PQsocket(s->listen), POLLIN, 0};
    PGnotify *n = NULL;
    int woken = 0;

    while ((n = PQnotifies(s->listen)) != NULL) { /* already read */
        PQfreemem(n);
        woken = 1;
    }
    if (!woken && wait_ms > 0 && poll(&pfd, 1, wait_ms) < 0 && errno != EINTR) {
        return nn_err_set(err, NN_EIO, "store: poll: %s", strerror(errno));
    }
    if (!PQconsumeInput(s->listen)) {
        char msg[200];
        first_line(PQerrorMessage(s->listen), msg, sizeof(msg));
        atomic_store(&s->available, 0);
        return nn_err_set(err, NN_EIO, "store unavailable: %s: %s", s->where, msg);
    }
    while ((n = PQnotifies(s->listen)) != NULL) {
        PQfreemem(n);
    }
    return 0;
}

static int pg_changes(struct store *base, long long *since, int wait_ms, store_change_fn fn,
                      void *ud, struct nn_err *err)
{
    struct store_pg *s = (struct store_pg *)base;
    struct pg_conn c = {NULL, 0, NULL};
    PGresult *r = NULL;
    int rc;

    pthread_mutex_lock(&s->lock);
    rc = listen_conn(s, err);
    pthread_mutex_unlock(&s->lock);
    if (rc == 0 && *since >= 0) {
        rc = listen_wait(s, wait_ms, err);
    }
    if (rc != 0) {
        return rc;
    }
    c.db = s->listen;
    if (*since < 0) {
        rc = pg_int(&c, "SELECT COALESCE(MAX(seq), 0) FROM changes", SQL_NOARGS, since, err);
    } else {
        rc = pg_exec(&c, "SELECT seq, kind, name FROM changes WHERE seq > $1 ORDER BY seq",
                     SQL_ARGS(SQL_INT(*since)), 0, &r, NULL, err);
        for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
            const char *kind = PQgetvalue(r, i, 1);
            fn(ud, strcmp(kind, "cancel") == 0 ? STORE_CHANGE_CANCEL : STORE_CHANGE_MODEL,
               PQgetvalue(r, i, 2));
            *since = pg_col_int(r, i, 0);
        }
        PQclear(r);
    }
    if (rc == 0) {
        atomic_store(&s->available, 1);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Datasets                                                                                    */
/* ------------------------------------------------------------------------------------------ */

struct dataset_io {
    const char *spool, *path;
};

/* The file, read a chunk at a time, each chunk one row; any earlier copy replaced. */
static int dataset_put_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const struct dataset_io *d = ctx;
    unsigned char *buf = nn_malloc(PG_CHUNK);
    int fd = open(d->path, O_RDONLY | O_CLOEXEC);
    int rc = buf == NULL ? nn_err_set(err, NN_ENOMEM, "out of memory")
             : fd < 0    ? nn_err_set(err, NN_EIO, "%s: %s", d->path, strerror(errno))
                         : 0;

    if (rc == 0) {
        rc = pg_exec(c, "DELETE FROM dataset_chunks WHERE spool = $1", SQL_ARGS(SQL_TEXT(d->spool)),
                     0, NULL, NULL, err);
    }
    for (int seq = 0; rc == 0; seq++) {
        size_t got = 0;
        while (got < PG_CHUNK) {
            ssize_t k = read(fd, buf + got, PG_CHUNK - got);
            if (k < 0 && errno == EINTR) {
                continue;
            }
            if (k < 0) {
                rc = nn_err_set(err, NN_EIO, "%s: %s", d->path, strerror(errno));
            }
            if (k <= 0) {
                break;
            }
            got += (size_t)k;
        }
        if (rc != 0 || (got == 0 && seq > 0)) {
            break;
        }
        rc = pg_exec(c, "INSERT INTO dataset_chunks (spool, seq, data) VALUES ($1, $2, $3)",
                     SQL_ARGS(SQL_TEXT(d->spool), SQL_INT(seq), SQL_BLOB(buf, got)), 0, NULL, NULL,
                     err);
        if (got < PG_CHUNK) {
            break;
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    nn_free(buf);
    return rc;
}

static int pg_dataset_put(struct store *s, const char *spool, const char *path, struct nn_err *err)
{
    struct dataset_io d = {spool, path};

    return pg_tx(s, PG_WRITE, dataset_put_tx, &d, err);
}

/* Writes every chunk, in order, to a temporary file renamed to the path at the end. */
static int dataset_get_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    const struct dataset_io *d = ctx;
    char tmp[1100];
    long long n = 0;
    int rc = pg_int(c, "SELECT COUNT(*) FROM dataset_chunks WHERE spool = $1",
                    SQL_ARGS(SQL_TEXT(d->spool)), &n, err);

    if (rc == 0 && n == 0) {
        return nn_err_set(err, NN_ENOTFOUND, "no stored dataset '%s'", d->spool);
    }
    if (rc != 0) {
        return rc;
    }
    snprintf(tmp, sizeof(tmp), "%s.part", d->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return nn_err_set(err, errno == ENOSPC ? NN_ENOSPC : NN_EIO, "%s: %s", tmp,
                          strerror(errno));
    }
    for (long long seq = 0; rc == 0 && seq < n; seq++) {
        PGresult *r = NULL;
        rc = pg_exec(c, "SELECT data FROM dataset_chunks WHERE spool = $1 AND seq = $2",
                     SQL_ARGS(SQL_TEXT(d->spool), SQL_INT(seq)), 1, &r, NULL, err);
        if (rc == 0 && PQntuples(r) != 1) {
            rc = nn_err_set(err, NN_EIO, "dataset '%s': chunk %lld is missing", d->spool, seq);
        }
        const char *p = rc == 0 ? PQgetvalue(r, 0, 0) : NULL;
        size_t left = rc == 0 ? (size_t)PQgetlength(r, 0, 0) : 0;
        while (left > 0) {
            ssize_t k = write(fd, p, left);
            if (k < 0 && errno == EINTR) {
                continue;
            }
            if (k < 0) {
                rc = nn_err_set(err, errno == ENOSPC ? NN_ENOSPC : NN_EIO, "%s: %s", tmp,
                                strerror(errno));
                break;
            }
            p += k;
            left -= (size_t)k;
        }
        PQclear(r);
    }
    if (close(fd) != 0 && rc == 0) {
        rc = nn_err_set(err, NN_EIO, "%s: %s", tmp, strerror(errno));
    }
    if (rc == 0 && rename(tmp, d->path) != 0) {
        rc = nn_err_set(err, NN_EIO, "%s: %s", d->path, strerror(errno));
    }
    if (rc != 0) {
        unlink(tmp);
    }
    return rc;
}

static int pg_dataset_get(struct store *s, const char *spool, const char *path, struct nn_err *err)
{
    struct dataset_io d = {spool, path};

    return pg_tx(s, PG_SNAPSHOT, dataset_get_tx, &d, err);
}

static int dataset_delete_tx(struct pg_conn *c, void *ctx, struct nn_err *err)
{
    return pg_exec(c, "DELETE FROM dataset_chunks WHERE spool = $1", SQL_ARGS(SQL_TEXT(ctx)), 0,
                   NULL, NULL, err);
}

static int pg_dataset_delete(struct store *s, const char *spool, struct nn_err *err)
{
    return pg_tx(s, PG_AUTOCOMMIT, dataset_delete_tx, (void *)spool, err);
}

const struct store_ops store_pg_ops = {
    .scheme = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .version_put = store_pg_version_put,
    .version_get = store_pg_version_get,
    .model_list = store_pg_model_list,
    .serving_set = store_pg_serving_set,
    .model_delete = store_pg_model_delete,
    .version_delete = store_pg_version_delete,
    .job_create = store_pg_job_create,
    .job_get = store_pg_job_get,
    .job_list = store_pg_job_list,
    .job_claim = store_pg_job_claim,
    .job_progress = store_pg_job_progress,
    .job_history = store_pg_job_history,
    .job_fail = store_pg_job_fail,
    .job_cancel = store_pg_job_cancel,
    .job_requeue = store_pg_job_requeue,
    .jobs_recover = store_pg_jobs_recover,
    .jobs_count = store_pg_jobs_count,
    .spool_in_use = store_pg_spool_in_use,
    .feedback_put = store_pg_feedback_put,
    .feedback_list = store_pg_feedback_list,
    .feedback_delete = store_pg_feedback_delete,
    .feedback_count = store_pg_feedback_count,
    .sample_put = store_pg_sample_put,
    .sample_get = store_pg_sample_get,
    .jobs_heartbeat = store_pg_jobs_heartbeat,
    .jobs_adopt = store_pg_jobs_adopt,
    .changes = pg_changes,
    .dataset_put = pg_dataset_put,
    .dataset_get = pg_dataset_get,
    .dataset_delete = pg_dataset_delete,
    .available = pg_available,
};
