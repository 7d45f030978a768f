/*
 * test_train: the training loop end to end on real data sets, with accuracy floors.
 *
 * What: XOR, a linearly separable set, two moons and iris learned to fixed floors; early
 * stopping restores the best epoch's weights; cancel and divergence give their codes;
 * determinism (same seed, same bytes); the stratified split; lazy sparse updates touch only
 * the rows a batch used; argument checks. A tiny numeric CSV loader (label last; label
 * words map to class indices in sorted order) keeps this file independent of tab/csv.
 * Why: "the loss went down" proves little; these floors and exact comparisons can fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/alloc.h"
#include "nn/mat.h"
#include "nn/metrics.h"
#include "nn/net.h"
#include "nn/optim.h"
#include "nn/rng.h"
#include "nn/train.h"

/* ---------------------------------------------------------------------------------------
 * A tiny CSV loader for numeric files with a header and the label last
 * ------------------------------------------------------------------------------------- */

#define MAX_LINE  65536
#define MAX_WORDS 64

/* Label words seen so far (sorted on demand); loader state passed in, no globals. */
struct labels {
    char words[MAX_WORDS][64];
    int n;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Loads path into ds; label words (if any) are collected into lab and mapped to their rank
 * in sorted order. Features are all columns but the last. */
static void load_csv(const char *path, struct nn_dataset *ds, struct labels *lab)
{
    FILE *f = fopen(path, "r");
    char *line = malloc(MAX_LINE);
    size_t rows = 0, cap = 0, r;
    int cols = 0, c, is_word = 0;
    float *x = NULL;
    char(*raw)[64] = NULL;

    assert_non_null(f);
    assert_non_null(line);
    assert_non_null(fgets(line, MAX_LINE, f));
    for (c = 1, r = 0; line[r] != '\0'; r++) {
        c += line[r] == ',';
    }
    cols = c - 1; /* features */
    lab->n = 0;
    while (fgets(line, MAX_LINE, f) != NULL) {
        char *p = line, *end;

        if (line[0] == '\n' || line[0] == '\0') {
            continue;
        }
        if (rows == cap) {
            cap = cap ? cap * 2 : 256;
            x = realloc(x, cap * (size_t)cols * sizeof(float));
            raw = realloc(raw, cap * sizeof(*raw));
            assert_non_null(x);
            assert_non_null(raw);
        }
        for (c = 0; c < cols; c++) {
            x[rows * (size_t)cols + (size_t)c] = strtof(p, &end);
            assert_true(end != p && *end == ',');
            p = end + 1;
        }
        end = p + strcspn(p, "\r\n");
        *end = '\0';
        assert_true(strlen(p) < 64);
        strcpy(raw[rows], p);
        rows++;
    }
    fclose(f);
    for (r = 0; r < rows; r++) {
        char *end;

        strtod(raw[r], &end);
        if (end == raw[r] || *end != '\0') {
            is_word = 1;
        }
    }
    if (is_word) {
        for (r = 0; r < rows; r++) {
            int k, found = 0;

            for (k = 0; k < lab->n; k++) {
                found |= strcmp(lab->words[k], raw[r]) == 0;
            }
            if (!found) {
                assert_true(lab->n < MAX_WORDS);
                strcpy(lab->words[lab->n++], raw[r]);
            }
        }
        qsort(lab->words, (size_t)lab->n, sizeof(lab->words[0]), cmp_str);
    }
    assert_int_equal(nn_dataset_alloc(ds, rows, cols, 0, 0, 1), 0);
    memcpy(ds->dense, x, rows * (size_t)cols * sizeof(float));
    for (r = 0; r < rows; r++) {
        if (is_word) {
            int k;

            ds->y[r] = -1.0f;
            for (k = 0; k < lab->n; k++) {
                if (strcmp(lab->words[k], raw[r]) == 0) {
                    ds->y[r] = (float)k;
                }
            }
        } else {
            ds->y[r] = strtof(raw[r], NULL);
        }
    }
    free(x);
    free(raw);
    free(line);
}

/* Standardises train and test with the training means and standard deviations. */
static void standardise(struct nn_dataset *tr, struct nn_dataset *te)
{
    int c, d = tr->dense_cols;
    size_t r;

    for (c = 0; c < d; c++) {
        double s = 0.0, ss = 0.0, mean, sd;

        for (r = 0; r < tr->rows; r++) {
            s += tr->dense[r * (size_t)d + (size_t)c];
        }
        mean = s / (double)tr->rows;
        for (r = 0; r < tr->rows; r++) {
            double v = tr->dense[r * (size_t)d + (size_t)c] - mean;
            ss += v * v;
        }
        sd = sqrt(ss / (double)tr->rows);
        sd = sd > 0.0 ? sd : 1.0;
        for (r = 0; r < tr->rows; r++) {
            float *v = &tr->dense[r * (size_t)d + (size_t)c];
            *v = (float)((*v - mean) / sd);
        }
        for (r = 0; r < te->rows; r++) {
            float *v = &te->dense[r * (size_t)d + (size_t)c];
            *v = (float)((*v - mean) / sd);
        }
    }
}

/* Accuracy of net on ds through nn_net_predict. */
static double accuracy(struct nn_net *net, const struct nn_dataset *ds)
{
    int k = nn_net_outputs(net);
    float *out = malloc(ds->rows * (size_t)k * sizeof(float));
    double acc;

    assert_non_null(out);
    assert_int_equal(nn_net_predict(net, ds, out), 0);
    acc = nn_metrics_accuracy(out, k, ds->y, ds->rows);
    free(out);
    return acc;
}

static struct nn_train_params params(enum nn_optim o, float lr, int epochs, int batch)
{
    struct nn_train_params p;

