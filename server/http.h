/*
 * http: the daemon's HTTP front on libmicrohttpd — an internal thread pool over epoll,
 * connection timeout, per-connection memory limit and connection limit — and the request
 * life cycle every endpoint shares: route, auth, readiness, body limits, body reading, one
 * reply, one log line, metrics, cleanup.
 *
 * The handler is MHD's three-step one: on the first call (headers only) the request is
 * routed and checked, and refused at once (404, 405, 401, 503, 415, 413 by Content-Length)
 * without reading the body; then the body arrives in pieces: JSON into a buffer with a hard
 * cap, text/csv straight into a spool file, multipart/form-data through MHD_PostProcessor
 * with the `file` part streamed to a spool file (SHA-256 hashed as it arrives) and the
 * other fields kept as short strings. Bytes are counted as they arrive, so a chunked body
 * past the cap is discarded, never held, and answered 413. Then the route's handler runs
 * once. Per-request state lives in struct srv_req and is freed only in the completion
 * callback. Every reply carries X-Request-Id (the client's, when it sent a sane one).
 * Errors are sent by one function (srv_http_reply_error / _nn) in the JSON shape of API.md.
 * Thread-safety: a srv_req belongs to the one MHD thread serving its connection.
 */
#ifndef NEUROND_SERVER_HTTP_H
#define NEUROND_SERVER_HTTP_H

#include <cJSON.h>
#include <stddef.h>

#include "app.h"
#include "nn/err.h"

#define SRV_ARGS_MAX    4
#define SRV_ARG_LEN     128
#define SRV_FIELDS_MAX  64
#define SRV_HEADERS_MAX 4

/* Body kinds a route accepts (bit set) and a request carries. */
#define SRV_BODY_NONE   0
#define SRV_BODY_JSON   1
#define SRV_BODY_CSV    2
#define SRV_BODY_FORM   4
#define SRV_BODY_MAIL   8  /* message/rfc822 or text/plain, kept in memory like JSON */
#define SRV_BODY_ONNX   16 /* application/onnx (an ONNX ModelProto), kept in memory like JSON */
#define SRV_MAIL_MAX_MB 32 /* cap of a raw e-mail body (the decoder's input limit) */

struct MHD_Connection;
struct MHD_PostProcessor;
struct srv_http;
struct srv_conns;
struct srv_conn;

/* One multipart form field other than the file. */
struct srv_field {
    char name[64];
    char *value; /* NUL-terminated, owned */
    size_t len;
};

/* One request in flight. Fields marked (handler) are for the endpoint code to read. */
struct srv_req {
    struct srv_app *app; /* (handler) */
    struct MHD_Connection *conn;
    struct srv_conns *conns; /* the connection guard */
    struct srv_conn *slot;   /* this connection in it; NULL when untracked */
    const char *method;      /* (handler) borrowed from MHD for the request */
    const char *url;         /* (handler) decoded path, no query string */
    char id[72];             /* request id */
    long long t0_us;
    int route;                            /* index in the route table; -1 none */
    char args[SRV_ARGS_MAX][SRV_ARG_LEN]; /* (handler) path captures, in order */
    int n_args;
    int body_kind;               /* (handler) SRV_BODY_* of the body read */
    unsigned long long received; /* body bytes seen */
    unsigned long long cap;      /* body cap for this request */
    /* JSON body */
    char *body; /* (handler) NUL-terminated; NULL when none */
    size_t body_len, body_cap;
    /* spool file: a text/csv body or the multipart `file` part */
    int spool_fd;        /* -1 when closed */
    char spool_name[64]; /* (handler) "" when none; name inside the spool dir */
    char spool_path[SRV_CONFIG_STR_MAX + 80]; /* (handler) */
    unsigned long long spool_bytes;           /* (handler) */
    char sha256[65];                          /* (handler) hex digest of the spool file */
    void *hash;                               /* gnutls_hash_hd_t while hashing */
    int spool_keep;                           /* (handler) set to keep the file after the request */
    int file_parts;                           /* multipart parts named `file` seen */
    struct MHD_PostProcessor *pp;
    struct srv_field *fields; /* (handler) multipart fields; NULL until the first */
    int n_fields;
    /* an error found while reading the body, sent when it ends */
    unsigned body_status;
    char body_msg[200];
    /* the reply */
    unsigned status;
    size_t resp_bytes;
    int responded;
    int deferred; /* no body: routed and checked on the last call, not the first */
    char hdr[SRV_HEADERS_MAX][2][256]; /* extra reply headers */
    int n_hdr;
};

