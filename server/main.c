/*
 * main: start-up and graceful stop of the daemon (see main.h).
 *
 * Order matters. Signals are blocked in every thread (the mask is inherited) and taken by
 * sigwait in the main thread, so no handler runs at an awkward moment. The HTTP front
 * starts first so /healthz answers and /readyz says 503 while the store migrates; the app
 * turns ready once jobs are re-queued. On stop the order is reversed: HTTP drains (no new
 * connections, in-flight requests finish), then workers are told to stop (running jobs go
 * back to queued), then the store closes.
 */
#include "main.h"

#include <cJSON.h>
#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_models.h"
#include "api_train.h"
#include "app.h"
#include "cluster.h"
#include "http.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "nn/alloc.h"
#include "registry.h"
#include "reserve.h"
#include "router.h"
#include "security.h"
#include "store.h"

#define DRAIN_MS 30000

/* mkdir -p: creates dir and its parents (mode 0750). 0 or -1 (errno set). */
static int make_dirs(const char *dir)
{
    char path[SRV_CONFIG_STR_MAX];

    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0750) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

/* The spool directory: --spool-dir, else spool/ beside the database file. */
static void spool_dir(const struct srv_config *cfg, char *out, size_t cap)
{
    if (cfg->spool[0] != '\0') {
        snprintf(out, cap, "%s", cfg->spool);
        return;
    }
    const char *slash = strrchr(cfg->db, '/');
    if (slash == NULL) {
        snprintf(out, cap, "spool");
    } else {
        snprintf(out, cap, "%.*s/spool", (int)(slash - cfg->db), cfg->db);
    }
}

/* Removes spool files that no queued or running job owns (uploads cut off by a crash). */
static void clean_spool(struct srv_app *app)
{
    DIR *d = opendir(app->spool_dir);
    struct dirent *e;
    int removed = 0;

    if (d == NULL) {
        return;
    }
    while ((e = readdir(d)) != NULL) {
        int in_use = 1;
        if (strncmp(e->d_name, "up-", 3) != 0 && strncmp(e->d_name, "out-", 4) != 0) {
            continue;
        }
        if (store_spool_in_use(app->store, e->d_name, &in_use, NULL) == 0 && !in_use) {
            char path[SRV_CONFIG_STR_MAX + 300];
            snprintf(path, sizeof(path), "%s/%s", app->spool_dir, e->d_name);
            if (unlink(path) == 0) {
                removed++;
            }
        }
    }
    closedir(d);
    if (removed > 0) {
        srv_log("info", "removed %d stale upload(s) from %s", removed, app->spool_dir);
    }
}

