/*
 * http: libmicrohttpd glue — daemon start/stop, the three-step access handler, body
 * reading (JSON buffer, spool file, multipart post-processor), replies, the completion
 * callback (log line, metrics, cleanup). See http.h for the life cycle.
 */
#include "http.h"

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
#include "store.h"

#define FIELD_VALUE_MAX (64 * 1024)
#define PP_BUFFER       (64 * 1024)

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
/* Replies                                                                                     */
/* ------------------------------------------------------------------------------------------ */

const char *srv_http_status_code(unsigned status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 401:
        return "unauthorized";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 409:
        return "conflict";
    case 413:
        return "payload_too_large";
    case 414:
        return "uri_too_long";
    case 415:
        return "unsupported_media_type";
    case 422:
        return "invalid_input";
    case 429:
        return "queue_full";
    case 431:
        return "headers_too_large";
    case 501:
        return "not_implemented";
    case 503:
        return "not_ready";
    case 507:
        return "insufficient_storage";
    default:
        return "internal";
    }
}

void srv_http_add_header(struct srv_req *r, const char *name, const char *value)
{
    if (r->n_hdr >= SRV_HEADERS_MAX) {
        return;
    }
    snprintf(r->hdr[r->n_hdr][0], sizeof(r->hdr[0][0]), "%s", name);
    snprintf(r->hdr[r->n_hdr][1], sizeof(r->hdr[0][1]), "%s", value);
    r->n_hdr++;
}

/* Adds the common headers, queues and drops the response. */
static int send_reply(struct srv_req *r, unsigned status, struct MHD_Response *resp,
                      const char *content_type, size_t bytes)
{
    if (resp == NULL) {
        return nn_err_set(NULL, NN_ENOMEM, "no response");
    }
    if (r->responded) {
        MHD_destroy_response(resp);
        return NN_EINVAL;
    }
    MHD_add_response_header(resp, "X-Request-Id", r->id);
    if (content_type != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    }
    for (int i = 0; i < r->n_hdr; i++) {
        MHD_add_response_header(resp, r->hdr[i][0], r->hdr[i][1]);
    }
    if (atomic_load(&r->app->stopping)) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    enum MHD_Result ok = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES) {
        return NN_EIO;
    }
    r->responded = 1;
    r->status = status;
    r->resp_bytes = bytes;
    return 0;
}

static void free_cjson_text(void *p)
{
    cJSON_free(p);
}

int srv_http_reply_json(struct srv_req *r, unsigned status, cJSON *doc)
{
    char *text = doc != NULL ? cJSON_PrintUnformatted(doc) : NULL;

    cJSON_Delete(doc);
    if (text == NULL) {
        return NN_ENOMEM;
    }
    size_t len = strlen(text);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, text, free_cjson_text);
    if (resp == NULL) {
        cJSON_free(text);
        return NN_ENOMEM;
    }
    return send_reply(r, status, resp, "application/json; charset=utf-8", len);
}

int srv_http_reply_empty(struct srv_req *r, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

    return send_reply(r, status, resp, NULL, 0);
}

int srv_http_reply_buffer(struct srv_req *r, unsigned status, const char *content_type, char *buf,
                          size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, buf, nn_free);

    if (resp == NULL) {
        nn_free(buf);
        return NN_ENOMEM;
    }
    return send_reply(r, status, resp, content_type, len);
}

int srv_http_reply_fd(struct srv_req *r, unsigned status, const char *content_type, int fd,
                      unsigned long long size)
{
    struct MHD_Response *resp = MHD_create_response_from_fd64(size, fd);

    if (resp == NULL) {
        close(fd);
        return NN_ENOMEM;
    }
    return send_reply(r, status, resp, content_type, (size_t)size);
}

/* Replaces in place each byte of s that does not belong to well-formed UTF-8 with '?': an
 * error message or detail may quote a name, a parameter or a query value as the client sent
 * it (or cut by %.64s in the middle of a character), and a JSON reply holds UTF-8 only. */
