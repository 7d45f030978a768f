/*
 * test_metrics: accuracy, log loss, ROC AUC (with ties), RMSE, MAE and the confusion matrix
 * against values worked out by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cblas.h>
#include <math.h>

#include "nn/alloc.h"
#include "nn/metrics.h"

static void test_accuracy(void **state)
{
    const float pb[4] = {0.9f, 0.5f, 0.49f, 0.1f};
    const float yb[4] = {1.0f, 0.0f, 0.0f, 1.0f};
    const float pm[9] = {0.7f, 0.2f, 0.1f, 0.1f, 0.3f, 0.6f, 0.3f, 0.4f, 0.3f};
    const float ym[3] = {0.0f, 1.0f, 1.0f};

    (void)state;
    /* binary: 0.5 counts as class 1, so rows 1 (0.5 vs 0) and 3 are wrong */
    assert_float_equal(nn_metrics_accuracy(pb, 1, yb, 4), 0.5, 1e-12);
    assert_float_equal(nn_metrics_accuracy(pm, 3, ym, 3), 2.0 / 3.0, 1e-12);
    assert_true(isnan(nn_metrics_accuracy(pb, 1, yb, 0)));
}

static void test_log_loss(void **state)
{
    const float pb[2] = {0.9f, 0.2f};
    const float yb[2] = {1.0f, 0.0f};
    const float wrong[2] = {0.0f, 1.0f};
    const float pm[6] = {0.7f, 0.2f, 0.1f, 0.0f, 0.0f, 1.0f};
    const float ym[2] = {1.0f, 0.0f};
    double v;

    (void)state;
    assert_float_equal(nn_metrics_log_loss(pb, 1, yb, 2), -(log(0.9) + log(0.8)) / 2.0, 1e-6);
    /* confident wrong answers are clipped at 1e-7: finite */
    v = nn_metrics_log_loss(wrong, 1, yb, 2);
    assert_true(isfinite(v));
    assert_float_equal(v, -log(1e-7), 1e-3);
    v = nn_metrics_log_loss(pm, 3, ym, 2);
    assert_float_equal(v, (-log(0.2) - log(1e-7)) / 2.0, 1e-3);
}

static void test_auc(void **state)
{
    const float s1[4] = {0.1f, 0.4f, 0.35f, 0.8f};
    const float y1[4] = {0.0f, 0.0f, 1.0f, 1.0f};
    const float s2[4] = {0.1f, 0.4f, 0.4f, 0.8f};
    const float s3[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    const float s4[4] = {0.9f, 0.8f, 0.2f, 0.1f};
    const float yall[4] = {1.0f, 1.0f, 1.0f, 1.0f};

    (void)state;
    assert_float_equal(nn_metrics_auc(s1, y1, 4), 0.75, 1e-12);
    /* tie between a positive and a negative at 0.4 counts one half: (1 + 0.5 + 2) / 4 */
    assert_float_equal(nn_metrics_auc(s2, y1, 4), 0.875, 1e-12);
    assert_float_equal(nn_metrics_auc(s3, y1, 4), 0.5, 1e-12);
    assert_float_equal(nn_metrics_auc(s4, y1, 4), 0.0, 1e-12);
    assert_true(isnan(nn_metrics_auc(s1, yall, 4)));
    nn_alloc_fail_after(0);
    assert_true(isnan(nn_metrics_auc(s1, y1, 4)));
    nn_alloc_fail_after(-1);
}

static void test_rmse_mae(void **state)
{
    const float p[3] = {1.0f, 2.0f, 3.0f};
    const float y[3] = {1.0f, 2.0f, 5.0f};
    const float y2[3] = {0.0f, 4.0f, 3.0f};

    (void)state;
    assert_float_equal(nn_metrics_rmse(p, y, 3), sqrt(4.0 / 3.0), 1e-9);
    assert_float_equal(nn_metrics_mae(p, y, 3), 2.0 / 3.0, 1e-9);
    assert_float_equal(nn_metrics_rmse(p, y2, 3), sqrt(5.0 / 3.0), 1e-9);
    assert_float_equal(nn_metrics_mae(p, y2, 3), 1.0, 1e-9);
    assert_true(isnan(nn_metrics_rmse(p, y, 0)));
}

static void test_confusion(void **state)
{
    const float pm[12] = {0.7f, 0.2f, 0.1f, 0.1f, 0.3f, 0.6f, 0.3f, 0.4f, 0.3f, 0.1f, 0.1f, 0.8f};
    const float ym[4] = {0.0f, 1.0f, 1.0f, 2.0f};
    const float pb[5] = {0.9f, 0.2f, 0.6f, 0.4f, 0.1f};
    const float yb[5] = {1.0f, 0.0f, 0.0f, 1.0f, 0.0f};
    const size_t want_m[9] = {1, 0, 0, 0, 1, 1, 0, 0, 1};
    const size_t want_b[4] = {2, 1, 1, 1};
    size_t cm[9];
    int i;

    (void)state;
    nn_metrics_confusion(pm, 3, 3, ym, 4, cm);
    for (i = 0; i < 9; i++) {
        assert_int_equal(cm[i], want_m[i]);
    }
    nn_metrics_confusion(pb, 1, 2, yb, 5, cm);
    for (i = 0; i < 4; i++) {
        assert_int_equal(cm[i], want_b[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy),  cmocka_unit_test(test_log_loss),
        cmocka_unit_test(test_auc),       cmocka_unit_test(test_rmse_mae),
        cmocka_unit_test(test_confusion),
    };

    openblas_set_num_threads(1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
