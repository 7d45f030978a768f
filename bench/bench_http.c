/*
 * bench_http: HTTP prediction throughput of the daemon against the ceiling of its HTTP
 * library, with wrk over loopback.
 *
 * What it prints: requests per second and p50/p99 latency for POST /predict of one row of a
 * 57 -> 64 relu -> 1 sigmoid model (imported as hand-written JSON with fixed pseudo-random
 * weights) with 64 connections; the same figures for an empty libmicrohttpd handler built
 * the same way as server/http.c (internal thread pool over epoll, same pool size, the same
 * request body read and a small JSON reply) — the ceiling — and the ratio; then rows per
 * second for 1,000-row batch predictions.
 * How: the empty handler runs in this process; the daemon is $BIN/neurond serve (BIN
 * defaults to bin) started on a free port with a temporary database and request logging
 * off. wrk runs BENCH_HTTP_SECONDS (default 5) per figure with 2 threads. On a small machine
 * wrk shares the cores with the server, so the absolute figures are lower than on a
 * dedicated client; the ratio is the figure to read. Skipped (exit 0) when wrk is missing.
 */
#include <arpa/inet.h>
#include <cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nn/rng.h"

#define N_IN     57
#define N_HIDDEN 64
#define BATCH    1000

struct wrk_result {
    double rps;
    double p50_ms, p99_ms;
    long errors;
};

/* ----- the empty handler: read the body, answer a small JSON ------------------------------ */

static const char empty_reply[] = "{\"ok\":true}";