static void utf8_scrub(char *s)
{
    size_t n = strlen(s), i = 0, bad = 0;

    while (i < n && !nn_utf8_valid(s + i, n - i, &bad)) {
        s[i + bad] = '?';
        i += bad + 1;
    }
}

/* utf8_scrub over every string (values and keys) of a details tree. */
static void utf8_scrub_tree(cJSON *j)
{
    for (; j != NULL; j = j->next) {
        if (j->string != NULL) {
            utf8_scrub(j->string);
        }
        if (cJSON_IsString(j) && j->valuestring != NULL) {
            utf8_scrub(j->valuestring);
        }
        utf8_scrub_tree(j->child);
    }
}

/* The error reply: {"error": msg, "code": code, "details": {...}} with the status. */
static int reply_error_as(struct srv_req *r, unsigned status, const char *code, cJSON *details,
                          char *msg)
{
    utf8_scrub(msg);
    if (details != NULL) {
        utf8_scrub_tree(details->child);
    }
    cJSON *doc = cJSON_CreateObject();
    if (doc == NULL) {
        cJSON_Delete(details);
        return NN_ENOMEM;
    }
    cJSON_AddStringToObject(doc, "error", msg);
    cJSON_AddStringToObject(doc, "code", code);
    if (details == NULL) {
        details = cJSON_CreateObject();
    }
    if (details != NULL) {
        cJSON_AddItemToObject(doc, "details", details);
    }
    if (status == 405) {
        /* the caller added Allow: */
    }
    if (status >= 500 && status != 503 && status != 507) {
        srv_log("error", "request %s %s failed: %s", r->method, r->url, msg);
    }
    if (status == 507) { /* every 507 is a write the disk could not take */
        srv_metrics_store_error(r->app->metrics);
    }
    return srv_http_reply_json(r, status, doc);
}

int srv_http_reply_error(struct srv_req *r, unsigned status, cJSON *details, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return reply_error_as(r, status, srv_http_status_code(status), details, msg);
}

int srv_http_reply_nn(struct srv_req *r, int code, const struct nn_err *err, unsigned input_status,
                      cJSON *details)
{
    const char *msg = err != NULL && err->msg[0] != '\0' ? err->msg : nn_strerror(code);
    unsigned status;

    switch (code) {
    case NN_ENOTFOUND:
        status = 404;
        break;
    case NN_EFORMAT:
        status = 400;
        break;
    case NN_EINVAL:
    case NN_ERANGE:
        status = input_status;
        break;
    case NN_ECANCELED:
        status = 409;
        break;
    case NN_ENOSPC:
        status = 507;
        break;
    default:
        status = 500;
        if (code == NN_EIO) {
            srv_metrics_store_error(r->app->metrics);
        }
        if (code == NN_EIO && r->app->store != NULL && !store_available(r->app->store)) {
            /* a shared store that cannot be reached: try again shortly (predictions of the
               models in memory keep working meanwhile) */
            char copy[512];
            snprintf(copy, sizeof(copy), "%s", msg);
            srv_http_add_header(r, "Retry-After", "5");
            return reply_error_as(r, 503, "store_unavailable", details, copy);
        }
        break;
    }
    if (details == NULL && err != NULL && status < 500) {
        details = cJSON_CreateObject();
        if (details != NULL && err->line > 0) {
            cJSON_AddNumberToObject(details, "line", (double)err->line);
            if (err->field[0] != '\0') {
                cJSON_AddStringToObject(details, "column", err->field);
            } else if (err->col > 0) {
                cJSON_AddNumberToObject(details, "column", (double)err->col);
            }
        } else if (details != NULL && err->field[0] != '\0') {
            cJSON_AddStringToObject(details, "field", err->field);
        }
    }
    return srv_http_reply_error(r, status, details, "%s", msg);
}

/* ------------------------------------------------------------------------------------------ */
/* Request accessors                                                                           */
/* ------------------------------------------------------------------------------------------ */

