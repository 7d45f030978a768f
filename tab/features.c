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
    if (in->categories != NULL) {
        for (size_t k = 0; k < in->n_categories; k++) {
            nn_free(in->categories[k]);
        }
    }
    nn_free(in->categories);
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
    if (f->classes != NULL) {
        for (int k = 0; k < f->n_classes; k++) {
            nn_free(f->classes[k]);
        }
    }
    nn_free(f->classes);
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
            off += 1;
            break;
        case TAB_COL_CATEGORICAL:
            off += in->n_categories;
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

/* Appends the bucket of every unigram and bigram of text s (input index k) to hs. */
static int text_hashes(const char *s, uint32_t seed, size_t k, struct hashes *hs)
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
        if (hashes_push(hs, fmix32(h) & FEAT_HASH_MASK) != 0) {
            return NN_ENOMEM;
        }
        if (prev != NULL) {
            unsigned char sp = ' ';
            uint32_t b = fnv_bytes(basis, prev, prev_len);
            b = fnv_bytes(b, &sp, 1);
            b = fnv_bytes(b, w, n);
            if (hashes_push(hs, fmix32(b) & FEAT_HASH_MASK) != 0) {
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
        const char *cell = cells[i] != NULL ? cells[i] : "";
        if (in->type == TAB_COL_NUMERIC) {
            double v = in->mean;
            int k = nums != NULL && !isnan(nums[i]) ? (v = nums[i], 1)
                                                    : tab_schema_parse_number(cell, &v);
            if (k < 0) {
                *bad = i;
                rc = NN_EINVAL;
                goto done;
            }
            if (k == 0) {
                v = in->mean;
            }
            dense[in->offset] = in->scale ? (float)((v - in->mean) / in->sd) : (float)v;
        } else if (in->type == TAB_COL_CATEGORICAL) {
            float *d = dense + in->offset;
            for (size_t c = 0; c < in->n_categories; c++) {
                d[c] = 0.0f;
            }
            long c = *cell != '\0' ? cat_find(in, cell) : -1;
            if (c >= 0) {
                d[c] = 1.0f;
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
            rc = text_hashes(text, f->hash_seed, i, &hs);
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

int tab_features_fit(struct tab_csv *r, const struct tab_schema *s, const unsigned char *is_train,
                     const struct tab_text_decoder *text_decoder, struct tab_features **out,
                     struct nn_dataset *ds, struct nn_err *err)
{
    struct tab_features *f = NULL;
    size_t *colof = NULL;
    struct welford *wf = NULL;
    unsigned char **seen = NULL;
    const char **cells = NULL;
    float *dense = NULL, *dense_tmp = NULL, *vtmp = NULL, *val = NULL;
    int32_t *ind = NULL, *itmp = NULL;
    size_t *indptr = NULL;
    size_t nnz_cap = 0, nnz_tot = 0, n_in = 0;
    struct nn_dataset d = {0};
    int rc;
    *out = NULL;
    size_t ntrain = 0;
    for (size_t i = 0; i < s->rows; i++) {
        ntrain += is_train[i] != 0;
    }
    if (ntrain == 0) {
        return nn_err_set(err, NN_EINVAL, "no training rows to fit the features on");
    }
    f = nn_calloc(1, sizeof(*f));
    colof = nn_calloc(s->n_cols, sizeof(size_t));
    if (f == NULL || colof == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
        goto fail;
    }
    for (size_t c = 0; c < s->n_cols; c++) {
        if (c != s->label && s->cols[c].type != TAB_COL_IGNORED) {
            colof[n_in++] = c;
        }
    }
    if (n_in == 0) {
        rc = nn_err_set(err, NN_EINVAL, "no input columns besides the label");
        goto fail;
    }
    f->inputs = nn_calloc(n_in, sizeof(*f->inputs));
    wf = nn_calloc(n_in * (TAB_FEAT_N_SHAPE + 1), sizeof(*wf));
    seen = nn_calloc(n_in, sizeof(*seen));
    cells = nn_calloc(n_in, sizeof(*cells));
    f->label = nn_strdup(s->cols[s->label].name);
    if (f->inputs == NULL || wf == NULL || seen == NULL || cells == NULL || f->label == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
        goto fail;
    }
    f->n_inputs = n_in;
    f->task = s->task;
    f->hash_seed = TAB_FEAT_HASH_SEED;
    f->y_mean = 0;
    f->y_sd = 1;
    for (size_t i = 0; i < n_in; i++) {
        const struct tab_column *col = &s->cols[colof[i]];
        struct tab_feat_input *in = &f->inputs[i];
        in->name = nn_strdup(col->name);
        if (in->name == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
            goto fail;
        }
        in->type = col->type;
        in->decoder = col->type == TAB_COL_TEXT ? text_decoder : NULL;
        in->scale = col->type != TAB_COL_CATEGORICAL;
        in->sd = 1;
        for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
            in->shape_sd[j] = 1;
        }
        if (col->type == TAB_COL_CATEGORICAL) {
            seen[i] = nn_calloc(col->n_categories ? col->n_categories : 1, 1);
            if (seen[i] == NULL) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
                goto fail;
            }
        }
    }
    if (s->n_classes > 0) {
        f->classes = nn_calloc((size_t)s->n_classes, sizeof(char *));
        if (f->classes == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
            goto fail;
        }
        for (int k = 0; k < s->n_classes; k++) {
            f->classes[k] = nn_strdup(s->classes[k]);
            if (f->classes[k] == NULL) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
                goto fail;
            }
            f->n_classes = k + 1;
        }
    }

    /* pass A: statistics of the training rows */
    rc = tab_csv_rewind(r, err);
    if (rc != 0) {
        goto fail;
    }
    size_t row = 0;
    while ((rc = tab_csv_next(r, err)) == 1) {
        if (row >= s->rows) {
            rc = nn_err_set_at(err, NN_EINVAL, tab_csv_line(r), 0, NULL,
                               "line %ld: more rows than the schema saw", tab_csv_line(r));
            goto fail;
        }
        if (!is_train[row++]) {
            continue;
        }
        for (size_t i = 0; i < n_in; i++) {
            const struct tab_column *col = &s->cols[colof[i]];
            const char *v = tab_csv_field(r, colof[i], NULL);
            struct welford *w = &wf[i * (TAB_FEAT_N_SHAPE + 1)];
            if (col->type == TAB_COL_NUMERIC) {
                double x;
                int k = tab_schema_parse_number(v, &x);
                if (k < 0) {
                    rc = nn_err_set_at(err, NN_EINVAL, tab_csv_line(r), (long)colof[i] + 1,
                                       col->name, "line %ld: '%.64s' is not a number",
                                       tab_csv_line(r), v);
                    goto fail;
                }
                if (k > 0) {
                    welford_add(w, x);
                }
            } else if (col->type == TAB_COL_CATEGORICAL) {
                if (*v == '\0') {
                    continue;
                }
                size_t lo = 0, hi = col->n_categories;
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    int c = strcmp(col->categories[mid], v);
                    if (c == 0) {
                        seen[i][mid] = 1;
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
                const char *text;
                char *own;

                text = text_prepare(&f->inputs[i], v, &own);
                text_shape(text, sh);
                nn_free(own);
                for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
                    welford_add(&w[1 + j], sh[j]);
                }
            }
        }
    }
    if (rc < 0) {
        goto fail;
    }
    if (row != s->rows) {
        rc = nn_err_set(err, NN_EINVAL, "the csv has %zu rows, the schema %zu", row, s->rows);
        goto fail;
    }
    for (size_t i = 0; i < n_in; i++) {
        const struct tab_column *col = &s->cols[colof[i]];
        struct tab_feat_input *in = &f->inputs[i];
        struct welford *w = &wf[i * (TAB_FEAT_N_SHAPE + 1)];
        in->sd = 1; /* unused scales stay valid (1) so a saved pipeline loads back */
        for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
            in->shape_sd[j] = 1;
        }
        if (in->type == TAB_COL_NUMERIC) {
            welford_get(w, &in->mean, &in->sd);
        } else if (in->type == TAB_COL_TEXT) {
            for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
                welford_get(&w[1 + j], &in->shape_mean[j], &in->shape_sd[j]);
            }
        } else if (in->type == TAB_COL_CATEGORICAL) {
            size_t n = 0;
            for (size_t k = 0; k < col->n_categories; k++) {
                n += seen[i][k];
            }
            in->categories = nn_calloc(n ? n : 1, sizeof(char *));
            if (in->categories == NULL) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
                goto fail;
            }
            for (size_t k = 0; k < col->n_categories; k++) {
                if (!seen[i][k]) {
                    continue;
                }
                in->categories[in->n_categories] = nn_strdup(col->categories[k]);
                if (in->categories[in->n_categories] == NULL) {
                    rc = nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
                    goto fail;
                }
                in->n_categories++;
            }
            if (tab_feat_build_order(in) != 0) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
                goto fail;
            }
        }
    }
    if (s->task == NN_TASK_REGRESSION) {
        struct welford w = {0, 0, 0};
        for (size_t i = 0; i < s->rows; i++) {
            if (is_train[i]) {
                welford_add(&w, s->labels[i]);
            }
        }
        welford_get(&w, &f->y_mean, &f->y_sd);
    }
    rc = tab_feat_layout(f);
    if (rc != 0) {
        rc = nn_err_set(err, rc, "too many dense features");
        goto fail;
    }

    /* pass B: every row through the encoder */
    size_t dd = (size_t)f->dense_dim;
    if (f->sparse_dim == 0) {
        /* no text: the data set's size is known now, so rows are encoded in place */
        rc = nn_dataset_alloc(&d, s->rows, f->dense_dim, 0, 0, 1);
        if (rc != 0) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory: %zu x %zu dense features", s->rows, dd);
            goto fail;
        }
        dense = d.dense;
    } else if (dd > 0) {
        /* text: the non-zero count is known only at the end; dense rows wait here */
        dense_tmp = nn_calloc(s->rows ? s->rows : 1, dd * sizeof(float));
        dense = dense_tmp;
        if (dense == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory: %zu x %zu dense features", s->rows, dd);
            goto fail;
        }
    }
    float dummy = 0;
    if (f->sparse_dim > 0) {
        itmp = nn_malloc(TAB_FEAT_MAX_NNZ * sizeof(int32_t));
        vtmp = nn_malloc(TAB_FEAT_MAX_NNZ * sizeof(float));
        indptr = nn_calloc(s->rows + 1, sizeof(size_t));
        if (itmp == NULL || vtmp == NULL || indptr == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory fitting features");
            goto fail;
        }
    }
    rc = tab_csv_rewind(r, err);
    if (rc != 0) {
        goto fail;
    }
    row = 0;
    while ((rc = tab_csv_next(r, err)) == 1) {
        if (row >= s->rows) {
            rc = nn_err_set(err, NN_EINVAL, "the csv changed between passes");
            goto fail;
        }
        for (size_t i = 0; i < n_in; i++) {
            cells[i] = tab_csv_field(r, colof[i], NULL);
        }
        size_t nz = 0, bad = 0;
        rc = encode_row(f, cells, NULL, dense ? dense + row * dd : &dummy, itmp, vtmp,
                        TAB_FEAT_MAX_NNZ, &nz, &bad);
        if (rc == NN_EINVAL) {
            rc = nn_err_set_at(err, NN_EINVAL, tab_csv_line(r), (long)colof[bad] + 1,
                               f->inputs[bad].name, "line %ld: '%.64s' is not a number",
                               tab_csv_line(r), cells[bad]);
            goto fail;
        }
        if (rc != 0) {
            rc = nn_err_set(err, rc, "out of memory encoding row %zu", row);
            goto fail;
        }
        if (f->sparse_dim > 0) {
            if (nnz_tot + nz > nnz_cap) {
                size_t cap = nnz_cap ? nnz_cap : 4096;
                while (cap < nnz_tot + nz) {
                    cap *= 2;
                }
                int32_t *ni = nn_reallocarray(ind, cap, sizeof(int32_t));
                if (ni == NULL) {
                    rc = nn_err_set(err, NN_ENOMEM, "out of memory: sparse text features");
                    goto fail;
                }
                ind = ni;
                float *nv = nn_reallocarray(val, cap, sizeof(float));
                if (nv == NULL) {
                    rc = nn_err_set(err, NN_ENOMEM, "out of memory: sparse text features");
                    goto fail;
                }
                val = nv;
                nnz_cap = cap;
            }
            if (nz > 0) {
                memcpy(ind + nnz_tot, itmp, nz * sizeof(int32_t));
                memcpy(val + nnz_tot, vtmp, nz * sizeof(float));
                nnz_tot += nz;
            }
            indptr[row + 1] = nnz_tot;
        }
        row++;
    }
    if (rc < 0) {
        goto fail;
    }
    if (row != s->rows) {
        rc = nn_err_set(err, NN_EINVAL, "the csv changed between passes");
        goto fail;
    }
    if (f->sparse_dim > 0) {
        rc = nn_dataset_alloc(&d, s->rows, f->dense_dim, f->sparse_dim, nnz_tot, 1);
        if (rc != 0) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory allocating the data set");
            goto fail;
        }
        if (dd > 0 && s->rows > 0) {
            memcpy(d.dense, dense, s->rows * dd * sizeof(float));
        }
        memcpy(d.indptr, indptr, (s->rows + 1) * sizeof(size_t));
        if (nnz_tot > 0) {
            memcpy(d.indices, ind, nnz_tot * sizeof(int32_t));
            memcpy(d.values, val, nnz_tot * sizeof(float));
        }
    }
    for (size_t i = 0; i < s->rows; i++) {
        d.y[i] = s->task == NN_TASK_REGRESSION ? (float)((s->labels[i] - f->y_mean) / f->y_sd)
                                               : s->labels[i];
    }
    rc = 0;
    *ds = d;
    memset(&d, 0, sizeof(d));
    *out = f;
    f = NULL;
fail:
    nn_dataset_free(&d);
    if (seen != NULL) {
        for (size_t i = 0; i < n_in; i++) {
            nn_free(seen[i]);
        }
    }
    nn_free(seen);
    nn_free(colof);
    nn_free(wf);
    nn_free(cells);
    nn_free(dense_tmp);
    nn_free(itmp);
    nn_free(vtmp);
    nn_free(indptr);
    nn_free(ind);
    nn_free(val);
    tab_features_free(f);
    return rc;
}
