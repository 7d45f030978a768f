/*
 * importance: global permutation importance, measured once at training time on the
 * validation split — for each input, the validation rows' values of that input are shuffled
 * among the rows (its whole encoded group: a numeric value and its missing flag, a one-hot
 * group, a text input's shape features and words) and the metric is taken again; the drop
 * (accuracy for a classifier, RMSE's rise for a regression) averaged over MODEL_IMP_SHUFFLES
 * shuffles, with its standard deviation, is the input's importance.
 * Why permutation, not the mean |attribution|: it answers "what would the model lose without
 * this column", and costs MODEL_IMP_SHUFFLES predictions of the validation rows per input —
 * a few per cent of training (docs/api.md has the figure).
 * The words of every text input share the sparse block, so with several text inputs their
 * words are shuffled together (each such input's figure then counts all of them).
 * Shuffles use their own generator (seeded from the training seed), so training draws the
 * same numbers with or without it. Thread-safety: per call; the model is being built.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"
#include "nn/alloc.h"
#include "nn/metrics.h"

#define IMP_SEED 0x9e3779b97f4a7c15ull /* mixed into the training seed */

/* The validation metric of out against ds: accuracy (higher is better) or RMSE in label units
 * (lower is better; returned negated so that a drop is always "before - after"). */
static double quality(const struct model *m, const struct nn_dataset *ds, const float *out,
                      float *tmp)
{
    const struct tab_features *f = m->feat;
    size_t i;

    if (f->task != NN_TASK_REGRESSION) {
        return nn_metrics_accuracy(out, nn_net_outputs(m->nets[0]), ds->y, ds->rows);
    }
    for (i = 0; i < ds->rows; i++) {
        tmp[i] = (float)tab_features_unscale(f, out[i]);
        tmp[ds->rows + i] = (float)tab_features_unscale(f, ds->y[i]);
    }
    return -nn_metrics_rmse(tmp, tmp + ds->rows, ds->rows);
}

