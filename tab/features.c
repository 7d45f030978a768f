/*
 * features: fits and applies the feature pipeline (numeric scaling, one-hot, hashed text).
 *
 * One encoder, tab_features_encode, turns one row's cells into [dense | sparse]; fitting is two
 * passes over the CSV — pass A gathers the statistics of the training rows (means, scales,
 * categories seen, text shape statistics), pass B runs every row through that same encoder —
 * so a row encoded at prediction time is bit-identical to the row the network trained on.
 * Text is a seeded FNV-1a hash (finished with murmur3's fmix32) of lowercased word unigrams and
 * bigrams into one 2^18 space shared by all text inputs (each input seeds with its index);
 * a row's hashes are sorted and merged, so memory is O(tokens), never O(2^18).
 * Serialisation (binary section and JSON) lives in features_io.c; features_priv.h holds what
 * the two files share.
 * One ~1,000-line file on purpose: fit and encode side by side keep train/predict rows identical.
 */
#include "tab/features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/alloc.h"
#include "nn/train.h"
#include "tab/features_priv.h"

#define FEAT_HASH_MASK ((1u << TAB_FEAT_HASH_BITS) - 1u)

/* ==========================================================================================
 * Freeing and small helpers
 */
static void input_fini(struct tab_feat_input *in)
{
    nn_free(in->name);
    nn_free_strv(in->categories, in->n_categories);
    nn_free(in->cat_order);
}

void tab_features_free(struct tab_features *f)
{
    if (f == NULL) {
        return;
    }
    if (f->inputs != NULL) {
        for (size_t i = 0; i < f->n_inputs; i++) {
            input_fini(&f->inputs[i]);
        }
    }
    nn_free(f->inputs);
    nn_free(f->label);
    nn_free_strv(f->classes, (size_t)f->n_classes);
    nn_free(f);
}

/* Builds in->cat_order (see features_priv.h): insertion sort on indices; n is at most
 * FEAT_MAX_CATS and this runs once per pipeline. */
int tab_feat_build_order(struct tab_feat_input *in)
{
    nn_free(in->cat_order);
    in->cat_order = nn_calloc(in->n_categories ? in->n_categories : 1, sizeof(size_t));
    if (in->cat_order == NULL) {
        return NN_ENOMEM;
    }
    for (size_t i = 0; i < in->n_categories; i++) {
        size_t j = i;
        while (j > 0 && strcmp(in->categories[in->cat_order[j - 1]], in->categories[i]) > 0) {
            in->cat_order[j] = in->cat_order[j - 1];
            j--;
        }
        in->cat_order[j] = i;
    }
    return 0;
}

/* Index of category s in `in`, or -1 (binary search through cat_order). */
static long cat_find(const struct tab_feat_input *in, const char *s)
{
    size_t lo = 0, hi = in->n_categories;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(in->categories[in->cat_order[mid]], s);
        if (c == 0) {
            return (long)in->cat_order[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

/* Assigns dense offsets in input order and sets dense_dim / sparse_dim (features_priv.h). */
int tab_feat_layout(struct tab_features *f)
{
    size_t off = 0;
    int text = 0;
    for (size_t i = 0; i < f->n_inputs; i++) {
        struct tab_feat_input *in = &f->inputs[i];
        in->offset = (int)off;
        switch (in->type) {
        case TAB_COL_NUMERIC:
            off += 1 + (in->missing_col != 0);
            break;
        case TAB_COL_CATEGORICAL:
            off += in->n_categories + (in->missing_col != 0);
            break;
        case TAB_COL_TEXT:
            off += TAB_FEAT_N_SHAPE;
            text = 1;
            break;
        default:
            return NN_EINVAL;
        }
        if (off > (size_t)1 << 30) {
            return NN_ERANGE;
        }
    }
    f->dense_dim = (int)off;
    f->sparse_dim = text ? 1 << TAB_FEAT_HASH_BITS : 0;
    return 0;
}

double tab_features_unscale(const struct tab_features *f, double y)
{
    return y * f->y_sd + f->y_mean;
}

/* ==========================================================================================
 * Text
 */
static uint32_t fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static uint32_t fnv_bytes(uint32_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c + 32);
        }
        h ^= c;
        h *= 16777619u;
    }
    return h;
}

