/*
 * model_io: a model as bytes and as JSON.
 * Over 1,000 lines on purpose: each part's writer sits beside its reader (blob and JSON), so
 * that a field added to one is seen to be missing from the other.
 *
 * The binary blob (docs/file-format.md) is what the daemon stores and the CLI writes: a magic,
 * a format version, a payload length, the payload (feature pipeline, network, training
 * parameters, metrics, history) and a CRC-32 over everything before it. Loading checks the
 * checksum first, then every count and length against the bytes present before allocating:
 * a truncated, corrupted or hostile blob is an error with a message, never a crash.
 * The JSON export/import is API.md's: card + pipeline + every weight and bias, and it accepts
 * hand-written models such as the one-neuron example.
 */
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "model/features_json.h"
#include "model/model_priv.h"
#include "model/text_decoder.h"
#include "nn/alloc.h"
#include "tab/buf.h"

#define MAGIC "NRDM"
/* 2: + impute and the columns after the metrics; 3: + the explanation baseline; 4: +
   permutation importance; 5: + the ensemble (the networks after the first, each one's
   training, why); 1 to 4 still read */
#define FORMAT_VERSION 5u
#define MAX_BLOB       ((size_t)1 << 31)
#define MAX_WIDTH      (1 << 20)
#define MAX_HISTORY    1000000u
#define MAX_NAME       4096
#define LOAD_BATCH     256

/* ------------------------------------------------------------------------------------------
 * CRC-32 (IEEE 802.3, reflected, as zlib's crc32)
 * ---------------------------------------------------------------------------------------- */

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    /* slicing-by-8: t[k][b] is the CRC of byte b followed by k zero bytes; eight bytes a step
       (the same value as the bytewise loop, several times faster on a 60 MB text model) */
    uint32_t t[8][256];
    uint32_t c = 0xffffffffu;
    size_t i;

    for (i = 0; i < 256; i++) {
        uint32_t v = (uint32_t)i;

        for (int k = 0; k < 8; k++) {
            v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
        }
        t[0][i] = v;
    }
    for (i = 0; i < 256; i++) {
        for (int k = 1; k < 8; k++) {
            t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
        }
    }
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        uint32_t hi =
            (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;

        c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
            t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    }
    for (; n > 0; p++, n--) {
        c = t[0][(c ^ *p) & 0xff] ^ (c >> 8);
    }
    return c ^ 0xffffffffu;
}

/* ------------------------------------------------------------------------------------------
 * Runs of doubles: the fields of a struct stored one after the other, named once for saving
 * and loading
 * ---------------------------------------------------------------------------------------- */

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The doubles that open the metrics, in blob order. */
static const size_t metrics_f64[] = {
    offsetof(struct model_metrics, accuracy), offsetof(struct model_metrics, log_loss),
    offsetof(struct model_metrics, auc),      offsetof(struct model_metrics, rmse),
    offsetof(struct model_metrics, mae),      offsetof(struct model_metrics, loss)};

/* The doubles of one history epoch (after its two int32), in blob order. */
static const size_t history_f64[] = {
    offsetof(struct nn_epoch_stats, train_loss), offsetof(struct nn_epoch_stats, val_loss),
    offsetof(struct nn_epoch_stats, val_metric), offsetof(struct nn_epoch_stats, seconds)};

static void put_f64s(struct tab_buf *b, const void *base, const size_t *off, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tab_buf_put_f64(b, *(const double *)(const void *)((const char *)base + off[i]));
    }
}

