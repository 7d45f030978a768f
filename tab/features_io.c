/*
 * features_io: the feature pipeline's binary section of a model blob (tab/buf.h; every count
 * and length is checked against the bytes left and a hard limit before anything is
 * allocated, and the loaded pipeline is re-validated as a whole: widths, task/classes
 * pairing, scales). The JSON form lives with cJSON in model/features_json.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/alloc.h"
#include "nn/train.h"
#include "tab/features.h"
#include "tab/features_priv.h"

/* ==========================================================================================
 * Binary format
 */
int tab_features_save(const struct tab_features *f, struct tab_buf *b)
{
    char spec[TAB_NA_MAX_SPEC];

    tab_buf_put_u32(b, FEAT_MAGIC);
    tab_buf_put_u32(b, FEAT_VERSION_NA);
    tab_buf_put_u32(b, (uint32_t)f->n_inputs);
    for (size_t i = 0; i < f->n_inputs; i++) {
        const struct tab_feat_input *in = &f->inputs[i];
        tab_buf_put_str(b, in->name);
        tab_buf_put_u8(b, (uint8_t)in->type);
        tab_buf_put_u8(b, (uint8_t)(in->scale != 0));
        tab_buf_put_f64(b, in->mean);
        tab_buf_put_f64(b, in->sd);
        tab_buf_put_u32(b, (uint32_t)in->n_categories);
        for (size_t k = 0; k < in->n_categories; k++) {
            tab_buf_put_str(b, in->categories[k]);
        }
        for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
            tab_buf_put_f64(b, in->shape_mean[j]);
            tab_buf_put_f64(b, in->shape_sd[j]);
        }
        if (in->type == TAB_COL_TEXT) {
            tab_buf_put_str(b, in->decoder != NULL ? in->decoder->name : "");
        }
        tab_buf_put_f64(b, in->fill);
        tab_buf_put_u8(b, (uint8_t)(in->missing_col != 0));
    }
    tab_buf_put_str(b, f->label ? f->label : "");
    tab_buf_put_u8(b, (uint8_t)f->task);
    tab_buf_put_u32(b, (uint32_t)f->n_classes);
    for (int k = 0; k < f->n_classes; k++) {
        tab_buf_put_str(b, f->classes[k]);
    }
    tab_buf_put_f64(b, f->y_mean);
    tab_buf_put_f64(b, f->y_sd);
    tab_buf_put_u32(b, f->hash_seed);
    tab_buf_put_i32(b, f->dense_dim);
    tab_buf_put_i32(b, f->sparse_dim);
    tab_na_spec(&f->na, spec, sizeof(spec));
    tab_buf_put_str(b, spec);
    return b->failed ? NN_ENOMEM : 0;
}

int tab_feat_good_scale(double sd)
{
    return isfinite(sd) && sd > 0;
}

/* Checks the task / class count pairing and that no class repeats. */
static int check_classes(const struct tab_features *f)
{
    if (f->task == NN_TASK_REGRESSION) {
        return f->n_classes == 0 && tab_feat_good_scale(f->y_sd) && isfinite(f->y_mean);
    }
    if (f->task == NN_TASK_BINARY && f->n_classes != 2) {
        return 0;
    }
    if (f->task == NN_TASK_MULTICLASS && f->n_classes < 3) {
        return 0;
    }
    for (int a = 0; a < f->n_classes; a++) {
        for (int b = 0; b < a; b++) {
            if (strcmp(f->classes[a], f->classes[b]) == 0) {
                return 0;
            }
        }
    }
    return 1;
}

