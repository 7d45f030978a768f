/*
 * model_nets: the networks of one model. A model is one feature pipeline and K >= 1 networks;
 * what it serves is the mean of their outputs (classification: the mean of the probabilities,
 * as a sigmoid or softmax output is a probability; regression: the mean of the standardised
 * values, which unscale to the mean of the values since unscaling is affine). K = 1 is the
 * ordinary model and costs one network's forward pass, nothing more.
 */
#include <string.h>

#include "model/model_priv.h"
#include "nn/alloc.h"

size_t model_net_scratch_len(const struct model *m)
{
    size_t len = 0;

    for (int i = 0; i < m->n_nets; i++) {
        size_t l = nn_net_scratch_len(m->nets[i]);

        len = l > len ? l : len;
    }
    /* K > 1: one member's outputs beside the running sum in raw */
    return len + (m->n_nets > 1 ? (size_t)nn_net_outputs(m->nets[0]) : 0);
}

void model_nets_predict_row(const struct model *m, const float *dense, const int32_t *ind,
                            const float *val, size_t nnz, float *scratch, float *raw)
{
    int k = nn_net_outputs(m->nets[0]), i, j;
    float *one;

    nn_net_predict_row(m->nets[0], dense, ind, val, nnz, scratch, raw);
    if (m->n_nets == 1) {
        return;
    }
    one = scratch + model_net_scratch_len(m) - (size_t)k;
    for (i = 1; i < m->n_nets; i++) {
        nn_net_predict_row(m->nets[i], dense, ind, val, nnz, scratch, one);
        for (j = 0; j < k; j++) {
            raw[j] += one[j];
        }
    }
    for (j = 0; j < k; j++) {
        raw[j] /= (float)m->n_nets;
    }
}

int model_nets_predict(const struct model *m, const struct nn_dataset *ds, float *out)
{
    size_t n = ds->rows * (size_t)nn_net_outputs(m->nets[0]), j;
    float *one = NULL;
    int rc = nn_net_predict(m->nets[0], ds, out);

    if (rc != 0 || m->n_nets == 1) {
        return rc;
    }
    one = nn_malloc((n + 1) * sizeof(float));
    if (one == NULL) {
        return NN_ENOMEM;
    }
    for (int i = 1; i < m->n_nets && rc == 0; i++) {
        rc = nn_net_predict(m->nets[i], ds, one);
        for (j = 0; rc == 0 && j < n; j++) {
            out[j] += one[j];
        }
    }
    for (j = 0; j < n; j++) {
        out[j] /= (float)m->n_nets;
    }
    nn_free(one);
    return rc;
}

int model_add_net(struct model *m, struct nn_net *net, float l2, float learning_rate, int epochs,
                  const char *origin)
{
    struct model_member *mb;

    if (m->n_nets >= MODEL_MAX_NETS) {
        nn_net_free(net);
        return NN_ERANGE;
    }
    mb = &m->member[m->n_nets];
    m->nets[m->n_nets++] = net;
    mb->l2 = l2;
    mb->learning_rate = learning_rate;
    mb->epochs = epochs;
    snprintf(mb->origin, sizeof(mb->origin), "%s", origin != NULL ? origin : "");
    return 0;
}
