/*
 * onnx_import: an ONNX feed-forward network as a model (model/onnx.h). protobuf-c unpacks the
 * ModelProto (through nn_malloc, so allocation limits and failures apply); this file walks the
 * graph once, in its (topological) order, along the one chain from the graph's input:
 *
 *   [Sub/Div | Scaler] (input scaling)  ->  (Gemm | MatMul [+ Add]) -> activation ... -> output
 *
 * with Identity and Flatten passed through, and a classifier's output tail after the last
 * layer (ArgMax, ArrayFeatureExtractor, ZipMap, Cast, Concat, Sub, ... as skl2onnx writes to
 * turn probabilities into a label) read only for its class labels: neurond computes the label
 * itself (model_decide). Any other node touching the chain, or a node computing anything else,
 * is refused naming the node and its op. The result is the export JSON of model_io
 * (model_import), so an imported network passes the same checks as a hand-written one.
 */
#include "model/onnx.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"
#include "nn/alloc.h"
#include "onnx.pb-c.h"

#define MAX_ELEMENTS ((size_t)1 << 28) /* one tensor, when no max_params is given */

static void *pb_alloc(void *ud, size_t size)
{
    (void)ud;
    return nn_malloc(size);
}

static void pb_free(void *ud, void *p)
{
    (void)ud;
    nn_free(p);
}

/* One dense layer as read: W [in][out] (owned), b [out] (owned), its activation. */
struct layer {
    int in, out;
    float *w, *b;
    int act; /* enum nn_act; -1 none yet */
};

struct walk {
    const Onnx__GraphProto *g;
    const struct model_onnx_opts *o;
    struct nn_err *err;
    size_t params; /* weights + biases read so far */
    const char **chain;
    size_t n_chain;    /* values computed from the input (the network and its tail) */
    int tail;          /* 1 once a tail op was seen: the network is complete */
    int d;             /* network inputs (columns) */
    double *mean, *sd; /* input scaling, d each (NULL until the first Sub/Div/Scaler) */
    int have_mean, have_sd;
    struct layer layers[NN_MAX_LAYERS];
    int n_layers;
    int pending_add; /* the last layer came from a MatMul and may take an Add as its bias */
    const Onnx__NodeProto *zipmap;
};

/* ==========================================================================================
 * Look-ups
 */
static const char *node_label(const Onnx__NodeProto *nd, size_t i, char *buf, size_t len)
{
    if (nd->name != NULL && nd->name[0] != '\0') {
        return nd->name;
    }
    snprintf(buf, len, "node[%zu]", i);
    return buf;
}

/* Refuses node i with a message: err->field = its name, err->line = i + 1, NN_EINVAL. */
static int refuse(struct walk *w, size_t i, const char *why)
{
    const Onnx__NodeProto *nd = w->g->node[i];
    char buf[32];
    return nn_err_set_at(w->err, NN_EINVAL, (long)i + 1, 0, node_label(nd, i, buf, sizeof(buf)),
                         "node '%.64s' (op %.32s%s%.32s): %s", node_label(nd, i, buf, sizeof(buf)),
                         nd->domain != NULL && nd->domain[0] != '\0' ? nd->domain : "",
                         nd->domain != NULL && nd->domain[0] != '\0' ? "." : "",
                         nd->op_type != NULL ? nd->op_type : "?", why);
}

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *nd, const char *name)
{
    for (size_t i = 0; i < nd->n_attribute; i++) {
        if (nd->attribute[i]->name != NULL && strcmp(nd->attribute[i]->name, name) == 0) {
            return nd->attribute[i];
        }
    }
    return NULL;
}

static int64_t attr_i(const Onnx__NodeProto *nd, const char *name, int64_t dflt)
{
    const Onnx__AttributeProto *a = attr(nd, name);
    return a != NULL && a->has_i ? a->i : dflt;
}

static double attr_f(const Onnx__NodeProto *nd, const char *name, double dflt)
{
    const Onnx__AttributeProto *a = attr(nd, name);
    return a != NULL && a->has_f ? a->f : dflt;
}

