/*
 * metrics: fixed arrays of atomic counters, rendered on demand into the Prometheus text
 * format. Status codes map onto a small fixed set of slots (the statuses API.md uses, then
 * "other"), so the arrays never grow.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "nn/alloc.h"

static const unsigned statuses[] = {200, 201, 202, 204, 400, 401, 404, 405, 409, 413,
                                    414, 415, 422, 429, 431, 500, 503, 507, 0};
#define N_STATUS (sizeof(statuses) / sizeof(statuses[0]))
/* Upper bounds of the latency buckets, in microseconds (and seconds in the output). */
static const long long buckets_us[] = {100,    250,    500,     1000,    2500,
                                       5000,   10000,  25000,   50000,   100000,
                                       250000, 500000, 1000000, 2500000, 10000000};
#define N_BUCKETS (sizeof(buckets_us) / sizeof(buckets_us[0]))

struct route_stats {
    atomic_ulong by_status[N_STATUS];
    atomic_ulong bucket[N_BUCKETS + 1]; /* non-cumulative; last = +Inf */
    atomic_ullong sum_us;
};

/* Predictions by model: slots claimed once (0 free, 1 being written, 2 ready), never freed,
 * so counting takes no lock; a name claimed twice at once is summed when rendered. */
#define N_MODEL_SLOTS 256
struct model_slot {
    atomic_int state;
    char name[72];
    atomic_ulong count;
};

struct srv_metrics {
    struct model_slot models[N_MODEL_SLOTS];
    atomic_ulong models_other; /* predictions of models past the slots */
    atomic_ulong store_errors;
    atomic_ulong feedback;    /* rows received */
    atomic_ulong retrains[2]; /* held, promoted */
    const char *const *names; /* borrowed */
    int n_routes;
    struct route_stats *routes; /* n_routes + 1; the last is "unmatched" */
    atomic_ulong predictions;
    atomic_ullong training_samples;
    atomic_ullong training_usec;
    _Atomic double training_rate; /* last epoch's rows per second */
};

int srv_metrics_new(const char *const *routes, int n_routes, struct srv_metrics **out,
                    struct nn_err *err)
{
    struct srv_metrics *m = nn_calloc(1, sizeof(*m));

    *out = NULL;
    if (m == NULL) {
        goto fail;
    }
    m->routes = nn_calloc((size_t)n_routes + 1, sizeof(*m->routes));
    if (m->routes == NULL) {
        goto fail;
    }
    m->names = routes;
    m->n_routes = n_routes;
    atomic_init(&m->training_rate, 0.0);
    *out = m;
    return 0;
fail:
    srv_metrics_free(m);
    return nn_err_set(err, NN_ENOMEM, "out of memory for metrics");
}

void srv_metrics_free(struct srv_metrics *m)
{
    if (m == NULL) {
        return;
    }
    nn_free(m->routes);
    nn_free(m);
}

void srv_metrics_request(struct srv_metrics *m, int route, unsigned status, long long us)
{
    if (route < 0 || route >= m->n_routes) {
        route = m->n_routes;
    }
    struct route_stats *r = &m->routes[route];
    size_t s = N_STATUS - 1;
    for (size_t i = 0; i + 1 < N_STATUS; i++) {
        if (statuses[i] == status) {
            s = i;
            break;
        }
    }
    atomic_fetch_add_explicit(&r->by_status[s], 1, memory_order_relaxed);
    size_t b = N_BUCKETS;
    for (size_t i = 0; i < N_BUCKETS; i++) {
        if (us <= buckets_us[i]) {
            b = i;
            break;
        }
    }
    atomic_fetch_add_explicit(&r->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_us, (unsigned long long)(us > 0 ? us : 0),
                              memory_order_relaxed);
}

void srv_metrics_predictions(struct srv_metrics *m, unsigned long n)
{
    atomic_fetch_add_explicit(&m->predictions, n, memory_order_relaxed);
}

