/*
 * model_feedback: the data of learning from feedback, in a model's own terms — labelled rows
 * read from a CSV as JSON instances, an instance in its canonical form (an object keyed by
 * input name, in input order: what a content hash is taken of), rows written back as a CSV of
 * the model's inputs and label, and the rows kept with a trained version (a seeded reservoir
 * of its training rows and its validation rows, split exactly as training split them).
 * Does not: train, store, or know about HTTP.
 */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"
#include "nn/alloc.h"
#include "nn/rng.h"

/* ------------------------------------------------------------------------------------------
 * Instances
 * ---------------------------------------------------------------------------------------- */

int model_instance_canonical(const struct model *m, const cJSON *instance, cJSON **out,
                             struct nn_err *err)
{
    const struct tab_features *f = m->feat;
    int k = f->task == NN_TASK_REGRESSION ? 1 : (f->n_classes > 2 ? f->n_classes : 2);
    float probe[256];
    float *p = k <= 256 ? probe : nn_calloc((size_t)k, sizeof(float));
    cJSON *o = NULL;
    int rc;

    *out = NULL;
    if (p == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = model_predict_json(m, instance, p, err); /* the instance must fit the model */
    if (p != probe) {
        nn_free(p);
    }
    if (rc != 0) {
        return rc;
    }
    o = cJSON_CreateObject();
    for (size_t i = 0; o != NULL && i < f->n_inputs; i++) {
        const cJSON *v = cJSON_IsArray(instance)
                             ? cJSON_GetArrayItem(instance, (int)i)
                             : cJSON_GetObjectItemCaseSensitive(instance, f->inputs[i].name);
        cJSON *d = v != NULL ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();

        if (d == NULL || !cJSON_AddItemToObject(o, f->inputs[i].name, d)) {
            cJSON_Delete(d);
            cJSON_Delete(o);
            o = NULL;
        }
    }
    if (o == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    *out = o;
    return 0;
}

/* A cell of a CSV as JSON for input in: a number for a numeric input's number, null when
 * empty, else the text. */
static cJSON *cell_json(const struct tab_feat_input *in, const char *v, size_t len)
{
    if (len == 0) {
        return cJSON_CreateNull();
    }
    if (in->type == TAB_COL_NUMERIC) {
        char *end;
        double d = strtod(v, &end);

        if (*end == '\0' && isfinite(d)) {
            return cJSON_CreateNumber(d);
        }
    }
    return cJSON_CreateString(v);
}

int model_feedback_csv(const struct model *m, const char *path, char delim,
                       const struct model_limits *lim, size_t max_rows, cJSON **instances,
                       cJSON **labels, struct nn_err *err)
{
    const struct tab_features *f = m->feat;
    size_t n = f->n_inputs, rows = 0, len;
    cJSON *insts = cJSON_CreateArray(), *labs = cJSON_CreateArray();
    struct model_rows rd = {NULL, NULL, NULL};
    int rc = 0;

    *instances = NULL;
    *labels = NULL;
    rc = insts != NULL && labs != NULL ? model_rows_open(m, path, delim, lim, &rd, err)
                                       : nn_err_set(err, NN_ENOMEM, "out of memory");
    while (rc == 0 && (rc = tab_csv_next(rd.r, err)) == 1) {
        cJSON *o = cJSON_CreateObject();
        float y;

        rc = model_row_target(m, rd.r, rd.col[n], &y, err);
        if (rc == 0 && ++rows > max_rows) {
            rc = nn_err_set_at(err, NN_ERANGE, tab_csv_line(rd.r), 0, NULL,
                               "more than %zu rows of feedback in one request", max_rows);
        }
        for (size_t i = 0; rc == 0 && o != NULL && i < n; i++) {
            const char *v = tab_csv_field(rd.r, (size_t)rd.col[i], &len);

            if (!cJSON_AddItemToObject(o, f->inputs[i].name, cell_json(&f->inputs[i], v, len))) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory");
            }
        }
        if (rc == 0 && (o == NULL || !cJSON_AddItemToArray(insts, o))) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        } else if (rc != 0) {
            cJSON_Delete(o);
        }
        if (rc == 0 && !cJSON_AddItemToArray(labs, cJSON_CreateString(tab_csv_field(
                                                       rd.r, (size_t)rd.col[n], &len)))) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        }
    }
    if (rc == 0 && rows == 0) {
        rc = nn_err_set_at(err, NN_EINVAL, 2, 0, NULL, "the CSV has no data rows");
    }
    model_rows_close(&rd);
    if (rc < 0) {
        cJSON_Delete(insts);
        cJSON_Delete(labs);
        return rc;
    }
    *instances = insts;
    *labels = labs;
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Rows as CSV
 * ---------------------------------------------------------------------------------------- */

