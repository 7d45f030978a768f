/*
 * test_ig: integrated gradients (nn/ig.c) and the gradient it integrates (nn_net_tail_grad).
 *
 * What: the tail gradient against finite differences for every hidden activation and output;
 * the logits at both ends against nn_net_predict_row; completeness (attributions add up to
 * logit(x) - logit(base)) on random nets of every activation and depth, dense and sparse;
 * the attributions against an independent integral (finite differences of
 * nn_net_predict_row averaged over 4,000 points); a net with no hidden layer giving exactly
 * weight x (input - baseline); a one-hidden-layer ReLU net exact to rounding; bad arguments;
 * the same attributions, bit for bit, whatever the heap held before (glibc's M_PERTURB fills
 * every allocation: the adaptive grid once read a gap and a split point it had not written).
 * Why: an explanation that does not add up, or adds up by accident of a wrong gradient,
 * misleads the user; each of these fails on a different mistake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/alloc.h"
#include "nn/ig.h"
#include "nn/net.h"
#include "nn/rng.h"

/* AddressSanitizer's allocator refuses glibc's M_PERTURB (mallopt returns 0) and fills new
 * blocks with its own byte: there the heap test still runs, on that fill */
#if defined(__SANITIZE_ADDRESS__)
#define PERTURB_TAKES 0
#else
#define PERTURB_TAKES 1
#endif

#define DENSE  5
#define SPARSE 12

/* A random net: weights of the scale given, biases normal. */
static struct nn_net *make_net(const int *widths, int n_hidden, enum nn_act act, int n_out,
                               enum nn_act out_act, double scale, struct nn_rng *rng)
{
    struct nn_net *net = NULL;
    size_t i;

    assert_int_equal(
        nn_net_new(DENSE, SPARSE, widths, n_hidden, act, n_out, out_act, 8, &net, NULL), 0);
    for (i = 0; i < net->n_params; i++) {
        net->params[i] = (float)(scale * nn_rng_normal(rng));
    }
    return net;
}

/* The row: x and base normal, three sparse entries. */
static void make_row(float *x, float *base, int32_t *ind, float *val, struct nn_rng *rng)
{
    int j;

    for (j = 0; j < DENSE; j++) {
        x[j] = (float)nn_rng_normal(rng);
        base[j] = (float)(0.5 * nn_rng_normal(rng));
    }
    ind[0] = 1;
    ind[1] = 4;
    ind[2] = 9;
    for (j = 0; j < 3; j++) {
        val[j] = (float)(0.3 + nn_rng_uniform(rng));
    }
}

/* Logit of `unit` from nn_net_predict_row (identity and softmax outputs read back). */
static double row_logit(const struct nn_net *net, const float *x, const int32_t *ind,
                        const float *val, size_t nnz, int unit)
{
    float scratch[256], out[8];

    assert_true(nn_net_scratch_len(net) <= 256);
    nn_net_predict_row(net, x, ind, val, nnz, scratch, out);
    if (net->layers[net->n_layers - 1].act == NN_ACT_SIGMOID) {
        return log(out[0]) - log1p(-(double)out[0]);
    }
    if (net->layers[net->n_layers - 1].act == NN_ACT_SOFTMAX) {
        /* log-probabilities differ from the logits by one constant: compare differences */
        return log(out[unit]) - log(out[0]);
    }
    return out[unit];
}

static void test_tail_grad_fd(void **state)
{
    static const enum nn_act acts[] = {NN_ACT_IDENTITY, NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_RELU,
                                       NN_ACT_LEAKY_RELU};
    static const int widths[] = {7, 4};
    struct nn_rng rng;
    size_t a;

    (void)state;
    nn_rng_seed(&rng, 11);
    for (a = 0; a < sizeof(acts) / sizeof(acts[0]); a++) {
        for (int depth = 1; depth <= 2; depth++) {
            struct nn_net *net = make_net(widths, depth, acts[a], 3, NN_ACT_SOFTMAX, 0.7, &rng);
            int w = net->layers[0].out, unit = 2, o;
            float z[2 * 7], g[2 * 7], lg[2], zp[7], lp[1];
            float *work = nn_malloc(nn_net_tail_len(net, 2) * sizeof(float));

            assert_non_null(work);
            for (o = 0; o < 2 * w; o++) {
                z[o] = (float)nn_rng_normal(&rng);
            }
            memcpy(g, z, sizeof(z));
            nn_net_tail_grad(net, g, 2, unit, lg, work);
            for (int r = 0; r < 2; r++) {
                for (o = 0; o < w; o++) {
                    double eps = 1e-3, hi, lo;

                    memcpy(zp, z + r * w, (size_t)w * sizeof(float));
                    zp[o] += (float)eps;
                    nn_net_tail_grad(net, zp, 1, unit, lp, work);
                    hi = lp[0];
                    memcpy(zp, z + r * w, (size_t)w * sizeof(float));
                    zp[o] -= (float)eps;
                    nn_net_tail_grad(net, zp, 1, unit, lp, work);
                    lo = lp[0];
                    assert_float_equal(g[r * w + o], (hi - lo) / (2 * eps), 2e-2);
                }
            }
            nn_free(work);
            nn_net_free(net);
        }
    }
}

