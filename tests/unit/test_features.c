/*
 * test_features: the fitted pipeline — scaling fitted on training rows only, missing values,
 * unseen categories, regression target round trip, text hashing (determinism, bigrams, case,
 * L2 norm), encode == fit for every row, binary save/load (round trip, every truncation
 * rejected; 3,000 mutations of four kinds each either load, save back to the same bytes and
 * encode a row, or are refused with NN_EFORMAT, and each kind has refused ones), JSON export/import
 * and API.md's hand-written model, and the real spam training set end to end through csv + schema +
 * features.
 */
#include "tab/features.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cmocka.h>

#include "model/features_json.h"
#include "model/text_decoder.h"
#include "nn/alloc.h"
#include "nn/train.h"

/* A CSV in memory, its schema, and a fitted pipeline over it. */
struct fixture {
    FILE *f;
    struct tab_csv *r;
    struct tab_schema *s;
    struct tab_features *feat;
    struct nn_dataset ds;
};

/* Fits text (is_train NULL: every row trains). @return the first failing code. */
static int fit_text(struct fixture *x, const char *text, const unsigned char *is_train,
                    const struct tab_schema_opts *so, struct nn_err *err)
{
    memset(x, 0, sizeof(*x));
    x->f = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(x->f);
    int rc = tab_csv_open(x->f, NULL, &x->r, err);
    if (rc == 0) {
        rc = tab_schema_infer(x->r, so, &x->s, err);
    }
    if (rc == 0) {
        unsigned char *all = NULL;
        if (is_train == NULL) {
            all = malloc(x->s->rows);
            assert_non_null(all);
            memset(all, 1, x->s->rows);
        }
        rc = tab_features_fit(x->r, x->s, is_train ? is_train : all, model_text_decoder_default(),
                              &x->feat, &x->ds, err);
        free(all);
    }
    return rc;
}

static void fixture_fini(struct fixture *x)
{
    tab_features_free(x->feat);
    nn_dataset_free(&x->ds);
    tab_schema_free(x->s);
    tab_csv_close(x->r);
    if (x->f != NULL) {
        fclose(x->f);
    }
}

static void test_numeric_train_only(void **state)
{
    (void)state;
    struct fixture x;
    struct nn_err err;
    const unsigned char tr[] = {1, 1, 1, 0, 0};
    assert_int_equal(fit_text(&x, "a,y\n1,p\n2,q\n3,p\n100,q\n,p\n", tr, NULL, &err), 0);
    const struct tab_feat_input *in = &x.feat->inputs[0];
    assert_int_equal(in->missing_col, 0); /* no missing training cell */
    assert_int_equal(x.feat->dense_dim, 1);
    assert_int_equal(x.feat->sparse_dim, 0);
    assert_true(fabs(in->mean - 2.0) < 1e-12);
    double sd = sqrt(2.0 / 3.0);
    assert_true(fabs(in->sd - sd) < 1e-12);
    assert_int_equal(x.ds.rows, 5);
    assert_true(fabsf(x.ds.dense[0] - (float)(-1 / sd)) < 1e-6f);
    assert_true(fabsf(x.ds.dense[3] - (float)(98 / sd)) < 1e-4f);
    assert_true(x.ds.dense[4] == 0.0f); /* missing: the training median (2, also the mean) */
    assert_true(x.ds.y[1] == 1.0f);
    assert_null(x.ds.indptr);
    fixture_fini(&x);
    /* a column constant over the training rows keeps sd 1 */
    const unsigned char tr2[] = {1, 1, 0};
    assert_int_equal(fit_text(&x, "a,y\n5,p\n5,q\n6,p\n", tr2, NULL, &err), 0);
    assert_true(x.feat->inputs[0].sd == 1.0);
    assert_true(x.ds.dense[0] == 0.0f);
    fixture_fini(&x);
    /* the median fills, and training missing cells add a 0/1 column */
    const unsigned char tr3[] = {1, 1, 1, 1, 0};
    assert_int_equal(fit_text(&x, "a,y\n1,p\nNA,q\n2,p\n30,q\n?,p\n", tr3, NULL, &err), 0);
    in = &x.feat->inputs[0];
    assert_int_equal(in->type, TAB_COL_NUMERIC);
    assert_int_equal(in->missing_col, 1);
    assert_true(in->fill == 2.0); /* median of 1, 2, 30 */
    assert_int_equal(x.feat->dense_dim, 2);
    assert_true(x.ds.dense[2] == (float)((2.0 - in->mean) / in->sd) && x.ds.dense[3] == 1.0f);
    assert_true(x.ds.dense[1] == 0.0f && x.ds.dense[9] == 1.0f);
    fixture_fini(&x);
}