/**
 * Starts the HTTP daemon on cfg->bind:cfg->port with the pool, timeouts and limits of the
 * configuration. Requests are refused with 503 until app->ready is set.
 * @return 0 or NN_EIO (cannot listen). Ownership: *out is new; srv_http_stop.
 */
int srv_http_start(struct srv_app *app, struct srv_http **out, struct nn_err *err);

/** The port listened on (useful with --port 0). */
int srv_http_port(struct srv_http *h);

/**
 * Stops gracefully: waits up to wait_ms for every request in flight to finish (the caller
 * sets app->stopping first, so each reply meanwhile closes its connection), then stops the
 * daemon, which closes the listening socket, and frees it. NULL-safe.
 */
void srv_http_stop(struct srv_http *h, long wait_ms);

/* ----- for the endpoint handlers (api_*.c) ----- */

/** A query-string argument, or NULL. Borrowed; valid for the request. */
const char *srv_http_query(struct srv_req *r, const char *key);

/** A request header, or NULL. Borrowed; valid for the request. */
const char *srv_http_header(struct srv_req *r, const char *name);

/**
 * Calls fn for every query argument (key, value; value may be NULL). Stops when fn returns
 * non-zero. @return that value, or 0.
 */
int srv_http_query_each(struct srv_req *r, int (*fn)(void *ud, const char *k, const char *v),
                        void *ud);

/** A multipart field's value, or NULL. Borrowed; valid for the request. */
const char *srv_http_field(struct srv_req *r, const char *name);

/**
 * Parses the JSON body (cJSON_ParseWithLengthOpts).
 * @return a new document (cJSON_Delete), or NULL after sending 400 (the caller returns 0).
 */
cJSON *srv_http_json_body(struct srv_req *r);

/** Adds a header to the reply about to be sent (Location, Allow, ...). Copied. */
void srv_http_add_header(struct srv_req *r, const char *name, const char *value);

/**
 * Sends a JSON reply. Takes ownership of doc, even on failure.
 * @return 0, or NN_ENOMEM / NN_EIO when it could not be queued.
 */
int srv_http_reply_json(struct srv_req *r, unsigned status, cJSON *doc);

/** Sends a reply with no body (204). */
int srv_http_reply_empty(struct srv_req *r, unsigned status);

/**
 * Sends a body already in memory. Takes ownership of buf (nn_malloc'd), even on failure.
 */
int srv_http_reply_buffer(struct srv_req *r, unsigned status, const char *content_type, char *buf,
                          size_t len);

/**
 * Sends the contents of an open file from offset 0. Takes ownership of fd, even on failure.
 */
int srv_http_reply_fd(struct srv_req *r, unsigned status, const char *content_type, int fd,
                      unsigned long long size);

/**
 * Sends an error in the shape of API.md: {"error": msg, "code": code-for-status, "details"}.
 * @param details [in] a JSON object or NULL ({}); taken, even on failure.
 */
int srv_http_reply_error(struct srv_req *r, unsigned status, cJSON *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/**
 * The one mapping from an nn/err code to an HTTP error reply: NN_ENOTFOUND 404,
 * NN_EFORMAT 400, NN_EINVAL and NN_ERANGE `input_status` (400 for requests and parameters,
 * 422 for instances that do not fit a model), NN_ECANCELED 409, anything else 500 (logged).
 * details, when NULL, are made from err: CSV {"line", "column"} when err->line is set,
 * else {"field"} when err->field is.
 * @param details [in] taken, even on failure.
 */
int srv_http_reply_nn(struct srv_req *r, int code, const struct nn_err *err, unsigned input_status,
                      cJSON *details);

/** The API.md error code name of an HTTP status ("bad_request", ...). */
const char *srv_http_status_code(unsigned status);

/** A new details object {key: value} for srv_http_reply_error (which takes it, NULL too).
 * @return the object, or NULL when out of memory. */
cJSON *srv_http_details_num(const char *key, double value);

/** As srv_http_details_num, for a string value (copied). */
cJSON *srv_http_details_str(const char *key, const char *value);

/**
 * Replies status with details {"field": field, "index": index} (index < 0: no index) and msg
 * as the error sentence: the reply of a JSON body's bad field or bad item.
 */
int srv_http_reply_field(struct srv_req *r, unsigned status, const char *field, long index,
                         const char *msg);

#endif