/* Reads a text input's decoder: its stored name (version 2) or the one version 1 implies. */
static int load_decoder(struct tab_rd *rd, uint32_t version, tab_text_decoder_find_fn find,
                        size_t i, struct tab_feat_input *in, struct nn_err *err)
{
    char *name = NULL;
    int rc = 0;

    if (version == FEAT_VERSION) {
        name = nn_strdup(TAB_FEAT_V1_DECODER);
        if (name == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory loading features");
        }
    } else {
        rc = tab_rd_str(rd, &name, TAB_FEAT_MAX_DECODER_NAME, "text decoder", err);
        if (rc != 0) {
            return rc;
        }
    }
    in->decoder = NULL;
    if (name[0] != '\0') {
        in->decoder = find != NULL ? find(name) : NULL;
        if (in->decoder == NULL) {
            rc = nn_err_set(err, NN_EFORMAT, "input %zu: unknown text decoder '%s'", i, name);
        }
    }
    nn_free(name);
    return rc;
}

/* A version-3 input's fill value and missing-column flag; before: the mean, none. */
static int load_missing(struct tab_rd *rd, uint32_t version, size_t i, struct tab_feat_input *in,
                        struct nn_err *err)
{
    uint8_t b8;
    int rc;

    in->fill = in->mean;
    in->missing_col = 0;
    if (version < FEAT_VERSION_NA) {
        return 0;
    }
    rc = tab_rd_f64(rd, &in->fill, "input fill value", err);
    if (rc == 0) {
        rc = tab_rd_u8(rd, &b8, "input missing column", err);
    }
    if (rc != 0) {
        return rc;
    }
    if (!isfinite(in->fill) || b8 > 1 || (b8 && in->type == TAB_COL_TEXT)) {
        return nn_err_set(err, NN_EFORMAT, "input %zu: bad fill value or missing column", i);
    }
    in->missing_col = b8;
    return 0;
}

/* The markers (version 3); before: none (only empty cells were missing). */
static int load_na(struct tab_rd *rd, uint32_t version, struct tab_features *f, struct nn_err *err)
{
    char *spec = NULL;
    int rc;

    memset(&f->na, 0, sizeof(f->na));
    if (version < FEAT_VERSION_NA) {
        return 0;
    }
    rc = tab_rd_str(rd, &spec, TAB_NA_MAX_SPEC, "missing-value markers", err);
    if (rc != 0) {
        return rc;
    }
    rc = tab_na_parse(spec, &f->na, NULL);
    if (rc == 0) { /* only the form tab_features_save writes: it reads back byte for byte */
        char again[TAB_NA_MAX_SPEC];
        tab_na_spec(&f->na, again, sizeof(again));
        rc = strcmp(again, spec) != 0;
    }
    nn_free(spec);
    return rc != 0 ? nn_err_set(err, NN_EFORMAT, "bad missing-value markers") : 0;
}

/* The pipeline's header: magic, version and input count (checked against what rd holds). */
static int load_header(struct tab_rd *rd, uint32_t *version, uint32_t *n, struct nn_err *err)
{
    uint32_t u;
    int rc = tab_rd_u32(rd, &u, "features magic", err);

    if (rc != 0) {
        return rc;
    }
    if (u != FEAT_MAGIC) {
        return nn_err_set(err, NN_EFORMAT, "not a feature pipeline (bad magic)");
    }
    rc = tab_rd_u32(rd, &u, "features version", err);
    if (rc != 0) {
        return rc;
    }
    if (u != FEAT_VERSION && u != FEAT_VERSION_DEC && u != FEAT_VERSION_NA) {
        return nn_err_set(err, NN_EFORMAT, "feature pipeline version %u is not supported", u);
    }
    *version = u;
    rc = tab_rd_u32(rd, n, "input count", err);
    if (rc != 0) {
        return rc;
    }
    /* each input takes at least 4 + 2 + 16 + 4 + 80 bytes */
    if (*n == 0 || *n > FEAT_MAX_INPUTS) {
        return nn_err_set(err, NN_EFORMAT, "bad input count %u", *n);
    }
    return tab_rd_need(rd, *n, 106, "inputs", err);
}

