/*
 * onnx_export: a model as one ONNX graph (model/onnx.h). The messages are protobuf-c's
 * structs for Debian's onnx.proto; they are built in an arena (every allocation listed, all
 * freed at the end) and packed once.
 *
 * The graph (docs/file-format.md, "ONNX"): one input per column, float [N,1] for a numeric
 * column (NaN = missing), string [N,1] for a categorical one. Numeric columns are concatenated,
 * imputed (ai.onnx.ml Imputer: NaN -> the training median/mean) and scaled (ai.onnx.ml Scaler);
 * a column that had missing training cells adds IsNaN -> Cast as its 0/1 indicator.
 * Categorical columns go through ai.onnx.ml OneHotEncoder (unseen = zeros) and, with missing
 * cells in training, a LabelEncoder over the missing-value markers as their indicator. The
 * features are concatenated in that order, not the pipeline's, so the first layer's weight rows
 * are permuted to match. Then Gemm + activation per layer, and the outputs: `probabilities`
 * [N,k] and `label` [N] (model_decide's rule: the threshold on the positive class, else
 * ArgMax), or `value` [N,1] for regression.
 */
#include "model/onnx.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model/model_priv.h"
#include "nn/alloc.h"
#include "onnx.pb-c.h"

#define T_FLOAT  ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT
#define T_INT64  ONNX__TENSOR_PROTO__DATA_TYPE__INT64
#define T_STRING ONNX__TENSOR_PROTO__DATA_TYPE__STRING
#define ML       "ai.onnx.ml"

/* ==========================================================================================
 * The arena and the message builders
 */
struct ox {
    void **ptrs; /* every allocation, freed by ox_fini */
    size_t n, cap;
    int oom; /* set by the first failed allocation; builders then return NULL */
    Onnx__GraphProto *g;
    size_t cap_node, cap_init;
    int seq; /* names of intermediate values */
};

static void *ox_alloc(struct ox *b, size_t size)
{
    if (b->oom) {
        return NULL;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        void **p = nn_realloc(b->ptrs, cap * sizeof(*p));
        if (p == NULL) {
            b->oom = 1;
            return NULL;
        }
        b->ptrs = p;
        b->cap = cap;
    }
    void *p = nn_calloc(1, size ? size : 1);
    if (p == NULL) {
        b->oom = 1;
        return NULL;
    }
    b->ptrs[b->n++] = p;
    return p;
}

static void ox_fini(struct ox *b)
{
    for (size_t i = 0; i < b->n; i++) {
        nn_free(b->ptrs[i]);
    }
    nn_free(b->ptrs);
}

static char *ox_str(struct ox *b, const char *s)
{
    size_t n = strlen(s);
    char *p = ox_alloc(b, n + 1);
    if (p != NULL) {
        memcpy(p, s, n + 1);
    }
    return p;
}

/* A new intermediate value's name: "neurond.<seq>.<what>". */
static char *ox_name(struct ox *b, const char *what)
{
    char buf[96];
    snprintf(buf, sizeof(buf), "neurond.%d.%s", b->seq++, what);
    return ox_str(b, buf);
}

/* Appends an initializer tensor of dims with float, int64 or string data; returns its name. */
static char *ox_tensor(struct ox *b, const char *what, int type, const int64_t *dims, size_t ndims,
                       const void *data, size_t n)
{
    Onnx__TensorProto *t = ox_alloc(b, sizeof(*t));
    char *name = ox_name(b, what);
    if (t == NULL || name == NULL || b->g->n_initializer == b->cap_init) {
        b->oom = 1;
        return NULL;
    }
    onnx__tensor_proto__init(t);
    t->name = name;
    t->has_data_type = 1;
    t->data_type = type;
    t->n_dims = ndims;
    t->dims = ox_alloc(b, ndims * sizeof(int64_t));
    if (t->dims == NULL) {
        return NULL;
    }
    if (ndims > 0) {
        memcpy(t->dims, dims, ndims * sizeof(int64_t));
    }
    if (type == T_FLOAT) {
        t->n_float_data = n;
        t->float_data = ox_alloc(b, n * sizeof(float));
        if (t->float_data != NULL && n > 0) {
            memcpy(t->float_data, data, n * sizeof(float));
        }
    } else if (type == T_INT64) {
        t->n_int64_data = n;
        t->int64_data = ox_alloc(b, n * sizeof(int64_t));
        if (t->int64_data != NULL && n > 0) {
            memcpy(t->int64_data, data, n * sizeof(int64_t));
        }
    } else {
        const char *const *s = data;
        t->n_string_data = n;
        t->string_data = ox_alloc(b, n * sizeof(ProtobufCBinaryData));
        for (size_t i = 0; t->string_data != NULL && i < n; i++) {
            t->string_data[i].data = (uint8_t *)ox_str(b, s[i]);
            t->string_data[i].len = strlen(s[i]);
        }
    }
    if (b->oom) {
        return NULL;
    }
    b->g->initializer[b->g->n_initializer++] = t;
    return name;
}

