/*
 * jobs: a fixed pool of worker threads over a bounded in-memory queue of job ids.
 *
 * The queue only orders work; the job's state lives in the store, so a job accepted before
 * a crash is queued again at the next start (srv_jobs_push_recovered ignores the bound).
 * A request reserves a slot first (srv_jobs_reserve: NN_ERANGE when the queue is full, the
 * API's 429), writes the job to the store, then commits the slot. Each running job has a
 * cancel flag that the run callback hands to nn (checked every mini-batch): 1 = cancelled
 * by a user, 2 = the daemon is stopping (the job goes back to queued).
 * HTTP handlers never wait on training: they only touch the queue under its mutex.
 * Lock order: jobs->lock is a leaf; no other lock is taken while it is held, and the run
 * callback is called without it.
 * Thread-safety: every function may be called from any thread, except srv_jobs_free.
 */
#ifndef NEUROND_SERVER_JOBS_H
#define NEUROND_SERVER_JOBS_H

#include <stdatomic.h>
#include <stddef.h>

#include "nn/err.h"

#define SRV_JOBS_CANCEL_USER 1
#define SRV_JOBS_CANCEL_STOP 2

struct srv_jobs;
struct srv_jobs_slot;

/**
 * Runs one job on a worker thread.
 * @param cancel [in] set to SRV_JOBS_CANCEL_* from other threads; pass it to nn.
 */
typedef void (*srv_jobs_run_fn)(void *ud, const char *id, atomic_int *cancel);

/**
 * Starts `workers` threads over a queue holding at most queue_size waiting jobs.
 * @return 0, NN_EINVAL (bad sizes) or NN_ENOMEM. Ownership: *out is new; srv_jobs_free.
 */
int srv_jobs_new(int workers, int queue_size, srv_jobs_run_fn run, void *ud, struct srv_jobs **out,
                 struct nn_err *err);

/**
 * Stops the pool: no job is taken any more, running jobs get SRV_JOBS_CANCEL_STOP, and the
 * call waits for the workers to return. Jobs still queued stay queued in the store.
 */
void srv_jobs_stop(struct srv_jobs *j);

/** Stops (if needed) and frees the pool. NULL-safe. */
void srv_jobs_free(struct srv_jobs *j);

/**
 * Reserves a place in the queue.
 * @return 0, or NN_ERANGE when the queue is full or the pool is stopping (nothing reserved).
 * Ownership: *slot must be given to srv_jobs_commit or srv_jobs_unreserve.
 */
int srv_jobs_reserve(struct srv_jobs *j, struct srv_jobs_slot **slot, struct nn_err *err);

/** Queues job id in a reserved slot (takes the slot). Never fails. */
void srv_jobs_commit(struct srv_jobs *j, struct srv_jobs_slot *slot, const char *id);

/** Gives a reserved slot back unused. NULL-safe. */
void srv_jobs_unreserve(struct srv_jobs *j, struct srv_jobs_slot *slot);

/** Queues a job recovered at start-up, past the bound if need be. @return 0 or NN_ENOMEM. */
int srv_jobs_push_recovered(struct srv_jobs *j, const char *id, struct nn_err *err);

/**
 * Queues a job another replica left (its lease expired, or it waited a whole lease), unless
 * the pool already runs or queues it. Not counted against the queue's bound (the bound is
 * for this replica's clients). @return 1 when queued, 0 when already held, or NN_ENOMEM.
 */
int srv_jobs_adopt(struct srv_jobs *j, const char *id, struct nn_err *err);

/**
 * Cancels a job held by the pool: removed from the queue, or its cancel flag set.
 * @return 1 when the pool held it, 0 when it did not.
 */
int srv_jobs_cancel(struct srv_jobs *j, const char *id);

/**
 * Runs fn(ctx, i) for every i in [0, n) on the calling worker and on idle workers, and
 * returns when all have returned (the executor of an `auto` job, model/auto.h). A worker
 * takes a queued job before a unit, so a job queued behind an auto job starts as soon as a
 * worker finishes its unit (with one worker only: when the auto job ends). The caller keeps
 * taking units itself, so the batch ends even while the pool stops.
 * Thread-safety: called from a job's run callback (any number at once).
 */
void srv_jobs_run_units(struct srv_jobs *j, size_t n, void (*fn)(void *ctx, size_t i), void *ctx);

/**
 * Keeps the leaderboard of running job id (a JSON text, copied) until the job returns; a job
 * the pool does not run is ignored. @return 0 or NN_ENOMEM.
 */
int srv_jobs_board_set(struct srv_jobs *j, const char *id, const char *json);

/** The leaderboard of running job id. @return a new string (nn_free) or NULL: none. */
char *srv_jobs_board_dup(struct srv_jobs *j, const char *id);

/** Jobs waiting in the queue (reserved slots included). */
long srv_jobs_depth(struct srv_jobs *j);

/** Workers running a job now. */
long srv_jobs_busy(struct srv_jobs *j);
/** Workers not running a job now (they take the units of srv_jobs_run_units). */
int srv_jobs_idle(struct srv_jobs *j);

#endif
