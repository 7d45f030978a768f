/*
 * http: libmicrohttpd glue — the three-step access handler (request id, framing, size, route,
 * auth and readiness checks, then the body, then the route's handler), the completion
 * callback (log line, metrics, cleanup), URL unescaping, connection tracking, TLS keys and
 * daemon start/stop. See http.h for the life cycle; replies are http_reply.c's, the request
 * data and body reading http_body.c's.
 */
#include "http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conns.h"
#include "json_check.h"
#include "log.h"
#include "metrics.h"
#include "nn/alloc.h"
#include "nn/rng.h"
#include "nn/utf8.h"
#include "router.h"
#include "security.h"

struct srv_http {
    struct MHD_Daemon *d;
    struct srv_conns *conns;  /* deadlines and the connection limit */
    char *tls_cert, *tls_key; /* PEM text for GnuTLS; NULL without TLS */
    struct srv_app *app;
    int port;
};

static long long now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------------------------------ */
/* The access handler                                                                          */
/* ------------------------------------------------------------------------------------------ */

static void make_id(struct srv_req *r)
{
    const char *given = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Request-Id");

    if (given != NULL) {
        size_t n = strlen(given);
        int ok = n > 0 && n < 65;
        for (size_t i = 0; ok && i < n; i++) {
            unsigned char c = (unsigned char)given[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == ':';
        }
        if (ok) {
            memcpy(r->id, given, n + 1);
            return;
        }
    }
    /* 64 bits from a per-thread xoshiro256** seeded once from the system's random source: ids
     * are unique, not secret, and a gnutls_rnd call plus eight snprintf a request cost 4% of
     * a one-row prediction (docs/performance.md) */
    static _Thread_local struct nn_rng rng;
    static _Thread_local int seeded;
    static const char hex[] = "0123456789abcdef";
    if (!seeded) {
        uint64_t seed;
        if (gnutls_rnd(GNUTLS_RND_NONCE, &seed, sizeof(seed)) != 0) {
            seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&seeded; /* ids stay unique enough */
        }
        nn_rng_seed(&rng, seed);
        seeded = 1;
    }
    uint64_t v = nn_rng_next(&rng);
    for (int i = 15; i >= 0; i--, v >>= 4) {
        r->id[i] = hex[v & 15];
    }
    r->id[16] = '\0';
}

/* Adds the length of one header (name, ": ", value, CRLF) to the running total. */
static enum MHD_Result add_header_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    size_t *total = cls;

    (void)kind;
    *total += strlen(key) + 4 + (value != NULL ? strlen(value) : 0);
    return MHD_YES;
}

/* Adds the length of one query argument (key=value&) to the running total. */
static enum MHD_Result add_arg_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    size_t *total = cls;

    (void)kind;
    *total += strlen(key) + 2 + (value != NULL ? strlen(value) : 0);
    return MHD_YES;
}

/* The --max-url-bytes and --max-header-kb limits: 0, or 1 after a 414 / 431 was sent. */
static int check_sizes(struct srv_req *r)
{
    const struct srv_config *cfg = r->app->cfg;
    size_t url = strlen(r->url), hdr = 0;

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg_size, &url);
    if (url > (size_t)cfg->max_url_bytes) {
        cJSON *d = srv_http_details_num("limit_bytes", (double)cfg->max_url_bytes);
        r->url = "(too long)"; /* keep the log line short */
        srv_http_reply_error(r, 414, d, "the request target is longer than %ld bytes",
                             cfg->max_url_bytes);
        return 1;
    }
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header_size, &hdr);
    if (hdr > (size_t)cfg->max_header_kb * 1024) {
        cJSON *d = srv_http_details_num("limit_bytes", (double)cfg->max_header_kb * 1024);
        srv_http_reply_error(r, 431, d, "the request headers are larger than %ld KiB",
                             cfg->max_header_kb);
        return 1;
    }
    return 0;
}

/* 0 when the request may call route rt; else the 401 has been sent. */
static int check_auth(struct srv_req *r, const struct srv_route *rt)
{
    const struct srv_config *cfg = r->app->cfg;

    if (cfg->api_key[0] == '\0' || rt->auth == SRV_AUTH_PUBLIC) {
        return 0;
    }
    const char *h = srv_http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *key = h + 7;
        if (srv_security_key_equal(key, cfg->api_key)) {
            return 0;
        }
        if (rt->auth == SRV_AUTH_READ && cfg->predict_key[0] != '\0' &&
            srv_security_key_equal(key, cfg->predict_key)) {
            return 0;
        }
    }
    srv_http_add_header(r, "WWW-Authenticate", "Bearer");
    srv_http_reply_error(r, 401, NULL,
                         h == NULL ? "this endpoint needs Authorization: Bearer <key>"
                                   : "the key is wrong or may not call this endpoint");
    return -1;
}

