/*
 * model_warm: learning from a trained model instead of from nothing. A warm start copies the
 * base model whole (its feature pipeline: inputs, types, scaling, categories, text hashing,
 * classes; its network's weights), encodes the new CSV through that pipeline (a column or a
 * class the base does not know is an error naming it), and trains the copied network further
 * with a validation split of the new rows; the epoch with the lowest validation loss is kept,
 * and the base's own weights when no epoch beat them. The champion/challenger gate compares
 * two models on a holdout CSV neither trained on.
 * Does not: fit features (the base's are kept), change the architecture, print.
 */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"
#include "model/text_decoder.h"
#include "nn/alloc.h"

/* ------------------------------------------------------------------------------------------
 * Encoding a labelled CSV through a fitted pipeline
 * ---------------------------------------------------------------------------------------- */

/* The rows encoded so far, grown a row at a time (then handed to an nn_dataset). */
struct rows_acc {
    struct nn_dataset ds; /* rows, dense, indptr, indices, values, y: the arrays so far */
    size_t rows_cap, nnz_cap, nnz;
};

static void rows_acc_free(struct rows_acc *a)
{
    nn_dataset_free(&a->ds);
    memset(a, 0, sizeof(*a));
}

/* Appends one encoded row (dense[dense_cols], nnz sparse entries) and its target. */
static int rows_acc_push(struct rows_acc *a, const float *dense, const int32_t *ind,
                         const float *val, size_t nnz, float y)
{
    struct nn_dataset *d = &a->ds;

    if (d->rows + 1 >= a->rows_cap) {
        size_t cap = a->rows_cap == 0 ? 256 : a->rows_cap * 2;
        float *dn = NULL, *yy;
        size_t *ip = NULL;

        if (d->dense_cols > 0) {
            dn = nn_reallocarray(d->dense, cap, sizeof(float) * (size_t)d->dense_cols);
            if (dn == NULL) {
                return NN_ENOMEM;
            }
            d->dense = dn;
        }
        if (d->sparse_cols > 0) {
            ip = nn_reallocarray(d->indptr, cap + 1, sizeof(size_t));
            if (ip == NULL) {
                return NN_ENOMEM;
            }
            if (d->indptr == NULL) {
                ip[0] = 0;
            }
            d->indptr = ip;
        }
        yy = nn_reallocarray(d->y, cap, sizeof(float));
        if (yy == NULL) {
            return NN_ENOMEM;
        }
        d->y = yy;
        a->rows_cap = cap;
    }
    if (d->sparse_cols > 0) {
        if (nn_sparse_append(&d->indices, &d->values, &a->nnz, &a->nnz_cap, ind, val, nnz) != 0) {
            return NN_ENOMEM;
        }
        d->indptr[d->rows + 1] = a->nnz;
    }
    if (d->dense_cols > 0) {
        memcpy(d->dense + d->rows * (size_t)d->dense_cols, dense,
               sizeof(float) * (size_t)d->dense_cols);
    }
    d->y[d->rows++] = y;
    return 0;
}