struct hashes {
    uint32_t *h;
    size_t n, cap;
};

static int hashes_push(struct hashes *hs, uint32_t v)
{
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? hs->cap * 2 : 256;
        uint32_t *p = nn_reallocarray(hs->h, cap, sizeof(uint32_t));
        if (p == NULL) {
            return NN_ENOMEM;
        }
        hs->h = p;
        hs->cap = cap;
    }
    hs->h[hs->n++] = v;
    return 0;
}

/* Appends the bucket of every unigram and bigram of text s (input index k) to hs; or, when
 * fn is not NULL, hands each one to fn with its words instead (tab_features_tokens). */
static int text_hashes(const char *s, uint32_t seed, size_t k, struct hashes *hs, tab_token_fn fn,
                       void *ud)
{
    uint32_t basis = 2166136261u ^ fmix32(seed + (uint32_t)k * 0x9e3779b9u);
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *prev = NULL;
    size_t prev_len = 0;
    while (*p != '\0') {
        while (*p != '\0' && !is_word(*p)) {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        const unsigned char *w = p;
        while (is_word(*p)) {
            p++;
        }
        size_t n = (size_t)(p - w);
        uint32_t h = fnv_bytes(basis, w, n);
        if (fn != NULL) {
            int rc = fn(ud, k, (int32_t)(fmix32(h) & FEAT_HASH_MASK), (const char *)w, n, NULL, 0);
            if (rc != 0) {
                return rc;
            }
        } else if (hashes_push(hs, fmix32(h) & FEAT_HASH_MASK) != 0) {
            return NN_ENOMEM;
        }
        if (prev != NULL) {
            unsigned char sp = ' ';
            uint32_t b = fnv_bytes(basis, prev, prev_len);
            b = fnv_bytes(b, &sp, 1);
            b = fnv_bytes(b, w, n);
            if (fn != NULL) {
                int rc = fn(ud, k, (int32_t)(fmix32(b) & FEAT_HASH_MASK), (const char *)prev,
                            prev_len, (const char *)w, n);
                if (rc != 0) {
                    return rc;
                }
            } else if (hashes_push(hs, fmix32(b) & FEAT_HASH_MASK) != 0) {
                return NN_ENOMEM;
            }
        }
        prev = w;
        prev_len = n;
    }
    return 0;
}

static int ci_prefix(const char *s, const char *pre)
{
    for (; *pre != '\0'; s++, pre++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c + 32);
        }
        if (c != *pre) {
            return 0;
        }
    }
    return 1;
}

/* The raw (log1p-scaled, unstandardised) shape features of a text. */
static void text_shape(const char *s, double out[TAB_FEAT_N_SHAPE])
{
    size_t letters = 0, caps = 0, run = 0, best = 0, bang = 0, dollar = 0, urls = 0;
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        if ((c == 'h' || c == 'H') && (ci_prefix(p, "http://") || ci_prefix(p, "https://"))) {
            urls++;
        } else if ((c == 'w' || c == 'W') && ci_prefix(p, "www.") &&
                   !(p - s >= 2 && p[-1] == '/' && p[-2] == '/')) {
            urls++;
        }
        if (c >= 'A' && c <= 'Z') {
            letters++;
            caps++;
            run++;
            if (run > best) {
                best = run;
            }
            continue;
        }
        run = 0;
        if (c >= 'a' && c <= 'z') {
            letters++;
        } else if (c == '!') {
            bang++;
        } else if (c == '$') {
            dollar++;
        }
    }
    if (letters == 0) {
        out[0] = 0;
    } else {
        out[0] = log1p((double)caps / (double)letters);
    }
    out[1] = log1p((double)best);
    out[2] = log1p((double)bang);
    out[3] = log1p((double)dollar);
    out[4] = log1p((double)urls);
}

struct entry {
    int32_t i;
    float v;
};

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_entry_val(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->v != y->v) {
        return x->v > y->v ? -1 : 1;
    }
    return (x->i > y->i) - (x->i < y->i);
}