/* Reads n doubles into the fields at off of base. @return 0 or NN_EFORMAT (err set). */
static int get_f64s(struct tab_rd *rd, void *base, const size_t *off, size_t n, const char *what,
                    struct nn_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (tab_rd_f64(rd, (double *)(void *)((char *)base + off[i]), what, err) != 0) {
            return NN_EFORMAT;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Save
 * ---------------------------------------------------------------------------------------- */

static void put_net(struct tab_buf *b, const struct nn_net *net)
{
    int l;

    tab_buf_put_u32(b, (uint32_t)net->dense_in);
    tab_buf_put_u32(b, (uint32_t)net->sparse_in);
    tab_buf_put_u32(b, (uint32_t)net->n_layers);
    for (l = 0; l < net->n_layers; l++) {
        tab_buf_put_u32(b, (uint32_t)net->layers[l].in);
        tab_buf_put_u32(b, (uint32_t)net->layers[l].out);
        tab_buf_put_u32(b, (uint32_t)net->layers[l].act);
    }
    tab_buf_put_u64(b, (uint64_t)net->n_params);
    tab_buf_put_f32s(b, net->params, net->n_params);
}

/* v4: u32 K, the networks 2..K, then per network (f32 l2, f32 learning rate, i32 epochs, str
   origin), then str why. */
static void put_ensemble(struct tab_buf *b, const struct model *m)
{
    int i;

    tab_buf_put_u32(b, (uint32_t)m->n_nets);
    for (i = 1; i < m->n_nets; i++) {
        put_net(b, m->nets[i]);
    }
    for (i = 0; i < m->n_nets; i++) {
        tab_buf_put_f32(b, m->member[i].l2);
        tab_buf_put_f32(b, m->member[i].learning_rate);
        tab_buf_put_i32(b, m->member[i].epochs);
        tab_buf_put_str(b, m->member[i].origin);
    }
    tab_buf_put_str(b, m->why != NULL ? m->why : "");
}

static void put_params(struct tab_buf *b, const struct model_params *p)
{
    int i;

    tab_buf_put_str(b, p->label != NULL ? p->label : "");
    tab_buf_put_i32(b, p->task);
    tab_buf_put_u32(b, (uint32_t)p->n_hidden);
    for (i = 0; i < p->n_hidden; i++) {
        tab_buf_put_i32(b, p->hidden[i]);
    }
    tab_buf_put_u32(b, (uint32_t)p->activation);
    tab_buf_put_u32(b, (uint32_t)p->train.optimizer);
    tab_buf_put_f32(b, p->train.learning_rate);
    tab_buf_put_i32(b, p->train.epochs);
    tab_buf_put_i32(b, p->train.batch_size);
    tab_buf_put_f32(b, p->train.l2);
    tab_buf_put_i32(b, p->train.patience);
    tab_buf_put_f64(b, p->validation_split);
    tab_buf_put_u64(b, p->seed);
    tab_buf_put_u8(b, (uint8_t)p->delimiter);
    tab_buf_put_f64(b, p->threshold);
    tab_buf_put_f64(b, p->target_fpr);
}

static void put_metrics(struct tab_buf *b, const struct model *m)
{
    const struct model_metrics *mt = &m->metrics;
    size_t i;

    put_f64s(b, mt, metrics_f64, N_OF(metrics_f64));
    tab_buf_put_i32(b, mt->best_epoch);
    tab_buf_put_i32(b, mt->epochs_run);
    tab_buf_put_u64(b, mt->train_rows);
    tab_buf_put_u64(b, mt->val_rows);
    tab_buf_put_f64(b, mt->threshold);
    tab_buf_put_u8(b, (uint8_t)mt->threshold_source);
    tab_buf_put_u32(b, (uint32_t)m->n_ignored);
    for (i = 0; i < m->n_ignored; i++) {
        tab_buf_put_str(b, m->ignored[i]);
    }
    tab_buf_put_u32(b, (uint32_t)m->n_history);
    for (i = 0; i < m->n_history; i++) {
        const struct nn_epoch_stats *h = &m->history[i];

        tab_buf_put_i32(b, h->epoch);
        tab_buf_put_i32(b, h->epochs);
        put_f64s(b, h, history_f64, N_OF(history_f64));
    }
}

int model_save(const struct model *m, unsigned char **buf, size_t *len, struct nn_err *err)
{
    struct tab_buf b;
    size_t payload_at;

    *buf = NULL;
    *len = 0;
    tab_buf_init(&b, MAX_BLOB);
    tab_buf_put(&b, MAGIC, 4);
    tab_buf_put_u32(&b, FORMAT_VERSION);
    tab_buf_put_u64(&b, 0); /* payload length, patched below */
    payload_at = b.len;
    tab_features_save(m->feat, &b);
    put_net(&b, m->nets[0]);
    put_params(&b, &m->params);
    put_metrics(&b, m);
    tab_buf_put_u8(&b, (uint8_t)m->params.impute);
    model_columns_put(&b, m);
    /* v3: the baseline, dense_dim floats (count 0: none) */
    tab_buf_put_u32(&b, m->baseline != NULL ? (uint32_t)m->feat->dense_dim : 0u);
    if (m->baseline != NULL) {
        tab_buf_put_f32s(&b, m->baseline, (size_t)m->feat->dense_dim);
    }
    /* v4: permutation importance, 2 x n_inputs floats (count 0: none) */
    tab_buf_put_u32(&b, m->importance != NULL ? (uint32_t)(2 * m->feat->n_inputs) : 0u);
    if (m->importance != NULL) {
        tab_buf_put_f32s(&b, m->importance, 2 * m->feat->n_inputs);
    }
    /* v5: the ensemble */
    put_ensemble(&b, m);
    if (b.failed) {
        tab_buf_fini(&b);
        return nn_err_set(err, NN_ENOMEM, "out of memory writing the model");
    }
    (void)payload_at;
    tab_buf_put_u32(&b, 0); /* checksum, sealed below */
    if (b.failed) {
        tab_buf_fini(&b);
        return nn_err_set(err, NN_ENOMEM, "out of memory writing the model");
    }
    model_blob_seal(b.data, b.len);
    *buf = b.data;
    *len = b.len;
    return 0;
}

void model_blob_seal(unsigned char *buf, size_t len)
{
    uint64_t payload;
    uint32_t crc;
    int i;

    if (len < 20) {
        return;
    }
    payload = (uint64_t)(len - 20);
    for (i = 0; i < 8; i++) {
        buf[8 + i] = (unsigned char)(payload >> (8 * i));
    }
    crc = crc32_of(buf, len - 4);
    for (i = 0; i < 4; i++) {
        buf[len - 4 + i] = (unsigned char)(crc >> (8 * i));
    }
}

/* ------------------------------------------------------------------------------------------
 * Load
 * ---------------------------------------------------------------------------------------- */

/* The output layer a task needs: units and activation. */
static int output_for(const struct tab_features *f, int *n_out, enum nn_act *act)
{
    if (f->task == NN_TASK_REGRESSION) {
        *n_out = 1;
        *act = NN_ACT_IDENTITY;
    } else if (f->task == NN_TASK_BINARY) {
        *n_out = 1;
        *act = NN_ACT_SIGMOID;
    } else {
        *n_out = f->n_classes;
        *act = NN_ACT_SOFTMAX;
    }
    return 0;
}

/*
 * Builds an empty net for a validated list of layer widths and activations, checking that
 * they fit the pipeline. widths[0] = inputs, widths[1..n] = layer outputs.
 */
static int make_net(const struct tab_features *f, const int *widths, const int *acts, int n,
                    struct nn_net **out, struct nn_err *err)
{
    int hidden[NN_MAX_LAYERS];
    int n_out, l;
    enum nn_act out_act;

    if (n < 1 || n > NN_MAX_LAYERS) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, "layers", "a model has 1 to %d layers, not %d",
                             NN_MAX_LAYERS, n);
    }
    if (widths[0] != f->dense_dim + f->sparse_dim) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, "layers[0].weights",
                             "the first layer reads %d inputs; the inputs make %d features",
                             widths[0], f->dense_dim + f->sparse_dim);
    }
    output_for(f, &n_out, &out_act);
    if (widths[n] != n_out || acts[n - 1] != (int)out_act) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, "layers",
                             "a %s model with %d classes needs a last layer of %d unit(s) with "
                             "activation %s",
                             model_task_name(f->task), f->n_classes, n_out, nn_act_name(out_act));
    }
    for (l = 0; l < n - 1; l++) {
        if (acts[l] != acts[0] || acts[l] == NN_ACT_SOFTMAX || acts[l] == NN_ACT_IDENTITY) {
            return nn_err_set_at(err, NN_EFORMAT, 0, 0, "layers",
                                 "hidden layers must share one activation among relu, tanh, "
                                 "sigmoid, leaky_relu");
        }
        if (widths[l + 1] < 1 || widths[l + 1] > MAX_WIDTH) {
            return nn_err_set_at(err, NN_EFORMAT, 0, 0, "layers", "layer %d has %d units", l,
                                 widths[l + 1]);
        }
        hidden[l] = widths[l + 1];
    }
    return nn_net_new(f->dense_dim, f->sparse_dim, hidden, n - 1,
                      n > 1 ? (enum nn_act)acts[0] : NN_ACT_RELU, n_out, out_act, LOAD_BATCH, out,
                      err);
}

