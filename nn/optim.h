/*
 * optim: parameter updates — SGD, momentum, Adam — with L2 decay on weights (not biases).
 *
 * State lives in flat buffers with the layout of net->params (kann's x/g/c): velocity for
 * momentum, first and second moments for Adam. Lazy semantics for the sparse block of the
 * first layer: a row of W_0's sparse part (one sparse input's weights) is updated only in
 * a step whose batch touched it (net->touched_list, filled by nn_net_backward); its L2 decay,
 * velocity and Adam moments advance only on those steps (as TensorFlow's LazyAdam), while
 * Adam's bias correction uses the global step count. Dense weights and all biases are
 * updated every step. So the cost of a step is ~ dense params + touched rows x width,
 * never the whole 2^18 x width block.
 * Does not: allocate during a step, or decide the learning rate schedule.
 * Thread-safety: one state per training; not shared.
 */
#ifndef NEUROND_NN_OPTIM_H
#define NEUROND_NN_OPTIM_H

#include <stddef.h>

#include "nn/err.h"
#include "nn/net.h"
#include "nn/train.h"

struct nn_optim_state {
    enum nn_optim kind;
    float lr, momentum, beta1, beta2, eps, l2;
    long t;   /* steps taken */
    size_t n; /* floats in each buffer = net->n_params */
    float *m; /* velocity (momentum) or first moment (Adam); NULL for SGD */
    float *v; /* second moment (Adam); NULL otherwise */
};

/**
 * Prepares optimiser state for net from the training parameters (0 fields of p take the
 * defaults: lr 0.001 for Adam and 0.01 otherwise, momentum 0.9, betas 0.9/0.999, eps 1e-8).
 * @param st [out] state to fill; zeroed buffers of net->n_params floats as needed.
 * @return 0, NN_EINVAL (unknown optimiser, negative rates) or NN_ENOMEM.
 * Ownership: release with nn_optim_fini. On failure *st holds nothing to free.
 */
int nn_optim_init(struct nn_optim_state *st, const struct nn_net *net,
                  const struct nn_train_params *p, struct nn_err *err);

/** Frees the state buffers and zeroes *st. NULL-safe. */
void nn_optim_fini(struct nn_optim_state *st);

/**
 * One update of net->params from net->grads (as left by nn_net_backward): dense weights and
 * biases in full, the sparse rows of W_0 only for those in net->touched_list.
 * g' = g + l2 * w on weights; SGD w -= lr g'; momentum m = mu m + g', w -= lr m;
 * Adam m = b1 m + (1-b1) g', v = b2 v + (1-b2) g'^2, w -= lr_t m / (sqrt(v) + eps) with
 * lr_t = lr sqrt(1 - b2^t) / (1 - b1^t).
 * Thread-safety: writes net->params and st.
 */
void nn_optim_step(struct nn_optim_state *st, struct nn_net *net);

#endif