static int cmp_entry_idx(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return (x->i > y->i) - (x->i < y->i);
}

/* ==========================================================================================
 * Encoding
 */

/*
 * The text a text input reads: what its decoder (chosen at fit, see tab_text_decoder) makes
 * of the cell, or the cell itself when it has none or the decoder leaves it (not a message,
 * over the decoder's limits, out of memory).
 * @param own [out] set when the text is new (free with nn_free).
 */
static const char *text_prepare(const struct tab_feat_input *in, const char *cell, char **own)
{
    size_t n;

    *own = NULL;
    if (in->decoder == NULL || in->decoder->decode(cell, strlen(cell), own, &n) != 0 ||
        *own == NULL) {
        nn_free(*own);
        *own = NULL;
        return cell;
    }
    return *own;
}

/* Encodes a row; on a bad numeric cell returns NN_EINVAL and *bad = the input index. */
static int encode_row(const struct tab_features *f, const char *const *cells, const double *nums,
                      float *dense, int32_t *ind, float *val, size_t max_nnz, size_t *nnz,
                      size_t *bad)
{
    struct hashes hs = {NULL, 0, 0};
    struct entry *ent = NULL;
    int rc = 0;
    for (size_t i = 0; i < f->n_inputs; i++) {
        const struct tab_feat_input *in = &f->inputs[i];
        int num = in->type == TAB_COL_NUMERIC && nums != NULL && !isnan(nums[i]);
        int missing = !num && tab_na_is(&f->na, cells[i]);
        const char *cell = missing ? "" : cells[i];
        if (in->type == TAB_COL_NUMERIC) {
            double v = num ? nums[i] : in->fill;
            if (!num && !missing && tab_schema_parse_number(cell, &v) <= 0) {
                *bad = i;
                rc = NN_EINVAL;
                goto done;
            }
            dense[in->offset] = in->scale ? (float)((v - in->mean) / in->sd) : (float)v;
            if (in->missing_col) {
                dense[in->offset + 1] = missing ? 1.0f : 0.0f;
            }
        } else if (in->type == TAB_COL_CATEGORICAL) {
            float *d = dense + in->offset;
            for (size_t c = 0; c < in->n_categories; c++) {
                d[c] = 0.0f;
            }
            long c = missing ? -1 : cat_find(in, cell);
            if (c >= 0) {
                d[c] = 1.0f;
            }
            if (in->missing_col) {
                d[in->n_categories] = missing ? 1.0f : 0.0f;
            }
        } else if (in->type == TAB_COL_TEXT) {
            double sh[TAB_FEAT_N_SHAPE];
            const char *text;
            char *own;

            text = text_prepare(in, cell, &own);
            text_shape(text, sh);
            for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
                dense[in->offset + j] = in->scale
                                            ? (float)((sh[j] - in->shape_mean[j]) / in->shape_sd[j])
                                            : (float)sh[j];
            }
            rc = text_hashes(text, f->hash_seed, i, &hs, NULL, NULL);
            nn_free(own);
            if (rc != 0) {
                rc = NN_ENOMEM;
                goto done;
            }
        }
    }
    size_t m = 0;
    if (hs.n > 0) {
        qsort(hs.h, hs.n, sizeof(uint32_t), cmp_u32);
        ent = nn_calloc(hs.n, sizeof(*ent));
        if (ent == NULL) {
            rc = NN_ENOMEM;
            goto done;
        }
        double norm = 0;
        for (size_t a = 0; a < hs.n;) {
            size_t b = a;
            while (b < hs.n && hs.h[b] == hs.h[a]) {
                b++;
            }
            double v = log1p((double)(b - a));
            ent[m].i = (int32_t)hs.h[a];
            ent[m].v = (float)v;
            norm += v * v;
            m++;
            a = b;
        }
        norm = sqrt(norm);
        for (size_t j = 0; j < m; j++) {
            ent[j].v = (float)(ent[j].v / norm);
        }
        if (m > max_nnz) {
            qsort(ent, m, sizeof(*ent), cmp_entry_val);
            m = max_nnz;
            qsort(ent, m, sizeof(*ent), cmp_entry_idx);
        }
        for (size_t j = 0; j < m; j++) {
            ind[j] = ent[j].i;
            val[j] = ent[j].v;
        }
    }
    *nnz = m;
