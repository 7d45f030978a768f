/*
 * app: the state every request handler and worker shares — the read-only configuration and
 * the modules made at start-up (store, job pool, registry, metrics) — passed to them as the
 * MHD `cls` and the job callback's `ud`, never through a global.
 * Only a struct: main.c fills it before any thread starts and clears it after they stop.
 * Thread-safety: the pointers are written before threads start; ready/stopping/inflight are
 * atomics; each module guards itself.
 */
#ifndef NEUROND_SERVER_APP_H
#define NEUROND_SERVER_APP_H

#include <stdatomic.h>

#include "config.h"

struct store;
struct srv_jobs;
struct srv_registry;
struct srv_metrics;

struct srv_app {
    const struct srv_config *cfg;
    struct store *store;   /* NULL until opened */
    struct srv_jobs *jobs; /* NULL until started */
    struct srv_registry *reg;
    struct srv_metrics *metrics;
    char spool_dir[SRV_CONFIG_STR_MAX];
    atomic_int ready;     /* 1 once the store is open and migrated, jobs started */
    atomic_int stopping;  /* 1 once a stop signal arrived */
    atomic_long inflight; /* requests between first byte and completion */
};

#endif
