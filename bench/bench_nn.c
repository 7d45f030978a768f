/*
 * bench_nn: training and prediction speed of the nn/ core, with the machine it ran on.
 *
 * What it prints: the CPU, core count and OpenBLAS build; then for two networks on
 * synthetic data — (a) 57 -> 64 relu -> 1 sigmoid, 4,601 rows, batch 32, SGD, 50 epochs
 * (spambase-sized) and (b) 784 -> 128 relu -> 10 softmax, 60,000 rows, batch 64, Adam,
 * 1 epoch (MNIST-sized), (c) 2^18 hashed sparse inputs -> 64 relu -> 1 sigmoid (the spam
 * filter's shape; lazy Adam on touched rows) — training rows per second, the GFLOP/s reached inside
 * the GEMMs during training, the GFLOP/s of cblas_sgemm alone on the same shapes and on a 1024^3
 * product; and for (a) the ns per single-row prediction and rows/s of 1,000-row batches.
 * How the products are timed: this program defines cblas_sgemm (and cblas_sgemv, which
 * nn_mat_gemm uses for n == 1) itself, so the library's calls land here; the wrappers count
 * 2mnk flops and time the real OpenBLAS functions (found with dlsym(RTLD_NEXT)). Timing is switched
 * on only for a separate instrumented run, so rows/s figures carry no wrapper overhead. Every
 * figure is a median of several runs. BLAS runs single-threaded (as training must, for
 * determinism).
 * For bench/summary.py: when BENCH_RESULTS names a file, each headline figure is also appended
 * to it as a line `RESULT <key> <value>` (keys prefixed with BENCH_TAG when that is set, e.g.
 * the second run without OPENBLAS_CORETYPE that scripts/run-bench.sh makes).
 */
#include <stdarg.h>
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"
#include "nn/mat.h"
#include "nn/net.h"
#include "nn/rng.h"
#include "nn/train.h"

/* ---------------------------------------------------------------------------------------
 * cblas_sgemm interposer (this program's only mutable state)
 * ------------------------------------------------------------------------------------- */

typedef void (*sgemm_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE,
                         const enum CBLAS_TRANSPOSE, const blasint, const blasint, const blasint,
                         const float, const float *, const blasint, const float *, const blasint,
                         const float, float *, const blasint);

typedef void (*sgemv_fn)(const enum CBLAS_ORDER, const enum CBLAS_TRANSPOSE, const blasint,
                         const blasint, const float, const float *, const blasint, const float *,
                         const blasint, const float, float *, const blasint);

#define MAX_SHAPES 32

struct shape {
    int ta, tb, m, n, k;
    long calls;
    double seconds; /* inside training */
};

static struct {
    sgemm_fn real;
    sgemv_fn real_gemv;
    int on; /* time and count calls */
    double gemv_seconds, gemv_flops;
    long gemv_calls;
    double seconds; /* inside the products */
    double flops;
    struct shape shapes[MAX_SHAPES];
    int n_shapes;
    FILE *results; /* BENCH_RESULTS, or NULL */
    const char *tag;
} gemm_probe;

/* Appends `RESULT <tag><key> <value>` to the results file, when there is one. */
static void result(const char *key, const char *fmt, ...)
{
    va_list ap;

    if (gemm_probe.results == NULL) {
        return;
    }
    fprintf(gemm_probe.results, "RESULT %s%s ", gemm_probe.tag, key);
    va_start(ap, fmt);
    vfprintf(gemm_probe.results, fmt, ap);
    va_end(ap);
    fputc('\n', gemm_probe.results);
    fflush(gemm_probe.results);
}


void cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                 const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n, const blasint k,
                 const float alpha, const float *a, const blasint lda, const float *b,
                 const blasint ldb, const float beta, float *c, const blasint ldc)
{
    double t0;
    int i;

    if (!gemm_probe.on) {
        gemm_probe.real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    t0 = now();
    gemm_probe.real(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    t0 = now() - t0;
    gemm_probe.seconds += t0;
    gemm_probe.flops += 2.0 * m * n * k;
    for (i = 0; i < gemm_probe.n_shapes; i++) {
        struct shape *s = &gemm_probe.shapes[i];

        if (s->ta == (ta == CblasTrans) && s->tb == (tb == CblasTrans) && s->m == m && s->n == n &&
            s->k == k) {
            s->calls++;
            s->seconds += t0;
            return;
        }
    }
    if (gemm_probe.n_shapes < MAX_SHAPES) {
        struct shape s = {ta == CblasTrans, tb == CblasTrans, m, n, k, 1, t0};

        gemm_probe.shapes[gemm_probe.n_shapes++] = s;
    }
}

/* nn_mat_gemm sends n == 1 products (one-unit output layers) to sgemv: timed too. */
void cblas_sgemv(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE trans, const blasint m,
                 const blasint n, const float alpha, const float *a, const blasint lda,
                 const float *x, const blasint incx, const float beta, float *y, const blasint incy)
{
    double t0;

    if (!gemm_probe.on) {
        gemm_probe.real_gemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
        return;
    }
    t0 = now();
    gemm_probe.real_gemv(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
    gemm_probe.gemv_seconds += now() - t0;
    gemm_probe.gemv_flops += 2.0 * m * n;
    gemm_probe.gemv_calls++;
}

/* ---------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void print_machine(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512], model[256] = "unknown";

    if (f != NULL) {
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');

                if (p != NULL) {
                    snprintf(model, sizeof(model), "%s", p + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    printf("machine: %s, %ld cores online\n", model, sysconf(_SC_NPROCESSORS_ONLN));
    result("cpu_model", "%s", model);
    result("cores", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    result("blas_core", "%s", openblas_get_corename());
    f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fgets(line, sizeof(line), f) != NULL) {
            line[strcspn(line, "\n")] = '\0';
            printf("load average at start: %s (other work on the machine slows wall-clock "
                   "figures; CPU-time figures are printed beside them)\n",
                   line);
        }
        fclose(f);
    }
    printf("openblas: core %s; %s; threads used here: 1\n", openblas_get_corename(),
           openblas_get_config());
}

/* Synthetic classification data: uniform features, labels from a fixed random linear map
 * (argmax over k scores; k == 1: sign), so the task is learnable. */
static void make_data(struct nn_dataset *ds, size_t rows, int cols, int k, struct nn_rng *rng)
{
    float *proj = malloc((size_t)cols * (size_t)(k > 1 ? k : 1) * sizeof(float));
    int kk = k > 1 ? k : 1, j, c;
    size_t r;

    if (proj == NULL || nn_dataset_alloc(ds, rows, cols, 0, 0, 1) != 0) {
        fprintf(stderr, "bench_nn: out of memory\n");
        exit(1);
    }
    for (j = 0; j < cols * kk; j++) {
        proj[j] = (float)(2.0 * nn_rng_uniform(rng) - 1.0);
    }
    for (r = 0; r < rows; r++) {
        float *x = ds->dense + r * (size_t)cols, best = -INFINITY;
        int arg = 0;

        for (j = 0; j < cols; j++) {
            x[j] = (float)nn_rng_uniform(rng);
        }
        for (c = 0; c < kk; c++) {
            float s = 0.0f;

            for (j = 0; j < cols; j++) {
                s += (x[j] - 0.5f) * proj[(size_t)j * kk + (size_t)c];
            }
            if (s > best) {
                best = s;
                arg = c;
            }
        }
        ds->y[r] = k > 1 ? (float)arg : (best > 0.0f ? 1.0f : 0.0f);
    }
    free(proj);
}

struct config {
    const char *name;
    int in, hidden, out, batch, epochs;
    size_t rows;
    enum nn_optim opt;
    float lr;
    enum nn_task task;
    int reps;
};

static struct nn_net *make_net(const struct config *c, int max_batch)
{
    struct nn_net *net = NULL;
    struct nn_rng rng;

    if (nn_net_new(c->in, 0, &c->hidden, 1, NN_ACT_RELU, c->out,
                   c->out == 1 ? NN_ACT_SIGMOID : NN_ACT_SOFTMAX, max_batch, &net, NULL) != 0) {
        fprintf(stderr, "bench_nn: cannot make the network\n");
        exit(1);
    }
    nn_rng_seed(&rng, 1);
    nn_net_init(net, &rng);
    return net;
}

/* Trains once; returns wall seconds and CPU seconds in *cpu (may be NULL). */
static double train_once(const struct config *c, struct nn_net *net, const struct nn_dataset *ds,
                         double *cpu)
{
    struct nn_train_params p;
    struct nn_train_result res;
    struct nn_rng rng;
    struct nn_err err;
    double t0, c0;
    int rc;

    nn_train_params_default(&p);
    p.optimizer = c->opt;
    p.learning_rate = c->lr;
    p.epochs = c->epochs;
    p.batch_size = c->batch;
    p.patience = 0;
    nn_rng_seed(&rng, 2);
    t0 = now();
    c0 = cpu_now();
    rc = nn_train(net, c->task, ds, NULL, &p, NULL, NULL, NULL, &rng, &res, &err);
    t0 = now() - t0;
    if (cpu != NULL) {
        *cpu = cpu_now() - c0;
    }
    if (rc != 0) {
        fprintf(stderr, "bench_nn: training failed: %s\n", err.msg);
        exit(1);
    }
    return t0;
}

/* GFLOP/s of the real sgemm on one shape (median of reps of `calls` calls). */
static double sgemm_alone(const struct shape *s, long calls, int reps)
{
    int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n, r;
    size_t na = (size_t)s->m * (size_t)s->k, nb = (size_t)s->k * (size_t)s->n;
    float *a = calloc(na, sizeof(float)), *b = calloc(nb, sizeof(float));
    float *cc = calloc((size_t)s->m * (size_t)s->n, sizeof(float));
    double t[9];
    long i;
    size_t j;

    if (a == NULL || b == NULL || cc == NULL) {
        fprintf(stderr, "bench_nn: out of memory\n");
        exit(1);
    }
    for (j = 0; j < na; j++) {
        a[j] = (float)(j % 13) * 0.01f;
    }
    for (j = 0; j < nb; j++) {
        b[j] = (float)(j % 7) * 0.01f;
    }
    for (r = 0; r < reps && r < 9; r++) {
        double t0 = now();

        for (i = 0; i < calls; i++) {
            gemm_probe.real(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                            s->tb ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f, a, lda, b,
                            ldb, 0.0f, cc, s->n);
        }
        t[r] = now() - t0;
    }
    free(a);
    free(b);
    free(cc);
    return 2.0 * s->m * s->n * s->k * (double)calls / median(t, reps < 9 ? reps : 9) * 1e-9;
}

/* ---------------------------------------------------------------------------------------
 * The runs
 * ------------------------------------------------------------------------------------- */

static void bench_training(const struct config *c, const struct nn_dataset *ds)
{
    double t[9], tc[9], tmed, cmed, tinst = 0.0, in_gemm, flops, alone_time = 0.0;
    int r, i;

    for (r = 0; r < c->reps; r++) {
        struct nn_net *net = make_net(c, c->batch);

        t[r] = train_once(c, net, ds, &tc[r]);
        nn_net_free(net);
    }
    tmed = median(t, c->reps);
    cmed = median(tc, c->reps);
    /* one instrumented run for the time inside the products */
    memset(&gemm_probe.shapes, 0, sizeof(gemm_probe.shapes));
    gemm_probe.n_shapes = 0;
    gemm_probe.seconds = 0.0;
    gemm_probe.flops = 0.0;
    gemm_probe.gemv_seconds = 0.0;
    gemm_probe.gemv_flops = 0.0;
    gemm_probe.gemv_calls = 0;
    gemm_probe.on = 1;
    {
        struct nn_net *net = make_net(c, c->batch);

        tinst = train_once(c, net, ds, NULL);
        nn_net_free(net);
    }
    gemm_probe.on = 0;
    in_gemm = gemm_probe.seconds;
    flops = gemm_probe.flops;
    printf("\n(%s) %d -> %d relu -> %d %s, %zu rows, batch %d, %s, %d epoch%s\n", c->name, c->in,
           c->hidden, c->out, c->out == 1 ? "sigmoid" : "softmax", c->rows, c->batch,
           c->opt == NN_OPTIM_ADAM ? "adam" : "sgd", c->epochs, c->epochs == 1 ? "" : "s");
    printf("  training: %.3f s wall (median of %d) = %.0f rows/s; %.3f s CPU = %.0f rows/s\n", tmed,
           c->reps, (double)c->rows * c->epochs / tmed, cmed, (double)c->rows * c->epochs / cmed);
    printf("  sgemm products: %.2f GFLOP in %.3f s = %.1f GFLOP/s inside training "
           "(%.0f%% of that run's %.3f s)\n",
           flops * 1e-9, in_gemm, flops / in_gemm * 1e-9, 100.0 * in_gemm / tinst, tinst);
    if (gemm_probe.gemv_calls > 0) {
        printf("  sgemv products (n = 1): %ld calls, %.3f GFLOP in %.3f s = %.1f GFLOP/s "
               "(%.0f%% of its time)\n",
               gemm_probe.gemv_calls, gemm_probe.gemv_flops * 1e-9, gemm_probe.gemv_seconds,
               gemm_probe.gemv_flops / gemm_probe.gemv_seconds * 1e-9,
               100.0 * gemm_probe.gemv_seconds / tinst);
    }
    /* the same shapes, same call counts, sgemm alone */
    for (i = 0; i < gemm_probe.n_shapes; i++) {
        const struct shape *s = &gemm_probe.shapes[i];
        double g = sgemm_alone(s, s->calls > 2000 ? 2000 : s->calls, 5);

        alone_time += 2.0 * s->m * s->n * s->k * (double)s->calls / (g * 1e9);
        printf(
            "    sgemm %c%c m=%-4d n=%-4d k=%-4d x%-5ld in training %6.1f, alone %6.1f GFLOP/s\n",
            s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->m, s->n, s->k, s->calls,
            2.0 * s->m * s->n * s->k * (double)s->calls / s->seconds * 1e-9, g);
    }
    printf("  sgemm alone on the same shapes and counts: %.1f GFLOP/s\n",
           flops / alone_time * 1e-9);
    {
        char key[64];

        snprintf(key, sizeof(key), "train_%s_neurond_rows_s", c->name);
        result(key, "%.0f", (double)c->rows * c->epochs / tmed);
        snprintf(key, sizeof(key), "train_%s_neurond_cpu_rows_s", c->name);
        result(key, "%.0f", (double)c->rows * c->epochs / cmed);
        snprintf(key, sizeof(key), "gemm_%s_train_gflops", c->name);
        result(key, "%.2f", flops / in_gemm * 1e-9);
        snprintf(key, sizeof(key), "gemm_%s_alone_gflops", c->name);
        result(key, "%.2f", flops / alone_time * 1e-9);
        snprintf(key, sizeof(key), "gemm_%s_share", c->name);
        result(key, "%.3f", in_gemm / tinst);
    }
}

static void bench_square(void)
{
    struct shape s = {0, 0, 1024, 1024, 1024, 1, 0.0};

    double g = sgemm_alone(&s, 3, 5);

    printf("\nsgemm alone, 1024 x 1024 x 1024, 1 thread: %.1f GFLOP/s\n", g);
    result("gemm_1024_gflops", "%.2f", g);
}

static void bench_prediction(const struct config *c, const struct nn_dataset *ds)
{
    struct nn_net *net = make_net(c, 1000);
    float *scratch = malloc(nn_net_scratch_len(net) * sizeof(float));
    float *out = malloc(1000 * sizeof(float));
    struct nn_dataset view = *ds;
    double t[9], tc[9], sink = 0.0;
    const long per = 200000;
    int r;

    if (scratch == NULL || out == NULL) {
        fprintf(stderr, "bench_nn: out of memory\n");
        exit(1);
    }
    train_once(c, net, ds, NULL); /* realistic weights (ReLU sparsity) */
    for (r = 0; r < 7; r++) {
        double t0 = now(), c0 = cpu_now();
        long i;

        for (i = 0; i < per; i++) {
            float y;

            nn_net_predict_row(net, ds->dense + (size_t)(i % 1000) * (size_t)c->in, NULL, NULL, 0,
                               scratch, &y);
            sink += y;
        }
        t[r] = (now() - t0) / (double)per * 1e9;
        tc[r] = (cpu_now() - c0) / (double)per * 1e9;
    }
    printf("\nprediction, network (a):\n");
    printf("  single row (nn_net_predict_row): %.0f ns wall, %.0f ns CPU per row (medians of 7 x "
           "%ld)\n",
           median(t, 7), median(tc, 7), per);
    result("predict_row_ns", "%.1f", median(t, 7));
    result("predict_row_cpu_ns", "%.1f", median(tc, 7));
    view.rows = 1000;
    for (r = 0; r < 7; r++) {
        double t0 = now(), c0 = cpu_now();
        int i;

        for (i = 0; i < 200; i++) {
            nn_net_predict(net, &view, out);
            sink += out[i];
        }
        t[r] = 200.0 * 1000.0 / (now() - t0);
        tc[r] = 200.0 * 1000.0 / (cpu_now() - c0);
    }
    printf("  batches of 1,000 rows (nn_net_predict): %.0f rows/s wall, %.0f rows/s CPU "
           "(medians of 7)\n",
           median(t, 7), median(tc, 7));
    result("predict_batch_rows_s", "%.0f", median(t, 7));
    result("predict_batch_cpu_rows_s", "%.0f", median(tc, 7));
    if (sink == 42.4242) {
        printf(" \n");
    }
    free(scratch);
    free(out);
    nn_net_free(net);
}

/* (c) hashed-text shape: 2^18 sparse inputs, ~100 non-zeros a row, 64 relu, 1 sigmoid, Adam
 * with lazy sparse updates. Shows the cost is ~ nnz x width, not 2^18 x width. Columns are
 * uniform at random (a worst case: real text is Zipfian, so its hot rows stay in cache; here
 * nearly every touched row of params, grads and both Adam moments is a cache miss). */
static void bench_sparse(void)
{
    const int S = 1 << 18, H = 64, NNZ = 100, batch = 32, epochs = 2;
    const size_t rows = 5000;
    struct nn_dataset ds;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    struct nn_train_params p;
    struct nn_err err;
    double t[3], tc[3], tinit;
    size_t r, pos = 0;
    int rep;

    if (nn_dataset_alloc(&ds, rows, 0, S, rows * (size_t)NNZ, 1) != 0) {
        fprintf(stderr, "bench_nn: out of memory\n");
        exit(1);
    }
    nn_rng_seed(&rng, 11);
    for (r = 0; r < rows; r++) {
        int j, col = 0, cls = (int)(r % 2);

        ds.indptr[r] = pos;
        for (j = 0; j < NNZ; j++) { /* strictly increasing columns, class-dependent parity */
            int32_t c;

            col += 1 + (int)nn_rng_below(&rng, (uint64_t)(2 * (S / NNZ) - 2));
            if (col >= S) {
                break;
            }
            c = (int32_t)((col & ~1) | cls);
            if (pos > ds.indptr[r] && ds.indices[pos - 1] >= c) {
                continue;
            }
            ds.indices[pos] = c;
            ds.values[pos] = 0.1f;
            pos++;
        }
        ds.indptr[r + 1] = pos;
        ds.y[r] = (float)cls;
    }
    nn_train_params_default(&p);
    p.epochs = epochs;
    p.batch_size = batch;
    p.patience = 0;
    for (rep = 0; rep < 3; rep++) {
        double t0 = now(), c0;

        if (nn_net_new(0, S, &H, 1, NN_ACT_RELU, 1, NN_ACT_SIGMOID, batch, &net, &err) != 0) {
            fprintf(stderr, "bench_nn: %s\n", err.msg);
            exit(1);
        }
        nn_net_init(net, &rng);
        tinit = now() - t0;
        t0 = now();
        c0 = cpu_now();
        if (nn_train(net, NN_TASK_BINARY, &ds, NULL, &p, NULL, NULL, NULL, &rng, NULL, &err) != 0) {
            fprintf(stderr, "bench_nn: %s\n", err.msg);
            exit(1);
        }
        t[rep] = now() - t0;
        tc[rep] = cpu_now() - c0;
        nn_net_free(net);
        net = NULL;
    }
    printf(
        "\n(c) sparse: %d hashed inputs (%.0f non-zeros a row) -> %d relu -> 1 sigmoid, %zu rows, "
        "batch %d, adam (lazy rows), %d epochs\n",
        S, (double)pos / (double)rows, H, rows, batch, epochs);
    printf("  training: %.3f s wall = %.0f rows/s; %.3f s CPU = %.0f rows/s (medians of 3); "
           "net set-up + init %.3f s\n",
           median(t, 3), (double)rows * epochs / median(t, 3), median(tc, 3),
           (double)rows * epochs / median(tc, 3), tinit);
    result("train_c_neurond_rows_s", "%.0f", (double)rows * epochs / median(t, 3));
    nn_dataset_free(&ds);
}

int main(void)
{
    const struct config a = {"a", 57, 64, 1, 32, 50, 4601, NN_OPTIM_SGD, 0.01f, NN_TASK_BINARY, 5};
    const struct config b = {
        "b", 784, 128, 10, 64, 1, 60000, NN_OPTIM_ADAM, 0.001f, NN_TASK_MULTICLASS, 3};
    struct nn_dataset da, db;
    struct nn_rng rng;

    *(void **)(&gemm_probe.real) = dlsym(RTLD_NEXT, "cblas_sgemm");
    *(void **)(&gemm_probe.real_gemv) = dlsym(RTLD_NEXT, "cblas_sgemv");
    if (gemm_probe.real == NULL || gemm_probe.real_gemv == NULL) {
        fprintf(stderr, "bench_nn: cannot find the real cblas_sgemm / cblas_sgemv\n");
        return 1;
    }
    gemm_probe.tag = getenv("BENCH_TAG") != NULL ? getenv("BENCH_TAG") : "";
    if (getenv("BENCH_RESULTS") != NULL && getenv("BENCH_RESULTS")[0] != '\0') {
        gemm_probe.results = fopen(getenv("BENCH_RESULTS"), "a");
    }
    openblas_set_num_threads(1);
    printf("== bench_nn: training and prediction (nn/ core) ==\n");
    print_machine();
    nn_rng_seed(&rng, 7);
    make_data(&da, a.rows, a.in, a.out, &rng);
    make_data(&db, b.rows, b.in, b.out, &rng);
    bench_training(&a, &da);
    bench_training(&b, &db);
    bench_sparse();
    bench_square();
    bench_prediction(&a, &da);
    nn_dataset_free(&da);
    nn_dataset_free(&db);
    if (gemm_probe.results != NULL) {
        fclose(gemm_probe.results);
    }
    return 0;
}