done:
    nn_free(hs.h);
    nn_free(ent);
    return rc;
}

int tab_features_tokens(const struct tab_features *f, const char *const *cells, tab_token_fn fn,
                        void *ud)
{
    int rc = 0;

    for (size_t i = 0; i < f->n_inputs && rc == 0; i++) {
        const struct tab_feat_input *in = &f->inputs[i];
        const char *text;
        char *own;

        if (in->type != TAB_COL_TEXT || tab_na_is(&f->na, cells[i])) {
            continue;
        }
        text = text_prepare(in, cells[i], &own);
        rc = text_hashes(text, f->hash_seed, i, NULL, fn, ud);
        nn_free(own);
    }
    return rc;
}

int tab_features_encode(const struct tab_features *f, const char *const *cells, float *dense,
                        int32_t *ind, float *val, size_t max_nnz, size_t *nnz, struct nn_err *err)
{
    return tab_features_encode_num(f, cells, NULL, dense, ind, val, max_nnz, nnz, err);
}

int tab_features_encode_num(const struct tab_features *f, const char *const *cells,
                            const double *nums, float *dense, int32_t *ind, float *val,
                            size_t max_nnz, size_t *nnz, struct nn_err *err)
{
    size_t bad = 0;
    int rc = encode_row(f, cells, nums, dense, ind, val, max_nnz, nnz, &bad);

    if (rc == NN_EINVAL) {
        return nn_err_set_at(err, NN_EINVAL, 0, (long)bad + 1, f->inputs[bad].name,
                             "input '%.64s': '%.64s' is not a number", f->inputs[bad].name,
                             cells[bad] != NULL ? cells[bad] : "");
    }
    if (rc != 0) {
        return nn_err_set(err, rc, "out of memory encoding a row");
    }
    return 0;
}

/* ==========================================================================================
 * Fitting
 */
struct welford {
    double n, mean, m2;
};

static void welford_add(struct welford *w, double x)
{
    w->n += 1;
    double d = x - w->mean;
    w->mean += d / w->n;
    w->m2 += d * (x - w->mean);
}

static void welford_get(const struct welford *w, double *mean, double *sd)
{
    if (w->n < 1) {
        *mean = 0;
        *sd = 1;
        return;
    }
    double s = sqrt(w->m2 / w->n);
    *mean = w->mean;
    *sd = (s > 0 && isfinite(s)) ? s : 1;
}

/*
 * Fitting runs in phases over one state: set-up (inputs, classes), pass A (statistics of the
 * training rows), the fitted values (scales, fill values, categories, layout), pass B (every
 * row through the encoder into the data set).
 */
struct fit {
    struct tab_csv *r;
    const struct tab_schema *s;
    const unsigned char *is_train;
    const struct tab_feat_opts *fo;
    struct tab_features *f;
    size_t n_in;
    size_t *colof;        /* input i reads CSV column colof[i] */
    struct welford *wf;   /* per input: the value, then the TAB_FEAT_N_SHAPE text features */
    unsigned char **seen; /* categorical: categories seen in training */
    size_t *n_missing;    /* per input: missing training cells */
    float **vals;         /* numeric, for the median: the non-missing training values */
    size_t *n_vals;
};

static int fit_oom(struct nn_err *err)
{
    return nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
}

