/*
 * cluster: the replica thread (see cluster.h) — the change feed, the heartbeat, adoption.
 */
#include "cluster.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "jobs.h"
#include "log.h"
#include "nn/alloc.h"
#include "registry.h"
#include "store.h"

#define FEED_WAIT_MS  500
#define ADOPT_EVERY_S 1

struct srv_cluster {
    struct srv_app *app;
    pthread_t thread;
    atomic_int stop;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A change made anywhere: drop the cached model and load its serving version again at once
 * (a prediction then never waits for the store), or stop a cancelled job running here. */
static void on_change(void *ud, int kind, const char *name)
{
    struct srv_app *app = ud;
    struct srv_model *m = NULL;

    if (kind == STORE_CHANGE_CANCEL) {
        if (srv_jobs_cancel(app->jobs, name)) {
            srv_log("info", "job %s cancelled through another replica: stopping it", name);
        }
        return;
    }
    srv_registry_invalidate(app->reg, name);
    if (srv_registry_get(app->reg, name, 0, &m, NULL) == 0) {
        srv_registry_release(m);
    }
}

/* Re-queues the jobs of dead replicas and queues them here (and jobs waiting too long). */
static void adopt(struct srv_app *app)
{
    char(*ids)[STORE_ID_MAX] = NULL;
    size_t n = 0;

    if (store_jobs_adopt(app->store, &ids, &n, NULL) != 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (srv_jobs_adopt(app->jobs, ids[i], NULL) == 1) {
            srv_log("info", "job %s adopted (its replica's lease expired, or it waited a lease)",
                    ids[i]);
        }
    }
    nn_free(ids);
}

static void *cluster_main(void *arg)
{
    struct srv_cluster *c = arg;
    struct srv_app *app = c->app;
    long long since = -1;
    double beat = 0, adopted = 0;
    double every = app->cfg->job_lease_s / 3.0;
    int was_down = 0;

    while (!atomic_load(&c->stop)) {
        struct nn_err err;
        nn_err_clear(&err);
        int rc = store_changes(app->store, &since, FEED_WAIT_MS, on_change, app, &err);
        if (rc != 0) {
            if (!was_down) {
                srv_log("warn", "store: %s (retrying; predictions are served from memory)",
                        err.msg);
            }
            was_down = 1;
            struct timespec ts = {0, FEED_WAIT_MS * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (was_down) {
            srv_log("info", "store: reachable again");
            was_down = 0;
            beat = 0; /* renew the leases at once */
        }
        double t = now_s();
        if (t - beat >= every) {
            if (store_jobs_heartbeat(app->store, NULL) == 0) {
                beat = t;
            }
        }
        if (t - adopted >= ADOPT_EVERY_S) {
            adopt(app);
            adopted = t;
        }
    }
    return NULL;
}

int srv_cluster_start(struct srv_app *app, struct srv_cluster **out, struct nn_err *err)
{
    struct srv_cluster *c = nn_calloc(1, sizeof(*c));

    *out = NULL;
    if (c == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory for the replica thread");
    }
    c->app = app;
    atomic_init(&c->stop, 0);
    if (pthread_create(&c->thread, NULL, cluster_main, c) != 0) {
        nn_free(c);
        return nn_err_set(err, NN_ENOMEM, "cannot start the replica thread");
    }
    *out = c;
    return 0;
}

void srv_cluster_stop(struct srv_cluster *c)
{
    if (c == NULL) {
        return;
    }
    atomic_store(&c->stop, 1);
    pthread_join(c->thread, NULL);
    nn_free(c);
}
