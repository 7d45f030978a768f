/*
 * train: the training loop — shuffle each epoch, mini-batches, an optimiser step (SGD,
 * momentum, Adam, L2 decay), per-epoch validation, early stopping that restores the best
 * epoch's weights, a progress callback, and a cancel flag checked every batch.
 *
 * Determinism: same net init, same data in the same order, same params and same rng state
 * give bit-identical weights (single-threaded BLAS for the batch products; see
 * docs/decisions.md). nn/ never touches BLAS's global state: the program sets
 * OPENBLAS_NUM_THREADS=1 or calls openblas_set_num_threads(1) at start-up for repeatable
 * runs. A loss that turns NaN or infinite ends training with NN_EDIVERGED.
 * Does not: split data (the caller splits before fitting features; see
 * nn_train_split_stratified), read files, or print.
 * Thread-safety: one training per net; cancel may be set from another thread.
 */
#ifndef NEUROND_NN_TRAIN_H
#define NEUROND_NN_TRAIN_H

#include <stdatomic.h>
#include <stddef.h>

#include "nn/err.h"
#include "nn/mat.h"
#include "nn/net.h"
#include "nn/rng.h"

enum nn_optim { NN_OPTIM_SGD = 0, NN_OPTIM_MOMENTUM = 1, NN_OPTIM_ADAM = 2 };

enum nn_task { NN_TASK_BINARY = 0, NN_TASK_MULTICLASS = 1, NN_TASK_REGRESSION = 2 };

struct nn_train_params {
    enum nn_optim optimizer;
    float learning_rate; /* 0: default (0.001 adam, 0.01 others) */
    int epochs;          /* maximum epochs */
    int batch_size;
    float l2;                /* L2 weight decay on W (not on biases) */
    int patience;            /* epochs without validation improvement; 0 = no early stopping */
    float momentum;          /* 0.9 by default */
    float beta1, beta2, eps; /* Adam: 0.9, 0.999, 1e-8 by default */
};

/** One epoch's figures, passed to the progress callback and kept in the history. */
struct nn_epoch_stats {
    int epoch;         /* 1-based */
    int epochs;        /* the maximum */
    double train_loss; /* mean over the epoch's batches */
    double val_loss;   /* NaN when there is no validation set */
    double val_metric; /* accuracy (classification) or RMSE (regression, in training units) */
    double seconds;    /* wall time of this epoch */
    int regression;    /* set by callers that know the task (model.c); train leaves it 0 */
};

/** Called after every epoch; return non-zero to stop training (treated as cancel). */
typedef int (*nn_progress_fn)(const struct nn_epoch_stats *st, void *ud);

struct nn_train_result {
    int epochs_run;
    int best_epoch; /* whose weights the net now holds */
    double best_val_loss;
    double best_val_metric;
    double final_train_loss;
};

/** Fills p with the defaults of API.md (adam, lr 0.001, 100 epochs, batch 32, patience 10). */
void nn_train_params_default(struct nn_train_params *p);

/**
 * Trains net on `train`, validating on `val` (may be NULL or empty: no early stopping).
 * @param task   [in] decides the loss and the validation metric.
 * @param cancel [in] optional flag; when non-zero the run stops within one batch with
 *               NN_ECANCELED.
 * @param rng    [in,out] drives the shuffles.
 * @return 0, NN_ECANCELED, NN_EDIVERGED, NN_EINVAL or NN_ENOMEM. On NN_EDIVERGED or
 *         NN_ECANCELED the net's weights are unspecified.
 */
int nn_train(struct nn_net *net, enum nn_task task, const struct nn_dataset *train,
             const struct nn_dataset *val, const struct nn_train_params *p, nn_progress_fn cb,
             void *ud, atomic_int *cancel, struct nn_rng *rng, struct nn_train_result *res,
             struct nn_err *err);

/**
 * The loss and metric nn_train reports for a validation set (the mean loss from the logits;
 * accuracy, or RMSE in training units), computed in max_batch chunks. A warm start measures its
 * starting point with it. @param ds [in] non-empty, with y.
 * Thread-safety: uses the net's work buffers: one thread at a time per net.
 */
void nn_train_evaluate(struct nn_net *net, enum nn_task task, const struct nn_dataset *ds,
                       double *loss, double *metric);

/**
 * Splits n rows into training and validation index lists, stratified by class when
 * n_classes > 0 (labels[i] in [0, n_classes)), plain random otherwise. Each class with at
 * least 2 rows gives round(frac * count) rows (at least 1) to validation.
 * @param tr_idx, va_idx [out] caller buffers of n entries each; counts in *n_tr, *n_va.
 * @return 0 or NN_ENOMEM / NN_EINVAL.
 */
int nn_train_split_stratified(const float *labels, size_t n, int n_classes, double frac,
                              struct nn_rng *rng, size_t *tr_idx, size_t *n_tr, size_t *va_idx,
                              size_t *n_va, struct nn_err *err);

#endif