static void test_categorical_unseen(void **state)
{
    (void)state;
    struct fixture x;
    struct nn_err err;
    const unsigned char tr[] = {1, 1, 1, 0, 1};
    assert_int_equal(
        fit_text(&x, "c,n,y\nred,1,a\nblue,2,b\nred,3,a\ngreen,4,b\n,5,a\n", tr, NULL, &err), 0);
    const struct tab_feat_input *c = &x.feat->inputs[0];
    assert_int_equal(c->type, TAB_COL_CATEGORICAL);
    assert_int_equal(c->n_categories, 2); /* green only in a validation row */
    assert_string_equal(c->categories[0], "blue");
    assert_string_equal(c->categories[1], "red");
    assert_int_equal(c->missing_col, 1); /* a training row lacks a colour */
    assert_int_equal(x.feat->inputs[1].offset, 3);
    assert_int_equal(x.feat->dense_dim, 4);
    const float *d = x.ds.dense;
    assert_true(d[0] == 0.0f && d[1] == 1.0f && d[2] == 0.0f);    /* red */
    assert_true(d[4] == 1.0f && d[5] == 0.0f && d[6] == 0.0f);    /* blue */
    assert_true(d[12] == 0.0f && d[13] == 0.0f && d[14] == 0.0f); /* green: unseen */
    assert_true(d[16] == 0.0f && d[17] == 0.0f && d[18] == 1.0f); /* missing: its own */
    assert_true(fabs(x.feat->inputs[1].mean - 11.0 / 4) < 1e-12); /* rows 0,1,2,4 */
    fixture_fini(&x);
}

static void test_regression_target(void **state)
{
    (void)state;
    struct fixture x;
    struct nn_err err;
    FILE *f = fopen("tests/data/diabetes_train.csv", "r");
    assert_non_null(f);
    memset(&x, 0, sizeof(x));
    x.f = f;
    assert_int_equal(tab_csv_open(f, NULL, &x.r, &err), 0);
    assert_int_equal(tab_schema_infer(x.r, NULL, &x.s, &err), 0);
    assert_int_equal(x.s->task, NN_TASK_REGRESSION);
    unsigned char *tr = malloc(x.s->rows);
    for (size_t i = 0; i < x.s->rows; i++) {
        tr[i] = i % 5 != 0;
    }
    assert_int_equal(
        tab_features_fit(x.r, x.s, tr, model_text_decoder_default(), &x.feat, &x.ds, &err), 0);
    double sum = 0, sq = 0, n = 0;
    for (size_t i = 0; i < x.s->rows; i++) {
        double back = tab_features_unscale(x.feat, x.ds.y[i]);
        assert_true(fabs(back - x.s->labels[i]) < 1e-3 * (1 + fabs(x.s->labels[i])));
        if (tr[i]) {
            sum += x.ds.y[i];
            sq += (double)x.ds.y[i] * x.ds.y[i];
            n++;
        }
    }
    assert_true(fabs(sum / n) < 1e-5); /* standardised on the training rows */
    assert_true(fabs(sq / n - 1.0) < 1e-4);
    assert_true(x.feat->y_sd > 10); /* raw targets are in the hundreds */
    free(tr);
    fixture_fini(&x);
}

/* Encodes one text through a one-text-input pipeline. */
static size_t encode_text(const struct tab_features *f, const char *t, int32_t *ind, float *val)
{
    float dense[64];
    size_t nnz = 0;
    const char *cells[] = {t};
    assert_int_equal(tab_features_encode(f, cells, dense, ind, val, TAB_FEAT_MAX_NNZ, &nnz, NULL),
                     0);
    return nnz;
}