    nn_train_params_default(&p);
    p.optimizer = o;
    p.learning_rate = lr;
    p.epochs = epochs;
    p.batch_size = batch;
    p.patience = 0;
    return p;
}

/* ---------------------------------------------------------------------------------------
 * Convergence floors
 * ------------------------------------------------------------------------------------- */

static void test_xor(void **state)
{
    const int widths[1] = {8};
    struct nn_dataset ds;
    struct labels lab;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_ADAM, 0.05f, 1000, 4);
    struct nn_train_result res;
    float out[4];
    size_t i;

    (void)state;
    load_csv("tests/data/xor.csv", &ds, &lab);
    assert_int_equal(ds.rows, 4);
    assert_int_equal(nn_net_new(2, 0, widths, 1, NN_ACT_TANH, 1, NN_ACT_SIGMOID, 4, &net, NULL), 0);
    nn_rng_seed(&rng, 1);
    nn_net_init(net, &rng);
    assert_int_equal(
        nn_train(net, NN_TASK_BINARY, &ds, NULL, &p, NULL, NULL, NULL, &rng, &res, NULL), 0);
    assert_int_equal(res.epochs_run, 1000);
    assert_int_equal(res.best_epoch, 1000);
    assert_true(isnan(res.best_val_loss));
    assert_int_equal(nn_net_predict(net, &ds, out), 0);
    for (i = 0; i < 4; i++) {
        assert_float_equal(out[i], ds.y[i], 0.1);
    }
    nn_net_free(net);
    nn_dataset_free(&ds);
}

