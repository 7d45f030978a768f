/*
 * bench_csv: CSV reader throughput and the cost of the whole data pipeline.
 *
 * 1. Generates build/bench_numeric.csv (about 200 MB of decimals, fixed seed) if missing and
 *    prints the reader's throughput in MB/s, median of 3 full passes (every field touched).
 * 2. Times csv + schema + features on that file once (the whole numeric pipeline).
 * 3. Times csv + schema + features (fit with an 80/20 train mask) on the spam training set,
 *    median of 3: ../shared/data/spamassassin_train.csv when present, else the xz copy in
 *    tests/data decompressed into build/.
 * Run from the repository root. Prints figures; asserts nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "model/text_decoder.h"
#include "nn/alloc.h"
#include "tab/csv.h"
#include "tab/features.h"
#include "tab/schema.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double median3(double a, double b, double c)
{
    if (a > b) {
        double t = a;
        a = b;
        b = t;
    }
    if (b > c) {
        b = c;
    }
    return a > b ? a : b;
}

static int generate(const char *path, long long target)
{
    char tmp[256];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return -1;
    }
    uint64_t x = 42;
    long long n = fprintf(f, "f0,f1,f2,f3,f4,f5,f6,f7,f8,f9,label\n");
    while (n < target) {
        for (int c = 0; c < 10; c++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double v = (double)(x >> 11) / 9007199254740992.0 * 200.0 - 100.0;
            n += fprintf(f, "%.6f,", v);
        }
        n += fprintf(f, "%d\n", (int)(x >> 63));
    }
    if (fclose(f) != 0) {
        return -1;
    }
    return rename(tmp, path);
}

/* One full pass over path touching every field; returns seconds, or -1. */
static double read_pass(const char *path, size_t *rows)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    struct tab_csv *r = NULL;
    struct nn_err err;
    double t0 = now();
    if (tab_csv_open(f, NULL, &r, &err) != 0) {
        fprintf(stderr, "bench_csv: %s: %s\n", path, err.msg);
        fclose(f);
        return -1;
    }
    size_t nc = tab_csv_ncols(r), sum = 0;
    int rc;
    while ((rc = tab_csv_next(r, &err)) == 1) {
        for (size_t i = 0; i < nc; i++) {
            size_t len;
            const char *v = tab_csv_field(r, i, &len);
            sum += len + (size_t)(unsigned char)v[0];
        }
    }
    double t = now() - t0;
    *rows = tab_csv_rows(r);
    tab_csv_close(r);
    fclose(f);
    if (rc < 0) {
        fprintf(stderr, "bench_csv: %s\n", err.msg);
        return -1;
    }
    if (sum == 0) {
        fprintf(stderr, "bench_csv: no data\n");
    }
    return t;
}

static double pipeline(const char *path, size_t *rows, size_t *nnz)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    struct tab_csv *r = NULL;
    struct tab_schema *s = NULL;
    struct tab_features *feat = NULL;
    struct nn_dataset ds;
    struct nn_err err;
    unsigned char *tr = NULL;
    double t = -1, t0 = now();
    memset(&ds, 0, sizeof(ds));
    if (tab_csv_open(f, NULL, &r, &err) != 0 || tab_schema_infer(r, NULL, &s, &err) != 0) {
        fprintf(stderr, "bench_csv: %s: %s\n", path, err.msg);
        goto done;
    }
    tr = malloc(s->rows + 1);
    for (size_t i = 0; tr != NULL && i < s->rows; i++) {
        tr[i] = i % 5 != 0;
    }
    if (tr == NULL ||
        tab_features_fit(r, s, tr, model_text_decoder_default(), &feat, &ds, &err) != 0) {
        fprintf(stderr, "bench_csv: features: %s\n", err.msg);
        goto done;
    }
    t = now() - t0;
    *rows = ds.rows;
    *nnz = ds.sparse_cols ? ds.indptr[ds.rows] : 0;
done:
    free(tr);
    tab_features_free(feat);
    nn_dataset_free(&ds);
    tab_schema_free(s);
    tab_csv_close(r);
    fclose(f);
    return t;
}

int main(void)
{
    const char *num = "build/bench_numeric.csv";
    struct stat st;
    if (stat(num, &st) != 0) {
        fprintf(stderr, "bench_csv: generating %s ...\n", num);
        if (generate(num, 200LL * 1000 * 1000) != 0 || stat(num, &st) != 0) {
            fprintf(stderr, "bench_csv: cannot write %s\n", num);
            return 1;
        }
    }
    double t[3];
    size_t rows = 0;
    for (int i = 0; i < 3; i++) {
        t[i] = read_pass(num, &rows);
        if (t[i] < 0) {
            return 1;
        }
    }
    double med = median3(t[0], t[1], t[2]);
    printf("csv read: %.1f MB, %zu rows, 11 columns: %.0f MB/s (median of 3: %.3f s)\n",
           (double)st.st_size / 1e6, rows, (double)st.st_size / 1e6 / med, med);

    size_t nnz = 0;
    double tn = pipeline(num, &rows, &nnz);
    if (tn < 0) {
        return 1;
    }
    printf("numeric pipeline (csv + schema + features, 3 passes) on the same file: %.3f s, "
           "%.0f MB/s per pass\n",
           tn, 3 * (double)st.st_size / 1e6 / tn);

    const char *spam = "../shared/data/spamassassin_train.csv";
    if (stat(spam, &st) != 0) {
        spam = "build/test_spam_train.csv";
        if (stat(spam, &st) != 0 &&
            system("xz -dc tests/data/spamassassin_train.csv.xz > build/test_spam_train.csv.tmp "
                   "&& mv build/test_spam_train.csv.tmp build/test_spam_train.csv") != 0) {
            fprintf(stderr, "bench_csv: cannot decompress the spam data set\n");
            return 1;
        }
        stat(spam, &st);
    }
    for (int i = 0; i < 3; i++) {
        t[i] = pipeline(spam, &rows, &nnz);
        if (t[i] < 0) {
            return 1;
        }
    }
    med = median3(t[0], t[1], t[2]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("spam pipeline (csv + schema + features, 3 passes): %s, %.1f MB, %zu rows, %zu "
           "non-zeros: %.3f s (median of 3), peak RSS %ld MiB\n",
           spam, (double)st.st_size / 1e6, rows, nnz, med, ru.ru_maxrss / 1024);
    return 0;
}
