/*
 * optim: SGD, momentum and Adam over flat parameter ranges, lazily on sparse rows.
 *
 * Why ranges: the parameter buffer is one flat array, so a step is a handful of calls to one
 * loop (each weight block with L2, each bias without); the sparse block of W_0 is the one
 * exception, visited row by row from net->touched_list so that a hashed-text first layer
 * (2^18 rows) costs only what the batch touched. See optim.h for the lazy semantics.
 */
#include "optim.h"

#include <math.h>
#include <string.h>

#include "alloc.h"

int nn_optim_init(struct nn_optim_state *st, const struct nn_net *net,
                  const struct nn_train_params *p, struct nn_err *err)
{
    struct nn_optim_state s;

    memset(st, 0, sizeof(*st));
    memset(&s, 0, sizeof(s));
    if ((int)p->optimizer < NN_OPTIM_SGD || (int)p->optimizer > NN_OPTIM_ADAM) {
        return nn_err_set(err, NN_EINVAL, "unknown optimiser %d", (int)p->optimizer);
    }
    if (!(p->learning_rate >= 0.0f) || !(p->l2 >= 0.0f) || !(p->momentum >= 0.0f) ||
        !(p->beta1 >= 0.0f && p->beta1 < 1.0f) || !(p->beta2 >= 0.0f && p->beta2 < 1.0f) ||
        !(p->eps >= 0.0f)) {
        return nn_err_set(err, NN_EINVAL, "optimiser rates must be finite and non-negative");
    }
    s.kind = p->optimizer;
    s.lr = p->learning_rate > 0.0f ? p->learning_rate : (s.kind == NN_OPTIM_ADAM ? 1e-3f : 1e-2f);
    s.momentum = p->momentum > 0.0f ? p->momentum : 0.9f;
    s.beta1 = p->beta1 > 0.0f ? p->beta1 : 0.9f;
    s.beta2 = p->beta2 > 0.0f ? p->beta2 : 0.999f;
    s.eps = p->eps > 0.0f ? p->eps : 1e-8f;
    s.l2 = p->l2;
    s.n = net->n_params;
    if (s.kind != NN_OPTIM_SGD) {
        s.m = nn_calloc(s.n, sizeof(float));
        if (s.m == NULL) {
            goto fail;
        }
    }
    if (s.kind == NN_OPTIM_ADAM) {
        s.v = nn_calloc(s.n, sizeof(float));
        if (s.v == NULL) {
            goto fail;
        }
    }
    *st = s;
    return 0;
fail:
    nn_optim_fini(&s);
    return nn_err_set(err, NN_ENOMEM, "out of memory for optimiser state (%zu floats)", s.n);
}

void nn_optim_fini(struct nn_optim_state *st)
{
    if (st == NULL) {
        return;
    }
    nn_free(st->m);
    nn_free(st->v);
    memset(st, 0, sizeof(*st));
}

/* Updates params[off .. off+len) from grads; decay = L2 factor (0 for biases). */
static void update(const struct nn_optim_state *st, struct nn_net *net, size_t off, size_t len,
                   float decay, float lr_t)
{
    float *restrict w = net->params + off;
    const float *restrict g = net->grads + off;
    size_t i;

    switch (st->kind) {
    case NN_OPTIM_SGD: {
        float lr = st->lr;

        for (i = 0; i < len; i++) {
            w[i] -= lr * (g[i] + decay * w[i]);
        }
        break;
    }
    case NN_OPTIM_MOMENTUM: {
        float *restrict m = st->m + off;
        float lr = st->lr, mu = st->momentum;

        for (i = 0; i < len; i++) {
            m[i] = mu * m[i] + g[i] + decay * w[i];
            w[i] -= lr * m[i];
        }
        break;
    }
    case NN_OPTIM_ADAM:
    default: {
        float *restrict m = st->m + off;
        float *restrict v = st->v + off;
        float b1 = st->beta1, b2 = st->beta2, eps = st->eps;

        for (i = 0; i < len; i++) {
            float gi = g[i] + decay * w[i];

            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            w[i] -= lr_t * m[i] / (sqrtf(v[i]) + eps);
        }
        break;
    }
    }
}

void nn_optim_step(struct nn_optim_state *st, struct nn_net *net)
{
    float lr_t = st->lr;
    int l;

    st->t++;
    if (st->kind == NN_OPTIM_ADAM) {
        double t = (double)st->t;

        lr_t = (float)(st->lr * sqrt(1.0 - pow(st->beta2, t)) / (1.0 - pow(st->beta1, t)));
    }
    for (l = 0; l < net->n_layers; l++) {
        const struct nn_layer *lay = &net->layers[l];
        size_t out = (size_t)lay->out;

        if (l == 0 && net->sparse_in > 0) {
            int t;

            update(st, net, lay->w, (size_t)net->dense_in * out, st->l2, lr_t);
            for (t = 0; t < net->n_touched; t++) {
                size_t row = (size_t)net->dense_in + (size_t)net->touched_list[t];

                update(st, net, lay->w + row * out, out, st->l2, lr_t);
            }
        } else {
            update(st, net, lay->w, (size_t)lay->in * out, st->l2, lr_t);
        }
        update(st, net, lay->b, out, 0.0f, lr_t);
    }
}
