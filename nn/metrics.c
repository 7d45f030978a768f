/*
 * metrics: accuracy, log loss, ROC AUC (rank form, ties averaged), RMSE, MAE, confusion.
 *
 * Why ranks for AUC: sorting once gives the Mann-Whitney statistic in O(n log n) and handles
 * tied scores exactly (each tie group shares its average rank), where threshold sweeps need
 * care with ties. Sums are accumulated in double.
 */
#include "nn/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/alloc.h"

/* Predicted class of one output row. */
static int predicted(const float *row, int k)
{
    int j, best = 0;

    if (k == 1) {
        return row[0] >= 0.5f ? 1 : 0;
    }
    for (j = 1; j < k; j++) {
        if (row[j] > row[best]) {
            best = j;
        }
    }
    return best;
}

double nn_metrics_accuracy(const float *out, int k, const float *y, size_t n)
{
    size_t i, hits = 0;

    if (n == 0 || k < 1) {
        return NAN;
    }
    for (i = 0; i < n; i++) {
        if ((float)predicted(out + i * (size_t)k, k) == y[i]) {
            hits++;
        }
    }
    return (double)hits / (double)n;
}

double nn_metrics_log_loss(const float *out, int k, const float *y, size_t n)
{
    const double lo = 1e-7, hi = 1.0 - 1e-7;
    double sum = 0.0;
    size_t i;

    if (n == 0 || k < 1) {
        return NAN;
    }
    for (i = 0; i < n; i++) {
        double p;

        if (k == 1) {
            p = y[i] >= 0.5f ? out[i] : 1.0 - out[i];
        } else {
            int c = (int)y[i];

            c = c < 0 ? 0 : (c >= k ? k - 1 : c);
            p = out[i * (size_t)k + (size_t)c];
        }
        p = p < lo ? lo : (p > hi ? hi : p);
        sum -= log(p);
    }
    return sum / (double)n;
}

struct scored {
    float s;
    int pos;
};

static int cmp_scored(const void *a, const void *b)
{
    float x = ((const struct scored *)a)->s, y = ((const struct scored *)b)->s;

    if (isnan(x) || isnan(y)) { /* NaN sorts first, so the order stays total */
        return !isnan(y) ? -1 : (!isnan(x) ? 1 : 0);
    }
    return (x > y) - (x < y);
}

/* AUC = (R+ - n+ (n+ + 1) / 2) / (n+ n-), R+ = sum of the positives' ranks (1-based). */
double nn_metrics_auc(const float *score, const float *y01, size_t n)
{
    struct scored *v;
    size_t i, j, npos = 0;
    double rsum = 0.0, auc;

    for (i = 0; i < n; i++) {
        npos += y01[i] >= 0.5f;
    }
    if (npos == 0 || npos == n) {
        return NAN;
    }
    v = nn_calloc(n, sizeof(*v));
    if (v == NULL) {
        return NAN;
    }
    for (i = 0; i < n; i++) {
        v[i].s = score[i];
        v[i].pos = y01[i] >= 0.5f;
    }
    qsort(v, n, sizeof(*v), cmp_scored);
    for (i = 0; i < n; i = j) {
        double rank;
        size_t p = 0;

        for (j = i; j < n && v[j].s == v[i].s; j++) {
            p += (size_t)v[j].pos;
        }
        if (j == i) { /* NaN score: a group of its own */
            j = i + 1;
            p = (size_t)v[i].pos;
        }
        rank = ((double)(i + 1) + (double)j) / 2.0; /* average of ranks i+1 .. j */
        rsum += rank * (double)p;
    }
    nn_free(v);
    auc = (rsum - (double)npos * ((double)npos + 1.0) / 2.0) / ((double)npos * (double)(n - npos));
    return auc;
}

/* The mean over n rows of |pred - y|^p, p = 1 or 2 (in double); NAN when n is 0. */
static double mean_abs_power(const float *pred, const float *y, size_t n, int p)
{
    double sum = 0.0;
    size_t i;

    if (n == 0) {
        return NAN;
    }
    for (i = 0; i < n; i++) {
        double d = fabs((double)pred[i] - y[i]);

        sum += p == 2 ? d * d : d;
    }
    return sum / (double)n;
}

double nn_metrics_rmse(const float *pred, const float *y, size_t n)
{
    return sqrt(mean_abs_power(pred, y, n, 2));
}

double nn_metrics_mae(const float *pred, const float *y, size_t n)
{
    return mean_abs_power(pred, y, n, 1);
}

void nn_metrics_confusion(const float *out, int k, int n_classes, const float *y, size_t n,
                          size_t *cm)
{
    size_t i;

    if (n_classes < 1) {
        return;
    }
    memset(cm, 0, (size_t)n_classes * (size_t)n_classes * sizeof(size_t));
    for (i = 0; i < n; i++) {
        int p = predicted(out + i * (size_t)k, k);
        int t = (int)y[i];

        if (!(y[i] >= 0.0f) || t >= n_classes || p >= n_classes) {
            continue;
        }
        cm[(size_t)t * (size_t)n_classes + (size_t)p]++;
    }
}
