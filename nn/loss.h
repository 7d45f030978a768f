/*
 * loss: the three training losses, computed from logits so they stay finite.
 *
 * Binary cross-entropy takes the sigmoid's logit z and uses max(z,0) - z*y + log1p(exp(-|z|))
 * (no log of a rounded-to-zero probability); softmax cross-entropy subtracts the row maximum
 * before exponentiating (log-sum-exp); MSE is the plain squared error. Each returns the SUM
 * over rows (the caller divides) and optionally writes d(loss)/d(logit) scaled by `scale`.
 * Does not: allocate, or know about networks.
 * Thread-safety: pure functions over caller-owned memory.
 */
#ifndef NEUROND_NN_LOSS_H
#define NEUROND_NN_LOSS_H

/**
 * Binary cross-entropy of n logits against 0/1 targets.
 * @param z     [in] n logits.
 * @param y     [in] n targets in {0, 1} (any value in [0, 1] works).
 * @param scale [in] factor applied to the gradient (1/n gives the gradient of the mean).
 * @param dz    [out] n gradients scale * (sigmoid(z) - y); NULL to skip.
 * @return the sum of the n losses; finite for any finite z.
 */
double nn_loss_bce_logits(const float *z, const float *y, int n, float scale, float *dz);

/**
 * Softmax cross-entropy of n rows of k logits against class indices.
 * @param z     [in] n x k logits, row-major.
 * @param y     [in] n class indices stored as floats; out-of-range values are clamped
 *              to [0, k-1] (callers validate labels before training).
 * @param dz    [out] n x k gradients scale * (softmax(z) - onehot(y)); NULL to skip.
 * @return the sum of the n losses (log-sum-exp form, finite for any finite z).
 */
double nn_loss_softmax_ce(const float *z, int k, const float *y, int n, float scale, float *dz);

/**
 * Squared error of n predictions: sum (z - y)^2.
 * @param dz [out] n gradients scale * 2 * (z - y); NULL to skip.
 * @return the sum of the n squared errors.
 */
double nn_loss_mse(const float *z, const float *y, int n, float scale, float *dz);

#endif