static int get_net(struct tab_rd *rd, const struct tab_features *f, struct nn_net **out,
                   struct nn_err *err)
{
    uint32_t dense_in, sparse_in, n_layers, v;
    int widths[NN_MAX_LAYERS + 1] = {0}, acts[NN_MAX_LAYERS] = {0};
    uint64_t n_params;
    struct nn_net *net = NULL;
    uint32_t l;
    int rc;

    if (tab_rd_u32(rd, &dense_in, "net dense inputs", err) != 0 ||
        tab_rd_u32(rd, &sparse_in, "net sparse inputs", err) != 0 ||
        tab_rd_u32(rd, &n_layers, "net layer count", err) != 0) {
        return NN_EFORMAT;
    }
    if (dense_in != (uint32_t)f->dense_dim || sparse_in != (uint32_t)f->sparse_dim) {
        return nn_err_set(err, NN_EFORMAT,
                          "model blob: the net reads %u+%u inputs, the pipeline "
                          "makes %d+%d",
                          dense_in, sparse_in, f->dense_dim, f->sparse_dim);
    }
    if (n_layers < 1 || n_layers > MODEL_MAX_HIDDEN + 1) {
        return nn_err_set(err, NN_EFORMAT, "model blob: %u layers (1 to %d allowed)", n_layers,
                          MODEL_MAX_HIDDEN + 1);
    }
    widths[0] = (int)(dense_in + sparse_in);
    for (l = 0; l < n_layers; l++) {
        uint32_t in, o;

        if (tab_rd_u32(rd, &in, "layer inputs", err) != 0 ||
            tab_rd_u32(rd, &o, "layer outputs", err) != 0 ||
            tab_rd_u32(rd, &v, "layer activation", err) != 0) {
            return NN_EFORMAT;
        }
        if ((int)in != widths[l] || o < 1 || o > MAX_WIDTH || v > NN_ACT_SOFTMAX) {
            return nn_err_set(err, NN_EFORMAT, "model blob: layer %u is inconsistent", l);
        }
        widths[l + 1] = (int)o;
        acts[l] = (int)v;
    }
    if (tab_rd_u64(rd, &n_params, "parameter count", err) != 0) {
        return NN_EFORMAT;
    }
    if (tab_rd_need(rd, n_params, 4, "parameters", err) != 0) {
        return NN_EFORMAT;
    }
    rc = make_net(f, widths, acts, (int)n_layers, &net, err);
    if (rc != 0) {
        return rc == NN_ENOMEM ? rc : NN_EFORMAT;
    }
    if (net->n_params != n_params) {
        rc = nn_err_set(err, NN_EFORMAT, "model blob: %llu parameters, the layers need %zu",
                        (unsigned long long)n_params, net->n_params);
        nn_net_free(net);
        return rc;
    }
    tab_rd_f32s(rd, net->params, net->n_params, "parameters", err);
    *out = net;
    return 0;
}