static void test_text_hashing(void **state)
{
    (void)state;
    struct fixture x;
    struct nn_err err;
    struct tab_schema_opts so = {NULL, -1, "t", NULL, NULL, NULL};
    assert_int_equal(
        fit_text(&x, "t,y\nhello world,a\nBUY NOW!!! $$$ http://x.y,b\n", NULL, &so, &err), 0);
    const struct tab_features *f = x.feat;
    assert_int_equal(f->sparse_dim, 1 << TAB_FEAT_HASH_BITS);
    assert_int_equal(f->dense_dim, TAB_FEAT_N_SHAPE);
    int32_t *i1 = malloc(TAB_FEAT_MAX_NNZ * sizeof(int32_t)), *i2 = malloc(TAB_FEAT_MAX_NNZ * 4);
    float *v1 = malloc(TAB_FEAT_MAX_NNZ * sizeof(float)), *v2 = malloc(TAB_FEAT_MAX_NNZ * 4);
    /* deterministic, case-folded */
    size_t n1 = encode_text(f, "Hello, WORLD", i1, v1);
    size_t n2 = encode_text(f, "hello world", i2, v2);
    assert_int_equal(n1, 3); /* hello, world, "hello world" */
    assert_int_equal(n2, 3);
    assert_memory_equal(i1, i2, n1 * sizeof(int32_t));
    assert_memory_equal(v1, v2, n1 * sizeof(float));
    for (size_t k = 0; k + 1 < n1; k++) {
        assert_true(i1[k] < i1[k + 1]);
    }
    /* the bigram: "world hello" shares the two unigrams, not the bigram */
    n2 = encode_text(f, "world hello", i2, v2);
    assert_int_equal(n2, 3);
    int shared = 0;
    for (size_t a = 0; a < 3; a++) {
        for (size_t b = 0; b < 3; b++) {
            shared += i1[a] == i2[b];
        }
    }
    assert_int_equal(shared, 2);
    /* counts: "a a a" -> a:3, "a a":2 -> log 4, log 3, normalised */
    n1 = encode_text(f, "a a a", i1, v1);
    assert_int_equal(n1, 2);
    double l4 = log(4.0), l3 = log(3.0), nrm = sqrt(l4 * l4 + l3 * l3);
    float want_hi = (float)(l4 / nrm), want_lo = (float)(l3 / nrm);
    assert_true((fabsf(v1[0] - want_hi) < 1e-6f && fabsf(v1[1] - want_lo) < 1e-6f) ||
                (fabsf(v1[1] - want_hi) < 1e-6f && fabsf(v1[0] - want_lo) < 1e-6f));
    /* L2 norm 1 on a long text; bytes >= 0x80 are word characters */
    n1 = encode_text(f, "The quick brown fox jumps over the lazy dog, caf\xc3\xa9 caf\xc3\xa9", i1,
                     v1);
    double s = 0;
    for (size_t k = 0; k < n1; k++) {
        s += (double)v1[k] * v1[k];
    }
    assert_true(fabs(s - 1.0) < 1e-5);
    n2 = encode_text(f, "caf", i2, v2);
    int found = 0;
    for (size_t k = 0; k < n1; k++) {
        found += i1[k] == i2[0];
    }
    assert_int_equal(found, 0); /* "café" is not "caf" */
    /* empty text: no entries; max_nnz drops the smallest */
    assert_int_equal(encode_text(f, "", i1, v1), 0);
    float dense[8];
    size_t nnz = 0;
    const char *cells[] = {"x x x x y z"};
    assert_int_equal(tab_features_encode(f, cells, dense, i1, v1, 1, &nnz, NULL), 0);
    assert_int_equal(nnz, 1);
    n2 = encode_text(f, "x", i2, v2);
    assert_int_equal(i1[0], i2[0]); /* the largest: x (count 4) */
    free(i1);
    free(i2);
    free(v1);
    free(v2);
    fixture_fini(&x);
}

static void test_shape_features(void **state)
{
    (void)state;
    struct tab_features *f = NULL;
    const char *js = "{\"inputs\": [{\"name\": \"t\", \"type\": \"text\"}], \"label\": {\"name\": "
                     "\"y\", \"classes\": [\"a\", \"b\"]}}";
    cJSON *doc = cJSON_Parse(js);
    assert_int_equal(model_features_from_json(doc, &f, NULL), 0);
    cJSON_Delete(doc);
    float d[TAB_FEAT_N_SHAPE];
    int32_t ind[64];
    float val[64];
    size_t nnz;
    const char *cells[] = {"FREE money!! $$$ see http://a.b and www.c.d or https://www.e.f ok"};
    assert_int_equal(tab_features_encode(f, cells, d, ind, val, 64, &nnz, NULL), 0);
    /* letters: FREE(4 caps) + moneyseeaandwwwcdorhttpswwwefokhttpab... */
    assert_true(d[1] == (float)log1p(4.0)); /* longest capital run */
    assert_true(d[2] == (float)log1p(2.0)); /* '!' */
    assert_true(d[3] == (float)log1p(3.0)); /* '$' */
    assert_true(d[4] == (float)log1p(3.0)); /* http://, www. alone, https://www. once */
    assert_true(d[0] > 0.0f && d[0] < (float)log1p(0.5));
    tab_features_free(f);
}

/* A mixed CSV: numeric with a missing cell, categorical, text. */
static const char *mixed_csv(void)
{
    return "num,color,msg,label\n"
           "1.5,red,\"Hello there, FRIEND! visit www.x.com\",ham\n"
           ",blue,\"cheap $$$ pills\nbuy now\",spam\n"
           "-2,red,meeting at noon,ham\n"
           "7,green,\"WIN WIN WIN!!!\",spam\n"
           "0.25,,\"\",ham\n"
           "3,blue,see you soon,ham\n";
}

