/*
 * test_net: the network's forward and backward passes.
 *
 * What: the textbook first neuron through both prediction paths; a finite-difference check
 * of the gradient for every hidden activation x output/loss pair, with and without a sparse
 * input block; the sparse first layer against the same net fed the equivalent dense input
 * (outputs and gradients); the three prediction paths agreeing; bad shapes rejected.
 * Why: backpropagation bugs hide behind "the loss still goes down"; the gradient check
 * catches them exactly, and the sparse/dense equivalence pins the CSR path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/alloc.h"
#include "nn/mat.h"
#include "nn/net.h"
#include "nn/rng.h"

/* Inputs (1, 0), weights (7, 3), bias -2: z = 5, sigmoid(5) = 0.9933071. */
static void test_first_neuron(void **state)
{
    struct nn_net *net = NULL;
    struct nn_dataset ds;
    float scratch[8], out = 0.0f;
    const float *p;

    (void)state;
    assert_int_equal(nn_net_new(2, 0, NULL, 0, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 4, &net, NULL), 0);
    assert_int_equal(net->n_params, 3);
    net->params[net->layers[0].w + 0] = 7.0f;
    net->params[net->layers[0].w + 1] = 3.0f;
    net->params[net->layers[0].b] = -2.0f;
    assert_true(nn_net_scratch_len(net) <= 8);

    float x[2] = {1.0f, 0.0f};
    nn_net_predict_row(net, x, NULL, NULL, 0, scratch, &out);
    assert_float_equal(out, 0.9933071, 1e-5);
    assert_float_equal(out, 1.0 / (1.0 + exp(-5.0)), 1e-6);

    assert_int_equal(nn_dataset_alloc(&ds, 1, 2, 0, 0, 1), 0);
    ds.dense[0] = 1.0f;
    ds.dense[1] = 0.0f;
    ds.y[0] = 1.0f;
    p = nn_net_forward(net, &ds, NULL, 0, 1);
    assert_float_equal(p[0], 0.9933071, 1e-5);
    /* BCE of the right answer: -log(0.9933071) = log(1 + e^-5) */
    assert_float_equal(nn_net_loss(net, 1, ds.y), log1p(exp(-5.0)), 1e-6);
    nn_dataset_free(&ds);
    nn_net_free(net);
}

/* A random data set of n rows: dense_in normal features, sparse rows of 0..3 entries. */
static void make_data(struct nn_dataset *ds, size_t n, int dense_in, int sparse_in, int n_out,
                      enum nn_act out_act, struct nn_rng *rng)
{
    size_t i, pos = 0;
    int j;

    assert_int_equal(nn_dataset_alloc(ds, n, dense_in, sparse_in, n * 3, 1), 0);
    for (i = 0; i < n; i++) {
        for (j = 0; j < dense_in; j++) {
            ds->dense[i * (size_t)dense_in + (size_t)j] = (float)nn_rng_normal(rng);
        }
        if (sparse_in > 0) {
            int c = 0, e = 0;

            ds->indptr[i] = pos;
            for (c = 0; c < sparse_in && e < 3; c++) {
                if (nn_rng_uniform(rng) < 0.3) {
                    ds->indices[pos] = c;
                    ds->values[pos] = (float)(0.5 + nn_rng_uniform(rng));
                    pos++;
                    e++;
                }
            }
            ds->indptr[i + 1] = pos;
        }
        if (out_act == NN_ACT_SIGMOID) {
            ds->y[i] = (float)(i % 2);
        } else if (out_act == NN_ACT_SOFTMAX) {
            ds->y[i] = (float)(i % (size_t)n_out);
        } else {
            ds->y[i] = (float)nn_rng_normal(rng);
        }
    }
}

