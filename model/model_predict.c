/*
 * model_predict: running a trained model on rows: one row of cells, a JSON instance, a numeric
 * matrix, a whole CSV (written back with prediction columns), and evaluation on a labelled CSV
 * (the metrics and confusion of the labels predict gives).
 */
#include "model/model.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"
#include "nn/alloc.h"
#include "nn/metrics.h"
#include "tab/csv.h"

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
    part[2] = model_net_scratch_len(m) + 1;
    part[3] = (size_t)nn_net_outputs(m->nets[0]) + 1;
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
    model_nets_predict_row(m, sc->dense, sc->ind, sc->val, nnz, sc->net, sc->raw);
    model_outputs(m, sc->raw, out);
    return 0;
}

void model_outputs(const struct model *m, const float *raw, float *out)
{
    if (m->feat->task == NN_TASK_REGRESSION) {
        out[0] = (float)tab_features_unscale(m->feat, raw[0]);
    } else if (nn_net_outputs(m->nets[0]) == 1) {
        out[0] = 1.0f - raw[0];
        out[1] = raw[0];
    } else {
        memcpy(out, raw, sizeof(float) * (size_t)nn_net_outputs(m->nets[0]));
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

/* What running a model over a CSV needs per call: the row scratch, the cells of one row and
 * the CSV column of each model input. */
struct csv_run {
    struct row_scratch sc;
    const char **cells;
    long *col;
};

static void csv_run_close(struct csv_run *run)
{
    if (run->cells != NULL) {
        scratch_close(&run->sc);
    }
    nn_free(run->cells);
    nn_free(run->col);
    run->cells = NULL;
    run->col = NULL;
}

/* Allocates run and maps each model input to its column in r; a missing column is an error.
 * On failure run holds nothing (csv_run_close is still allowed). */
static int csv_run_open(const struct model *m, const struct tab_csv *r, struct csv_run *run,
                        struct nn_err *err)
{
    size_t n = m->feat->n_inputs, i;
    long *col = nn_calloc(n + 1, sizeof(long));
    const char **cells = nn_calloc(n + 1, sizeof(char *));

    run->cells = NULL;
    run->col = NULL;
    if (cells == NULL || col == NULL || scratch_open(m, &run->sc) != 0) {
        nn_free(cells);
        nn_free(col);
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    run->cells = cells;
    run->col = col;
    for (i = 0; i < n; i++) {
        col[i] = tab_csv_find(r, m->feat->inputs[i].name);
        if (col[i] < 0) {
            csv_run_close(run);
            return nn_err_set_at(err, NN_EINVAL, 1, 0, m->feat->inputs[i].name,
                                 "the CSV has no column '%.64s', an input of the model",
                                 m->feat->inputs[i].name);
        }
    }
    return 0;
}

/* Runs the model on r's current row into out (and explains it into *ex when ex is not NULL);
 * an error carries the row's line. */
static int csv_run_row(const struct model *m, struct csv_run *run, const struct tab_csv *r,
                       float *out, struct model_expl **ex, struct nn_err *err)
{
    size_t i, len;
    int rc;

    for (i = 0; i < m->feat->n_inputs; i++) {
        const char *v = tab_csv_field(r, (size_t)run->col[i], &len);

        run->cells[i] = len > 0 ? v : NULL;
    }
    rc = ex != NULL ? model_explain_cells(m, run->cells, -1, out, ex, err)
                    : predict_cells(m, &run->sc, run->cells, NULL, out, err);
    if (rc != 0 && err != NULL) {
        err->line = tab_csv_line(r);
    }
    return rc;
}

/* The header of predict's CSV: r's columns, prediction, then p_<class> for a classifier, then
 * attr_<input> per model input when explaining. */
static void put_header(const struct model *m, const struct tab_csv *r, FILE *out, char delimiter,
                       int explain)
{
    size_t ncols = tab_csv_ncols(r), i;
    int j;

    for (i = 0; i < ncols; i++) {
        put_field(out, tab_csv_colname(r, i), delimiter);
        fputc(delimiter, out);
    }
    fputs("prediction", out);
    if (m->feat->task != NN_TASK_REGRESSION) {
        for (j = 0; j < m->feat->n_classes; j++) {
            fputc(delimiter, out);
            fputs("p_", out);
            put_field(out, m->feat->classes[j], delimiter);
        }
    }
    for (i = 0; explain && i < m->feat->n_inputs; i++) {
        fputc(delimiter, out);
        fputs("attr_", out);
        put_field(out, m->feat->inputs[i].name, delimiter);
    }
    fputc('\n', out);
}

int model_predict_csv(const struct model *m, FILE *in, FILE *out, char delimiter, int explain,
                      const struct model_limits *lim, struct nn_err *err)
{
    struct model_expl *ex = NULL;
    int k = m->feat->task == NN_TASK_REGRESSION ? 1 : m->feat->n_classes;
    struct tab_csv_opts o;
    struct tab_csv *r = NULL;
    struct csv_run run;
    size_t ncols, i;
    float *prob = NULL;
    int rc;

    model_csv_opts(&o, delimiter, lim);
    rc = tab_csv_open(in, &o, &r, err);
    if (rc != 0) {
        return rc;
    }
    prob = nn_calloc((size_t)k + 1, sizeof(float));
    rc = prob == NULL ? nn_err_set(err, NN_ENOMEM, "out of memory") : csv_run_open(m, r, &run, err);
    if (rc != 0) {
        nn_free(prob);
        tab_csv_close(r);
        return rc;
    }
    put_header(m, r, out, delimiter, explain);
    ncols = tab_csv_ncols(r);
    while ((rc = tab_csv_next(r, err)) == 1) {
        rc = csv_run_row(m, &run, r, prob, explain ? &ex : NULL, err);
        if (rc != 0) {
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
        for (i = 0; ex != NULL && i < m->feat->n_inputs; i++) {
            fprintf(out, "%c%.9g", delimiter, model_expl_input(ex, (int)i));
        }
        model_expl_free(ex);
        ex = NULL;
        fputc('\n', out);
    }
    if (rc == 0 && ferror(out)) {
        rc = nn_err_set(err, NN_EIO, "write error");
    }
fail:
    model_expl_free(ex);
    csv_run_close(&run);
    nn_free(prob);
    tab_csv_close(r);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------------------------------
 * Evaluation
 * ---------------------------------------------------------------------------------------- */

/* The rows of an evaluation: the model's outputs (k a row) and the targets. */
struct eval_rows {
    float *prob;
    float *y;
    size_t rows, cap;
};

/* Room for one more row of k outputs. */
static int eval_grow(struct eval_rows *e, int k, struct nn_err *err)
{
    size_t cap = e->cap; /* for both arrays: set when both have grown */
    float *p;

    if (e->rows < e->cap) {
        return 0;
    }
    p = nn_grow(e->prob, &cap, 1024, sizeof(float) * (size_t)(k + 1));
    if (p != NULL) {
        e->prob = p;
        p = nn_reallocarray(e->y, cap, sizeof(float));
    }
    if (p == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    e->y = p;
    e->cap = cap;
    return 0;
}

/* The target of the current row: the label's number (regression) or class index. */
static int eval_target(const struct model *m, const struct tab_csv *r, long label, float *target,
                       struct nn_err *err)
{
    size_t len;
    const char *lv = tab_csv_field(r, (size_t)label, &len);
    int c = -1, j;

    if (m->feat->task == NN_TASK_REGRESSION) {
        char *end;

        *target = strtof(lv, &end);
        if (len == 0 || *end != '\0') {
            return nn_err_set_at(err, NN_EINVAL, tab_csv_line(r), label + 1, m->feat->label,
                                 "label '%.64s' is not a number", lv);
        }
        return 0;
    }
    for (j = 0; j < m->feat->n_classes; j++) {
        if (strcmp(m->feat->classes[j], lv) == 0) {
            c = j;
        }
    }
    if (c < 0) {
        return nn_err_set_at(err, NN_EINVAL, tab_csv_line(r), label + 1, m->feat->label,
                             "label '%.64s' is not a class of the model", lv);
    }
    *target = (float)c;
    return 0;
}

/* Reads every row of r: its target and the model's outputs. */
static int eval_read(const struct model *m, struct tab_csv *r, struct eval_rows *e,
                     struct nn_err *err)
{
    int k = m->feat->task == NN_TASK_REGRESSION ? 1 : m->feat->n_classes;
    struct csv_run run;
    long label;
    int rc;

    rc = csv_run_open(m, r, &run, err);
    if (rc != 0) {
        return rc;
    }
    label = tab_csv_find(r, m->feat->label);
    if (label < 0) {
        rc = nn_err_set_at(err, NN_EINVAL, 1, 0, m->feat->label,
                           "the CSV has no label column '%.64s'", m->feat->label);
        goto fail;
    }
    while ((rc = tab_csv_next(r, err)) == 1) {
        float target = 0;

        rc = eval_grow(e, k, err);
        if (rc == 0) {
            rc = eval_target(m, r, label, &target, err);
        }
        if (rc == 0) {
            rc = csv_run_row(m, &run, r, e->prob + e->rows * (size_t)k, NULL, err);
        }
        if (rc != 0) {
            goto fail;
        }
        e->y[e->rows++] = target;
    }
fail:
    csv_run_close(&run);
    return rc;
}

/* Adds a classifier's metrics to doc: accuracy, log loss, AUC (binary), confusion, classes.
 * Overwrites e->prob for the AUC. */
static int eval_classes_json(const struct model *m, struct eval_rows *e, cJSON *doc,
                             struct nn_err *err)
{
    int k = m->feat->n_classes, a, b;
    size_t *cm = nn_calloc((size_t)k * (size_t)k, sizeof(size_t));
    cJSON *conf = cJSON_AddArrayToObject(doc, "confusion");
    cJSON *cls;
    size_t right = 0, i;

    if (cm == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    /* accuracy and confusion are those of the labels predict gives (model_decide) */
    for (i = 0; i < e->rows; i++) {
        int d = model_decide(m, e->prob + i * (size_t)k);
        right += d == (int)e->y[i];
        cm[(size_t)e->y[i] * (size_t)k + (size_t)d]++;
    }
    cJSON_AddNumberToObject(doc, "accuracy", e->rows > 0 ? (double)right / (double)e->rows : NAN);
    cJSON_AddNumberToObject(doc, "log_loss", nn_metrics_log_loss(e->prob, k, e->y, e->rows));
    if (k == 2) {
        /* prob holds [p0, p1] per row: the AUC reads p1 */
        for (i = 0; i < e->rows; i++) {
            e->prob[i] = e->prob[2 * i + 1];
        }
        cJSON_AddNumberToObject(doc, "auc", nn_metrics_auc(e->prob, e->y, e->rows));
    }
    for (a = 0; a < k; a++) {
        cJSON *row = cJSON_CreateArray();

        for (b = 0; b < k; b++) {
            cJSON_AddItemToArray(row, cJSON_CreateNumber((double)cm[a * k + b]));
        }
        cJSON_AddItemToArray(conf, row);
    }
    nn_free(cm);
    cls = cJSON_AddArrayToObject(doc, "classes");
    for (a = 0; a < k; a++) {
        cJSON_AddItemToArray(cls, cJSON_CreateString(m->feat->classes[a]));
    }
    return 0;
}

/* The evaluation's JSON: rows, then RMSE and MAE or the classifier's metrics. */
static int eval_json(const struct model *m, struct eval_rows *e, cJSON **out, struct nn_err *err)
{
    cJSON *doc = cJSON_CreateObject();
    int rc = 0;

    if (doc == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    cJSON_AddNumberToObject(doc, "rows", (double)e->rows);
    if (m->feat->task == NN_TASK_REGRESSION) {
        cJSON_AddNumberToObject(doc, "rmse", nn_metrics_rmse(e->prob, e->y, e->rows));
        cJSON_AddNumberToObject(doc, "mae", nn_metrics_mae(e->prob, e->y, e->rows));
    } else {
        rc = eval_classes_json(m, e, doc, err);
    }
    if (rc != 0) {
        cJSON_Delete(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

int model_eval_csv(const struct model *m, const char *path, char delimiter,
                   const struct model_limits *lim, cJSON **out, struct nn_err *err)
{
    struct eval_rows e = {NULL, NULL, 0, 0};
    struct tab_csv *r = NULL;
    FILE *f = NULL;
    int rc;

    *out = NULL;
    rc = model_csv_open(path, delimiter, lim, &f, &r, err);
    if (rc != 0) {
        return rc;
    }
    rc = eval_read(m, r, &e, err);
    if (rc == 0) {
        rc = eval_json(m, &e, out, err);
    }
    nn_free(e.prob);
    nn_free(e.y);
    tab_csv_close(r);
    fclose(f);
    return rc < 0 ? rc : 0;
}
