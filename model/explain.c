/*
 * explain: why a model answered what it did — integrated gradients (nn/ig.h) of one row,
 * summed back from the encoded features to the user's inputs and, inside a text input, to
 * the words and bigrams of the message.
 *
 * The encoder hashes words one way; tab_features_tokens walks the same words with their
 * sparse columns, so each column's attribution is shared among the distinct words that fell
 * into it (by their counts; two words share a column only on a hash collision). The
 * attributions of a row add up to output - baseline (nn_ig_row's completeness; its figures are
 * in the explanation). The baseline is the model's mean encoded training row (model_priv.h),
 * the sparse (hashed word) block excepted: a text's baseline is no words.
 * Thread-safety: a model is only read; everything else is per call.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"
#include "nn/alloc.h"
#include "nn/ig.h"

#define MAX_TOKENS ((size_t)1 << 20) /* words kept per row; past it, words go unnamed */

static const char *const shape_names[TAB_FEAT_N_SHAPE] = {"capitals", "capital_run", "exclamations",
                                                          "dollars", "urls"};

struct expl_word {
    int32_t bucket;
    int input;
    size_t count;
    char *text; /* lowercased; owned */
    double attr;
};

struct model_expl {
    int cls;    /* class explained; -1 regression */
    int stored; /* 1: the model's baseline, 0: zeros */
    double output, baseline;
    struct nn_ig_result ig;
    double *input; /* n_inputs */
    double *shape; /* n_inputs x TAB_FEAT_N_SHAPE (text inputs) */
    struct expl_word *words;
    size_t n_words, cap_words;
};

int model_baseline_fit(struct model *m, const struct nn_dataset *ds)
{
    size_t d = (size_t)ds->dense_cols, r, j;
    double *acc;
    float *b;

    if (d == 0 || ds->rows == 0) {
        return 0;
    }
    acc = nn_calloc(d, sizeof(double));
    b = nn_malloc(d * sizeof(float));
    if (acc == NULL || b == NULL) {
        nn_free(acc);
        nn_free(b);
        return NN_ENOMEM;
    }
    for (r = 0; r < ds->rows; r++) {
        for (j = 0; j < d; j++) {
            acc[j] += ds->dense[r * d + j];
        }
    }
    for (j = 0; j < d; j++) {
        b[j] = (float)(acc[j] / (double)ds->rows);
    }
    nn_free(acc);
    nn_free(m->baseline);
    m->baseline = b;
    return 0;
}

void model_expl_free(struct model_expl *ex)
{
    if (ex == NULL) {
        return;
    }
    for (size_t i = 0; i < ex->n_words; i++) {
        nn_free(ex->words[i].text);
    }
    nn_free(ex->words);
    nn_free(ex->input);
    nn_free(ex->shape);
    nn_free(ex);
}

double model_expl_input(const struct model_expl *ex, int i)
{
    return ex->input[i];
}

/* tab_token_fn: keeps one word or bigram (lowercased, as hashed). */
static int keep_token(void *ud, size_t input, int32_t bucket, const char *w1, size_t n1,
                      const char *w2, size_t n2)
{
    struct model_expl *ex = ud;
    struct expl_word *w;
    size_t len = n1 + (w2 != NULL ? n2 + 1 : 0), i;

    if (ex->n_words >= MAX_TOKENS) {
        return 0;
    }
    if (ex->n_words == ex->cap_words) {
        struct expl_word *p = nn_grow(ex->words, &ex->cap_words, 64, sizeof(*p));

        if (p == NULL) {
            return NN_ENOMEM;
        }
        ex->words = p;
    }
    w = &ex->words[ex->n_words];
    w->text = nn_malloc(len + 1);
    if (w->text == NULL) {
        return NN_ENOMEM;
    }
    for (i = 0; i < n1; i++) {
        w->text[i] = (char)tolower((unsigned char)w1[i]);
    }
    if (w2 != NULL) {
        w->text[n1] = ' ';
        for (i = 0; i < n2; i++) {
            w->text[n1 + 1 + i] = (char)tolower((unsigned char)w2[i]);
        }
    }
    w->text[len] = '\0';
    w->bucket = bucket;
    w->input = (int)input;
    w->count = 1;
    w->attr = 0.0;
    ex->n_words++;
    return 0;
}

static int cmp_word_key(const void *a, const void *b)
{
    const struct expl_word *x = a, *y = b;

    if (x->bucket != y->bucket) {
        return x->bucket < y->bucket ? -1 : 1;
    }
    if (x->input != y->input) {
        return x->input < y->input ? -1 : 1;
    }
    return strcmp(x->text, y->text);
}

