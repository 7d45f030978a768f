/*
 * nn_only: a tiny program that uses the network maths alone — it trains a 2-8-1 network on
 * XOR — built against build/libnn.a, every object of it (--whole-archive), with
 * `-lopenblas -lm` and nothing else, and without the include paths of cJSON, GLib or GMime.
 * What: the build fails when anything in nn/ pulls in cJSON, GLib/GMime, SQLite or the daemon;
 * the run fails when the network does not learn XOR.
 * Why: nn/ is the library one links into another program (DESIGN.md: libm + BLAS only).
 * Not cmocka (that would be one more library): it prints cmocka's summary line itself so that
 * scripts/run-tests.sh counts it.
 */
#include <stdio.h>

#include "nn/err.h"
#include "nn/mat.h"
#include "nn/net.h"
#include "nn/rng.h"
#include "nn/train.h"

int main(void)
{
    static const float x[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    static const float y[4] = {0, 1, 1, 0};
    struct nn_dataset ds = {0};
    struct nn_net *net = NULL;
    struct nn_train_params p;
    struct nn_train_result res;
    struct nn_rng rng;
    struct nn_err err;
    const int hidden[1] = {8};
    float out[4];
    int right = 0;

    if (nn_dataset_alloc(&ds, 64, 2, 0, 0, 1) != 0) {
        return 1;
    }
    for (size_t i = 0; i < ds.rows; i++) {
        ds.dense[2 * i] = x[i % 4][0];
        ds.dense[2 * i + 1] = x[i % 4][1];
        ds.y[i] = y[i % 4];
    }
    nn_rng_seed(&rng, 42);
    if (nn_net_new(2, 0, hidden, 1, NN_ACT_TANH, 1, NN_ACT_SIGMOID, 16, &net, &err) != 0) {
        fprintf(stderr, "nn_only: %s\n", err.msg);
        return 1;
    }
    nn_net_init(net, &rng);
    nn_train_params_default(&p);
    p.learning_rate = 0.05f;
    p.epochs = 300;
    p.batch_size = 16;
    p.patience = 0;
    if (nn_train(net, NN_TASK_BINARY, &ds, NULL, &p, NULL, NULL, NULL, &rng, &res, &err) != 0) {
        fprintf(stderr, "nn_only: training failed: %s\n", err.msg);
        return 1;
    }
    ds.rows = 4;
    if (nn_net_predict(net, &ds, out) != 0) {
        return 1;
    }
    for (int i = 0; i < 4; i++) {
        right += (out[i] > 0.5f) == (y[i] > 0.5f);
    }
    nn_net_free(net);
    ds.rows = 64;
    nn_dataset_free(&ds);
    if (right != 4) {
        printf("nn_only: XOR %d/4 right\n[  FAILED  ] 1 test(s), listed below:\n", right);
        return 1;
    }
    printf("nn_only: XOR learnt by a program linked with -lopenblas -lm alone\n"
           "[  PASSED  ] 1 test(s).\n");
    return 0;
}