static char *ox_scalar_f(struct ox *b, const char *what, float v)
{
    return ox_tensor(b, what, T_FLOAT, NULL, 0, &v, 1);
}

static char *ox_scalar_i(struct ox *b, const char *what, int64_t v)
{
    return ox_tensor(b, what, T_INT64, NULL, 0, &v, 1);
}

/*
 * Appends a node op(inputs...) -> out (a new name when out is NULL) in domain (NULL: ai.onnx).
 * @return the node (its output is node->output[0]), or NULL when out of memory.
 */
static Onnx__NodeProto *ox_node(struct ox *b, const char *op, const char *domain, const char *out,
                                int n_in, const char *const *in)
{
    Onnx__NodeProto *nd = ox_alloc(b, sizeof(*nd));
    if (nd == NULL || b->g->n_node == b->cap_node) {
        b->oom = 1;
        return NULL;
    }
    onnx__node_proto__init(nd);
    nd->op_type = ox_str(b, op);
    nd->domain = domain != NULL ? ox_str(b, domain) : NULL;
    nd->n_input = (size_t)n_in;
    nd->input = ox_alloc(b, (size_t)n_in * sizeof(char *));
    nd->n_output = 1;
    nd->output = ox_alloc(b, sizeof(char *));
    nd->attribute = ox_alloc(b, 8 * sizeof(Onnx__AttributeProto *));
    for (int i = 0; nd->input != NULL && i < n_in; i++) {
        nd->input[i] = in[i] != NULL ? ox_str(b, in[i]) : NULL;
        if (in[i] == NULL) {
            b->oom = 1; /* an input that failed to be made */
        }
    }
    if (nd->output != NULL) {
        nd->output[0] = out != NULL ? ox_str(b, out) : ox_name(b, op);
    }
    char nm[64];
    snprintf(nm, sizeof(nm), "%s_%zu", op, b->g->n_node);
    nd->name = ox_str(b, nm);
    if (b->oom) {
        return NULL;
    }
    b->g->node[b->g->n_node++] = nd;
    return nd;
}

/* Adds an attribute to nd (up to 8); kind is its type, the value in the matching field. */
static Onnx__AttributeProto *ox_attr(struct ox *b, Onnx__NodeProto *nd, const char *name,
                                     Onnx__AttributeProto__AttributeType kind)
{
    Onnx__AttributeProto *a = nd != NULL ? ox_alloc(b, sizeof(*a)) : NULL;
    if (a == NULL || nd->n_attribute == 8) {
        b->oom = 1;
        return NULL;
    }
    onnx__attribute_proto__init(a);
    a->name = ox_str(b, name);
    a->has_type = 1;
    a->type = kind;
    nd->attribute[nd->n_attribute++] = a;
    return a;
}

static void ox_attr_i(struct ox *b, Onnx__NodeProto *nd, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = ox_attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a != NULL) {
        a->has_i = 1;
        a->i = v;
    }
}

static void ox_attr_f(struct ox *b, Onnx__NodeProto *nd, const char *name, float v)
{
    Onnx__AttributeProto *a = ox_attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a != NULL) {
        a->has_f = 1;
        a->f = v;
    }
}

static void ox_attr_floats(struct ox *b, Onnx__NodeProto *nd, const char *name, const float *v,
                           size_t n)
{
    Onnx__AttributeProto *a = ox_attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    if (a != NULL) {
        a->floats = ox_alloc(b, n * sizeof(float));
        if (a->floats != NULL) {
            memcpy(a->floats, v, n * sizeof(float));
            a->n_floats = n;
        }
    }
}