static int cmp_word_attr(const void *a, const void *b)
{
    const struct expl_word *x = a, *y = b;
    double u = fabs(x->attr), v = fabs(y->attr);

    if (u != v) {
        return u > v ? -1 : 1;
    }
    return strcmp(x->text, y->text);
}

/* Merges repeated words, then shares each sparse entry's attribution among its words. */
static void words_attribute(struct model_expl *ex, const int32_t *ind, const double *as, size_t nnz,
                            double scale)
{
    size_t i, m = 0, a, b;

    qsort(ex->words, ex->n_words, sizeof(*ex->words), cmp_word_key);
    for (i = 0; i < ex->n_words; i++) {
        if (m > 0 && cmp_word_key(&ex->words[m - 1], &ex->words[i]) == 0) {
            ex->words[m - 1].count++;
            nn_free(ex->words[i].text);
            continue;
        }
        ex->words[m++] = ex->words[i];
    }
    ex->n_words = m;
    for (a = 0; a < m; a = b) {
        size_t total = 0, lo = 0, hi = nnz;

        for (b = a; b < m && ex->words[b].bucket == ex->words[a].bucket; b++) {
            total += ex->words[b].count;
        }
        while (lo < hi) { /* the bucket's sparse entry (ind is sorted) */
            size_t mid = (lo + hi) / 2;

            if (ind[mid] < ex->words[a].bucket) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if (lo == nnz || ind[lo] != ex->words[a].bucket) {
            continue; /* dropped by the encoder (past TAB_FEAT_MAX_NNZ) */
        }
        for (i = a; i < b; i++) {
            ex->words[i].attr = scale * as[lo] * (double)ex->words[i].count / (double)total;
            ex->input[ex->words[i].input] += ex->words[i].attr;
        }
    }
    qsort(ex->words, ex->n_words, sizeof(*ex->words), cmp_word_attr);
}

/*
 * Integrated gradients of the unit's logit averaged over the model's networks: IG is linear in
 * the function explained (the same path and grid for each term), so the mean of the members'
 * attributions is the IG of the mean of their logits, and completeness holds for that mean:
 * sum = mean logit(x) - mean logit(base). With one network it is nn_ig_row itself. The
 * regression output is the mean of the values, so there it is the prediction's own IG.
 * ad and as hold 2 (D + 1) and 2 (nnz + 1) doubles (the second halves are scratch).
 */
static int ig_mean(const struct model *m, const float *base, const float *dense, const int32_t *ind,
                   const float *val, size_t nnz, int unit, double *ad, double *as,
                   struct nn_ig_result *res, struct nn_err *err)
{
    size_t D = (size_t)m->feat->dense_dim, j;
    double *ad1 = ad + D + 1, *as1 = as + nnz + 1;
    struct nn_ig_result r1;
    int rc = nn_ig_row(m->nets[0], base, dense, ind, val, nnz, unit, NULL, ad, as, res, err);

    for (int i = 1; rc == 0 && i < m->n_nets; i++) {
        rc = nn_ig_row(m->nets[i], base, dense, ind, val, nnz, unit, NULL, ad1, as1, &r1, err);
        for (j = 0; rc == 0 && j < D; j++) {
            ad[j] += ad1[j];
        }
        for (j = 0; rc == 0 && j < nnz; j++) {
            as[j] += as1[j];
        }
        res->out += r1.out;
        res->base += r1.base;
        res->sum += r1.sum;
        res->steps = r1.steps > res->steps ? r1.steps : res->steps;
        res->converged = res->converged && r1.converged;
    }
    if (rc != 0 || m->n_nets == 1) {
        return rc;
    }
    for (j = 0; j < D; j++) {
        ad[j] /= m->n_nets;
    }
    for (j = 0; j < nnz; j++) {
        as[j] /= m->n_nets;
    }
    res->out /= m->n_nets;
    res->base /= m->n_nets;
    res->sum /= m->n_nets;
    return 0;
}

/* Explains an encoded row. */
static int explain_encoded(const struct model *m, const char *const *cells, const float *dense,
                           const int32_t *ind, const float *val, size_t nnz, int cls, float *out,
                           struct model_expl **exo, struct nn_err *err)
{
    const struct tab_features *f = m->feat;
    size_t ni = f->n_inputs, D = (size_t)f->dense_dim, i, j;
    float *rawp, *scratch = NULL, *zeros = NULL;
    double *ad = NULL, *as = NULL, scale = 1.0;
    struct model_expl *ex = nn_calloc(1, sizeof(*ex));
    int unit = 0, k = nn_net_outputs(m->nets[0]), rc;

    scratch = nn_malloc((model_net_scratch_len(m) + (size_t)k + 2) * sizeof(float));
    ad = nn_calloc(2 * (D + 1), sizeof(double));
    as = nn_calloc(2 * (nnz + 1), sizeof(double));
    if (m->baseline == NULL) {
        zeros = nn_calloc(D + 1, sizeof(float));
    }
    if (ex != NULL) {
        ex->input = nn_calloc(ni + 1, sizeof(double));
        ex->shape = nn_calloc(ni * TAB_FEAT_N_SHAPE + 1, sizeof(double));
    }
    if (ex == NULL || scratch == NULL || ad == NULL || as == NULL || ex->input == NULL ||
        ex->shape == NULL || (m->baseline == NULL && zeros == NULL)) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    rawp = scratch + model_net_scratch_len(m);
    model_nets_predict_row(m, dense, ind, val, nnz, scratch, rawp);
    model_outputs(m, rawp, out);
    ex->cls = -1;
    if (f->task == NN_TASK_REGRESSION) {
        scale = f->y_sd;
    } else {
        ex->cls = cls >= 0 && cls < model_n_classes(m) ? cls : model_decide(m, out);
        if (k == 1) {
            scale = ex->cls == 1 ? 1.0 : -1.0; /* logit of class 0 = -z */
        } else {
            unit = ex->cls;
        }
    }
    ex->stored = m->baseline != NULL;
    rc = ig_mean(m, m->baseline != NULL ? m->baseline : zeros, dense, ind, val, nnz, unit, ad, as,
                 &ex->ig, err);
    if (rc != 0) {
        goto fail;
    }
    if (f->task == NN_TASK_REGRESSION) {
        ex->output = tab_features_unscale(f, ex->ig.out);
        ex->baseline = tab_features_unscale(f, ex->ig.base);
    } else {
        ex->output = scale * ex->ig.out;
        ex->baseline = scale * ex->ig.base;
    }
    ex->ig.sum *= scale;
    for (i = 0; i < ni; i++) {
        const struct tab_feat_input *in = &f->inputs[i];
        size_t end = i + 1 < ni ? (size_t)f->inputs[i + 1].offset : D;

        for (j = (size_t)in->offset; j < end; j++) {
            ex->input[i] += scale * ad[j];
            if (in->type == TAB_COL_TEXT && j - (size_t)in->offset < TAB_FEAT_N_SHAPE) {
                ex->shape[i * TAB_FEAT_N_SHAPE + j - (size_t)in->offset] = scale * ad[j];
            }
        }
    }
    if (nnz > 0 && cells != NULL) {
        rc = tab_features_tokens(f, cells, keep_token, ex);
        if (rc != 0) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory");
            goto fail;
        }
        words_attribute(ex, ind, as, nnz, scale);
    }
    *exo = ex;
    ex = NULL;
fail:
    model_expl_free(ex);
    nn_free(scratch);
    nn_free(ad);
    nn_free(as);
    nn_free(zeros);
    return rc;
}

