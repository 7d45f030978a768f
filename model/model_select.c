/*
 * model_select: the choices the defaults make from the data itself, so that a file with no
 * parameter trains as well as a practitioner's first fit.
 *  - L2 weight decay, when not given: each of a small grid is trained on SELECT_REPEATS
 *    seeded stratified holdouts of all the rows (early stopping on each holdout); the one
 *    with the lowest mean validation loss wins, and its mean best epoch is kept. Every decay
 *    sees the same holdouts and initial weights, so that the splits' noise does not pick the
 *    winner. Small sets only (SELECT_MAX_ROWS): past that, a fixed small decay.
 *  - Refit: after the usual run on the training split (whose validation figures the card
 *    reports), a small set's net is trained again from scratch on every row for the mean
 *    best epoch of the chosen decay's holdouts, so no row is wasted on validation (20% of 120 rows
 * is a lot). Both for tables without text inputs: a text model's hashed inputs make each run slow.
 *  - Ensemble: the nets trained on the holdouts of the 3 decays with the lowest mean loss are
 *    handed back (model_train.c serves their mean with the refitted net's): they cost no
 *    training, and their average varies less than any one net (make quality, docs/quality.md).
 * Does not: change the features (fitted on the training split), print, or report progress
 * (the caller's cancel flag is honoured by every run).
 */
#include "model/model_select.h"

#include <math.h>
#include <string.h>

#include "nn/alloc.h"

#define SELECT_MAX_ROWS    5000
#define SELECT_REPEATS     MODEL_SELECT_REPEATS
#define REFIT_MAX_ROWS     10000
#define SELECT_KEEP_DECAYS 3 /* the decays whose holdout nets join the defaults' ensemble */
/* The fixed decay when the set is too large to search (regression targets are in
   standard units and the squared error's gradient is twice the cross-entropy's). */
#define L2_LARGE 1e-4f

static const float l2_grid[] = {1e-4f, 1e-3f, 1e-2f, 1e-1f};
_Static_assert(sizeof(l2_grid) / sizeof(l2_grid[0]) == MODEL_SELECT_DECAYS, "the decays tried");

int model_fit_net(const struct model *m, const struct model_fit_spec *spec,
                  const struct nn_train_params *tp, const struct nn_dataset *tr,
                  const struct nn_dataset *va, struct nn_rng *rng, nn_progress_fn cb, void *ud,
                  atomic_int *cancel, struct nn_net **out, struct nn_train_result *res,
                  struct nn_err *err)
{
    const struct model_params *p = &m->params;
    struct nn_net *net = NULL;
    int rc;

    *out = NULL;
    rc = nn_net_new(m->feat->dense_dim, m->feat->sparse_dim,
                    spec->hidden != NULL ? spec->hidden : p->hidden,
                    spec->hidden != NULL ? spec->n_hidden : p->n_hidden, p->activation, spec->n_out,
                    spec->out_act, tp->batch_size < 256 ? 256 : tp->batch_size, &net, err);
    if (rc != 0) {
        return rc;
    }
    nn_net_init(net, rng);
    rc = nn_train(net, (enum nn_task)spec->task, tr, va != NULL && va->rows > 0 ? va : NULL, tp, cb,
                  ud, cancel, rng, res, err);
    if (rc != 0) {
        nn_net_free(net);
        return rc;
    }
    *out = net;
    return 0;
}

void model_holdouts_free(struct model_holdouts *h)
{
    for (int i = 0; i < h->n; i++) {
        nn_net_free(h->nets[i]);
        h->nets[i] = NULL;
    }
    h->n = 0;
}

/* Mean best validation loss and best epoch of l2 over the repeated holdouts of all; the
   holdouts' nets are appended to *kept (on error, none of them). */
static int try_l2(const struct model *m, const struct model_fit_spec *spec,
                  const struct nn_dataset *all, float l2, struct nn_rng *rng, atomic_int *cancel,
                  double *loss, double *epochs, struct model_holdouts *kept, struct nn_err *err)
{
    struct nn_train_params tp = m->params.train;
    size_t *tr_idx = nn_calloc(all->rows, sizeof(size_t));
    size_t *va_idx = nn_calloc(all->rows, sizeof(size_t));
    int rc = 0, first = kept->n;

    *loss = 0;
    *epochs = 0;
    tp.l2 = l2;
    if (tr_idx == NULL || va_idx == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory choosing the L2 decay");
        goto fail;
    }
    for (int r = 0; r < SELECT_REPEATS; r++) {
        struct nn_dataset tr, va;
        struct nn_train_result res;
        struct nn_net *net = NULL;
        size_t n_tr = 0, n_va = 0;

        memset(&tr, 0, sizeof(tr));
        memset(&va, 0, sizeof(va));
        rc = nn_train_split_stratified(
            all->y, all->rows, spec->task == NN_TASK_REGRESSION ? 0 : spec->n_classes,
            m->params.validation_split, rng, tr_idx, &n_tr, va_idx, &n_va, err);
        if (rc == 0 && (nn_dataset_take_rows(&tr, all, tr_idx, n_tr) != 0 ||
                        nn_dataset_take_rows(&va, all, va_idx, n_va) != 0)) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory choosing the L2 decay");
        }
        if (rc == 0) {
            rc = model_fit_net(m, spec, &tp, &tr, &va, rng, NULL, NULL, cancel, &net, &res, err);
        }
        nn_dataset_free(&tr);
        nn_dataset_free(&va);
        if (rc != 0) {
            nn_net_free(net);
            goto fail;
        }
        kept->nets[kept->n] = net;
        kept->l2[kept->n] = l2;
        kept->epochs[kept->n++] = res.best_epoch;
        *loss += res.best_val_loss / SELECT_REPEATS;
        *epochs += (double)res.best_epoch / SELECT_REPEATS;
    }
