/*
 * mhd_empty: the ceiling for bench/system_bench.py — an HTTP server that does nothing, built
 * with libmicrohttpd exactly as server/http.c builds the daemon's.
 *
 * What and why: `make bench` reports the daemon's POST /predict requests per second as a
 * fraction of what libmicrohttpd itself can serve on this machine with the same options, so the
 * figure says how much the daemon's own work (routing, JSON, prediction, logging) costs. Same
 * daemon options as srv_http_start: MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
 * MHD_USE_ITC | MHD_USE_ERROR_LOG, a thread pool of max(cores, 2) threads (or argv[2]),
 * connection timeout 60 s, 32 KiB per connection, 1024 connections (256 from one address), a
 * completion callback, a per-request context allocated on the first call and freed when the
 * request completes (as the daemon does). The handler reads the body (discarding it) and
 * answers 200 with a small JSON reply and the same two headers the daemon sends.
 *
 * Usage: mhd_empty PORT [THREADS]; listens on 127.0.0.1, runs until SIGTERM or SIGINT.
 * Built by scripts/run-bench.sh (not by the Makefile: it is not a benchmark on its own).
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char reply[] = "{\"ok\":true}";

struct req {
    size_t body_len;
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct req *r = *req_cls;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    if (r == NULL) {
        r = calloc(1, sizeof(*r));
        if (r == NULL) {
            return MHD_NO;
        }
        *req_cls = r;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        r->body_len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    resp =
        MHD_create_response_from_buffer(sizeof(reply) - 1, (void *)reply, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header(resp, "X-Request-Id", "0123456789abcdef");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*req_cls);
    *req_cls = NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in a4;
    struct MHD_Daemon *d;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned int threads;
    sigset_t set;
    int sig;

    if (argc < 2) {
        fprintf(stderr, "usage: mhd_empty PORT [THREADS]\n");
        return 2;
    }
    threads = argc > 2 ? (unsigned int)atoi(argv[2]) : (unsigned int)(cores > 2 ? cores : 2);
    memset(&a4, 0, sizeof(a4));
    a4.sin_family = AF_INET;
    a4.sin_port = htons((uint16_t)atoi(argv[1]));
    inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
    sigaction(SIGPIPE, &(struct sigaction){.sa_handler = SIG_IGN}, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
        (uint16_t)atoi(argv[1]), NULL, NULL, &on_request, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&a4, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
        60u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024, MHD_OPTION_CONNECTION_LIMIT,
        1024u, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 256u, MHD_OPTION_NOTIFY_COMPLETED, &on_completed,
        NULL, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_empty: cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    printf("mhd_empty: listening on 127.0.0.1:%s, %u threads\n", argv[1], threads);
    fflush(stdout);
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    return 0;
}
