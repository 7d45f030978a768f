/*
 * limits: the training-path bounds of limits.h, kept apart from the handlers so that every
 * bound has one place, one message and one test.
 */
#include "limits.h"

void srv_limits_csv(const struct srv_config *cfg, struct model_limits *lim)
{
    model_limits_default(lim);
    lim->max_rows = (size_t)cfg->max_csv_rows;
    lim->max_cols = (size_t)cfg->max_csv_columns;
    lim->max_field = (size_t)cfg->max_csv_field_kb * 1024;
}

int srv_limits_network(const struct srv_config *cfg, const struct model_params *p, size_t cols,
                       double *params, struct nn_err *err)
{
    if (p->train.epochs > cfg->max_epochs) {
        return nn_err_set_at(err, NN_ERANGE, 0, 0, "epochs",
                             "parameter 'epochs': %d is more than this server allows (%ld)",
                             p->train.epochs, cfg->max_epochs);
    }
    for (int i = 0; i < p->n_hidden; i++) {
        if (p->hidden[i] > cfg->max_layer_width) {
            return nn_err_set_at(err, NN_ERANGE, 0, 0, "hidden",
                                 "parameter 'hidden': a layer of %d is wider than this server "
                                 "allows (%ld)",
                                 p->hidden[i], cfg->max_layer_width);
        }
    }
    /* weights and biases layer by layer; the output is at least one unit */
    double in = cols > 1 ? (double)(cols - 1) : 1.0, total = 0.0;
    for (int i = 0; i < p->n_hidden; i++) {
        total += (in + 1.0) * (double)p->hidden[i];
        in = (double)p->hidden[i];
    }
    total += in + 1.0;
    if (total > (double)cfg->max_params) {
        return nn_err_set_at(err, NN_ERANGE, 0, 0, "hidden",
                             "parameter 'hidden': the network would have about %.0f weights, "
                             "more than this server allows (%ld)",
                             total, cfg->max_params);
    }
    if (params != NULL) {
        *params = total;
    }
    return 0;
}