fail:
    for (int i = first; rc != 0 && i < kept->n; i++) {
        nn_net_free(kept->nets[i]);
        kept->nets[i] = NULL;
    }
    kept->n = rc != 0 ? first : kept->n;
    nn_free(tr_idx);
    nn_free(va_idx);
    return rc;
}

/* Keeps the holdout nets of the SELECT_KEEP_DECAYS decays of the lowest mean holdout loss
   (measured with make quality: all four lost diabetes to a linear fit, the best one or two
   lost wine or breast cancer), frees the others. */
static void keep_decays(struct model_holdouts *h, const double *losses)
{
    int n = 0;

    for (int i = 0; i < h->n; i++) {
        int d = 0, rank = 0;

        while (d < MODEL_SELECT_DECAYS && l2_grid[d] != h->l2[i]) {
            d++;
        }
        for (int e = 0; e < MODEL_SELECT_DECAYS; e++) {
            rank += losses[e] < losses[d] || (losses[e] == losses[d] && e < d);
        }
        struct nn_net *net = h->nets[i];

        h->nets[i] = NULL;
        if (rank < SELECT_KEEP_DECAYS) {
            h->nets[n] = net;
            h->l2[n] = h->l2[i];
            h->epochs[n++] = h->epochs[i];
        } else {
            nn_net_free(net);
        }
    }
    h->n = n;
}

int model_select_l2(struct model *m, const struct model_fit_spec *spec,
                    const struct nn_dataset *all, atomic_int *cancel, int *epochs,
                    struct model_holdouts *keep, struct nn_err *err)
{
    struct nn_rng rng;
    double best_loss = INFINITY, best_epochs = 0;
    double losses[MODEL_SELECT_DECAYS] = {INFINITY, INFINITY, INFINITY, INFINITY};
    float best = L2_LARGE;

    *epochs = 0;
    keep->n = 0;
    if (m->params.train.l2 >= 0) {
        return 0; /* given */
    }
    m->params.train.l2 = L2_LARGE;
    if (!model_select_would(all->rows, m->feat->sparse_dim, &m->params)) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(l2_grid) / sizeof(l2_grid[0]); i++) {
        double loss, ep;
        int rc;

        /* every decay on the same holdouts and initial weights: the comparison is of the
           decays, not of the splits (and the main run's stream stays as it was) */
        nn_rng_seed(&rng, m->params.seed ^ 0x6c32u);
        rc = try_l2(m, spec, all, l2_grid[i], &rng, cancel, &loss, &ep, keep, err);

        if (rc == NN_EDIVERGED) {
            continue; /* that decay is not a candidate */
        }
        if (rc != 0) {
            model_holdouts_free(keep);
            return rc;
        }
        losses[i] = loss;
        if (loss < best_loss) {
            best_loss = loss;
            best_epochs = ep;
            best = l2_grid[i];
        }
    }
    m->params.train.l2 = best;
    *epochs = (int)lround(best_epochs);
    keep_decays(keep, losses);
    return 0;
}

int model_select_would(size_t rows, size_t sparse_dim, const struct model_params *p)
{
    /* no early stopping (patience 0): every run would go to the last epoch, nothing to learn */
    return rows <= SELECT_MAX_ROWS && rows >= 10 && p->validation_split > 0 &&
           p->train.patience != 0 && sparse_dim == 0;
}

int model_refit_would(size_t rows, size_t sparse_dim, const struct model_params *p)
{
    /* not: large, text (wide and slow), nothing held out, or a threshold chosen on the
       validation scores of the nets trained on the training split */
    return rows <= REFIT_MAX_ROWS && sparse_dim == 0 && p->validation_split > 0 &&
           p->target_fpr < 0;
}

int model_refit_applies(const struct model *m, const struct nn_dataset *all)
{
    return model_refit_would(all->rows, m->feat->sparse_dim, &m->params) && m->metrics.val_rows > 0;
}

int model_refit(struct model *m, const struct model_fit_spec *spec, const struct nn_dataset *all,
                int i, const struct nn_train_params *tp, int epochs, atomic_int *cancel,
                struct nn_err *err)
{
    struct nn_train_params t = *tp;
    struct nn_train_result res;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    int rc;

    t.epochs = epochs < 1 ? 1 : epochs;
    nn_rng_seed(&rng, m->params.seed ^ 0x7265u ^ (0x9E3779B97F4A7C15ull * (uint64_t)i));
    rc = model_fit_net(m, spec, &t, all, NULL, &rng, NULL, NULL, cancel, &net, &res, err);
    if (rc != 0) {
        return rc;
    }
    nn_net_free(m->nets[i]);
    m->nets[i] = net;
    return 0;
}