static int fit_setup(struct fit *ft, struct nn_err *err)
{
    const struct tab_schema *s = ft->s;
    struct tab_features *f;
    size_t n_in = 0;

    ft->f = f = nn_calloc(1, sizeof(*f));
    ft->colof = nn_calloc(s->n_cols ? s->n_cols : 1, sizeof(size_t));
    if (f == NULL || ft->colof == NULL) {
        return fit_oom(err);
    }
    for (size_t c = 0; c < s->n_cols; c++) {
        if (c != s->label && s->cols[c].type != TAB_COL_IGNORED) {
            ft->colof[n_in++] = c;
        }
    }
    if (n_in == 0) {
        return nn_err_set(err, NN_EINVAL, "no input columns besides the label");
    }
    ft->n_in = n_in;
    f->inputs = nn_calloc(n_in, sizeof(*f->inputs));
    ft->wf = nn_calloc(n_in * (TAB_FEAT_N_SHAPE + 1), sizeof(*ft->wf));
    ft->seen = nn_calloc(n_in, sizeof(*ft->seen));
    ft->n_missing = nn_calloc(n_in, sizeof(size_t));
    ft->vals = nn_calloc(n_in, sizeof(*ft->vals));
    ft->n_vals = nn_calloc(n_in, sizeof(size_t));
    f->label = nn_strdup(s->cols[s->label].name);
    if (f->inputs == NULL || ft->wf == NULL || ft->seen == NULL || ft->n_missing == NULL ||
        ft->vals == NULL || ft->n_vals == NULL || f->label == NULL) {
        return fit_oom(err);
    }
    f->n_inputs = n_in;
    f->task = s->task;
    f->hash_seed = TAB_FEAT_HASH_SEED;
    f->na = s->na;
    f->y_mean = 0;
    f->y_sd = 1;
    for (size_t i = 0; i < n_in; i++) {
        const struct tab_column *col = &s->cols[ft->colof[i]];
        struct tab_feat_input *in = &f->inputs[i];
        in->name = nn_strdup(col->name);
        if (in->name == NULL) {
            return fit_oom(err);
        }
        in->type = col->type;
        in->decoder = col->type == TAB_COL_TEXT ? ft->fo->text_decoder : NULL;
        in->scale = col->type != TAB_COL_CATEGORICAL;
        if (col->type == TAB_COL_CATEGORICAL) {
            ft->seen[i] = nn_calloc(col->n_categories ? col->n_categories : 1, 1);
            if (ft->seen[i] == NULL) {
                return fit_oom(err);
            }
        }
    }
    if (s->n_classes > 0) {
        f->classes = nn_calloc((size_t)s->n_classes, sizeof(char *));
        if (f->classes == NULL) {
            return fit_oom(err);
        }
        for (int k = 0; k < s->n_classes; k++) {
            f->classes[k] = nn_strdup(s->classes[k]);
            if (f->classes[k] == NULL) {
                return fit_oom(err);
            }
            f->n_classes = k + 1;
        }
    }
    return 0;
}

/* Pass A, one training cell of input i. */
static int fit_observe(struct fit *ft, size_t i, const char *v, struct nn_err *err)
{
    const struct tab_column *col = &ft->s->cols[ft->colof[i]];
    struct welford *w = &ft->wf[i * (TAB_FEAT_N_SHAPE + 1)];

    if (tab_na_is(&ft->f->na, v)) {
        ft->n_missing[i]++;
        if (col->type != TAB_COL_TEXT) {
            return 0;
        }
        v = "";
    }
    if (col->type == TAB_COL_NUMERIC) {
        double x;
        if (tab_schema_parse_number(v, &x) <= 0) {
            return nn_err_set_at(err, NN_EINVAL, tab_csv_line(ft->r), (long)ft->colof[i] + 1,
                                 col->name, "line %ld: '%.64s' is not a number",
                                 tab_csv_line(ft->r), v);
        }
        welford_add(w, x);
        if (ft->vals[i] != NULL) {
            ft->vals[i][ft->n_vals[i]++] = (float)x;
        }
    } else if (col->type == TAB_COL_CATEGORICAL) {
        size_t lo = 0, hi = col->n_categories;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = strcmp(col->categories[mid], v);
            if (c == 0) {
                ft->seen[i][mid] = 1;
                break;
            }
            if (c < 0) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
    } else if (col->type == TAB_COL_TEXT) {
        double sh[TAB_FEAT_N_SHAPE];
        char *own;
        const char *text = text_prepare(&ft->f->inputs[i], v, &own);

        text_shape(text, sh);
        nn_free(own);
        for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
            welford_add(&w[1 + j], sh[j]);
        }
    }
    return 0;
}

