/*
 * srv_harness: an in-process neurond for the server fuzz targets — the real store (a fresh
 * SQLite file in a temporary directory), registry, one training worker and the HTTP front on
 * a free loopback port, wired as server/main.c wires them — plus a tiny HTTP/1.1 client.
 *
 * A fuzz input becomes one real request, so it travels the code the daemon runs: MHD's
 * parser, http.c's body reading (the JSON buffer, the spool file, MHD_PostProcessor for
 * multipart), the route's handler and the one error function. The oracle: every request
 * gets a well-formed HTTP reply, no status is 500, and every 4xx body is the JSON error of
 * API.md. The limits are small (3 epochs, 500 rows) so that accepted jobs train quickly.
 * Header-only on purpose: each fuzz target is one translation unit (see the Makefile).
 */
#ifndef NEUROND_TESTS_FUZZ_SRV_HARNESS_H
#define NEUROND_TESTS_FUZZ_SRV_HARNESS_H

#include <arpa/inet.h>
#include <cJSON.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "nn/alloc.h"
#include "server/api_models.h"
#include "server/api_train.h"
#include "server/app.h"
#include "server/http.h"
#include "server/jobs.h"
#include "server/metrics.h"
#include "server/registry.h"
#include "server/router.h"
#include "server/store.h"

struct harness {
    struct srv_config cfg;
    struct srv_app app;
    struct srv_http *http;
    int port;
    char dir[256];
};

/* Starts the in-process daemon once; exits the process when it cannot. */
static struct harness *harness_start(void)
{
    static struct harness h; /* one per fuzz process, made before any request thread */
    struct nn_err err;
    int help = 0;
    char *argv[] = {"serve", NULL};
    char db[400];

    signal(SIGPIPE, SIG_IGN);
    cJSON_Hooks hooks = {nn_malloc, nn_free};
    cJSON_InitHooks(&hooks);
    snprintf(h.dir, sizeof(h.dir), "/tmp/neurond-fuzz-XXXXXX");
    if (mkdtemp(h.dir) == NULL || srv_config_load(&h.cfg, 1, argv, &help, &err) != 0) {
        fprintf(stderr, "harness: set-up failed\n");
        exit(1);
    }
    snprintf(h.cfg.bind, sizeof(h.cfg.bind), "127.0.0.1");
    h.cfg.port = 0;
    h.cfg.threads = 2;
    h.cfg.log_requests = 0;
    h.cfg.max_epochs = 3;
    h.cfg.max_csv_rows = 500;
    h.cfg.max_csv_columns = 64;
    h.cfg.max_layer_width = 64;
    h.cfg.max_instances = 100;
    h.cfg.max_upload_mb = 4;
    h.cfg.max_json_mb = 4;
    h.cfg.queue_size = 4;
    snprintf(db, sizeof(db), "%s/neurond.db", h.dir);
    snprintf(h.cfg.db, sizeof(h.cfg.db), "%s", db);
    memset(&h.app, 0, sizeof(h.app));
    h.app.cfg = &h.cfg;
    snprintf(h.app.spool_dir, sizeof(h.app.spool_dir), "%s/spool", h.dir);
    mkdir(h.app.spool_dir, 0700);
    if (srv_metrics_new(srv_router_labels(), srv_router_count(), &h.app.metrics, &err) != 0 ||
        srv_http_start(&h.app, &h.http, &err) != 0 || store_open(db, &h.app.store, &err) != 0 ||
        srv_registry_new(srv_api_models_load, srv_api_models_free, h.app.store, &h.app.reg, &err) !=
            0 ||
        srv_jobs_new(1, h.cfg.queue_size, srv_api_train_run, &h.app, &h.app.jobs, &err) != 0) {
        fprintf(stderr, "harness: %s\n", err.msg);
        exit(1);
    }
    h.port = srv_http_port(h.http);
    atomic_store(&h.app.ready, 1);
    return &h;
}

/*
 * Sends one request and reads the whole reply into out (NUL-terminated, cut at cap - 1).
 * Returns the status, or -1 when the connection failed or the reply is not HTTP.
 */
static int harness_request(struct harness *h, const char *method, const char *path,
                           const char *content_type, const uint8_t *body, size_t len, char *out,
                           size_t cap)
{
    struct sockaddr_in a;
    char head[1024];
    size_t got = 0;
    int status = -1;
    int s = socket(AF_INET, SOCK_STREAM, 0);

    if (s < 0) {
        return -1;
    }
    struct timeval tv = {30, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)h->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(s);
        return -1;
    }
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                     method, path, content_type, len);
    if (send(s, head, (size_t)n, MSG_NOSIGNAL) != n) {
        close(s);
        return -1;
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = send(s, body + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            break; /* the daemon may answer (413, 415) and close before the body is sent */
        }
        off += (size_t)w;
    }
    for (;;) {
        ssize_t r = recv(s, out + got, cap - 1 - got, 0);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        if (got == cap - 1) {
            char sink[4096];
            while (recv(s, sink, sizeof(sink), 0) > 0) {
            }
            break;
        }
    }
    out[got] = '\0';
    close(s);
    if (got > 12 && strncmp(out, "HTTP/1.1 ", 9) == 0) {
        status = atoi(out + 9);
    }
    return status;
}

/* The oracle: aborts (a libFuzzer crash) on a 5xx or on an error reply that is not JSON. */
static void harness_check(int status, const char *reply)
{
    if (status < 0) {
        return; /* connection-level refusal: MHD closed it (e.g. a malformed request) */
    }
    if (status >= 500 && status != 503 && status != 507) {
        fprintf(stderr, "harness: status %d\n%.2000s\n", status, reply);
        abort();
    }
    if (status >= 400) {
        const char *body = strstr(reply, "\r\n\r\n");
        if (body == NULL || strstr(reply, "application/json") == NULL ||
            strstr(body, "\"code\":") == NULL || strstr(body, "\"error\":") == NULL) {
            fprintf(stderr, "harness: error reply without the JSON error body\n%.2000s\n", reply);
            abort();
        }
    }
}

#endif