/* Central-difference check of every gradient the backward pass writes. */
static void grad_check(enum nn_act hid, enum nn_act out_act, int sparse_in, int n_hidden)
{
    const int widths[2] = {5, 4};
    const size_t order[6] = {5, 0, 3, 1, 4, 2};
    int n_out = out_act == NN_ACT_SOFTMAX ? 3 : 1;
    struct nn_net *net = NULL;
    struct nn_dataset ds;
    struct nn_rng rng;
    float *g, y[6];
    double worst = 0.0;
    size_t i, checked = 0, sparse_lo, sparse_hi;
    int l;

    nn_rng_seed(&rng, 1234);
    assert_int_equal(nn_net_new(3, sparse_in, widths, n_hidden, hid, n_out, out_act, 8, &net, NULL),
                     0);
    nn_net_init(net, &rng);
    for (l = 0; l < net->n_layers; l++) {
        for (i = 0; i < (size_t)net->layers[l].out; i++) {
            net->params[net->layers[l].b + i] = (float)(0.1 * nn_rng_normal(&rng));
        }
    }
    make_data(&ds, 6, 3, sparse_in, n_out, out_act, &rng);
    for (i = 0; i < 6; i++) {
        y[i] = ds.y[order[i]];
    }
    nn_net_forward(net, &ds, order, 0, 6);
    double loss = nn_net_backward(net, &ds, order, 0, 6, y);
    assert_true(isfinite(loss));
    assert_float_equal(loss, nn_net_loss(net, 6, y), 1e-12);
    g = malloc(net->n_params * sizeof(float));
    assert_non_null(g);
    memcpy(g, net->grads, net->n_params * sizeof(float));
    if (sparse_in > 0) {
        assert_true(net->n_touched > 0);
    }
    sparse_lo = net->layers[0].w + (size_t)3 * (size_t)net->layers[0].out;
    sparse_hi = net->layers[0].b;
    for (i = 0; i < net->n_params; i++) {
        float save = net->params[i], pp, pm;
        double lp, lm, num, err;
        int touched = 1;

        if (i >= sparse_lo && i < sparse_hi) {
            int row = (int)((i - sparse_lo) / (size_t)net->layers[0].out);
            touched = net->touched[row];
        }
        net->params[i] = save + 1e-3f;
        pp = net->params[i];
        nn_net_forward(net, &ds, order, 0, 6);
        lp = nn_net_loss(net, 6, y);
        net->params[i] = save - 1e-3f;
        pm = net->params[i];
        nn_net_forward(net, &ds, order, 0, 6);
        lm = nn_net_loss(net, 6, y);
        net->params[i] = save;
        num = (lp - lm) / ((double)pp - pm);
        if (!touched) {
            /* an input never seen in the batch has no gradient */
            assert_true(fabs(num) < 1e-4);
            continue;
        }
        err = fabs(num - g[i]) / fmax(2e-2, fabs(num) + fabs(g[i]));
        if (err > worst) {
            worst = err;
        }
        if (err >= 1e-2) {
            print_error("param %zu: analytic %g numeric %g (%s -> %s, sparse %d)\n", i,
                        (double)g[i], num, nn_act_name(hid), nn_act_name(out_act), sparse_in);
        }
        assert_true(err < 1e-2);
        checked++;
    }
    assert_true(checked >= net->n_params - (sparse_hi - sparse_lo));
    free(g);
    nn_dataset_free(&ds);
    nn_net_free(net);
}

static void test_grad_check_all(void **state)
{
    const enum nn_act hids[] = {NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_RELU, NN_ACT_LEAKY_RELU};
    const enum nn_act outs[] = {NN_ACT_SIGMOID, NN_ACT_SOFTMAX, NN_ACT_IDENTITY};
    size_t h, o;
    int sp;

    (void)state;
    for (h = 0; h < 4; h++) {
        for (o = 0; o < 3; o++) {
            for (sp = 0; sp <= 7; sp += 7) {
                grad_check(hids[h], outs[o], sp, 2);
            }
        }
    }
    /* no hidden layer: logistic / softmax / linear regression */
    for (o = 0; o < 3; o++) {
        grad_check(NN_ACT_RELU, outs[o], 7, 0);
        grad_check(NN_ACT_RELU, outs[o], 0, 0);
    }
}

