/*
 * params: the training parameters of API.md as one table. A row is one parameter: its name
 * (the HTTP form/query field, the JSON key, and with '-' for '_' the CLI option), its type,
 * default, range and help text, and where it lives in struct model_params. Everything else is
 * made from the table: parsing (model_params_set, the one parser of the CLI and the HTTP API),
 * the defaults, the parameter JSON of jobs and model cards, `neurond train --help`, and, from
 * `neurond params --json`, the OpenAPI document and the table in docs/api.md.
 * A new parameter is a field in struct model_params and one row in params.c.
 * Does not: print, or know the server's `model` field (the model's name is not a parameter).
 * Thread-safety: the table is constant; a struct model_params belongs to its caller.
 */
#ifndef NEUROND_MODEL_PARAMS_H
#define NEUROND_MODEL_PARAMS_H

#include <cJSON.h>
#include <stddef.h>

#include "nn/err.h"
#include "nn/net.h"
#include "nn/train.h"

#define MODEL_MAX_HIDDEN 8

/* Every training parameter of API.md, as used. Strings are owned (model_params_fini). */
struct model_params {
    char *label; /* NULL: the last column */
    int task;    /* -1 inferred, else NN_TASK_* (binary/multiclass resolved from the classes
                    when "classification" is asked) */
    int hidden[MODEL_MAX_HIDDEN];
    int n_hidden;           /* default 1 x 64 */
    enum nn_act activation; /* default relu */
    struct nn_train_params train;
    int batch_auto;          /* 1 until batch_size is set: the batch is then
                                min(32, ceil(training rows / 10)) so that small data sets
                                still get ten optimiser steps an epoch */
    double validation_split; /* default 0.2 */
    unsigned long long seed; /* default 42 */
    char delimiter;          /* default ',' */
    char *text_columns;      /* comma-separated overrides, NULL when not given */
    char *categorical_columns;
    char *ignore_columns;
    double threshold;  /* binary: decision threshold on the positive class's
                          probability; -1 = not given (0.5) */
    double target_fpr; /* binary: choose the threshold that keeps the validation
                          false-positive rate at or under this; -1 = not given */
    char *na_values;   /* comma-separated missing-value markers; NULL: the default list */
    int impute;        /* TAB_FEAT_IMPUTE_MEDIAN (default) or _MEAN: a numeric missing cell */
    /* auto (model/auto.h): search hidden, l2 and learning_rate by cross-validation */
    int auto_search;     /* 0 (default) or 1 */
    double max_seconds;  /* default 60; 0 = no time limit (max_models then bounds the search) */
    int max_models;      /* default 0 = until the time is up */
    int stopping_rounds; /* default 8: after the plan, stop when the best has not improved by
                            more than stopping_tolerance (relative) over this many candidates;
                            0 = off */
    double stopping_tolerance; /* < 0: from the rows (model/auto.c) */
    int folds;                 /* 0 (default) = 5; 3 above 50,000 rows; a holdout above 500,000;
                                  1 = a holdout split (a fifth of the rows) */
    int metric;                /* MODEL_METRIC_*; default: log loss (classification) / RMSE */
    int ensemble;              /* default 1: auto averages the top candidates when better */
    /* warm start (model/model_warm.c) */
    char *base;        /* the model to start from (HTTP: name[@version]; CLI: a file); NULL:
                          a new network */
    int epochs_auto;   /* 1 until epochs is given: a warm start then runs MODEL_WARM_EPOCHS */
    int patience_auto; /* 1 until patience is given: a warm start then waits MODEL_WARM_PATIENCE */
};

/* What a warm start uses for the parameters not given: fewer epochs, a shorter patience and
   a smaller step than training from scratch (the net starts near a good point). */
#define MODEL_WARM_EPOCHS   10
#define MODEL_WARM_PATIENCE 5
#define MODEL_WARM_LR_SHARE 0.5f /* of the optimiser's default learning rate */

/* The metrics auto ranks candidates by (the "metric" parameter). */
#define MODEL_METRIC_DEFAULT  (-1) /* log loss for classification, RMSE for regression */
#define MODEL_METRIC_LOG_LOSS 0
#define MODEL_METRIC_RMSE     1
#define MODEL_METRIC_ACCURACY 2
#define MODEL_METRIC_AUC      3
#define MODEL_METRIC_MAE      4

/* How a parameter's text is read and how its value is written in JSON. */
enum model_param_type {
    MODEL_PARAM_STRING, /* char *; JSON string, null when not given */
    MODEL_PARAM_LIST,   /* char *, comma-separated names; JSON array of strings or null */
    MODEL_PARAM_INT,    /* int in [min, max]; JSON number */
    MODEL_PARAM_UINT64, /* unsigned long long; JSON number */
    MODEL_PARAM_NUMBER, /* float or double (by the field's size) in the range; JSON number */
    MODEL_PARAM_CHOICE, /* int or char (by size), one of choices; JSON string */
    MODEL_PARAM_BOOL,   /* int 0 or 1, one of choices (true/false, 1/0, yes/no); JSON true or
                           false */
    MODEL_PARAM_WIDTHS  /* hidden[] / n_hidden: comma-separated widths in [min, max];
                           JSON array of numbers */
};