static void test_encode_equals_fit(void **state)
{
    (void)state;
    struct fixture x;
    struct nn_err err;
    struct tab_schema_opts so = {NULL, -1, "msg", NULL, NULL, NULL};
    const unsigned char tr[] = {1, 1, 0, 1, 1, 1};
    assert_int_equal(fit_text(&x, mixed_csv(), tr, &so, &err), 0);
    const struct tab_features *f = x.feat;
    assert_int_equal(f->n_inputs, 3);
    /* num and color lack a cell in a training row: each gets a missing column */
    assert_int_equal(f->dense_dim, 2 + 4 + TAB_FEAT_N_SHAPE);
    /* read the rows again and encode each from its cells */
    assert_int_equal(tab_csv_rewind(x.r, &err), 0);
    float dense[32];
    int32_t *ind = malloc(TAB_FEAT_MAX_NNZ * sizeof(int32_t));
    float *val = malloc(TAB_FEAT_MAX_NNZ * sizeof(float));
    size_t row = 0;
    while (tab_csv_next(x.r, &err) == 1) {
        const char *cells[3];
        for (size_t i = 0; i < 3; i++) {
            const char *v = tab_csv_field(x.r, i, NULL);
            cells[i] = *v ? v : NULL;
        }
        size_t nnz = 0;
        assert_int_equal(
            tab_features_encode(f, cells, dense, ind, val, TAB_FEAT_MAX_NNZ, &nnz, &err), 0);
        assert_memory_equal(dense, x.ds.dense + row * (size_t)f->dense_dim,
                            (size_t)f->dense_dim * sizeof(float));
        size_t a = x.ds.indptr[row], b = x.ds.indptr[row + 1];
        assert_int_equal(nnz, b - a);
        if (nnz > 0) {
            assert_memory_equal(ind, x.ds.indices + a, nnz * sizeof(int32_t));
            assert_memory_equal(val, x.ds.values + a, nnz * sizeof(float));
        }
        row++;
    }
    assert_int_equal(row, 6);
    assert_int_equal(x.ds.indptr[5], x.ds.indptr[4]); /* empty text row */
    /* a word in a numeric input */
    const char *bad[] = {"abc", "red", "x"};
    size_t nnz = 0;
    assert_int_equal(tab_features_encode(f, bad, dense, ind, val, TAB_FEAT_MAX_NNZ, &nnz, &err),
                     NN_EINVAL);
    assert_string_equal(err.field, "num");
    free(ind);
    free(val);
    fixture_fini(&x);
}

static void save(const struct tab_features *f, struct tab_buf *b)
{
    tab_buf_init(b, 1 << 24);
    assert_int_equal(tab_features_save(f, b), 0);
}

/* The outcome of loading one mutated blob, checked; returns 1 when it was refused. */
static int load_mutant(const unsigned char *c, size_t len)
{
    struct tab_rd rd;
    struct tab_features *g = (struct tab_features *)&rd; /* must be set either way */
    struct nn_err err;
    int rc;

    tab_rd_init(&rd, c, len);
    nn_err_clear(&err);
    rc = tab_features_load(&rd, model_text_decoder_find, &g, &err);
    if (rc != 0) {
        if (rc != NN_EFORMAT) {
            fail_msg("a mutated blob gave %d (%s), not NN_EFORMAT", rc, err.msg);
        }
        assert_null(g);
        assert_true(err.msg[0] != '\0');
        return 1;
    }
    /* accepted: it is a pipeline whose bytes are exactly the ones it read, unless the
     * mutation made the version an older one that is still read (saved as the current one:
     * then what it saves must load and save to the same bytes) */
    struct tab_buf again;
    size_t used = len - tab_rd_left(&rd);
    save(g, &again);
    if (used >= 4 && memcmp(again.data, c, 4) != 0) {
        struct tab_rd rd2;
        struct tab_features *h = NULL;
        struct tab_buf third;
        tab_rd_init(&rd2, again.data, again.len);
        assert_int_equal(tab_features_load(&rd2, model_text_decoder_find, &h, &err), 0);
        save(h, &third);
        assert_int_equal(third.len, again.len);
        assert_memory_equal(third.data, again.data, again.len);
        tab_buf_fini(&third);
        tab_features_free(h);
    } else {
        assert_int_equal(again.len, used);
        assert_memory_equal(again.data, c, used);
    }
    tab_buf_fini(&again);
    /* and it encodes a row (or names the input a cell does not fit) */
    const char **cells = calloc(g->n_inputs + 1, sizeof(char *));
    float *dense = calloc(g->dense_dim + 1, sizeof(float));
    int32_t *ind = calloc(TAB_FEAT_MAX_NNZ, sizeof(int32_t));
    float *val = calloc(TAB_FEAT_MAX_NNZ, sizeof(float));
    size_t nnz = 0;
    assert_true(cells != NULL && dense != NULL && ind != NULL && val != NULL);
    for (size_t i = 0; i < g->n_inputs; i++) {
        cells[i] = i % 3 == 0 ? "1" : i % 3 == 1 ? "red" : "some text";
    }
    rc = tab_features_encode(g, cells, dense, ind, val, TAB_FEAT_MAX_NNZ, &nnz, &err);
    assert_true(rc == 0 || rc == NN_EINVAL);
    assert_true(nnz <= TAB_FEAT_MAX_NNZ);
    free(cells);
    free(dense);
    free(ind);
    free(val);
    tab_features_free(g);
    return 0;
}