/* Logistic regression (no hidden layer) separates a separable set completely. */
static void test_logistic_separable(void **state)
{
    struct nn_dataset ds;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_ADAM, 0.1f, 200, 16);
    size_t n = 0;

    (void)state;
    assert_int_equal(nn_dataset_alloc(&ds, 300, 2, 0, 0, 1), 0);
    nn_rng_seed(&rng, 2);
    while (n < 300) {
        float a = (float)(4.0 * nn_rng_uniform(&rng) - 2.0);
        float b = (float)(4.0 * nn_rng_uniform(&rng) - 2.0);
        float m = a + 2.0f * b - 0.5f;

        if (fabsf(m) < 0.3f) {
            continue; /* keep a margin */
        }
        ds.dense[2 * n] = a;
        ds.dense[2 * n + 1] = b;
        ds.y[n] = m > 0.0f ? 1.0f : 0.0f;
        n++;
    }
    assert_int_equal(nn_net_new(2, 0, NULL, 0, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 16, &net, NULL), 0);
    nn_net_init(net, &rng);
    assert_int_equal(
        nn_train(net, NN_TASK_BINARY, &ds, NULL, &p, NULL, NULL, NULL, &rng, NULL, NULL), 0);
    assert_float_equal(accuracy(net, &ds), 1.0, 0.0);
    /* the learned boundary points the right way: w2 / w1 close to 2 */
    assert_float_equal(net->params[1] / net->params[0], 2.0, 0.3);
    nn_net_free(net);
    nn_dataset_free(&ds);
}

static void test_moons(void **state)
{
    const int widths[2] = {16, 16};
    struct nn_dataset tr, te;
    struct labels lab;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_ADAM, 0.001f, 300, 32);
    double acc;

    (void)state;
    load_csv("tests/data/moons_train.csv", &tr, &lab);
    load_csv("tests/data/moons_test.csv", &te, &lab);
    assert_int_equal(nn_net_new(2, 0, widths, 2, NN_ACT_TANH, 1, NN_ACT_SIGMOID, 64, &net, NULL),
                     0);
    nn_rng_seed(&rng, 3);
    nn_net_init(net, &rng);
    assert_int_equal(
        nn_train(net, NN_TASK_BINARY, &tr, NULL, &p, NULL, NULL, NULL, &rng, NULL, NULL), 0);
    acc = accuracy(net, &te);
    print_message("moons: test accuracy %.4f on %zu rows\n", acc, te.rows);
    assert_true(acc >= 0.97);
    nn_net_free(net);
    nn_dataset_free(&tr);
    nn_dataset_free(&te);
}

static void test_iris(void **state)
{
    const int widths[1] = {16};
    struct nn_dataset tr, te;
    struct labels lab;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_ADAM, 0.01f, 100, 16);
    double acc;

    (void)state;
    load_csv("tests/data/iris_train.csv", &tr, &lab);
    assert_int_equal(lab.n, 3);
    assert_string_equal(lab.words[0], "setosa");
    load_csv("tests/data/iris_test.csv", &te, &lab);
    standardise(&tr, &te);
    assert_int_equal(nn_net_new(4, 0, widths, 1, NN_ACT_RELU, 3, NN_ACT_SOFTMAX, 32, &net, NULL),
                     0);
    nn_rng_seed(&rng, 4);
    nn_net_init(net, &rng);
    assert_int_equal(
        nn_train(net, NN_TASK_MULTICLASS, &tr, NULL, &p, NULL, NULL, NULL, &rng, NULL, NULL), 0);
    acc = accuracy(net, &te);
    print_message("iris: test accuracy %.4f on %zu rows\n", acc, te.rows);
    assert_true(acc >= 0.93);
    nn_net_free(net);
    nn_dataset_free(&tr);
    nn_dataset_free(&te);
}

/* Regression: y = 2 x1 - x2 + 1; the validation metric is the RMSE, sqrt of the MSE loss. */
struct history {
    double val_loss[512];
    double val_metric[512];
    double seconds[512];
    int n;
    int cancel_at;
    atomic_int *flag;
};

static int record(const struct nn_epoch_stats *st, void *ud)
{
    struct history *h = ud;

    assert_int_equal(st->epoch, h->n + 1);
    if (h->n < 512) {
        h->val_loss[h->n] = st->val_loss;
        h->val_metric[h->n] = st->val_metric;
        h->seconds[h->n] = st->seconds;
    }
    h->n++;
    if (h->cancel_at > 0 && st->epoch == h->cancel_at) {
        atomic_store(h->flag, 1);
    }
    return 0;
}