/* A net with a sparse block equals the same weights fed the equivalent dense input. */
static void test_sparse_equals_dense(void **state)
{
    const int widths[1] = {6};
    const int D = 2, S = 10, N = 5;
    struct nn_net *a = NULL, *b = NULL;
    struct nn_dataset sds, dds;
    struct nn_rng rng;
    float pa[5 * 3], scratch[64], row[3];
    const float *p;
    size_t i, e;
    int j;

    (void)state;
    nn_rng_seed(&rng, 99);
    assert_int_equal(nn_net_new(D, S, widths, 1, NN_ACT_TANH, 3, NN_ACT_SOFTMAX, 8, &a, NULL), 0);
    assert_int_equal(nn_net_new(D + S, 0, widths, 1, NN_ACT_TANH, 3, NN_ACT_SOFTMAX, 8, &b, NULL),
                     0);
    assert_int_equal(a->n_params, b->n_params);
    nn_net_init(a, &rng);
    memcpy(b->params, a->params, a->n_params * sizeof(float));
    make_data(&sds, (size_t)N, D, S, 3, NN_ACT_SOFTMAX, &rng);
    assert_true(sds.indptr[N] > 3);
    assert_int_equal(nn_dataset_alloc(&dds, (size_t)N, D + S, 0, 0, 1), 0);
    for (i = 0; i < (size_t)N; i++) {
        for (j = 0; j < D; j++) {
            dds.dense[i * (size_t)(D + S) + (size_t)j] = sds.dense[i * (size_t)D + (size_t)j];
        }
        for (e = sds.indptr[i]; e < sds.indptr[i + 1]; e++) {
            dds.dense[i * (size_t)(D + S) + (size_t)D + (size_t)sds.indices[e]] = sds.values[e];
        }
        dds.y[i] = sds.y[i];
    }
    p = nn_net_forward(a, &sds, NULL, 0, N);
    memcpy(pa, p, sizeof(pa));
    p = nn_net_forward(b, &dds, NULL, 0, N);
    for (i = 0; i < (size_t)N * 3; i++) {
        assert_float_equal(pa[i], p[i], 1e-6);
    }
    /* single-row path with the sparse entries */
    assert_true(nn_net_scratch_len(a) <= 64);
    for (i = 0; i < (size_t)N; i++) {
        size_t s0 = sds.indptr[i];

        nn_net_predict_row(a, sds.dense + i * (size_t)D, sds.indices + s0, sds.values + s0,
                           sds.indptr[i + 1] - s0, scratch, row);
        for (j = 0; j < 3; j++) {
            assert_float_equal(row[j], pa[i * 3 + (size_t)j], 1e-5);
        }
    }
    /* gradients: the touched sparse rows equal the dense net's rows, others are zero */
    nn_net_forward(a, &sds, NULL, 0, N);
    nn_net_backward(a, &sds, NULL, 0, N, sds.y);
    nn_net_forward(b, &dds, NULL, 0, N);
    nn_net_backward(b, &dds, NULL, 0, N, dds.y);
    for (j = 0; j < S; j++) {
        size_t off = a->layers[0].w + (size_t)(D + j) * 6;
        int o;

        for (o = 0; o < 6; o++) {
            if (a->touched[j]) {
                assert_float_equal(a->grads[off + (size_t)o], b->grads[off + (size_t)o], 1e-6);
            } else {
                assert_float_equal(b->grads[off + (size_t)o], 0.0, 0.0);
            }
        }
    }
    for (j = 0; j < a->n_touched; j++) {
        assert_true(a->touched[a->touched_list[j]]);
    }
    for (i = a->layers[0].b; i < a->n_params; i++) {
        assert_float_equal(a->grads[i], b->grads[i], 1e-6);
    }
    nn_dataset_free(&sds);
    nn_dataset_free(&dds);
    nn_net_free(a);
    nn_net_free(b);
}

/* nn_net_predict (chunked), nn_net_forward and nn_net_predict_row agree. */
static void test_predict_paths(void **state)
{
    const int widths[2] = {16, 8};
    struct nn_net *net = NULL;
    struct nn_dataset ds;
    struct nn_rng rng;
    float *out, scratch[64], row;
    size_t i;

    (void)state;
    nn_rng_seed(&rng, 5);
    assert_int_equal(nn_net_new(4, 0, widths, 2, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 7, &net, NULL), 0);
    nn_net_init(net, &rng);
    make_data(&ds, 23, 4, 0, 1, NN_ACT_SIGMOID, &rng);
    out = malloc(23 * sizeof(float));
    assert_non_null(out);
    assert_int_equal(nn_net_predict(net, &ds, out), 0);
    for (i = 0; i < 23; i++) {
        nn_net_predict_row(net, ds.dense + i * 4, NULL, NULL, 0, scratch, &row);
        assert_float_equal(row, out[i], 1e-6);
        assert_true(out[i] > 0.0f && out[i] < 1.0f);
    }
    ds.dense_cols = 3; /* shape mismatch */
    assert_int_equal(nn_net_predict(net, &ds, out), NN_EINVAL);
    ds.dense_cols = 4;
    free(out);
    nn_dataset_free(&ds);
    nn_net_free(net);
}