/* Mutates the saved pipeline b in four ways and loads each mutant (load_mutant). */
static void check_mutations(const struct tab_buf *b)
{
    static const char *const kinds[] = {"overwrite 1-4 bytes", "flip one bit", "delete a byte",
                                        "insert a byte"};
    unsigned char *c = malloc(b->len + 1);
    uint32_t seed = 12345;
    int refused[4] = {0, 0, 0, 0}, loaded = 0;

    assert_non_null(c);
    for (int it = 0; it < 3000; it++) {
        int kind = it % 4;
        size_t len = b->len, at;

        memcpy(c, b->data, b->len);
        seed = seed * 1664525u + 1013904223u;
        at = (seed >> 8) % b->len;
        switch (kind) {
        case 0:
            for (int k = 0; k < 1 + (it / 4) % 4; k++) {
                seed = seed * 1664525u + 1013904223u;
                c[(seed >> 8) % b->len] = (unsigned char)(seed >> 24);
            }
            break;
        case 1:
            c[at] ^= (unsigned char)(1u << (seed >> 29));
            break;
        case 2:
            memmove(c + at, c + at + 1, b->len - at - 1);
            len--;
            break;
        default:
            memmove(c + at + 1, c + at, b->len - at);
            c[at] = (unsigned char)(seed >> 24);
            len++;
            break;
        }
        if (load_mutant(c, len)) {
            refused[kind]++;
        } else {
            loaded++;
        }
    }
    for (int k = 0; k < 4; k++) {
        if (refused[k] == 0) {
            fail_msg("no mutation of the kind '%s' was refused", kinds[k]);
        }
    }
    assert_true(loaded > 0); /* and some were harmless (a weight, a mean): they loaded */
    free(c);
}

