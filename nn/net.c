/*
 * net: dense feed-forward network — shapes, initialisation, batched forward/backward and
 * the single-row prediction path.
 *
 * Why this shape: all parameters live in one flat buffer (W_l [in][out] then b_l per layer)
 * and all gradients in a second one of the same layout, so the optimiser is a loop over
 * ranges and the model blob is one memcpy. Work buffers for max_batch rows are made once by
 * nn_net_new; forward and backward never allocate. Batched products go through
 * nn_mat_gemm (cblas_sgemm); the sparse block of the first layer is a CSR row times the
 * sparse rows of W_0 (cost ~ nnz x width), and its gradient is written only into the rows
 * the batch touched (listed in touched_list) so the optimiser can update lazily.
 * Work buffer layout (floats): X [max_batch x dense_in] (gathered dense input), then per
 * layer A_l [max_batch x out_l] (the output layer's A holds probabilities), then Z_out
 * [max_batch x n_out] (output logits), then per layer dZ_l [max_batch x out_l].
 */
#include "nn/net.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "nn/alloc.h"
#include "nn/loss.h"

#define MAX_WIDTH  (1 << 24) /* any layer width or input count */
#define MAX_PARAMS ((size_t)1 << 31)

/* Hot loops: on x86-64 Linux with GCC an AVX2+FMA clone of each is picked at load time
 * (ifunc; products contracted to FMA), the default clone keeps the baseline ISA. The loops
 * are written in blocks of 8 (or fixed 64-wide chunks) so that -O2 vectorises them either
 * way; other compilers (and TSan builds: ifunc resolvers run before its runtime starts)
 * get the plain functions. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) &&       \
    !defined(__SANITIZE_THREAD__)
#define HOT                                                                                        \
    __attribute__((target_clones("arch=x86-64-v3", "default"), optimize("fp-contract=fast")))
#else
#define HOT
#endif

/* ---------------------------------------------------------------------------------------
 * Small kernels
 * ------------------------------------------------------------------------------------- */

/* y += a * x over n floats; blocks of 8 written so that -O2 vectorises them (SLP). */
static inline void axpy(float *restrict y, float a, const float *restrict x, int n)
{
    int i = 0, k;

    for (; i + 8 <= n; i += 8) {
        for (k = 0; k < 8; k++) {
            y[i + k] += a * x[i + k];
        }
    }
    for (; i < n; i++) {
        y[i] += a * x[i];
    }
}

/* ---------------------------------------------------------------------------------------
 * Activations: one place each, forward and derivative together (kann's one function per
 * operator). A hidden activation f is the pair NAME_fwd(z) = f(z) and NAME_bwd(a, d) =
 * d f'(z) written from a = f(z), so the pre-activation need not be kept. The kernels below
 * switch once, outside their loops (SWITCH_HIDDEN_ACT), and run the pair inlined.
 * ------------------------------------------------------------------------------------- */

#define LEAKY_SLOPE 0.01f /* leaky_relu's slope for z <= 0 */

/* identity(z) = z; identity' = 1 */
static inline float identity_fwd(float z)
{
    return z;
}

static inline float identity_bwd(float a, float d)
{
    (void)a;
    return d;
}

/* sigmoid(z) = 1 / (1 + exp(-z)); sigmoid' = s (1 - s) */
static inline float sigmoid_fwd(float z)
{
    return 1.0f / (1.0f + expf(-z));
}

static inline float sigmoid_bwd(float a, float d)
{
    return d * (a * (1.0f - a));
}

/* tanh(z); tanh' = 1 - tanh^2 */
static inline float tanh_fwd(float z)
{
    return tanhf(z);
}

static inline float tanh_bwd(float a, float d)
{
    return d * (1.0f - a * a);
}

/* relu(z) = max(z, 0); relu' = [z > 0] (branch-free in blocks of 8) */
static inline float relu_fwd(float z)
{
    return z > 0.0f ? z : 0.0f;
}

static inline float relu_bwd(float a, float d)
{
    return a > 0.0f ? d : 0.0f;
}

/* leaky_relu(z) = z for z > 0, else LEAKY_SLOPE z; leaky_relu' = 1 or LEAKY_SLOPE */
static inline float leaky_fwd(float z)
{
    return z > 0.0f ? z : LEAKY_SLOPE * z;
}