const char *srv_http_query(struct srv_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *srv_http_header(struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

struct each_ctx {
    int (*fn)(void *ud, const char *k, const char *v);
    void *ud;
    int rc;
};

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct each_ctx *c = cls;

    (void)kind;
    c->rc = c->fn(c->ud, key, value);
    return c->rc == 0 ? MHD_YES : MHD_NO;
}

int srv_http_query_each(struct srv_req *r, int (*fn)(void *ud, const char *k, const char *v),
                        void *ud)
{
    struct each_ctx c = {fn, ud, 0};

    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, each_arg, &c);
    return c.rc;
}

const char *srv_http_field(struct srv_req *r, const char *name)
{
    for (int i = 0; i < r->n_fields; i++) {
        if (strcmp(r->fields[i].name, name) == 0) {
            return r->fields[i].value;
        }
    }
    return NULL;
}

/* The line and column (from 1) of byte off of the body. */
static void body_line_col(const struct srv_req *r, size_t off, long *line, long *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < r->body_len; i++) {
        if (r->body[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Sends 400 "malformed JSON at line L, column C" for byte off, with why (may be ""). */
static void reply_malformed(struct srv_req *r, size_t off, const char *why)
{
    long line, col;

    body_line_col(r, off, &line, &col);
    cJSON *d = cJSON_CreateObject();
    if (d != NULL) {
        cJSON_AddNumberToObject(d, "line", (double)line);
        cJSON_AddNumberToObject(d, "column", (double)col);
    }
    srv_http_reply_error(r, 400, d, "malformed JSON at line %ld, column %ld%s%s", line, col,
                         why[0] != '\0' ? ": " : "", why);
}

cJSON *srv_http_json_body(struct srv_req *r)
{
    const char *end = NULL;

    if (r->body == NULL || r->body_len == 0) {
        srv_http_reply_error(r, 400, NULL, "the request needs a JSON body");
        return NULL;
    }
    size_t bad = 0;
    if (!nn_utf8_valid(r->body, r->body_len, &bad)) {
        long line = 1, col = 1;
        for (size_t i = 0; i < bad; i++) {
            line += r->body[i] == '\n';
            col = r->body[i] == '\n' ? 1 : col + 1;
        }
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddNumberToObject(d, "line", (double)line);
            cJSON_AddNumberToObject(d, "column", (double)col);
        }
        srv_http_reply_error(r, 400, d,
                             "the JSON body is not UTF-8 (byte 0x%02x at line %ld, column %ld)",
                             (unsigned)(unsigned char)r->body[bad], line, col);
        return NULL;
    }
    long depth = 0;
    struct nn_err derr;
    if (srv_security_json_depth(r->body, r->body_len, r->app->cfg->max_json_depth, &depth, &derr) !=
        0) {
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddNumberToObject(d, "limit", (double)r->app->cfg->max_json_depth);
            cJSON_AddNumberToObject(d, "offset", (double)derr.col);
        }
        srv_http_reply_error(r, 400, d, "%s", derr.msg);
        return NULL;
    }
    /* what cJSON would let through: raw control characters, and \u0000, which it decodes
     * into a NUL that cuts the string ("iris\u0000x" read as "iris") */
    int rc = srv_json_check_text(r->body, r->body_len, &derr);
    if (rc == NN_EFORMAT) {
        reply_malformed(r, (size_t)derr.col - 1, derr.msg);
        return NULL;
    }
    if (rc != 0) {
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddStringToObject(d, "field", derr.field);
        }
        srv_http_reply_error(r, 400, d, "%s", derr.msg);
        return NULL;
    }
    cJSON *doc = cJSON_ParseWithLengthOpts(r->body, r->body_len, &end, 0);
    if (doc == NULL) {
        /* the fault: the byte cJSON stopped at */
        reply_malformed(r, end != NULL ? (size_t)(end - r->body) : 0, "");
        return NULL;
    }
    /* cJSON stops after the first value: anything but white space after it is malformed */
    size_t off = end != NULL ? (size_t)(end - r->body) : r->body_len;
    while (off < r->body_len && strchr(" \t\n\r", r->body[off]) != NULL) {
        off++;
    }
    if (off < r->body_len) {
        cJSON_Delete(doc);
        reply_malformed(r, off, "more after the JSON value");
        return NULL;
    }
    return doc;
}

