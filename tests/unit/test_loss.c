/*
 * test_loss: the three losses from logits — hand-computed values, gradients, and finiteness
 * for confident wrong answers and huge logits (the reason they take logits at all).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cblas.h>
#include <math.h>

#include "nn/loss.h"

static void test_bce_values(void **state)
{
    const float z[3] = {0.0f, 2.0f, -1.0f};
    const float y[3] = {1.0f, 0.0f, 1.0f};
    float dz[3];
    double s;

    (void)state;
    s = nn_loss_bce_logits(z, y, 3, 1.0f, dz);
    /* -log s(0) - log(1 - s(2)) - log s(-1) */
    double want = log(2.0) + log1p(exp(2.0)) + log1p(exp(1.0));
    assert_float_equal(s, want, 1e-6);
    assert_float_equal(dz[0], 0.5 - 1.0, 1e-6);
    assert_float_equal(dz[1], 1.0 / (1.0 + exp(-2.0)), 1e-6);
    assert_float_equal(dz[2], 1.0 / (1.0 + exp(1.0)) - 1.0, 1e-6);
    /* scale and NULL gradient */
    nn_loss_bce_logits(z, y, 3, 0.5f, dz);
    assert_float_equal(dz[0], -0.25, 1e-6);
    assert_float_equal(nn_loss_bce_logits(z, y, 3, 1.0f, NULL), want, 1e-6);
}

static void test_bce_confident_wrong_is_finite(void **state)
{
    const float z[4] = {100.0f, -100.0f, 1e30f, -1e30f};
    const float y[4] = {0.0f, 1.0f, 0.0f, 1.0f};
    float dz[4];
    double s;

    (void)state;
    s = nn_loss_bce_logits(z, y, 2, 1.0f, dz);
    assert_true(isfinite(s));
    assert_float_equal(s, 200.0, 1e-6);
    assert_float_equal(dz[0], 1.0, 1e-6);
    assert_float_equal(dz[1], -1.0, 1e-6);
    s = nn_loss_bce_logits(z + 2, y + 2, 2, 1.0f, dz + 2);
    assert_true(isfinite(s));
    assert_true(fabs(dz[2]) <= 1.0f && fabs(dz[3]) <= 1.0f);
    /* confident right answers cost ~0 */
    assert_true(nn_loss_bce_logits(z, y + 1, 1, 1.0f, NULL) < 1e-30);
}

static void test_softmax_ce(void **state)
{
    const float z[6] = {0.0f, 0.0f, 0.0f, 1.0f, 2.0f, 3.0f};
    const float y[2] = {1.0f, 0.0f};
    float dz[6];
    double s, lse = log(exp(1.0) + exp(2.0) + exp(3.0));

    (void)state;
    s = nn_loss_softmax_ce(z, 3, y, 2, 1.0f, dz);
    assert_float_equal(s, log(3.0) + (lse - 1.0), 1e-6);
    assert_float_equal(dz[0], 1.0 / 3.0, 1e-6);
    assert_float_equal(dz[1], 1.0 / 3.0 - 1.0, 1e-6);
    assert_float_equal(dz[3], exp(1.0 - lse) - 1.0, 1e-6);
    assert_float_equal(dz[3] + dz[4] + dz[5], 0.0, 1e-6);
}

static void test_softmax_huge_logits_finite(void **state)
{
    const float z[3] = {1000.0f, 0.0f, -1000.0f};
    const float y[2] = {2.0f, 0.0f};
    const float z2[3] = {3e38f, 3e38f, -3e38f};
    float dz[3];
    double s;

    (void)state;
    s = nn_loss_softmax_ce(z, 3, y, 1, 1.0f, dz);
    assert_true(isfinite(s));
    assert_float_equal(s, 2000.0, 1e-3);
    assert_float_equal(dz[0], 1.0, 1e-6);
    assert_float_equal(dz[2], -1.0, 1e-6);
    s = nn_loss_softmax_ce(z, 3, y + 1, 1, 1.0f, NULL);
    assert_float_equal(s, 0.0, 1e-12);
    s = nn_loss_softmax_ce(z2, 3, y + 1, 1, 1.0f, dz);
    assert_true(isfinite(s));
    assert_float_equal(s, log(2.0), 1e-6);
}

static void test_mse(void **state)
{
    const float z[3] = {1.0f, 2.0f, 3.0f};
    const float y[3] = {1.0f, 0.0f, 4.0f};
    float dz[3];

    (void)state;
    assert_float_equal(nn_loss_mse(z, y, 3, 1.0f / 3.0f, dz), 5.0, 1e-9);
    assert_float_equal(dz[0], 0.0, 1e-9);
    assert_float_equal(dz[1], 4.0 / 3.0, 1e-6);
    assert_float_equal(dz[2], -2.0 / 3.0, 1e-6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bce_values), cmocka_unit_test(test_bce_confident_wrong_is_finite),
        cmocka_unit_test(test_softmax_ce), cmocka_unit_test(test_softmax_huge_logits_finite),
        cmocka_unit_test(test_mse),
    };

    openblas_set_num_threads(1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