static inline float leaky_bwd(float a, float d)
{
    return a > 0.0f ? d : LEAKY_SLOPE * d;
}

/* The hidden activations, each named by its pair NAME_fwd / NAME_bwd above: the one list the
 * kernels expand. softmax (output layer only) is softmax_row below. */
#define HIDDEN_ACTS(X)                                                                             \
    X(NN_ACT_IDENTITY, identity)                                                                   \
    X(NN_ACT_SIGMOID, sigmoid)                                                                     \
    X(NN_ACT_TANH, tanh)                                                                           \
    X(NN_ACT_RELU, relu)                                                                           \
    X(NN_ACT_LEAKY_RELU, leaky)

/* One switch over the hidden activation `act`, outside a kernel's loops: the kernel defines
 * LOOP(NAME), its loop written with NAME_fwd or NAME_bwd, and this runs it for `act`. */
#define ACT_CASE(id, name)                                                                         \
    case id:                                                                                       \
        LOOP(name);                                                                                \
        break;
#define SWITCH_HIDDEN_ACT(act)                                                                     \
    switch (act) {                                                                                 \
        HIDDEN_ACTS(ACT_CASE)                                                                      \
    default:                                                                                       \
        break;                                                                                     \
    }

/* Runs STMT for j = i .. n-1 (i advanced to n): blocks of 8 first, written so that -O2
 * vectorises them (the ReLUs become branch-free), then the tail. */
#define FOR_EACH_BLOCKED(i, n, j, STMT)                                                            \
    do {                                                                                           \
        int k_;                                                                                    \
        for (; (i) + 8 <= (n); (i) += 8) {                                                         \
            for (k_ = 0; k_ < 8; k_++) {                                                           \
                (j) = (i) + k_;                                                                    \
                STMT;                                                                              \
            }                                                                                      \
        }                                                                                          \
        for (; (i) < (n); (i)++) {                                                                 \
            (j) = (i);                                                                             \
            STMT;                                                                                  \
        }                                                                                          \
    } while (0)

/* softmax(z)_o = exp(z_o - max z) / sum exp(z - max z) over one row of `out`; a may be z. */
static inline void softmax_row(const float *z, float *a, int out)
{
    float m = z[0], s = 0.0f;
    int o;

    for (o = 1; o < out; o++) {
        m = z[o] > m ? z[o] : m;
    }
    for (o = 0; o < out; o++) {
        a[o] = expf(z[o] - m);
        s += a[o];
    }
    s = 1.0f / s;
    for (o = 0; o < out; o++) {
        a[o] *= s;
    }
}