static void test_bad_shapes_and_names(void **state)
{
    const int w0[1] = {0};
    const int w4[1] = {4};
    struct nn_net *net = (struct nn_net *)&net;
    struct nn_err err;

    (void)state;
    assert_int_equal(nn_net_new(0, 0, NULL, 0, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 4, &net, &err),
                     NN_EINVAL);
    assert_null(net);
    assert_int_equal(err.code, NN_EINVAL);
    assert_int_equal(nn_net_new(3, 0, w0, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 4, &net, NULL),
                     NN_EINVAL);
    assert_int_equal(nn_net_new(3, 0, w4, 1, NN_ACT_RELU, 1, NN_ACT_SOFTMAX, 4, &net, NULL),
                     NN_EINVAL);
    assert_int_equal(nn_net_new(3, 0, w4, 1, NN_ACT_RELU, 2, NN_ACT_SIGMOID, 4, &net, NULL),
                     NN_EINVAL);
    assert_int_equal(nn_net_new(3, 0, w4, 1, NN_ACT_SOFTMAX, 1, NN_ACT_SIGMOID, 4, &net, NULL),
                     NN_EINVAL);
    assert_int_equal(nn_net_new(3, 0, w4, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 0, &net, NULL),
                     NN_EINVAL);
    /* a failed allocation is NN_ENOMEM and leaves nothing behind (ASan checks leaks) */
    nn_alloc_fail_after(2);
    assert_int_equal(nn_net_new(3, 5, w4, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 4, &net, NULL),
                     NN_ENOMEM);
    nn_alloc_fail_after(-1);
    assert_null(net);
    assert_int_equal(nn_net_new(3, 5, w4, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 4, &net, NULL), 0);
    assert_int_equal(net->n_params, (3 + 5) * 4 + 4 + 4 * 1 + 1);
    assert_int_equal(net->layers[1].w, (3 + 5) * 4 + 4);
    assert_int_equal(nn_net_outputs(net), 1);
    nn_net_free(net);
    nn_net_free(NULL);
    assert_string_equal(nn_act_name(NN_ACT_LEAKY_RELU), "leaky_relu");
    assert_int_equal(nn_act_parse("tanh"), NN_ACT_TANH);
    assert_int_equal(nn_act_parse("softmax"), NN_ACT_SOFTMAX);
    assert_int_equal(nn_act_parse("gelu"), -1);
}

/* He init for relu has the right spread; Xavier stays within its limit; same seed same. */
static void test_init(void **state)
{
    const int widths[1] = {256};
    struct nn_net *a = NULL, *b = NULL;
    struct nn_rng r1, r2;
    double ss = 0.0, lim;
    size_t i, nw;

    (void)state;
    assert_int_equal(nn_net_new(200, 0, widths, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 4, &a, NULL), 0);
    assert_int_equal(nn_net_new(200, 0, widths, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 4, &b, NULL), 0);
    nn_rng_seed(&r1, 3);
    nn_rng_seed(&r2, 3);
    nn_net_init(a, &r1);
    nn_net_init(b, &r2);
    assert_memory_equal(a->params, b->params, a->n_params * sizeof(float));
    nw = 200 * 256;
    for (i = 0; i < nw; i++) {
        ss += (double)a->params[i] * a->params[i];
    }
    assert_float_equal(sqrt(ss / (double)nw), sqrt(2.0 / 200.0), 0.005);
    lim = sqrt(6.0 / 257.0);
    for (i = 0; i < 256; i++) {
        assert_true(fabs(a->params[a->layers[1].w + i]) <= lim);
        assert_float_equal(a->params[a->layers[0].b + i], 0.0, 0.0);
    }
    nn_net_free(a);
    nn_net_free(b);
}

