/*
 * model: the model object (allocation, accessors, the decision rule) and opening a CSV with
 * the model's limits. The rest of model.h is one file per concern: training (model_train.c:
 * csv -> schema -> split -> features -> net -> train -> metrics, so that features are fitted on
 * the training split only and the validation split decides early stopping and the reported
 * metrics), prediction and evaluation (model_predict.c), cards (model_card.c).
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

void model_csv_opts(struct tab_csv_opts *o, char delim, const struct model_limits *lim)
{
    tab_csv_opts_default(o);
    o->delim = delim;
    if (lim != NULL) {
        o->max_rows = lim->max_rows;
        o->max_cols = lim->max_cols;
        o->max_field = lim->max_field;
    }
}

int model_csv_open(const char *path, char delim, const struct model_limits *lim, FILE **fp,
                   struct tab_csv **r, struct nn_err *err)
{
    struct tab_csv_opts o;
    FILE *f;
    int rc;

    f = fopen(path, "rb");
    if (f == NULL) {
        return nn_err_set(err, NN_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    model_csv_opts(&o, delim, lim);
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

    rc = model_csv_open(path, p->delimiter, lim, &f, &r, err);
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
    m->n_nets = 1; /* nets[0] is set by whoever makes the model */
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
    if (m == NULL) {
        return;
    }
    tab_features_free(m->feat);
    for (int i = 0; i < m->n_nets; i++) {
        nn_net_free(m->nets[i]);
    }
    model_params_fini(&m->params);
    nn_free_strv(m->ignored, m->n_ignored);
    model_columns_free(m);
    cJSON_Delete(m->search);
    cJSON_Delete(m->warm);
    NN_FREE_ALL(m->why, m->history, m->baseline, m->importance, m);
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

const char *model_label_name(const struct model *m)
{
    return m->feat->label;
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