static void test_regression_rmse(void **state)
{
    struct nn_dataset tr, va;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_MOMENTUM, 0.01f, 60, 8);
    struct nn_train_result res;
    struct history *h = calloc(1, sizeof(*h));
    size_t i;

    (void)state;
    assert_non_null(h);
    assert_int_equal(nn_dataset_alloc(&tr, 200, 2, 0, 0, 1), 0);
    assert_int_equal(nn_dataset_alloc(&va, 50, 2, 0, 0, 1), 0);
    nn_rng_seed(&rng, 5);
    for (i = 0; i < 250; i++) {
        struct nn_dataset *d = i < 200 ? &tr : &va;
        size_t r = i < 200 ? i : i - 200;
        float a = (float)nn_rng_normal(&rng), b = (float)nn_rng_normal(&rng);

        d->dense[2 * r] = a;
        d->dense[2 * r + 1] = b;
        d->y[r] = 2.0f * a - b + 1.0f;
    }
    assert_int_equal(nn_net_new(2, 0, NULL, 0, NN_ACT_RELU, 1, NN_ACT_IDENTITY, 8, &net, NULL), 0);
    nn_net_init(net, &rng);
    assert_int_equal(
        nn_train(net, NN_TASK_REGRESSION, &tr, &va, &p, record, h, NULL, &rng, &res, NULL), 0);
    assert_int_equal(h->n, 60);
    for (i = 0; i < (size_t)h->n; i++) {
        assert_float_equal(h->val_metric[i], sqrt(h->val_loss[i]), 1e-9);
        assert_true(h->seconds[i] >= 0.0 && h->seconds[i] < 5.0);
    }
    assert_true(res.best_val_metric < 0.01);
    assert_float_equal(net->params[0], 2.0, 0.01);
    assert_float_equal(net->params[1], -1.0, 0.01);
    assert_float_equal(net->params[2], 1.0, 0.01);
    free(h);
    nn_net_free(net);
    nn_dataset_free(&tr);
    nn_dataset_free(&va);
}

/* ---------------------------------------------------------------------------------------
 * Early stopping, cancel, divergence, determinism
 * ------------------------------------------------------------------------------------- */

/* Validation loss of the net now, computed the way nn_train does (chunks of max_batch). */
static double val_loss_now(struct nn_net *net, const struct nn_dataset *va)
{
    double s = 0.0;
    size_t first;

    for (first = 0; first < va->rows; first += (size_t)net->max_batch) {
        size_t left = va->rows - first;
        int n = left < (size_t)net->max_batch ? (int)left : net->max_batch;

        nn_net_forward(net, va, NULL, first, n);
        s += nn_net_loss(net, n, va->y + first) * n;
    }
    return s / (double)va->rows;
}

static void test_early_stopping_restores_best(void **state)
{
    const int widths[2] = {64, 64};
    struct nn_dataset all, tr, va;
    struct labels lab;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_ADAM, 0.01f, 400, 8);
    struct nn_train_result res;
    struct history *h = calloc(1, sizeof(*h));
    size_t tri[40], vai[400], i;
    double best = INFINITY;
    int best_epoch = 0;

    (void)state;
    assert_non_null(h);
    load_csv("tests/data/moons_train.csv", &all, &lab);
    for (i = 0; i < 40; i++) {
        tri[i] = i;
    }
    for (i = 0; i < 400; i++) {
        vai[i] = 40 + i;
    }
    assert_int_equal(nn_dataset_take_rows(&tr, &all, tri, 40), 0);
    assert_int_equal(nn_dataset_take_rows(&va, &all, vai, 400), 0);
    assert_float_equal(va.y[3], all.y[43], 0.0);
    p.patience = 15;
    assert_int_equal(nn_net_new(2, 0, widths, 2, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 64, &net, NULL),
                     0);
    nn_rng_seed(&rng, 6);
    nn_net_init(net, &rng);
    assert_int_equal(nn_train(net, NN_TASK_BINARY, &tr, &va, &p, record, h, NULL, &rng, &res, NULL),
                     0);
    print_message("early stopping: best epoch %d of %d run, val loss %.5f\n", res.best_epoch,
                  res.epochs_run, res.best_val_loss);
    assert_int_equal(h->n, res.epochs_run);
    assert_true(res.epochs_run < 400);                     /* it stopped early */
    assert_int_equal(res.epochs_run, res.best_epoch + 15); /* after `patience` epochs */
    for (i = 0; i < (size_t)h->n; i++) {
        if (h->val_loss[i] < best) {
            best = h->val_loss[i];
            best_epoch = (int)i + 1;
        }
    }
    assert_int_equal(res.best_epoch, best_epoch);
    assert_float_equal(res.best_val_loss, best, 0.0);
    assert_true(h->val_loss[h->n - 1] > best);               /* the last epoch was worse ... */
    assert_float_equal(val_loss_now(net, &va), best, 1e-12); /* ... and its weights are gone */
    free(h);
    nn_net_free(net);
    nn_dataset_free(&all);
    nn_dataset_free(&tr);
    nn_dataset_free(&va);
}