/* z = act(z + b) in place over n rows of `out` units (hidden layers). */
HOT static void bias_act_hidden(float *restrict z, const float *restrict b, int n, int out,
                                enum nn_act act)
{
    size_t r;
    int o, j;

#define LOOP(name)                                                                                 \
    for (r = 0; r < (size_t)n; r++) {                                                              \
        float *restrict zr = z + r * (size_t)out;                                                  \
                                                                                                   \
        o = 0;                                                                                     \
        FOR_EACH_BLOCKED(o, out, j, zr[j] = name##_fwd(zr[j] + b[j]));                             \
    }
    SWITCH_HIDDEN_ACT(act)
#undef LOOP
}

/* Output layer: z += b (the logits, kept for the loss) and a = act(z): sigmoid, softmax
 * or identity. */
static void bias_act_out(float *restrict z, float *restrict a, const float *restrict b, int n,
                         int out, enum nn_act act)
{
    size_t r;
    int o;

    for (r = 0; r < (size_t)n; r++) {
        float *restrict zr = z + r * (size_t)out, *restrict ar = a + r * (size_t)out;

        for (o = 0; o < out; o++) {
            zr[o] += b[o];
        }
        if (act == NN_ACT_SIGMOID) {
            for (o = 0; o < out; o++) {
                ar[o] = sigmoid_fwd(zr[o]);
            }
        } else if (act == NN_ACT_SOFTMAX) {
            softmax_row(zr, ar, out);
        } else {
            memcpy(ar, zr, (size_t)out * sizeof(float));
        }
    }
}

/* d *= act'(z), written from the activation a = act(z) (len floats). */
HOT static void act_grad(float *restrict d, const float *restrict a, size_t len, enum nn_act act)
{
    size_t i, j;

    if (act == NN_ACT_IDENTITY) {
        return;
    }
#define LOOP(name)                                                                                 \
    i = 0;                                                                                         \
    FOR_EACH_BLOCKED(i, len, j, d[j] = name##_bwd(a[j], d[j]))
    SWITCH_HIDDEN_ACT(act)
#undef LOOP
}

/* Eight floats as one value (GCC/Clang vector extension): AVX in the x86-64-v3 clone, two
 * SSE registers in the default one. Loads and stores go through memcpy (unaligned). The one
 * typedef of a non-function type in nn/: a vector type has no plain spelling. */
typedef float v8f __attribute__((vector_size(32)));

#define LOAD8(v, p)  memcpy(&(v), (p), sizeof(v8f))
#define STORE8(p, v) memcpy((p), &(v), sizeof(v8f))

/* Four such values v0..v3 as one block of 32 floats: loaded from p, stored to p, and
 * v += x * w lane by lane (an FMA each in the x86-64-v3 clone). */
#define LOAD32(v, p)                                                                               \
    do {                                                                                           \
        LOAD8(v##0, (p));                                                                          \
        LOAD8(v##1, (p) + 8);                                                                      \
        LOAD8(v##2, (p) + 16);                                                                     \
        LOAD8(v##3, (p) + 24);                                                                     \
    } while (0)
#define STORE32(p, v)                                                                              \
    do {                                                                                           \
        STORE8((p), v##0);                                                                         \
        STORE8((p) + 8, v##1);                                                                     \
        STORE8((p) + 16, v##2);                                                                    \
        STORE8((p) + 24, v##3);                                                                    \
    } while (0)
#define FMA32(v, x, w)                                                                             \
    do {                                                                                           \
        v##0 += (x)*w##0;                                                                          \
        v##1 += (x)*w##1;                                                                          \
        v##2 += (x)*w##2;                                                                          \
        v##3 += (x)*w##3;                                                                          \
    } while (0)

/* h += in W for one row: h[out], in[k], W [k][out]. Outputs go in chunks of 64 (then 32)
 * held in registers across the whole input loop; zero inputs (one-hot, ReLU) are skipped. */
HOT static void row_layer(const float *restrict in, int k, const float *restrict W, int out,
                          float *restrict h)
{
    int o0 = 0, j;

    if (out == 1) { /* a single unit (binary or regression head): one dot product */
        v8f acc = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}, x, w;
        float s = 0.0f;

        for (j = 0; j + 8 <= k; j += 8) {
            LOAD8(x, in + j);
            LOAD8(w, W + j);
            acc += x * w;
        }
        for (; j < k; j++) {
            s += in[j] * W[j];
        }
        h[0] +=
            s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        return;
    }
    for (; o0 + 64 <= out; o0 += 64) { /* 8 independent FMA chains hide the latency */
        v8f a0, a1, a2, a3, b0, b1, b2, b3;
        float *ho = h + o0;

        LOAD32(a, ho);
        LOAD32(b, ho + 32);
        for (j = 0; j < k; j++) {
            const float *w = W + (size_t)j * (size_t)out + o0;
            float xj = in[j];
            v8f x, w0, w1, w2, w3, u0, u1, u2, u3;

            if (xj == 0.0f) {
                continue;
            }
            x = (v8f){xj, xj, xj, xj, xj, xj, xj, xj};
            LOAD32(w, w);
            LOAD32(u, w + 32);
            FMA32(a, x, w);
            FMA32(b, x, u);
        }
        STORE32(ho, a);
        STORE32(ho + 32, b);
    }
    for (; o0 + 32 <= out; o0 += 32) {
        v8f a0, a1, a2, a3;

        LOAD32(a, h + o0);
        for (j = 0; j < k; j++) {
            const float *w = W + (size_t)j * (size_t)out + o0;
            float xj = in[j];
            v8f x, w0, w1, w2, w3;

            if (xj == 0.0f) {
                continue;
            }
            x = (v8f){xj, xj, xj, xj, xj, xj, xj, xj};
            LOAD32(w, w);
            FMA32(a, x, w);
        }
        STORE32(h + o0, a);
    }
    if (o0 == out) {
        return;
    }
    for (j = 0; j < k; j++) {
        if (in[j] != 0.0f) {
            axpy(h + o0, in[j], W + (size_t)j * (size_t)out + o0, out - o0);
        }
    }
}

/* Z[r] += sum over row r's sparse entries of x_j W_sparse[j] (cost ~ nnz x out). */
HOT static void sparse_forward(const struct nn_net *net, const struct nn_dataset *ds,
                               const size_t *idx, size_t first, int n, const float *Ws, int out,
                               float *z)
{
    int r;

    for (r = 0; r < n; r++) {
        size_t row = idx != NULL ? idx[r] : first + (size_t)r, e;
        float *zr = z + (size_t)r * (size_t)out;

        for (e = ds->indptr[row]; e < ds->indptr[row + 1]; e++) {
            int32_t j = ds->indices[e];

            if (j >= 0 && j < net->sparse_in) {
                axpy(zr, ds->values[e], Ws + (size_t)j * (size_t)out, out);
            }
        }
    }
}

/* dW_sparse[j] = sum over rows with x_j != 0 of x_j dZ_r, written only into touched rows
 * (zeroed on first touch) and listed in touched_list. */
HOT static void sparse_backward(struct nn_net *net, const struct nn_dataset *ds, const size_t *idx,
                                size_t first, int n, const float *dz, int out, float *Gs)
{
    int r, t;

    for (t = 0; t < net->n_touched; t++) {
        net->touched[net->touched_list[t]] = 0;
    }
    net->n_touched = 0;
    if (ds->sparse_cols <= 0) {
        return;
    }
    for (r = 0; r < n; r++) {
        size_t row = idx != NULL ? idx[r] : first + (size_t)r, e;

        for (e = ds->indptr[row]; e < ds->indptr[row + 1]; e++) {
            int32_t j = ds->indices[e];
            float *g;

            if (j < 0 || j >= net->sparse_in) {
                continue;
            }
            g = Gs + (size_t)j * (size_t)out;
            if (!net->touched[j]) {
                net->touched[j] = 1;
                net->touched_list[net->n_touched++] = j;
                memset(g, 0, (size_t)out * sizeof(float));
            }
            axpy(g, ds->values[e], dz + (size_t)r * (size_t)out, out);
        }
    }
}

/* gb[o] = sum over n rows of dz[r][o] */
HOT static void col_sums(const float *dz, int n, int out, float *gb)
{
    int r;

    memset(gb, 0, (size_t)out * sizeof(float));
    for (r = 0; r < n; r++) {
        axpy(gb, 1.0f, dz + (size_t)r * (size_t)out, out);
    }
}

/* Activation of one row in place (single-row path). */
HOT static void act_row(float *restrict h, int out, enum nn_act act)
{
    int o = 0, j;

    if (act == NN_ACT_SOFTMAX) {
        softmax_row(h, h, out);
        return;
    }
#define LOOP(name) FOR_EACH_BLOCKED(o, out, j, h[j] = name##_fwd(h[j]))
    SWITCH_HIDDEN_ACT(act)
#undef LOOP
}

/* ---------------------------------------------------------------------------------------
 * Names, construction
 * ------------------------------------------------------------------------------------- */

static const char *const act_names[] = {"identity", "sigmoid",    "tanh",
                                        "relu",     "leaky_relu", "softmax"};

const char *nn_act_name(enum nn_act act)
{
    if ((int)act < 0 || (int)act > NN_ACT_SOFTMAX) {
        return "unknown";
    }
    return act_names[act];
}

int nn_act_parse(const char *name)
{
    int i;

    if (name == NULL) {
        return -1;
    }
    for (i = 0; i <= NN_ACT_SOFTMAX; i++) {
        if (strcmp(name, act_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

struct work_ptrs {
    float *x;
    float *a[NN_MAX_LAYERS];
    float *zout;
    float *dz[NN_MAX_LAYERS];
};

/* Carves the work buffer (see the layout at the top); returns the floats needed. */
static size_t carve(const struct nn_net *net, float *base, struct work_ptrs *w)
{
    size_t mb = (size_t)net->max_batch, off = 0;
    int l, L = net->n_layers;

    if (w != NULL) {
        w->x = base;
    }
    off += mb * (size_t)net->dense_in;
    for (l = 0; l < L; l++) {
        if (w != NULL) {
            w->a[l] = base + off;
        }
        off += mb * (size_t)net->layers[l].out;
    }
    if (w != NULL) {
        w->zout = base + off;
    }
    off += mb * (size_t)net->layers[L - 1].out;
    for (l = 0; l < L; l++) {
        if (w != NULL) {
            w->dz[l] = base + off;
        }
        off += mb * (size_t)net->layers[l].out;
    }
    return off;
}

int nn_net_new(int dense_in, int sparse_in, const int *widths, int n_hidden, enum nn_act hidden_act,
               int n_out, enum nn_act out_act, int max_batch, struct nn_net **out,
               struct nn_err *err)
{
    struct nn_net *net = NULL;
    size_t off = 0;
    int l, rc;

    *out = NULL;
    if (dense_in < 0 || sparse_in < 0 || dense_in + (long)sparse_in < 1 || dense_in > MAX_WIDTH ||
        sparse_in > MAX_WIDTH) {
        return nn_err_set(err, NN_EINVAL, "bad input width %d + %d", dense_in, sparse_in);
    }
    if (n_hidden < 0 || n_hidden > NN_MAX_LAYERS - 1 || (n_hidden > 0 && widths == NULL)) {
        return nn_err_set(err, NN_EINVAL, "hidden layers must number 0..%d", NN_MAX_LAYERS - 1);
    }
    if ((int)hidden_act < NN_ACT_IDENTITY || (int)hidden_act > NN_ACT_LEAKY_RELU) {
        return nn_err_set(err, NN_EINVAL, "bad hidden activation %d", (int)hidden_act);
    }
    if (!((out_act == NN_ACT_SIGMOID && n_out == 1) || (out_act == NN_ACT_SOFTMAX && n_out >= 2) ||
          (out_act == NN_ACT_IDENTITY && n_out == 1)) ||
        n_out > MAX_WIDTH) {
        return nn_err_set(err, NN_EINVAL,
                          "output must be sigmoid x1, softmax x>=2 or identity x1 (got %s x%d)",
                          nn_act_name(out_act), n_out);
    }
    if (max_batch < 1 || max_batch > MAX_WIDTH) {
        return nn_err_set(err, NN_EINVAL, "bad max_batch %d", max_batch);
    }
    for (l = 0; l < n_hidden; l++) {
        if (widths[l] < 1 || widths[l] > MAX_WIDTH) {
            return nn_err_set(err, NN_EINVAL, "bad width %d of hidden layer %d", widths[l], l + 1);
        }
    }
    net = nn_calloc(1, sizeof(*net));
    if (net == NULL) {
        rc = NN_ENOMEM;
        goto fail;
    }
    net->dense_in = dense_in;
    net->sparse_in = sparse_in;
    net->n_layers = n_hidden + 1;
    net->max_batch = max_batch;
    for (l = 0; l < net->n_layers; l++) {
        struct nn_layer *lay = &net->layers[l];

        lay->in = l == 0 ? dense_in + sparse_in : widths[l - 1];
        lay->out = l == n_hidden ? n_out : widths[l];
        lay->act = l == n_hidden ? out_act : hidden_act;
        if ((size_t)lay->in * (size_t)lay->out > MAX_PARAMS - off) {
            rc = nn_err_set(err, NN_ENOMEM, "network too large (more than %zu parameters)",
                            MAX_PARAMS);
            goto fail;
        }
        lay->w = off;
        off += (size_t)lay->in * (size_t)lay->out;
        lay->b = off;
        off += (size_t)lay->out;
    }
    net->n_params = off;
    net->params = nn_calloc(off, sizeof(float));
    net->grads = nn_calloc(off, sizeof(float));
    net->work_len = carve(net, NULL, NULL);
    net->work = nn_calloc(net->work_len, sizeof(float));
    if (net->params == NULL || net->grads == NULL || net->work == NULL) {
        rc = NN_ENOMEM;
        goto fail;
    }
    if (sparse_in > 0) {
        net->touched = nn_calloc((size_t)sparse_in, 1);
        net->touched_list = nn_calloc((size_t)sparse_in, sizeof(int));
        if (net->touched == NULL || net->touched_list == NULL) {
            rc = NN_ENOMEM;
            goto fail;
        }
    }
    *out = net;
    return 0;
fail:
    if (rc == NN_ENOMEM && (err == NULL || err->code != NN_ENOMEM)) {
        nn_err_set(err, NN_ENOMEM, "out of memory making a network of %zu parameters", off);
    }
    nn_net_free(net);
    return rc;
}

void nn_net_free(struct nn_net *net)
{
    if (net == NULL) {
        return;
    }
    NN_FREE_ALL(net->params, net->grads, net->work, net->touched, net->touched_list, net);
}

/* He normal (sd sqrt(2/fan_in)) before relu/leaky_relu, Xavier uniform otherwise; b = 0. */
void nn_net_init(struct nn_net *net, struct nn_rng *rng)
{
    int l;

    for (l = 0; l < net->n_layers; l++) {
        const struct nn_layer *lay = &net->layers[l];
        size_t i, nw = (size_t)lay->in * (size_t)lay->out;
        float *w = net->params + lay->w;

        if (lay->act == NN_ACT_RELU || lay->act == NN_ACT_LEAKY_RELU) {
            double sd = sqrt(2.0 / lay->in);

            for (i = 0; i < nw; i++) {
                w[i] = (float)(sd * nn_rng_normal(rng));
            }
        } else {
            double lim = sqrt(6.0 / ((double)lay->in + lay->out));

            for (i = 0; i < nw; i++) {
                w[i] = (float)(lim * (2.0 * nn_rng_uniform(rng) - 1.0));
            }
        }
        memset(net->params + lay->b, 0, (size_t)lay->out * sizeof(float));
    }
}

int nn_net_outputs(const struct nn_net *net)
{
    return net->layers[net->n_layers - 1].out;
}

size_t nn_net_scratch_len(const struct nn_net *net)
{
    int l, m = 1;

    for (l = 0; l < net->n_layers; l++) {
        m = net->layers[l].out > m ? net->layers[l].out : m;
    }
    return 2 * (size_t)m;
}

/* ---------------------------------------------------------------------------------------
 * Batched forward / backward
 * ------------------------------------------------------------------------------------- */

/* The dense input rows of the batch: ds->dense itself for a contiguous range, else the
 * rows gathered into w->x. NULL when the net has no dense inputs. */
static const float *dense_input(const struct nn_net *net, const struct nn_dataset *ds,
                                const size_t *idx, size_t first, int n, struct work_ptrs *w,
                                int gather)
{
    size_t dc = (size_t)net->dense_in;
    int r;

    if (dc == 0) {
        return NULL;
    }
    if (idx == NULL) {
        return ds->dense + first * dc;
    }
    if (gather) {
        for (r = 0; r < n; r++) {
            memcpy(w->x + (size_t)r * dc, ds->dense + idx[r] * dc, dc * sizeof(float));
        }
    }
    return w->x;
}

const float *nn_net_forward(struct nn_net *net, const struct nn_dataset *ds, const size_t *idx,
                            size_t first, int n)
{
    struct work_ptrs w;
    const float *x;
    int l, L = net->n_layers;

    carve(net, net->work, &w);
    if (n <= 0) {
        return w.a[L - 1];
    }
    assert(n <= net->max_batch && ds->dense_cols == net->dense_in);
    x = dense_input(net, ds, idx, first, n, &w, 1);
    for (l = 0; l < L; l++) {
        const struct nn_layer *lay = &net->layers[l];
        const float *W = net->params + lay->w;
        float *z = l == L - 1 ? w.zout : w.a[l];
        const float *in = l == 0 ? x : w.a[l - 1];
        int k = l == 0 ? net->dense_in : lay->in;

        if (k > 0) {
            /* Z = X W : (n x k)(k x out) */
            nn_mat_gemm(0, 0, n, lay->out, k, 1.0f, in, k, W, lay->out, 0.0f, z, lay->out);
        } else {
            memset(z, 0, (size_t)n * (size_t)lay->out * sizeof(float));
        }
        if (l == 0 && net->sparse_in > 0 && ds->sparse_cols > 0) {
            /* Z += S W_sparse: each non-zero adds a scaled contiguous row of W */
            sparse_forward(net, ds, idx, first, n, W + (size_t)net->dense_in * (size_t)lay->out,
                           lay->out, z);
        }
        if (l == L - 1) {
            bias_act_out(z, w.a[l], net->params + lay->b, n, lay->out, lay->act);
        } else {
            bias_act_hidden(z, net->params + lay->b, n, lay->out, lay->act);
        }
    }
    return w.a[L - 1];
}

/* Loss sum of the last forward's logits; writes dz (scaled) when dz is not NULL. */
static double out_loss(const struct nn_net *net, const float *zout, int n, const float *y,
                       float scale, float *dz)
{
    const struct nn_layer *lo = &net->layers[net->n_layers - 1];

    switch (lo->act) {
    case NN_ACT_SIGMOID:
        return nn_loss_bce_logits(zout, y, n, scale, dz);
    case NN_ACT_SOFTMAX:
        return nn_loss_softmax_ce(zout, lo->out, y, n, scale, dz);
    default:
        return nn_loss_mse(zout, y, n, scale, dz);
    }
}

double nn_net_loss(const struct nn_net *net, int n, const float *y)
{
    struct work_ptrs w;

    if (n <= 0) {
        return 0.0;
    }
    carve(net, net->work, &w);
    return out_loss(net, w.zout, n, y, 0.0f, NULL) / n;
}

double nn_net_backward(struct nn_net *net, const struct nn_dataset *ds, const size_t *idx,
                       size_t first, int n, const float *y)
{
    struct work_ptrs w;
    double loss;
    int l, L = net->n_layers;

    if (n <= 0) {
        return 0.0;
    }
    assert(n <= net->max_batch);
    carve(net, net->work, &w);
    /* dL/dZ_out of the mean loss */
    loss = out_loss(net, w.zout, n, y, 1.0f / (float)n, w.dz[L - 1]) / n;
    for (l = L - 1; l >= 0; l--) {
        const struct nn_layer *lay = &net->layers[l];
        const float *dz = w.dz[l];
        float *gb = net->grads + lay->b;
        int out = lay->out;

        /* db = sum over rows of dZ */
        col_sums(dz, n, out, gb);
        if (l > 0) {
            /* dW = A_{l-1}^T dZ : (in x n)(n x out) */
            nn_mat_gemm(1, 0, lay->in, out, n, 1.0f, w.a[l - 1], lay->in, dz, out, 0.0f,
                        net->grads + lay->w, out);
            /* dA_{l-1} = dZ W^T : (n x out)(out x in), then times act'(Z_{l-1}) */
            nn_mat_gemm(0, 1, n, lay->in, out, 1.0f, dz, out, net->params + lay->w, out, 0.0f,
                        w.dz[l - 1], lay->in);
            act_grad(w.dz[l - 1], w.a[l - 1], (size_t)n * (size_t)lay->in, net->layers[l - 1].act);
            continue;
        }
        if (net->dense_in > 0) {
            const float *x = dense_input(net, ds, idx, first, n, &w, 0);

            nn_mat_gemm(1, 0, net->dense_in, out, n, 1.0f, x, net->dense_in, dz, out, 0.0f,
                        net->grads + lay->w, out);
        }
        if (net->sparse_in > 0) {
            sparse_backward(net, ds, idx, first, n, dz, out,
                            net->grads + lay->w + (size_t)net->dense_in * (size_t)out);
        }
    }
    return loss;
}

/* ---------------------------------------------------------------------------------------
 * Prediction
 * ------------------------------------------------------------------------------------- */

void nn_net_predict_row(const struct nn_net *net, const float *x, const int32_t *ind,
                        const float *val, size_t nnz, float *scratch, float *out)
{
    size_t half = nn_net_scratch_len(net) / 2, e;
    const float *in = x;
    float *cur = scratch;
    int l, L = net->n_layers;

    for (l = 0; l < L; l++) {
        const struct nn_layer *lay = &net->layers[l];
        const float *W = net->params + lay->w;
        float *h = l == L - 1 ? out : cur;
        int o = lay->out, k = l == 0 ? net->dense_in : lay->in;

        memcpy(h, net->params + lay->b, (size_t)o * sizeof(float));
        row_layer(in, k, W, o, h);
        if (l == 0) {
            const float *Ws = W + (size_t)net->dense_in * (size_t)o;

            for (e = 0; e < nnz; e++) {
                if (ind[e] >= 0 && ind[e] < net->sparse_in) {
                    axpy(h, val[e], Ws + (size_t)ind[e] * (size_t)o, o);
                }
            }
        }
        act_row(h, o, lay->act);
        in = h;
        cur = cur == scratch ? scratch + half : scratch;
    }
}

int nn_net_predict(struct nn_net *net, const struct nn_dataset *ds, float *out)
{
    size_t first, k = (size_t)nn_net_outputs(net);

    if (ds->dense_cols != net->dense_in || ds->sparse_cols > net->sparse_in ||
        (ds->sparse_cols > 0 && ds->indptr == NULL) ||
        (ds->rows > 0 && net->dense_in > 0 && ds->dense == NULL)) {
        return NN_EINVAL;
    }
    for (first = 0; first < ds->rows; first += (size_t)net->max_batch) {
        size_t left = ds->rows - first;
        int n = left < (size_t)net->max_batch ? (int)left : net->max_batch;
        const float *p = nn_net_forward(net, ds, NULL, first, n);

        memcpy(out + first * k, p, (size_t)n * k * sizeof(float));
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Gradient to the first layer (explanations, nn/ig.c)
 * ------------------------------------------------------------------------------------- */

size_t nn_net_tail_len(const struct nn_net *net, int n)
{
    size_t s = 0;
    int l;

    for (l = 0; l < net->n_layers; l++) {
        s += 2 * (size_t)n * (size_t)net->layers[l].out;
    }
    return s;
}

/* The forward pass from Z_0 and the backward pass of d logit_unit / d Z_0: the layers above
 * the first go through the same kernels as nn_net_forward / nn_net_backward (gemm, bias and
 * activation, act_grad), on the caller's work buffer instead of the net's. */
void nn_net_tail_grad(const struct nn_net *net, float *z0, int n, int unit, float *logit,
                      float *work)
{
    float *a[NN_MAX_LAYERS] = {NULL}, *d[NN_MAX_LAYERS] = {NULL};
    size_t off = 0;
    int l, r, L = net->n_layers, out0 = net->layers[0].out, outL = net->layers[L - 1].out;

    if (n <= 0) {
        return;
    }
    if (L == 1) { /* Z_0 are the logits: the gradient is the unit vector */
        for (r = 0; r < n; r++) {
            float *z = z0 + (size_t)r * (size_t)out0;

            logit[r] = z[unit];
            memset(z, 0, (size_t)out0 * sizeof(float));
            z[unit] = 1.0f;
        }
        return;
    }
    for (l = 0; l < L; l++) {
        a[l] = work + off;
        off += (size_t)n * (size_t)net->layers[l].out;
        d[l] = work + off;
        off += (size_t)n * (size_t)net->layers[l].out;
    }
    /* A_0 = act(Z_0); Z_l = A_{l-1} W_l + b_l, A_l = act(Z_l); the last Z is the logits */
    memcpy(a[0], z0, (size_t)n * (size_t)out0 * sizeof(float));
    act_row(a[0], n * out0, net->layers[0].act);
    for (l = 1; l < L; l++) {
        const struct nn_layer *lay = &net->layers[l];

        nn_mat_gemm(0, 0, n, lay->out, lay->in, 1.0f, a[l - 1], lay->in, net->params + lay->w,
                    lay->out, 0.0f, a[l], lay->out);
        bias_act_hidden(a[l], net->params + lay->b, n, lay->out,
                        l == L - 1 ? NN_ACT_IDENTITY : lay->act);
    }
    /* dZ_out = e_unit; dA_{l-1} = dZ_l W_l^T, dZ_{l-1} = dA_{l-1} * act'(Z_{l-1}) */
    memset(d[L - 1], 0, (size_t)n * (size_t)outL * sizeof(float));
    for (r = 0; r < n; r++) {
        logit[r] = a[L - 1][(size_t)r * (size_t)outL + (size_t)unit];
        d[L - 1][(size_t)r * (size_t)outL + (size_t)unit] = 1.0f;
    }
    for (l = L - 1; l >= 1; l--) {
        const struct nn_layer *lay = &net->layers[l];
        float *to = l == 1 ? z0 : d[l - 1];

        nn_mat_gemm(0, 1, n, lay->in, lay->out, 1.0f, d[l], lay->out, net->params + lay->w,
                    lay->out, 0.0f, to, lay->in);
        act_grad(to, a[l - 1], (size_t)n * (size_t)lay->in, net->layers[l - 1].act);
    }
}