/* Encodes and explains; cells and nums as tab_features_encode_num reads them. */
static int explain_row(const struct model *m, const char *const *cells, const double *nums, int cls,
                       float *out, struct model_expl **ex, struct nn_err *err)
{
    const struct tab_features *f = m->feat;
    size_t max_nnz = f->sparse_dim > 0 ? TAB_FEAT_MAX_NNZ : 0, nnz = 0;
    float *dense = nn_malloc(((size_t)f->dense_dim + 1 + max_nnz) * sizeof(float));
    int32_t *ind = nn_malloc((max_nnz + 1) * sizeof(int32_t));
    int rc;

    *ex = NULL;
    if (dense == NULL || ind == NULL) {
        nn_free(dense);
        nn_free(ind);
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = tab_features_encode_num(f, cells, nums, dense, ind, dense + f->dense_dim + 1, max_nnz,
                                 &nnz, err);
    if (rc == 0) {
        rc =
            explain_encoded(m, cells, dense, ind, dense + f->dense_dim + 1, nnz, cls, out, ex, err);
    }
    nn_free(dense);
    nn_free(ind);
    return rc;
}

int model_explain_cells(const struct model *m, const char *const *cells, int cls, float *out,
                        struct model_expl **ex, struct nn_err *err)
{
    return explain_row(m, cells, NULL, cls, out, ex, err);
}

int model_explain_num(const struct model *m, const double *x, int cls, float *out,
                      struct model_expl **ex, struct nn_err *err)
{
    const struct tab_features *f = m->feat;
    const char **cells;
    int rc;

    *ex = NULL;
    for (size_t i = 0; i < f->n_inputs; i++) {
        if (f->inputs[i].type != TAB_COL_NUMERIC) {
            return nn_err_set_at(err, NN_EINVAL, 0, (long)i + 1, f->inputs[i].name,
                                 "input '%.64s' is not numeric", f->inputs[i].name);
        }
    }
    cells = nn_calloc(f->n_inputs + 1, sizeof(char *)); /* all missing: x says what is not */
    if (cells == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = explain_row(m, cells, x, cls, out, ex, err);
    nn_free(cells);
    return rc;
}

int model_explain_json(const struct model *m, const cJSON *instance, int cls, float *out,
                       struct model_expl **ex, struct nn_err *err)
{
    size_t n = m->feat->n_inputs;
    const char **cells = nn_calloc(n + 1, sizeof(char *));
    double *nums = nn_calloc(n + 1, sizeof(double));
    char *text = nn_malloc(32 * (n + 1));
    int rc;

    *ex = NULL;
    if (cells == NULL || nums == NULL || text == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
    } else {
        rc = model_json_cells(m, instance, cells, nums, text, err);
        if (rc == 0) {
            rc = explain_row(m, cells, nums, cls, out, ex, err);
        }
    }
    nn_free(cells);
    nn_free(nums);
    nn_free(text);
    return rc;
}

void model_expl_info(const struct model_expl *ex, struct model_expl_info *info)
{
    info->cls = ex->cls;
    info->baseline_source = ex->stored ? "training_means" : "zeros";
    info->output = ex->output;
    info->baseline = ex->baseline;
    info->sum = ex->ig.sum;
    info->error = ex->ig.sum - (ex->output - ex->baseline);
    info->steps = ex->ig.steps;
    info->converged = ex->ig.converged;
}

/* Input indices ordered by |attribution|, largest first (ties: input order). */
void model_expl_order(const struct model *m, const struct model_expl *ex, size_t *ord)
{
    size_t n = m->feat->n_inputs, i, j;

    for (i = 0; i < n; i++) {
        ord[i] = i;
    }
    for (i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        size_t v = ord[i];

        for (j = i; j > 0 && fabs(ex->input[ord[j - 1]]) < fabs(ex->input[v]); j--) {
            ord[j] = ord[j - 1];
        }
        ord[j] = v;
    }
}

cJSON *model_expl_to_json(const struct model *m, const struct model_expl *ex, int top)
{
    const struct tab_features *f = m->feat;
    size_t n = f->n_inputs, i, w;
    size_t *ord = nn_calloc(n + 1, sizeof(size_t));
    cJSON *o = cJSON_CreateObject(), *attr, *words = NULL, *shape = NULL, *c;
    struct model_expl_info info;

    if (o == NULL || ord == NULL) {
        nn_free(ord);
        cJSON_Delete(o);
        return NULL;
    }
    model_expl_info(ex, &info);
    if (info.cls >= 0) {
        cJSON_AddStringToObject(o, "class", f->classes[info.cls]);
    }
    cJSON_AddNumberToObject(o, "output", info.output);
    cJSON_AddNumberToObject(o, "baseline", info.baseline);
    cJSON_AddStringToObject(o, "baseline_source", info.baseline_source);
    attr = cJSON_AddObjectToObject(o, "attributions");
    model_expl_order(m, ex, ord);
    for (i = 0; i < n; i++) { /* keys borrowed from the model: one allocation an input, not two */
        cJSON *v = cJSON_CreateNumber(ex->input[ord[i]]);

        if (v == NULL || !cJSON_AddItemToObjectCS(attr, f->inputs[ord[i]].name, v)) {
            cJSON_Delete(v);
        }
    }
    for (i = 0; i < n; i++) {
        cJSON *list, *sh;
        int kept = 0;

        if (f->inputs[i].type != TAB_COL_TEXT) {
            continue;
        }
        if (words == NULL) {
            words = cJSON_AddObjectToObject(o, "words");
            shape = cJSON_AddObjectToObject(o, "shape");
        }
        list = cJSON_AddArrayToObject(words, f->inputs[i].name);
        for (w = 0; w < ex->n_words && kept < top; w++) {
            if (ex->words[w].input == (int)i) {
                cJSON *e = cJSON_CreateObject();

                cJSON_AddStringToObject(e, "word", ex->words[w].text);
                cJSON_AddNumberToObject(e, "value", ex->words[w].attr);
                cJSON_AddItemToArray(list, e);
                kept++;
            }
        }
        sh = cJSON_AddObjectToObject(shape, f->inputs[i].name);
        for (int s = 0; s < TAB_FEAT_N_SHAPE; s++) {
            cJSON_AddNumberToObject(sh, shape_names[s], ex->shape[i * TAB_FEAT_N_SHAPE + s]);
        }
    }
    c = cJSON_AddObjectToObject(o, "completeness");
    cJSON_AddNumberToObject(c, "sum", info.sum);
    cJSON_AddNumberToObject(c, "error", info.error);
    cJSON_AddNumberToObject(c, "steps", info.steps);
    cJSON_AddBoolToObject(c, "converged", info.converged);
    nn_free(ord);
    return o;
}
