/*
 * ig: integrated gradients — how much each input of one row moved one output logit of a
 * network away from its value at a baseline row.
 *
 * attr_j = (x_j - base_j) * integral over a in [0,1] of d logit / d x_j at base + a (x - base).
 * The first layer is linear in the input, so the path is a straight line in its
 * pre-activations too: the integral is taken over nn_net_tail_grad's gradient with respect to
 * them (composite midpoint rule; segments are split where the rule is worst until the
 * attributions add up to logit(x) - logit(base) within the tolerance, or the step limit is
 * reached), and mapped back through W_0 once. One ReLU hidden layer has a closed form (each
 * unit's output weight times the part of the path where it is active: exact, no grid; the
 * steps reported are the segments between its switching points); where the first hidden layer
 * is a ReLU otherwise, the points at which its units switch are in the first grid; a network
 * with no hidden layer gets one step and attr_j = (x_j - base_j) * W_0[j][unit] exactly.
 * The sparse block's baseline is zero (a text with no words).
 * Does not: know what the inputs mean (model/explain.c sums them back to columns).
 * Thread-safety: reads the net's parameters only; any number of threads may explain at once.
 */
#ifndef NEUROND_NN_IG_H
#define NEUROND_NN_IG_H

#include <stddef.h>
#include <stdint.h>

#include "nn/err.h"
#include "nn/net.h"

#define NN_IG_TOL       1e-3 /* default relative tolerance of completeness */
#define NN_IG_FLOOR     1e-2 /* |logit(x) - logit(base)| below this is compared with this */
#define NN_IG_MAX_STEPS 256  /* default (and largest) number of gradient evaluations */

struct nn_ig_opts {
    double tol;    /* completeness: |sum - (out - base)| <= tol * max(|out - base|, NN_IG_FLOOR) */
    int max_steps; /* 1..NN_IG_MAX_STEPS */
};

struct nn_ig_result {
    double out;    /* the unit's logit at the row */
    double base;   /* the unit's logit at the baseline */
    double sum;    /* sum of every attribution */
    int steps;     /* segments of the final grid (points of the Riemann sum) */
    int converged; /* 1 when completeness holds within the tolerance */
};

/** Sets o to the defaults (NN_IG_TOL, NN_IG_MAX_STEPS). */
void nn_ig_opts_default(struct nn_ig_opts *o);

/**
 * Integrated gradients of output unit `unit`'s logit for one row, from the baseline
 * (dense `base`, sparse block zero) to the row (dense x, sparse entries ind/val as
 * nn_net_predict_row reads them; an index outside [0, sparse_in) is ignored as it is there).
 * @param o           [in] NULL for the defaults.
 * @param attr_dense  [out] dense_in values.
 * @param attr_sparse [out] nnz values, one per entry (0 for an ignored index); NULL if nnz 0.
 * @param res         [out] logits, the sum, the steps used and whether completeness holds.
 * @return 0, NN_EINVAL (unit out of range, bad options) or NN_ENOMEM; outputs are written
 *         only on success.
 */
int nn_ig_row(const struct nn_net *net, const float *base, const float *x, const int32_t *ind,
              const float *val, size_t nnz, int unit, const struct nn_ig_opts *o,
              double *attr_dense, double *attr_sparse, struct nn_ig_result *res,
              struct nn_err *err);

#endif
