/*
 * bench_explain: the cost of explaining one row (integrated gradients, nn/ig.c) beside the
 * cost of predicting it, on network (a) of bench_nn: 57 -> 64 relu -> 1 sigmoid, trained for
 * 10 epochs on synthetic spambase-shaped rows (uniform features, labels from a fixed random
 * linear map), explained from the mean training row.
 * What it prints: us per explained row, wall and CPU (medians of 7 passes over 1,000 held-out
 * rows; the CPU figure is the steadier one on a shared machine), the
 * mean number of steps and how many rows met completeness, and ns per predicted row; the
 * issue's budget is 20 us a row. With BENCH_RESULTS set, `RESULT explain_row_us`,
 * `explain_row_cpu_us`, `explain_steps`, `explain_converged` and `explain_predict_row_ns` lines are
 * appended to it. The HTTP figures (/predict and /spam-score with and without explain) are
 * system_bench.py's.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_clock.h"
#include "nn/ig.h"
#include "nn/net.h"
#include "nn/rng.h"
#include "nn/train.h"

#define IN     57
#define HIDDEN 64
#define ROWS   4601
#define TEST   1000
#define PASSES 7


static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void result(const char *key, double v)
{
    const char *path = getenv("BENCH_RESULTS");
    FILE *f = path != NULL && path[0] != '\0' ? fopen(path, "a") : NULL;

    if (f != NULL) {
        fprintf(f, "RESULT %s %.4g\n", key, v);
        fclose(f);
    }
}

/* ROWS + TEST rows: uniform in [0, 1), label = sign of a fixed random projection. */
static void make_rows(struct nn_dataset *ds, struct nn_rng *rng)
{
    float proj[IN];
    size_t r;
    int j;

    if (nn_dataset_alloc(ds, ROWS + TEST, IN, 0, 0, 1) != 0) {
        fprintf(stderr, "bench_explain: out of memory\n");
        exit(1);
    }
    for (j = 0; j < IN; j++) {
        proj[j] = (float)(2.0 * nn_rng_uniform(rng) - 1.0);
    }
    for (r = 0; r < ROWS + TEST; r++) {
        float *x = ds->dense + r * IN, s = 0.0f;

        for (j = 0; j < IN; j++) {
            x[j] = (float)nn_rng_uniform(rng);
            s += (x[j] - 0.5f) * proj[j];
        }
        ds->y[r] = s > 0.0f ? 1.0f : 0.0f;
    }
}

int main(void)
{
    static float base[IN], scratch[4096];
    static double attr[IN], times[PASSES], cpus[PASSES];
    struct nn_dataset ds, train;
    struct nn_train_params p;
    struct nn_ig_result res;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_err err;
    const int hidden = HIDDEN;
    long steps = 0, conv = 0;
    double t0, c0, pred_ns;
    float out[1];
    size_t r;
    int j, pass;

    openblas_set_num_threads(1); /* as the daemon and the CLI run it */
    printf("== bench_explain: integrated gradients of one row, network (a) 57-64-1 ==\n");
    nn_rng_seed(&rng, 7);
    make_rows(&ds, &rng);
    train = ds;
    train.rows = ROWS;
    if (nn_net_new(IN, 0, &hidden, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, 32, &net, &err) != 0 ||
        nn_net_scratch_len(net) > sizeof(scratch) / sizeof(float)) {
        fprintf(stderr, "bench_explain: cannot make the network\n");
        return 1;
    }
    nn_net_init(net, &rng);
    nn_train_params_default(&p);
    p.epochs = 10;
    p.batch_size = 32;
    p.patience = 0;
    if (nn_train(net, NN_TASK_BINARY, &train, NULL, &p, NULL, NULL, NULL, &rng, NULL, &err) != 0) {
        fprintf(stderr, "bench_explain: training failed: %s\n", err.msg);
        return 1;
    }
    for (r = 0; r < ROWS; r++) {
        for (j = 0; j < IN; j++) {
            base[j] += ds.dense[r * IN + (size_t)j] / (float)ROWS;
        }
    }
    for (pass = 0; pass < PASSES; pass++) {
        t0 = now();
        c0 = cpu_now();
        for (r = ROWS; r < ROWS + TEST; r++) {
            if (nn_ig_row(net, base, ds.dense + r * IN, NULL, NULL, 0, 0, NULL, attr, NULL, &res,
                          &err) != 0) {
                fprintf(stderr, "bench_explain: %s\n", err.msg);
                return 1;
            }
            if (pass == 0) {
                steps += res.steps;
                conv += res.converged;
            }
        }
        times[pass] = (now() - t0) / TEST * 1e6;
        cpus[pass] = (cpu_now() - c0) / TEST * 1e6;
    }
    qsort(times, PASSES, sizeof(double), cmp_double);
    qsort(cpus, PASSES, sizeof(double), cmp_double);
    t0 = now();
    for (pass = 0; pass < PASSES; pass++) {
        for (r = ROWS; r < ROWS + TEST; r++) {
            nn_net_predict_row(net, ds.dense + r * IN, NULL, NULL, 0, scratch, out);
        }
    }
    pred_ns = (now() - t0) / (PASSES * TEST) * 1e9;
    printf("explain one row: %.2f us wall, %.2f us CPU (medians of %d passes over %d rows; "
           "budget 20 us), %.1f steps a row, %ld of %d rows within 1e-3 of completeness\n",
           times[PASSES / 2], cpus[PASSES / 2], PASSES, TEST, (double)steps / TEST, conv, TEST);
    printf("predict one row: %.0f ns (explaining costs %.0fx)\n", pred_ns,
           times[PASSES / 2] * 1e3 / pred_ns);
    result("explain_row_us", times[PASSES / 2]);
    result("explain_row_cpu_us", cpus[PASSES / 2]);
    result("explain_steps", (double)steps / TEST);
    result("explain_converged", (double)conv / TEST);
    result("explain_predict_row_ns", pred_ns);
    nn_net_free(net);
    nn_dataset_free(&ds);
    return 0;
}