static int get_params(struct tab_rd *rd, struct model_params *p, struct nn_err *err)
{
    uint32_t n, act, opt;
    uint8_t delim;
    int32_t v;
    uint32_t i;

    if (tab_rd_str(rd, &p->label, MAX_NAME, "label", err) != 0 ||
        tab_rd_i32(rd, &v, "task", err) != 0 || tab_rd_u32(rd, &n, "hidden count", err) != 0) {
        return NN_EFORMAT;
    }
    p->task = v;
    if (n > MODEL_MAX_HIDDEN) {
        return nn_err_set(err, NN_EFORMAT, "model blob: %u hidden layers in the parameters", n);
    }
    p->n_hidden = (int)n;
    for (i = 0; i < n; i++) {
        if (tab_rd_i32(rd, &p->hidden[i], "hidden width", err) != 0) {
            return NN_EFORMAT;
        }
    }
    if (tab_rd_u32(rd, &act, "activation", err) != 0 ||
        tab_rd_u32(rd, &opt, "optimizer", err) != 0 ||
        tab_rd_f32(rd, &p->train.learning_rate, "learning rate", err) != 0 ||
        tab_rd_i32(rd, &p->train.epochs, "epochs", err) != 0 ||
        tab_rd_i32(rd, &p->train.batch_size, "batch size", err) != 0 ||
        tab_rd_f32(rd, &p->train.l2, "l2", err) != 0 ||
        tab_rd_i32(rd, &p->train.patience, "patience", err) != 0 ||
        tab_rd_f64(rd, &p->validation_split, "validation split", err) != 0 ||
        tab_rd_u64(rd, (uint64_t *)&p->seed, "seed", err) != 0 ||
        tab_rd_u8(rd, &delim, "delimiter", err) != 0 ||
        tab_rd_f64(rd, &p->threshold, "threshold", err) != 0 ||
        tab_rd_f64(rd, &p->target_fpr, "target fpr", err) != 0) {
        return NN_EFORMAT;
    }
    if (act > NN_ACT_SOFTMAX || opt > NN_OPTIM_ADAM) {
        return nn_err_set(err, NN_EFORMAT, "model blob: bad activation or optimizer code");
    }
    p->activation = (enum nn_act)act;
    p->train.optimizer = (enum nn_optim)opt;
    p->delimiter = (char)delim;
    return 0;
}

static int get_metrics(struct tab_rd *rd, struct model *m, struct nn_err *err)
{
    struct model_metrics *mt = &m->metrics;
    uint64_t tr, va;
    uint32_t n, i;
    uint8_t src;

    if (get_f64s(rd, mt, metrics_f64, N_OF(metrics_f64), "metrics", err) != 0 ||
        tab_rd_i32(rd, &mt->best_epoch, "metrics", err) != 0 ||
        tab_rd_i32(rd, &mt->epochs_run, "metrics", err) != 0 ||
        tab_rd_u64(rd, &tr, "metrics", err) != 0 || tab_rd_u64(rd, &va, "metrics", err) != 0 ||
        tab_rd_f64(rd, &mt->threshold, "threshold", err) != 0 ||
        tab_rd_u8(rd, &src, "threshold source", err) != 0 ||
        tab_rd_u32(rd, &n, "ignored columns", err) != 0) {
        return NN_EFORMAT;
    }
    mt->train_rows = (size_t)tr;
    mt->val_rows = (size_t)va;
    if (!(mt->threshold >= 0.0 && mt->threshold <= 1.0) || src > MODEL_THRESHOLD_FPR) {
        return nn_err_set(err, NN_EFORMAT, "model blob: bad decision threshold");
    }
    mt->threshold_source = src;
    if (tab_rd_need(rd, n, 4, "ignored columns", err) != 0) {
        return NN_EFORMAT;
    }
    if (n > 0) {
        m->ignored = nn_calloc(n, sizeof(char *));
        if (m->ignored == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory");
        }
        for (i = 0; i < n; i++) {
            if (tab_rd_str(rd, &m->ignored[i], MAX_NAME, "ignored column", err) != 0) {
                return NN_EFORMAT;
            }
            m->n_ignored++;
        }
    }
    if (tab_rd_u32(rd, &n, "history length", err) != 0) {
        return NN_EFORMAT;
    }
    if (n > MAX_HISTORY || tab_rd_need(rd, n, 40, "history", err) != 0) {
        return nn_err_set(err, NN_EFORMAT, "model blob: history of %u epochs does not fit", n);
    }
    if (n > 0) {
        m->history = nn_calloc(n, sizeof(*m->history));
        if (m->history == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory");
        }
    }
    for (i = 0; i < n; i++) {
        struct nn_epoch_stats *h = &m->history[i];

        tab_rd_i32(rd, &h->epoch, "history", err);
        tab_rd_i32(rd, &h->epochs, "history", err);
        get_f64s(rd, h, history_f64, N_OF(history_f64), "history", err);
    }
    m->n_history = n;
    return 0;
}