static void ox_attr_strings(struct ox *b, Onnx__NodeProto *nd, const char *name,
                            const char *const *v, size_t n)
{
    Onnx__AttributeProto *a = ox_attr(b, nd, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    if (a != NULL) {
        a->strings = ox_alloc(b, n * sizeof(ProtobufCBinaryData));
        for (size_t i = 0; a->strings != NULL && i < n; i++) {
            a->strings[i].data = (uint8_t *)ox_str(b, v[i]);
            a->strings[i].len = strlen(v[i]);
        }
        a->n_strings = a->strings != NULL ? n : 0;
    }
}

/* A graph input or output: a tensor of elem type with dims (-1 = the batch "N"). */
static Onnx__ValueInfoProto *ox_value(struct ox *b, const char *name, int type, const int64_t *dims,
                                      size_t ndims)
{
    Onnx__ValueInfoProto *v = ox_alloc(b, sizeof(*v));
    Onnx__TypeProto *tp = ox_alloc(b, sizeof(*tp));
    Onnx__TypeProto__Tensor *tt = ox_alloc(b, sizeof(*tt));
    Onnx__TensorShapeProto *sh = ox_alloc(b, sizeof(*sh));
    Onnx__TensorShapeProto__Dimension **dim = ox_alloc(b, ndims * sizeof(*dim));
    if (b->oom) {
        return NULL;
    }
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (size_t i = 0; i < ndims; i++) {
        dim[i] = ox_alloc(b, sizeof(**dim));
        if (dim[i] == NULL) {
            return NULL;
        }
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (dims[i] < 0) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i]->dim_param = ox_str(b, "N");
        } else {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = dims[i];
        }
    }
    sh->n_dim = ndims;
    sh->dim = dim;
    tt->has_elem_type = 1;
    tt->elem_type = type;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->type = tp;
    v->name = ox_str(b, name);
    return v;
}

/* Declares the type of an intermediate value, [N, width] (or [N, 1, -width] for a negative
 * width): ai.onnx.ml's Scaler and OneHotEncoder have no type inference in onnx 1.12, and the
 * checker's strict shape inference wants every type known. */
static void ox_typed(struct ox *b, const char *name, int type, int64_t width)
{
    int64_t dims[3] = {-1, width, width};
    size_t nd = 2;
    if (width < 0) { /* OneHotEncoder's [N, 1, -width] */
        dims[1] = 1;
        dims[2] = -width;
        nd = 3;
    }
    if (name == NULL || b->g->n_value_info == b->cap_init) {
        b->oom = 1;
        return;
    }
    Onnx__ValueInfoProto *v = ox_value(b, name, type, dims, nd);
    if (v != NULL) {
        b->g->value_info[b->g->n_value_info++] = v;
    }
}

/* ==========================================================================================
 * The graph
 */

/* The smallest float f with (double)p >= t <=> p >= f for every float p: the threshold as
 * model_decide compares it, exactly. */
static float float_at_or_above(double t)
{
    float f = (float)t;
    if ((double)f < t) {
        f = nextafterf(f, INFINITY);
    }
    return f;
}

/* Features: numeric columns (imputed, scaled), their indicators, categorical one-hots and
 * their indicators, in that order. perm[p] = the pipeline's dense column of feature p.
 * @return the name of the [N, dense_dim] features, NULL when out of memory. */
