/*
 * model: the whole path from a CSV file to a trained model, and everything asked of a model
 * afterwards (predict, evaluate, describe). It glues csv -> schema -> split -> features ->
 * net -> train -> metrics, in that order, so that features are fitted on the training split
 * only and the validation split decides early stopping and the reported metrics.
 *
 * Parameters come parsed (model/params.c, the one table of them).
 * Serialisation (blob, JSON export/import) lives in model_io.c.
 */
#include "model/model.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model_priv.h"
#include "model/model_select.h"
#include "model/text_decoder.h"
#include "nn/alloc.h"
#include "nn/metrics.h"
#include "tab/csv.h"
#include "tab/schema.h"

void model_limits_default(struct model_limits *lim)
{
    lim->max_rows = 10000000;
    lim->max_cols = 10000;
    lim->max_field = 1 << 20;
}

static void csv_opts(struct tab_csv_opts *o, char delim, const struct model_limits *lim)
{
    tab_csv_opts_default(o);
    o->delim = delim;
    if (lim != NULL) {
        o->max_rows = lim->max_rows;
        o->max_cols = lim->max_cols;
        o->max_field = lim->max_field;
    }
}

static int open_csv(const char *path, char delim, const struct model_limits *lim, FILE **fp,
                    struct tab_csv **r, struct nn_err *err)
{
    struct tab_csv_opts o;
    FILE *f;
    int rc;

