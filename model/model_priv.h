/*
 * model_priv: the layout of struct model, shared by model.c (training, prediction,
 * cards) and model_io.c (binary blob, JSON export/import) only. Not installed, not for
 * server/ or cli/: they use the accessors of model.h.
 */
#ifndef NEUROND_MODEL_MODEL_PRIV_H
#define NEUROND_MODEL_MODEL_PRIV_H

#include "model/model.h"
#include "nn/net.h"
#include "tab/features.h"

struct model_metrics {
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
    int threshold_source; /* MODEL_THRESHOLD_* */
};

#define MODEL_THRESHOLD_DEFAULT 0 /* 0.5 */
#define MODEL_THRESHOLD_PARAM   1 /* the threshold= parameter */
#define MODEL_THRESHOLD_FPR     2 /* chosen for target_fpr= on the validation split */

struct model {
    struct tab_features *feat;
    struct nn_net *net;
    struct model_params params; /* as used (label resolved) */
    struct model_metrics metrics;
    struct nn_epoch_stats *history;
    size_t n_history;
    char **ignored; /* columns ignored at training (resolved), n_ignored of them */
    size_t n_ignored;
};

/** Allocates an empty model (all pointers NULL, metrics NaN). NULL when out of memory. */
struct model *model_alloc(void);

/** Task name for cards: "classification" or "regression". */
const char *model_task_name(int task);

#endif
