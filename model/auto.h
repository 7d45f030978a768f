/*
 * auto: the `auto` training of issue 19 — cross-validate a fixed plan of candidate networks
 * (no hidden layer; one layer of 16, 64, 256; two layers; a few L2 strengths and learning
 * rates), then a seeded random search around the best so far, until max_seconds,
 * max_models, or no improvement (after the plan, the best mean fold metric not better by more
 * than stopping_tolerance over the last stopping_rounds candidates, decided in candidate
 * order); rank them on a leaderboard and refit the best on all the data.
 *
 * The feature pipeline is fitted once per fold (not per candidate). The work is cut into
 * candidate-folds, independent units the caller runs through an executor (its threads, the
 * daemon's pool, or none): model/ starts no thread. Candidates come in rounds (the plan, then
 * rounds of MODEL_AUTO_ROUND drawn around the best of the rounds before), each round's units
 * are independent and their results are combined in candidate order, so with a seed and
 * max_models (max_seconds 0) the result is bit-identical whatever the executor does. With a
 * time limit it is not: the units started before the deadline finish, the others are skipped.
 * With p->ensemble, the held-out outputs of the best ENSEMBLE_POOL candidates are kept, an
 * ensemble is picked from them greedily on the folds (Caruana's ensemble selection, with
 * replacement), and the model is the mean of the first k picks when that beats the best alone.
 * max_seconds covers the final training: the search keeps the time it estimates for it.
 * Thread-safety: one search per call; the executor may run units on any threads at once.
 */
#ifndef NEUROND_MODEL_AUTO_H
#define NEUROND_MODEL_AUTO_H

#include <cJSON.h>
#include <stdatomic.h>
#include <stddef.h>

#include "model/model.h"
#include "model/params.h"
#include "nn/err.h"

#define MODEL_AUTO_ROUND 4 /* candidates per round of the random search */

/** One unit of work: candidate-fold i of the current round. Thread-safe against the others. */
typedef void (*model_auto_unit_fn)(void *ctx, size_t i);

/**
 * Runs fn(ctx, i) once for every i in [0, n), in any order, on any threads, and returns when
 * all have returned. NULL executor: model_auto_train_csv runs them one after the other.
 */
typedef void (*model_auto_exec_fn)(void *ud, size_t n, model_auto_unit_fn fn, void *ctx);

/**
 * Called on the caller's thread after each candidate is scored.
 * @param row [in] the candidate's leaderboard row, board [in] the whole leaderboard so far
 * (see model_auto_train_csv). Both borrowed, valid during the call.
 * @return non-zero to stop the search (treated as cancel).
 */
typedef int (*model_auto_candidate_fn)(const cJSON *row, const cJSON *board, void *ud);

struct model_auto_hooks {
    model_auto_exec_fn exec;
    void *exec_ud;
    model_auto_candidate_fn on_candidate;
    void *candidate_ud;
    nn_progress_fn on_epoch; /* the final refit's epochs */
    void *epoch_ud;
    int width; /* how many units exec runs at once (< 1: one); sizes the time kept for the
                  final training (see model_auto_train_csv) */
};

/**
 * Searches and trains. p's hidden, l2 and learning_rate are what the search varies; every
 * other parameter is fixed for all candidates. The leaderboard rows: {"rank", "candidate"
 * (its number in the order tried), "hidden", "l2", "learning_rate", "metric" (its name),
 * "mean", "sd" (over the folds), "accuracy" or "rmse" (mean over the folds), "seconds"
 * (training time summed over the folds)}, best first (ties: the earlier candidate).
 * The model's card gains "auto": {"plan", "limits", "validation", "leaderboard", "winner",
 * "why", "candidates", "seconds" (the search's), "final_seconds" (the final training's),
 * "ensemble" ({"enabled", "k", "by_k", "why"})}.
 * @param hooks [in] optional (NULL: sequential, no callbacks).
 * @param cancel [in] optional; non-zero stops within one candidate-fold (NN_ECANCELED).
 * @param board [out] optional: the leaderboard (a new cJSON array; cJSON_Delete), also on
 *              failure after at least one candidate (else NULL).
 * @return 0, NN_EINVAL (no limit at all, auc without a binary label, every candidate failed),
 *         NN_ECANCELED, NN_ENOMEM or a CSV error. Ownership: *out new (model_free).
 */
int model_auto_train_csv(const char *path, const struct model_params *p,
                         const struct model_limits *lim, const struct model_auto_hooks *hooks,
                         atomic_int *cancel, struct model **out, cJSON **board, struct nn_err *err);

/** The metric's name ("log_loss", ...) for a task, MODEL_METRIC_DEFAULT resolved. */
const char *model_auto_metric_name(int metric, int task);

#endif