/* p = a random permutation of 0..n-1 (Fisher-Yates). */
static void shuffle(size_t *p, size_t n, struct nn_rng *rng)
{
    size_t i, j, t;

    for (i = 0; i < n; i++) {
        p[i] = i;
    }
    for (i = n; i > 1; i--) {
        j = (size_t)nn_rng_below(rng, i);
        t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
}

/* Into dst (same shape as src): src with dense columns [c0, c1) of row r taken from row
 * p[r], and, when sparse, every row's sparse entries taken from row p[r]. */
static void permuted(struct nn_dataset *dst, const struct nn_dataset *src, const size_t *p, int c0,
                     int c1, int sparse)
{
    size_t d = (size_t)src->dense_cols, r, e = 0;

    memcpy(dst->dense, src->dense, src->rows * d * sizeof(float));
    for (r = 0; r < src->rows; r++) {
        memcpy(dst->dense + r * d + (size_t)c0, src->dense + p[r] * d + (size_t)c0,
               (size_t)(c1 - c0) * sizeof(float));
    }
    if (src->sparse_cols == 0) {
        return;
    }
    dst->indptr[0] = 0;
    for (r = 0; r < src->rows; r++) {
        size_t q = sparse ? p[r] : r, a = src->indptr[q], n = src->indptr[q + 1] - a;

        memcpy(dst->indices + e, src->indices + a, n * sizeof(int32_t));
        memcpy(dst->values + e, src->values + a, n * sizeof(float));
        e += n;
        dst->indptr[r + 1] = e;
    }
}

int model_importance_fit(struct model *m, const struct nn_dataset *va, uint64_t seed,
                         struct nn_err *err)
{
    const struct tab_features *f = m->feat;
    size_t n = f->n_inputs, rows = va->rows, k = (size_t)nn_net_outputs(m->nets[0]), i;
    size_t nnz = va->sparse_cols > 0 ? va->indptr[rows] : 0;
    struct nn_dataset perm;
    struct nn_rng rng;
    double base, drops[MODEL_IMP_SHUFFLES];
    float *imp = NULL, *out = NULL, *tmp = NULL;
    size_t *p = NULL;
    int rc = 0, s;

    memset(&perm, 0, sizeof(perm));
    if (rows < 2 || n == 0) {
        return 0; /* nothing to shuffle: the card says so by having no importance */
    }
    imp = nn_calloc(2 * n, sizeof(float));
    out = nn_malloc(rows * k * sizeof(float));
    tmp = nn_malloc(2 * rows * sizeof(float));
    p = nn_malloc(rows * sizeof(size_t));
    if (imp == NULL || out == NULL || tmp == NULL || p == NULL ||
        nn_dataset_alloc(&perm, rows, va->dense_cols, va->sparse_cols, nnz, 1) != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory measuring permutation importance");
        goto fail;
    }
    memcpy(perm.y, va->y, rows * sizeof(float));
    nn_rng_seed(&rng, seed ^ IMP_SEED);
    if (model_nets_predict(m, va, out) != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory measuring permutation importance");
        goto fail;
    }
    base = quality(m, va, out, tmp);
    for (i = 0; i < n; i++) {
        const struct tab_feat_input *in = &f->inputs[i];
        int c1 = i + 1 < n ? f->inputs[i + 1].offset : f->dense_dim;
        double mean = 0.0, var = 0.0;

        for (s = 0; s < MODEL_IMP_SHUFFLES; s++) {
            shuffle(p, rows, &rng);
            permuted(&perm, va, p, in->offset, c1, in->type == TAB_COL_TEXT);
            if (model_nets_predict(m, &perm, out) != 0) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory measuring permutation importance");
                goto fail;
            }
            drops[s] = base - quality(m, &perm, out, tmp);
            mean += drops[s] / MODEL_IMP_SHUFFLES;
        }
        for (s = 0; s < MODEL_IMP_SHUFFLES; s++) {
            var += (drops[s] - mean) * (drops[s] - mean) / (MODEL_IMP_SHUFFLES - 1);
        }
        imp[2 * i] = (float)mean;
        imp[2 * i + 1] = (float)sqrt(var);
    }
    nn_free(m->importance);
    m->importance = imp;
    imp = NULL;
fail:
    nn_dataset_free(&perm);
    nn_free(imp);
    nn_free(out);
    nn_free(tmp);
    nn_free(p);
    return rc;
}

/* Inputs by mean drop, largest first (ties: input order). */
static void order_by_drop(const float *imp, size_t n, size_t *ord)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        ord[i] = i;
    }
    for (i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        size_t v = ord[i];

        for (j = i; j > 0 && imp[2 * ord[j - 1]] < imp[2 * v]; j--) {
            ord[j] = ord[j - 1];
        }
        ord[j] = v;
    }
}

cJSON *model_importance_json(const struct model *m)
{
    const struct tab_features *f = m->feat;
    size_t n = f->n_inputs, i;
    size_t *ord;
    cJSON *o, *list;

    if (m->importance == NULL) {
        return cJSON_CreateNull();
    }
    ord = nn_calloc(n + 1, sizeof(size_t));
    o = cJSON_CreateObject();
    if (ord == NULL || o == NULL) {
        nn_free(ord);
        cJSON_Delete(o);
        return NULL;
    }
    cJSON_AddStringToObject(o, "method", "permutation");
    cJSON_AddStringToObject(o, "metric", f->task == NN_TASK_REGRESSION ? "rmse" : "accuracy");
    cJSON_AddStringToObject(o, "split", "validation");
    cJSON_AddNumberToObject(o, "shuffles", MODEL_IMP_SHUFFLES);
    list = cJSON_AddArrayToObject(o, "inputs");
    order_by_drop(m->importance, n, ord);
    for (i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();

        if (e == NULL || !cJSON_AddItemToArray(list, e)) {
            cJSON_Delete(e);
            break;
        }
        cJSON_AddStringToObject(e, "name", f->inputs[ord[i]].name);
        cJSON_AddNumberToObject(e, "mean", m->importance[2 * ord[i]]);
        cJSON_AddNumberToObject(e, "sd", m->importance[2 * ord[i] + 1]);
    }
    nn_free(ord);
    return o;
}