static enum MHD_Result empty_handler(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version, const char *upload,
                                     size_t *upload_size, void **req)
{
    static int marker;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    if (*req == NULL) {
        *req = &marker;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof(empty_reply) - 1, (void *)empty_reply, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json; charset=utf-8");
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

/* ----- a tiny blocking HTTP client for set-up calls --------------------------------------- */

/* Sends one request with Connection: close; returns the status, or -1. */
static int http_call(int port, const char *method, const char *path, const char *body)
{
    struct sockaddr_in a;
    char head[512];
    char buf[4096];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int status = -1;

    if (fd < 0) {
        return -1;
    }
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    size_t blen = body != NULL ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     method, path, blen);
    if (write(fd, head, (size_t)n) != n || (blen > 0 && write(fd, body, blen) != (ssize_t)blen)) {
        close(fd);
        return -1;
    }
    ssize_t got = read(fd, buf, sizeof(buf) - 1);
    if (got > 12) {
        buf[got] = '\0';
        status = atoi(buf + 9);
    }
    while (got > 0) {
        got = read(fd, buf, sizeof(buf));
    }
    close(fd);
    return status;
}

static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* ----- the model and the request bodies --------------------------------------------------- */

static char *model_json(void)
{
    struct nn_rng rng;
    cJSON *doc = cJSON_CreateObject();
    char name[16];

    nn_rng_seed(&rng, 42);
    cJSON_AddStringToObject(doc, "task", "classification");
    cJSON *inputs = cJSON_AddArrayToObject(doc, "inputs");
    for (int i = 0; i < N_IN; i++) {
        cJSON *in = cJSON_CreateObject();
        snprintf(name, sizeof(name), "x%d", i);
        cJSON_AddStringToObject(in, "name", name);
        cJSON_AddStringToObject(in, "type", "numeric");
        cJSON_AddBoolToObject(in, "scale", 0);
        cJSON_AddItemToArray(inputs, in);
    }
    cJSON *label = cJSON_AddObjectToObject(doc, "label");
    cJSON_AddStringToObject(label, "name", "y");
    cJSON *classes = cJSON_AddArrayToObject(label, "classes");
    cJSON_AddItemToArray(classes, cJSON_CreateString("0"));
    cJSON_AddItemToArray(classes, cJSON_CreateString("1"));
    cJSON *layers = cJSON_AddArrayToObject(doc, "layers");
    int shape[2][2] = {{N_HIDDEN, N_IN}, {1, N_HIDDEN}};
    for (int l = 0; l < 2; l++) {
        cJSON *layer = cJSON_CreateObject();
        cJSON *w = cJSON_AddArrayToObject(layer, "weights");
        cJSON *b = cJSON_AddArrayToObject(layer, "bias");
        for (int o = 0; o < shape[l][0]; o++) {
            cJSON *row = cJSON_CreateArray();
            for (int i = 0; i < shape[l][1]; i++) {
                cJSON_AddItemToArray(row, cJSON_CreateNumber(nn_rng_normal(&rng) * 0.2));
            }
            cJSON_AddItemToArray(w, row);
            cJSON_AddItemToArray(b, cJSON_CreateNumber(0.0));
        }
        cJSON_AddStringToObject(layer, "activation", l == 0 ? "relu" : "sigmoid");
        cJSON_AddItemToArray(layers, layer);
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}

static char *predict_json(int rows)
{
    struct nn_rng rng;
    cJSON *doc = cJSON_CreateObject();

    nn_rng_seed(&rng, 7);
    cJSON_AddStringToObject(doc, "model", "bench");
    cJSON *inst = cJSON_AddArrayToObject(doc, "instances");
    for (int r = 0; r < rows; r++) {
        cJSON *row = cJSON_CreateArray();
        for (int i = 0; i < N_IN; i++) {
            char v[16];
            snprintf(v, sizeof(v), "%.3f", nn_rng_uniform(&rng));
            cJSON_AddItemToArray(row, cJSON_CreateNumber(strtod(v, NULL)));
        }
        cJSON_AddItemToArray(inst, row);
    }
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}

/* ----- wrk ------------------------------------------------------------------------------- */

static double to_ms(const char *num)
{
    char *end = NULL;
    double v = strtod(num, &end);

    if (strncmp(end, "us", 2) == 0) {
        return v / 1000.0;
    }
    if (strncmp(end, "ms", 2) == 0) {
        return v;
    }
    if (end[0] == 's') {
        return v * 1000.0;
    }
    return v;
}

/* Runs wrk with a Lua script posting body to url; fills res. 0 or -1. */
static int run_wrk(const char *dir, const char *url, const char *body, int seconds,
                   struct wrk_result *res)
{
    char script[512], cmd[1024], line[512];

    snprintf(script, sizeof(script), "%s/post.lua", dir);
    FILE *f = fopen(script, "w");
    if (f == NULL) {
        return -1;
    }
    fprintf(f,
            "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
            "wrk.body = [=[%s]=]\n",
            body);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "wrk -t2 -c64 -d%ds --timeout 30s --latency -s %s %s 2>&1", seconds,
             script, url);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        return -1;
    }
    memset(res, 0, sizeof(*res));
    int in_dist = 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        char *s = line;
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (strncmp(s, "Requests/sec:", 13) == 0) {
            res->rps = strtod(s + 13, NULL);
        } else if (strncmp(s, "Latency Distribution", 20) == 0) {
            in_dist = 1;
        } else if (in_dist && strncmp(s, "50%", 3) == 0) {
            res->p50_ms = to_ms(s + 3 + strspn(s + 3, " \t"));
        } else if (in_dist && strncmp(s, "99%", 3) == 0) {
            res->p99_ms = to_ms(s + 3 + strspn(s + 3, " \t"));
        } else if (strncmp(s, "Non-2xx or 3xx responses:", 25) == 0) {
            res->errors += strtol(s + 25, NULL, 10);
        } else if (strncmp(s, "Socket errors:", 14) == 0) {
            long a = 0, b = 0, c = 0, d = 0;
            if (sscanf(s, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &a, &b,
                       &c, &d) == 4) {
                res->errors += a + b + c + d;
            }
        }
    }
    return pclose(p) == 0 && res->rps > 0 ? 0 : -1;
}

static void print_row(const char *what, const struct wrk_result *r)
{
    printf("  %-34s %10.0f req/s   p50 %7.3f ms   p99 %7.3f ms   errors %ld\n", what, r->rps,
           r->p50_ms, r->p99_ms, r->errors);
}