static int stop_after_two(const struct nn_epoch_stats *st, void *ud)
{
    int *calls = ud;

    (*calls)++;
    return st->epoch >= 2;
}

static void test_cancel_from_callback(void **state)
{
    const int widths[1] = {8};
    struct nn_dataset ds;
    struct labels lab;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_SGD, 0.01f, 50, 32);
    struct nn_train_result res;
    struct history *h = calloc(1, sizeof(*h));
    struct nn_err err;
    atomic_int flag;

    (void)state;
    assert_non_null(h);
    atomic_init(&flag, 0);
    h->cancel_at = 3;
    h->flag = &flag;
    memset(&res, 0x5a, sizeof(res));
    load_csv("tests/data/moons_train.csv", &ds, &lab);
    assert_int_equal(nn_net_new(2, 0, widths, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 32, &net, NULL),
                     0);
    nn_rng_seed(&rng, 7);
    nn_net_init(net, &rng);
    assert_int_equal(
        nn_train(net, NN_TASK_BINARY, &ds, NULL, &p, record, h, &flag, &rng, &res, &err),
        NN_ECANCELED);
    assert_int_equal(err.code, NN_ECANCELED);
    assert_int_equal(h->n, 3);
    assert_int_equal(res.epochs_run, 0x5a5a5a5a); /* result untouched on failure */
    /* a flag already set stops before the first batch */
    h->n = 0;
    h->cancel_at = 0;
    assert_int_equal(
        nn_train(net, NN_TASK_BINARY, &ds, NULL, &p, record, h, &flag, &rng, NULL, NULL),
        NN_ECANCELED);
    assert_int_equal(h->n, 0);
    /* a callback that returns non-zero stops like a cancel */
    {
        int calls = 0;

        atomic_store(&flag, 0);
        assert_int_equal(nn_train(net, NN_TASK_BINARY, &ds, NULL, &p, stop_after_two, &calls, &flag,
                                  &rng, NULL, &err),
                         NN_ECANCELED);
        assert_int_equal(calls, 2);
    }
    free(h);
    nn_net_free(net);
    nn_dataset_free(&ds);
}

static void test_diverges(void **state)
{
    struct nn_dataset ds;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_SGD, 1e6f, 50, 4);
    struct nn_err err;
    size_t i;

    (void)state;
    assert_int_equal(nn_dataset_alloc(&ds, 32, 3, 0, 0, 1), 0);
    for (i = 0; i < 96; i++) {
        ds.dense[i] = (float)(i % 7) + 1.0f;
    }
    for (i = 0; i < 32; i++) {
        ds.y[i] = (float)(i % 5) * 10.0f;
    }
    assert_int_equal(nn_net_new(3, 0, NULL, 0, NN_ACT_RELU, 1, NN_ACT_IDENTITY, 4, &net, NULL), 0);
    nn_rng_seed(&rng, 8);
    nn_net_init(net, &rng);
    assert_int_equal(
        nn_train(net, NN_TASK_REGRESSION, &ds, NULL, &p, NULL, NULL, NULL, &rng, NULL, &err),
        NN_EDIVERGED);
    assert_int_equal(err.code, NN_EDIVERGED);
    assert_non_null(strstr(err.msg, "diverged"));
    nn_net_free(net);
    nn_dataset_free(&ds);
}