/*
 * An optional array of finite floats (v3 baseline, v4 importance): u32 count, 0 (none) or
 * `want`, then that many f32. *out is new (nn_malloc) or stays NULL for none.
 */
static int get_floats(struct tab_rd *rd, uint32_t want, const char *what, float **out,
                      struct nn_err *err)
{
    uint32_t n = 0;
    int rc = tab_rd_u32(rd, &n, what, err);

    if (rc != 0 || n == 0) {
        return rc;
    }
    if (n != want || tab_rd_left(rd) / 4 < n) {
        return nn_err_set(err, NN_EFORMAT, "model blob: %s of %u values where %u belong", what, n,
                          want);
    }
    *out = nn_malloc((size_t)n * sizeof(float));
    if (*out == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = tab_rd_f32s(rd, *out, n, what, err);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (!isfinite((*out)[i])) {
            rc = nn_err_set(err, NN_EFORMAT, "model blob: %s value %u is not finite", what, i);
        }
    }
    return rc;
}

/* What put_ensemble wrote; K checked before anything is read for it. */
static int get_ensemble(struct tab_rd *rd, struct model *m, struct nn_err *err)
{
    uint32_t k = 0, i;
    char *s = NULL;
    int rc = tab_rd_u32(rd, &k, "network count", err);

    if (rc != 0) {
        return rc;
    }
    if (k < 1 || k > MODEL_MAX_NETS) {
        return nn_err_set(err, NN_EFORMAT, "model blob: %u networks (1 to %d allowed)", k,
                          MODEL_MAX_NETS);
    }
    for (i = 1; i < k; i++) {
        rc = get_net(rd, m->feat, &m->nets[i], err);
        if (rc != 0) {
            return rc;
        }
        m->n_nets++;
        if (nn_net_outputs(m->nets[i]) != nn_net_outputs(m->nets[0])) {
            return nn_err_set(err, NN_EFORMAT, "model blob: network %u has another output", i);
        }
    }
    for (i = 0; i < k; i++) {
        struct model_member *mb = &m->member[i];

        if (tab_rd_f32(rd, &mb->l2, "member l2", err) != 0 ||
            tab_rd_f32(rd, &mb->learning_rate, "member learning rate", err) != 0 ||
            tab_rd_i32(rd, &mb->epochs, "member epochs", err) != 0 ||
            tab_rd_str(rd, &s, MODEL_ORIGIN - 1, "member origin", err) != 0) {
            return NN_EFORMAT;
        }
        snprintf(mb->origin, sizeof(mb->origin), "%s", s);
        nn_free(s);
        s = NULL;
    }
    if (tab_rd_str(rd, &s, MAX_NAME, "ensemble why", err) != 0) {
        return NN_EFORMAT;
    }
    if (s[0] == '\0') {
        nn_free(s);
        s = NULL;
    }
    m->why = s;
    return 0;
}