/* The ends of the path are the logits predict gives, and completeness holds. */
static void test_completeness(void **state)
{
    static const enum nn_act acts[] = {NN_ACT_IDENTITY, NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_RELU,
                                       NN_ACT_LEAKY_RELU};
    static const int widths[] = {16, 8, 4};
    struct nn_rng rng;
    size_t a;
    int worst_steps = 0, missed = 0;

    (void)state;
    nn_rng_seed(&rng, 7);
    for (a = 0; a < sizeof(acts) / sizeof(acts[0]); a++) {
        for (int depth = 0; depth <= 3; depth++) {
            for (int outk = 0; outk < 3 * 6; outk++) {
                int kind = outk % 3; /* six rows of each output kind */
                enum nn_act oa =
                    kind == 0 ? NN_ACT_SIGMOID : (kind == 1 ? NN_ACT_SOFTMAX : NN_ACT_IDENTITY);
                int n_out = kind == 1 ? 3 : 1, unit = kind == 1 ? 1 : 0;
                struct nn_net *net = make_net(widths, depth, acts[a], n_out, oa, 0.6, &rng);
                float x[DENSE], base[DENSE], val[3];
                int32_t ind[3];
                double ad[DENSE], as[3], sum = 0.0, diff;
                struct nn_ig_result res;

                make_row(x, base, ind, val, &rng);
                assert_int_equal(
                    nn_ig_row(net, base, x, ind, val, 3, unit, NULL, ad, as, &res, NULL), 0);
                for (int j = 0; j < DENSE; j++) {
                    sum += ad[j];
                }
                for (int j = 0; j < 3; j++) {
                    sum += as[j];
                }
                diff = res.out - res.base;
                /* the flag is honest; it holds but where ReLUs past the first layer switch
                 * more often than 256 steps can pin down (counted, below) */
                assert_int_equal(res.converged, fabs(sum - diff) <= 1e-3 * fmax(fabs(diff), 1e-2));
                if (!res.converged) {
                    assert_true(depth >= 2 &&
                                (acts[a] == NN_ACT_RELU || acts[a] == NN_ACT_LEAKY_RELU));
                    assert_true(res.steps >= NN_IG_MAX_STEPS - 1); /* all spent */
                    assert_true(fabs(sum - diff) <= 0.05 * fmax(fabs(diff), 1e-2));
                    missed++;
                }
                assert_float_equal(sum, res.sum, 1e-9);
                assert_true(res.steps >= 1 && res.steps <= NN_IG_MAX_STEPS);
                worst_steps = res.steps > worst_steps ? res.steps : worst_steps;
                if (kind == 1) {
                    /* softmax: compare logit differences between units */
                    double ig0;
                    struct nn_ig_result r0;

                    assert_int_equal(
                        nn_ig_row(net, base, x, ind, val, 3, 0, NULL, ad, as, &r0, NULL), 0);
                    ig0 = res.out - r0.out;
                    assert_float_equal(ig0, row_logit(net, x, ind, val, 3, unit),
                                       1e-3 * fmax(1.0, fabs(ig0)));
                    ig0 = res.base - r0.base;
                    assert_float_equal(ig0, row_logit(net, base, NULL, NULL, 0, unit),
                                       1e-3 * fmax(1.0, fabs(ig0)));
                } else {
                    /* a sigmoid's logit read back from a float probability: float's
                     * resolution near 0 and 1 */
                    double so = kind == 0 ? 1e-6 * exp(fabs(res.out)) : 0.0;
                    double sb = kind == 0 ? 1e-6 * exp(fabs(res.base)) : 0.0;

                    assert_float_equal(res.out, row_logit(net, x, ind, val, 3, unit),
                                       1e-4 * fmax(1.0, fabs(res.out)) + so);
                    assert_float_equal(res.base, row_logit(net, base, NULL, NULL, 0, unit),
                                       1e-4 * fmax(1.0, fabs(res.base)) + sb);
                }
                nn_net_free(net);
            }
        }
    }
    print_message("most steps: %d; %d of %d deep ReLU rows short of 1e-3\n", worst_steps, missed,
                  2 * 2 * 18);
    assert_true(missed <= 4);
    assert_true(worst_steps > 8); /* the adaptive grid was exercised */
}