/* Trains a small moons net for a few epochs from `seed`; returns the net. */
static struct nn_net *train_seeded(const struct nn_dataset *ds, uint64_t seed)
{
    const int widths[2] = {16, 8};
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_ADAM, 0.01f, 4, 32);

    assert_int_equal(
        nn_net_new(2, 0, widths, 2, NN_ACT_LEAKY_RELU, 1, NN_ACT_SIGMOID, 32, &net, NULL), 0);
    nn_rng_seed(&rng, seed);
    nn_net_init(net, &rng);
    assert_int_equal(
        nn_train(net, NN_TASK_BINARY, ds, NULL, &p, NULL, NULL, NULL, &rng, NULL, NULL), 0);
    return net;
}

static void test_determinism(void **state)
{
    struct nn_dataset ds;
    struct labels lab;
    struct nn_net *a, *b, *c;

    (void)state;
    load_csv("tests/data/moons_train.csv", &ds, &lab);
    a = train_seeded(&ds, 42);
    b = train_seeded(&ds, 42);
    c = train_seeded(&ds, 43);
    assert_int_equal(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0);
    assert_int_not_equal(memcmp(a->params, c->params, a->n_params * sizeof(float)), 0);
    nn_net_free(a);
    nn_net_free(b);
    nn_net_free(c);
    nn_dataset_free(&ds);
}

/* ---------------------------------------------------------------------------------------
 * Split, sparse lazy updates, argument checks
 * ------------------------------------------------------------------------------------- */

static void test_split_stratified(void **state)
{
    enum { N = 161 };
    float y[N];
    size_t tr[N], va[N], tr2[N], va2[N], ntr, nva, ntr2, nva2, i;
    size_t cnt[4] = {0}, seen[N] = {0};
    struct nn_rng rng;

    (void)state;
    for (i = 0; i < N; i++) {
        y[i] = i < 100 ? 0.0f : (i < 150 ? 1.0f : (i < 160 ? 2.0f : 3.0f));
    }
    nn_rng_seed(&rng, 9);
    assert_int_equal(nn_train_split_stratified(y, N, 4, 0.2, &rng, tr, &ntr, va, &nva, NULL), 0);
    assert_int_equal(ntr + nva, N);
    for (i = 0; i < nva; i++) {
        cnt[(int)y[va[i]]]++;
        seen[va[i]]++;
    }
    for (i = 0; i < ntr; i++) {
        seen[tr[i]]++;
    }
    for (i = 0; i < N; i++) {
        assert_int_equal(seen[i], 1);
    }
    assert_int_equal(cnt[0], 20);
    assert_int_equal(cnt[1], 10);
    assert_int_equal(cnt[2], 2);
    assert_int_equal(cnt[3], 0); /* a single row stays in training */
    nn_rng_seed(&rng, 9);
    assert_int_equal(nn_train_split_stratified(y, N, 4, 0.2, &rng, tr2, &ntr2, va2, &nva2, NULL),
                     0);
    assert_int_equal(nva2, nva);
    assert_memory_equal(va, va2, nva * sizeof(size_t));
    /* unstratified: round(0.25 * 161) = 40 rows */
    assert_int_equal(nn_train_split_stratified(y, N, 0, 0.25, &rng, tr, &ntr, va, &nva, NULL), 0);
    assert_int_equal(nva, 40);
    assert_int_equal(ntr, 121);
    /* bad input */
    y[5] = 7.0f;
    assert_int_equal(nn_train_split_stratified(y, N, 4, 0.2, &rng, tr, &ntr, va, &nva, NULL),
                     NN_EINVAL);
    assert_int_equal(nn_train_split_stratified(y, N, 0, 1.5, &rng, tr, &ntr, va, &nva, NULL),
                     NN_EINVAL);
}