void model_rows_header(const struct model *m, FILE *out)
{
    for (size_t i = 0; i < m->feat->n_inputs; i++) {
        tab_csv_write_field(out, m->feat->inputs[i].name, strlen(m->feat->inputs[i].name), ',');
        fputc(',', out);
    }
    tab_csv_write_field(out, m->feat->label, strlen(m->feat->label), ',');
    fputc('\n', out);
}

void model_row_write(const struct model *m, FILE *out, const cJSON *instance, const char *label)
{
    char num[40];

    for (size_t i = 0; i < m->feat->n_inputs; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(instance, m->feat->inputs[i].name);

        if (cJSON_IsString(v)) {
            tab_csv_write_field(out, v->valuestring, strlen(v->valuestring), ',');
        } else if (cJSON_IsNumber(v)) {
            snprintf(num, sizeof(num), "%.17g", v->valuedouble);
            fputs(num, out);
        } else if (cJSON_IsBool(v)) {
            fputs(cJSON_IsTrue(v) ? "true" : "false", out);
        }
        fputc(',', out);
    }
    tab_csv_write_field(out, label, strlen(label), ',');
    fputc('\n', out);
}

/* ------------------------------------------------------------------------------------------
 * The rows kept with a version
 * ---------------------------------------------------------------------------------------- */

/* Writes the current row of rd as m's columns. */
static void copy_row(const struct model *m, const struct model_rows *rd, FILE *out)
{
    size_t len;

    for (size_t i = 0; i <= m->feat->n_inputs; i++) {
        const char *v = tab_csv_field(rd->r, (size_t)rd->col[i], &len);

        tab_csv_write_field(out, v, len, ',');
        fputc(i < m->feat->n_inputs ? ',' : '\n', out);
    }
}

/* Pass 1: every row's target (class index; 0 for regression) into *y (NULL: only counted),
 * *n rows. */
static int read_targets(const struct model *m, const struct model_rows *rd, float **y, size_t *n,
                        struct nn_err *err)
{
    size_t cap = 0;
    int rc;

    if (y != NULL) {
        *y = NULL;
    }
    *n = 0;
    while ((rc = tab_csv_next(rd->r, err)) == 1) {
        float t = 0;

        rc = y != NULL ? model_row_target(m, rd->r, rd->col[m->feat->n_inputs], &t, err) : 0;
        if (rc == 0 && y != NULL && *n == cap) {
            float *g = nn_grow(*y, &cap, 1024, sizeof(float));

            rc = g != NULL ? 0 : nn_err_set(err, NN_ENOMEM, "out of memory");
            *y = g != NULL ? g : *y;
        }
        if (rc != 0) {
            return rc;
        }
        if (y != NULL) {
            (*y)[*n] = m->feat->task == NN_TASK_REGRESSION ? 0.0f : t;
        }
        (*n)++;
    }
    return rc;
}

/* Marks with mark in keep[] a seeded sample (Algorithm R) of at most max of the n items. */
static void reservoir(const size_t *items, size_t n, size_t max, unsigned long long seed,
                      size_t *res, unsigned char *keep, unsigned char mark)
{
    size_t k, cap = n < max ? n : max;
    struct nn_rng rng;

    nn_rng_seed(&rng, seed);
    for (k = 0; k < n; k++) {
        if (k < cap) {
            res[k] = items[k];
        } else {
            uint64_t j = nn_rng_below(&rng, (uint64_t)k + 1);

            if (j < cap) {
                res[j] = items[k];
            }
        }
    }
    for (k = 0; k < cap; k++) {
        keep[res[k]] = mark;
    }
}

/* Pass 2: rewinds rd and copies every row i with keep[i] != 0 to out[keep[i] - 1]. */
static int copy_kept(const struct model *m, const struct model_rows *rd, const unsigned char *keep,
                     size_t rows, FILE *const *out, struct nn_err *err)
{
    int rc = tab_csv_rewind(rd->r, err);

    for (size_t i = 0; rc == 0 && (rc = tab_csv_next(rd->r, err)) == 1 && i < rows; i++) {
        if (keep[i] != 0) {
            copy_row(m, rd, out[keep[i] - 1]);
        }
        rc = 0;
    }
    return rc < 0 ? rc : 0;
}

