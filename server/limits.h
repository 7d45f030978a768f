/*
 * limits: turns the --max-* settings into the bounds the training path checks — the CSV
 * reader's limits and the size of the network a job asks for — so that passing a bound is a
 * 400 naming the parameter, never an allocation.
 *
 * The network bound is checked when the job is submitted, from the CSV's column count (a
 * lower bound on the inputs: text columns widen the first layer later, and the hashed text
 * features are sparse). HTTP-level bounds (body, URL, headers, JSON depth, connections)
 * live in http.c and security.c.
 * Thread-safety: pure functions of the read-only configuration.
 */
#ifndef NEUROND_SERVER_LIMITS_H
#define NEUROND_SERVER_LIMITS_H

#include <stddef.h>

#include "config.h"
#include "model/model.h"
#include "nn/err.h"

/**
 * The CSV limits of the configuration (--max-csv-rows, --max-csv-columns, --max-csv-field-kb).
 * @param lim [out] filled whole.
 */
void srv_limits_csv(const struct srv_config *cfg, struct model_limits *lim);

/**
 * Checks the requested network against --max-epochs, --max-layer-width and --max-params.
 * @param p    [in] the job's parameters.
 * @param cols [in] columns of the training CSV (the label included).
 * @param params [out] the estimated parameter count (may be NULL).
 * @return 0, or NN_ERANGE with err->field the parameter at fault ("epochs", "hidden").
 */
int srv_limits_network(const struct srv_config *cfg, const struct model_params *p, size_t cols,
                       double *params, struct nn_err *err);

#endif