void srv_metrics_predictions_model(struct srv_metrics *m, const char *model, unsigned long n)
{
    atomic_fetch_add_explicit(&m->predictions, n, memory_order_relaxed);
    for (int i = 0; i < N_MODEL_SLOTS; i++) {
        struct model_slot *s = &m->models[i];
        int st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == 2 && strcmp(s->name, model) == 0) {
            atomic_fetch_add_explicit(&s->count, n, memory_order_relaxed);
            return;
        }
        if (st == 0) {
            int expect = 0;
            if (atomic_compare_exchange_strong(&s->state, &expect, 1)) {
                snprintf(s->name, sizeof(s->name), "%s", model);
                atomic_fetch_add_explicit(&s->count, n, memory_order_relaxed);
                atomic_store_explicit(&s->state, 2, memory_order_release);
                return;
            }
            i--; /* lost the race for this slot: look at it again */
        }
    }
    atomic_fetch_add_explicit(&m->models_other, n, memory_order_relaxed);
}

void srv_metrics_store_error(struct srv_metrics *m)
{
    atomic_fetch_add_explicit(&m->store_errors, 1, memory_order_relaxed);
}

void srv_metrics_feedback(struct srv_metrics *m, unsigned long n)
{
    atomic_fetch_add_explicit(&m->feedback, n, memory_order_relaxed);
}

void srv_metrics_retrain(struct srv_metrics *m, int promoted)
{
    atomic_fetch_add_explicit(&m->retrains[promoted != 0], 1, memory_order_relaxed);
}

void srv_metrics_training(struct srv_metrics *m, unsigned long rows, double seconds)
{
    atomic_fetch_add_explicit(&m->training_samples, rows, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->training_usec, (unsigned long long)(seconds * 1e6),
                              memory_order_relaxed);
    if (seconds > 0) {
        atomic_store(&m->training_rate, (double)rows / seconds);
    }
}

/* A bounded growing text buffer (hard cap: 8 MiB). */
struct text {
    char *p;
    size_t len, cap;
    int failed;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;

    if (t->failed) {
        return;
    }
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = t->cap * 2;
        if (ncap > 8u << 20) {
            t->failed = 1;
            return;
        }
        char *np = nn_realloc(t->p, ncap);
        if (np == NULL) {
            t->failed = 1;
            return;
        }
        t->p = np;
        t->cap = ncap;
    }
}

