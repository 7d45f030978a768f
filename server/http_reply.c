/*
 * http_reply: every reply of the HTTP front (see http.h): status code names, extra headers,
 * JSON, empty, buffer and file replies, and the one error reply (srv_http_reply_error) with
 * the mapping of NN_E* codes to statuses (srv_http_reply_nn). Each reply carries X-Request-Id.
 */
#include "http.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "nn/alloc.h"
#include "nn/utf8.h"
#include "store.h"

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

cJSON *srv_http_details_num(const char *key, double value)
{
    cJSON *d = cJSON_CreateObject();

    if (d != NULL) {
        cJSON_AddNumberToObject(d, key, value);
    }
    return d;
}

cJSON *srv_http_details_str(const char *key, const char *value)
{
    cJSON *d = cJSON_CreateObject();

    if (d != NULL) {
        cJSON_AddStringToObject(d, key, value);
    }
    return d;
}

int srv_http_reply_field(struct srv_req *r, unsigned status, const char *field, long index,
                         const char *msg)
{
    cJSON *d = srv_http_details_str("field", field);

    if (d != NULL && index >= 0) {
        cJSON_AddNumberToObject(d, "index", (double)index);
    }
    return srv_http_reply_error(r, status, d, "%s", msg);
}