/* ------------------------------------------------------------------------------------------ */
/* Body reading                                                                                */
/* ------------------------------------------------------------------------------------------ */

static void body_fail(struct srv_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error met while reading the body; it is sent once the body has ended. */
static void body_fail(struct srv_req *r, unsigned status, const char *fmt, ...)
{
    va_list ap;

    if (r->body_status != 0) {
        return;
    }
    r->body_status = status;
    va_start(ap, fmt);
    vsnprintf(r->body_msg, sizeof(r->body_msg), fmt, ap);
    va_end(ap);
}

static int spool_open(struct srv_req *r)
{
    unsigned char rnd[12];

    if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) != 0) {
        return NN_EIO;
    }
    int n = snprintf(r->spool_name, sizeof(r->spool_name), "up-");
    for (size_t i = 0; i < sizeof(rnd); i++) {
        n += snprintf(r->spool_name + n, sizeof(r->spool_name) - (size_t)n, "%02x", rnd[i]);
    }
    snprintf(r->spool_name + n, sizeof(r->spool_name) - (size_t)n, ".csv");
    snprintf(r->spool_path, sizeof(r->spool_path), "%s/%s", r->app->spool_dir, r->spool_name);
    r->spool_fd = open(r->spool_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (r->spool_fd < 0) {
        srv_log("error", "cannot create %s: %s", r->spool_path, strerror(errno));
        r->spool_name[0] = '\0';
        return NN_EIO;
    }
    gnutls_hash_hd_t h;
    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0) {
        return NN_EIO;
    }
    r->hash = h;
    return 0;
}

static void spool_write(struct srv_req *r, const char *data, size_t size)
{
    if (r->body_status != 0) {
        return;
    }
    if (r->spool_fd < 0 && spool_open(r) != 0) {
        body_fail(r, 500, "cannot create a spool file for the upload");
        return;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(r->spool_fd, data + done, size - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            body_fail(r, errno == ENOSPC ? 507 : 500, "cannot write the upload: %s",
                      strerror(errno));
            return;
        }
        done += (size_t)w;
    }
    gnutls_hash((gnutls_hash_hd_t)r->hash, data, size);
    r->spool_bytes += size;
}

static void spool_finish(struct srv_req *r)
{
    if (r->hash != NULL) {
        unsigned char d[32];
        gnutls_hash_deinit((gnutls_hash_hd_t)r->hash, d);
        r->hash = NULL;
        for (int i = 0; i < 32; i++) {
            snprintf(r->sha256 + 2 * i, 3, "%02x", d[i]);
        }
    }
    if (r->spool_fd >= 0) {
        if (close(r->spool_fd) != 0) {
            body_fail(r, 500, "cannot close the upload: %s", strerror(errno));
        }
        r->spool_fd = -1;
    }
}