static void test_save_load(void **state)
{
    (void)state;
    struct fixture x;
    struct nn_err err;
    struct tab_schema_opts so = {NULL, -1, "msg", NULL, NULL, NULL};
    assert_int_equal(fit_text(&x, mixed_csv(), NULL, &so, &err), 0);
    struct tab_buf b, b2;
    save(x.feat, &b);
    struct tab_rd rd;
    tab_rd_init(&rd, b.data, b.len);
    struct tab_features *g = NULL;
    assert_int_equal(tab_features_load(&rd, model_text_decoder_find, &g, &err), 0);
    assert_int_equal(tab_rd_left(&rd), 0);
    save(g, &b2);
    assert_int_equal(b.len, b2.len);
    assert_memory_equal(b.data, b2.data, b.len);
    assert_int_equal(g->dense_dim, x.feat->dense_dim);
    assert_string_equal(g->classes[1], "spam");
    tab_features_free(g);
    /* every truncation fails cleanly */
    for (size_t n = 0; n < b.len; n++) {
        tab_rd_init(&rd, b.data, n);
        g = (struct tab_features *)&rd; /* must be reset to NULL */
        int rc = tab_features_load(&rd, model_text_decoder_find, &g, &err);
        assert_true(rc < 0);
        assert_null(g);
    }
    /* mutations of four kinds, 750 of each: each loads, saves back to exactly the bytes it
       read and encodes a row (0, or NN_EINVAL for a cell its input cannot read), or is refused
       with NN_EFORMAT and no pipeline; every kind has mutations that are refused */
    check_mutations(&b);
    /* a huge count is refused before any allocation */
    unsigned char hostile[12] = {0x4e, 0x45, 0x46, 0x54, 1, 0, 0, 0, 0xff, 0xff, 0x01, 0};
    tab_rd_init(&rd, hostile, sizeof(hostile));
    assert_true(tab_features_load(&rd, model_text_decoder_find, &g, &err) < 0);
    assert_null(g);
    tab_buf_fini(&b);
    tab_buf_fini(&b2);
    fixture_fini(&x);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    struct fixture x;
    struct nn_err err;
    struct tab_schema_opts so = {NULL, -1, "msg", NULL, NULL, NULL};
    assert_int_equal(fit_text(&x, mixed_csv(), NULL, &so, &err), 0);
    cJSON *o = cJSON_CreateObject();
    assert_int_equal(model_features_to_json(x.feat, o), 0);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    assert_non_null(strstr(txt, "\"task\":\"classification\""));
    assert_non_null(strstr(txt, "\"hash_bits\":18"));
    assert_non_null(strstr(txt, "\"categories\":[\"blue\",\"green\",\"red\"]"));
    cJSON *doc = cJSON_Parse(txt);
    free(txt);
    struct tab_features *g = NULL;
    assert_int_equal(model_features_from_json(doc, &g, &err), 0);
    cJSON_Delete(doc);
    /* cJSON prints doubles to within an ulp: compare values, not bytes */
    const struct tab_features *a = x.feat;
    assert_int_equal(g->n_inputs, a->n_inputs);
    assert_int_equal(g->dense_dim, a->dense_dim);
    assert_int_equal(g->sparse_dim, a->sparse_dim);
    assert_int_equal(g->task, a->task);
    assert_int_equal(g->hash_seed, a->hash_seed);
    assert_int_equal(g->n_classes, a->n_classes);
    assert_string_equal(g->classes[1], a->classes[1]);
    assert_string_equal(g->label, a->label);
    for (size_t i = 0; i < a->n_inputs; i++) {
        const struct tab_feat_input *p = &a->inputs[i], *q = &g->inputs[i];
        assert_string_equal(p->name, q->name);
        assert_int_equal(p->type, q->type);
        assert_int_equal(p->scale, q->scale);
        assert_int_equal(p->offset, q->offset);
        assert_true(fabs(p->mean - q->mean) <= 1e-14 * (1 + fabs(p->mean)));
        assert_true(fabs(p->sd - q->sd) <= 1e-14 * p->sd);
        for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
            assert_true(fabs(p->shape_mean[j] - q->shape_mean[j]) <=
                        1e-14 * (1 + fabs(p->shape_mean[j])));
            assert_true(fabs(p->shape_sd[j] - q->shape_sd[j]) <= 1e-14 * p->shape_sd[j]);
        }
        assert_int_equal(p->n_categories, q->n_categories);
        for (size_t k = 0; k < p->n_categories; k++) {
            assert_string_equal(p->categories[k], q->categories[k]);
        }
    }
    tab_features_free(g);
    fixture_fini(&x);
    /* regression keeps its target scaling */
    assert_int_equal(fit_text(&x, "a,y\n1,1.5\n2,2.5\n3,7.25\n", NULL, NULL, &err), 0);
    o = cJSON_CreateObject();
    assert_int_equal(model_features_to_json(x.feat, o), 0);
    assert_int_equal(model_features_from_json(o, &g, &err), 0);
    cJSON_Delete(o);
    assert_int_equal(g->task, NN_TASK_REGRESSION);
    assert_true(g->y_mean == x.feat->y_mean && g->y_sd == x.feat->y_sd);
    tab_features_free(g);
    fixture_fini(&x);
}