/* nn_mat_gemm against a naive triple loop, every transpose and the degenerate shapes
 * (n == 1 through sgemv, k == 1 as an outer product), with padded leading dimensions. */
static void test_gemm_shapes(void **state)
{
    const int shapes[][3] = {{5, 7, 3}, {4, 1, 6}, {6, 5, 1}, {1, 1, 4}, {3, 4, 1}, {1, 6, 5}};
    struct nn_rng rng;
    float a[128], b[128], c[128], want[128];
    size_t si;
    int ta, tb, pass;

    (void)state;
    nn_rng_seed(&rng, 21);
    for (si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
        int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];

        for (pass = 0; pass < 4; pass++) {
            int i, j, l;
            int lda, ldb, ldc = n + 2;
            float beta = pass == 3 ? 0.5f : 0.0f;

            ta = pass & 1;
            tb = (pass >> 1) & 1;
            lda = (ta ? m : k) + 1;
            ldb = (tb ? k : n) + 3;
            for (i = 0; i < 128; i++) {
                a[i] = (float)nn_rng_normal(&rng);
                b[i] = (float)nn_rng_normal(&rng);
                c[i] = pass == 0 ? NAN : (float)nn_rng_normal(&rng); /* beta 0 ignores C */
            }
            for (i = 0; i < m; i++) {
                for (j = 0; j < n; j++) {
                    double sum = 0.0;

                    for (l = 0; l < k; l++) {
                        float av = ta ? a[l * lda + i] : a[i * lda + l];
                        float bv = tb ? b[j * ldb + l] : b[l * ldb + j];

                        sum += (double)av * bv;
                    }
                    want[i * ldc + j] =
                        (float)(1.5 * sum + (beta != 0.0f ? beta * c[i * ldc + j] : 0.0));
                }
            }
            nn_mat_gemm(ta, tb, m, n, k, 1.5f, a, lda, b, ldb, beta, c, ldc);
            for (i = 0; i < m; i++) {
                for (j = 0; j < n; j++) {
                    assert_float_equal(c[i * ldc + j], want[i * ldc + j], 1e-4);
                }
            }
        }
    }
}

/* Sparse entries appended across growths keep every entry in order; out of memory keeps them. */
static void test_sparse_append(void **state)
{
    int32_t ind[3000], *all_i = NULL;
    float val[3000], *all_v = NULL;
    size_t n = 0, cap = 0;

    (void)state;
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < 3000; i++) {
            ind[i] = r * 3000 + i;
            val[i] = (float)(r * 3000 + i) * 0.5f;
        }
        assert_int_equal(nn_sparse_append(&all_i, &all_v, &n, &cap, ind, val, 3000), 0);
    }
    assert_int_equal(n, 9000);
    assert_true(cap >= 9000);
    for (int i = 0; i < 9000; i++) {
        assert_int_equal(all_i[i], i);
        assert_true(all_v[i] == (float)i * 0.5f);
    }
    size_t big = cap - n + 1; /* one more than the room left: it must grow */
    int32_t *bi = calloc(big, sizeof(*bi));
    float *bv = calloc(big, sizeof(*bv));
    assert_non_null(bi);
    assert_non_null(bv);
    nn_alloc_fail_after(0);
    int rc = nn_sparse_append(&all_i, &all_v, &n, &cap, bi, bv, big);
    nn_alloc_fail_after(-1);
    free(bi);
    free(bv);
    assert_int_equal(rc, NN_ENOMEM);
    assert_int_equal(n, 9000);
    assert_int_equal(all_i[8999], 8999);
    nn_free(all_i);
    nn_free(all_v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_neuron),         cmocka_unit_test(test_grad_check_all),
        cmocka_unit_test(test_sparse_equals_dense),  cmocka_unit_test(test_predict_paths),
        cmocka_unit_test(test_bad_shapes_and_names), cmocka_unit_test(test_init),
        cmocka_unit_test(test_gemm_shapes),          cmocka_unit_test(test_sparse_append),
    };

    openblas_set_num_threads(1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