static void json_append(struct srv_req *r, const char *data, size_t size)
{
    if (r->body_status != 0) {
        return;
    }
    if (r->body_len + size + 1 > r->body_cap) {
        size_t ncap = r->body_cap == 0 ? 4096 : r->body_cap;
        while (ncap < r->body_len + size + 1) {
            ncap *= 2;
        }
        if (ncap > r->cap + 1) {
            ncap = (size_t)r->cap + 1;
        }
        char *nb = nn_realloc(r->body, ncap);
        if (nb == NULL) {
            body_fail(r, 500, "out of memory for the request body");
            return;
        }
        r->body = nb;
        r->body_cap = ncap;
    }
    memcpy(r->body + r->body_len, data, size);
    r->body_len += size;
    r->body[r->body_len] = '\0';
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    struct srv_req *r = cls;

    (void)kind;
    (void)filename;
    (void)content_type;
    (void)transfer_encoding;
    if (key == NULL) {
        return MHD_YES;
    }
    if (strcmp(key, "file") == 0) {
        if (off == 0 && r->file_parts++ > 0 && size > 0) {
            body_fail(r, 400, "more than one part named 'file'");
            return MHD_NO;
        }
        if (size > 0) {
            spool_write(r, data, size);
        } else if (r->spool_fd < 0 && r->spool_name[0] == '\0') {
            spool_write(r, "", 0); /* an empty file part still makes a (empty) file */
        }
        return r->body_status == 0 ? MHD_YES : MHD_NO;
    }
    struct srv_field *f = NULL;
    for (int i = 0; i < r->n_fields; i++) {
        if (strcmp(r->fields[i].name, key) == 0) {
            f = &r->fields[i];
        }
    }
    if (f == NULL) {
        if (r->n_fields >= SRV_FIELDS_MAX || strlen(key) >= sizeof(f->name)) {
            body_fail(r, 400, "too many form fields, or a field name too long");
            return MHD_NO;
        }
        if (r->fields == NULL) {
            r->fields = nn_calloc(SRV_FIELDS_MAX, sizeof(*r->fields));
            if (r->fields == NULL) {
                body_fail(r, 500, "out of memory for form fields");
                return MHD_NO;
            }
        }
        f = &r->fields[r->n_fields++];
        snprintf(f->name, sizeof(f->name), "%s", key);
    }
    if (memchr(data, '\0', size) != NULL) {
        body_fail(r, 400, "form field '%s' holds a NUL byte", key);
        return MHD_NO;
    }
    if (f->len + size > FIELD_VALUE_MAX) {
        body_fail(r, 400, "form field '%s' is longer than %d bytes", key, FIELD_VALUE_MAX);
        return MHD_NO;
    }
    char *nv = nn_realloc(f->value, f->len + size + 1);
    if (nv == NULL) {
        body_fail(r, 500, "out of memory for a form field");
        return MHD_NO;
    }
    memcpy(nv + f->len, data, size);
    f->len += size;
    nv[f->len] = '\0';
    f->value = nv;
    return MHD_YES;
}

static void body_chunk(struct srv_req *r, const char *data, size_t size)
{
    r->received += size;
    if (r->received > r->cap) {
        body_fail(r, 413, "the request body is larger than the limit of %llu bytes", r->cap);
        if (r->spool_fd >= 0) {
            close(r->spool_fd);
            r->spool_fd = -1;
        }
        nn_free(r->body);
        r->body = NULL;
        r->body_len = r->body_cap = 0;
        return;
    }
    if (r->body_status != 0) {
        return; /* discarding the rest */
    }
    switch (r->body_kind) {
    case SRV_BODY_JSON:
    case SRV_BODY_MAIL:
    case SRV_BODY_ONNX:
        json_append(r, data, size);
        break;
    case SRV_BODY_CSV:
        spool_write(r, data, size);
        break;
    case SRV_BODY_FORM:
        if (r->pp != NULL && MHD_post_process(r->pp, data, size) != MHD_YES) {
            body_fail(r, 400, "malformed multipart/form-data body");
        }
        break;
    default:
        body_fail(r, 415, "this endpoint takes no request body");
        break;
    }
}

static void body_end(struct srv_req *r)
{
    if (r->pp != NULL) {
        if (MHD_destroy_post_processor(r->pp) != MHD_YES && r->body_status == 0) {
            body_fail(r, 400, "malformed or truncated multipart/form-data body");
        }
        r->pp = NULL;
    }
    spool_finish(r);
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
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddNumberToObject(d, "limit_bytes", (double)cfg->max_url_bytes);
        }
        r->url = "(too long)"; /* keep the log line short */
        srv_http_reply_error(r, 414, d, "the request target is longer than %ld bytes",
                             cfg->max_url_bytes);
        return 1;
    }
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_header_size, &hdr);
    if (hdr > (size_t)cfg->max_header_kb * 1024) {
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddNumberToObject(d, "limit_bytes", (double)cfg->max_header_kb * 1024);
        }
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