static void test_api_md_model(void **state)
{
    (void)state;
    const char *js =
        "{\"task\": \"classification\", \"inputs\": [{\"name\": \"caps\", \"type\": "
        "\"numeric\", \"scale\": false}, {\"name\": \"viagra\", \"type\": \"numeric\", "
        "\"scale\": false}], \"label\": {\"name\": \"spam\", \"classes\": [\"ham\", \"spam\"]}, "
        "\"layers\": [{\"weights\": [[7, 3]], \"bias\": [-2], \"activation\": \"sigmoid\"}]}";
    cJSON *doc = cJSON_Parse(js);
    struct tab_features *f = NULL;
    struct nn_err err;
    assert_int_equal(model_features_from_json(doc, &f, &err), 0);
    cJSON_Delete(doc);
    assert_int_equal(f->task, NN_TASK_BINARY);
    assert_int_equal(f->n_inputs, 2);
    assert_int_equal(f->dense_dim, 2);
    assert_int_equal(f->sparse_dim, 0);
    assert_int_equal(f->inputs[0].scale, 0);
    float d[2];
    size_t nnz = 7;
    const char *cells[] = {"1", "0"};
    assert_int_equal(tab_features_encode(f, cells, d, NULL, NULL, 0, &nnz, &err), 0);
    assert_true(d[0] == 1.0f && d[1] == 0.0f);
    assert_int_equal(nnz, 0);
    tab_features_free(f);

    struct {
        const char *js, *field;
    } bad[] = {
        {"{\"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}, {\"name\": \"b\", \"type\": "
         "\"vector\"}], \"label\": {\"name\": \"y\", \"classes\": [\"p\", \"q\"]}}",
         "inputs[1].type"},
        {"{\"inputs\": [{\"name\": \"a\", \"type\": \"numeric\", \"scale\": 2}], \"label\": "
         "{\"name\": \"y\", \"classes\": [\"p\", \"q\"]}}",
         "inputs[0].mean"},
        {"{\"inputs\": [{\"name\": \"a\", \"type\": \"numeric\", \"scale\": true}], \"label\": "
         "{\"name\": \"y\", \"classes\": [\"p\", \"q\"]}}",
         "inputs[0].scale"},
        {"{\"inputs\": [{\"type\": \"numeric\"}], \"label\": {\"name\": \"y\", \"classes\": "
         "[\"p\", \"q\"]}}",
         "inputs[0].name"},
        {"{\"inputs\": [{\"name\": \"a\", \"type\": \"categorical\", \"categories\": [\"x\", "
         "\"x\"]}], \"label\": {\"name\": \"y\", \"classes\": [\"p\", \"q\"]}}",
         "inputs[0].categories"},
        {"{\"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}], \"label\": {\"name\": \"y\", "
         "\"classes\": [\"p\"]}}",
         "label.classes"},
        {"{\"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}], \"task\": \"clustering\", "
         "\"label\": {\"name\": \"y\", \"classes\": [\"p\", \"q\"]}}",
         "task"},
        {"{\"inputs\": [], \"label\": {\"name\": \"y\"}}", "inputs"},
        {"{\"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}], \"label\": 3}", "label"},
        {"{\"inputs\": [{\"name\": \"a\", \"type\": \"text\"}], \"label\": {\"name\": \"y\", "
         "\"classes\": [\"p\", \"q\"]}, \"text\": {\"hash_bits\": 20}}",
         "text.hash_bits"},
        {"{\"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}, {\"name\": \"a\", \"type\": "
         "\"numeric\"}], \"label\": {\"name\": \"y\", \"classes\": [\"p\", \"q\"]}}",
         "inputs[1].name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        doc = cJSON_Parse(bad[i].js);
        assert_non_null(doc);
        f = (struct tab_features *)doc;
        nn_err_clear(&err);
        assert_true(model_features_from_json(doc, &f, &err) < 0);
        assert_null(f);
        assert_string_equal(err.field, bad[i].field);
        cJSON_Delete(doc);
    }
    /* an unsorted hand-written category list keeps its order for one-hot */
    doc = cJSON_Parse("{\"inputs\": [{\"name\": \"c\", \"type\": \"categorical\", "
                      "\"categories\": [\"red\", \"blue\", \"amber\"]}], \"label\": {\"name\": "
                      "\"y\", \"classes\": [\"p\", \"q\", \"r\"]}}");
    assert_int_equal(model_features_from_json(doc, &f, &err), 0);
    cJSON_Delete(doc);
    assert_int_equal(f->task, NN_TASK_MULTICLASS);
    float oh[3];
    const char *c1[] = {"blue"};
    assert_int_equal(tab_features_encode(f, c1, oh, NULL, NULL, 0, &nnz, &err), 0);
    assert_true(oh[0] == 0.0f && oh[1] == 1.0f && oh[2] == 0.0f);
    const char *c2[] = {"amber"};
    assert_int_equal(tab_features_encode(f, c2, oh, NULL, NULL, 0, &nnz, &err), 0);
    assert_true(oh[2] == 1.0f);
    tab_features_free(f);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    struct tab_schema_opts so = {NULL, -1, "msg", NULL, NULL, NULL};
    for (long k = 0; k < 200; k++) {
        struct fixture x;
        memset(&x, 0, sizeof(x));
        const char *t = mixed_csv();
        x.f = fmemopen((void *)t, strlen(t), "r");
        assert_int_equal(tab_csv_open(x.f, NULL, &x.r, NULL), 0);
        assert_int_equal(tab_schema_infer(x.r, &so, &x.s, NULL), 0);
        unsigned char tr[6] = {1, 1, 1, 1, 1, 1};
        nn_alloc_fail_after(k);
        int rc = tab_features_fit(x.r, x.s, tr, model_text_decoder_default(), &x.feat, &x.ds, NULL);
        nn_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == NN_ENOMEM);
        if (rc != 0) {
            assert_null(x.feat);
            assert_null(x.ds.dense);
        }
        fixture_fini(&x);
    }
}