/* Whether column name of a CSV fits m: an input, the label, or a column m's training CSV had. */
static int column_known(const struct model *m, const char *name)
{
    size_t i;

    if (strcmp(name, m->feat->label) == 0) {
        return 1;
    }
    for (i = 0; i < m->feat->n_inputs; i++) {
        if (strcmp(name, m->feat->inputs[i].name) == 0) {
            return 1;
        }
    }
    for (i = 0; i < m->n_columns; i++) {
        if (strcmp(name, m->columns[i].name) == 0) {
            return 1;
        }
    }
    for (i = 0; i < m->n_ignored; i++) {
        if (strcmp(name, m->ignored[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int model_map_columns(const struct model *m, const struct tab_csv *r, long *col, struct nn_err *err)
{
    size_t n = m->feat->n_inputs, i;

    for (i = 0; i < tab_csv_ncols(r); i++) {
        const char *name = tab_csv_colname(r, i);

        if (!column_known(m, name)) {
            return nn_err_set_at(err, NN_EINVAL, 1, (long)i + 1, name,
                                 "the CSV's column '%.64s' is not a column of the base model",
                                 name);
        }
    }
    for (i = 0; i < n; i++) {
        col[i] = tab_csv_find(r, m->feat->inputs[i].name);
        if (col[i] < 0) {
            return nn_err_set_at(err, NN_EINVAL, 1, 0, m->feat->inputs[i].name,
                                 "the CSV has no column '%.64s', an input of the base model",
                                 m->feat->inputs[i].name);
        }
    }
    col[n] = tab_csv_find(r, m->feat->label);
    if (col[n] < 0) {
        return nn_err_set_at(err, NN_EINVAL, 1, 0, m->feat->label,
                             "the CSV has no column '%.64s', the label of the base model",
                             m->feat->label);
    }
    return 0;
}

int model_row_target(const struct model *m, const struct tab_csv *r, long label, float *y,
                     struct nn_err *err)
{
    const struct tab_features *f = m->feat;
    size_t len;
    const char *v = tab_csv_field(r, (size_t)label, &len);

    if (f->task == NN_TASK_REGRESSION) {
        char *end;
        double d = strtod(v, &end);

        if (len == 0 || *end != '\0' || !isfinite(d)) {
            return nn_err_set_at(err, NN_EINVAL, tab_csv_line(r), label + 1, f->label,
                                 "label '%.64s' is not a number", v);
        }
        *y = (float)((d - f->y_mean) / (f->y_sd > 0 ? f->y_sd : 1.0));
        return 0;
    }
    for (int j = 0; j < f->n_classes; j++) {
        if (strcmp(f->classes[j], v) == 0) {
            *y = (float)j;
            return 0;
        }
    }
    return nn_err_set_at(
        err, NN_EINVAL, tab_csv_line(r), label + 1, f->label,
        "label '%.64s' is not a class of the base model (its classes: %.64s%s%.64s%s)", v,
        f->classes[0], f->n_classes > 1 ? ", " : "", f->n_classes > 1 ? f->classes[1] : "",
        f->n_classes > 2 ? ", ..." : "");
}

int model_rows_open(const struct model *m, const char *path, char delim,
                    const struct model_limits *lim, struct model_rows *rows, struct nn_err *err)
{
    int rc;

    memset(rows, 0, sizeof(*rows));
    rows->col = nn_calloc(m->feat->n_inputs + 1, sizeof(long));
    if (rows->col == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = model_csv_open(path, delim, lim, &rows->fp, &rows->r, err);
    if (rc == 0) {
        rc = model_map_columns(m, rows->r, rows->col, err);
    }
    if (rc != 0) {
        model_rows_close(rows);
    }
    return rc;
}

void model_rows_close(struct model_rows *rows)
{
    tab_csv_close(rows->r);
    if (rows->fp != NULL) {
        fclose(rows->fp);
    }
    nn_free(rows->col);
    memset(rows, 0, sizeof(*rows));
}

/* Encodes every row of the CSV at path through m's pipeline into ds (targets included). */
static int encode_csv(const struct model *m, const char *path, char delim,
                      const struct model_limits *lim, struct nn_dataset *ds, struct nn_err *err)
{
    const struct tab_features *f = m->feat;
    size_t n = f->n_inputs, i;
    struct rows_acc acc;
    struct model_rows rows = {NULL, NULL, NULL};
    const char **cells = nn_calloc(n + 1, sizeof(char *));
    float *dense = nn_calloc((size_t)f->dense_dim + 1, sizeof(float));
    int32_t *ind = nn_calloc(TAB_FEAT_MAX_NNZ, sizeof(int32_t));
    float *val = nn_calloc(TAB_FEAT_MAX_NNZ, sizeof(float));
    int rc;

    memset(&acc, 0, sizeof(acc));
    memset(ds, 0, sizeof(*ds));
    acc.ds.dense_cols = f->dense_dim;
    acc.ds.sparse_cols = f->sparse_dim;
    if (cells == NULL || dense == NULL || ind == NULL || val == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    rc = model_rows_open(m, path, delim, lim, &rows, err);
    while (rc == 0 && (rc = tab_csv_next(rows.r, err)) == 1) {
        size_t len, nnz = 0;
        float y = 0;

        for (i = 0; i < n; i++) {
            const char *v = tab_csv_field(rows.r, (size_t)rows.col[i], &len);

            cells[i] = len > 0 ? v : NULL;
        }
        rc = model_row_target(m, rows.r, rows.col[n], &y, err);
        if (rc == 0) {
            rc = tab_features_encode(f, cells, dense, ind, val, TAB_FEAT_MAX_NNZ, &nnz, err);
            if (rc != 0 && err != NULL) {
                err->line = tab_csv_line(rows.r);
            }
        }
        if (rc == 0 && rows_acc_push(&acc, dense, ind, val, nnz, y) != 0) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory reading the CSV");
        }
    }
    if (rc == 0 && acc.ds.rows == 0) {
        rc = nn_err_set_at(err, NN_EINVAL, 2, 0, NULL, "the CSV has no data rows");
    }
    if (rc == 0) {
        *ds = acc.ds;
        memset(&acc, 0, sizeof(acc));
    }
fail:
    rows_acc_free(&acc);
    model_rows_close(&rows);
    nn_free(cells);
    nn_free(dense);
    nn_free(ind);
    nn_free(val);
    return rc;
}

int model_warm_check(const struct model *base, const char *path, char delim,
                     const struct model_limits *lim, struct nn_err *err)
{
    struct model_rows rows;
    int rc = model_rows_open(base, path, delim, lim, &rows, err);

    while (rc == 0 && (rc = tab_csv_next(rows.r, err)) == 1) {
        float y;

        rc = model_row_target(base, rows.r, rows.col[base->feat->n_inputs], &y, err);
    }
    model_rows_close(&rows);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------------------------------
 * Warm start
 * ---------------------------------------------------------------------------------------- */

/* A trainable copy of net: the same layers and weights, batches of up to max_batch rows. */
static int net_trainable(const struct nn_net *net, int max_batch, struct nn_net **out,
                         struct nn_err *err);

/*
 * A deep copy of base whose net takes batches of up to max_batch rows: the pipeline and the
 * columns through their small binary sections, the net copied directly (no blob round trip:
 * a text model's first layer is 2^18 rows), the rest field by field. No history, no card-only
 * parts (warm, search). Of an ensemble, the first network only (the defaults' net refitted on
 * every row, auto's best candidate): a warm start continues one network.
 */
static int model_copy(const struct model *base, int max_batch, struct model **out,
                      struct nn_err *err)
{
    struct model *m = model_alloc();
    struct tab_buf b;
    struct tab_rd rd;
    int rc;

    *out = NULL;
    if (m == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    tab_buf_init(&b, (size_t)1 << 31);
    tab_features_save(base->feat, &b);
    model_columns_put(&b, base);
    rc = b.failed ? nn_err_set(err, NN_ENOMEM, "out of memory") : 0;
    if (rc == 0) {
        tab_rd_init(&rd, b.data, b.len);
        rc = tab_features_load(&rd, model_text_decoder_find, &m->feat, err);
    }
    if (rc == 0) {
        rc = model_columns_get(&rd, m, err);
    }
    tab_buf_fini(&b);
    if (rc == 0) {
        rc = net_trainable(base->nets[0], max_batch, &m->nets[0], err);
    }
    if (rc == 0) {
        model_params_fini(&m->params);
        rc = model_params_copy(&m->params, &base->params) == 0
                 ? 0
                 : nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        m->metrics = base->metrics;
        if (base->n_ignored > 0) {
            m->ignored = nn_calloc(base->n_ignored, sizeof(char *));
            rc = m->ignored == NULL ? NN_ENOMEM : 0;
            for (size_t i = 0; rc == 0 && i < base->n_ignored; i++) {
                m->ignored[i] = nn_strdup(base->ignored[i]);
                rc = m->ignored[i] == NULL ? NN_ENOMEM : 0;
                m->n_ignored += rc == 0;
            }
        }
        if (rc == 0 && base->baseline != NULL) {
            m->baseline = nn_malloc(sizeof(float) * ((size_t)m->feat->dense_dim + 1));
            rc = m->baseline == NULL ? NN_ENOMEM : 0;
            if (rc == 0) {
                memcpy(m->baseline, base->baseline, sizeof(float) * (size_t)m->feat->dense_dim);
            }
        }
        if (rc != 0) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        }
    }
    if (rc != 0) {
        model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* A trainable copy of net: the same layers and weights, batches of up to max_batch rows. */
static int net_trainable(const struct nn_net *net, int max_batch, struct nn_net **out,
                         struct nn_err *err)
{
    int hidden[NN_MAX_LAYERS];
    int l, rc;

    for (l = 0; l < net->n_layers - 1; l++) {
        hidden[l] = net->layers[l].out;
    }
    rc = nn_net_new(net->dense_in, net->sparse_in, hidden, net->n_layers - 1,
                    net->n_layers > 1 ? net->layers[0].act : NN_ACT_RELU,
                    net->layers[net->n_layers - 1].out, net->layers[net->n_layers - 1].act,
                    max_batch, out, err);
    if (rc == 0) {
        memcpy((*out)->params, net->params, sizeof(float) * net->n_params);
    }
    return rc;
}

/* m's parameters for the warm run: the base's architecture, columns and label; p's training
 * settings with the warm defaults for those not given. */
static int warm_params(struct model *m, const struct model_params *p, struct nn_err *err)
{
    struct model_params q;
    float l2 = m->params.train.l2;
    double thr = m->params.threshold, fpr = m->params.target_fpr;

    if (model_params_copy(&q, p) != 0) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    /* what the base fixed: the label, task, layers and the columns' roles */
    nn_free(q.label);
    q.label = m->params.label;
    m->params.label = NULL;
    q.task = m->feat->task;
    memcpy(q.hidden, m->params.hidden, sizeof(q.hidden));
    q.n_hidden = m->params.n_hidden;
    q.activation = m->params.activation;
    if (q.train.l2 < 0) {
        q.train.l2 = l2 >= 0 ? l2 : 1e-4f;
    }
    if (q.threshold < 0) {
        q.threshold = thr;
    }
    if (q.target_fpr < 0) {
        q.target_fpr = fpr;
    }
    if (p->epochs_auto) {
        q.train.epochs = MODEL_WARM_EPOCHS;
    }
    if (p->patience_auto && q.train.patience > MODEL_WARM_PATIENCE) {
        q.train.patience = MODEL_WARM_PATIENCE;
    }
    if (q.train.learning_rate <= 0) {
        q.train.learning_rate =
            MODEL_WARM_LR_SHARE * (q.train.optimizer == NN_OPTIM_ADAM ? 0.001f : 0.01f);
    }
    model_params_fini(&m->params);
    m->params = q;
    return 0;
}

/* The card's "warm_start": the base, the starting validation loss, the rows. */
static int warm_json(struct model *m, const struct model_params *p, double loss0, double metric0,
                     size_t rows)
{
    cJSON *w = cJSON_CreateObject();

    if (w == NULL) {
        return NN_ENOMEM;
    }
    if (p->base != NULL) {
        cJSON_AddStringToObject(w, "base", p->base);
    }
    cJSON_AddNumberToObject(w, "initial_val_loss", loss0);
    if (m->feat->task != NN_TASK_REGRESSION) {
        cJSON_AddNumberToObject(w, "initial_val_accuracy", metric0);
    }
    cJSON_AddNumberToObject(w, "rows", (double)rows);
    cJSON_AddBoolToObject(w, "kept_base_weights", m->metrics.best_epoch == 0);
    cJSON_Delete(m->warm);
    m->warm = w;
    return 0;
}

/* Trains m->nets[0] further on tr with early stopping on va (tr when va is empty): keeps the best
 * epoch, or the starting weights when no epoch beat them (best_epoch 0). */
static int warm_fit(struct model *m, const struct nn_dataset *tr, const struct nn_dataset *va,
                    struct nn_rng *rng, struct model_progress *pc, atomic_int *cancel,
                    double *loss0, double *metric0, struct nn_err *err)
{
    const struct nn_dataset *watch = va->rows > 0 ? va : tr;
    struct nn_net *net = m->nets[0];
    struct nn_train_result res;
    float *start = NULL;
    int rc;

    nn_train_evaluate(net, (enum nn_task)m->feat->task, watch, loss0, metric0);
    start = nn_malloc(sizeof(float) * net->n_params);
    if (start == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    memcpy(start, net->params, sizeof(float) * net->n_params);
    rc = nn_train(net, (enum nn_task)m->feat->task, tr, va->rows > 0 ? va : NULL, &m->params.train,
                  model_on_epoch, pc, cancel, rng, &res, err);
    if (rc == 0) {
        m->metrics.best_epoch = res.best_epoch;
        m->metrics.epochs_run = res.epochs_run;
        m->metrics.loss = va->rows > 0 ? res.best_val_loss : res.final_train_loss;
        if (va->rows > 0 && !(res.best_val_loss < *loss0)) {
            memcpy(net->params, start, sizeof(float) * net->n_params);
            m->metrics.best_epoch = 0;
            m->metrics.loss = *loss0;
        }
    }
    nn_free(start);
    return rc;
}

int model_train_warm(const char *path, const struct model *base, const struct model_params *p,
                     const struct model_limits *lim, nn_progress_fn cb, void *ud,
                     atomic_int *cancel, struct model **out, struct nn_err *err)
{
    struct model *m = NULL;
    struct nn_dataset all, tr, va;
    struct nn_rng rng;
    struct model_progress pc;
    size_t *tr_idx = NULL, *va_idx = NULL, n_tr = 0, n_va = 0;
    double loss0 = NAN, metric0 = NAN;
    int rc;

    *out = NULL;
    memset(&all, 0, sizeof(all));
    memset(&tr, 0, sizeof(tr));
    memset(&va, 0, sizeof(va));
    /* batches up to 256 rows, or the batch size given (the automatic one is at most 32) */
    rc = model_copy(base, p->batch_auto || p->train.batch_size < 256 ? 256 : p->train.batch_size,
                    &m, err);
    if (rc == 0) {
        rc = warm_params(m, p, err);
    }
    if (rc == 0) {
        rc = encode_csv(m, path, p->delimiter, lim, &all, err);
    }
    if (rc != 0) {
        goto fail;
    }
    tr_idx = nn_calloc(all.rows, sizeof(size_t));
    va_idx = nn_calloc(all.rows, sizeof(size_t));
    if (tr_idx == NULL || va_idx == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    nn_rng_seed(&rng, m->params.seed);
    rc = nn_train_split_stratified(
        all.y, all.rows, m->feat->task == NN_TASK_REGRESSION ? 0 : m->feat->n_classes,
        all.rows >= 10 ? m->params.validation_split : 0, &rng, tr_idx, &n_tr, va_idx, &n_va, err);
    if (rc != 0) {
        goto fail;
    }
    if (nn_dataset_take_rows(&tr, &all, tr_idx, n_tr) != 0 ||
        nn_dataset_take_rows(&va, &all, va_idx, n_va) != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory splitting the data");
        goto fail;
    }
    m->params.train.batch_size = model_batch_size(&m->params, tr.rows);
    m->params.batch_auto = 0;
    pc.m = m;
    pc.cap = 0;
    pc.cb = cb;
    pc.ud = ud;
    rc = warm_fit(m, &tr, &va, &rng, &pc, cancel, &loss0, &metric0, err);
    if (rc != 0) {
        goto fail;
    }
    m->metrics.train_rows = tr.rows;
    m->metrics.val_rows = va.rows;
    rc = model_compute_metrics(m, va.rows > 0 ? &va : &tr, err);
    if (rc == 0 && warm_json(m, p, loss0, metric0, all.rows) != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (rc != 0) {
        goto fail;
    }
    *out = m;
    m = NULL;
fail:
    nn_free(tr_idx);
    nn_free(va_idx);
    nn_dataset_free(&all);
    nn_dataset_free(&tr);
    nn_dataset_free(&va);
    model_free(m);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * The champion/challenger gate
 * ---------------------------------------------------------------------------------------- */

int model_gate(const struct model *champion, const struct model *challenger, const char *holdout,
               char delim, const struct model_limits *lim, cJSON **verdict, struct nn_err *err)
{
    cJSON *a = NULL, *b = NULL, *v = NULL;
    int regression = champion->feat->task == NN_TASK_REGRESSION;
    const char *key = regression ? "rmse" : "accuracy";
    double x, y, lx = 0, ly = 0;
    int rc, promoted;

    *verdict = NULL;
    rc = model_eval_csv(champion, holdout, delim, lim, &a, err);
    if (rc == 0) {
        rc = model_eval_csv(challenger, holdout, delim, lim, &b, err);
    }
    if (rc != 0) {
        goto fail;
    }
    x = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, key));
    y = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b, key));
    if (regression) {
        promoted = !(y > x);
    } else {
        /* the same accuracy: the log loss decides (a model that grew less sure of the right
           answers is not as good) */
        lx = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "log_loss"));
        ly = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "log_loss"));
        promoted = y > x || (y == x && !(ly > lx));
    }
    v = cJSON_CreateObject();
    if (v == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    cJSON_AddStringToObject(v, "metric", key);
    cJSON_AddNumberToObject(v, "champion", x);
    cJSON_AddNumberToObject(v, "challenger", y);
    if (!regression) {
        cJSON_AddNumberToObject(v, "champion_log_loss", lx);
        cJSON_AddNumberToObject(v, "challenger_log_loss", ly);
    }
    cJSON_AddNumberToObject(v, "holdout_rows",
                            cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "rows")));
    cJSON_AddBoolToObject(v, "promoted", promoted);
    *verdict = v;
fail:
    cJSON_Delete(a);
    cJSON_Delete(b);
    return rc;
}

int model_gate_parts(const struct model *champion, const struct model *challenger,
                     const struct model_gate_part *parts, int n, char delim,
                     const struct model_limits *lim, cJSON **verdict, struct nn_err *err)
{
    static const char *const keys[4] = {"champion", "challenger", "champion_log_loss",
                                        "challenger_log_loss"};
    int regression = champion->feat->task == NN_TASK_REGRESSION;
    cJSON *v = cJSON_CreateObject();
    double sums[4] = {0, 0, 0, 0}, total = 0;
    int promoted = 1, rc = 0;

    *verdict = NULL;
    if (v == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    cJSON_AddStringToObject(v, "metric", regression ? "rmse" : "accuracy");
    for (int i = 0; rc == 0 && i < n; i++) {
        cJSON *part = NULL;

        if (parts[i].rows == 0) {
            continue;
        }
        rc = model_gate(champion, challenger, parts[i].path, delim, lim, &part, err);
        if (rc != 0) {
            break;
        }
        for (int k = 0; k < 4; k++) {
            sums[k] += (double)parts[i].rows *
                       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(part, keys[k]));
        }
        total += (double)parts[i].rows;
        promoted = promoted && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(part, "promoted"));
        cJSON_DeleteItemFromObjectCaseSensitive(part, "metric");
        cJSON_DeleteItemFromObjectCaseSensitive(part, "holdout_rows");
        cJSON_AddNumberToObject(part, "rows", (double)parts[i].rows);
        cJSON_AddItemToObject(v, parts[i].name, part);
    }
    if (rc != 0) {
        cJSON_Delete(v);
        return rc;
    }
    if (total > 0) {
        /* the whole holdout: the parts' means weighted by their rows (RMSE: of the parts'
           RMSEs, an approximation) */
        cJSON_AddNumberToObject(v, "champion", sums[0] / total);
        cJSON_AddNumberToObject(v, "challenger", sums[1] / total);
    } else {
        cJSON_AddStringToObject(v, "why", "no holdout rows: nothing to compare on");
    }
    cJSON_AddNumberToObject(v, "holdout_rows", total);
    cJSON_AddBoolToObject(v, "promoted", promoted);
    *verdict = v;
    return 0;
}