/* The media type of the request without parameters, lower case. */
static void media_type(struct srv_req *r, char *out, size_t cap)
{
    const char *ct = srv_http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t n = 0;

    if (ct != NULL) {
        while (*ct == ' ') {
            ct++;
        }
        for (; ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ' && n + 1 < cap; n++) {
            out[n] = (char)((ct[n] >= 'A' && ct[n] <= 'Z') ? ct[n] + 32 : ct[n]);
        }
    }
    out[n] = '\0';
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
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddStringToObject(d, "transfer_encoding", te);
        }
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
    const struct srv_config *cfg = r->app->cfg;

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
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddStringToObject(d, "allow", allow);
        }
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
    char mt[96];
    media_type(r, mt, sizeof(mt));
    if ((rt->bodies & SRV_BODY_JSON) &&
        (mt[0] == '\0' || strcmp(mt, "application/json") == 0 ||
         strcmp(mt, "application/x-www-form-urlencoded") == 0 || /* curl -d's default */
         (strlen(mt) > 5 && strcmp(mt + strlen(mt) - 5, "+json") == 0))) {
        r->body_kind = SRV_BODY_JSON;
        r->cap = (unsigned long long)(rt->big_body ? cfg->max_upload_mb : cfg->max_json_mb) << 20;
    } else if ((rt->bodies & SRV_BODY_CSV) &&
               (strcmp(mt, "text/csv") == 0 || (mt[0] == '\0' && !(rt->bodies & SRV_BODY_JSON)))) {
        r->body_kind = SRV_BODY_CSV;
        r->cap = (unsigned long long)cfg->max_upload_mb << 20;
    } else if ((rt->bodies & SRV_BODY_MAIL) &&
               (strcmp(mt, "message/rfc822") == 0 || strcmp(mt, "text/plain") == 0)) {
        r->body_kind = SRV_BODY_MAIL;
        r->cap = (unsigned long long)SRV_MAIL_MAX_MB << 20;
    } else if ((rt->bodies & SRV_BODY_ONNX) && strcmp(mt, "application/onnx") == 0) {
        r->body_kind = SRV_BODY_ONNX;
        r->cap = (unsigned long long)cfg->max_upload_mb << 20;
    } else if ((rt->bodies & SRV_BODY_FORM) && strcmp(mt, "multipart/form-data") == 0) {
        r->body_kind = SRV_BODY_FORM;
        r->cap = (unsigned long long)cfg->max_upload_mb << 20;
        r->pp = MHD_create_post_processor(r->conn, PP_BUFFER, on_part, r);
        if (r->pp == NULL) {
            srv_http_reply_error(r, 400, NULL, "malformed multipart/form-data header (boundary?)");
            return 1;
        }
    } else if (rt->bodies == 0) {
        srv_http_reply_error(r, 415, NULL, "%s %s takes no request body", rt->method, rt->pattern);
        return 1;
    } else {
        const char *want = (rt->bodies & SRV_BODY_MAIL)   ? "application/json, message/rfc822 or "
                                                            "text/plain"
                           : rt->bodies == SRV_BODY_JSON  ? "application/json"
                           : (rt->bodies & SRV_BODY_ONNX) ? "application/json or application/onnx"
                           : rt->bodies == (SRV_BODY_CSV | SRV_BODY_FORM)
                               ? "multipart/form-data or text/csv"
                               : "application/json or text/csv";
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddStringToObject(d, "content_type", mt);
        }
        srv_http_reply_error(r, 415, d, "unsupported Content-Type '%s': send %s", mt, want);
        return 1;
    }
    if (length > r->cap) {
        cJSON *d = cJSON_CreateObject();
        if (d != NULL) {
            cJSON_AddNumberToObject(d, "limit_bytes", (double)r->cap);
        }
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
            body_chunk(r, upload_data, *upload_data_size);
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
    body_end(r);
    if (r->body_status != 0) {
        cJSON *d = NULL;
        if (r->body_status == 413) {
            d = cJSON_CreateObject();
            if (d != NULL) {
                cJSON_AddNumberToObject(d, "limit_bytes", (double)r->cap);
            }
        }
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
