/*
 * net: a feed-forward network of dense layers — forward and backward passes over a
 * mini-batch, and a single-row forward path for prediction.
 *
 * Layout (kann's way): one flat parameter buffer and one flat gradient buffer of the same
 * shape. Layer l has W_l stored [in][out] row-major (input j's weights to every unit are
 * contiguous, so a sparse input row touches whole contiguous rows of W) followed by b_l[out].
 * The first layer's input is [dense_in | sparse_in]; sparse input is CSR (struct nn_dataset).
 * Work buffers for up to `max_batch` rows are allocated by nn_net_new, so forward/backward
 * never allocate. Hidden activations: sigmoid, tanh, relu, leaky_relu (slope 0.01);
 * outputs: sigmoid (binary, loss BCE), softmax (multi-class, loss CE), identity (MSE).
 * Does not: train (see train), read files, or keep any global state.
 * Thread-safety: a net is used by one thread at a time; nn_net_predict_row only reads the
 * parameters, so many threads may predict with one net concurrently if each passes its
 * own scratch buffer.
 */
#ifndef NEUROND_NN_NET_H
#define NEUROND_NN_NET_H

#include <stddef.h>

#include "nn/err.h"
#include "nn/mat.h"
#include "nn/rng.h"

#define NN_MAX_LAYERS 16

enum nn_act {
    NN_ACT_IDENTITY = 0,
    NN_ACT_SIGMOID = 1,
    NN_ACT_TANH = 2,
    NN_ACT_RELU = 3,
    NN_ACT_LEAKY_RELU = 4,
    NN_ACT_SOFTMAX = 5
};

struct nn_layer {
    int in;
    int out;
    enum nn_act act;
    size_t w; /* offset of W ([in][out]) in params/grads */
    size_t b; /* offset of b ([out]) */
};

struct nn_net {
    int dense_in;  /* dense inputs of the first layer */
    int sparse_in; /* sparse inputs of the first layer (after the dense ones) */
    int n_layers;
    struct nn_layer layers[NN_MAX_LAYERS];
    size_t n_params;
    float *params; /* all W and b, one buffer */
    float *grads;  /* same layout as params */
    int max_batch;
    float *work; /* activations and deltas for max_batch rows (private) */
    size_t work_len;
    unsigned char *touched; /* sparse_in flags: rows of W_0 touched this batch (private) */
    int *touched_list;      /* the touched sparse rows, n_touched of them (private) */
    int n_touched;
};

/** Name of an activation ("relu", ...) and the reverse; parse returns -1 when unknown. */
const char *nn_act_name(enum nn_act act);
int nn_act_parse(const char *name);

/**
 * Makes a network: dense_in + sparse_in inputs, hidden layers widths[0..n_hidden) with
 * activation `hidden_act`, then an output layer of n_out units with activation `out_act`
 * (sigmoid with n_out 1, softmax with n_out >= 2, identity with n_out 1: targets are one value
 * per row). n_hidden 0 = logistic/linear regression. Hidden activations: identity, sigmoid,
 * tanh, relu, leaky_relu. Parameters are zero; call nn_net_init to draw them.
 * @param max_batch [in] largest batch forward/backward will be called with.
 * @return 0, NN_EINVAL (bad shape) or NN_ENOMEM.
 * Ownership: *out is a new net; caller frees with nn_net_free. *out is NULL on failure.
 */
int nn_net_new(int dense_in, int sparse_in, const int *widths, int n_hidden, enum nn_act hidden_act,
               int n_out, enum nn_act out_act, int max_batch, struct nn_net **out,
               struct nn_err *err);

/** Frees a net. NULL-safe. */
void nn_net_free(struct nn_net *net);

/**
 * Draws the weights: He (normal, sd sqrt(2/fan_in)) before relu/leaky_relu, Xavier/Glorot
 * (uniform, limit sqrt(6/(fan_in+fan_out))) otherwise; biases 0. Same rng state, same weights.
 */
void nn_net_init(struct nn_net *net, struct nn_rng *rng);

