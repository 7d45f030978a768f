/*
 * store: the backend-neutral half of store.h — picks the backend from the URL, forwards each
 * call to its ops table (clearing out-parameters first, so that every backend keeps the
 * "NULL / 0 on failure" rule), and owns what does not depend on a backend: the status names,
 * the schema version this binary knows, and freeing the structs a call returns.
 */
#include "store.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nn/alloc.h"
#include "store_backend.h"
#include "store_migrations.h"

/* ------------------------------------------------------------------------------------------ */
/* Backends                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Frees the n entries of the array v with free_one, then v (NULL-safe): the list frees. */
#define LIST_FREE(v, n, free_one)                                                                  \
    do {                                                                                           \
        for (size_t i_ = 0; (v) != NULL && i_ < (n); i_++) {                                       \
            free_one((v)[i_]);                                                                     \
        }                                                                                          \
        nn_free(v);                                                                                \
    } while (0)

static const struct store_ops *const backends[] = {&store_sqlite_ops, &store_pg_ops};
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* The default lease: "<hostname>:<pid>", 30 s. */
static void lease_default(struct store *s)
{
    char host[64] = "localhost";

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(s->replica, sizeof(s->replica), "%s:%ld", host, (long)getpid());
    s->lease_s = 30;
}

int store_open(const char *url, struct store **out, struct nn_err *err)
{
    const char *colon = strchr(url, ':');
    int rc = 1;

    *out = NULL;
    for (size_t i = 0; rc > 0 && colon != NULL && i < N_BACKENDS; i++) {
        size_t len = strlen(backends[i]->scheme);
        if ((size_t)(colon - url) == len && strncmp(url, backends[i]->scheme, len) == 0) {
            /* SQLite takes the path after "sqlite:"; a server backend its whole URL */
            rc = backends[i]->open(backends[i]->jobs_adopt != NULL ? url : colon + 1, out, err);
        }
    }
    if (rc > 0 && colon != NULL && strncmp(colon, "://", 3) == 0) {
        /* "name://...": a URL of a backend this build lacks; anything else is a SQLite path */
        return nn_err_set(err, NN_EINVAL, "store '%.*s': no such backend in this build",
                          (int)(colon - url), url);
    }
    if (rc > 0) {
        rc = store_sqlite_ops.open(url, out, err);
    }
    if (rc == 0) {
        lease_default(*out);
    }
    return rc;
}

void store_close(struct store *s)
{
    if (s != NULL) {
        s->ops->close(s);
    }
}

int store_schema_version(struct store *s, int *v, struct nn_err *err)
{
    return s->ops->schema_version(s, v, err);
}