/* One accepted word of a CHOICE or BOOL parameter and the value it stores. Several words may store
   the same value (aliases); JSON writes the first word of a value. */
struct model_param_choice {
    const char *name;
    int value;
};

#define MODEL_PARAM_EXCL_MIN 1u /* the range's minimum itself is refused */
#define MODEL_PARAM_EXCL_MAX 2u /* the maximum itself is refused */
#define MODEL_PARAM_OMIT     4u /* left out of the JSON while not given */

struct model_param {
    const char *name; /* API.md name = JSON key; CLI option: "--" + name, '_' -> '-' */
    enum model_param_type type;
    size_t offset;      /* of the field in struct model_params */
    size_t size;        /* of the field */
    const char *def;    /* the default as a value the parser accepts; NULL: none (not given) */
    const char *unset;  /* with def NULL: what "not given" means, for help and docs */
    double unset_value; /* with def NULL, numbers and choices: the field's value when not given */
    double min, max;    /* INT, NUMBER, WIDTHS */
    unsigned flags;     /* MODEL_PARAM_EXCL_MIN, _EXCL_MAX, _OMIT */
    const struct model_param_choice *choices; /* CHOICE, BOOL: ends with a NULL name */
    const char *metavar; /* the value's placeholder in --help (NULL: from the type) */
    const char *help;    /* one line: what it does (API.md's "meaning") */
    /* optional: after a successful parse (e.g. batch_size clears batch_auto) */
    void (*after_set)(struct model_params *p);
    /* optional: the JSON value instead of the type's (e.g. learning_rate resolved) */
    cJSON *(*to_json)(const struct model_params *p);
};

/** The table: *n rows, in the order of API.md (and of the JSON). Borrowed, static. */
const struct model_param *model_param_table(size_t *n);

/** The row named name ("batch_size"), or NULL. */
const struct model_param *model_param_find(const char *name);

/**
 * The CLI option of a row: "--" + its name with '-' for '_' ("--batch-size").
 * @param buf [out] at least 64 bytes. @return buf.
 */
char *model_param_option(const struct model_param *d, char *buf, size_t cap);

/** The value placeholder of a row in --help ("N", "X", "relu|tanh|..."). A static string
 *  or the row's metavar; CHOICE rows are written into buf. @return buf or a static string. */
const char *model_param_metavar(const struct model_param *d, char *buf, size_t cap);

/**
 * What a row accepts, as the sentence ending an error message ("an integer from 1 to
 * 100000", "one of relu, tanh, sigmoid, leaky_relu"). Written into buf. @return buf.
 */
char *model_param_accepts(const struct model_param *d, char *buf, size_t cap);

/**
 * The table as JSON for tools (`neurond params --json`): {"parameters": [{"name", "option",
 * "type" ("string", "list", "integer", "number", "choice", "boolean", "widths"), "default" (text
 * or null),
 * "default_text", "minimum", "maximum", "exclusive_minimum", "exclusive_maximum", "choices",
 * "metavar", "accepts", "help"}]}; range keys only where they apply.
 * Ownership: a new cJSON; caller frees with cJSON_Delete. NULL when out of memory.
 */
cJSON *model_param_table_json(void);

/** Fills p with the defaults of the table (and nn_train_params_default for the rest). */
void model_params_default(struct model_params *p);
/** Frees the strings of p. */
void model_params_fini(struct model_params *p);
/**
 * Copies src into dst (strings duplicated). @return 0 or NN_ENOMEM (dst then holds no
 * strings). Ownership: dst is the caller's; model_params_fini.
 */
int model_params_copy(struct model_params *dst, const struct model_params *src);
/**
 * Sets one parameter from its API.md name and string value ("epochs", "50"). An empty value
 * of a parameter without a default means "not given".
 * @return 0, NN_EINVAL (err->field = the parameter name, message says what is accepted),
 *         NN_ENOMEM, or NN_ENOTFOUND for an unknown name (err->field set too).
 *         On error p is unchanged.
 */
int model_params_set(struct model_params *p, const char *key, const char *value,
                     struct nn_err *err);
/**
 * The parameters as JSON, one key per row in table order (API.md's job "params" before
 * training: defaults filled in, null where not given and inferred later).
 * Ownership: a new cJSON object; caller frees with cJSON_Delete. NULL when out of memory.
 */
cJSON *model_params_to_json(const struct model_params *p);

/** The learning rate used: p's, or when not given the optimiser's own (0.001 for adam, 0.01
 *  for sgd and momentum). */
float model_params_learning_rate(const struct model_params *p);

/** A float as the shortest decimal that reads back to it (0.001f gives 0.001), for JSON. */
double model_float_json(float v);

#endif