/* 1 when the request announces a body (a non-zero Content-Length, or Transfer-Encoding). */
static int has_body(struct srv_req *r)
{
    const char *cl = srv_http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);

    return (cl != NULL && strtoull(cl, NULL, 10) > 0) ||
           srv_http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

struct framing {
    int n_length, n_te, n_host;
};

/* Counts the headers that frame the message. */
static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    struct framing *f = cls;

    (void)kind;
    (void)value;
    f->n_length += strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0;
    f->n_te += strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0;
    f->n_host += strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0;
    return MHD_YES;
}

/*
 * The framing faults that reach the handler (RFC 9112 6.1, 6.3 and 3.2): libmicrohttpd would
 * take the first of two Content-Length headers, prefer chunked over a Content-Length sent
 * with it (a request-smuggling shape), and wait for the close on a Transfer-Encoding it does
 * not know. Each is refused here with a JSON error, and the connection closes after it.
 * Faults libmicrohttpd itself refuses before any callback (a Content-Length that is not a
 * number, a bad chunk size) get its own HTML page: see docs/operations.md.
 * @return 0, or 1 after the error was sent.
 */
static int check_framing(struct srv_req *r, const char *version)
{
    struct framing f = {0, 0, 0};

    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_framing, &f);
    if (f.n_length > 1) {
        srv_http_reply_error(r, 400, NULL, "more than one Content-Length header");
        return 1;
    }
    if (f.n_te > 1 || (f.n_te == 1 && f.n_length == 1)) {
        srv_http_reply_error(r, 400, NULL,
                             f.n_te > 1 ? "more than one Transfer-Encoding header"
                                        : "both Content-Length and Transfer-Encoding");
        return 1;
    }
    const char *te = srv_http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te != NULL && strcasecmp(te, "chunked") != 0) {
        cJSON *d = srv_http_details_str("transfer_encoding", te);
        srv_http_reply_error(r, 501, d, "Transfer-Encoding '%.64s' is not supported (send chunked)",
                             te);
        return 1;
    }
    if (f.n_host == 0 && strcmp(version, MHD_HTTP_VERSION_1_1) == 0) {
        srv_http_reply_error(r, 400, NULL, "an HTTP/1.1 request needs a Host header");
        return 1;
    }
    return 0;
}

