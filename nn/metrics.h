/*
 * metrics: the figures a trained model is judged by — accuracy, log loss, ROC AUC, RMSE,
 * MAE and the confusion matrix — computed from network outputs and targets.
 *
 * Outputs follow the net's layout: k == 1 means one sigmoid probability per row (binary,
 * predicted class = p >= 0.5), k >= 2 means k softmax probabilities per row (argmax).
 * Targets are class indices stored as floats (0/1 for binary), or values for regression.
 * Does not: allocate, except nn_metrics_auc (which sorts a copy).
 * Thread-safety: pure functions over caller-owned memory.
 */
#ifndef NEUROND_NN_METRICS_H
#define NEUROND_NN_METRICS_H

#include <stddef.h>

/**
 * Fraction of rows whose predicted class equals y.
 * @param out [in] n x k outputs (k == 1: sigmoid probability; k >= 2: class probabilities).
 * @param y   [in] n class indices.
 * @return accuracy in [0, 1]; NaN when n is 0.
 */
double nn_metrics_accuracy(const float *out, int k, const float *y, size_t n);

/**
 * Mean negative log-likelihood of the true classes, probabilities clipped to [1e-7, 1 - 1e-7]
 * so a confident wrong answer gives a large finite value.
 * @return the mean log loss; NaN when n is 0.
 */
double nn_metrics_log_loss(const float *out, int k, const float *y, size_t n);

/**
 * ROC AUC: the probability that a random positive scores above a random negative, computed
 * from ranks (Mann-Whitney U) with tied scores given their average rank.
 * @param score [in] n scores (higher = more positive).
 * @param y01   [in] n labels, positive when y01 >= 0.5.
 * @return AUC in [0, 1]; NaN when either class is absent or on NN_ENOMEM.
 * Ownership: allocates a temporary copy of n (score, label) pairs; frees it before returning.
 */
double nn_metrics_auc(const float *score, const float *y01, size_t n);

/** Root mean squared error of n predictions; NaN when n is 0. */
double nn_metrics_rmse(const float *pred, const float *y, size_t n);

/** Mean absolute error of n predictions; NaN when n is 0. */
double nn_metrics_mae(const float *pred, const float *y, size_t n);

/**
 * Confusion matrix: cm[t * n_classes + p] counts rows of true class t predicted as p.
 * @param k  [in] outputs per row (1: binary sigmoid, then n_classes must be 2).
 * @param cm [out] n_classes x n_classes counts, overwritten; rows whose y is outside
 *           [0, n_classes) are not counted.
 */
void nn_metrics_confusion(const float *out, int k, int n_classes, const float *y, size_t n,
                          size_t *cm);

#endif