/* Pass A: the statistics of the training rows. */
static int fit_pass_stats(struct fit *ft, size_t ntrain, struct nn_err *err)
{
    const struct tab_schema *s = ft->s;
    size_t row = 0;
    int rc;

    for (size_t i = 0; i < ft->n_in; i++) {
        if (ft->f->inputs[i].type == TAB_COL_NUMERIC && ft->fo->impute == TAB_FEAT_IMPUTE_MEDIAN) {
            ft->vals[i] = nn_calloc(ntrain, sizeof(float));
            if (ft->vals[i] == NULL) {
                return fit_oom(err);
            }
        }
    }
    rc = tab_csv_rewind(ft->r, err);
    if (rc != 0) {
        return rc;
    }
    while ((rc = tab_csv_next(ft->r, err)) == 1) {
        if (row >= s->rows) {
            return nn_err_set_at(err, NN_EINVAL, tab_csv_line(ft->r), 0, NULL,
                                 "line %ld: more rows than the schema saw", tab_csv_line(ft->r));
        }
        if (!ft->is_train[row++]) {
            continue;
        }
        for (size_t i = 0; i < ft->n_in; i++) {
            rc = fit_observe(ft, i, tab_csv_field(ft->r, ft->colof[i], NULL), err);
            if (rc != 0) {
                return rc;
            }
        }
    }
    if (rc < 0) {
        return rc;
    }
    if (row != s->rows) {
        return nn_err_set(err, NN_EINVAL, "the csv has %zu rows, the schema %zu", row, s->rows);
    }
    return 0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The median of n values (sorted in place); NaN when n is 0. */
static double median(float *v, size_t n)
{
    if (n == 0) {
        return NAN;
    }
    qsort(v, n, sizeof(float), cmp_float);
    return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

/* The categories of input i seen in training, in the schema's (sorted) order. */
static int fit_categories(struct fit *ft, size_t i, struct nn_err *err)
{
    const struct tab_column *col = &ft->s->cols[ft->colof[i]];
    struct tab_feat_input *in = &ft->f->inputs[i];
    size_t n = 0;

    for (size_t k = 0; k < col->n_categories; k++) {
        n += ft->seen[i][k];
    }
    in->categories = nn_calloc(n ? n : 1, sizeof(char *));
    if (in->categories == NULL) {
        return fit_oom(err);
    }
    for (size_t k = 0; k < col->n_categories; k++) {
        if (!ft->seen[i][k]) {
            continue;
        }
        in->categories[in->n_categories] = nn_strdup(col->categories[k]);
        if (in->categories[in->n_categories] == NULL) {
            return fit_oom(err);
        }
        in->n_categories++;
    }
    return tab_feat_build_order(in) != 0 ? fit_oom(err) : 0;
}

/* The fitted values: scales, fill values, missing columns, categories, target scaling, layout. */
static int fit_values(struct fit *ft, struct nn_err *err)
{
    struct tab_features *f = ft->f;
    const struct tab_schema *s = ft->s;
    int rc;

    for (size_t i = 0; i < ft->n_in; i++) {
        struct tab_feat_input *in = &f->inputs[i];
        struct welford *w = &ft->wf[i * (TAB_FEAT_N_SHAPE + 1)];
        in->sd = 1; /* unused scales stay valid (1) so a saved pipeline loads back */
        for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
            in->shape_sd[j] = 1;
        }
        in->missing_col = in->type != TAB_COL_TEXT && ft->n_missing[i] > 0;
        if (in->type == TAB_COL_NUMERIC) {
            welford_get(w, &in->mean, &in->sd);
            in->fill = ft->vals[i] != NULL ? median(ft->vals[i], ft->n_vals[i]) : in->mean;
            if (!isfinite(in->fill)) {
                in->fill = in->mean;
            }
        } else if (in->type == TAB_COL_TEXT) {
            for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
                welford_get(&w[1 + j], &in->shape_mean[j], &in->shape_sd[j]);
            }
        } else if (in->type == TAB_COL_CATEGORICAL) {
            rc = fit_categories(ft, i, err);
            if (rc != 0) {
                return rc;
            }
        }
    }
    if (s->task == NN_TASK_REGRESSION) {
        struct welford w = {0, 0, 0};
        for (size_t i = 0; i < s->rows; i++) {
            if (ft->is_train[i]) {
                welford_add(&w, s->labels[i]);
            }
        }
        welford_get(&w, &f->y_mean, &f->y_sd);
    }
    rc = tab_feat_layout(f);
    return rc != 0 ? nn_err_set(err, rc, "too many dense features") : 0;
}

