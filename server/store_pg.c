/*
 * store_pg: the PostgreSQL backend of store.h (libpq), shared by several replicas: its driver
 * for store_sql.h (the connection pool, statements with binds, rows, the retry of a
 * transaction, the one error mapping), the migrations (under an advisory lock, so replicas
 * started together migrate once), the change feed (LISTEN/NOTIFY over a table), the datasets
 * stored in chunks, and its ops table, most of whose calls are store_sql_ops.c's. A new
 * version is in store_pg_models.c; the claim, leases and adoption in store_pg_jobs.c.
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

static int col_null(const struct sql_row *r, int col)
{
    return PQgetisnull(r->res, r->i, col);
}

static const char *col_text(const struct sql_row *r, int col)
{
    return PQgetisnull(r->res, r->i, col) ? NULL : PQgetvalue(r->res, r->i, col);
}

static long long col_integer(const struct sql_row *r, int col)
{
    return strtoll(PQgetvalue(r->res, r->i, col), NULL, 10);
}

static double col_real(const struct sql_row *r, int col)
{
    return strtod(PQgetvalue(r->res, r->i, col), NULL);
}

/* A bytea column of a binary result: the bytes as stored. */
static const void *col_blob(const struct sql_row *r, int col, size_t *len)
{
    *len = (size_t)PQgetlength(r->res, r->i, col);
    return PQgetvalue(r->res, r->i, col);
}

static const struct sql_row_ops pg_row_ops = {col_null, col_text, col_integer, col_real, col_blob};

/* ------------------------------------------------------------------------------------------ */
/* Statements                                                                                  */
/* ------------------------------------------------------------------------------------------ */

#define PG_MAX_ARGS 16