/* Loading and importing with each allocation failing in turn: NN_ENOMEM, nothing leaked. */
static void test_load_alloc_failures(void **state)
{
    (void)state;
    struct fixture x;
    struct tab_schema_opts so = {NULL, -1, "msg", NULL, NULL, NULL};
    assert_int_equal(fit_text(&x, mixed_csv(), NULL, &so, NULL), 0);
    struct tab_buf b;
    save(x.feat, &b);
    cJSON *doc = cJSON_CreateObject();
    assert_int_equal(model_features_to_json(x.feat, doc), 0);
    int ok_load = 0, ok_json = 0;
    for (long k = 0; k < 60; k++) {
        struct tab_rd rd;
        struct tab_features *g = NULL;
        tab_rd_init(&rd, b.data, b.len);
        nn_alloc_fail_after(k);
        int rc = tab_features_load(&rd, model_text_decoder_find, &g, NULL);
        nn_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == NN_ENOMEM);
        assert_true((rc == 0) == (g != NULL));
        ok_load += rc == 0;
        tab_features_free(g);
        g = NULL;
        nn_alloc_fail_after(k);
        rc = model_features_from_json(doc, &g, NULL);
        nn_alloc_fail_after(-1);
        assert_true(rc == 0 || rc == NN_ENOMEM);
        assert_true((rc == 0) == (g != NULL));
        ok_json += rc == 0;
        tab_features_free(g);
    }
    assert_true(ok_load > 0 && ok_load < 60);
    assert_true(ok_json > 0 && ok_json < 60);
    cJSON_Delete(doc);
    tab_buf_fini(&b);
    fixture_fini(&x);
}

static void test_spam_end_to_end(void **state)
{
    (void)state;
    const char *path = "build/test_spam_train.csv";
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        assert_int_equal(system("mkdir -p build && xz -dc tests/data/spamassassin_train.csv.xz > "
                                "build/test_spam_train.csv.tmp && mv "
                                "build/test_spam_train.csv.tmp build/test_spam_train.csv"),
                         0);
        f = fopen(path, "r");
    }
    assert_non_null(f);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct fixture x;
    struct nn_err err;
    memset(&x, 0, sizeof(x));
    x.f = f;
    assert_int_equal(tab_csv_open(f, NULL, &x.r, &err), 0);
    assert_int_equal(tab_schema_infer(x.r, NULL, &x.s, &err), 0);
    assert_int_equal(x.s->rows, 4837);
    assert_int_equal(x.s->n_classes, 2);
    assert_string_equal(x.s->classes[0], "ham");
    assert_string_equal(x.s->classes[1], "spam");
    size_t ntext = 0;
    for (size_t c = 0; c < x.s->n_cols; c++) {
        ntext += x.s->cols[c].type == TAB_COL_TEXT;
    }
    assert_int_equal(ntext, 1);
    unsigned char *tr = malloc(x.s->rows);
    for (size_t i = 0; i < x.s->rows; i++) {
        tr[i] = i % 5 != 0;
    }
    assert_int_equal(
        tab_features_fit(x.r, x.s, tr, model_text_decoder_default(), &x.feat, &x.ds, &err), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(x.ds.rows, 4837);
    assert_int_equal(x.ds.sparse_cols, 1 << TAB_FEAT_HASH_BITS);
    assert_int_equal(x.ds.dense_cols, TAB_FEAT_N_SHAPE);
    size_t nnz = x.ds.indptr[x.ds.rows];
    assert_true(nnz > 100000);
    size_t spam = 0;
    for (size_t i = 0; i < x.ds.rows; i++) {
        spam += x.ds.y[i] == 1.0f;
    }
    assert_true(spam > 1000 && spam < 3000);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    fprintf(stderr, "spam: %zu rows, %zu non-zeros, %.2f s, peak RSS %ld MiB\n", x.ds.rows, nnz,
            secs, ru.ru_maxrss / 1024);
    assert_true(ru.ru_maxrss < 1024L * 1024); /* KiB: under 1 GiB even with ASan */
    free(tr);
    fixture_fini(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_train_only),  cmocka_unit_test(test_categorical_unseen),
        cmocka_unit_test(test_regression_target),   cmocka_unit_test(test_text_hashing),
        cmocka_unit_test(test_shape_features),      cmocka_unit_test(test_encode_equals_fit),
        cmocka_unit_test(test_save_load),           cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_api_md_model),        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_load_alloc_failures), cmocka_unit_test(test_spam_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