int srv_main(int argc, char **argv)
{
    struct srv_config cfg;
    struct srv_app app;
    struct srv_http *http = NULL;
    struct srv_cluster *cluster = NULL;
    struct nn_err err;
    sigset_t set;
    int help = 0;
    int status = 1;
    int sig = 0;

    nn_err_clear(&err);
    if (srv_config_load(&cfg, argc, argv, &help, &err) != 0) {
        fprintf(stderr, "neurond serve: %s\n", err.msg);
        return 2;
    }
    if (help) {
        srv_config_usage(stdout);
        return 0;
    }
    if (srv_security_prepare(&cfg, &err) != 0) {
        fprintf(stderr, "neurond serve: %s\n", err.msg);
        return 2;
    }
    openblas_set_num_threads(1); /* workers train in parallel; each one single-threaded */
    cJSON_Hooks hooks = {nn_malloc, nn_free};
    cJSON_InitHooks(&hooks);

    memset(&app, 0, sizeof(app));
    app.cfg = &cfg;
    atomic_init(&app.ready, 0);
    atomic_init(&app.stopping, 0);
    atomic_init(&app.inflight, 0);
    spool_dir(&cfg, app.spool_dir, sizeof(app.spool_dir));

    char db_dir[SRV_CONFIG_STR_MAX];
    const char *slash = strrchr(cfg.db, '/');
    snprintf(db_dir, sizeof(db_dir), "%.*s", slash != NULL ? (int)(slash - cfg.db) : 1,
             slash != NULL ? cfg.db : ".");
    if ((db_dir[0] != '\0' && make_dirs(db_dir) != 0) || make_dirs(app.spool_dir) != 0) {
        fprintf(stderr, "neurond serve: cannot create %s or %s: %s\n", db_dir, app.spool_dir,
                strerror(errno));
        return 1;
    }

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (srv_metrics_new(srv_router_labels(), srv_router_count(), &app.metrics, &err) != 0) {
        fprintf(stderr, "neurond serve: %s\n", err.msg);
        return 1;
    }
    if (srv_http_start(&app, &http, &err) != 0) {
        fprintf(stderr, "neurond serve: %s\n", err.msg);
        srv_metrics_free(app.metrics);
        return 1;
    }
    srv_log("info", "listening on %s://%s:%d", cfg.tls_cert[0] != '\0' ? "https" : "http", cfg.bind,
            srv_http_port(http));
    srv_security_banner(&cfg, srv_http_port(http));
    /* --store, else the SQLite file --db; a PostgreSQL URL is never printed (it may hold
       a password): its error names user@host:port/db */
    const char *store_url = cfg.store[0] != '\0' ? cfg.store : cfg.db;
    int remote = strstr(store_url, "://") != NULL;
    if (store_open(store_url, &app.store, &err) != 0) {
        srv_log("error", "cannot open the store%s%s: %s", remote ? "" : " ",
                remote ? "" : store_url, err.msg);
        fprintf(stderr, "neurond serve: %s%s%s\n", remote ? "" : store_url, remote ? "" : ": ",
                err.msg);
        status = remote ? 2 : 1;
        goto stop;
    }
    char replica[STORE_REPLICA_ID_MAX];
    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(replica, sizeof(replica), "%s:%d", host, srv_http_port(http));
    store_lease_set(app.store, replica, cfg.job_lease_s);
    if (srv_reserve_fill(cfg.db) != 0) {
        srv_log("warn", "no room for %s.reserve (%d bytes kept to delete models on a full disk)",
                cfg.db, SRV_RESERVE_BYTES);
    }
    if (srv_registry_new(srv_api_models_load, srv_api_models_free, app.store, &app.reg, &err) !=
        0) {
        goto fail_msg;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cfg.workers > 0 ? cfg.workers : (int)(cores > 0 ? cores : 1);
    if (srv_jobs_new(workers, cfg.queue_size, srv_api_train_run, &app, &app.jobs, &err) != 0) {
        goto fail_msg;
    }
    char(*ids)[STORE_ID_MAX] = NULL;
    size_t n_ids = 0;
    if (store_jobs_recover(app.store, &ids, &n_ids, &err) != 0) {
        goto fail_msg;
    }
    for (size_t i = 0; i < n_ids; i++) {
        if (srv_jobs_push_recovered(app.jobs, ids[i], &err) != 0) {
            nn_free(ids);
            goto fail_msg;
        }
    }
    nn_free(ids);
    if (n_ids > 0) {
        srv_log("info", "%zu job(s) left queued or running by the last run queued again", n_ids);
    }
    clean_spool(&app);
    if (store_shared(app.store) && srv_cluster_start(&app, &cluster, &err) != 0) {
        goto fail_msg;
    }
    atomic_store(&app.ready, 1);
    srv_log("info", "ready: store %s, %d worker(s), queue %d%s%s",
            remote ? "postgresql" : store_url, workers, cfg.queue_size,
            store_shared(app.store) ? ", replica " : "", store_shared(app.store) ? replica : "");

    while (sigwait(&set, &sig) != 0) {
    }
    srv_log("info", "signal %d: stopping (finishing requests in flight)", sig);
    status = 0;
    goto stop;
fail_msg:
    srv_log("error", "cannot start: %s", err.msg);
    fprintf(stderr, "neurond serve: %s\n", err.msg);
stop:
    atomic_store(&app.stopping, 1);
    srv_http_stop(http, DRAIN_MS);
    atomic_store(&app.ready, 0);
    srv_cluster_stop(cluster);
    if (app.jobs != NULL) {
        srv_jobs_stop(app.jobs); /* running jobs go back to queued */
        srv_jobs_free(app.jobs);
    }
    srv_registry_free(app.reg);
    store_close(app.store);
    srv_metrics_free(app.metrics);
    srv_log("info", "stopped");
    return status;
}