int model_load(const unsigned char *buf, size_t len, struct model **out, struct nn_err *err)
{
    struct model *m = NULL;
    struct tab_rd rd;
    uint32_t version, crc, want;
    uint64_t payload;
    int rc;

    *out = NULL;
    if (len < 20 || memcmp(buf, MAGIC, 4) != 0) {
        return nn_err_set(err, NN_EFORMAT, "not a neurond model (bad magic or too short)");
    }
    tab_rd_init(&rd, buf, len);
    rd.off = 4;
    tab_rd_u32(&rd, &version, "version", err);
    if (version < 1 || version > FORMAT_VERSION) {
        return nn_err_set(err, NN_EFORMAT, "model format version %u; this build reads version %u",
                          version, FORMAT_VERSION);
    }
    tab_rd_u64(&rd, &payload, "payload length", err);
    if (payload != len - 20) {
        return nn_err_set(err, NN_EFORMAT, "model blob is %zu bytes; its header says %llu", len,
                          (unsigned long long)payload + 20);
    }
    want = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 | (uint32_t)buf[len - 2] << 16 |
           (uint32_t)buf[len - 1] << 24;
    crc = crc32_of(buf, len - 4);
    if (crc != want) {
        return nn_err_set(err, NN_EFORMAT, "model blob checksum mismatch (corrupted)");
    }
    tab_rd_init(&rd, buf + 16, (size_t)payload);
    m = model_alloc();
    if (m == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = tab_features_load(&rd, model_text_decoder_find, &m->feat, err);
    if (rc == 0) {
        rc = get_net(&rd, m->feat, &m->nets[0], err);
    }
    if (rc == 0) {
        rc = get_params(&rd, &m->params, err);
    }
    if (rc == 0) {
        rc = get_metrics(&rd, m, err);
    }
    m->params.impute = TAB_FEAT_IMPUTE_MEAN; /* version 1 filled with the mean */
    if (rc == 0 && version >= 2) {
        uint8_t imp = 0;
        rc = tab_rd_u8(&rd, &imp, "impute", err);
        if (rc == 0 && imp > TAB_FEAT_IMPUTE_MEAN) {
            rc = nn_err_set(err, NN_EFORMAT, "model blob: bad impute code %u", imp);
        }
        m->params.impute = imp;
        if (rc == 0) {
            rc = model_columns_get(&rd, m, err);
        }
    }
    if (rc == 0 && version >= 3) {
        rc = get_floats(&rd, (uint32_t)m->feat->dense_dim, "baseline", &m->baseline, err);
    }
    if (rc == 0 && version >= 4) {
        rc = get_floats(&rd, (uint32_t)(2 * m->feat->n_inputs), "importance", &m->importance, err);
    }
    if (rc == 0 && version >= 5) {
        rc = get_ensemble(&rd, m, err);
    }
    if (rc == 0 && tab_rd_left(&rd) != 0) {
        rc = nn_err_set(err, NN_EFORMAT, "model blob has %zu unexpected trailing bytes",
                        tab_rd_left(&rd));
    }
    if (rc != 0) {
        model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * JSON export / import
 * ---------------------------------------------------------------------------------------- */

/* A net's "layers" as API.md writes them: weights[unit][input], bias, activation. */
static cJSON *layers_json(const struct nn_net *net)
{
    cJSON *layers = cJSON_CreateArray();
    int l;

    for (l = 0; layers != NULL && l < net->n_layers; l++) {
        const struct nn_layer *ly = &net->layers[l];
        cJSON *o = cJSON_CreateObject();
        cJSON *w = cJSON_AddArrayToObject(o, "weights");
        int u, i;

        cJSON_AddItemToArray(layers, o);
        /* memory is W[input][unit] */
        for (u = 0; u < ly->out; u++) {
            cJSON *row = cJSON_CreateArray();

            for (i = 0; i < ly->in; i++) {
                cJSON_AddItemToArray(
                    row, cJSON_CreateNumber(net->params[ly->w + (size_t)i * ly->out + u]));
            }
            cJSON_AddItemToArray(w, row);
        }
        cJSON_AddItemToObject(o, "bias", cJSON_CreateFloatArray(net->params + ly->b, ly->out));
        cJSON_AddStringToObject(o, "activation", nn_act_name(ly->act));
    }
    return layers;
}

cJSON *model_export(const struct model *m)
{
    cJSON *doc = cJSON_CreateObject();

    if (doc == NULL) {
        return NULL;
    }
    cJSON_AddStringToObject(doc, "format", "neurond-model");
    /* a single net exports as version 4 did: older readers still import it */
    cJSON_AddNumberToObject(doc, "format_version", m->n_nets > 1 ? FORMAT_VERSION : 4);
    if (model_features_to_json(m->feat, doc) != 0) {
        cJSON_Delete(doc);
        return NULL;
    }
    {
        cJSON *card = model_card(m);

        if (card == NULL) {
            cJSON_Delete(doc);
            return NULL;
        }
        cJSON_AddItemToObject(doc, "architecture",
                              cJSON_DetachItemFromObject(card, "architecture"));
        cJSON_AddItemToObject(doc, "metrics", cJSON_DetachItemFromObject(card, "metrics"));
        cJSON_AddItemToObject(doc, "params", cJSON_DetachItemFromObject(card, "params"));
        if (m->n_nets > 1) {
            cJSON *ens = cJSON_DetachItemFromObject(card, "ensemble");
            cJSON *mb = cJSON_GetObjectItemCaseSensitive(ens, "members");

            /* the first member's layers are the top-level "layers" */
            for (int i = 1; i < m->n_nets; i++) {
                cJSON_AddItemToObject(cJSON_GetArrayItem(mb, i), "layers", layers_json(m->nets[i]));
            }
            cJSON_AddItemToObject(doc, "ensemble", ens);
        }
        cJSON_Delete(card);
    }
    if (model_positive_class(m) >= 0) {
        const char *src;

        cJSON_AddNumberToObject(doc, "threshold", model_threshold(m, &src));
    }
    if (m->baseline != NULL) {
        cJSON_AddItemToObject(doc, "baseline",
                              cJSON_CreateFloatArray(m->baseline, m->feat->dense_dim));
    }
    cJSON_AddItemToObject(doc, "layers", layers_json(m->nets[0]));
    return doc;
}

static int parse_act(const cJSON *o, const char *pre, int l, int *act, struct nn_err *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "activation");
    char field[128];
    int v;

    snprintf(field, sizeof(field), "%slayers[%d].activation", pre, l);
    if (!cJSON_IsString(a)) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, field, "%s must be a string", field);
    }
    v = strcmp(a->valuestring, "linear") == 0 ? NN_ACT_IDENTITY : nn_act_parse(a->valuestring);
    if (v < 0) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, field, "%s: unknown activation '%.32s'", field,
                             a->valuestring);
    }
    *act = v;
    return 0;
}

/*
 * Reads layers[l].weights (out x in) and .bias (out) into the net's W[in][out] and b.
 * Walks the cJSON lists through ->next: indexing them would be quadratic in the layer width.
 */