/* Against an integral computed another way: central differences (step eps) of
 * nn_net_predict_row, averaged over 4,000 midpoints of the path. */
static void check_reference(struct nn_net *net, double eps, struct nn_rng *rng)
{
    float x[DENSE], base[DENSE], val[3], p[DENSE], pv[3];
    int32_t ind[3];
    double ad[DENSE], as[3], ref[DENSE + 3];
    struct nn_ig_result res;
    int k, j, steps = 4000;

    make_row(x, base, ind, val, rng);
    assert_int_equal(nn_ig_row(net, base, x, ind, val, 3, 0, NULL, ad, as, &res, NULL), 0);
    memset(ref, 0, sizeof(ref));
    for (k = 0; k < steps; k++) {
        double a = (k + 0.5) / steps;

        for (j = 0; j < DENSE + 3; j++) {
            double hi, lo, d;

            for (int i = 0; i < DENSE; i++) {
                p[i] = (float)(base[i] + a * (x[i] - base[i]));
            }
            for (int i = 0; i < 3; i++) {
                pv[i] = (float)(a * val[i]);
            }
            float *q = j < DENSE ? &p[j] : &pv[j - DENSE];
            float q0 = *q;

            *q = (float)(q0 + eps);
            hi = row_logit(net, p, ind, pv, 3, 0);
            *q = (float)(q0 - eps);
            lo = row_logit(net, p, ind, pv, 3, 0);
            d = j < DENSE ? (double)x[j] - base[j] : (double)val[j - DENSE];
            ref[j] += d * (hi - lo) / (2 * eps) / steps;
        }
    }
    for (j = 0; j < DENSE; j++) {
        assert_float_equal(ad[j], ref[j], 2e-3 * fmax(1.0, fabs(ref[j])));
    }
    for (j = 0; j < 3; j++) {
        assert_float_equal(as[j], ref[DENSE + j], 2e-3 * fmax(1.0, fabs(ref[DENSE + j])));
    }
}

/* A smooth net (two tanh layers: the adaptive grid), and one ReLU hidden layer (the closed
 * form: each unit's weight times the part of the path where it is active), whose
 * differences are exact but where a unit switches. */
static void test_against_reference(void **state)
{
    static const int widths[] = {9, 5}, relu[] = {24};
    struct nn_rng rng;
    struct nn_net *net;

    (void)state;
    nn_rng_seed(&rng, 3);
    net = make_net(widths, 2, NN_ACT_TANH, 1, NN_ACT_IDENTITY, 0.8, &rng);
    check_reference(net, 1e-2, &rng);
    nn_net_free(net);
    for (int t = 0; t < 3; t++) {
        /* identity: a logit read back from a saturated sigmoid would have no differences */
        net = make_net(relu, 1, NN_ACT_RELU, 1, NN_ACT_IDENTITY, 1.5, &rng);
        check_reference(net, 1e-4, &rng);
        nn_net_free(net);
    }
}

/* No hidden layer: attr = weight x (input - baseline), bit for bit, in one step. */
static void test_linear_exact(void **state)
{
    struct nn_rng rng;

    (void)state;
    nn_rng_seed(&rng, 5);
    for (int outk = 0; outk < 2; outk++) {
        int n_out = outk ? 4 : 1, unit = outk ? 3 : 0;
        struct nn_net *net = make_net(NULL, 0, NN_ACT_RELU, n_out,
                                      outk ? NN_ACT_SOFTMAX : NN_ACT_SIGMOID, 1.3, &rng);
        const float *W = net->params + net->layers[0].w;
        float x[DENSE], base[DENSE], val[3];
        int32_t ind[3];
        double ad[DENSE], as[3];
        struct nn_ig_result res;

        make_row(x, base, ind, val, &rng);
        assert_int_equal(nn_ig_row(net, base, x, ind, val, 3, unit, NULL, ad, as, &res, NULL), 0);
        for (int j = 0; j < DENSE; j++) {
            assert_true(ad[j] == ((double)x[j] - (double)base[j]) * (double)W[j * n_out + unit]);
        }
        for (int e = 0; e < 3; e++) {
            assert_true(as[e] == (double)val[e] * (double)W[(DENSE + ind[e]) * n_out + unit]);
        }
        assert_int_equal(res.steps, 1);
        assert_true(res.converged);
        nn_net_free(net);
    }
}