/* First call: route, auth, readiness, body checks. 0 = go on reading; 1 = replied. */
static int begin_request(struct srv_req *r)
{
    char allow[64];

    if (check_sizes(r) != 0) {
        return 1;
    }
    r->route = srv_router_find(r->method, r->url, r->args, &r->n_args, allow, sizeof(allow));
    if (r->route == -404) {
        r->route = -1;
        srv_http_reply_error(r, 404, NULL, "no such endpoint: %s", r->url);
        return 1;
    }
    if (r->route == -405) {
        r->route = -1;
        srv_http_add_header(r, MHD_HTTP_HEADER_ALLOW, allow);
        cJSON *d = srv_http_details_str("allow", allow);
        srv_http_reply_error(r, 405, d, "%s is not allowed on %s (allowed: %s)", r->method, r->url,
                             allow);
        return 1;
    }
    const struct srv_route *rt = srv_router_get(r->route);
    if (check_auth(r, rt) != 0) {
        return 1;
    }
    if (rt->auth != SRV_AUTH_PUBLIC && !atomic_load(&r->app->ready)) {
        srv_http_reply_error(r, 503, NULL, "the daemon is starting or stopping; try again");
        return 1;
    }
    const char *cl = srv_http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = srv_http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    unsigned long long length = cl != NULL ? strtoull(cl, NULL, 10) : 0;
    int has_body = length > 0 || te != NULL;
    if (!has_body) {
        return 0;
    }
    if (srv_http_body_start(r, rt) != 0) {
        return 1;
    }
    if (length > r->cap) {
        cJSON *d = srv_http_details_num("limit_bytes", (double)r->cap);
        srv_http_reply_error(r, 413, d,
                             "the request body (%llu bytes) is larger than the limit "
                             "of %llu bytes",
                             length, r->cap);
        return 1;
    }
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    struct srv_http *h = cls;
    struct srv_app *app = h->app;
    struct srv_req *r = *req_cls;

    if (r == NULL) {
        r = nn_calloc(1, sizeof(*r));
        if (r == NULL) {
            return MHD_NO;
        }
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->conns = h->conns;
        r->slot = ci != NULL ? ci->socket_context : NULL;
        r->app = app;
        r->conn = conn;
        r->method = method;
        r->url = url;
        r->t0_us = now_us();
        r->route = -1;
        r->spool_fd = -1;
        atomic_fetch_add(&app->inflight, 1);
        *req_cls = r;
        make_id(r);
        if (check_framing(r, version) != 0) {
            return MHD_YES;
        }
        /* a request without a body is answered on the last call, once libmicrohttpd has
         * read the whole request: a reply queued on the first call makes it close the
         * connection, losing the requests pipelined behind */
        r->deferred = !has_body(r);
        srv_conns_request(r->conns, r->slot, !r->deferred);
        if (!r->deferred) {
            begin_request(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        srv_conns_body(r->conns, r->slot, *upload_data_size);
        if (!r->responded) {
            srv_http_body_chunk(r, upload_data, *upload_data_size);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    srv_conns_busy(r->conns, r->slot);
    if (r->responded) {
        return MHD_YES;
    }
    if (r->deferred) {
        r->deferred = 0;
        if (begin_request(r) != 0) {
            return MHD_YES;
        }
    }
    srv_http_body_end(r);
    if (r->body_status != 0) {
        cJSON *d =
            r->body_status == 413 ? srv_http_details_num("limit_bytes", (double)r->cap) : NULL;
        srv_http_reply_error(r, r->body_status, d, "%s", r->body_msg);
        return MHD_YES;
    }
    const struct srv_route *rt = srv_router_get(r->route);
    int rc = rt->handler(r);
    if (!r->responded) {
        srv_http_reply_error(r, 500, NULL, "internal error (%s)", nn_strerror(rc));
    }
    return r->responded ? MHD_YES : MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct srv_http *h = cls;
    struct srv_app *app = h->app;
    struct srv_req *r = *req_cls;

    (void)conn;
    if (r == NULL) {
        return;
    }
    *req_cls = NULL;
    srv_conns_idle(r->conns, r->slot);
    long long us = now_us() - r->t0_us;
    unsigned status = r->responded ? r->status : 0;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && status != 0) {
        status = 0; /* the client went away before the reply was sent */
    }
    if (app->cfg->log_requests) {
        srv_log_request(r->method, r->url, status, r->resp_bytes, us, r->id);
    }
    srv_metrics_request(app->metrics, r->route, status, us);
    if (r->pp != NULL) {
        MHD_destroy_post_processor(r->pp);
    }
    if (r->hash != NULL) {
        gnutls_hash_deinit((gnutls_hash_hd_t)r->hash, NULL);
    }
    if (r->spool_fd >= 0) {
        close(r->spool_fd);
    }
    if (r->spool_name[0] != '\0' && !r->spool_keep) {
        unlink(r->spool_path);
    }
    for (int i = 0; i < r->n_fields; i++) {
        nn_free(r->fields[i].value);
    }
    nn_free(r->fields);
    nn_free(r->body);
    nn_free(r);
    atomic_fetch_sub(&app->inflight, 1);
}

/* ------------------------------------------------------------------------------------------ */
/* Start and stop                                                                              */
/* ------------------------------------------------------------------------------------------ */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Decodes %XX in the path and the query arguments, as libmicrohttpd's own unescaping does,
 * but leaves %00 as it is: a decoded NUL would cut the C string, so /models/iris%00x would be
 * read as /models/iris. Left encoded, it makes an invalid name, refused as one.
 */
static size_t unescape_url(void *cls, struct MHD_Connection *conn, char *s)
{
    size_t w = 0;

    (void)cls;
    (void)conn;
    for (size_t i = 0; s[i] != '\0'; i++) {
        int hi = s[i] == '%' ? hex_value(s[i + 1]) : -1;
        int lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
        if (lo >= 0 && (hi | lo) != 0) {
            s[w++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            s[w++] = s[i];
        }
    }
    s[w] = '\0';
    return w;
}

/* Registers each connection with the guard when accepted, and drops it before its socket is
 * closed (libmicrohttpd calls this before the close, so the guard never shuts a reused fd). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct srv_http *h = cls;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci != NULL ? srv_conns_open(h->conns, ci->connect_fd) : NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        srv_conns_close(h->conns, *socket_context);
        *socket_context = NULL;
    }
}

/* libmicrohttpd's own error messages, as log lines. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    /* a client gone mid-request, or a slow one the connection guard closed: routine, and a
     * line each would let a flood of slow clients flood the log (the guard counts them) */
    if (strstr(msg, "incomplete request") != NULL ||
        strstr(msg, "detected connection closure") != NULL) {
        return;
    }
    srv_log("warn", "libmicrohttpd: %s", msg);
}

/* Wipes and frees the PEM text (the key must not linger in freed memory). */
static void free_tls(struct srv_http *h)
{
    if (h->tls_key != NULL) {
        memset(h->tls_key, 0, strlen(h->tls_key));
    }
    nn_free(h->tls_key);
    nn_free(h->tls_cert);
    h->tls_key = h->tls_cert = NULL;
}

int srv_http_start(struct srv_app *app, struct srv_http **out, struct nn_err *err)
{
    const struct srv_config *cfg = app->cfg;
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    struct sockaddr *sa;
    unsigned int flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;

    *out = NULL;
    memset(&a4, 0, sizeof(a4));
    memset(&a6, 0, sizeof(a6));
    if (inet_pton(AF_INET, cfg->bind, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)cfg->port);
        sa = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, cfg->bind, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)cfg->port);
        sa = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "--bind",
                             "--bind: '%s' is not an IPv4 or IPv6 address", cfg->bind);
    }
    struct srv_http *h = nn_calloc(1, sizeof(*h));
    if (h == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    h->app = app;
    /* the guard keeps --conn-limit by eviction; libmicrohttpd's own limit leaves room for
     * the connections being closed meanwhile */
    struct srv_conns_config gc = {cfg->conn_limit,
                                  cfg->conn_limit +
                                      (cfg->conn_limit / 8 > 16 ? cfg->conn_limit / 8 : 16),
                                  (long)cfg->header_timeout * 1000,
                                  (long)cfg->body_timeout * 1000,
                                  cfg->body_min_rate,
                                  100};
    int grc = srv_conns_new(&gc, &h->conns, err);
    if (grc != 0) {
        nn_free(h);
        return grc;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned int threads =
        (unsigned int)(cfg->threads > 0 ? cfg->threads : (cores > 2 ? cores : 2));
    struct MHD_OptionItem ops[16] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)&on_mhd_log, NULL},
        {MHD_OPTION_SOCK_ADDR, 0, sa},
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->conn_timeout, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)cfg->conn_memory_kb * 1024, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)gc.capacity, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)cfg->conn_per_ip, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)&on_completed, h},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)&unescape_url, NULL},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)&on_connection, h},
    };
    int n_ops = 10;
    if (cfg->tls_cert[0] != '\0') {
        /* GnuTLS through libmicrohttpd; the PEM text stays in memory for the daemon's life */
        int rc = srv_security_read_file(cfg->tls_cert, 1 << 20, &h->tls_cert, err);
        if (rc == 0) {
            rc = srv_security_read_file(cfg->tls_key, 1 << 20, &h->tls_key, err);
        }
        if (rc != 0) {
            free_tls(h);
            srv_conns_free(h->conns);
            nn_free(h);
            return rc;
        }
        flags |= MHD_USE_TLS;
        ops[n_ops++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
        ops[n_ops++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
    }
    ops[n_ops] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    h->d = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, &on_request, h,
                            MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
    if (h->d == NULL) {
        free_tls(h);
        srv_conns_free(h->conns);
        nn_free(h);
        return nn_err_set(err, NN_EIO,
                          "cannot listen on %s port %d (in use, not allowed, or a bad TLS "
                          "certificate or key?)",
                          cfg->bind, cfg->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info != NULL ? info->port : cfg->port;
    *out = h;
    return 0;
}

int srv_http_port(struct srv_http *h)
{
    return h->port;
}

void srv_http_stop(struct srv_http *h, long wait_ms)
{
    if (h == NULL) {
        return;
    }
    /*
     * No MHD_quiesce_daemon here: with a thread pool and epoll, libmicrohttpd 0.9.75 races its
     * pool threads removing the listen socket from their epoll sets and can abort ("Failed to
     * remove listen FD from epoll set", seen once in the ASan suite). The caller has set
     * app->stopping, so every reply during the drain closes its connection; requests in flight
     * finish, then MHD_stop_daemon closes the listening socket itself.
     */
    struct timespec tick = {0, 10 * 1000000L};
    for (long waited = 0; waited < wait_ms && atomic_load(&h->app->inflight) > 0; waited += 10) {
        nanosleep(&tick, NULL);
    }
    MHD_stop_daemon(h->d);
    srv_conns_free(h->conns);
    free_tls(h);
    nn_free(h);
}