/* Input i's name, type, scaling and category count. */
static int load_input_head(struct tab_rd *rd, size_t i, struct tab_feat_input *in, uint32_t *nc,
                           struct nn_err *err)
{
    uint8_t b8;
    int rc = tab_rd_str(rd, &in->name, FEAT_MAX_NAME, "input name", err);

    if (rc == 0) {
        rc = tab_rd_u8(rd, &b8, "input type", err);
    }
    if (rc != 0) {
        return rc;
    }
    if (b8 != TAB_COL_NUMERIC && b8 != TAB_COL_CATEGORICAL && b8 != TAB_COL_TEXT) {
        return nn_err_set(err, NN_EFORMAT, "input %zu: bad type %u", i, b8);
    }
    in->type = (enum tab_col_type)b8;
    rc = tab_rd_u8(rd, &b8, "input scale", err);
    if (rc != 0) {
        return rc;
    }
    in->scale = b8 != 0;
    rc = tab_rd_f64(rd, &in->mean, "input mean", err);
    if (rc == 0) {
        rc = tab_rd_f64(rd, &in->sd, "input sd", err);
    }
    if (rc == 0) {
        rc = tab_rd_u32(rd, nc, "category count", err);
    }
    if (rc != 0) {
        return rc;
    }
    if (!isfinite(in->mean) || !tab_feat_good_scale(in->sd) || b8 > 1 || *nc > FEAT_MAX_CATS ||
        (in->type != TAB_COL_CATEGORICAL && *nc != 0)) {
        return nn_err_set(err, NN_EFORMAT, "input %zu: bad scaling or category count", i);
    }
    return 0;
}

/*
 * n strings of at most FEAT_MAX_CAT bytes (categories or classes, what names the list and one
 * item) into a new array *v; *done counts those read, also on failure (for the free).
 */
static int load_strs(struct tab_rd *rd, uint32_t n, const char *what, const char *item, char ***v,
                     size_t *done, struct nn_err *err)
{
    int rc = tab_rd_need(rd, n, 4, what, err);

    if (rc != 0) {
        return rc;
    }
    *v = nn_calloc(n ? n : 1, sizeof(char *));
    if (*v == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory loading features");
    }
    for (uint32_t k = 0; k < n && rc == 0; k++) {
        rc = tab_rd_str(rd, &(*v)[k], FEAT_MAX_CAT, item, err);
        *done = rc == 0 ? k + 1 : k;
    }
    return rc;
}

/* Input i's text-shape scaling (TAB_FEAT_N_SHAPE mean and sd pairs). */
static int load_shape(struct tab_rd *rd, size_t i, struct tab_feat_input *in, struct nn_err *err)
{
    for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
        int rc = tab_rd_f64(rd, &in->shape_mean[j], "shape mean", err);

        if (rc == 0) {
            rc = tab_rd_f64(rd, &in->shape_sd[j], "shape sd", err);
        }
        if (rc != 0) {
            return rc;
        }
        if (!isfinite(in->shape_mean[j]) || !tab_feat_good_scale(in->shape_sd[j])) {
            return nn_err_set(err, NN_EFORMAT, "input %zu: bad shape scaling", i);
        }
    }
    return 0;
}

/* One input, in the order tab_features_save writes it. */
static int load_input(struct tab_rd *rd, uint32_t version, tab_text_decoder_find_fn find, size_t i,
                      struct tab_feat_input *in, struct nn_err *err)
{
    uint32_t nc;
    int rc = load_input_head(rd, i, in, &nc, err);

    if (rc == 0) {
        rc = load_strs(rd, nc, "categories", "category", &in->categories, &in->n_categories, err);
    }
    if (rc == 0) {
        rc = load_shape(rd, i, in, err);
    }
    if (rc == 0 && in->type == TAB_COL_TEXT) {
        rc = load_decoder(rd, version, find, i, in, err);
    }
    if (rc == 0) {
        rc = load_missing(rd, version, i, in, err);
    }
    if (rc != 0) {
        return rc;
    }
    if (tab_feat_build_order(in) != 0) {
        return nn_err_set(err, NN_ENOMEM, "out of memory loading features");
    }
    for (size_t k = 1; k < in->n_categories; k++) {
        if (strcmp(in->categories[in->cat_order[k - 1]], in->categories[in->cat_order[k]]) == 0) {
            return nn_err_set(err, NN_EFORMAT, "input %zu: repeated category", i);
        }
    }
    return 0;
}