int srv_metrics_render(struct srv_metrics *m, const struct srv_metrics_gauges *g, char **out,
                       size_t *len, struct nn_err *err)
{
    static const char *const job_status[5] = {"queued", "running", "succeeded", "failed",
                                              "cancelled"};
    struct text t = {nn_malloc(16384), 0, 16384, 0};

    *out = NULL;
    if (t.p == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory for metrics");
    }
    put(&t, "# HELP neurond_http_requests_total HTTP requests by route and status.\n"
            "# TYPE neurond_http_requests_total counter\n");
    for (int r = 0; r <= m->n_routes; r++) {
        const char *name = r < m->n_routes ? m->names[r] : "unmatched";
        for (size_t s = 0; s < N_STATUS; s++) {
            unsigned long v = atomic_load(&m->routes[r].by_status[s]);
            if (v == 0) {
                continue;
            }
            if (statuses[s] != 0) {
                put(&t, "neurond_http_requests_total{route=\"%s\",status=\"%u\"} %lu\n", name,
                    statuses[s], v);
            } else {
                put(&t, "neurond_http_requests_total{route=\"%s\",status=\"other\"} %lu\n", name,
                    v);
            }
        }
    }
    put(&t, "# HELP neurond_http_request_duration_seconds Request latency by route.\n"
            "# TYPE neurond_http_request_duration_seconds histogram\n");
    for (int r = 0; r <= m->n_routes; r++) {
        const char *name = r < m->n_routes ? m->names[r] : "unmatched";
        unsigned long cum = 0;
        unsigned long counts[N_BUCKETS + 1];
        for (size_t b = 0; b <= N_BUCKETS; b++) {
            counts[b] = atomic_load(&m->routes[r].bucket[b]);
            cum += counts[b];
        }
        if (cum == 0) {
            continue;
        }
        cum = 0;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            cum += counts[b];
            put(&t, "neurond_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %lu\n",
                name, (double)buckets_us[b] / 1e6, cum);
        }
        cum += counts[N_BUCKETS];
        put(&t, "neurond_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n",
            name, cum);
        put(&t, "neurond_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", name,
            (double)atomic_load(&m->routes[r].sum_us) / 1e6);
        put(&t, "neurond_http_request_duration_seconds_count{route=\"%s\"} %lu\n", name, cum);
    }
    put(&t,
        "# HELP neurond_predictions_total Rows scored by prediction requests.\n"
        "# TYPE neurond_predictions_total counter\nneurond_predictions_total %lu\n",
        atomic_load(&m->predictions));
    put(&t, "# HELP neurond_model_predictions_total Rows scored, by model.\n"
            "# TYPE neurond_model_predictions_total counter\n");
    for (int i = 0; i < N_MODEL_SLOTS; i++) {
        if (atomic_load_explicit(&m->models[i].state, memory_order_acquire) != 2) {
            continue;
        }
        const char *name = m->models[i].name;
        unsigned long v = 0;
        int dup = 0;
        for (int j = 0; j < N_MODEL_SLOTS; j++) {
            if (atomic_load_explicit(&m->models[j].state, memory_order_acquire) != 2 ||
                strcmp(m->models[j].name, name) != 0) {
                continue;
            }
            if (j < i) {
                dup = 1; /* rendered with the first slot of this name */
                break;
            }
            v += atomic_load(&m->models[j].count);
        }
        if (dup) {
            continue;
        }
        put(&t, "neurond_model_predictions_total{model=\"%s\"} %lu\n", m->models[i].name, v);
    }
    if (atomic_load(&m->models_other) > 0) {
        put(&t, "neurond_model_predictions_total{model=\"_other\"} %lu\n",
            atomic_load(&m->models_other));
    }
    put(&t,
        "# HELP neurond_store_errors_total Requests that failed on a storage error (database "
        "or file).\n# TYPE neurond_store_errors_total counter\nneurond_store_errors_total %lu\n",
        atomic_load(&m->store_errors));
    put(&t, "# HELP neurond_jobs Training jobs by status.\n# TYPE neurond_jobs gauge\n");
    for (int i = 0; i < 5; i++) {
        put(&t, "neurond_jobs{status=\"%s\"} %ld\n", job_status[i], g->jobs[i]);
    }
    put(&t,
        "# HELP neurond_queue_depth Jobs waiting for a worker.\n"
        "# TYPE neurond_queue_depth gauge\nneurond_queue_depth %ld\n",
        g->queue_depth);
    put(&t,
        "# HELP neurond_workers_busy Workers training now.\n"
        "# TYPE neurond_workers_busy gauge\nneurond_workers_busy %ld\n",
        g->workers_busy);
    put(&t,
        "# HELP neurond_models_loaded Model versions held in memory by the registry.\n"
        "# TYPE neurond_models_loaded gauge\nneurond_models_loaded %ld\n",
        g->models_loaded);
    put(&t,
        "# HELP neurond_feedback_received_total Feedback rows received (stored or updated).\n"
        "# TYPE neurond_feedback_received_total counter\nneurond_feedback_received_total %lu\n",
        atomic_load(&m->feedback));
    put(&t,
        "# HELP neurond_feedback_rows Feedback rows stored, all models.\n"
        "# TYPE neurond_feedback_rows gauge\nneurond_feedback_rows %ld\n",
        g->feedback_rows);
    put(&t,
        "# HELP neurond_retrains_total Retrainings from feedback by the gate's verdict.\n"
        "# TYPE neurond_retrains_total counter\n"
        "neurond_retrains_total{outcome=\"promoted\"} %lu\n"
        "neurond_retrains_total{outcome=\"held\"} %lu\n",
        atomic_load(&m->retrains[1]), atomic_load(&m->retrains[0]));
    put(&t,
        "# HELP neurond_training_samples_total Training rows processed (all epochs).\n"
        "# TYPE neurond_training_samples_total counter\nneurond_training_samples_total "
        "%llu\n",
        atomic_load(&m->training_samples));
    put(&t,
        "# HELP neurond_training_seconds_total Seconds spent in training epochs.\n"
        "# TYPE neurond_training_seconds_total counter\nneurond_training_seconds_total "
        "%.6f\n",
        (double)atomic_load(&m->training_usec) / 1e6);
    put(&t,
        "# HELP neurond_training_samples_per_second Rows per second of the last epoch.\n"
        "# TYPE neurond_training_samples_per_second gauge\n"
        "neurond_training_samples_per_second %.1f\n",
        atomic_load(&m->training_rate));
    if (t.failed) {
        nn_free(t.p);
        return nn_err_set(err, NN_ENOMEM, "out of memory for metrics");
    }
    *out = t.p;
    *len = t.len;
    return 0;
}
