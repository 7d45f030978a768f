/*
 * model_select: what the defaults choose from the data (the L2 decay, the final refit on
 * every row) and the one way a net is made and trained for a model (model_fit_net), used by
 * model_train_csv for its main run, the L2 search and the refit.
 * Does not: fit features, print, or report progress. Thread-safety: one model per call.
 */
#ifndef NEUROND_MODEL_MODEL_SELECT_H
#define NEUROND_MODEL_MODEL_SELECT_H

#include "model/model_priv.h"

/* The net's output for the task: NN_TASK_*, output width and activation, the class count;
   and its hidden layers (hidden NULL: m->params'). */
struct model_fit_spec {
    int task;
    int n_out;
    enum nn_act out_act;
    int n_classes;
    const int *hidden;
    int n_hidden;
};

/**
 * Makes a net of m's architecture (m->feat's inputs, m->params' layers), initialises it from
 * rng and trains it with tp on tr, early stopping on va (NULL or empty: none).
 * @param out [out] the trained net; NULL on failure. Ownership: caller frees with nn_net_free.
 * @return 0 or nn_train's / nn_net_new's error.
 */
int model_fit_net(const struct model *m, const struct model_fit_spec *spec,
                  const struct nn_train_params *tp, const struct nn_dataset *tr,
                  const struct nn_dataset *va, struct nn_rng *rng, nn_progress_fn cb, void *ud,
                  atomic_int *cancel, struct nn_net **out, struct nn_train_result *res,
                  struct nn_err *err);

#define MODEL_SELECT_REPEATS 5 /* the holdouts the L2 decay is chosen on */
#define MODEL_SELECT_DECAYS  4 /* the decays tried */
#define MODEL_SELECT_NETS    (MODEL_SELECT_REPEATS * MODEL_SELECT_DECAYS)
/* the weights of the defaults' ensemble (the refit net and the holdout nets kept), at most */
#define MODEL_DEFAULTS_ENSEMBLE_PARAMS ((size_t)1 << 20)

/* The nets trained while choosing the decay: every decay's (that did not diverge) on every
   holdout, each early-stopped on its own holdout. */
struct model_holdouts {
    struct nn_net *nets[MODEL_SELECT_NETS];
    float l2[MODEL_SELECT_NETS];
    int epochs[MODEL_SELECT_NETS]; /* each one's best epoch */
    int n;
};

/** Frees the nets of h and empties it. */
void model_holdouts_free(struct model_holdouts *h);

/**
 * Resolves m->params.train.l2 when it was not given (< 0): on a set of at most 5,000 rows
 * without text inputs and with early stopping (patience > 0), the decay of {1e-4, 1e-3, 1e-2, 1e-1}
 * with the lowest mean validation loss over 5 seeded holdouts of `all` (the validation_split
 * fraction each); else 1e-4.
 * @param epochs [out] the chosen decay's mean best epoch; 0 when nothing was searched.
 * @param keep [out] the nets trained on the holdouts for the 3 decays of the lowest mean loss
 *             (15; n 0 when nothing was searched); the caller frees them with
 *             model_holdouts_free, or takes them. Empty on error.
 * @return 0, NN_ECANCELED or NN_ENOMEM. Deterministic for a given seed.
 */
int model_select_l2(struct model *m, const struct model_fit_spec *spec,
                    const struct nn_dataset *all, atomic_int *cancel, int *epochs,
                    struct model_holdouts *keep, struct nn_err *err);

/** Whether model_select_l2 would search the decay for a training of rows rows (sparse_dim text
 *  inputs) with p, its l2 not given: small, no text, a validation split, early stopping. */
int model_select_would(size_t rows, size_t sparse_dim, const struct model_params *p);

/** Whether a training of rows rows (sparse_dim text inputs) with p would refit its nets:
 *  model_refit_applies before the training. */
int model_refit_would(size_t rows, size_t sparse_dim, const struct model_params *p);

/** Whether the nets are trained again on every row (model_refit): at most 10,000 rows, no
 *  text inputs, a validation split, and no target_fpr (whose threshold was chosen on the
 *  validation scores of the nets trained on the training split). */
int model_refit_applies(const struct model *m, const struct nn_dataset *all);

/**
 * Trains m's network i again from scratch on every row of `all` with tp for `epochs` epochs
 * (spec: its output and hidden layers) and replaces m->nets[i] with it; the card keeps the
 * validation figures of the nets trained on the training split. Seeded from m's seed and i.
 * @return 0 or an error; on error m->nets[i] is unchanged.
 */
int model_refit(struct model *m, const struct model_fit_spec *spec, const struct nn_dataset *all,
                int i, const struct nn_train_params *tp, int epochs, atomic_int *cancel,
                struct nn_err *err);

#endif