/* The label: its name, the task and the classes. */
static int load_label(struct tab_rd *rd, struct tab_features *f, struct nn_err *err)
{
    size_t done = 0;
    uint32_t n;
    uint8_t b8;
    int rc = tab_rd_str(rd, &f->label, FEAT_MAX_NAME, "label name", err);

    if (rc == 0) {
        rc = tab_rd_u8(rd, &b8, "task", err);
    }
    if (rc == 0) {
        rc = tab_rd_u32(rd, &n, "class count", err);
    }
    if (rc != 0) {
        return rc;
    }
    if (b8 > NN_TASK_REGRESSION || n > FEAT_MAX_CLASSES) {
        return nn_err_set(err, NN_EFORMAT, "bad task %u or class count %u", b8, n);
    }
    f->task = b8;
    if (n == 0) {
        return 0; /* a regression: no classes, no array */
    }
    rc = load_strs(rd, n, "classes", "class", &f->classes, &done, err);
    f->n_classes = (int)done;
    return rc;
}

/* The target scaling, hash seed, widths and missing-value markers, checked against the rest. */
static int load_tail(struct tab_rd *rd, uint32_t version, struct tab_features *f,
                     struct nn_err *err)
{
    int32_t dd, sd;
    int rc = tab_rd_f64(rd, &f->y_mean, "target mean", err);

    if (rc == 0) {
        rc = tab_rd_f64(rd, &f->y_sd, "target scale", err);
    }
    if (rc == 0) {
        rc = tab_rd_u32(rd, &f->hash_seed, "hash seed", err);
    }
    if (rc == 0) {
        rc = tab_rd_i32(rd, &dd, "dense width", err);
    }
    if (rc == 0) {
        rc = tab_rd_i32(rd, &sd, "sparse width", err);
    }
    if (rc == 0) {
        rc = load_na(rd, version, f, err);
    }
    if (rc != 0) {
        return rc;
    }
    if (!check_classes(f)) {
        return nn_err_set(err, NN_EFORMAT, "task, classes and target scaling do not agree");
    }
    if (!isfinite(f->y_mean) || !tab_feat_good_scale(f->y_sd)) {
        return nn_err_set(err, NN_EFORMAT, "bad target scaling");
    }
    if (tab_feat_layout(f) != 0 || f->dense_dim != dd || f->sparse_dim != sd) {
        return nn_err_set(err, NN_EFORMAT, "feature widths do not match the inputs");
    }
    return 0;
}

int tab_features_load(struct tab_rd *rd, tab_text_decoder_find_fn find, struct tab_features **out,
                      struct nn_err *err)
{
    struct tab_features *f = NULL;
    uint32_t n = 0, version = 0;
    int rc;

    *out = NULL;
    rc = load_header(rd, &version, &n, err);
    if (rc != 0) {
        return rc;
    }
    f = nn_calloc(1, sizeof(*f));
    if (f != NULL) {
        f->inputs = nn_calloc(n, sizeof(*f->inputs));
    }
    if (f == NULL || f->inputs == NULL) {
        tab_features_free(f);
        return nn_err_set(err, NN_ENOMEM, "out of memory loading features");
    }
    f->n_inputs = n;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = load_input(rd, version, find, i, &f->inputs[i], err);
    }
    if (rc == 0) {
        rc = load_label(rd, f, err);
    }
    if (rc == 0) {
        rc = load_tail(rd, version, f, err);
    }
    if (rc == 0) {
        *out = f;
    } else {
        tab_features_free(f);
    }
    return rc;
}