static void machine(void)
{
    char line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");

    if (f != NULL) {
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                printf("machine: %s", c != NULL ? c + 2 : line);
                break;
            }
        }
        fclose(f);
    }
    printf("cores: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
}

int main(void)
{
    const char *bin = getenv("BIN") != NULL ? getenv("BIN") : "bin";
    const char *sec_env = getenv("BENCH_HTTP_SECONDS");
    int seconds = sec_env != NULL ? atoi(sec_env) : 5;
    char dir[] = "/tmp/neurond-bench-http-XXXXXX";
    char exe[512], db[512], url[128], port_s[16];
    struct wrk_result empty, one, batch;
    pid_t pid = -1;
    int status = 1;

    printf("== bench_http: POST /predict over loopback (wrk -t2 -c64, %d s per figure) ==\n",
           seconds);
    if (system("command -v wrk >/dev/null 2>&1") != 0) {
        printf("skipped: wrk is not installed (make bench installs it)\n");
        return 0;
    }
    machine();
    snprintf(exe, sizeof(exe), "%s/neurond", bin);
    if (access(exe, X_OK) != 0 || mkdtemp(dir) == NULL) {
        fprintf(stderr, "bench_http: %s missing (make first) or no temp dir\n", exe);
        return 1;
    }
    char *model = model_json();
    char *row = predict_json(1);
    char *rows = predict_json(BATCH);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned int threads = (unsigned int)(cores > 2 ? cores : 2);

    /* the ceiling: an empty handler, built the same way */
    int eport = free_port();
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC, (uint16_t)eport, NULL, NULL,
        &empty_handler, NULL, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)60, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bench_http: cannot start the empty handler\n");
        goto out;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/predict", eport);
    int rc = run_wrk(dir, url, row, seconds, &empty);
    MHD_stop_daemon(d);
    if (rc != 0) {
        fprintf(stderr, "bench_http: wrk failed against the empty handler\n");
        goto out;
    }

    /* the daemon */
    int port = free_port();
    snprintf(port_s, sizeof(port_s), "%d", port);
    snprintf(db, sizeof(db), "%s/bench.db", dir);
    pid = fork();
    if (pid == 0) {
        freopen("/dev/null", "w", stderr);
        execl(exe, exe, "serve", "--port", port_s, "--db", db, "--log-requests", "0", (char *)NULL);
        _exit(127);
    }
    int ready = 0;
    for (int i = 0; i < 200 && !ready; i++) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
        ready = http_call(port, "GET", "/readyz", NULL) == 200;
    }
    if (!ready || http_call(port, "POST", "/models/bench/import", model) != 201 ||
        http_call(port, "POST", "/predict", row) != 200) {
        fprintf(stderr, "bench_http: the daemon did not start or import the model\n");
        goto out;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/predict", port);
    if (run_wrk(dir, url, row, seconds, &one) != 0 ||
        run_wrk(dir, url, rows, seconds, &batch) != 0) {
        fprintf(stderr, "bench_http: wrk failed against the daemon\n");
        goto out;
    }
    print_row("empty libmicrohttpd handler", &empty);
    print_row("POST /predict, 1 row (57-64-1)", &one);
    printf("  %-34s %10.2f of the empty handler's req/s\n", "ratio", one.rps / empty.rps);
    print_row("POST /predict, 1,000 rows", &batch);
    printf("  %-34s %10.0f rows/s\n", "batch throughput", batch.rps * BATCH);
    status = one.errors == 0 && batch.errors == 0 && empty.errors == 0 ? 0 : 1;
out:
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    char clean[600];
    snprintf(clean, sizeof(clean), "rm -rf '%s'", dir);
    if (system(clean) != 0) {
        fprintf(stderr, "bench_http: could not remove %s\n", dir);
    }
    cJSON_free(model);
    cJSON_free(row);
    cJSON_free(rows);
    return status;
}