static int is_chain(const struct walk *w, const char *v)
{
    for (size_t i = 0; v != NULL && i < w->n_chain; i++) {
        if (strcmp(w->chain[i], v) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *cur(const struct walk *w)
{
    return w->chain[w->n_chain - 1];
}

/* The float data of initializer (or Constant node output) `name`: a new array of *n values
 * with dims; NULL with err set when absent or not float. */
static const Onnx__TensorProto *find_tensor(const struct walk *w, const char *name)
{
    for (size_t i = 0; name != NULL && i < w->g->n_initializer; i++) {
        if (w->g->initializer[i]->name != NULL && strcmp(w->g->initializer[i]->name, name) == 0) {
            return w->g->initializer[i];
        }
    }
    for (size_t i = 0; name != NULL && i < w->g->n_node; i++) {
        const Onnx__NodeProto *nd = w->g->node[i];
        if (nd->op_type != NULL && strcmp(nd->op_type, "Constant") == 0 && nd->n_output == 1 &&
            nd->output[0] != NULL && strcmp(nd->output[0], name) == 0) {
            const Onnx__AttributeProto *a = attr(nd, "value");
            return a != NULL ? a->t : NULL;
        }
    }
    return NULL;
}

/*
 * Reads a float tensor into a new array (nn_free): *n elements, dims copied (up to 2; a
 * tensor of more dims than 2 is refused). @return 0 or NN_EINVAL / NN_ERANGE / NN_ENOMEM.
 */
static int tensor_floats(struct walk *w, size_t node, const char *name, float **out, size_t *n,
                         int64_t dims[2], int *ndims)
{
    const Onnx__TensorProto *t = find_tensor(w, name);
    size_t count = 1;
    size_t cap = w->o->max_params ? w->o->max_params : MAX_ELEMENTS;

    *out = NULL;
    if (t == NULL) {
        return refuse(w, node,
                      "reads a value that is neither the network's input nor a "
                      "constant tensor (an initializer)");
    }
    if (!t->has_data_type || t->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT ||
        t->n_dims > 2 || t->segment != NULL) {
        return refuse(w, node, "a weight tensor must be float32 with at most 2 dimensions");
    }
    dims[0] = dims[1] = 1;
    for (size_t k = 0; k < t->n_dims; k++) {
        if (t->dims[k] < 0 || (t->dims[k] > 0 && count > cap / (size_t)t->dims[k])) {
            return nn_err_set_at(w->err, NN_ERANGE, (long)node + 1, 0, "tensor",
                                 "tensor '%.64s' has more than %zu elements", name, cap);
        }
        count *= (size_t)t->dims[k];
        dims[k] = t->dims[k];
    }
    *ndims = (int)t->n_dims;
    if (count > cap - w->params) {
        return nn_err_set_at(w->err, NN_ERANGE, (long)node + 1, 0, "tensor",
                             "the network has more than %zu weights and biases", cap);
    }
    int raw = t->has_raw_data && t->raw_data.len > 0;
    if ((raw && t->raw_data.len != count * 4) || (!raw && t->n_float_data != count)) {
        return refuse(w, node, "a weight tensor's data does not match its dimensions");
    }
    float *v = nn_malloc((count ? count : 1) * sizeof(float));
    if (v == NULL) {
        return nn_err_set(w->err, NN_ENOMEM, "out of memory reading the ONNX model");
    }
    for (size_t k = 0; k < count; k++) {
        if (raw) { /* little-endian, whatever the host */
            const uint8_t *p = t->raw_data.data + 4 * k;
            uint32_t u =
                (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            memcpy(&v[k], &u, 4);
        } else {
            v[k] = t->float_data[k];
        }
        if (!isfinite(v[k])) {
            nn_free(v);
            return refuse(w, node, "a weight is not a finite number");
        }
    }
    w->params += count;
    *out = v;
    *n = count;
    return 0;
}

/* ==========================================================================================
 * The chain's nodes
 */

/* Gemm(x, B, C) / MatMul(x, B): a new layer. */
static int read_linear(struct walk *w, size_t i, int gemm)
{
    const Onnx__NodeProto *nd = w->g->node[i];
    int64_t dw[2], db[2];
    int ndw, ndb;
    size_t nw, nb = 0;
    float *b = NULL, *raw = NULL;
    int rc;

    if (w->n_layers == NN_MAX_LAYERS || w->n_layers > MODEL_MAX_HIDDEN) {
        return refuse(w, i, "too many layers");
    }
    if (w->n_layers > 0 && w->layers[w->n_layers - 1].act < 0) {
        return refuse(w, i,
                      "follows a layer with no activation (neurond's hidden layers use "
                      "relu, leaky_relu, tanh or sigmoid)");
    }
    if (nd->n_input < 2 || strcmp(nd->input[0], cur(w)) != 0 || (!gemm && nd->n_input != 2)) {
        return refuse(w, i,
                      "the network's value must be the first input, the weights the "
                      "second");
    }
    int trans_b = gemm ? (int)attr_i(nd, "transB", 0) : 0;
    double alpha = gemm ? attr_f(nd, "alpha", 1.0) : 1.0, beta = gemm ? attr_f(nd, "beta", 1.0) : 1;
    if (gemm && attr_i(nd, "transA", 0) != 0) {
        return refuse(w, i, "transA is not supported");
    }
    rc = tensor_floats(w, i, nd->input[1], &raw, &nw, dw, &ndw);
    if (rc != 0) {
        return rc;
    }
    int in = (int)(trans_b ? dw[1] : dw[0]), out = (int)(trans_b ? dw[0] : dw[1]);
    int want = w->n_layers == 0 ? w->d : w->layers[w->n_layers - 1].out;
    if (ndw != 2 || in != want || out < 1) {
        nn_free(raw);
        return refuse(w, i, "the weights' shape does not fit the layer's input");
    }
    if (gemm && nd->n_input >= 3 && nd->input[2] != NULL && nd->input[2][0] != '\0') {
        rc = tensor_floats(w, i, nd->input[2], &b, &nb, db, &ndb);
        if (rc == 0 && nb != (size_t)out && nb != 1) {
            rc = refuse(w, i, "the bias must hold one value per unit");
        }
        if (rc != 0) {
            nn_free(raw);
            nn_free(b);
            return rc;
        }
    }
    struct layer *ly = &w->layers[w->n_layers];
    ly->in = in;
    ly->out = out;
    ly->act = -1;
    ly->w = nn_malloc((size_t)in * (size_t)out * sizeof(float));
    ly->b = nn_calloc((size_t)out, sizeof(float));
    if (ly->w == NULL || ly->b == NULL) {
        nn_free(raw);
        nn_free(b);
        nn_free(ly->w);
        nn_free(ly->b);
        return nn_err_set(w->err, NN_ENOMEM, "out of memory reading the ONNX model");
    }
    for (int r = 0; r < in; r++) {
        for (int c = 0; c < out; c++) {
            float v = trans_b ? raw[(size_t)c * in + r] : raw[(size_t)r * out + c];
            ly->w[(size_t)r * out + c] = (float)(alpha * v);
        }
    }
    for (int c = 0; b != NULL && c < out; c++) {
        ly->b[c] = (float)(beta * b[nb == 1 ? 0 : c]);
    }
    w->n_layers++;
    w->pending_add = !gemm || nb == 0;
    nn_free(raw);
    nn_free(b);
    return 0;
}

/* Add(y, C) after a MatMul: the layer's bias. */
static int read_bias(struct walk *w, size_t i)
{
    const Onnx__NodeProto *nd = w->g->node[i];
    struct layer *ly = &w->layers[w->n_layers - 1];
    int64_t d[2];
    int nd_;
    size_t n;
    float *b;

    if (nd->n_input != 2) {
        return refuse(w, i, "Add needs two inputs");
    }
    const char *c = strcmp(nd->input[0], cur(w)) == 0 ? nd->input[1] : nd->input[0];
    int rc = tensor_floats(w, i, c, &b, &n, d, &nd_);
    if (rc != 0) {
        return rc;
    }
    if (n != (size_t)ly->out && n != 1) {
        nn_free(b);
        return refuse(w, i, "the bias must hold one value per unit");
    }
    for (int k = 0; k < ly->out; k++) {
        ly->b[k] += b[n == 1 ? 0 : k];
    }
    nn_free(b);
    w->pending_add = 0;
    return 0;
}

/* Sub(x, mean), Div(x, sd), Scaler(offset, scale): the inputs' scaling, before any layer. */
static int read_scaling(struct walk *w, size_t i, const char *op)
{
    const Onnx__NodeProto *nd = w->g->node[i];
    int64_t d[2];
    int ndims;
    size_t n = 0;
    float *v = NULL;
    const float *src;
    int scaler = strcmp(op, "Scaler") == 0;

    if (w->n_layers > 0) {
        return refuse(w, i, "input scaling must come before the first layer");
    }
    if (w->mean == NULL) {
        w->mean = nn_calloc((size_t)w->d, sizeof(double));
        w->sd = nn_malloc((size_t)w->d * sizeof(double));
        if (w->mean == NULL || w->sd == NULL) {
            return nn_err_set(w->err, NN_ENOMEM, "out of memory reading the ONNX model");
        }
        for (int k = 0; k < w->d; k++) {
            w->sd[k] = 1;
        }
    }
    if (scaler) {
        const Onnx__AttributeProto *off = attr(nd, "offset"), *sc = attr(nd, "scale");
        if (w->have_mean || w->have_sd || off == NULL || sc == NULL ||
            (off->n_floats != (size_t)w->d && off->n_floats != 1) ||
            (sc->n_floats != (size_t)w->d && sc->n_floats != 1)) {
            return refuse(w, i,
                          "a Scaler needs one offset and one scale per input (or one for "
                          "all), once");
        }
        for (int k = 0; k < w->d; k++) {
            double s = sc->floats[sc->n_floats == 1 ? 0 : k];
            w->mean[k] = off->floats[off->n_floats == 1 ? 0 : k];
            if (!(s > 0) || !isfinite(s) || !isfinite(w->mean[k])) {
                return refuse(w, i, "a scale must be a positive finite number");
            }
            w->sd[k] = 1.0 / s;
        }
        w->have_mean = w->have_sd = 1;
        return 0;
    }
    int sub = strcmp(op, "Sub") == 0;
    if (nd->n_input != 2 || strcmp(nd->input[0], cur(w)) != 0 || (sub && w->have_sd) ||
        (sub ? w->have_mean : w->have_sd)) {
        return refuse(w, i, "input scaling is x - mean, then / scale, each once");
    }
    int rc = tensor_floats(w, i, nd->input[1], &v, &n, d, &ndims);
    if (rc != 0) {
        return rc;
    }
    if (n != (size_t)w->d && n != 1) {
        nn_free(v);
        return refuse(w, i, "input scaling needs one value per input (or one for all)");
    }
    src = v;
    for (int k = 0; k < w->d; k++) {
        double x = src[n == 1 ? 0 : k];
        if (!sub && !(x > 0)) {
            nn_free(v);
            return refuse(w, i, "a scale must be a positive number");
        }
        (sub ? w->mean : w->sd)[k] = x;
    }
    nn_free(v);
    *(sub ? &w->have_mean : &w->have_sd) = 1;
    return 0;
}

static int act_of(const char *op)
{
    return strcmp(op, "Relu") == 0        ? NN_ACT_RELU
           : strcmp(op, "LeakyRelu") == 0 ? NN_ACT_LEAKY_RELU
           : strcmp(op, "Sigmoid") == 0   ? NN_ACT_SIGMOID
           : strcmp(op, "Tanh") == 0      ? NN_ACT_TANH
           : strcmp(op, "Softmax") == 0   ? NN_ACT_SOFTMAX
                                          : -1;
}

/* The ops a classifier's output tail may hold (after the network; read for labels only). */
static int tail_op(const char *op)
{
    static const char *const ops[] = {"ArgMax",    "ArrayFeatureExtractor",
                                      "ZipMap",    "Cast",
                                      "Concat",    "Sub",
                                      "Identity",  "Reshape",
                                      "Flatten",   "Squeeze",
                                      "Unsqueeze", "Gather",
                                      "Shape",     "LabelEncoder",
                                      "Constant"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strcmp(op, ops[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static int push_chain(struct walk *w, const Onnx__NodeProto *nd)
{
    for (size_t k = 0; k < nd->n_output; k++) {
        if (nd->output[k] != NULL && nd->output[k][0] != '\0') {
            w->chain[w->n_chain++] = nd->output[k];
        }
    }
    return 0;
}

/* One node, in graph order. */
static int read_node(struct walk *w, size_t i)
{
    const Onnx__NodeProto *nd = w->g->node[i];
    const char *op = nd->op_type != NULL ? nd->op_type : "";
    int on_chain = 0, on_cur = 0;

    for (size_t k = 0; k < nd->n_input; k++) {
        on_chain |= is_chain(w, nd->input[k]);
        on_cur |= nd->input[k] != NULL && strcmp(nd->input[k], cur(w)) == 0;
    }
    if (!on_chain) {
        if (strcmp(op, "Constant") == 0) {
            return 0; /* read where it is used (find_tensor) */
        }
        return refuse(w, i,
                      "computes a value the network does not take from its input; only "
                      "constant tensors may stand beside the network");
    }
    if (nd->domain != NULL && nd->domain[0] != '\0' && strcmp(nd->domain, "ai.onnx") != 0 &&
        strcmp(nd->domain, "ai.onnx.ml") != 0) {
        return refuse(w, i, "is not a standard ONNX operator");
    }
    if (!w->tail && on_cur) {
        int a = act_of(op);
        if (strcmp(op, "Gemm") == 0 || strcmp(op, "MatMul") == 0) {
            int rc = read_linear(w, i, op[0] == 'G');
            return rc != 0 ? rc : push_chain(w, nd);
        }
        if (strcmp(op, "Add") == 0 && w->n_layers > 0 && w->pending_add) {
            int rc = read_bias(w, i);
            return rc != 0 ? rc : push_chain(w, nd);
        }
        if (strcmp(op, "Identity") == 0 || strcmp(op, "Flatten") == 0) {
            if (op[0] == 'F' && attr_i(nd, "axis", 1) != 1) {
                return refuse(w, i, "Flatten must keep the batch axis (axis 1)");
            }
            return push_chain(w, nd);
        }
        if (strcmp(op, "Scaler") == 0 ||
            (w->n_layers == 0 && (strcmp(op, "Sub") == 0 || strcmp(op, "Div") == 0))) {
            int rc = read_scaling(w, i, op);
            return rc != 0 ? rc : push_chain(w, nd);
        }
        if (a >= 0 && w->n_layers > 0 && w->layers[w->n_layers - 1].act < 0) {
            if (a == NN_ACT_LEAKY_RELU && fabs(attr_f(nd, "alpha", 0.01) - 0.01) > 1e-7) {
                return refuse(w, i, "neurond's leaky_relu has slope 0.01");
            }
            if (a == NN_ACT_SOFTMAX && attr_i(nd, "axis", -1) != 1 &&
                attr_i(nd, "axis", -1) != -1) {
                return refuse(w, i, "Softmax must run over the units (axis 1 or -1)");
            }
            w->layers[w->n_layers - 1].act = a;
            w->pending_add = 0;
            return push_chain(w, nd);
        }
    }
    if (w->n_layers > 0 && tail_op(op)) {
        w->tail = 1;
        if (strcmp(op, "ZipMap") == 0) {
            w->zipmap = nd;
        }
        return push_chain(w, nd);
    }
    return refuse(w, i,
                  w->tail ? "is not an op of a classifier's output tail"
                          : "is not an op of a feed-forward network neurond serves "
                            "(Gemm, MatMul+Add, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, "
                            "Identity, Flatten; Sub/Div or Scaler before the first layer)");
}

/* ==========================================================================================
 * The model
 */

/* Splits a comma-separated list into n names added to arr; @return 0 or -1 (count). */
static int add_list(cJSON *arr, const char *list, int n)
{
    int k = 0;
    const char *p = list;
    while (p != NULL) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        char buf[256];
        if (len == 0 || len >= sizeof(buf)) {
            return -1;
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
        k++;
        p = e != NULL ? e + 1 : NULL;
    }
    return k == n ? 0 : -1;
}

static const char *meta(const Onnx__ModelProto *mp, const char *key)
{
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *e = mp->metadata_props[i];
        if (e->key != NULL && e->value != NULL && strcmp(e->key, key) == 0) {
            return e->value;
        }
    }
    return NULL;
}

/* The class names: the request's, the ZipMap's, the "labels" metadata, or "0".."k-1". */
static int add_classes(struct walk *w, const Onnx__ModelProto *mp, cJSON *arr, int k)
{
    const char *list = w->o->classes != NULL ? w->o->classes : NULL;
    if (list == NULL && w->zipmap != NULL) {
        const Onnx__AttributeProto *s = attr(w->zipmap, "classlabels_strings");
        const Onnx__AttributeProto *n = attr(w->zipmap, "classlabels_int64s");
        char buf[32];
        if (s != NULL && s->n_strings == (size_t)k) {
            for (int c = 0; c < k; c++) {
                char name[256];
                size_t len = s->strings[c].len < 255 ? s->strings[c].len : 255;
                memcpy(name, s->strings[c].data, len);
                name[len] = '\0';
                cJSON_AddItemToArray(arr, cJSON_CreateString(name));
            }
            return 0;
        }
        if (n != NULL && n->n_ints == (size_t)k) {
            for (int c = 0; c < k; c++) {
                snprintf(buf, sizeof(buf), "%lld", (long long)n->ints[c]);
                cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
            }
            return 0;
        }
    }
    if (list == NULL) {
        list = meta(mp, "labels");
    }
    if (list != NULL) {
        if (add_list(arr, list, k) != 0) {
            return nn_err_set_at(w->err, NN_EINVAL, 0, 0, "classes",
                                 "classes must name the network's %d classes, comma-separated", k);
        }
        return 0;
    }
    for (int c = 0; c < k; c++) {
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", c);
        cJSON_AddItemToArray(arr, cJSON_CreateString(buf));
    }
    return 0;
}

/* The export JSON of the network read (model_import's input). */
static int build_doc(struct walk *w, const Onnx__ModelProto *mp, const char *input, cJSON *doc)
{
    struct layer *last = &w->layers[w->n_layers - 1];
    const char *task = w->o->task;
    int k = last->out, binary_softmax = 0;

    if (task != NULL && strcmp(task, "classification") != 0 && strcmp(task, "regression") != 0) {
        return nn_err_set_at(w->err, NN_EINVAL, 0, 0, "task",
                             "task must be classification or regression");
    }
    int regression = last->act < 0 && k == 1 && (task == NULL || task[0] == 'r');
    if (regression && task == NULL && w->zipmap != NULL) {
        regression = 0;
    }
    if (last->act < 0 && !regression) {
        last->act = k == 1 ? NN_ACT_SIGMOID : NN_ACT_SOFTMAX; /* the outputs were logits */
    }
    if ((last->act == NN_ACT_SIGMOID && k != 1) ||
        (last->act != NN_ACT_SIGMOID && last->act != NN_ACT_SOFTMAX && last->act >= 0) ||
        (regression && task != NULL && task[0] == 'c') ||
        (last->act >= 0 && task != NULL && task[0] == 'r')) {
        return nn_err_set_at(
            w->err, NN_EINVAL, 0, 0, "task",
            "the network ends with %d unit(s) and %s: neurond serves one "
            "sigmoid unit (binary), a softmax (classes) or one linear unit "
            "(regression)",
            k, last->act >= 0 ? nn_act_name((enum nn_act)last->act) : "no activation");
    }
    if (last->act == NN_ACT_SOFTMAX && k == 2) {
        /* softmax([z0, z1])[1] = sigmoid(z1 - z0): one sigmoid unit, class 1 positive */
        binary_softmax = 1;
    }
    cJSON_AddStringToObject(doc, "format", "neurond-model");
    cJSON_AddStringToObject(doc, "task", regression ? "regression" : "classification");
    cJSON *inputs = cJSON_AddArrayToObject(doc, "inputs");
    cJSON *names = cJSON_CreateArray();
    const char *list = w->o->inputs != NULL ? w->o->inputs : meta(mp, "inputs");
    if (names == NULL || inputs == NULL) {
        cJSON_Delete(names);
        return nn_err_set(w->err, NN_ENOMEM, "out of memory");
    }
    if (list != NULL && add_list(names, list, w->d) != 0) {
        cJSON_Delete(names);
        return nn_err_set_at(w->err, NN_EINVAL, 0, 0, "inputs",
                             "inputs must name the network's %d inputs, comma-separated", w->d);
    }
    for (int c = 0; c < w->d; c++) {
        cJSON *x = cJSON_CreateObject();
        char buf[300];
        snprintf(buf, sizeof(buf), "%.200s_%d", input, c);
        cJSON_AddItemToArray(inputs, x);
        cJSON_AddStringToObject(x, "name",
                                list != NULL ? cJSON_GetArrayItem(names, c)->valuestring : buf);
        cJSON_AddStringToObject(x, "type", "numeric");
        if (w->mean != NULL) {
            cJSON_AddNumberToObject(x, "mean", w->mean[c]);
            cJSON_AddNumberToObject(x, "scale", w->sd[c]);
        }
    }
    cJSON_Delete(names);
    cJSON *label = cJSON_AddObjectToObject(doc, "label");
    cJSON_AddStringToObject(label, "name",
                            w->o->label != NULL         ? w->o->label
                            : meta(mp, "label") != NULL ? meta(mp, "label")
                                                        : "label");
    if (!regression) {
        cJSON *cls = cJSON_AddArrayToObject(label, "classes");
        int rc = add_classes(w, mp, cls, k == 1 ? 2 : k);
        if (rc != 0) {
            return rc;
        }
    }
    cJSON *layers = cJSON_AddArrayToObject(doc, "layers");
    for (int l = 0; l < w->n_layers; l++) {
        struct layer *ly = &w->layers[l];
        int out = l == w->n_layers - 1 && binary_softmax ? 1 : ly->out;
        cJSON *o = cJSON_CreateObject(), *wt = cJSON_CreateArray(), *b = cJSON_CreateArray();
        cJSON_AddItemToArray(layers, o);
        cJSON_AddItemToObject(o, "weights", wt);
        cJSON_AddItemToObject(o, "bias", b);
        for (int u = 0; u < out; u++) {
            cJSON *row = cJSON_CreateArray();
            cJSON_AddItemToArray(wt, row);
            for (int r = 0; r < ly->in; r++) {
                const float *wr = ly->w + (size_t)r * ly->out;
                double v = out != ly->out ? (double)wr[1] - wr[0] : wr[u];
                cJSON_AddItemToArray(row, cJSON_CreateNumber(v));
            }
            double bv = out != ly->out ? (double)ly->b[1] - ly->b[0] : ly->b[u];
            cJSON_AddItemToArray(b, cJSON_CreateNumber(bv));
        }
        int act = ly->act < 0 ? NN_ACT_IDENTITY : out != ly->out ? NN_ACT_SIGMOID : ly->act;
        cJSON_AddStringToObject(o, "activation", nn_act_name((enum nn_act)act));
    }
    const char *thr = meta(mp, "threshold");
    if (thr != NULL && !regression && (k == 1 || binary_softmax)) {
        cJSON_AddNumberToObject(doc, "threshold", strtod(thr, NULL));
    }
    return 0;
}

/* The graph's one input that is not an initializer; *d its width when the shape says. */
static int graph_input(struct walk *w, const char **name)
{
    const Onnx__GraphProto *g = w->g;
    *name = NULL;
    for (size_t i = 0; i < g->n_input; i++) {
        const char *n = g->input[i]->name;
        if (n == NULL || find_tensor(w, n) != NULL) {
            continue;
        }
        if (*name != NULL) {
            return nn_err_set_at(w->err, NN_EINVAL, 0, 0, n,
                                 "the graph has several inputs ('%.64s', '%.64s'): neurond "
                                 "imports networks that read one [N, features] tensor",
                                 *name, n);
        }
        *name = n;
        const Onnx__TypeProto *t = g->input[i]->type;
        if (t != NULL && t->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
            t->tensor_type->shape != NULL && t->tensor_type->shape->n_dim == 2) {
            const Onnx__TensorShapeProto__Dimension *dm = t->tensor_type->shape->dim[1];
            if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
                w->d = dm->dim_value > 0 && dm->dim_value <= INT32_MAX ? (int)dm->dim_value : -1;
            }
        }
    }
    if (*name == NULL) {
        return nn_err_set_at(w->err, NN_EINVAL, 0, 0, "graph", "the graph has no input");
    }
    return 0;
}

/* The network's width: the input's shape, else the first Gemm/MatMul's weights. */
static int input_width(struct walk *w)
{
    for (size_t i = 0; w->d == 0 && i < w->g->n_node; i++) {
        const Onnx__NodeProto *nd = w->g->node[i];
        if (nd->op_type != NULL && nd->n_input >= 2 &&
            (strcmp(nd->op_type, "Gemm") == 0 || strcmp(nd->op_type, "MatMul") == 0)) {
            const Onnx__TensorProto *t = find_tensor(w, nd->input[1]);
            if (t != NULL && t->n_dims == 2) {
                int64_t v =
                    nd->op_type[0] == 'G' && attr_i(nd, "transB", 0) ? t->dims[1] : t->dims[0];
                w->d = v > 0 && v <= INT32_MAX ? (int)v : -1;
            }
        }
    }
    size_t max = w->o->max_inputs ? w->o->max_inputs : 100000;
    if (w->d <= 0 || (size_t)w->d > max) {
        return nn_err_set_at(w->err, NN_ERANGE, 0, 0, "inputs",
                             "the network's input width is unknown or past %zu", max);
    }
    return 0;
}

int model_onnx_import(const unsigned char *buf, size_t len, const struct model_onnx_opts *opts,
                      struct model **out, struct nn_err *err)
{
    static const struct model_onnx_opts none = {0};
    ProtobufCAllocator al = {pb_alloc, pb_free, NULL};
    struct walk w = {0};
    Onnx__ModelProto *mp;
    const char *input = NULL;
    cJSON *doc = NULL;
    int rc;

    *out = NULL;
    mp = onnx__model_proto__unpack(&al, len, buf);
    if (mp == NULL) {
        return nn_err_set(err, NN_EFORMAT, "not an ONNX model: the protobuf is malformed");
    }
    w.o = opts != NULL ? opts : &none;
    w.err = err;
    w.g = mp->graph;
    if (w.g == NULL || w.g->n_node == 0) {
        rc = nn_err_set_at(err, NN_EINVAL, 0, 0, "graph", "the ONNX model has no graph");
        goto done;
    }
    if (w.g->n_node > MODEL_ONNX_MAX_NODES) {
        rc = nn_err_set_at(err, NN_ERANGE, 0, 0, "graph",
                           "the graph has %zu nodes: neurond imports at most %d", w.g->n_node,
                           MODEL_ONNX_MAX_NODES);
        goto done;
    }
    size_t outs = 1;
    for (size_t i = 0; i < w.g->n_node; i++) {
        outs += w.g->node[i]->n_output;
    }
    w.chain = nn_malloc(outs * sizeof(char *));
    if (w.chain == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory reading the ONNX model");
        goto done;
    }
    rc = graph_input(&w, &input);
    if (rc == 0) {
        rc = input_width(&w);
    }
    if (rc != 0) {
        goto done;
    }
    w.chain[w.n_chain++] = input;
    for (size_t i = 0; rc == 0 && i < w.g->n_node; i++) {
        rc = read_node(&w, i);
    }
    if (rc == 0 && w.n_layers == 0) {
        rc =
            nn_err_set_at(err, NN_EINVAL, 0, 0, "graph", "the graph holds no Gemm or MatMul layer");
    }
    if (rc != 0) {
        goto done;
    }
    doc = cJSON_CreateObject();
    if (doc == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto done;
    }
    rc = build_doc(&w, mp, input, doc);
    if (rc == 0) {
        rc = model_import(doc, out, err);
        rc = rc == NN_EFORMAT ? NN_EINVAL : rc; /* the bytes were fine; the network is not */
    }
done:
    cJSON_Delete(doc);
    for (int l = 0; l < w.n_layers; l++) {
        nn_free(w.layers[l].w);
        nn_free(w.layers[l].b);
    }
    nn_free(w.mean);
    nn_free(w.sd);
    nn_free(w.chain);
    onnx__model_proto__free_unpacked(mp, &al);
    return rc;
}
