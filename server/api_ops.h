/*
 * api_ops: the operations endpoints — GET /healthz (the process serves), GET /readyz (the
 * store is open and migrated, workers started; 503 before) and GET /metrics (Prometheus
 * text: the counters of server/metrics plus gauges read at scrape time).
 * Thread-safety: handlers run on MHD threads, any number at once.
 */
#ifndef NEUROND_SERVER_API_OPS_H
#define NEUROND_SERVER_API_OPS_H

#include "http.h"

/** GET /healthz: 200 {"status": "ok"}. */
int srv_api_ops_healthz(struct srv_req *r);
/** GET /readyz: 200 {"status": "ready"} or 503 not_ready. */
int srv_api_ops_readyz(struct srv_req *r);
/** GET /metrics: Prometheus text format 0.0.4. */
int srv_api_ops_metrics(struct srv_req *r);

#endif