/* The sparse entries of pass B, grown as rows come. */
struct sparse_acc {
    int32_t *ind;
    float *val;
    size_t *indptr;
    size_t n, cap;
};

static int sparse_append(struct sparse_acc *sa, size_t row, const int32_t *ind, const float *val,
                         size_t nz)
{
    int rc = nn_sparse_append(&sa->ind, &sa->val, &sa->n, &sa->cap, ind, val, nz);

    if (rc != 0) {
        return rc;
    }
    sa->indptr[row + 1] = sa->n;
    return 0;
}

/* Pass B: every row through the encoder into d (dense rows into dense, row-major). */
static int fit_pass_encode(struct fit *ft, float *dense, struct sparse_acc *sa, struct nn_err *err)
{
    const struct tab_features *f = ft->f;
    size_t dd = (size_t)f->dense_dim, row = 0;
    const char **cells = nn_calloc(ft->n_in, sizeof(*cells));
    int32_t *itmp = NULL;
    float *vtmp = NULL, dummy = 0;
    int rc;

    if (f->sparse_dim > 0) {
        itmp = nn_malloc(TAB_FEAT_MAX_NNZ * sizeof(int32_t));
        vtmp = nn_malloc(TAB_FEAT_MAX_NNZ * sizeof(float));
    }
    if (cells == NULL || (f->sparse_dim > 0 && (itmp == NULL || vtmp == NULL))) {
        rc = fit_oom(err);
        goto done;
    }
    rc = tab_csv_rewind(ft->r, err);
    while (rc == 0 && (rc = tab_csv_next(ft->r, err)) == 1) {
        if (row >= ft->s->rows) {
            rc = nn_err_set(err, NN_EINVAL, "the csv changed between passes");
            goto done;
        }
        for (size_t i = 0; i < ft->n_in; i++) {
            cells[i] = tab_csv_field(ft->r, ft->colof[i], NULL);
        }
        size_t nz = 0, bad = 0;
        rc = encode_row(f, cells, NULL, dense ? dense + row * dd : &dummy, itmp, vtmp,
                        TAB_FEAT_MAX_NNZ, &nz, &bad);
        if (rc == NN_EINVAL) {
            rc = nn_err_set_at(err, NN_EINVAL, tab_csv_line(ft->r), (long)ft->colof[bad] + 1,
                               f->inputs[bad].name, "line %ld: '%.64s' is not a number",
                               tab_csv_line(ft->r), cells[bad]);
            goto done;
        }
        if (rc == 0 && f->sparse_dim > 0) {
            rc = sparse_append(sa, row, itmp, vtmp, nz);
        }
        if (rc != 0) {
            rc = nn_err_set(err, rc, "out of memory encoding row %zu", row);
            goto done;
        }
        row++;
    }
    if (rc == 0 && row != ft->s->rows) {
        rc = nn_err_set(err, NN_EINVAL, "the csv changed between passes");
    }
done:
    nn_free(cells);
    nn_free(itmp);
    nn_free(vtmp);
    return rc < 0 ? rc : 0;
}

/* Pass B and the data set: dense rows in place when there is no text, else gathered first
   (the non-zero count is known only at the end). */