static const char *build_features(struct ox *b, const struct tab_features *f, int *perm)
{
    const char **parts = ox_alloc(b, (f->n_inputs * 2 + 1) * sizeof(char *));
    const char **num = ox_alloc(b, (f->n_inputs + 1) * sizeof(char *));
    float *fill = ox_alloc(b, (f->n_inputs + 1) * sizeof(float));
    float *off = ox_alloc(b, (f->n_inputs + 1) * sizeof(float));
    float *scale = ox_alloc(b, (f->n_inputs + 1) * sizeof(float));
    int n_parts = 0, n_num = 0, p = 0;
    Onnx__NodeProto *nd;

    if (b->oom) {
        return NULL;
    }
    for (size_t i = 0; i < f->n_inputs; i++) {
        const struct tab_feat_input *in = &f->inputs[i];
        if (in->type == TAB_COL_NUMERIC) {
            num[n_num] = in->name;
            fill[n_num] = (float)in->fill;
            off[n_num] = in->scale ? (float)in->mean : 0.0f;
            scale[n_num] = in->scale ? (float)(1.0 / in->sd) : 1.0f;
            perm[p++] = in->offset;
            n_num++;
        }
    }
    if (n_num > 0) {
        const char *x = num[0];
        if (n_num > 1) {
            nd = ox_node(b, "Concat", NULL, NULL, n_num, num);
            ox_attr_i(b, nd, "axis", 1);
            x = nd != NULL ? nd->output[0] : NULL;
        }
        nd = ox_node(b, "Imputer", ML, NULL, 1, &x);
        ox_attr_floats(b, nd, "imputed_value_floats", fill, (size_t)n_num);
        ox_attr_f(b, nd, "replaced_value_float", NAN);
        x = nd != NULL ? nd->output[0] : NULL;
        nd = ox_node(b, "Scaler", ML, NULL, 1, &x);
        ox_attr_floats(b, nd, "offset", off, (size_t)n_num);
        ox_attr_floats(b, nd, "scale", scale, (size_t)n_num);
        parts[n_parts++] = nd != NULL ? nd->output[0] : NULL;
        ox_typed(b, parts[n_parts - 1], T_FLOAT, n_num);
    }
    for (size_t i = 0; i < f->n_inputs; i++) {
        const struct tab_feat_input *in = &f->inputs[i];
        if (in->type == TAB_COL_NUMERIC && in->missing_col) {
            const char *x = in->name;
            nd = ox_node(b, "IsNaN", NULL, NULL, 1, &x);
            x = nd != NULL ? nd->output[0] : NULL;
            nd = ox_node(b, "Cast", NULL, NULL, 1, &x);
            ox_attr_i(b, nd, "to", T_FLOAT);
            parts[n_parts++] = nd != NULL ? nd->output[0] : NULL;
            perm[p++] = in->offset + 1;
        }
    }
    for (size_t i = 0; i < f->n_inputs; i++) {
        const struct tab_feat_input *in = &f->inputs[i];
        if (in->type != TAB_COL_CATEGORICAL) {
            continue;
        }
        const char *x = in->name;
        if (in->n_categories > 0) {
            nd = ox_node(b, "OneHotEncoder", ML, NULL, 1, &x);
            ox_attr_strings(b, nd, "cats_strings", (const char *const *)in->categories,
                            in->n_categories);
            ox_attr_i(b, nd, "zeros", 1);
            ox_typed(b, nd != NULL ? nd->output[0] : NULL, T_FLOAT, -(int64_t)in->n_categories);
            int64_t shape[2] = {-1, (int64_t)in->n_categories};
            const char *rs[2] = {nd != NULL ? nd->output[0] : NULL,
                                 ox_tensor(b, "shape", T_INT64, (int64_t[]){2}, 1, shape, 2)};
            nd = ox_node(b, "Reshape", NULL, NULL, 2, rs);
            parts[n_parts++] = nd != NULL ? nd->output[0] : NULL;
            ox_typed(b, parts[n_parts - 1], T_FLOAT, (int64_t)in->n_categories);
            for (size_t c = 0; c < in->n_categories; c++) {
                perm[p++] = in->offset + (int)c;
            }
        }
        if (in->missing_col) {
            /* the markers (and the empty cell) map to 1, everything else to 0 */
            const char *keys[TAB_NA_MAX + 1];
            float ones[TAB_NA_MAX + 1];
            size_t nk = 0;
            keys[nk] = "";
            ones[nk++] = 1.0f;
            for (int k = 0; k < f->na.n; k++) {
                if (f->na.items[k][0] != '\0') {
                    keys[nk] = f->na.items[k];
                    ones[nk++] = 1.0f;
                }
            }
            nd = ox_node(b, "LabelEncoder", ML, NULL, 1, &x);
            ox_attr_strings(b, nd, "keys_strings", keys, nk);
            ox_attr_floats(b, nd, "values_floats", ones, nk);
            ox_attr_f(b, nd, "default_float", 0.0f);
            parts[n_parts++] = nd != NULL ? nd->output[0] : NULL;
            ox_typed(b, parts[n_parts - 1], T_FLOAT, 1);
            perm[p++] = in->offset + (int)in->n_categories;
        }
    }
    if (b->oom || n_parts == 0) {
        b->oom = 1;
        return NULL;
    }
    if (n_parts == 1) {
        return parts[0];
    }
    nd = ox_node(b, "Concat", NULL, NULL, n_parts, parts);
    ox_attr_i(b, nd, "axis", 1);
    return nd != NULL ? nd->output[0] : NULL;
}