/* Marks the rows to keep: 1 for a reservoir of at most max training rows (the split training
 * made: the same seed, labels and share), 2 for the first max validation rows. */
static int choose_rows(const struct model *m, const float *y, size_t n, unsigned long long seed,
                       double frac, size_t max, unsigned char *keep, size_t *n_rep, size_t *n_val,
                       struct nn_err *err)
{
    size_t *tr = nn_calloc(n + 1, sizeof(size_t)), *va = nn_calloc(n + 1, sizeof(size_t));
    size_t *res = nn_calloc((n < max ? n : max) + 1, sizeof(size_t));
    size_t n_tr = 0, n_va = 0, k;
    struct nn_rng rng;
    int rc = 0;

    if (tr == NULL || va == NULL || res == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    nn_rng_seed(&rng, seed);
    rc = nn_train_split_stratified(y, n,
                                   m->feat->task == NN_TASK_REGRESSION ? 0 : m->feat->n_classes,
                                   n >= 10 ? frac : 0, &rng, tr, &n_tr, va, &n_va, err);
    if (rc != 0) {
        goto fail;
    }
    reservoir(tr, n_tr, max, seed ^ 0x7265706c6179ULL, res, keep, 1);
    *n_rep = n_tr < max ? n_tr : max;
    *n_val = n_va < max ? n_va : max;
    for (k = 0; k < *n_val; k++) {
        keep[va[k]] = 2;
    }
fail:
    nn_free(tr);
    nn_free(va);
    nn_free(res);
    return rc;
}

int model_samples_csv(const struct model *m, const char *path, char delim,
                      const struct model_limits *lim, unsigned long long seed, double frac,
                      size_t max, FILE *replay, FILE *holdout, size_t *n_replay, size_t *n_holdout,
                      struct nn_err *err)
{
    FILE *const out[2] = {replay, holdout};
    struct model_rows rd;
    unsigned char *keep = NULL;
    size_t rows = 0;
    float *y = NULL;
    int rc;

    *n_replay = 0;
    *n_holdout = 0;
    rc = model_rows_open(m, path, delim, lim, &rd, err);
    if (rc == 0) {
        rc = read_targets(m, &rd, &y, &rows, err);
    }
    if (rc == 0) {
        keep = nn_calloc(rows + 1, 1);
        rc = keep != NULL ? choose_rows(m, y, rows, seed, frac, max, keep, n_replay, n_holdout, err)
                          : nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        model_rows_header(m, replay);
        model_rows_header(m, holdout);
        rc = copy_kept(m, &rd, keep, rows, out, err);
    }
    if (rc == 0 && (ferror(replay) || ferror(holdout))) {
        rc = nn_err_set(err, NN_EIO, "cannot write the kept rows");
    }
    model_rows_close(&rd);
    nn_free(y);
    nn_free(keep);
    return rc;
}

size_t model_replay_rows(size_t feedback_rows)
{
    size_t n = feedback_rows * MODEL_REPLAY_PER_ROW;

    return n > MODEL_REPLAY_MIN ? n : MODEL_REPLAY_MIN;
}

int model_rows_sample(const struct model *m, const char *path, char delim,
                      const struct model_limits *lim, size_t max, unsigned long long seed,
                      FILE *out, size_t *written, struct nn_err *err)
{
    FILE *const outs[1] = {out};
    struct model_rows rd;
    size_t rows = 0, *all = NULL, *res = NULL;
    unsigned char *keep = NULL;
    int rc;

    *written = 0;
    rc = model_rows_open(m, path, delim, lim, &rd, err);
    if (rc == 0) {
        rc = read_targets(m, &rd, NULL, &rows, err);
    }
    if (rc == 0) {
        all = nn_calloc(rows + 1, sizeof(size_t));
        res = nn_calloc((rows < max ? rows : max) + 1, sizeof(size_t));
        keep = nn_calloc(rows + 1, 1);
        rc = all != NULL && res != NULL && keep != NULL
                 ? 0
                 : nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        for (size_t i = 0; i < rows; i++) {
            all[i] = i;
        }
        reservoir(all, rows, max, seed ^ 0x73616d706c65ULL, res, keep, 1);
        rc = copy_kept(m, &rd, keep, rows, outs, err);
    }
    if (rc == 0 && ferror(out)) {
        rc = nn_err_set(err, NN_EIO, "cannot write the rows");
    }
    if (rc == 0) {
        *written = rows < max ? rows : max;
    }
    model_rows_close(&rd);
    nn_free(all);
    nn_free(res);
    nn_free(keep);
    return rc;
}