/* Sparse input: training changes only the W_0 rows of features that occur in the data. */
static void test_sparse_lazy_update(void **state)
{
    const int widths[1] = {8};
    enum { S = 1000, N = 200 };
    struct nn_dataset ds;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_ADAM, 0.01f, 5, 16);
    float *before;
    size_t i, pos = 0;
    int j, changed = 0;

    (void)state;
    p.l2 = 0.01f;
    assert_int_equal(nn_dataset_alloc(&ds, N, 1, S, N * 3, 1), 0);
    nn_rng_seed(&rng, 10);
    for (i = 0; i < N; i++) {
        int cls = (int)(i % 2);

        ds.dense[i] = (float)nn_rng_normal(&rng);
        ds.indptr[i] = pos;
        /* class 0 uses even features below 100, class 1 odd ones below 100 */
        for (j = 0; j < 3; j++) {
            ds.indices[pos] = (int32_t)(j * 32 + 2 * (int)nn_rng_below(&rng, 16) + cls);
            ds.values[pos] = 1.0f;
            pos++;
        }
        ds.indptr[i + 1] = pos;
        ds.y[i] = (float)cls;
    }
    assert_int_equal(nn_net_new(1, S, widths, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 16, &net, NULL),
                     0);
    nn_net_init(net, &rng);
    before = malloc(net->n_params * sizeof(float));
    assert_non_null(before);
    memcpy(before, net->params, net->n_params * sizeof(float));
    assert_int_equal(
        nn_train(net, NN_TASK_BINARY, &ds, NULL, &p, NULL, NULL, NULL, &rng, NULL, NULL), 0);
    for (j = 0; j < S; j++) {
        size_t off = net->layers[0].w + (size_t)(1 + j) * 8;
        int diff = memcmp(net->params + off, before + off, 8 * sizeof(float)) != 0;

        if (j >= 96) {
            assert_false(diff); /* never seen: never touched, not even by L2 */
        }
        changed += diff;
    }
    assert_true(changed > 50);
    assert_true(accuracy(net, &ds) > 0.95);
    free(before);
    nn_net_free(net);
    nn_dataset_free(&ds);
}

static void test_bad_arguments(void **state)
{
    struct nn_dataset ds;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p = params(NN_OPTIM_SGD, 0.1f, 1, 8);
    struct nn_err err;

    (void)state;
    nn_rng_seed(&rng, 11);
    assert_int_equal(nn_dataset_alloc(&ds, 4, 2, 0, 0, 1), 0);
    assert_int_equal(nn_net_new(2, 0, NULL, 0, NN_ACT_RELU, 3, NN_ACT_SOFTMAX, 4, &net, NULL), 0);
    /* batch larger than max_batch */
    assert_int_equal(
        nn_train(net, NN_TASK_MULTICLASS, &ds, NULL, &p, NULL, NULL, NULL, &rng, NULL, &err),
        NN_EINVAL);
    p.batch_size = 4;
    /* task does not fit the output */
    assert_int_equal(
        nn_train(net, NN_TASK_BINARY, &ds, NULL, &p, NULL, NULL, NULL, &rng, NULL, NULL),
        NN_EINVAL);
    /* a label outside the classes */
    ds.y[2] = 3.0f;
    assert_int_equal(
        nn_train(net, NN_TASK_MULTICLASS, &ds, NULL, &p, NULL, NULL, NULL, &rng, NULL, &err),
        NN_EINVAL);
    assert_non_null(strstr(err.msg, "row 3"));
    ds.y[2] = 2.0f;
    assert_int_equal(
        nn_train(net, NN_TASK_MULTICLASS, &ds, NULL, &p, NULL, NULL, NULL, &rng, NULL, NULL), 0);
    /* allocation failures are NN_ENOMEM and leak nothing */
    nn_alloc_fail_after(1);
    assert_int_equal(
        nn_train(net, NN_TASK_MULTICLASS, &ds, NULL, &p, NULL, NULL, NULL, &rng, NULL, &err),
        NN_ENOMEM);
    nn_alloc_fail_after(-1);
    nn_net_free(net);
    nn_dataset_free(&ds);
}