static int fit_dataset(struct fit *ft, struct nn_dataset *d, struct nn_err *err)
{
    const struct tab_schema *s = ft->s;
    const struct tab_features *f = ft->f;
    size_t dd = (size_t)f->dense_dim;
    struct sparse_acc sa = {NULL, NULL, NULL, 0, 0};
    float *dense_tmp = NULL;
    int rc;

    if (f->sparse_dim == 0) {
        rc = nn_dataset_alloc(d, s->rows, f->dense_dim, 0, 0, 1);
        if (rc != 0) {
            return nn_err_set(err, NN_ENOMEM, "out of memory: %zu x %zu dense features", s->rows,
                              dd);
        }
        rc = fit_pass_encode(ft, d->dense, &sa, err);
    } else {
        dense_tmp = dd > 0 ? nn_calloc(s->rows ? s->rows : 1, dd * sizeof(float)) : NULL;
        sa.indptr = nn_calloc(s->rows + 1, sizeof(size_t));
        if ((dd > 0 && dense_tmp == NULL) || sa.indptr == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory: %zu x %zu dense features", s->rows, dd);
            goto done;
        }
        rc = fit_pass_encode(ft, dense_tmp, &sa, err);
        if (rc == 0 && nn_dataset_alloc(d, s->rows, f->dense_dim, f->sparse_dim, sa.n, 1) != 0) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory allocating the data set");
        }
        if (rc == 0) {
            if (dd > 0 && s->rows > 0) {
                memcpy(d->dense, dense_tmp, s->rows * dd * sizeof(float));
            }
            memcpy(d->indptr, sa.indptr, (s->rows + 1) * sizeof(size_t));
            if (sa.n > 0) {
                memcpy(d->indices, sa.ind, sa.n * sizeof(int32_t));
                memcpy(d->values, sa.val, sa.n * sizeof(float));
            }
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < s->rows; i++) {
            d->y[i] = s->task == NN_TASK_REGRESSION ? (float)((s->labels[i] - f->y_mean) / f->y_sd)
                                                    : s->labels[i];
        }
    }
done:
    nn_free(dense_tmp);
    nn_free(sa.indptr);
    nn_free(sa.ind);
    nn_free(sa.val);
    return rc;
}

static void fit_fini(struct fit *ft)
{
    for (size_t i = 0; i < ft->n_in; i++) {
        if (ft->seen != NULL) {
            nn_free(ft->seen[i]);
        }
        if (ft->vals != NULL) {
            nn_free(ft->vals[i]);
        }
    }
    nn_free(ft->seen);
    nn_free(ft->vals);
    nn_free(ft->n_vals);
    nn_free(ft->n_missing);
    nn_free(ft->colof);
    nn_free(ft->wf);
    tab_features_free(ft->f);
}

int tab_features_fit_opts(struct tab_csv *r, const struct tab_schema *s,
                          const unsigned char *is_train, const struct tab_feat_opts *fo,
                          struct tab_features **out, struct nn_dataset *ds, struct nn_err *err)
{
    static const struct tab_feat_opts defaults = {NULL, TAB_FEAT_IMPUTE_MEDIAN};
    struct nn_dataset d;
    struct fit ft;
    size_t ntrain = 0;
    int rc;

    *out = NULL;
    for (size_t i = 0; i < s->rows; i++) {
        ntrain += is_train[i] != 0;
    }
    if (ntrain == 0) {
        return nn_err_set(err, NN_EINVAL, "no training rows to fit the features on");
    }
    memset(&d, 0, sizeof(d));
    memset(&ft, 0, sizeof(ft));
    ft.r = r;
    ft.s = s;
    ft.is_train = is_train;
    ft.fo = fo != NULL ? fo : &defaults;
    rc = fit_setup(&ft, err);
    if (rc == 0) {
        rc = fit_pass_stats(&ft, ntrain, err);
    }
    if (rc == 0) {
        rc = fit_values(&ft, err);
    }
    if (rc == 0) {
        rc = fit_dataset(&ft, &d, err);
    }
    if (rc == 0) {
        *ds = d;
        memset(&d, 0, sizeof(d));
        *out = ft.f;
        ft.f = NULL;
    }
    nn_dataset_free(&d);
    fit_fini(&ft);
    return rc;
}

int tab_features_fit(struct tab_csv *r, const struct tab_schema *s, const unsigned char *is_train,
                     const struct tab_text_decoder *text_decoder, struct tab_features **out,
                     struct nn_dataset *ds, struct nn_err *err)
{
    struct tab_feat_opts fo = {text_decoder, TAB_FEAT_IMPUTE_MEDIAN};

    return tab_features_fit_opts(r, s, is_train, &fo, out, ds, err);
}
