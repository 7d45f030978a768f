/*
 * model_priv: the layout of struct nn_model, shared by model.c (training, prediction,
 * cards) and model_io.c (binary blob, JSON export/import) only. Not installed, not for
 * server/ or cli/: they use the accessors of model.h.
 */
#ifndef NEUROND_NN_MODEL_PRIV_H
#define NEUROND_NN_MODEL_PRIV_H

#include "features.h"
#include "model.h"
#include "net.h"

struct nn_model_metrics {
    double accuracy; /* classification; NaN otherwise */
    double log_loss; /* classification: validation log loss */
    double auc;      /* binary only; NaN otherwise */
    double rmse;     /* regression, label units */
    double mae;
    double loss; /* validation loss in training units (the early-stopping criterion) */
    int best_epoch;
    int epochs_run;
    size_t train_rows;
    size_t val_rows;
    double threshold;     /* decision threshold on P(positive class) */
    int threshold_source; /* NN_THRESHOLD_* */
};

#define NN_THRESHOLD_DEFAULT 0 /* 0.5 */
#define NN_THRESHOLD_PARAM   1 /* the threshold= parameter */
#define NN_THRESHOLD_FPR     2 /* chosen for target_fpr= on the validation split */

struct nn_model {
    struct nn_features *feat;
    struct nn_net *net;
    struct nn_model_params params; /* as used (label resolved) */
    struct nn_model_metrics metrics;
    struct nn_epoch_stats *history;
    size_t n_history;
    char **ignored; /* columns ignored at training (resolved), n_ignored of them */
    size_t n_ignored;
};

/** Allocates an empty model (all pointers NULL, metrics NaN). NULL when out of memory. */
struct nn_model *nn_model_alloc(void);

/** Task name for cards: "classification" or "regression". */
const char *nn_model_task_name(int task);

/** Optimiser name ("sgd", "momentum", "adam"). */
const char *nn_model_optim_name(int optim);

#endif
