/*
 * cluster: what a replica does beside serving when its store is shared (PostgreSQL): one
 * thread that follows the store's change feed — a model changed through another replica
 * is dropped from the registry and loaded again at once (so the next prediction finds it in
 * memory), a job cancelled anywhere is stopped here — renews the lease of the jobs this
 * replica runs, and adopts the jobs a dead replica left (expired leases).
 * The feed is read every 500 ms at the latest, and at once when a notification arrives; a
 * store that cannot be reached is retried every 500 ms, nothing is lost meanwhile (the feed
 * is a table). Not started for a store that one process owns (SQLite).
 * Thread-safety: start and stop from main's thread; the thread uses the app's modules,
 * which guard themselves.
 */
#ifndef NEUROND_SERVER_CLUSTER_H
#define NEUROND_SERVER_CLUSTER_H

#include "app.h"
#include "nn/err.h"

struct srv_cluster;

/**
 * Starts the replica thread over app (its store, registry and job pool must be open).
 * @return 0 or NN_ENOMEM. Ownership: *out is new; srv_cluster_stop.
 */
int srv_cluster_start(struct srv_app *app, struct srv_cluster **out, struct nn_err *err);

/** Stops the thread (within about half a second) and frees it. NULL-safe. */
void srv_cluster_stop(struct srv_cluster *c);

#endif
