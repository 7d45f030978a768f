/*
 * train: the mini-batch training loop and the stratified split.
 *
 * Why this shape: everything a run needs (shuffled index, batch targets, optimiser state,
 * a copy of the best weights) is allocated once before the first epoch, so the loop itself
 * never allocates; the net's own work buffers carry the activations. The cancel flag is
 * read before every batch, so a cancelled job stops within one mini-batch. Validation loss
 * is computed from logits exactly as the training loss is (nn_net_loss), and the weights
 * of the epoch with the lowest validation loss are copied aside and restored at the end.
 * Determinism: the only randomness is the caller's rng (shuffles); with single-threaded
 * BLAS (the caller sets OPENBLAS_NUM_THREADS=1 or calls openblas_set_num_threads(1) at
 * start — nn/ never changes BLAS's global state) a run is bit-for-bit repeatable.
 */
#include "nn/train.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "nn/alloc.h"
#include "nn/metrics.h"
#include "nn/optim.h"

void nn_train_params_default(struct nn_train_params *p)
{
    memset(p, 0, sizeof(*p));
    p->optimizer = NN_OPTIM_ADAM;
    p->learning_rate = 0.001f;
    p->epochs = 100;
    p->batch_size = 32;
    p->l2 = 0.0f;
    p->patience = 10;
    p->momentum = 0.9f;
    p->beta1 = 0.9f;
    p->beta2 = 0.999f;
    p->eps = 1e-8f;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Checks a data set's shape and targets against the net and task. */
static int check_data(const struct nn_net *net, enum nn_task task, const struct nn_dataset *ds,
                      const char *what, struct nn_err *err)
{
    int k = nn_net_outputs(net);
    size_t i;

    if (ds->dense_cols != net->dense_in || ds->sparse_cols > net->sparse_in ||
        ds->sparse_cols < 0) {
        return nn_err_set(err, NN_EINVAL,
                          "%s set has %d dense + %d sparse columns; the net takes %d + %d", what,
                          ds->dense_cols, ds->sparse_cols, net->dense_in, net->sparse_in);
    }
    if (ds->rows > 0 && (ds->y == NULL || (ds->dense_cols > 0 && ds->dense == NULL) ||
                         (ds->sparse_cols > 0 && ds->indptr == NULL))) {
        return nn_err_set(err, NN_EINVAL, "%s set lacks targets or feature storage", what);
    }
    for (i = 0; i < ds->rows; i++) {
        float y = ds->y[i];
        int ok;

        if (task == NN_TASK_REGRESSION) {
            ok = isfinite(y);
        } else {
            int kk = task == NN_TASK_BINARY ? 2 : k;

            ok = y >= 0.0f && y < (float)kk && y == floorf(y);
        }
        if (!ok) {
            return nn_err_set(err, NN_EINVAL, "%s row %zu has a bad target %g", what, i + 1,
                              (double)y);
        }
    }
    return 0;
}

/* Loss and metric (accuracy or RMSE) of the net over all of ds, in max_batch chunks. */
void nn_train_evaluate(struct nn_net *net, enum nn_task task, const struct nn_dataset *ds,
                       double *loss, double *metric)
{
    int k = nn_net_outputs(net);
    double lsum = 0.0, msum = 0.0;
    size_t first;

    for (first = 0; first < ds->rows; first += (size_t)net->max_batch) {
        size_t left = ds->rows - first;
        int n = left < (size_t)net->max_batch ? (int)left : net->max_batch;
        const float *p = nn_net_forward(net, ds, NULL, first, n);
        const float *y = ds->y + first;

        lsum += nn_net_loss(net, n, y) * n;
        if (task == NN_TASK_REGRESSION) {
            int r;

            for (r = 0; r < n; r++) {
                double d = (double)p[r] - y[r];

                msum += d * d;
            }
        } else {
            msum += nn_metrics_accuracy(p, k, y, (size_t)n) * n;
        }
    }
    *loss = lsum / (double)ds->rows;
    *metric = task == NN_TASK_REGRESSION ? sqrt(msum / (double)ds->rows) : msum / (double)ds->rows;
}

int nn_train(struct nn_net *net, enum nn_task task, const struct nn_dataset *train,
             const struct nn_dataset *val, const struct nn_train_params *p, nn_progress_fn cb,
             void *ud, atomic_int *cancel, struct nn_rng *rng, struct nn_train_result *res,
             struct nn_err *err)
{
    struct nn_optim_state st;
    struct nn_train_result r;
    enum nn_act oa;
    size_t *idx = NULL, i;
    float *ybuf = NULL, *best = NULL;
    int have_val, epoch, rc;

    memset(&st, 0, sizeof(st));
    memset(&r, 0, sizeof(r));
    if (net == NULL || train == NULL || p == NULL || rng == NULL) {
        return nn_err_set(err, NN_EINVAL, "missing net, data, parameters or rng");
    }
    oa = net->layers[net->n_layers - 1].act;
    if ((task == NN_TASK_BINARY && oa != NN_ACT_SIGMOID) ||
        (task == NN_TASK_MULTICLASS && oa != NN_ACT_SOFTMAX) ||
        (task == NN_TASK_REGRESSION && oa != NN_ACT_IDENTITY) || (int)task < 0 ||
        (int)task > NN_TASK_REGRESSION) {
        return nn_err_set(err, NN_EINVAL, "task %d does not fit a %s output", (int)task,
                          nn_act_name(oa));
    }
    if (p->epochs < 1 || p->batch_size < 1 || p->batch_size > net->max_batch || p->patience < 0) {
        return nn_err_set(err, NN_EINVAL,
                          "need epochs >= 1, 1 <= batch_size <= %d and patience >= 0 "
                          "(got %d, %d, %d)",
                          net->max_batch, p->epochs, p->batch_size, p->patience);
    }
    if (train->rows == 0) {
        return nn_err_set(err, NN_EINVAL, "the training set is empty");
    }
    rc = check_data(net, task, train, "training", err);
    if (rc == 0 && val != NULL) {
        rc = check_data(net, task, val, "validation", err);
    }
    if (rc != 0) {
        return rc;
    }
    have_val = val != NULL && val->rows > 0;
    rc = nn_optim_init(&st, net, p, err);
    if (rc != 0) {
        return rc;
    }
    idx = nn_calloc(train->rows, sizeof(*idx));
    ybuf = nn_calloc((size_t)net->max_batch, sizeof(*ybuf));
    if (have_val) {
        best = nn_calloc(net->n_params, sizeof(*best));
    }
    if (idx == NULL || ybuf == NULL || (have_val && best == NULL)) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory for the training loop");
        goto fail;
    }
    for (i = 0; i < train->rows; i++) {
        idx[i] = i;
    }
    r.best_val_loss = NAN;
    r.best_val_metric = NAN;
    for (epoch = 1; epoch <= p->epochs; epoch++) {
        struct nn_epoch_stats es;
        double t0 = now_seconds(), sum = 0.0;
        size_t b;

        nn_rng_shuffle(rng, idx, train->rows);
        for (b = 0; b < train->rows; b += (size_t)p->batch_size) {
            size_t left = train->rows - b;
            int n = left < (size_t)p->batch_size ? (int)left : p->batch_size, j;
            double loss;

            if (cancel != NULL && atomic_load(cancel) != 0) {
                rc = nn_err_set(err, NN_ECANCELED, "training cancelled at epoch %d", epoch);
                goto fail;
            }
            for (j = 0; j < n; j++) {
                ybuf[j] = train->y[idx[b + (size_t)j]];
            }
            nn_net_forward(net, train, idx + b, 0, n);
            loss = nn_net_backward(net, train, idx + b, 0, n, ybuf);
            if (!isfinite(loss)) {
                rc = nn_err_set(err, NN_EDIVERGED,
                                "training diverged: loss is %g at epoch %d, row %zu; "
                                "try a lower learning rate",
                                loss, epoch, b + 1);
                goto fail;
            }
            nn_optim_step(&st, net);
            sum += loss * n;
        }
        memset(&es, 0, sizeof(es));
        es.epoch = epoch;
        es.epochs = p->epochs;
        es.train_loss = sum / (double)train->rows;
        es.val_loss = NAN;
        es.val_metric = NAN;
        r.final_train_loss = es.train_loss;
        r.epochs_run = epoch;
        if (have_val) {
            nn_train_evaluate(net, task, val, &es.val_loss, &es.val_metric);
            if (!isfinite(es.val_loss)) {
                rc = nn_err_set(err, NN_EDIVERGED,
                                "training diverged: validation loss is %g at epoch %d; "
                                "try a lower learning rate",
                                es.val_loss, epoch);
                goto fail;
            }
            if (r.best_epoch == 0 || es.val_loss < r.best_val_loss) {
                r.best_epoch = epoch;
                r.best_val_loss = es.val_loss;
                r.best_val_metric = es.val_metric;
                memcpy(best, net->params, net->n_params * sizeof(float));
            }
        } else {
            r.best_epoch = epoch;
        }
        es.seconds = now_seconds() - t0;
        if ((cb != NULL && cb(&es, ud) != 0) || (cancel != NULL && atomic_load(cancel) != 0)) {
            rc = nn_err_set(err, NN_ECANCELED, "training cancelled after epoch %d", epoch);
            goto fail;
        }
        if (have_val && p->patience > 0 && epoch - r.best_epoch >= p->patience) {
            break;
        }
    }
    if (have_val && r.best_epoch != r.epochs_run) {
        memcpy(net->params, best, net->n_params * sizeof(float));
    }
    nn_optim_fini(&st);
    nn_free(idx);
    nn_free(ybuf);
    nn_free(best);
    if (res != NULL) {
        *res = r;
    }
    return 0;
fail:
    nn_optim_fini(&st);
    nn_free(idx);
    nn_free(ybuf);
    nn_free(best);
    return rc;
}

