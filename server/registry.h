/*
 * registry: the in-memory cache of models being served, so a prediction never touches the
 * store or decodes a blob. Entries are keyed by (model name, requested version), where
 * version 0 means "whatever is serving now" (pinned, else newest).
 *
 * Models are refcounted: a request takes a reference and releases it when done, so a model
 * swapped out or deleted while in use stays valid until its last user lets go. The table is
 * guarded by a rwlock that is held only to find an entry and take a reference (no lock while
 * predicting, and readers never wait for each other; a waiting writer goes first, so a swap
 * is never starved by traffic); loading happens outside the lock. A
 * change to a model (new version, pin, delete) calls srv_registry_invalidate, and the next
 * request loads the new serving version: no restart, no global lock on the predict path.
 * A generation counter stops a load that raced with an invalidation from being cached.
 * The registry does not know the store or nn/: a loader callback fetches models.
 * Thread-safety: every function may be called from any thread at once.
 */
#ifndef NEUROND_SERVER_REGISTRY_H
#define NEUROND_SERVER_REGISTRY_H

#include <stdatomic.h>

#include "nn/err.h"

struct model;
struct srv_registry;

/** Frees a loaded model (model_free). */
typedef void (*srv_registry_free_fn)(struct model *m);

/**
 * Loads a model version. @param version [in] 0 = the serving one.
 * @param got [out] the version actually loaded. @param out [out] the new model.
 * @return 0 or NN_ENOTFOUND / another error.
 */
typedef int (*srv_registry_load_fn)(void *ud, const char *name, int version, int *got,
                                    struct model **out, struct nn_err *err);

/* A served model: immutable after creation except for refs. */
struct srv_model {
    atomic_int refs;
    char name[72];
    int version;
    struct model *model; /* owned; freed with free_fn when refs reaches 0 */
    srv_registry_free_fn free_fn;
};

/**
 * Makes an empty registry. @param load, free_fn, ud [in] how to load and free models.
 * @return 0 or NN_ENOMEM. Ownership: *out is new; srv_registry_free.
 */
int srv_registry_new(srv_registry_load_fn load, srv_registry_free_fn free_fn, void *ud,
                     struct srv_registry **out, struct nn_err *err);

/** Drops every entry (models still referenced live on until released) and frees. NULL-safe. */
void srv_registry_free(struct srv_registry *r);

/**
 * Returns a reference to a model, loading and caching it on a miss.
 * @param version [in] 0 for the serving version.
 * @return 0, or the loader's error (NN_ENOTFOUND when there is no such model/version).
 * Ownership: *out holds one reference; give it back with srv_registry_release.
 */
int srv_registry_get(struct srv_registry *r, const char *name, int version, struct srv_model **out,
                     struct nn_err *err);

/** Releases a reference from srv_registry_get; the last one frees the model. NULL-safe. */
void srv_registry_release(struct srv_model *m);

/** Forgets every cached entry of a model: the next get loads afresh. */
void srv_registry_invalidate(struct srv_registry *r, const char *name);

/** Number of cached entries (the metrics gauge "models loaded"). */
long srv_registry_count(struct srv_registry *r);

#endif
