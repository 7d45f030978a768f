/*
 * test_rng: the seeded generator — same seed same sequence, different seeds differ, the
 * ranges of uniform/below, the moments of normal, and shuffles that are permutations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn/rng.h"

static void test_same_seed_same_sequence(void **state)
{
    struct nn_rng a, b, c;
    int i, differ = 0;

    (void)state;
    nn_rng_seed(&a, 42);
    nn_rng_seed(&b, 42);
    nn_rng_seed(&c, 43);
    for (i = 0; i < 1000; i++) {
        uint64_t x = nn_rng_next(&a), z = nn_rng_next(&c);

        assert_true(x == nn_rng_next(&b));
        differ += x != z;
    }
    assert_true(differ > 990);
    nn_rng_seed(&a, 0); /* seed 0 is valid: not stuck at zero */
    assert_true(nn_rng_next(&a) != 0 || nn_rng_next(&a) != 0);
}

static void test_ranges_and_moments(void **state)
{
    struct nn_rng r;
    double s = 0.0, ss = 0.0;
    size_t hist[7] = {0};
    int i;

    (void)state;
    nn_rng_seed(&r, 7);
    for (i = 0; i < 70000; i++) {
        double u = nn_rng_uniform(&r);
        uint64_t k = nn_rng_below(&r, 7);

        assert_true(u >= 0.0 && u < 1.0);
        assert_true(k < 7);
        hist[k]++;
    }
    for (i = 0; i < 7; i++) {
        assert_true(hist[i] > 9400 && hist[i] < 10600);
    }
    for (i = 0; i < 100000; i++) {
        double z = nn_rng_normal(&r);

        assert_true(isfinite(z));
        s += z;
        ss += z * z;
    }
    assert_float_equal(s / 100000.0, 0.0, 0.02);
    assert_float_equal(ss / 100000.0, 1.0, 0.02);
}

static void test_shuffle(void **state)
{
    struct nn_rng a, b;
    size_t x[50], y[50], seen[50];
    size_t i;
    int moved = 0;

    (void)state;
    for (i = 0; i < 50; i++) {
        x[i] = y[i] = i;
    }
    nn_rng_seed(&a, 11);
    nn_rng_seed(&b, 11);
    nn_rng_shuffle(&a, x, 50);
    nn_rng_shuffle(&b, y, 50);
    assert_memory_equal(x, y, sizeof(x));
    memset(seen, 0, sizeof(seen));
    for (i = 0; i < 50; i++) {
        assert_true(x[i] < 50);
        seen[x[i]]++;
        moved += x[i] != i;
    }
    for (i = 0; i < 50; i++) {
        assert_int_equal(seen[i], 1);
    }
    assert_true(moved > 40);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_ranges_and_moments),
        cmocka_unit_test(test_shuffle),
    };

    openblas_set_num_threads(1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