int nn_train_split_stratified(const float *labels, size_t n, int n_classes, double frac,
                              struct nn_rng *rng, size_t *tr_idx, size_t *n_tr, size_t *va_idx,
                              size_t *n_va, struct nn_err *err)
{
    size_t *perm = NULL, *count = NULL, *quota = NULL, i, ntr = 0, nva = 0;
    unsigned char *to_val = NULL;
    int c, rc = 0;

    if (!(frac >= 0.0 && frac < 1.0) || n_classes < 0 || (n > 0 && n_classes > 0 && !labels)) {
        return nn_err_set(err, NN_EINVAL, "validation fraction must be in [0, 1) (got %g)", frac);
    }
    perm = nn_calloc(n > 0 ? n : 1, sizeof(*perm));
    to_val = nn_calloc(n > 0 ? n : 1, 1);
    count = nn_calloc(n_classes > 0 ? (size_t)n_classes : 1, sizeof(*count));
    quota = nn_calloc(n_classes > 0 ? (size_t)n_classes : 1, sizeof(*quota));
    if (perm == NULL || to_val == NULL || count == NULL || quota == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory splitting %zu rows", n);
        goto fail;
    }
    for (i = 0; i < n; i++) {
        perm[i] = i;
        if (n_classes > 0) {
            float y = labels[i];

            if (!(y >= 0.0f && y < (float)n_classes)) {
                rc = nn_err_set(err, NN_EINVAL, "row %zu has class %g outside [0, %d)", i + 1,
                                (double)y, n_classes);
                goto fail;
            }
            count[(int)y]++;
        }
    }
    nn_rng_shuffle(rng, perm, n);
    if (n_classes > 0) {
        for (c = 0; c < n_classes; c++) {
            size_t q = (size_t)llround(frac * (double)count[c]);

            if (count[c] < 2) {
                q = 0;
            } else if (q < 1 && frac > 0.0) {
                q = 1;
            } else if (q >= count[c]) {
                q = count[c] - 1;
            }
            quota[c] = q;
        }
        for (i = 0; i < n; i++) {
            int cl = (int)labels[perm[i]];

            if (quota[cl] > 0) {
                quota[cl]--;
                to_val[perm[i]] = 1;
            }
        }
    } else {
        size_t q = (size_t)llround(frac * (double)n);

        for (i = 0; i < q && i < n; i++) {
            to_val[perm[i]] = 1;
        }
    }
    for (i = 0; i < n; i++) {
        if (to_val[i]) {
            va_idx[nva++] = i;
        } else {
            tr_idx[ntr++] = i;
        }
    }
    *n_tr = ntr;
    *n_va = nva;
fail:
    nn_free(perm);
    nn_free(to_val);
    nn_free(count);
    nn_free(quota);
    return rc;
}