/* One optimiser step by hand: SGD with L2 on weights only, momentum over two steps, Adam's
 * bias-corrected first step (= lr * sign(g)), and lazy rows of a sparse block. */
static void test_optim_steps(void **state)
{
    struct nn_net *net = NULL;
    struct nn_train_params p = params(NN_OPTIM_SGD, 0.1f, 1, 1);
    struct nn_optim_state st;
    size_t i;

    (void)state;
    /* 1 dense + 2 sparse inputs -> 1 sigmoid: W = [w0 | s0 s1], b */
    assert_int_equal(nn_net_new(1, 2, NULL, 0, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 4, &net, NULL), 0);
    assert_int_equal(net->n_params, 4);
    p.l2 = 0.5f;
    assert_int_equal(nn_optim_init(&st, net, &p, NULL), 0);
    for (i = 0; i < 4; i++) {
        net->params[i] = 1.0f;
        net->grads[i] = 0.2f;
    }
    net->n_touched = 1;
    net->touched_list[0] = 1; /* only sparse input 1 (param 2) was in the batch */
    nn_optim_step(&st, net);
    assert_float_equal(net->params[0], 1.0 - 0.1 * (0.2 + 0.5), 1e-6); /* weight: L2 */
    assert_float_equal(net->params[1], 1.0, 0.0);                      /* untouched row */
    assert_float_equal(net->params[2], 1.0 - 0.1 * (0.2 + 0.5), 1e-6);
    assert_float_equal(net->params[3], 1.0 - 0.1 * 0.2, 1e-6); /* bias: no L2 */
    nn_optim_fini(&st);

    p = params(NN_OPTIM_MOMENTUM, 0.1f, 1, 1);
    p.momentum = 0.5f;
    assert_int_equal(nn_optim_init(&st, net, &p, NULL), 0);
    net->params[3] = 0.0f;
    nn_optim_step(&st, net); /* m = 0.2, b = -0.02 */
    nn_optim_step(&st, net); /* m = 0.5*0.2 + 0.2 = 0.3, b = -0.05 */
    assert_float_equal(net->params[3], -0.05, 1e-6);
    nn_optim_fini(&st);

    p = params(NN_OPTIM_ADAM, 0.01f, 1, 1);
    assert_int_equal(nn_optim_init(&st, net, &p, NULL), 0);
    for (i = 0; i < 4; i++) {
        net->params[i] = 0.0f;
        net->grads[i] = i % 2 ? -3.0f : 0.25f;
    }
    net->touched_list[0] = 0;
    nn_optim_step(&st, net);
    assert_float_equal(net->params[0], -0.01, 1e-5);
    assert_float_equal(net->params[1], 0.01, 1e-5); /* touched sparse row 0 */
    assert_float_equal(net->params[2], 0.0, 0.0);   /* sparse row 1: not touched */
    assert_float_equal(net->params[3], 0.01, 1e-5);
    assert_int_equal(st.t, 1);
    nn_optim_fini(&st);
    p.beta1 = 1.5f;
    assert_int_equal(nn_optim_init(&st, net, &p, NULL), NN_EINVAL);
    nn_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xor),
        cmocka_unit_test(test_logistic_separable),
        cmocka_unit_test(test_moons),
        cmocka_unit_test(test_iris),
        cmocka_unit_test(test_regression_rmse),
        cmocka_unit_test(test_early_stopping_restores_best),
        cmocka_unit_test(test_cancel_from_callback),
        cmocka_unit_test(test_diverges),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_split_stratified),
        cmocka_unit_test(test_sparse_lazy_update),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_optim_steps),
    };

    openblas_set_num_threads(1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