static int fill_layer(struct nn_net *net, const cJSON *o, const char *pre, int l,
                      struct nn_err *err)
{
    const struct nn_layer *ly = &net->layers[l];
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weights");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "bias");
    const cJSON *row, *x;
    char field[160];
    int u = 0, i;

    cJSON_ArrayForEach(row, w)
    {
        i = 0;
        cJSON_ArrayForEach(x, row)
        {
            if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
                snprintf(field, sizeof(field), "%slayers[%d].weights[%d][%d]", pre, l, u, i);
                return nn_err_set_at(err, NN_EINVAL, 0, 0, field, "%s must be a finite number",
                                     field);
            }
            net->params[ly->w + (size_t)i * ly->out + u] = (float)x->valuedouble;
            i++;
        }
        u++;
    }
    u = 0;
    if (b == NULL) {
        memset(net->params + ly->b, 0, sizeof(float) * (size_t)ly->out);
        return 0;
    }
    cJSON_ArrayForEach(x, b)
    {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
            snprintf(field, sizeof(field), "%slayers[%d].bias[%d]", pre, l, u);
            return nn_err_set_at(err, NN_EINVAL, 0, 0, field, "%s must be a finite number", field);
        }
        net->params[ly->b + u] = (float)x->valuedouble;
        u++;
    }
    return 0;
}

/*
 * A net from its "layers" (pre: the field name's prefix for errors). widths[0..n] and acts[0..n-1]
 * are filled, *n_layers set. @return 0 or an error naming the field; *out NULL on failure.
 */
static int net_from_json(const cJSON *layers, const struct tab_features *f, const char *pre,
                         int *widths, int *acts, int *n_layers, struct nn_net **out,
                         struct nn_err *err)
{
    char field[128];
    int n, l, rc;

    *out = NULL;
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) < 1 ||
        cJSON_GetArraySize(layers) > MODEL_MAX_HIDDEN + 1) {
        snprintf(field, sizeof(field), "%slayers", pre);
        return nn_err_set_at(err, NN_EINVAL, 0, 0, field, "%s must be an array of 1 to %d layers",
                             field, MODEL_MAX_HIDDEN + 1);
    }
    n = cJSON_GetArraySize(layers);
    widths[0] = f->dense_dim + f->sparse_dim;
    for (l = 0; l < n; l++) {
        const cJSON *o = cJSON_GetArrayItem(layers, l);
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weights");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "bias");
        int u;

        snprintf(field, sizeof(field), "%slayers[%d].weights", pre, l);
        if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) < 1 || cJSON_GetArraySize(w) > MAX_WIDTH) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, field,
                                 "%s must be an array with one array of input weights per unit",
                                 field);
        }
        widths[l + 1] = cJSON_GetArraySize(w);
        u = 0;
        for (const cJSON *row = w->child; row != NULL; row = row->next, u++) {
            if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != widths[l]) {
                snprintf(field, sizeof(field), "%slayers[%d].weights[%d]", pre, l, u);
                return nn_err_set_at(err, NN_EINVAL, 0, 0, field,
                                     "%s must hold %d weights, one per input of the layer", field,
                                     widths[l]);
            }
        }
        if (b != NULL && (!cJSON_IsArray(b) || cJSON_GetArraySize(b) != widths[l + 1])) {
            snprintf(field, sizeof(field), "%slayers[%d].bias", pre, l);
            return nn_err_set_at(err, NN_EINVAL, 0, 0, field, "%s must hold %d numbers", field,
                                 widths[l + 1]);
        }
        rc = parse_act(o, pre, l, &acts[l], err);
        if (rc != 0) {
            return rc;
        }
    }
    rc = make_net(f, widths, acts, n, out, err);
    if (rc != 0) {
        return rc == NN_ENOMEM ? rc : NN_EINVAL;
    }
    for (l = 0; l < n; l++) {
        rc = fill_layer(*out, cJSON_GetArrayItem(layers, l), pre, l, err);
        if (rc != 0) {
            nn_net_free(*out);
            *out = NULL;
            return rc;
        }
    }
    *n_layers = n;
    return 0;
}

/* "baseline": absent or null (none), or one finite number per dense feature. */
static int import_baseline(const cJSON *doc, struct model *m, struct nn_err *err)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(doc, "baseline"), *x;
    int d = m->feat->dense_dim, i = 0;

    if (b == NULL || cJSON_IsNull(b)) {
        return 0;
    }
    if (!cJSON_IsArray(b) || cJSON_GetArraySize(b) != d || d < 1) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "baseline",
                             "baseline must hold %d numbers, one per encoded dense feature", d);
    }
    m->baseline = nn_malloc((size_t)d * sizeof(float));
    if (m->baseline == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    cJSON_ArrayForEach(x, b)
    {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || fabs(x->valuedouble) > FLT_MAX) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, "baseline",
                                 "baseline[%d] must be a finite number", i);
        }
        m->baseline[i++] = (float)x->valuedouble;
    }
    return 0;
}

/* A member's number: absent or null is def, else a finite number. */
static double member_num(const cJSON *o, const char *key, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && fabs(v->valuedouble) <= FLT_MAX
               ? v->valuedouble
               : def;
}