int pg_exec(struct sql_conn *sc, const char *sql, struct sql_args a, int binary, PGresult **res,
            int *changes, struct nn_err *err)
{
    struct pg_conn *c = (struct pg_conn *)sc;
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
                     : pg_error(c, r, "query", &c->retry, err);
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

static int pg_exec_plain(struct sql_conn *c, const char *sql, struct sql_args a, int *changes,
                         struct nn_err *err)
{
    return pg_exec(c, sql, a, 0, NULL, changes, err);
}

static int pg_rows(struct sql_conn *c, const char *sql, struct sql_args a, int binary,
                   store_sql_row_fn fn, void *ctx, struct nn_err *err)
{
    PGresult *res = NULL;
    int rc = pg_exec(c, sql, a, binary, &res, NULL, err);
    struct sql_row r = {&pg_row_ops, res, 0};

    for (; rc == 0 && r.i < PQntuples(res); r.i++) {
        rc = fn(&r, ctx, err);
    }
    PQclear(res);
    return rc == STORE_SQL_STOP ? 0 : rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Connections                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* A new libpq connection to the store's URL; NN_EIO naming host and database. */
static int connect_db(struct store_pg *s, PGconn **out, struct nn_err *err)
{
    const char *keys[] = {"dbname", "connect_timeout", "application_name", "options", NULL};
    const char *vals[] = {s->base.target, PG_CONNECT_TIMEOUT, "neurond",
                          "-c client_min_messages=warning", NULL};
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

static void conn_free(struct sql_conn *c)
{
    if (c != NULL) {
        PQfinish(((struct pg_conn *)c)->db);
        nn_free(c);
    }
}

static const struct sql_driver pg_driver;

/* A new connection (the pool had none idle); fails fast while the database is known down. */
static int conn_open(struct store *base, struct sql_conn **out, struct nn_err *err)
{
    struct store_pg *s = (struct store_pg *)base;

    if (now_ms() < atomic_load(&s->down_until_ms)) {
        return nn_err_set(err, NN_EIO, "store unavailable: %s does not answer", s->where);
    }
    struct pg_conn *c = nn_calloc(1, sizeof(*c));
    if (c == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    c->base.drv = &pg_driver;
    int rc = connect_db(s, &c->db, err);
    if (rc != 0) {
        nn_free(c);
        return rc;
    }
    *out = &c->base;
    return 0;
}

/* Whether c goes back to the pool (not when it broke: then the store is marked down). */
static int conn_healthy(struct store *base, struct sql_conn *sc)
{
    const struct pg_conn *c = (struct pg_conn *)sc;
    int ok = !c->broken && PQstatus(c->db) == CONNECTION_OK;

    atomic_store(&((struct store_pg *)base)->available, ok);
    return ok;
}

/* A try that met a serialization failure or deadlock runs again, and so does one whose
 * pooled connection the server had closed before BEGIN (nothing ran). */
static int conn_retry(struct sql_conn *sc, int rc, int begin_failed)
{
    struct pg_conn *c = (struct pg_conn *)sc;
    int again = rc != 0 && (c->retry || (begin_failed && c->broken));

    c->retry = 0;
    return again;
}

static int in_tx(struct sql_conn *sc)
{
    struct pg_conn *c = (struct pg_conn *)sc;

    return !c->broken && PQtransactionStatus(c->db) != PQTRANS_IDLE;
}

/* The newest schema version of the PostgreSQL migrations. */
static int pg_known(void)
{
    return store_pg_n_migrations > 0 ? store_pg_migrations[store_pg_n_migrations - 1].version : 0;
}

static const struct sql_driver pg_driver = {
    .exec = pg_exec_plain,
    .rows = pg_rows,
    .in_tx = in_tx,
    .connect = conn_open,
    .close = conn_free,
    .healthy = conn_healthy,
    .retry = conn_retry,
    .begin = {NULL, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "BEGIN"},
    .tries = PG_TX_TRIES,
    .sql = &store_pg_dialect,
    .schema_known = pg_known,
};

/* ------------------------------------------------------------------------------------------ */
/* Migrations                                                                                  */
/* ------------------------------------------------------------------------------------------ */


/* One migration, unless the database has it. Each file is one multi-statement text, run by
 * the simple query protocol inside the transaction. */
static int migrate_one(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    struct pg_conn *pc = (struct pg_conn *)c;
    const struct store_migration *m = ctx;
    long long cur = 0;
    int rc = store_sql_schema_check(c, &cur, err);

    if (rc != 0 || m->version <= cur) {
        return rc;
    }
    PGresult *r = PQexec(pc->db, m->sql);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        rc = pg_error(pc, r, m->name, NULL, err);
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
static int migrate_locked(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const struct pg_conn *pc = (struct pg_conn *)c;
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
        if (rc != 0 && !pc->broken) {
            pg_exec(c, "ROLLBACK", SQL_NOARGS, 0, NULL, NULL, NULL);
        }
    }
    if (rc == 0) {
        rc = store_sql_schema_check(c, &cur, err);
    }
    if (!pc->broken) {
        pg_exec(c, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")", SQL_NOARGS, 0, NULL, NULL,
                NULL);
    }
    (void)ctx;
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

    if (s->listen != NULL) {
        PQfinish(s->listen);
    }
    store_sql_free(base);
}

/* The migrations, on one session that holds the migration lock. */
static int pg_migrate(struct store *s, struct nn_err *err)
{
    int rc = store_sql_tx(s, STORE_SQL_AUTOCOMMIT, migrate_locked, NULL, err);

    if (rc == NN_ERANGE && err != NULL) { /* a newer schema: name the database refused */
        char msg[sizeof(err->msg)];

        snprintf(msg, sizeof(msg), "%s", err->msg);
        nn_err_set(err, rc, "%s: %s", ((struct store_pg *)s)->where, msg);
    }
    return rc;
}

static int pg_open(const char *url, struct store **out, struct nn_err *err)
{
    struct store_pg *s = store_sql_new(sizeof(*s), &store_pg_ops, &pg_driver, url, err);

    if (s == NULL) {
        return NN_ENOMEM;
    }
    atomic_init(&s->available, 1);
    atomic_init(&s->down_until_ms, 0);
    return store_sql_open_end(&s->base.base, describe(url, s->where, sizeof(s->where), err),
                              pg_migrate, out, err);
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

struct feed {
    store_change_fn fn;
    void *ud;
    long long *since;
};

/* Row handler: one change (seq, kind, name) to the caller's function. */
static int feed_row(const struct sql_row *r, void *ctx, struct nn_err *err)
{
    const struct feed *f = ctx;
    const char *kind = r->ops->text(r, 1);

    (void)err;
    f->fn(f->ud, strcmp(kind, "cancel") == 0 ? STORE_CHANGE_CANCEL : STORE_CHANGE_MODEL,
          r->ops->text(r, 2));
    *f->since = store_sql_col_int(r, 0);
    return 0;
}

static int pg_changes(struct store *base, long long *since, int wait_ms, store_change_fn fn,
                      void *ud, struct nn_err *err)
{
    struct store_pg *s = (struct store_pg *)base;
    struct pg_conn c = {{&pg_driver, NULL}, NULL, 0, 0};
    struct feed f = {fn, ud, since};
    int rc;

    pthread_mutex_lock(&s->base.lock);
    rc = listen_conn(s, err);
    pthread_mutex_unlock(&s->base.lock);
    if (rc == 0 && *since >= 0) {
        rc = listen_wait(s, wait_ms, err);
    }
    if (rc != 0) {
        return rc;
    }
    c.db = s->listen;
    if (*since < 0) {
        rc = store_sql_int(&c.base, "SELECT COALESCE(MAX(seq), 0) FROM changes", SQL_NOARGS, since,
                           err);
    } else {
        rc = store_sql_rows(&c.base,
                            "SELECT seq, kind, name FROM changes WHERE seq > $1 ORDER BY seq",
                            SQL_ARGS(SQL_INT(*since)), feed_row, &f, err);
    }
    if (rc == 0) {
        atomic_store(&s->available, 1);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Datasets                                                                                    */
/* ------------------------------------------------------------------------------------------ */

static const char sql_chunks_delete[] = "DELETE FROM dataset_chunks WHERE spool = $1";

struct dataset_io {
    const char *spool, *path;
};

/* Reads (writing 0) or writes (1) n bytes at buf, going on after a short or interrupted
 * call; a read stops at the end of the file. @return the bytes moved, or -1 (errno). */
static ssize_t fd_full(int fd, char *buf, size_t n, int writing)
{
    size_t done = 0;

    while (done < n) {
        ssize_t k = writing ? write(fd, buf + done, n - done) : read(fd, buf + done, n - done);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            return -1;
        }
        if (k == 0) {
            break;
        }
        done += (size_t)k;
    }
    return (ssize_t)done;
}

/* The file, read a chunk at a time, each chunk one row; any earlier copy replaced. */
static int dataset_put_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const struct dataset_io *d = ctx;
    char *buf = nn_malloc(PG_CHUNK);
    int fd = open(d->path, O_RDONLY | O_CLOEXEC);
    int rc = buf == NULL ? nn_err_set(err, NN_ENOMEM, "out of memory")
             : fd < 0    ? nn_err_set(err, NN_EIO, "%s: %s", d->path, strerror(errno))
                         : 0;

    if (rc == 0) {
        rc = store_sql_exec(c, sql_chunks_delete, SQL_ARGS(SQL_TEXT(d->spool)), NULL, err);
    }
    for (int seq = 0; rc == 0; seq++) {
        ssize_t got = fd_full(fd, buf, PG_CHUNK, 0);
        if (got < 0) {
            rc = nn_err_set(err, NN_EIO, "%s: %s", d->path, strerror(errno));
        }
        if (rc != 0 || (got == 0 && seq > 0)) {
            break;
        }
        rc = store_sql_exec(c, "INSERT INTO dataset_chunks (spool, seq, data) VALUES ($1, $2, $3)",
                            SQL_ARGS(SQL_TEXT(d->spool), SQL_INT(seq), SQL_BLOB(buf, (size_t)got)),
                            NULL, err);
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

    return store_sql_tx(s, STORE_SQL_WRITE, dataset_put_tx, &d, err);
}

/* Writes every chunk, in order, to a temporary file renamed to the path at the end. */
static int dataset_get_tx(struct sql_conn *c, void *ctx, struct nn_err *err)
{
    const struct dataset_io *d = ctx;
    char tmp[1100];
    long long n = 0;
    int rc = store_sql_int(c, "SELECT COUNT(*) FROM dataset_chunks WHERE spool = $1",
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
        size_t len = rc == 0 ? (size_t)PQgetlength(r, 0, 0) : 0;
        if (rc == 0 && fd_full(fd, PQgetvalue(r, 0, 0), len, 1) != (ssize_t)len) {
            rc = nn_err_set(err, errno == ENOSPC ? NN_ENOSPC : NN_EIO, "%s: %s", tmp,
                            strerror(errno));
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

    return store_sql_tx(s, STORE_SQL_SNAPSHOT, dataset_get_tx, &d, err);
}

static int pg_dataset_delete(struct store *s, const char *spool, struct nn_err *err)
{
    return store_sql_once(s, sql_chunks_delete, SQL_ARGS(SQL_TEXT(spool)), NULL, NULL, NULL, err);
}

const struct store_ops store_pg_ops = {
    .scheme = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .version_put = store_pg_version_put,
    .job_claim = store_pg_job_claim,
    .jobs_recover = store_pg_jobs_recover,
    .feedback_put = store_pg_feedback_put,
    .sample_put = store_pg_sample_put,
    STORE_SQL_OPS,
    .jobs_heartbeat = store_pg_jobs_heartbeat,
    .jobs_adopt = store_pg_jobs_adopt,
    .changes = pg_changes,
    .dataset_put = pg_dataset_put,
    .dataset_get = pg_dataset_get,
    .dataset_delete = pg_dataset_delete,
    .available = pg_available,
};