int store_schema_version_known(void)
{
    return store_n_migrations > 0 ? store_migrations[store_n_migrations - 1].version : 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Models, versions and pins                                                                   */
/* ------------------------------------------------------------------------------------------ */

int store_version_put(struct store *s, const struct store_version_new *v, int *version,
                      struct nn_err *err)
{
    return s->ops->version_put(s, v, version, err);
}

int store_version_get(struct store *s, const char *model, int version, int with_blob,
                      struct store_version **out, struct nn_err *err)
{
    *out = NULL;
    return s->ops->version_get(s, model, version, with_blob, out, err);
}

int store_model_list(struct store *s, struct store_version ***out, size_t *n, struct nn_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->model_list(s, out, n, err);
}

int store_serving_set(struct store *s, const char *model, int version, struct nn_err *err)
{
    return s->ops->serving_set(s, model, version, err);
}

int store_model_delete(struct store *s, const char *model, struct nn_err *err)
{
    return s->ops->model_delete(s, model, err);
}

int store_version_delete(struct store *s, const char *model, int version, struct nn_err *err)
{
    return s->ops->version_delete(s, model, version, err);
}

void store_version_free(struct store_version *v)
{
    if (v == NULL) {
        return;
    }
    NN_FREE_ALL(v->blob, v->card, v->metrics, v->versions, v);
}

void store_version_list_free(struct store_version **v, size_t n)
{
    LIST_FREE(v, n, store_version_free);
}

/* ------------------------------------------------------------------------------------------ */
/* Jobs and their datasets                                                                     */
/* ------------------------------------------------------------------------------------------ */

static const char *const status_names[STORE_JOB_N_STATUS] = {"queued", "running", "succeeded",
                                                             "failed", "cancelled"};

const char *store_job_status_name(int status)
{
    if (status < 0 || status >= STORE_JOB_N_STATUS) {
        return "unknown";
    }
    return status_names[status];
}

int store_job_status_parse(const char *name)
{
    for (int i = 0; name != NULL && i < STORE_JOB_N_STATUS; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int store_job_create(struct store *s, const struct store_job *j, struct nn_err *err)
{
    return s->ops->job_create(s, j, err);
}

int store_job_get(struct store *s, const char *id, struct store_job **out, struct nn_err *err)
{
    *out = NULL;
    return s->ops->job_get(s, id, out, err);
}

int store_job_list(struct store *s, int status, const char *model, int limit,
                   struct store_job ***out, size_t *n, struct nn_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->job_list(s, status, model, limit, out, n, err);
}

int store_job_claim(struct store *s, const char *id, struct store_job **out, struct nn_err *err)
{
    *out = NULL;
    return s->ops->job_claim(s, id, out, err);
}

int store_job_progress(struct store *s, const char *id, const struct store_epoch *e,
                       struct nn_err *err)
{
    return s->ops->job_progress(s, id, e, err);
}

int store_job_history(struct store *s, const char *id, struct store_epoch **out, size_t *n,
                      struct nn_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->job_history(s, id, out, n, err);
}

int store_job_fail(struct store *s, const char *id, const char *code, const char *message,
                   struct nn_err *err)
{
    return s->ops->job_fail(s, id, code, message, err);
}

int store_job_cancel(struct store *s, const char *id, struct nn_err *err)
{
    return s->ops->job_cancel(s, id, err);
}

int store_job_requeue(struct store *s, const char *id, struct nn_err *err)
{
    return s->ops->job_requeue(s, id, err);
}

int store_jobs_recover(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err)
{
    *ids = NULL;
    *n = 0;
    return s->ops->jobs_recover(s, ids, n, err);
}

int store_jobs_count(struct store *s, long counts[STORE_JOB_N_STATUS], struct nn_err *err)
{
    return s->ops->jobs_count(s, counts, err);
}

int store_spool_in_use(struct store *s, const char *spool, int *in_use, struct nn_err *err)
{
    return s->ops->spool_in_use(s, spool, in_use, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Feedback and the rows kept with a version                                                   */
/* ------------------------------------------------------------------------------------------ */

int store_feedback_put(struct store *s, const char *model, const char *hash, const char *instance,
                       const char *label, int *created, long long *count, struct nn_err *err)
{
    long long n = 0;

    *created = 0;
    int rc = s->ops->feedback_put(s, model, hash, instance, label, created, &n, err);

    if (count != NULL) {
        *count = n;
    }
    return rc;
}

int store_feedback_list(struct store *s, const char *model, long long after, int limit,
                        struct store_feedback **out, size_t *n, struct nn_err *err)
{
    *out = NULL;
    *n = 0;
    return s->ops->feedback_list(s, model, after, limit, out, n, err);
}

int store_feedback_delete(struct store *s, const char *model, const char *hash, long long *deleted,
                          struct nn_err *err)
{
    *deleted = 0;
    return s->ops->feedback_delete(s, model, hash, deleted, err);
}

int store_feedback_count(struct store *s, const char *model, long long *n, struct nn_err *err)
{
    *n = 0;
    return s->ops->feedback_count(s, model, n, err);
}

void store_feedback_list_free(struct store_feedback *f, size_t n)
{
    if (f == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        nn_free(f[i].instance);
        nn_free(f[i].label);
    }
    nn_free(f);
}

int store_sample_put(struct store *s, const char *model, int version, const char *kind,
                     const void *data, size_t len, struct nn_err *err)
{
    return s->ops->sample_put(s, model, version, kind, data, len, err);
}

int store_sample_get(struct store *s, const char *model, int version, const char *kind,
                     unsigned char **data, size_t *len, struct nn_err *err)
{
    *data = NULL;
    *len = 0;
    return s->ops->sample_get(s, model, version, kind, data, len, err);
}

/* ------------------------------------------------------------------------------------------ */
/* Replicas                                                                                    */
/* ------------------------------------------------------------------------------------------ */

int store_shared(struct store *s)
{
    return s->ops->jobs_adopt != NULL;
}

void store_lease_set(struct store *s, const char *replica, int lease_s)
{
    if (replica != NULL && replica[0] != '\0') {
        snprintf(s->replica, sizeof(s->replica), "%s", replica);
    }
    if (lease_s > 0) {
        s->lease_s = lease_s;
    }
}

int store_jobs_heartbeat(struct store *s, struct nn_err *err)
{
    return s->ops->jobs_heartbeat != NULL ? s->ops->jobs_heartbeat(s, err) : 0;
}

int store_jobs_adopt(struct store *s, char (**ids)[STORE_ID_MAX], size_t *n, struct nn_err *err)
{
    *ids = NULL;
    *n = 0;
    return s->ops->jobs_adopt != NULL ? s->ops->jobs_adopt(s, ids, n, err) : 0;
}

int store_changes(struct store *s, long long *since, int wait_ms, store_change_fn fn, void *ud,
                  struct nn_err *err)
{
    return s->ops->changes != NULL ? s->ops->changes(s, since, wait_ms, fn, ud, err) : 0;
}

int store_dataset_put(struct store *s, const char *spool, const char *path, struct nn_err *err)
{
    return s->ops->dataset_put != NULL ? s->ops->dataset_put(s, spool, path, err) : 0;
}

int store_dataset_get(struct store *s, const char *spool, const char *path, struct nn_err *err)
{
    if (s->ops->dataset_get == NULL) {
        return nn_err_set(err, NN_ENOTFOUND, "dataset '%s' is kept in the spool folder only",
                          spool);
    }
    return s->ops->dataset_get(s, spool, path, err);
}

int store_dataset_delete(struct store *s, const char *spool, struct nn_err *err)
{
    return s->ops->dataset_delete != NULL ? s->ops->dataset_delete(s, spool, err) : 0;
}

int store_available(struct store *s)
{
    return s->ops->available != NULL ? s->ops->available(s) : 1;
}

void store_job_free(struct store_job *j)
{
    if (j == NULL) {
        return;
    }
    NN_FREE_ALL(j->params, j->form, j->metrics, j->error_code, j->error_message, j);
}

void store_job_list_free(struct store_job **jobs, size_t n)
{
    LIST_FREE(jobs, n, store_job_free);
}
