/*
 * http_body: the request's data as handlers read it (query, headers, form fields, the JSON
 * body checked and parsed) and the reading of the body as it arrives: JSON and mail into a
 * buffer with a hard cap, text/csv and the multipart `file` part into a spool file hashed
 * with SHA-256 on the way, other form fields as short strings (see http.h).
 */
#include "http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json_check.h"
#include "log.h"
#include "nn/alloc.h"
#include "nn/utf8.h"
#include "security.h"

#define FIELD_VALUE_MAX (64 * 1024)
#define PP_BUFFER       (64 * 1024)

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

/* {"line": L, "column": C} of byte off of the body, for an error's details. */
static cJSON *line_col_details(const struct srv_req *r, size_t off, long *line, long *col)
{
    body_line_col(r, off, line, col);
    cJSON *d = srv_http_details_num("line", (double)*line);
    if (d != NULL) {
        cJSON_AddNumberToObject(d, "column", (double)*col);
    }
    return d;
}

/* Sends 400 "malformed JSON at line L, column C" for byte off, with why (may be ""). */
static void reply_malformed(struct srv_req *r, size_t off, const char *why)
{
    long line, col;
    cJSON *d = line_col_details(r, off, &line, &col);

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
        long line, col;
        cJSON *d = line_col_details(r, bad, &line, &col);
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
        cJSON *d = srv_http_details_str("field", derr.field);
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

void srv_http_body_chunk(struct srv_req *r, const char *data, size_t size)
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

void srv_http_body_end(struct srv_req *r)
{
    if (r->pp != NULL) {
        if (MHD_destroy_post_processor(r->pp) != MHD_YES && r->body_status == 0) {
            body_fail(r, 400, "malformed or truncated multipart/form-data body");
        }
        r->pp = NULL;
    }
    spool_finish(r);
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

/* Picks the body kind and cap for route rt from the Content-Type; 0, or 1 after a 415/400. */
int srv_http_body_start(struct srv_req *r, const struct srv_route *rt)
{
    const struct srv_config *cfg = r->app->cfg;

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
        cJSON *d = srv_http_details_str("content_type", mt);
        srv_http_reply_error(r, 415, d, "unsupported Content-Type '%s': send %s", mt, want);
        return 1;
    }
    return 0;
}