/* The layers: Gemm (W is [in][out], as the net stores it) and activation. W0's rows follow
 * perm. @return the name of the last layer's output, NULL when out of memory. */
static const char *build_net(struct ox *b, const struct nn_net *net, const int *perm, const char *x)
{
    for (int l = 0; l < net->n_layers && x != NULL; l++) {
        const struct nn_layer *ly = &net->layers[l];
        size_t nw = (size_t)ly->in * (size_t)ly->out;
        float *w = ox_alloc(b, nw * sizeof(float));
        if (w == NULL) {
            return NULL;
        }
        for (int i = 0; i < ly->in; i++) {
            int src = l == 0 ? perm[i] : i;
            memcpy(w + (size_t)i * ly->out, net->params + ly->w + (size_t)src * ly->out,
                   sizeof(float) * (size_t)ly->out);
        }
        int64_t wd[2] = {ly->in, ly->out}, bd[1] = {ly->out};
        const char *in[3] = {
            x, ox_tensor(b, "W", T_FLOAT, wd, 2, w, nw),
            ox_tensor(b, "B", T_FLOAT, bd, 1, net->params + ly->b, (size_t)ly->out)};
        Onnx__NodeProto *nd = ox_node(b, "Gemm", NULL, NULL, 3, in);
        x = nd != NULL ? nd->output[0] : NULL;
        const char *op = NULL;
        switch (ly->act) {
        case NN_ACT_SIGMOID:
            op = "Sigmoid";
            break;
        case NN_ACT_TANH:
            op = "Tanh";
            break;
        case NN_ACT_RELU:
            op = "Relu";
            break;
        case NN_ACT_LEAKY_RELU:
            op = "LeakyRelu";
            break;
        case NN_ACT_SOFTMAX:
            op = "Softmax";
            break;
        case NN_ACT_IDENTITY:
            break;
        }
        if (op != NULL) {
            nd = ox_node(b, op, NULL, NULL, 1, &x);
            if (ly->act == NN_ACT_LEAKY_RELU) {
                ox_attr_f(b, nd, "alpha", 0.01f);
            } else if (ly->act == NN_ACT_SOFTMAX) {
                ox_attr_i(b, nd, "axis", 1);
            }
            x = nd != NULL ? nd->output[0] : NULL;
        }
    }
    return x;
}

/* The networks on x, and for an ensemble the Mean of their outputs (as model_nets averages
   them: the probabilities, or the standardised values). */
static const char *build_nets(struct ox *b, const struct model *m, const int *perm, const char *x)
{
    const char *y[MODEL_MAX_NETS];

    for (int i = 0; i < m->n_nets; i++) {
        y[i] = build_net(b, m->nets[i], perm, x);
        if (y[i] == NULL) {
            return NULL;
        }
    }
    if (m->n_nets == 1) {
        return y[0];
    }
    Onnx__NodeProto *nd = ox_node(b, "Mean", NULL, NULL, m->n_nets, y);
    return nd != NULL ? nd->output[0] : NULL;
}

