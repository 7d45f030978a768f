/*
 * metrics: the daemon's Prometheus counters and histograms — requests by route and status,
 * request latency per route, predictions made, training samples — and the text exposition
 * format for GET /metrics, to which the caller adds gauges read at scrape time (jobs by
 * status, queue depth, models loaded).
 *
 * Counters are lock-free atomics in fixed arrays sized at creation (routes x status slots),
 * so recording a request never allocates and never locks.
 * Thread-safety: every function may be called from any thread at once.
 */
#ifndef NEUROND_SERVER_METRICS_H
#define NEUROND_SERVER_METRICS_H

#include <stddef.h>

#include "nn/err.h"

struct srv_metrics;

/* Values read at scrape time by the caller. */
struct srv_metrics_gauges {
    long jobs[5];       /* queued, running, succeeded, failed, cancelled */
    long queue_depth;   /* jobs waiting in the in-memory queue */
    long workers_busy;  /* workers training now */
    long models_loaded; /* models held by the registry */
    long feedback_rows; /* feedback rows stored, all models */
};

/**
 * Makes the counters for n_routes routes (plus one "unmatched" slot).
 * @param routes [in] route labels (borrowed; must outlive the metrics).
 * @return 0 or NN_ENOMEM. Ownership: *out is new; srv_metrics_free.
 */
int srv_metrics_new(const char *const *routes, int n_routes, struct srv_metrics **out,
                    struct nn_err *err);

/** Frees the counters. NULL-safe. */
void srv_metrics_free(struct srv_metrics *m);

/**
 * Counts one finished request.
 * @param route [in] index into the routes given at creation; -1 for no route.
 * @param status [in] HTTP status. @param us [in] latency in microseconds.
 */
void srv_metrics_request(struct srv_metrics *m, int route, unsigned status, long long us);

/** Adds n predictions (rows scored). */
void srv_metrics_predictions(struct srv_metrics *m, unsigned long n);

/**
 * Adds n predictions of a model: to the total and to the model's own counter (the first 256
 * model names get one each; later ones are counted under "_other").
 * @param model [in] the model name (copied).
 */
void srv_metrics_predictions_model(struct srv_metrics *m, const char *model, unsigned long n);

/** Counts one request that failed on a storage error (NN_EIO). */
void srv_metrics_store_error(struct srv_metrics *m);

/** Counts n feedback rows received (stored or updated). */
void srv_metrics_feedback(struct srv_metrics *m, unsigned long n);

/** Counts one retraining that passed the champion/challenger gate (promoted) or not. */
void srv_metrics_retrain(struct srv_metrics *m, int promoted);

/** Records one training epoch: rows trained on and the seconds it took. */
void srv_metrics_training(struct srv_metrics *m, unsigned long rows, double seconds);

/**
 * Renders every metric in the Prometheus text format (version 0.0.4).
 * @param g [in] the scrape-time gauges.
 * @param out, len [out] a new NUL-terminated buffer and its length; caller frees with nn_free.
 * @return 0 or NN_ENOMEM.
 */
int srv_metrics_render(struct srv_metrics *m, const struct srv_metrics_gauges *g, char **out,
                       size_t *len, struct nn_err *err);

#endif