/*
 * "ensemble": absent or null (one network), or {"members": [...]} with 2 to MODEL_MAX_NETS
 * members: the first is the top-level "layers", each other holds its own "layers". A member's
 * l2, learning_rate, epochs and origin are read when present (the card's, informative).
 */
static int import_ensemble(const cJSON *doc, struct model *m, struct nn_err *err)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "ensemble");
    const cJSON *mb = cJSON_GetObjectItemCaseSensitive(e, "members"), *o;
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(e, "why");
    int widths[NN_MAX_LAYERS + 1] = {0}, acts[NN_MAX_LAYERS] = {0}, n, i = 0, rc;
    char pre[64];

    if (e == NULL || cJSON_IsNull(e)) {
        return 0;
    }
    if (!cJSON_IsObject(e) || !cJSON_IsArray(mb) || cJSON_GetArraySize(mb) < 1 ||
        cJSON_GetArraySize(mb) > MODEL_MAX_NETS) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "ensemble.members",
                             "ensemble.members must be an array of 1 to %d networks",
                             MODEL_MAX_NETS);
    }
    cJSON_ArrayForEach(o, mb)
    {
        const cJSON *origin = cJSON_GetObjectItemCaseSensitive(o, "origin");
        struct model_member *x = &m->member[i];

        snprintf(pre, sizeof(pre), "ensemble.members[%d].", i);
        if (!cJSON_IsObject(o)) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, pre, "%s must be an object", pre);
        }
        if (i > 0) {
            rc = net_from_json(cJSON_GetObjectItemCaseSensitive(o, "layers"), m->feat, pre, widths,
                               acts, &n, &m->nets[i], err);
            if (rc != 0) {
                return rc;
            }
            m->n_nets++;
        }
        x->l2 = (float)member_num(o, "l2", 0.0);
        x->learning_rate = (float)member_num(o, "learning_rate", 0.0);
        x->epochs = (int)fmax(0.0, fmin(member_num(o, "epochs", 0.0), 1e9));
        snprintf(x->origin, sizeof(x->origin), "%s",
                 cJSON_IsString(origin) ? origin->valuestring : "imported");
        i++;
    }
    if (cJSON_IsString(why)) {
        m->why = nn_strdup(why->valuestring);
        if (m->why == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory");
        }
    }
    return 0;
}

int model_import(const cJSON *doc, struct model **out, struct nn_err *err)
{
    int widths[NN_MAX_LAYERS + 1] = {0}, acts[NN_MAX_LAYERS] = {0};
    struct model *m = NULL;
    int n = 0, l, rc;

    *out = NULL;
    if (!cJSON_IsObject(doc)) {
        return nn_err_set(err, NN_EINVAL, "a model must be a JSON object");
    }
    const cJSON *fv = cJSON_GetObjectItemCaseSensitive(doc, "format_version");
    if (fv != NULL &&
        !(cJSON_IsNumber(fv) && fv->valuedouble >= 1 && fv->valuedouble <= FORMAT_VERSION &&
          fv->valuedouble == floor(fv->valuedouble))) {
        char got[32] = "not an integer";
        if (cJSON_IsNumber(fv)) {
            snprintf(got, sizeof(got), "%.15g", fv->valuedouble);
        }
        return nn_err_set_at(
            err, NN_EINVAL, 0, 0, "format_version",
            "format_version %s: this neurond reads format_version 1 to %u (was the "
            "model exported by a newer neurond?)",
            got, FORMAT_VERSION);
    }
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(doc, "layers");
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) < 1) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "layers",
                             "layers must be an array of 1 to %d layers", MODEL_MAX_HIDDEN + 1);
    }
    m = model_alloc();
    if (m == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = model_features_from_json(doc, &m->feat, err);
    if (rc != 0) {
        goto fail;
    }
    rc = net_from_json(layers, m->feat, "", widths, acts, &n, &m->nets[0], err);
    if (rc != 0) {
        goto fail;
    }
    rc = import_ensemble(doc, m, err);
    if (rc != 0) {
        goto fail;
    }
    nn_free(m->params.label);
    m->params.label = nn_strdup(m->feat->label);
    if (m->params.label == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    m->params.task = m->feat->task;
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "threshold");

        if (t != NULL && !cJSON_IsNull(t)) {
            if (!cJSON_IsNumber(t) || !(t->valuedouble >= 0.0 && t->valuedouble <= 1.0)) {
                rc = nn_err_set_at(err, NN_EINVAL, 0, 0, "threshold",
                                   "threshold must be a probability from 0 to 1");
                goto fail;
            }
            m->metrics.threshold = t->valuedouble;
            m->metrics.threshold_source = MODEL_THRESHOLD_PARAM;
        }
    }
    rc = import_baseline(doc, m, err);
    if (rc != 0) {
        goto fail;
    }
    m->params.n_hidden = n - 1;
    for (l = 0; l < n - 1; l++) {
        m->params.hidden[l] = widths[l + 1];
    }
    if (n > 1) {
        m->params.activation = (enum nn_act)acts[0];
    }
    *out = m;
    return 0;
fail:
    model_free(m);
    return rc;
}