/* One hidden ReLU layer: the grid holds the points where its units switch, so the
 * integral is exact (to rounding) however far the row is from the baseline. */
static void test_relu_exact(void **state)
{
    static const int widths[] = {32};
    struct nn_rng rng;

    (void)state;
    nn_rng_seed(&rng, 9);
    for (int t = 0; t < 20; t++) {
        struct nn_net *net = make_net(widths, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 2.0, &rng);
        float x[DENSE], base[DENSE], val[3];
        int32_t ind[3];
        double ad[DENSE], as[3], diff;
        struct nn_ig_result res;

        make_row(x, base, ind, val, &rng);
        assert_int_equal(nn_ig_row(net, base, x, ind, val, 3, 0, NULL, ad, as, &res, NULL), 0);
        diff = res.out - res.base;
        assert_true(fabs(res.sum - diff) <= 1e-5 * fmax(fabs(diff), 1.0));
        assert_true(res.steps <= 8 + 32);
        nn_net_free(net);
    }
}

static void test_bad_args(void **state)
{
    static const int widths[] = {4};
    struct nn_rng rng;
    struct nn_net *net;
    struct nn_ig_opts o;
    struct nn_ig_result res;
    struct nn_err err;
    float x[DENSE] = {0}, base[DENSE] = {0};
    double ad[DENSE];

    (void)state;
    nn_rng_seed(&rng, 1);
    net = make_net(widths, 1, NN_ACT_TANH, 1, NN_ACT_SIGMOID, 1.0, &rng);
    assert_int_equal(nn_ig_row(net, base, x, NULL, NULL, 0, 1, NULL, ad, NULL, &res, &err),
                     NN_EINVAL);
    nn_ig_opts_default(&o);
    o.max_steps = NN_IG_MAX_STEPS + 1;
    assert_int_equal(nn_ig_row(net, base, x, NULL, NULL, 0, 0, &o, ad, NULL, &res, &err),
                     NN_EINVAL);
    /* one step allowed: used, and said whether it was enough */
    o.max_steps = 1;
    x[0] = 3.0f;
    assert_int_equal(nn_ig_row(net, base, x, NULL, NULL, 0, 0, &o, ad, NULL, &res, &err), 0);
    assert_int_equal(res.steps, 1);
    assert_int_equal(res.converged, fabs(res.sum - (res.out - res.base)) <=
                                        1e-3 * fmax(fabs(res.out - res.base), 1e-2));
    nn_net_free(net);
}

/* Deep ReLU nets refine their grid over several rounds; the result must not depend on what
 * the scratch held before (glibc fills each allocation with the perturb byte; under a
 * sanitizer's allocator the option is ignored and the test still runs). */
static void test_heap_independent(void **state)
{
    static const int widths[] = {24, 24};
    static const int bytes[] = {0x00, 0xa5, 0x5a};
    struct nn_rng rng;
    int row, rounds = 0;

    (void)state;
    nn_rng_seed(&rng, 11);
    for (row = 0; row < 12; row++) {
        struct nn_net *net = make_net(widths, 2, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 0.8, &rng);
        float x[DENSE], base[DENSE], val[3];
        int32_t ind[3];
        double ad[3][DENSE], as[3][3];
        struct nn_ig_result res[3];

        make_row(x, base, ind, val, &rng);
        for (int b = 0; b < 3; b++) {
            int took = mallopt(M_PERTURB, bytes[b]);

            if (PERTURB_TAKES) {
                assert_int_equal(took, 1);
            }
            assert_int_equal(
                nn_ig_row(net, base, x, ind, val, 3, 0, NULL, ad[b], as[b], &res[b], NULL), 0);
        }
        mallopt(M_PERTURB, 0);
        for (int b = 1; b < 3; b++) {
            assert_int_equal(res[b].steps, res[0].steps);
            assert_memory_equal(ad[b], ad[0], sizeof(ad[0]));
            assert_memory_equal(as[b], as[0], sizeof(as[0]));
        }
        rounds += res[0].steps > 8; /* refined past the first grid */
        nn_net_free(net);
    }
    assert_true(rounds >= 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tail_grad_fd),      cmocka_unit_test(test_completeness),
        cmocka_unit_test(test_against_reference), cmocka_unit_test(test_linear_exact),
        cmocka_unit_test(test_relu_exact),        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_heap_independent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