/* The outputs after the net's last activation y: probabilities + label, or value. */
static void build_outputs(struct ox *b, const struct model *m, const char *y)
{
    const struct tab_features *f = m->feat;
    Onnx__NodeProto *nd;
    int64_t two[2] = {-1, 1};

    if (f->task == NN_TASK_REGRESSION) {
        const char *in[2] = {y, ox_scalar_f(b, "y_scale", (float)f->y_sd)};
        nd = ox_node(b, "Mul", NULL, NULL, 2, in);
        in[0] = nd != NULL ? nd->output[0] : NULL;
        in[1] = ox_scalar_f(b, "y_mean", (float)f->y_mean);
        ox_node(b, "Add", NULL, "value", 2, in);
        b->g->output[b->g->n_output++] = ox_value(b, "value", T_FLOAT, two, 2);
        return;
    }
    const char *prob = y;
    if (nn_net_outputs(m->nets[0]) == 1) {
        /* probabilities = [1 - p, p], as model_predict writes them */
        const char *in[2] = {ox_scalar_f(b, "one", 1.0f), y};
        nd = ox_node(b, "Sub", NULL, NULL, 2, in);
        in[0] = nd != NULL ? nd->output[0] : NULL;
        in[1] = y;
        nd = ox_node(b, "Concat", NULL, "probabilities", 2, in);
        ox_attr_i(b, nd, "axis", 1);
    } else {
        nd = ox_node(b, "Identity", NULL, "probabilities", 1, &prob);
    }
    const char *idx;
    int pos = model_positive_class(m);
    if (pos >= 0) {
        const char *in[3] = {"probabilities", ox_scalar_i(b, "positive", pos)};
        nd = ox_node(b, "Gather", NULL, NULL, 2, in);
        ox_attr_i(b, nd, "axis", 1);
        in[0] = nd != NULL ? nd->output[0] : NULL;
        in[1] = ox_scalar_f(b, "threshold", float_at_or_above(model_threshold(m, NULL)));
        nd = ox_node(b, "GreaterOrEqual", NULL, NULL, 2, in);
        in[0] = nd != NULL ? nd->output[0] : NULL;
        in[1] = ox_scalar_i(b, "positive", pos);
        in[2] = ox_scalar_i(b, "negative", 1 - pos);
        nd = ox_node(b, "Where", NULL, NULL, 3, in);
    } else {
        const char *in[1] = {"probabilities"};
        nd = ox_node(b, "ArgMax", NULL, NULL, 1, in);
        ox_attr_i(b, nd, "axis", 1);
        ox_attr_i(b, nd, "keepdims", 0);
    }
    idx = nd != NULL ? nd->output[0] : NULL;
    int64_t nc = f->n_classes;
    const char *in[2] = {
        ox_tensor(b, "classes", T_STRING, &nc, 1, (const char *const *)f->classes, (size_t)nc),
        idx};
    ox_node(b, "Gather", NULL, "label", 2, in);
    int64_t dims[2] = {-1, nc};
    b->g->output[b->g->n_output++] = ox_value(b, "label", T_STRING, dims, 1);
    b->g->output[b->g->n_output++] = ox_value(b, "probabilities", T_FLOAT, dims, 2);
}

/* Refuses what the graph cannot hold: a text input, an input named as an output or as one of
 * the graph's own values. */
static int check_exportable(const struct model *m, struct nn_err *err)
{
    for (size_t i = 0; i < m->feat->n_inputs; i++) {
        const struct tab_feat_input *in = &m->feat->inputs[i];
        if (in->type == TAB_COL_TEXT) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, in->name,
                                 "input '%.64s' is text: ONNX has no standard operator for the "
                                 "text features (decoding, hashed words and bigrams), so a model "
                                 "with a text input is not exported",
                                 in->name);
        }
        if (strcmp(in->name, "label") == 0 || strcmp(in->name, "probabilities") == 0 ||
            strcmp(in->name, "value") == 0 || strncmp(in->name, "neurond.", 8) == 0) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, in->name,
                                 "input '%.64s' has the name of a value of the ONNX graph; "
                                 "rename the column to export",
                                 in->name);
        }
    }
    return 0;
}

