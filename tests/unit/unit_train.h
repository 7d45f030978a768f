/*
 * unit_train: the one way a unit test trains a model from a CSV file — default parameters and
 * limits, then the given parameter names and values (model_params_set), failing the test with
 * the trainer's message. Header-only (static): each test binary is one .c file.
 */
#ifndef NEUROND_TESTS_UNIT_TRAIN_H
#define NEUROND_TESTS_UNIT_TRAIN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "model/model.h"

/* kv: name, value, name, value, ..., NULL (a NULL value skips its name). */
static struct model *unit_train(const char *path, const char *const *kv)
{
    struct model_params p;
    struct model_limits lim;
    struct model *m = NULL;
    struct nn_err err;

    model_params_default(&p);
    model_limits_default(&lim);
    for (; kv != NULL && kv[0] != NULL; kv += 2) {
        if (kv[1] != NULL) {
            assert_int_equal(model_params_set(&p, kv[0], kv[1], NULL), 0);
        }
    }
    if (model_train_csv(path, &p, &lim, NULL, NULL, NULL, &m, &err) != 0) {
        fail_msg("%s: %s", path, err.msg);
    }
    model_params_fini(&p);
    return m;
}

#endif
