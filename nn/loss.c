/*
 * loss: binary cross-entropy, softmax cross-entropy and squared error from logits.
 *
 * Why from logits: a sigmoid or softmax that has rounded to exactly 0 or 1 makes log(p)
 * infinite; the logit forms below never take the log of a rounded probability, so a
 * confident wrong answer costs a large but finite loss and the gradient stays bounded.
 * Sums are accumulated in double.
 */
#include "nn/loss.h"

#include <math.h>
#include <stddef.h>

/* l(z, y) = max(z, 0) - z*y + log(1 + exp(-|z|));  dl/dz = sigmoid(z) - y */
double nn_loss_bce_logits(const float *z, const float *y, int n, float scale, float *dz)
{
    double sum = 0.0;
    int i;

    for (i = 0; i < n; i++) {
        double zi = z[i];
        double e = exp(-fabs(zi));

        sum += (zi > 0.0 ? zi : 0.0) - zi * y[i] + log1p(e);
        if (dz != NULL) {
            /* sigmoid from e = exp(-|z|) without overflow */
            double p = zi >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);

            dz[i] = (float)(scale * (p - y[i]));
        }
    }
    return sum;
}

/* l(z, c) = log(sum_j exp(z_j - m)) + m - z_c with m = max_j z_j;  dl/dz = softmax(z) - e_c */
double nn_loss_softmax_ce(const float *z, int k, const float *y, int n, float scale, float *dz)
{
    double sum = 0.0;
    int i, j;

    for (i = 0; i < n; i++) {
        const float *zr = z + (size_t)i * k;
        float m = zr[0];
        double s = 0.0, lse;
        int c = (int)y[i];

        if (!(y[i] >= 0.0f)) {
            c = 0;
        } else if (c > k - 1) {
            c = k - 1;
        }
        for (j = 1; j < k; j++) {
            if (zr[j] > m) {
                m = zr[j];
            }
        }
        for (j = 0; j < k; j++) {
            s += exp((double)zr[j] - m);
        }
        lse = log(s);
        sum += lse + ((double)m - zr[c]); /* m - z_c first: exact for huge logits */
        if (dz != NULL) {
            float *dr = dz + (size_t)i * k;

            for (j = 0; j < k; j++) {
                dr[j] = (float)(scale * exp((double)zr[j] - m - lse));
            }
            dr[c] -= scale;
        }
    }
    return sum;
}

/* l(z, y) = (z - y)^2;  dl/dz = 2 (z - y) */
double nn_loss_mse(const float *z, const float *y, int n, float scale, float *dz)
{
    double sum = 0.0;
    int i;

    for (i = 0; i < n; i++) {
        double d = (double)z[i] - y[i];

        sum += d * d;
        if (dz != NULL) {
            dz[i] = (float)(scale * 2.0 * d);
        }
    }
    return sum;
}