/* ModelProto's opsets and metadata (the classes and threshold, for readers and re-import). */
static void build_model(struct ox *b, const struct model *m, Onnx__ModelProto *mp)
{
    static const char *const domains[2] = {"", ML};
    static const int64_t versions[2] = {MODEL_ONNX_OPSET, MODEL_ONNX_ML_OPSET};
    char buf[64];

    onnx__model_proto__init(mp);
    mp->has_ir_version = 1;
    mp->ir_version = MODEL_ONNX_IR_VERSION;
    mp->producer_name = ox_str(b, "neurond");
    mp->opset_import = ox_alloc(b, 2 * sizeof(Onnx__OperatorSetIdProto *));
    for (int i = 0; mp->opset_import != NULL && i < 2; i++) {
        Onnx__OperatorSetIdProto *o = ox_alloc(b, sizeof(*o));
        if (o == NULL) {
            return;
        }
        onnx__operator_set_id_proto__init(o);
        o->domain = ox_str(b, domains[i]);
        o->has_version = 1;
        o->version = versions[i];
        mp->opset_import[mp->n_opset_import++] = o;
    }
    mp->metadata_props = ox_alloc(b, 3 * sizeof(Onnx__StringStringEntryProto *));
    if (mp->metadata_props == NULL) {
        return;
    }
    const char *keys[3] = {"label", "labels", "threshold"};
    for (int i = 0; i < 3; i++) {
        const char *v = m->feat->label != NULL ? m->feat->label : "label";
        char *joined = NULL;
        if (i == 1) {
            size_t n = 1;
            for (int c = 0; c < m->feat->n_classes; c++) {
                n += strlen(m->feat->classes[c]) + 1;
            }
            joined = ox_alloc(b, n);
            for (int c = 0; joined != NULL && c < m->feat->n_classes; c++) {
                strcat(joined, m->feat->classes[c]);
                if (c + 1 < m->feat->n_classes) {
                    strcat(joined, ",");
                }
            }
            v = joined;
        } else if (i == 2) {
            snprintf(buf, sizeof(buf), "%.17g", model_threshold(m, NULL));
            v = buf;
        }
        if (v == NULL || (i > 0 && m->feat->task == NN_TASK_REGRESSION)) {
            continue;
        }
        Onnx__StringStringEntryProto *e = ox_alloc(b, sizeof(*e));
        if (e == NULL) {
            return;
        }
        onnx__string_string_entry_proto__init(e);
        e->key = ox_str(b, keys[i]);
        e->value = ox_str(b, v);
        mp->metadata_props[mp->n_metadata_props++] = e;
    }
}

int model_onnx_export(const struct model *m, unsigned char **buf, size_t *len, struct nn_err *err)
{
    struct ox b = {0};
    Onnx__ModelProto mp;
    Onnx__GraphProto g;
    const struct tab_features *f = m->feat;
    int rc;

    *buf = NULL;
    *len = 0;
    rc = check_exportable(m, err);
    if (rc != 0) {
        return rc;
    }
    onnx__graph_proto__init(&g);
    b.g = &g;
    g.name = "neurond";
    size_t layers = 0;
    for (int i = 0; i < m->n_nets; i++) {
        layers += (size_t)m->nets[i]->n_layers;
    }
    b.cap_node = 6 * f->n_inputs + 3 * layers + 17;
    b.cap_init = 2 * f->n_inputs + 2 * layers + 16;
    g.node = ox_alloc(&b, b.cap_node * sizeof(*g.node));
    g.initializer = ox_alloc(&b, b.cap_init * sizeof(*g.initializer));
    g.input = ox_alloc(&b, (f->n_inputs + 1) * sizeof(*g.input));
    g.output = ox_alloc(&b, 2 * sizeof(*g.output));
    g.value_info = ox_alloc(&b, b.cap_init * sizeof(*g.value_info));
    int *perm = ox_alloc(&b, ((size_t)f->dense_dim + 1) * sizeof(int));
    for (size_t i = 0; !b.oom && i < f->n_inputs; i++) {
        int64_t dims[2] = {-1, 1};
        int type = f->inputs[i].type == TAB_COL_NUMERIC ? T_FLOAT : T_STRING;
        g.input[g.n_input] = ox_value(&b, f->inputs[i].name, type, dims, 2);
        if (g.input[g.n_input] != NULL) {
            g.input[g.n_input]->doc_string =
                ox_str(&b, type == T_FLOAT ? "numeric column; NaN is a missing value"
                                           : "categorical column; a missing-value marker "
                                             "(compared exactly) or \"\" is a missing value");
        }
        g.n_input++;
    }
    if (!b.oom) {
        const char *x = build_features(&b, f, perm);
        const char *y = x != NULL ? build_nets(&b, m, perm, x) : NULL;
        if (y != NULL) {
            build_outputs(&b, m, y);
        }
    }
    if (!b.oom) {
        build_model(&b, m, &mp);
        mp.graph = &g;
    }
    if (b.oom) {
        ox_fini(&b);
        return nn_err_set(err, NN_ENOMEM, "out of memory writing the ONNX graph");
    }
    size_t n = onnx__model_proto__get_packed_size(&mp);
    unsigned char *out = nn_malloc(n ? n : 1);
    if (out == NULL) {
        ox_fini(&b);
        return nn_err_set(err, NN_ENOMEM, "out of memory writing the ONNX graph");
    }
    *len = onnx__model_proto__pack(&mp, out);
    *buf = out;
    ox_fini(&b);
    return 0;
}