    f = fopen(path, "rb");
    if (f == NULL) {
        return nn_err_set(err, NN_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    csv_opts(&o, delim, lim);
    rc = tab_csv_open(f, &o, r, err);
    if (rc != 0) {
        fclose(f);
        return rc;
    }
    *fp = f;
    return 0;
}

int model_check_csv(const char *path, const struct model_params *p, const struct model_limits *lim,
                    size_t *rows, size_t *cols, struct nn_err *err)
{
    struct tab_csv *r = NULL;
    FILE *f = NULL;
    int rc;

    rc = open_csv(path, p->delimiter, lim, &f, &r, err);
    if (rc != 0) {
        return rc;
    }
    if (p->label != NULL && tab_csv_find(r, p->label) < 0) {
        rc = nn_err_set_at(err, NN_EINVAL, 1, 0, p->label,
                           "label column '%.64s' is not in the CSV header", p->label);
        goto fail;
    }
    if (tab_csv_ncols(r) < 2) {
        rc = nn_err_set_at(err, NN_EINVAL, 1, 0, NULL,
                           "the CSV needs at least two columns: features and a label");
        goto fail;
    }
    while ((rc = tab_csv_next(r, err)) == 1) {
    }
    if (rc != 0) {
        goto fail;
    }
    if (tab_csv_rows(r) < 2) {
        rc = nn_err_set_at(err, NN_EINVAL, 2, 0, NULL, "the CSV needs at least two data rows");
        goto fail;
    }
    *rows = tab_csv_rows(r);
    *cols = tab_csv_ncols(r);
fail:
    tab_csv_close(r);
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Model object
 * ---------------------------------------------------------------------------------------- */

struct model *model_alloc(void)
{
    struct model *m = nn_calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    model_params_default(&m->params);
    m->metrics.accuracy = NAN;
    m->metrics.log_loss = NAN;
    m->metrics.auc = NAN;
    m->metrics.rmse = NAN;
    m->metrics.mae = NAN;
    m->metrics.loss = NAN;
    m->metrics.threshold = 0.5;
    m->metrics.threshold_source = MODEL_THRESHOLD_DEFAULT;
    return m;
}

void model_free(struct model *m)
{
    size_t i;

    if (m == NULL) {
        return;
    }
    tab_features_free(m->feat);
    nn_net_free(m->net);
    model_params_fini(&m->params);
    nn_free(m->history);
    for (i = 0; i < m->n_ignored; i++) {
        nn_free(m->ignored[i]);
    }
    nn_free(m->ignored);
    model_columns_free(m);
    nn_free(m->baseline);
    cJSON_Delete(m->search);
    nn_free(m);
}

const char *model_task_name(int task)
{
    return task == NN_TASK_REGRESSION ? "regression" : "classification";
}

int model_task(const struct model *m)
{
    return m->feat->task;
}

int model_n_classes(const struct model *m)
{
    return m->feat->task == NN_TASK_REGRESSION ? 0 : m->feat->n_classes;
}

const char *model_class(const struct model *m, int i)
{
    return m->feat->classes[i];
}

int model_n_inputs(const struct model *m)
{
    return (int)m->feat->n_inputs;
}

const char *model_input_name(const struct model *m, int i)
{
    return m->feat->inputs[i].name;
}

const char *model_input_type(const struct model *m, int i)
{
    return tab_col_type_name(m->feat->inputs[i].type);
}

int model_decide(const struct model *m, const float *out)
{
    int k = m->feat->n_classes, best = 0;

    if (m->feat->task == NN_TASK_REGRESSION || k < 1) {
        return -1;
    }
    int pos = k == 2 ? model_positive_class(m) : -1;
    if (pos >= 0) {
        return (double)out[pos] >= model_threshold(m, NULL) ? pos : 1 - pos;
    }
    for (int c = 1; c < k; c++) {
        if (out[c] > out[best]) {
            best = c;
        }
    }
    return best;
}

int model_text_input(const struct model *m)
{
    size_t i;

    for (i = 0; i < m->feat->n_inputs; i++) {
        if (m->feat->inputs[i].type == TAB_COL_TEXT) {
            return (int)i;
        }
    }
    return -1;
}

int model_positive_class(const struct model *m)
{
    static const char *const yes[] = {"1", "true", "yes"};
    int k = model_n_classes(m), i;
    size_t j;

    if (k != 2) {
        return -1;
    }
    for (i = 0; i < k; i++) {
        if (strcasecmp(m->feat->classes[i], "spam") == 0) {
            return i;
        }
    }
    for (j = 0; j < sizeof(yes) / sizeof(yes[0]); j++) {
        for (i = 0; i < k; i++) {
            if (strcasecmp(m->feat->classes[i], yes[j]) == 0) {
                return i;
            }
        }
    }
    return 1;
}

double model_threshold(const struct model *m, const char **source)
{
    static const char *const names[] = {"default", "threshold", "target_fpr"};
    int s = m->metrics.threshold_source;

    if (source != NULL) {
        *source = names[s >= 0 && s <= MODEL_THRESHOLD_FPR ? s : 0];
    }
    return m->metrics.threshold;
}

/* ------------------------------------------------------------------------------------------
 * Training
 * ---------------------------------------------------------------------------------------- */

struct progress_ctx {
    struct model *m;
    size_t cap;
    nn_progress_fn cb;
    void *ud;
};

/* Records each epoch in the model's history, then forwards to the caller's callback. */
static int on_epoch(const struct nn_epoch_stats *st, void *ud)
{
    struct progress_ctx *c = ud;
    struct nn_epoch_stats s = *st;

    if (c->m->feat->task == NN_TASK_REGRESSION) {
        s.regression = 1;
        s.val_metric *= c->m->feat->y_sd; /* RMSE in label units */
    }
    if (c->m->n_history == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        struct nn_epoch_stats *h = nn_reallocarray(c->m->history, cap, sizeof(*h));

        if (h == NULL) {
            return 1; /* stops training; reported as out of memory by the caller */
        }
        c->m->history = h;
        c->cap = cap;
    }
    c->m->history[c->m->n_history++] = s;
    return c->cb != NULL ? c->cb(&s, c->ud) : 0;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return x < y ? 1 : (x > y ? -1 : 0);
}

/*
 * Sets the decision threshold of a binary model: the threshold= parameter, or for
 * target_fpr= the smallest threshold whose false-positive rate on the validation rows (rows of
 * the negative class scored >= threshold) is at most the target. out[i] = P(classes[1]).
 */
static int choose_threshold(struct model *m, const float *out, const struct nn_dataset *ds)
{
    int pos = model_positive_class(m);
    size_t n_neg = 0, i, allowed;
    float *neg;

    if (m->params.threshold >= 0) {
        m->metrics.threshold = m->params.threshold;
        m->metrics.threshold_source = MODEL_THRESHOLD_PARAM;
    }
    if (m->params.target_fpr < 0 || pos < 0) {
        return 0;
    }
    neg = nn_malloc(sizeof(float) * (ds->rows + 1));
    if (neg == NULL) {
        return NN_ENOMEM;
    }
    for (i = 0; i < ds->rows; i++) {
        if ((int)ds->y[i] != pos) {
            neg[n_neg++] = pos == 1 ? out[i] : 1.0f - out[i];
        }
    }
    if (n_neg > 0) {
        qsort(neg, n_neg, sizeof(float), cmp_desc);
        allowed = (size_t)floor(m->params.target_fpr * (double)n_neg);
        m->metrics.threshold = allowed >= n_neg ? 0.0 : (double)nextafterf(neg[allowed], 2.0f);
        if (m->metrics.threshold > 1.0) {
            m->metrics.threshold = 1.0;
        }
        m->metrics.threshold_source = MODEL_THRESHOLD_FPR;
    }
    nn_free(neg);
    return 0;
}

/* Validation (or, with no validation rows, training) metrics of the trained net. */
static int compute_metrics(struct model *m, const struct nn_dataset *ds, struct nn_err *err)
{
    struct tab_features *f = m->feat;
    int k = nn_net_outputs(m->net);
    float *out = NULL;
    float *tmp = NULL;
    size_t i;
    int rc = 0;

    if (ds->rows == 0) {
        return 0;
    }
    out = nn_calloc(ds->rows * (size_t)k, sizeof(float));
    tmp = nn_calloc(ds->rows * 2, sizeof(float));
    if (out == NULL || tmp == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory computing validation metrics");
        goto fail;
    }
    nn_net_predict(m->net, ds, out);
    if (f->task == NN_TASK_REGRESSION) {
        float *pred = tmp;
        float *truth = tmp + ds->rows;
        double sd = 0, mean = 0;

        for (i = 0; i < ds->rows; i++) {
            pred[i] = (float)tab_features_unscale(f, out[i]);
            truth[i] = (float)tab_features_unscale(f, ds->y[i]);
            mean += pred[i];
        }
        m->metrics.rmse = nn_metrics_rmse(pred, truth, ds->rows);
        m->metrics.mae = nn_metrics_mae(pred, truth, ds->rows);
        mean /= (double)ds->rows;
        for (i = 0; i < ds->rows; i++) {
            sd += (pred[i] - mean) * (pred[i] - mean);
        }
        if (ds->rows > 1 && sqrt(sd / (double)ds->rows) < 1e-6 * (fabs(mean) + 1.0)) {
            rc = nn_err_set(err, NN_EINVAL,
                            "quality gate: the model predicts the same value (%g) for every "
                            "validation row; try more epochs, another learning rate or more data",
                            mean);
            goto fail;
        }
    } else {
        int first = -1, same = 1, truth_same = 1;

        m->metrics.accuracy = nn_metrics_accuracy(out, k, ds->y, ds->rows);
        m->metrics.log_loss = nn_metrics_log_loss(out, k, ds->y, ds->rows);
        if (k == 1) {
            m->metrics.auc = nn_metrics_auc(out, ds->y, ds->rows);
            rc = choose_threshold(m, out, ds);
            if (rc != 0) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory choosing the threshold");
                goto fail;
            }
        }
        for (i = 0; i < ds->rows; i++) {
            int lab = 0;

            if (k == 1) {
                lab = out[i] >= 0.5f;
            } else {
                int j;

                for (j = 1; j < k; j++) {
                    if (out[i * (size_t)k + (size_t)j] > out[i * (size_t)k + (size_t)lab]) {
                        lab = j;
                    }
                }
            }
            if (first < 0) {
                first = lab;
            } else if (lab != first) {
                same = 0;
            }
            if (ds->y[i] != ds->y[0]) {
                truth_same = 0;
            }
        }
        if (same && !truth_same && ds->rows > 1) {
            rc = nn_err_set(err, NN_EINVAL,
                            "quality gate: the model answers '%s' for every validation row; "
                            "try more epochs, another learning rate or more data",
                            f->classes[first]);
            goto fail;
        }
    }
fail:
    nn_free(out);
    nn_free(tmp);
    return rc;
}

/* Names listed in ignore_columns that exist, kept for the resolved parameters. */
static int keep_ignored(struct model *m, const struct tab_schema *s)
{
    size_t i, n = 0;

    for (i = 0; i < s->n_cols; i++) {
        n += s->cols[i].type == TAB_COL_IGNORED && i != s->label;
    }
    if (n == 0) {
        return 0;
    }
    m->ignored = nn_calloc(n, sizeof(char *));
    if (m->ignored == NULL) {
        return NN_ENOMEM;
    }
    for (i = 0; i < s->n_cols; i++) {
        if (s->cols[i].type == TAB_COL_IGNORED && i != s->label) {
            m->ignored[m->n_ignored] = nn_strdup(s->cols[i].name);
            if (m->ignored[m->n_ignored] == NULL) {
                return NN_ENOMEM;
            }
            m->n_ignored++;
        }
    }
    return 0;
}

int model_batch_size(const struct model_params *p, size_t n_tr)
{
    size_t b = (n_tr + 9) / 10;

    if (!p->batch_auto) {
        return p->train.batch_size;
    }
    return b < 1 ? 1 : (b < (size_t)p->train.batch_size ? (int)b : p->train.batch_size);
}

int model_read_schema(const char *path, const struct model_params *p,
                      const struct model_limits *lim, FILE **fp, struct tab_csv **r,
                      struct tab_schema **s, struct nn_err *err)
{
    struct tab_schema_opts so;
    struct tab_na na;
    int rc;

    *fp = NULL;
    *r = NULL;
    *s = NULL;
    rc = open_csv(path, p->delimiter, lim, fp, r, err);
    if (rc != 0) {
        return rc;
    }
    memset(&so, 0, sizeof(so));
    so.label = p->label;
    so.task = p->task < 0 ? -1 : (p->task == NN_TASK_REGRESSION ? NN_TASK_REGRESSION : 0);
    so.text_columns = p->text_columns;
    so.categorical_columns = p->categorical_columns;
    so.ignore_columns = p->ignore_columns;
    rc = tab_na_parse(p->na_values, &na, err);
    if (rc == 0) {
        so.na = &na;
        rc = tab_schema_infer(*r, &so, s, err);
    }
    if (rc == 0 && (*s)->rows < 2) {
        rc = nn_err_set_at(err, NN_EINVAL, 2, 0, NULL, "the CSV needs at least two data rows");
    }
    if (rc != 0) {
        tab_schema_free(*s);
        tab_csv_close(*r);
        fclose(*fp);
        *s = NULL;
        *r = NULL;
        *fp = NULL;
    }
    return rc;
}

int model_train_csv(const char *path, const struct model_params *p, const struct model_limits *lim,
                    nn_progress_fn cb, void *ud, atomic_int *cancel, struct model **out,
                    struct nn_err *err)
{
    struct tab_feat_opts fo = {model_text_decoder_default(), p->impute};
    struct tab_schema *s = NULL;
    struct tab_csv *r = NULL;
    struct model *m = NULL;
    struct nn_dataset all, tr, va;
    struct nn_train_result res;
    struct nn_rng rng;
    struct progress_ctx pc;
    unsigned char *is_train = NULL;
    size_t *tr_idx = NULL, *va_idx = NULL, n_tr = 0, n_va = 0, i;
    struct model_fit_spec spec;
    FILE *f = NULL;
    int refit_epochs = 0, rc;

    *out = NULL;
    memset(&all, 0, sizeof(all));
    memset(&tr, 0, sizeof(tr));
    memset(&va, 0, sizeof(va));
    rc = model_read_schema(path, p, lim, &f, &r, &s, err);
    if (rc != 0) {
        return rc;
    }
    m = model_alloc();
    tr_idx = nn_calloc(s->rows, sizeof(size_t));
    va_idx = nn_calloc(s->rows, sizeof(size_t));
    is_train = nn_calloc(s->rows, 1);
    if (m == NULL || tr_idx == NULL || va_idx == NULL || is_train == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    rc = model_params_copy(&m->params, p);
    if (rc == 0) {
        rc = keep_ignored(m, s);
    }
    if (rc == 0) {
        rc = model_columns_keep(m, s);
    }
    if (rc != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    nn_free(m->params.label);
    m->params.label = nn_strdup(s->cols[s->label].name);
    if (m->params.label == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    m->params.task = s->task;

    nn_rng_seed(&rng, p->seed);
    rc = nn_train_split_stratified(s->labels, s->rows,
                                   s->task == NN_TASK_REGRESSION ? 0 : s->n_classes,
                                   p->validation_split, &rng, tr_idx, &n_tr, va_idx, &n_va, err);
    if (rc != 0) {
        goto fail;
    }
    for (i = 0; i < n_tr; i++) {
        is_train[tr_idx[i]] = 1;
    }
    rc = tab_features_fit_opts(r, s, is_train, &fo, &m->feat, &all, err);
    if (rc != 0) {
        goto fail;
    }
    if (nn_dataset_take_rows(&tr, &all, tr_idx, n_tr) != 0 ||
        nn_dataset_take_rows(&va, &all, va_idx, n_va) != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory splitting the data");
        goto fail;
    }
    if (model_baseline_fit(m, &tr) != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    m->params.train.batch_size = model_batch_size(p, n_tr);
    m->params.batch_auto = 0;

    spec.task = s->task;
    spec.n_classes = s->task == NN_TASK_REGRESSION ? 0 : s->n_classes;
    if (s->task == NN_TASK_REGRESSION) {
        spec.n_out = 1;
        spec.out_act = NN_ACT_IDENTITY;
    } else if (s->n_classes == 2) {
        spec.n_out = 1;
        spec.out_act = NN_ACT_SIGMOID;
    } else {
        spec.n_out = s->n_classes;
        spec.out_act = NN_ACT_SOFTMAX;
    }
    rc = model_select_l2(m, &spec, &all, cancel, &refit_epochs, err);
    if (rc != 0) {
        goto fail;
    }
    pc.m = m;
    pc.cap = 0;
    pc.cb = cb;
    pc.ud = ud;
    rc = model_fit_net(m, &spec, &m->params.train, &tr, &va, &rng, on_epoch, &pc, cancel, &m->net,
                       &res, err);
    if (rc != 0) {
        goto fail;
    }
    m->metrics.best_epoch = res.best_epoch;
    m->metrics.epochs_run = res.epochs_run;
    m->metrics.loss = va.rows > 0 ? res.best_val_loss : res.final_train_loss;
    m->metrics.train_rows = n_tr;
    m->metrics.val_rows = n_va;
    rc = compute_metrics(m, va.rows > 0 ? &va : &tr, err);
    if (rc == 0) {
        rc = model_refit(m, &spec, &all, refit_epochs, cancel, err);
    }
    if (rc != 0) {
        goto fail;
    }
    *out = m;
    m = NULL;
fail:
    nn_dataset_free(&all);
    nn_dataset_free(&tr);
    nn_dataset_free(&va);
    nn_free(tr_idx);
    nn_free(va_idx);
    nn_free(is_train);
    model_free(m);
    tab_schema_free(s);
    tab_csv_close(r);
    fclose(f);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Prediction
 * ---------------------------------------------------------------------------------------- */

/* Per-call scratch for one row: dense features, sparse entries, net scratch. */
struct row_scratch {
    float *dense;
    int32_t *ind;
    float *val;
    size_t max_nnz;
    float *net;
    float *raw;
};

/* The row scratch's parts in floats (dense, sparse values, net, outputs; the int32 indices
 * follow, as many as the sparse values). @return the bytes of the whole block. */
static size_t scratch_layout(const struct model *m, size_t part[4])
{
    part[0] = (size_t)m->feat->dense_dim + 1;
    part[1] = m->feat->sparse_dim > 0 ? TAB_FEAT_MAX_NNZ : 1;
    part[2] = nn_net_scratch_len(m->net) + 1;
    part[3] = (size_t)nn_net_outputs(m->net) + 1;
    return sizeof(float) * (part[0] + part[1] + part[2] + part[3]) + sizeof(int32_t) * part[1];
}

/* Points the scratch at a block of scratch_layout's bytes (float-aligned). */
static void scratch_carve(const struct model *m, struct row_scratch *sc, float *block)
{
    size_t part[4];

    scratch_layout(m, part);
    sc->dense = block;
    sc->val = block + part[0];
    sc->net = sc->val + part[1];
    sc->raw = sc->net + part[2];
    sc->ind = (int32_t *)(void *)(sc->raw + part[3]);
    sc->max_nnz = m->feat->sparse_dim > 0 ? TAB_FEAT_MAX_NNZ : 0;
}

static int scratch_open(const struct model *m, struct row_scratch *sc)
{
    size_t part[4];
    float *block = nn_malloc(scratch_layout(m, part));

    if (block == NULL) {
        return NN_ENOMEM;
    }
    scratch_carve(m, sc, block);
    return 0;
}

static void scratch_close(struct row_scratch *sc)
{
    nn_free(sc->dense);
}

/* Runs the net on encoded cells and writes the user-facing outputs (see model.h). */
static int predict_cells(const struct model *m, struct row_scratch *sc, const char *const *cells,
                         const double *nums, float *out, struct nn_err *err)
{
    size_t nnz = 0;
    int rc;

    rc = tab_features_encode_num(m->feat, cells, nums, sc->dense, sc->ind, sc->val, sc->max_nnz,
                                 &nnz, err);
    if (rc != 0) {
        return rc;
    }
    nn_net_predict_row(m->net, sc->dense, sc->ind, sc->val, nnz, sc->net, sc->raw);
    model_outputs(m, sc->raw, out);
    return 0;
}

void model_outputs(const struct model *m, const float *raw, float *out)
{
    if (m->feat->task == NN_TASK_REGRESSION) {
        out[0] = (float)tab_features_unscale(m->feat, raw[0]);
    } else if (nn_net_outputs(m->net) == 1) {
        out[0] = 1.0f - raw[0];
        out[1] = raw[0];
    } else {
        memcpy(out, raw, sizeof(float) * (size_t)nn_net_outputs(m->net));
    }
}

int model_predict_cells(const struct model *m, const char *const *cells, float *out,
                        struct nn_err *err)
{
    struct row_scratch sc;
    int rc;

    if (scratch_open(m, &sc) != 0) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = predict_cells(m, &sc, cells, NULL, out, err);
    scratch_close(&sc);
    return rc;
}

/*
 * Turns one JSON value into what the pipeline reads: a number stays a number (*num) for a
 * numeric input and is printed into buf for the others; strings are borrowed.
 */
static int json_cell(const cJSON *v, const struct tab_feat_input *in, char *buf, size_t len,
                     const char **cell, double *num, struct nn_err *err)
{
    *num = NAN;
    *cell = NULL;
    if (v == NULL || cJSON_IsNull(v)) {
        return 0;
    }
    if (cJSON_IsNumber(v)) {
        /* past float range (1e300, 1e400 = inf) the text way refuses it, as a CSV cell is */
        if (in->type == TAB_COL_NUMERIC && fabs(v->valuedouble) <= FLT_MAX) {
            *num = v->valuedouble;
        } else {
            snprintf(buf, len, "%.17g", v->valuedouble);
            *cell = buf;
        }
    } else if (cJSON_IsString(v)) {
        *cell = v->valuestring;
    } else if (cJSON_IsBool(v)) {
        *cell = cJSON_IsTrue(v) ? "true" : "false";
    } else {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, in->name,
                             "input '%.64s' must be a number, a string or null", in->name);
    }
    return 0;
}

/* Index of the input named `name`; `guess` (the member's position) is tried first. */
static long input_index(const struct tab_features *f, const char *name, size_t guess)
{
    size_t i;

    if (guess < f->n_inputs && strcmp(f->inputs[guess].name, name) == 0) {
        return (long)guess;
    }
    for (i = 0; i < f->n_inputs; i++) {
        if (strcmp(f->inputs[i].name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Whether name is a column the model ignored at training (a member an instance may carry). */
static int is_ignored(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->n_ignored; i++) {
        if (strcmp(m->ignored[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

int model_json_cells(const struct model *m, const cJSON *instance, const char **cells, double *nums,
                     char *text, struct nn_err *err)
{
    const struct tab_features *f = m->feat;
    size_t n = f->n_inputs, i, pos = 0;
    const cJSON **vals = NULL;
    const cJSON *it;
    int rc = 0;

    if (!cJSON_IsObject(instance) && !cJSON_IsArray(instance)) {
        return nn_err_set(err, NN_EINVAL,
                          "an instance must be an object keyed by input name or an array");
    }
    vals = nn_calloc(n + 1, sizeof(*vals));
    if (vals == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    /* one walk over the instance's members (cJSON lists are linked: no indexing) */
    cJSON_ArrayForEach(it, instance)
    {
        if (cJSON_IsArray(instance)) {
            if (pos < n) {
                vals[pos] = it;
            }
        } else {
            long k = input_index(f, it->string, pos);

            if (k >= 0) {
                vals[k] = it;
            } else if (strcmp(it->string, f->label) != 0 && !is_ignored(m, it->string)) {
                rc = nn_err_set_at(err, NN_EINVAL, 0, 0, it->string, "unknown input '%.64s'",
                                   it->string);
                goto fail;
            }
        }
        pos++;
    }
    if (cJSON_IsArray(instance) && pos != n) {
        rc = nn_err_set(err, NN_EINVAL, "the instance has %d values; the model has %zu inputs",
                        cJSON_GetArraySize(instance), n);
        goto fail;
    }
    for (i = 0; i < n; i++) {
        /* an absent member is a typo more often than a missing value: null says missing */
        if (vals[i] == NULL && cJSON_IsObject(instance)) {
            rc = nn_err_set_at(err, NN_EINVAL, 0, 0, f->inputs[i].name,
                               "input '%.64s' is missing (send null for a missing value)",
                               f->inputs[i].name);
            goto fail;
        }
        rc = json_cell(vals[i], &f->inputs[i], text + 32 * i, 32, &cells[i], &nums[i], err);
        if (rc != 0) {
            goto fail;
        }
    }
fail:
    nn_free(vals);
    return rc;
}

int model_predict_json(const struct model *m, const cJSON *instance, float *out, struct nn_err *err)
{
    size_t n = m->feat->n_inputs;
    const char **cells = NULL;
    double *nums = NULL;
    char *text = NULL;
    struct row_scratch sc;
    int rc;

    cells = nn_calloc(n + 1, sizeof(char *));
    nums = nn_calloc(n + 1, sizeof(double));
    text = nn_malloc(32 * (n + 1));
    if (cells == NULL || nums == NULL || text == NULL || scratch_open(m, &sc) != 0) {
        nn_free(cells);
        nn_free(nums);
        nn_free(text);
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = model_json_cells(m, instance, cells, nums, text, err);
    if (rc == 0) {
        rc = predict_cells(m, &sc, cells, nums, out, err);
    }
    scratch_close(&sc);
    nn_free(cells);
    nn_free(nums);
    nn_free(text);
    return rc;
}

/* Scratch of a small model's row lives on the stack: the serving path allocates nothing. */
#define PREDICT_STACK_FLOATS 2048
#define PREDICT_STACK_INPUTS 256

int model_predict_num(const struct model *m, const double *x, size_t rows, float *out,
                      struct nn_err *err)
{
    const struct tab_features *f = m->feat;
    size_t n = f->n_inputs, k = (size_t)(model_n_classes(m) > 1 ? model_n_classes(m) : 1);
    float stack[PREDICT_STACK_FLOATS];
    const char *stack_cells[PREDICT_STACK_INPUTS] = {NULL};
    const char **cells = stack_cells;
    struct row_scratch sc;
    size_t i;
    int rc = 0;

    for (i = 0; i < n; i++) {
        if (f->inputs[i].type != TAB_COL_NUMERIC) {
            return nn_err_set_at(err, NN_EINVAL, 0, (long)i + 1, f->inputs[i].name,
                                 "input '%.64s' is not numeric", f->inputs[i].name);
        }
    }
    if (n > PREDICT_STACK_INPUTS) {
        cells = nn_calloc(n, sizeof(char *));
    }
    size_t part[4];
    if (scratch_layout(m, part) <= sizeof(stack)) {
        scratch_carve(m, &sc, stack);
    } else if (scratch_open(m, &sc) != 0) {
        sc.dense = NULL;
    }
    if (cells == NULL || sc.dense == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto done;
    }
    for (i = 0; i < rows && rc == 0; i++) {
        rc = predict_cells(m, &sc, cells, x + i * n, out + i * k, err);
    }
done:
    if (sc.dense != stack) {
        scratch_close(&sc);
    }
    if (cells != stack_cells) {
        nn_free(cells);
    }
    return rc;
}

/* Writes one NUL-terminated field with the csv module's quoting. */
static void put_field(FILE *out, const char *s, char delim)
{
    tab_csv_write_field(out, s, strlen(s), delim);
}

/* Maps each model input to its column in the CSV; a missing column is an error. */
static int map_columns(const struct model *m, const struct tab_csv *r, long *col,
                       struct nn_err *err)
{
    size_t i;

    for (i = 0; i < m->feat->n_inputs; i++) {
        col[i] = tab_csv_find(r, m->feat->inputs[i].name);
        if (col[i] < 0) {
            return nn_err_set_at(err, NN_EINVAL, 1, 0, m->feat->inputs[i].name,
                                 "the CSV has no column '%.64s', an input of the model",
                                 m->feat->inputs[i].name);
        }
    }
    return 0;
}

int model_predict_csv(const struct model *m, FILE *in, FILE *out, char delimiter,
                      const struct model_limits *lim, struct nn_err *err)
{
    size_t n = m->feat->n_inputs, ncols, i;
    int k = m->feat->task == NN_TASK_REGRESSION ? 1 : m->feat->n_classes;
    struct tab_csv_opts o;
    struct tab_csv *r = NULL;
    struct row_scratch sc;
    const char **cells = NULL;
    long *col = NULL;
    float *prob = NULL;
    int rc;

    csv_opts(&o, delimiter, lim);
    rc = tab_csv_open(in, &o, &r, err);
    if (rc != 0) {
        return rc;
    }
    cells = nn_calloc(n + 1, sizeof(char *));
    col = nn_calloc(n + 1, sizeof(long));
    prob = nn_calloc((size_t)k + 1, sizeof(float));
    if (cells == NULL || col == NULL || prob == NULL || scratch_open(m, &sc) != 0) {
        nn_free(cells);
        nn_free(col);
        nn_free(prob);
        tab_csv_close(r);
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = map_columns(m, r, col, err);
    if (rc != 0) {
        goto fail;
    }
    ncols = tab_csv_ncols(r);
    for (i = 0; i < ncols; i++) {
        put_field(out, tab_csv_colname(r, i), delimiter);
        fputc(delimiter, out);
    }
    fputs("prediction", out);
    if (m->feat->task != NN_TASK_REGRESSION) {
        int j;

        for (j = 0; j < k; j++) {
            fputc(delimiter, out);
            fputs("p_", out);
            put_field(out, m->feat->classes[j], delimiter);
        }
    }
    fputc('\n', out);
    while ((rc = tab_csv_next(r, err)) == 1) {
        for (i = 0; i < n; i++) {
            size_t len;
            const char *v = tab_csv_field(r, (size_t)col[i], &len);

            cells[i] = len > 0 ? v : NULL;
        }
        rc = predict_cells(m, &sc, cells, NULL, prob, err);
        if (rc != 0) {
            if (err != NULL) {
                err->line = tab_csv_line(r);
            }
            goto fail;
        }
        for (i = 0; i < ncols; i++) {
            size_t len;

            put_field(out, tab_csv_field(r, i, &len), delimiter);
            fputc(delimiter, out);
        }
        if (m->feat->task == NN_TASK_REGRESSION) {
            fprintf(out, "%.9g", prob[0]);
        } else {
            int j;

            put_field(out, m->feat->classes[model_decide(m, prob)], delimiter);
            for (j = 0; j < k; j++) {
                fprintf(out, "%c%.6g", delimiter, prob[j]);
            }
        }
        fputc('\n', out);
    }
    if (rc == 0 && ferror(out)) {
        rc = nn_err_set(err, NN_EIO, "write error");
    }
fail:
    scratch_close(&sc);
    nn_free(cells);
    nn_free(col);
    nn_free(prob);
    tab_csv_close(r);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------------------------------
 * Evaluation
 * ---------------------------------------------------------------------------------------- */

int model_eval_csv(const struct model *m, const char *path, char delimiter,
                   const struct model_limits *lim, cJSON **out, struct nn_err *err)
{
    size_t n = m->feat->n_inputs, rows = 0, cap = 0, i;
    int reg = m->feat->task == NN_TASK_REGRESSION;
    int k = reg ? 1 : m->feat->n_classes;
    struct tab_csv *r = NULL;
    struct row_scratch sc;
    const char **cells = NULL;
    long *col = NULL, label;
    float *prob = NULL, *y = NULL;
    cJSON *doc = NULL;
    FILE *f = NULL;
    int rc;

    *out = NULL;
    rc = open_csv(path, delimiter, lim, &f, &r, err);
    if (rc != 0) {
        return rc;
    }
    cells = nn_calloc(n + 1, sizeof(char *));
    col = nn_calloc(n + 1, sizeof(long));
    if (cells == NULL || col == NULL || scratch_open(m, &sc) != 0) {
        nn_free(cells);
        nn_free(col);
        tab_csv_close(r);
        fclose(f);
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = map_columns(m, r, col, err);
    if (rc != 0) {
        goto fail;
    }
    label = tab_csv_find(r, m->feat->label);
    if (label < 0) {
        rc = nn_err_set_at(err, NN_EINVAL, 1, 0, m->feat->label,
                           "the CSV has no label column '%.64s'", m->feat->label);
        goto fail;
    }
    while ((rc = tab_csv_next(r, err)) == 1) {
        size_t len;
        const char *lv = tab_csv_field(r, (size_t)label, &len);
        float target;

        if (rows == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            float *np = nn_reallocarray(prob, nc * (size_t)(k + 1), sizeof(float));
            float *ny;

            if (np == NULL) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory");
                goto fail;
            }
            prob = np;
            ny = nn_reallocarray(y, nc, sizeof(float));
            if (ny == NULL) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory");
                goto fail;
            }
            y = ny;
            cap = nc;
        }
        if (reg) {
            char *end;

            target = strtof(lv, &end);
            if (len == 0 || *end != '\0') {
                rc = nn_err_set_at(err, NN_EINVAL, tab_csv_line(r), label + 1, m->feat->label,
                                   "label '%.64s' is not a number", lv);
                goto fail;
            }
        } else {
            int c = -1, j;

            for (j = 0; j < k; j++) {
                if (strcmp(m->feat->classes[j], lv) == 0) {
                    c = j;
                }
            }
            if (c < 0) {
                rc = nn_err_set_at(err, NN_EINVAL, tab_csv_line(r), label + 1, m->feat->label,
                                   "label '%.64s' is not a class of the model", lv);
                goto fail;
            }
            target = (float)c;
        }
        for (i = 0; i < n; i++) {
            const char *v = tab_csv_field(r, (size_t)col[i], &len);

            cells[i] = len > 0 ? v : NULL;
        }
        rc = predict_cells(m, &sc, cells, NULL, prob + rows * (size_t)k, err);
        if (rc != 0) {
            if (err != NULL) {
                err->line = tab_csv_line(r);
            }
            goto fail;
        }
        y[rows++] = target;
    }
    if (rc != 0) {
        goto fail;
    }
    doc = cJSON_CreateObject();
    if (doc == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    cJSON_AddNumberToObject(doc, "rows", (double)rows);
    if (reg) {
        cJSON_AddNumberToObject(doc, "rmse", nn_metrics_rmse(prob, y, rows));
        cJSON_AddNumberToObject(doc, "mae", nn_metrics_mae(prob, y, rows));
    } else {
        size_t *cm = nn_calloc((size_t)k * (size_t)k, sizeof(size_t));
        cJSON *conf = cJSON_AddArrayToObject(doc, "confusion");
        int a, b;

        if (cm == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
            goto fail;
        }
        /* accuracy and confusion are those of the labels predict gives (model_decide) */
        size_t right = 0;
        for (i = 0; i < rows; i++) {
            int d = model_decide(m, prob + i * (size_t)k);
            right += d == (int)y[i];
            cm[(size_t)y[i] * (size_t)k + (size_t)d]++;
        }
        cJSON_AddNumberToObject(doc, "accuracy", rows > 0 ? (double)right / (double)rows : NAN);
        cJSON_AddNumberToObject(doc, "log_loss", nn_metrics_log_loss(prob, k, y, rows));
        if (k == 2) {
            /* prob holds [p0, p1] per row: the AUC reads p1 */
            for (i = 0; i < rows; i++) {
                prob[i] = prob[2 * i + 1];
            }
            cJSON_AddNumberToObject(doc, "auc", nn_metrics_auc(prob, y, rows));
        }
        for (a = 0; a < k; a++) {
            cJSON *row = cJSON_CreateArray();

            for (b = 0; b < k; b++) {
                cJSON_AddItemToArray(row, cJSON_CreateNumber((double)cm[a * k + b]));
            }
            cJSON_AddItemToArray(conf, row);
        }
        nn_free(cm);
        {
            cJSON *cls = cJSON_AddArrayToObject(doc, "classes");

            for (a = 0; a < k; a++) {
                cJSON_AddItemToArray(cls, cJSON_CreateString(m->feat->classes[a]));
            }
        }
    }
    *out = doc;
    doc = NULL;
fail:
    cJSON_Delete(doc);
    scratch_close(&sc);
    nn_free(cells);
    nn_free(col);
    nn_free(prob);
    nn_free(y);
    tab_csv_close(r);
    fclose(f);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------------------------------
 * Cards
 * ---------------------------------------------------------------------------------------- */

/* Adds a number, or null when it is not finite (JSON has no NaN). */
static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v)) {
        cJSON_AddNumberToObject(o, k, v);
    } else {
        cJSON_AddNullToObject(o, k);
    }
}

cJSON *model_metrics(const struct model *m)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL) {
        return NULL;
    }
    if (m->feat->task == NN_TASK_REGRESSION) {
        add_num(o, "val_rmse", m->metrics.rmse);
        add_num(o, "val_mae", m->metrics.mae);
        add_num(o, "val_loss", m->metrics.loss);
    } else {
        add_num(o, "val_accuracy", m->metrics.accuracy);
        add_num(o, "val_loss", m->metrics.log_loss);
        if (m->feat->n_classes == 2) {
            const char *src;

            add_num(o, "val_auc", m->metrics.auc);
            cJSON_AddNumberToObject(o, "threshold", model_threshold(m, &src));
            cJSON_AddStringToObject(o, "threshold_source", src);
        }
    }
    if (m->metrics.epochs_run > 0) {
        cJSON_AddNumberToObject(o, "best_epoch", m->metrics.best_epoch);
        cJSON_AddNumberToObject(o, "epochs_run", m->metrics.epochs_run);
        cJSON_AddNumberToObject(o, "train_rows", (double)m->metrics.train_rows);
        cJSON_AddNumberToObject(o, "val_rows", (double)m->metrics.val_rows);
    }
    return o;
}

cJSON *model_history(const struct model *m)
{
    int reg = m->feat->task == NN_TASK_REGRESSION;
    cJSON *a = cJSON_CreateArray();
    size_t i;

    if (a == NULL) {
        return NULL;
    }
    for (i = 0; i < m->n_history; i++) {
        const struct nn_epoch_stats *h = &m->history[i];
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToArray(a, o);
        cJSON_AddNumberToObject(o, "epoch", h->epoch);
        add_num(o, "train_loss", h->train_loss);
        add_num(o, "val_loss", h->val_loss);
        add_num(o, reg ? "val_rmse" : "val_accuracy", h->val_metric);
        cJSON_AddNumberToObject(o, "seconds", h->seconds);
    }
    return a;
}

/* Comma-separated list -> JSON array of names; the resolved list when names is NULL. */
static cJSON *names_of_type(const struct model *m, enum tab_col_type t)
{
    cJSON *a = cJSON_CreateArray();
    size_t i;

    for (i = 0; i < m->feat->n_inputs; i++) {
        if (m->feat->inputs[i].type == t) {
            cJSON_AddItemToArray(a, cJSON_CreateString(m->feat->inputs[i].name));
        }
    }
    return a;
}

/* Replaces o's key by v (which may be NULL: out of memory). Takes v, even on failure. */
static int replace(cJSON *o, const char *key, cJSON *v)
{
    if (v != NULL && cJSON_ReplaceItemInObjectCaseSensitive(o, key, v)) {
        return 1;
    }
    cJSON_Delete(v);
    return 0;
}

cJSON *model_params_json(const struct model *m)
{
    cJSON *o = model_params_to_json(&m->params);
    cJSON *ign = cJSON_CreateArray();
    int ok = o != NULL && ign != NULL;

    for (size_t i = 0; ok && i < m->n_ignored; i++) {
        ok = cJSON_AddItemToArray(ign, cJSON_CreateString(m->ignored[i]));
    }
    if (!ok) {
        cJSON_Delete(ign);
        cJSON_Delete(o);
        return NULL;
    }
    /* the values inferred at training replace the ones given */
    ok = replace(o, "label", cJSON_CreateString(m->feat->label));
    ok = replace(o, "task", cJSON_CreateString(model_task_name(m->feat->task))) && ok;
    ok = replace(o, "text_columns", names_of_type(m, TAB_COL_TEXT)) && ok;
    ok = replace(o, "categorical_columns", names_of_type(m, TAB_COL_CATEGORICAL)) && ok;
    ok = replace(o, "ignore_columns", ign) && ok;
    cJSON *na = cJSON_CreateArray(); /* the markers the model reads with */
    for (int i = 0; na != NULL && i < m->feat->na.n; i++) {
        cJSON_AddItemToArray(na, cJSON_CreateString(m->feat->na.items[i]));
    }
    ok = replace(o, "na_values", na) && ok;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *model_card(const struct model *m)
{
    const struct tab_features *f = m->feat;
    cJSON *card = cJSON_CreateObject();
    cJSON *inputs, *label, *cls, *arch, *layers;
    size_t i;
    int l;

    if (card == NULL) {
        return NULL;
    }
    cJSON_AddStringToObject(card, "task", model_task_name(f->task));
    inputs = cJSON_AddArrayToObject(card, "inputs");
    for (i = 0; i < f->n_inputs; i++) {
        cJSON *in = cJSON_CreateObject();

        cJSON_AddItemToArray(inputs, in);
        cJSON_AddStringToObject(in, "name", f->inputs[i].name);
        cJSON_AddStringToObject(in, "type", tab_col_type_name(f->inputs[i].type));
        if (f->inputs[i].type == TAB_COL_CATEGORICAL) {
            cJSON *c = cJSON_AddArrayToObject(in, "categories");
            size_t j;

            for (j = 0; j < f->inputs[i].n_categories; j++) {
                cJSON_AddItemToArray(c, cJSON_CreateString(f->inputs[i].categories[j]));
            }
        }
    }
    label = cJSON_AddObjectToObject(card, "label");
    cJSON_AddStringToObject(label, "name", f->label);
    if (f->task != NN_TASK_REGRESSION) {
        cls = cJSON_AddArrayToObject(label, "classes");
        for (l = 0; l < f->n_classes; l++) {
            cJSON_AddItemToArray(cls, cJSON_CreateString(f->classes[l]));
        }
    }
    arch = cJSON_AddObjectToObject(card, "architecture");
    layers = cJSON_AddArrayToObject(arch, "layers");
    cJSON_AddItemToArray(layers, cJSON_CreateNumber(m->net->dense_in + m->net->sparse_in));
    for (l = 0; l < m->net->n_layers; l++) {
        cJSON_AddItemToArray(layers, cJSON_CreateNumber(m->net->layers[l].out));
    }
    cJSON_AddStringToObject(arch, "activation",
                            m->net->n_layers > 1 ? nn_act_name(m->net->layers[0].act) : "none");
    cJSON_AddStringToObject(arch, "output", nn_act_name(m->net->layers[m->net->n_layers - 1].act));
    cJSON_AddNumberToObject(arch, "parameters", (double)m->net->n_params);
    cJSON_AddItemToObject(card, "metrics", model_metrics(m));
    cJSON_AddItemToObject(card, "params", model_params_json(m));
    cJSON_AddItemToObject(card, "columns", model_columns_json(m));
    if (m->search != NULL) {
        cJSON_AddItemToObject(card, "auto", cJSON_Duplicate(m->search, 1));
    }
    return card;
}
