/*
 * optim: SGD, momentum and Adam over flat parameter ranges, lazily on sparse rows.
 *
 * Why ranges: the parameter buffer is one flat array, so a step is a handful of calls to one
 * loop (each weight block with L2, each bias without); the sparse block of W_0 is the one
 * exception, visited row by row from net->touched_list so that a hashed-text first layer
 * (2^18 rows) costs only what the batch touched. See optim.h for the lazy semantics.
 */
#include "nn/optim.h"

#include <math.h>
#include <string.h>

#include "nn/alloc.h"

/* Hot loops: on x86-64 Linux with GCC an AVX2+FMA clone is picked at load time (ifunc);
 * elsewhere the plain loops (written in blocks of 8 so -O2 vectorises them) are used. The
 * Adam step has an explicit AVX2 kernel (GCC and Clang) chosen at run time. No clones
 * under TSan: ifunc resolvers run before its runtime starts. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#include <immintrin.h>
#if defined(__clang__) || defined(__SANITIZE_THREAD__)
#define HOT
#else
#define HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#define HAVE_AVX2 1
#else
#define HOT
#define HAVE_AVX2 0
#endif

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

#if HAVE_AVX2
/* Adam over len floats, 8 at a time (sqrt and divide vectorised: -O2 keeps sqrtf scalar
 * because of errno). Same formula as the scalar loop below. */
__attribute__((target("avx2,fma"))) static size_t
adam_avx2(float *restrict w, float *restrict m, float *restrict v, const float *restrict g,
          size_t len, const struct nn_optim_state *st, float decay, float lr_t)
{
    const __m256 b1 = _mm256_set1_ps(st->beta1), c1 = _mm256_set1_ps(1.0f - st->beta1);
    const __m256 b2 = _mm256_set1_ps(st->beta2), c2 = _mm256_set1_ps(1.0f - st->beta2);
    const __m256 eps = _mm256_set1_ps(st->eps), lr = _mm256_set1_ps(lr_t);
    const __m256 dec = _mm256_set1_ps(decay);
    size_t i = 0;

    for (; i + 8 <= len; i += 8) {
        __m256 wi = _mm256_loadu_ps(w + i);
        __m256 gi = _mm256_add_ps(_mm256_loadu_ps(g + i), _mm256_mul_ps(dec, wi));
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(c1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
                                  _mm256_mul_ps(c2, _mm256_mul_ps(gi, gi)));

        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        wi = _mm256_sub_ps(
            wi, _mm256_div_ps(_mm256_mul_ps(lr, mi), _mm256_add_ps(_mm256_sqrt_ps(vi), eps)));
        _mm256_storeu_ps(w + i, wi);
    }
    return i;
}
#endif

/* Updates params[off .. off+len) from grads; decay = L2 factor (0 for biases). */
HOT static void update(const struct nn_optim_state *st, struct nn_net *net, size_t off, size_t len,
                       float decay, float lr_t, int avx2)
{
    float *restrict w = net->params + off;
    const float *restrict g = net->grads + off;
    size_t i = 0;
    int k;

    switch (st->kind) {
    case NN_OPTIM_SGD: {
        float lr = st->lr;

        for (; i + 8 <= len; i += 8) {
            for (k = 0; k < 8; k++) {
                w[i + k] -= lr * (g[i + k] + decay * w[i + k]);
            }
        }
        for (; i < len; i++) {
            w[i] -= lr * (g[i] + decay * w[i]);
        }
        break;
    }
    case NN_OPTIM_MOMENTUM: {
        float *restrict m = st->m + off;
        float lr = st->lr, mu = st->momentum;

        for (; i + 8 <= len; i += 8) {
            for (k = 0; k < 8; k++) {
                m[i + k] = mu * m[i + k] + (g[i + k] + decay * w[i + k]);
                w[i + k] -= lr * m[i + k];
            }
        }
        for (; i < len; i++) {
            m[i] = mu * m[i] + (g[i] + decay * w[i]);
            w[i] -= lr * m[i];
        }
        break;
    }
    case NN_OPTIM_ADAM:
    default: {
        float *restrict m = st->m + off;
        float *restrict v = st->v + off;
        float b1 = st->beta1, b2 = st->beta2, eps = st->eps;

#if HAVE_AVX2
        if (avx2) {
            i = adam_avx2(w, m, v, g, len, st, decay, lr_t);
        }
#else
        (void)avx2;
#endif
        for (; i < len; i++) {
            float gi = g[i] + decay * w[i];

            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * (gi * gi);
            w[i] -= lr_t * m[i] / (sqrtf(v[i]) + eps);
        }
        break;
    }
    }
}

void nn_optim_step(struct nn_optim_state *st, struct nn_net *net)
{
    float lr_t = st->lr;
    int l, avx2 = 0;

    st->t++;
#if HAVE_AVX2
    avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    if (st->kind == NN_OPTIM_ADAM) {
        double t = (double)st->t;

        lr_t = (float)(st->lr * sqrt(1.0 - pow(st->beta2, t)) / (1.0 - pow(st->beta1, t)));
    }
    for (l = 0; l < net->n_layers; l++) {
        const struct nn_layer *lay = &net->layers[l];
        size_t out = (size_t)lay->out;

        if (l == 0 && net->sparse_in > 0) {
            int t;

            update(st, net, lay->w, (size_t)net->dense_in * out, st->l2, lr_t, avx2);
            for (t = 0; t < net->n_touched; t++) {
                size_t row = (size_t)net->dense_in + (size_t)net->touched_list[t];

                update(st, net, lay->w + row * out, out, st->l2, lr_t, avx2);
            }
        } else {
            update(st, net, lay->w, (size_t)lay->in * out, st->l2, lr_t, avx2);
        }
        update(st, net, lay->b, out, 0.0f, lr_t, avx2);
    }
}