/**
 * Forward pass over rows [first, first+n) of ds (n <= max_batch) or over rows idx[0..n) when
 * idx is not NULL. Leaves the output layer's activations (probabilities / values) in the
 * returned pointer: n x n_out, valid until the next forward call.
 */
const float *nn_net_forward(struct nn_net *net, const struct nn_dataset *ds, const size_t *idx,
                            size_t first, int n);

/**
 * Backward pass for the batch of the last forward call: computes the mean loss over the
 * batch (from the logits, numerically stable) and accumulates d(loss)/d(params) into grads
 * (grads are overwritten, not added to; for the sparse block only touched rows are written,
 * and they are listed in touched_list for the optimiser).
 * @param y [in] the batch's targets in batch order (class index or value).
 * @return the mean loss of the batch.
 */
double nn_net_backward(struct nn_net *net, const struct nn_dataset *ds, const size_t *idx,
                       size_t first, int n, const float *y);

/**
 * Prediction of one row without BLAS: dense x[dense_in] plus nnz sparse (ind, val) entries.
 * @param scratch [in] caller buffer of nn_net_scratch_len(net) floats (thread-local use).
 * @param out [out] n_out floats: probabilities (sigmoid/softmax) or the value (identity).
 */
void nn_net_predict_row(const struct nn_net *net, const float *x, const int32_t *ind,
                        const float *val, size_t nnz, float *scratch, float *out);

/**
 * Mean loss of the batch of the last forward call, from the logits (BCE for a sigmoid
 * output, softmax cross-entropy for softmax, MSE for identity); the same figure
 * nn_net_backward returns, without touching the gradients.
 * @param n [in] rows of the last forward call.
 * @param y [in] the batch's targets in batch order.
 * @return the mean loss (0 when n is 0).
 * Thread-safety: reads the net's work buffers; same thread as the forward call.
 */
double nn_net_loss(const struct nn_net *net, int n, const float *y);

/**
 * Forward pass over every row of ds, in chunks of max_batch rows (batched through BLAS).
 * @param ds  [in] rows to predict; its dense_cols must equal net->dense_in and its
 *            sparse_cols must not exceed net->sparse_in (y is not read).
 * @param out [out] ds->rows x n_out floats: probabilities (sigmoid/softmax) or values.
 * @return 0, or NN_EINVAL when the shapes do not match (out untouched).
 * Thread-safety: uses the net's work buffers: one thread at a time per net.
 */
int nn_net_predict(struct nn_net *net, const struct nn_dataset *ds, float *out);

/** Floats of scratch nn_net_predict_row needs. */
size_t nn_net_scratch_len(const struct nn_net *net);

/** Number of outputs of the last layer. */
int nn_net_outputs(const struct nn_net *net);

/**
 * Floats of work nn_net_tail_grad needs for n rows.
 */
size_t nn_net_tail_len(const struct nn_net *net, int n);

/**
 * The network above its first layer's linear part, and its gradient: for n rows of the first
 * layer's pre-activations Z_0 (n x layers[0].out, bias included), runs the rest of the net to
 * the output logits and back, giving d logit_unit / d Z_0. Integrated gradients (nn/ig.h) use
 * it: Z_0 is linear in the input, so points on a straight path from a baseline cost one
 * multiply-add per unit, and the input gradient is W_0 times the averaged result.
 * A net with no hidden layer has Z_0 = the logits: the gradient is the unit vector.
 * @param z0    [in,out] pre-activations in; d logit_unit / d Z_0 out (same shape).
 * @param unit  [in] the output unit (0 for a sigmoid or identity output).
 * @param logit [out] n floats: that unit's logit (pre-activation) per row.
 * @param work  [in] caller scratch of nn_net_tail_len(net, n) floats.
 * Thread-safety: reads the parameters only; many threads may call it on one net, each with
 * its own z0 and work.
 */
void nn_net_tail_grad(const struct nn_net *net, float *z0, int n, int unit, float *logit,
                      float *work);

#endif
