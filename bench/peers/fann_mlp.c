/*
 * fann_mlp: the FANN peer for bench_nn's training configuration (a).
 *
 * What and why: issue 9 quotes FANN beside PyTorch and scikit-learn for network (a) (57 -> 64
 * -> 1 sigmoid, 4,601 rows, 50 epochs, learning rate 0.01): a C library built for small
 * networks, so its rows/s show what per-call overhead costs without Python. FANN 2.2 (Debian's
 * libfann-dev) has no ReLU and no mini-batches: the hidden layer uses FANN_LINEAR_PIECE (linear,
 * clipped to [0, 1]: the same cost as ReLU) and training is FANN_TRAIN_INCREMENTAL (one
 * update a row, the nearest to batch 32 SGD that it offers). Data as in bench_nn (uniform
 * features, labels from a fixed random linear map), float. Prints `RESULT key value` lines
 * (median wall and CPU rows/s of 3 runs) and a human line on stderr.
 * Built and run by scripts/run-bench.sh when fann.h is there (scripts/deps.sh bench installs
 * it); never part of the build or the tests.
 */
#define _POSIX_C_SOURCE 200809L
#include <fann.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROWS   4601
#define IN     57
#define HIDDEN 64
#define EPOCHS 50
#define RUNS   3

static double clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(void)
{
    struct fann_train_data *data = fann_create_train(ROWS, IN, 1);
    double proj[IN], wall[RUNS], cpu[RUNS];
    unsigned int r, j;
    int run;

    if (data == NULL) {
        fprintf(stderr, "fann_mlp: out of memory\n");
        return 1;
    }
    srand(7);
    for (j = 0; j < IN; j++) {
        proj[j] = 2.0 * rand() / RAND_MAX - 1.0;
    }
    for (r = 0; r < ROWS; r++) {
        double s = 0.0;

        for (j = 0; j < IN; j++) {
            data->input[r][j] = (fann_type)rand() / (fann_type)RAND_MAX;
            s += (data->input[r][j] - 0.5) * proj[j];
        }
        data->output[r][0] = s > 0.0 ? 1.0f : 0.0f;
    }
    for (run = 0; run < RUNS; run++) {
        struct fann *ann = fann_create_standard(3, IN, HIDDEN, 1);
        double w0, c0;

        fann_set_activation_function_hidden(ann, FANN_LINEAR_PIECE);
        fann_set_activation_function_output(ann, FANN_SIGMOID);
        fann_set_training_algorithm(ann, FANN_TRAIN_INCREMENTAL);
        fann_set_learning_rate(ann, 0.01f);
        fann_randomize_weights(ann, -0.1f, 0.1f);
        w0 = clock_s(CLOCK_MONOTONIC);
        c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        for (j = 0; j < EPOCHS; j++) {
            fann_shuffle_train_data(data);
            fann_train_epoch(ann, data);
        }
        wall[run] = clock_s(CLOCK_MONOTONIC) - w0;
        cpu[run] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        fann_destroy(ann);
    }
    qsort(wall, RUNS, sizeof(double), cmp);
    qsort(cpu, RUNS, sizeof(double), cmp);
    printf("RESULT train_a_fann_rows_s %.0f\n", (double)ROWS * EPOCHS / wall[RUNS / 2]);
    printf("RESULT train_a_fann_cpu_rows_s %.0f\n", (double)ROWS * EPOCHS / cpu[RUNS / 2]);
    fprintf(stderr,
            "  fann (a): %.3f s wall = %.0f rows/s; %.3f s CPU = %.0f rows/s (medians of %d; "
            "incremental, hidden FANN_LINEAR_PIECE)\n",
            wall[RUNS / 2], (double)ROWS * EPOCHS / wall[RUNS / 2], cpu[RUNS / 2],
            (double)ROWS * EPOCHS / cpu[RUNS / 2], RUNS);
    fann_destroy_train(data);
    return 0;
}
